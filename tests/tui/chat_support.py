"""Fakes and helpers for the chat app's tests: an engine replaying a recorded decoding trace,
loaders, checkers, an app builder that never touches the real home, and a condition wait."""

from __future__ import annotations

import asyncio
import functools
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from noema_core.decoding.events import (
    BlockFinished,
    BlockUpdated,
    DecodingEvent,
    GenerationFinished,
    GenerationResult,
    GenerationStats,
    TokenState,
)
from noema_core.decoding.settings import DecodingSettings
from noema_core.engine import ModelInfo, ProgressCallback
from noema_core.errors import NoemaError
from noema_core.verify.verdict import Verdict
from noema_tui.app.chat_app import NoemaChatApp
from noema_tui.app.factory import ChatOptions, create_app
from noema_tui.app.store import ConversationStore

TRACE = Path(__file__).parent / "fixtures" / "solve_linear_trace.json"
TINY_INFO = ModelInfo(name="noema-tiny", device="cpu", dtype="float32", quant="none",
                      parameters=1_250_000, resident_bytes=5_000_000, max_context=4096)
VERIFIED = Verdict("verified", answer="5", expected="5", method="solve:substitute",
                   reason="x = 5 satisfies 3x + 5 = 20")


def load_trace(path: Path = TRACE) -> tuple[str, list[DecodingEvent]]:
    """The recorded prompt and its events, rebuilt as the engine's own event classes."""
    data = json.loads(path.read_text(encoding="utf-8"))
    events: list[DecodingEvent] = []
    for raw in data["events"]:
        kind = raw.pop("type")
        if kind == "BlockUpdated":
            events.append(BlockUpdated(
                raw["block_index"], raw["forward"], tuple(raw["token_ids"]),
                tuple(TokenState(s) for s in raw["states"]), tuple(raw["confidences"]),
                tuple(raw["pieces"]), raw["edits"]))
        elif kind == "BlockFinished":
            events.append(BlockFinished(**{**raw, "token_ids": tuple(raw["token_ids"])}))
        else:
            result = raw["result"]
            stats = GenerationStats(**result.pop("stats"))
            events.append(GenerationFinished(GenerationResult(
                **{**result, "token_ids": tuple(result["token_ids"]), "stats": stats})))
    return data["prompt"], events


class Stepper:
    """Lets a test hand the fake engine its events one at a time."""

    def __init__(self) -> None:
        self._allowed = threading.Semaphore(0)

    def release(self, events: int = 1) -> None:
        for _ in range(events):
            self._allowed.release()

    def wait(self, cancel: threading.Event | None) -> None:
        while not self._allowed.acquire(timeout=0.02):
            if cancel is not None and cancel.is_set():
                return


@dataclass
class ReplayEngine:
    """Replays the recorded trace like `Engine.stream`: stops between forwards when cancelled,
    yielding the partial result, and raises `fail_with` instead of decoding when set."""

    events: list[DecodingEvent] = field(default_factory=lambda: load_trace()[1])
    info: ModelInfo = TINY_INFO
    stepper: Stepper | None = None
    fail_with: Exception | None = None
    calls: list[tuple[list[dict[str, str]], DecodingSettings]] = field(default_factory=list)

    def stream(self, messages: Sequence[dict[str, str]], settings: DecodingSettings,
               cancel: threading.Event | None = None) -> Iterator[DecodingEvent]:
        self.calls.append(([dict(m) for m in messages], settings))
        if self.fail_with is not None:
            raise self.fail_with
        finished, latest, forwards = "", None, 0
        for event in self.events:
            if self.stepper is not None:
                self.stepper.wait(cancel)
            if isinstance(event, BlockUpdated):
                if cancel is not None and cancel.is_set():
                    yield GenerationFinished(partial_result(finished, latest, forwards))
                    return
                latest, forwards = event, forwards + 1
            elif isinstance(event, BlockFinished):
                finished, latest = finished + event.text, None
            yield event


