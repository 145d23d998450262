"""The one place the app meets the engine: thread workers that turn engine events into messages.

Decoding runs in a thread worker (`exit_on_error=False`, so even an out-of-memory error becomes
a message instead of closing the app). The worker only calls `post_message`, which is
thread-safe and never waits for a repaint. Live snapshots of a block may replace older
snapshots of the same block still waiting in the queue; block-final and reply-final messages
never merge, so the final state always lands.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from typing import Any

from textual import work
from textual.message import Message
from textual.widget import Widget

from noema_core.decoding import events
from noema_core.decoding.settings import DecodingSettings
from noema_core.engine import DEFAULT_MODEL, ModelInfo
from noema_core.errors import ModelNotFoundError, NoemaError
from noema_core.remote.wire import event_to_wire
from noema_tui.app.conversation import as_plain_dict
from noema_tui.app.protocol import ChatEngine, Checker, EngineLoader


def describe_failure(error: BaseException) -> str:
    """One line with the cause and the fix; unexpected errors keep their type for a report."""
    if isinstance(error, NoemaError):
        return str(error)
    if isinstance(error, MemoryError) or "out of memory" in str(error).lower():
        return (f"out of memory ({error}): lower gen_length in settings (F3), use --quant nf4, "
                f"or a smaller model")
    return f"{type(error).__name__}: {error}: this is a bug in Noema, please report it"


class EngineBridge(Widget):
    """Loads the engine, streams replies and checks answers off the UI thread."""

    DEFAULT_CSS = "EngineBridge { display: none; }"

    class LoadProgressed(Message):
        def __init__(self, what: str, fraction: float | None) -> None:
            super().__init__()
            self.what, self.fraction = what, fraction

    class EngineLoaded(Message):
        def __init__(self, info: ModelInfo) -> None:
            super().__init__()
            self.info = info

    class EngineNoticed(Message):
        """A line from the engine while it decodes (e.g. a failed compile, decoding eagerly)."""

        def __init__(self, line: str) -> None:
            super().__init__()
            self.line = line

    class LoadFailed(Message):
        def __init__(self, model: str, reason: str, hint: str = "") -> None:
            super().__init__()
            self.model, self.reason, self.hint = model, reason, hint

    class BlockUpdated(Message):
        """A whole-block snapshot after one forward; newer frames of the block replace it."""

        def __init__(self, reply_id: int, update: events.BlockUpdated) -> None:
            super().__init__()
            self.reply_id, self.update = reply_id, update

        def can_replace(self, message: Message) -> bool:
            return (isinstance(message, EngineBridge.BlockUpdated)
                    and message.reply_id == self.reply_id
                    and message.update.block_index == self.update.block_index)

    class BlockFinished(Message):
        def __init__(self, reply_id: int, block: events.BlockFinished) -> None:
            super().__init__()
            self.reply_id, self.block = reply_id, block

    class ReplyFinished(Message):
        """The reply ended: at EOS, at the length limit, or stopped (`result.cancelled`)."""

        def __init__(self, reply_id: int, result: events.GenerationResult,
                     trace: list[dict[str, Any]] | None = None) -> None:
            super().__init__()
            self.reply_id, self.result = reply_id, result
            self.trace = trace  # every forward in wire form (the screen may skip some)

    class ReplyFailed(Message):
        def __init__(self, reply_id: int, reason: str) -> None:
            super().__init__()
            self.reply_id, self.reason = reply_id, reason

    class VerdictReached(Message):
        def __init__(self, reply_id: int, verdict: dict[str, Any]) -> None:
            super().__init__()
            self.reply_id, self.verdict = reply_id, verdict

    def __init__(self, loader: EngineLoader, checker: Checker) -> None:
        super().__init__()
        self.loader = loader
        self.checker = checker
        self.engine: ChatEngine | None = None
        self._cancel = threading.Event()
        self._engine_lock = threading.Lock()  # one decoding at a time: warm-up or a reply
        self._warm_up_cancel = threading.Event()

    def load_engine(self) -> None:
        """Load in a daemon thread, not a thread worker: a load cannot be interrupted, and
        quitting must not wait minutes for a large model (the app's exit joins workers)."""
        threading.Thread(target=self._load, name="noema-load", daemon=True).start()

    def _load(self) -> None:
        try:
            engine = self.loader(lambda what, fraction: self.post_message(
                self.LoadProgressed(what, fraction)))
        except Exception as error:  # every failure is shown in the app, never a crash
            hint = ""
            if isinstance(error, ModelNotFoundError) and self.loader.model == DEFAULT_MODEL:
                hint = (f"{DEFAULT_MODEL}, the default model, is not installed here: start "
                        f"with a checkpoint directory, noema chat --model /path/to/checkpoint")
            self.post_message(self.LoadFailed(self.loader.model, describe_failure(error), hint))
            return
        self.engine = engine
        if hasattr(engine, "notice"):  # the local engine; fakes and remote engines have none
            engine.notice = lambda line: self.post_message(self.EngineNoticed(line))
        self.post_message(self.EngineLoaded(engine.info))  # then warm_up_engine, below

    def set_history(self, exchanges: int | None) -> ModelInfo | None:
        """Send the model `exchanges` earlier exchanges (None: all) from the next reply; the
        engine's new info, or None where it cannot (not loaded, or a server's engine)."""
        setter = getattr(self.engine, "set_history_exchanges", None)
        if setter is None:
            return None
        setter(exchanges)
        return self.engine.info

    def on_engine_bridge_engine_loaded(self, event: EngineLoaded) -> None:
        """Warm up (the message goes on to the screen too)."""
        self.warm_up_engine()

    @work(thread=True, exit_on_error=False, group="warm-up")
    def warm_up_engine(self) -> None:
        """Decode a short block in a thread worker, as replies are decoded, not in the load
        thread: warmed there, the first reply still often cost several times the second's
        CPU (scripts/measure_first_reply.py; the figures are in docs/captures/ux/latency.md)."""
        warm_up = getattr(self.loader, "warm_up", None)  # optional: the real loader has one
        if warm_up is None or self.engine is None:
            return
        # A failed warm-up costs only speed: a reply that fails the same way says so.
        with self._engine_lock, contextlib.suppress(Exception):
            warm_up(self.engine, self._warm_up_cancel)

    @work(thread=True, exit_on_error=False, exclusive=True, group="reply")
    def stream_reply(self, reply_id: int, messages: Sequence[dict[str, str]],
                     settings: DecodingSettings) -> None:
        assert self.engine is not None, "stream_reply before the engine loaded"
        cancel = self._cancel = threading.Event()
        self._warm_up_cancel.set()  # a warm-up still running stops after its current forward
        with self._engine_lock:
            self._stream(reply_id, messages, settings, cancel)

    def _stream(self, reply_id: int, messages: Sequence[dict[str, str]],
                settings: DecodingSettings, cancel: threading.Event) -> None:
        trace: list[dict[str, Any]] = []  # kept here: queued frames replace one another
        try:
            for event in self.engine.stream(messages, settings, cancel):
                if isinstance(event, events.BlockUpdated):
                    trace.append(event_to_wire(event))
                    self.post_message(self.BlockUpdated(reply_id, event))
                elif isinstance(event, events.BlockFinished):
                    self.post_message(self.BlockFinished(reply_id, event))
                elif isinstance(event, events.GenerationFinished):
                    self.post_message(self.ReplyFinished(reply_id, event.result, trace))
                    return
        except Exception as error:  # PromptTooLongError, OOM, ...: shown under the reply
            self.post_message(self.ReplyFailed(reply_id, describe_failure(error)))
            return
        self.post_message(self.ReplyFailed(reply_id, "the engine stopped without a result: "
                                                     "this is a bug in Noema, please report it"))

    def stop_reply(self) -> None:
        """Ask the decoding loop to stop after the forward in progress."""
        self._cancel.set()

    @work(thread=True, exit_on_error=False, group="verdicts")
    def check_reply(self, reply_id: int, reply: str, question: str,
                    earlier: tuple[str, ...] = ()) -> None:
        try:
            verdict = as_plain_dict(self.checker(reply, question=question, earlier=earlier)) or {}
        except Exception as error:  # the checker must never take the chat down with it
            verdict = {"status": "unverifiable",
                       "reason": f"the checker failed ({type(error).__name__}: {error})"}
        self.post_message(self.VerdictReached(reply_id, verdict))

    def on_unmount(self) -> None:
        # Threads cannot be killed: stop the decoding loops so the app can exit promptly.
        self._cancel.set()
        self._warm_up_cancel.set()
