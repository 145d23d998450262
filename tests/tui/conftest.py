"""Fixtures for the terminal UI tests: a scripted engine, a fake checker, a tiny checkpoint."""

from __future__ import annotations

import sys
import threading
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from noema_core.decoding.events import (
    BlockFinished,
    BlockUpdated,
    GenerationFinished,
    GenerationResult,
    GenerationStats,
    TokenState,
)
from noema_core.engine import Engine, ModelInfo
from tests.tui.cli_with_fake_checker import Verdict as FakeVerdict

BLOCK = 4  # slots per block in scripted replies: small enough to read in a test


@dataclass
class FakeChecker:
    verdict: FakeVerdict = field(default_factory=lambda: FakeVerdict(
        "verified", answer="5", expected="5", method="solve"))
    calls: list[tuple[str, str | None]] = field(default_factory=list)

    def check(self, response: str, *, question: str | None = None,
              reference: str | None = None, timeout: float = 5.0) -> FakeVerdict:
        self.calls.append((response, question))
        return self.verdict


@pytest.fixture
def fake_checker(monkeypatch: pytest.MonkeyPatch) -> FakeChecker:
    """Stands in for noema_core.verify (its API: check(...) -> Verdict)."""
    checker = FakeChecker()
    module = types.ModuleType("noema_core.verify")
    module.check = checker.check
    module.Verdict = FakeVerdict
    monkeypatch.setitem(sys.modules, "noema_core.verify", module)
    return checker


class ScriptedEngine:
    """Replays a reply as the sampler would: per block, two forwards, then BlockFinished.

    `during_stream(cancel)` runs after the first forward (e.g. to press Ctrl-C); if it leaves
    `cancel` set, the stream stops there with a partial, cancelled result.
    """

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.info = ModelInfo("scripted", "cpu", "float32", "none", 1000, 4000)
        self.settings_for = Engine.settings_for.__get__(self)  # presets from self.info
        self.loads: list[dict] = []
        self.streams: list[tuple[list, object]] = []
        self.during_stream: Callable[[threading.Event], None] | None = None
        self.load_error: Exception | None = None
        self.stream_error: Exception | None = None

    def stream(self, messages, settings, cancel=None) -> Iterator:
        self.streams.append((list(messages), settings))
        cancel = cancel or threading.Event()
        if self.stream_error is not None:
            raise self.stream_error
        chunks = [self.reply[i:i + BLOCK] for i in range(0, len(self.reply), BLOCK)] or [""]
        done, forwards = "", 0
        for index, chunk in enumerate(chunks):
            pieces = list(chunk.ljust(BLOCK))
            half = BLOCK // 2
            first = BlockUpdated(index, 1, tuple(range(BLOCK)),
                                 (TokenState.UNMASKED,) * half + (TokenState.MASKED,) * half,
                                 (0.9,) * BLOCK, tuple(pieces[:half] + [""] * half))
            yield first
            forwards += 1
            if self.during_stream is not None and index == 0:
                self.during_stream(cancel)
            if cancel.is_set():
                yield self._finished(done, forwards, cancelled=True)
                return
            yield BlockUpdated(index, 2, tuple(range(BLOCK)),
                               (TokenState.STABLE,) * half + (TokenState.EDITED,) * half,
                               (0.9,) * BLOCK, tuple(pieces), edits=half)
            forwards += 1
            yield BlockFinished(index, 2, tuple(range(len(chunk))), chunk)
            done += chunk
        yield self._finished(done, forwards)

    def generate(self, messages, settings, cancel=None) -> GenerationResult:
        """The reply alone, as `Engine.generate` gives it: the stream's final result."""
        return next(e.result for e in self.stream(messages, settings, cancel)
                    if isinstance(e, GenerationFinished))

    def generate_batch(self, conversations, settings, cancel=None, *, batch_size=None,
                       on_result=None) -> list[GenerationResult]:
        """The batched call, scripted: each conversation through `stream` in turn."""
        results = []
        for index, messages in enumerate(conversations):
            result = self.generate(messages, settings, cancel)
            results.append(result)
            if on_result is not None:
                on_result(index, result)
        return results

    @staticmethod
    def _finished(text: str, forwards: int, cancelled: bool = False) -> GenerationFinished:
        stats = GenerationStats(prompt_tokens=3, new_tokens=len(text), forwards=forwards,
                                seconds=0.5)
        return GenerationFinished(GenerationResult(
            tuple(range(len(text))), text, stats, cancelled=cancelled,
            finish_reason="cancelled" if cancelled else "eos"))


@pytest.fixture
def scripted_engine(monkeypatch: pytest.MonkeyPatch) -> ScriptedEngine:
    """`noema ask` gets this engine from Engine.load; set `.reply` to script its answer."""
    import noema_core.engine

    engine = ScriptedEngine("x = 5")

    class ScriptedEngineFactory:
        @classmethod
        def load(cls, model, *, device="auto", dtype="auto", quant="none", progress=None,
                 compile=None, notice=None):
            engine.loads.append(dict(model=model, device=device, dtype=dtype, quant=quant,
                                     compile=compile))
            if progress is not None:
                progress(f"loading {model} on cpu", 0.0)
            if engine.load_error is not None:
                raise engine.load_error
            return engine

    monkeypatch.setattr(noema_core.engine, "Engine", ScriptedEngineFactory)
    return engine


@pytest.fixture(scope="session")
def tiny_chat_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The engine tests' tiny random model with a character tokenizer, as a directory."""
    import torch

    from noema_core.loading import save_checkpoint
    from tests.engine.conftest import tiny_model, write_tokenizer

    directory = tmp_path_factory.mktemp("tiny-chat-ckpt")
    save_checkpoint(tiny_model(seed=1, dtype=torch.float32), directory)
    write_tokenizer(directory)
    return directory