def partial_result(finished: str, latest: BlockUpdated | None, forwards: int) -> GenerationResult:
    decoded = "" if latest is None else "".join(
        piece for piece, state in zip(latest.pieces, latest.states, strict=True)
        if state not in (TokenState.MASKED, TokenState.PROMPT))
    text = finished + decoded
    stats = GenerationStats(prompt_tokens=24, new_tokens=len(text.split()), forwards=forwards,
                            seconds=0.05 * forwards)
    return GenerationResult((), text, stats, cancelled=True, finish_reason="cancelled")


@dataclass
class ReplayLoader:
    engine: ReplayEngine = field(default_factory=ReplayEngine)
    model: str = "noema-tiny"
    fail_with: NoemaError | None = None

    def __call__(self, progress: ProgressCallback) -> ReplayEngine:
        progress("loading noema-tiny on cpu", 0.0)
        progress("reading model.safetensors", 0.5)
        if self.fail_with is not None:
            raise self.fail_with
        return self.engine


@dataclass
class FakeChecker:
    verdict: Verdict = VERIFIED
    gate: threading.Event | None = None  # when set, checking waits until the test opens it
    questions: list[str] = field(default_factory=list)
    earlier: list[tuple[str, ...]] = field(default_factory=list)

    def __call__(self, response: str, *, question: str | None = None,
                 earlier: tuple[str, ...] = ()) -> Verdict:
        self.questions.append(question or "")
        self.earlier.append(earlier)
        if self.gate is not None:
            self.gate.wait(timeout=10)
        return self.verdict


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep every test away from the real data and config directories."""
    monkeypatch.setenv("NOEMA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def build_app(*, engine: ReplayEngine | None = None,
              loader: ReplayLoader | None = None, checker: FakeChecker | None = None,
              options: ChatOptions | None = None,
              clock: Callable[[], float] = lambda: 0.0,
              auto_retry: int | None = None) -> NoemaChatApp:
    """The chat as `noema chat` builds it; `auto_retry` overrides the default (config.toml's)."""
    store = ConversationStore.open_default()  # under NOEMA_DATA_DIR, set by isolated_dirs
    app = create_app(options or ChatOptions(), loader=loader or ReplayLoader(engine or
                                                                             ReplayEngine()),
                     checker=checker or FakeChecker(), store=store, clock=clock)
    if auto_retry is not None:
        app.chat_screen.auto_retry = auto_retry
    return app


def pilot_test(scenario: Callable[..., object]) -> Callable[..., None]:
    """Run an async Pilot scenario as a plain test (no async pytest plugin needed)."""

    @functools.wraps(scenario)
    def test(*args: object, **kwargs: object) -> None:
        asyncio.run(scenario(*args, **kwargs))

    return test


async def send_prompt(pilot, text: str) -> None:
    """Once the model has loaded, type `text` into the prompt and press Enter."""
    from noema_tui.app.widgets.prompt_input import PromptInput

    await wait_for(pilot, lambda: pilot.app.chat_screen.info is not None, "the model to load")
    pilot.app.query_one(PromptInput).load_text(text)
    await pilot.press("enter")


async def complete_turn(pilot, text: str) -> None:
    """Send `text` and wait until its reply is finished and checked."""
    turns = pilot.app.chat_screen.session.turns
    before = len(turns)
    await send_prompt(pilot, text)
    await wait_for(pilot, lambda: len(turns) >= before + 2 and turns[-1].verdict,
                   "the checked reply")


async def wait_for_forward(pilot, forward: int, block: int = 0) -> None:
    """Until the live block shows `forward` of `block` (both as the engine counts them)."""
    from noema_tui.app.widgets.live_block import LiveBlock

    def shown() -> bool:
        blocks = pilot.app.query(LiveBlock)
        update = blocks.last().snapshot if blocks else None
        return update is not None and (update.block_index, update.forward) == (block, forward)

    await wait_for(pilot, shown, f"block {block} forward {forward}")


async def wait_for(pilot, condition: Callable[[], object], what: str,
                   limit: float = 5.0) -> None:
    """Let the app process messages until `condition()` holds (fails after `limit` seconds)."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause()


def saved_store() -> ConversationStore:
    """The store the app under test writes to."""
    return ConversationStore.open_default()


def toasts(app) -> str:
    """The text of every notification on screen (run the app with notifications=True)."""
    return " ".join(str(toast.render()) for toast in app.screen.query("Toast"))
