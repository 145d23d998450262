"""Fixtures for engine tests: a tiny random checkpoint in the HF layout, with a tokenizer."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from noema_core.chat_template import CHAT_TEMPLATE, EOS_TOKEN, SPECIAL_TOKENS
from noema_core.config import tiny_random_shape
from noema_core.loading import build_model, save_checkpoint
from noema_core.model import NoemaModel


def write_tokenizer(directory: Path, pieces: list[str] | None = None) -> None:
    """A tokenizer with Noema's special tokens and chat template: character-level, or with
    the given `pieces` as its ordinary tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    chars = pieces or list("0123456789abcdefghijklmnopqrstuvwxyz +-*/=()^.,:?!\\{}_")
    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS + chars + ["[UNK]"])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    tok.decoder = decoders.Fuse()
    tok.add_special_tokens(SPECIAL_TOKENS)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS_TOKEN,
                                   pad_token=EOS_TOKEN, unk_token="[UNK]")
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(str(directory))


def tiny_model(seed: int = 0, dtype: torch.dtype = torch.float64) -> NoemaModel:
    config = tiny_random_shape(vocab_size=128)
    return build_model(config, dtype, torch.device("cpu"), seed=seed)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sharded tiny checkpoint: config.json, 3+ safetensors shards, index, tokenizer."""
    directory = tmp_path_factory.mktemp("tiny-ckpt")
    model = tiny_model(seed=1, dtype=torch.float32)
    save_checkpoint(model, directory, max_shard_bytes=200_000)
    write_tokenizer(directory)
    return directory
