"""A small tokenizer trained by the recipe, shared by the training tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def recipe_tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from noema_core.training.tokenizer_recipe import train_tokenizer

    directory = tmp_path_factory.mktemp("tokenizer")
    train_tokenizer(directory, vocab_size=512, samples=3000, seed=0)
    return directory
