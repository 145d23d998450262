"""Shared fixtures: the real checker with its worker warmed once per session."""

from __future__ import annotations

import pytest

from noema_core import verify


@pytest.fixture(scope="session")
def checker():
    """`noema_core.verify.check`, with the worker already started (about a second, once)."""
    assert verify.warm_up(wait=60), "the checker's worker did not start"
    return verify.check
