"""One app factory for the CLI and the tests: plain options in, a ready `NoemaChatApp` out.

The CLI passes options only; tests also pass a fake loader (replaying a recorded trace), a fake
checker, a store in a temporary directory and a fixed clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from noema_core.decoding.settings import DecodingSettings
from noema_core.engine import DEFAULT_MODEL, ProgressCallback, parse_history_exchanges
from noema_core.retry import DEFAULT_RETRIES, MAX_RETRIES
from noema_tui.app.chat_app import NoemaChatApp, binding_ids
from noema_tui.app.conversation import Conversation, mode_value
from noema_tui.app.protocol import ChatEngine, Checker, EngineLoader
from noema_tui.app.screens.chat_screen import ChatScreen
from noema_tui.app.store import ConversationStore
from noema_tui.app.themes import DEFAULT_THEME, load_theme
from noema_tui.app.user_config import load_auto_retry, load_keymap


@dataclass(frozen=True)
class ChatOptions:
    model: str = DEFAULT_MODEL
    device: str = "auto"
    dtype: str = "auto"
    quant: str = "none"
    compile: bool | None = None  # the compiled block forward (None: on CUDA only)
    history: str | None = None  # --history: "all" or a count (None: the model's own)
    mode: str | None = None  # None: the resumed conversation's last mode, else "q"
    theme: str = DEFAULT_THEME
    resume: bool = False  # continue the most recent conversation
    conversation_id: int | None = None  # continue this one
    server: str | None = None  # decode on noema serve (or an OpenAI server) at this URL
    api_key: str | None = None


@dataclass(frozen=True)
class EngineFromOptions:
    """The real loader: names the device first, then `Engine.load` reports its own steps."""

    model: str
    device: str = "auto"
    dtype: str = "auto"
    quant: str = "none"
    compile: bool | None = None
    history: str | None = None

    def __call__(self, progress: ProgressCallback) -> ChatEngine:
        from noema_core import verify
        from noema_core.engine import Engine
        from noema_core.loading import resolve_device

        # The checker's worker (a process importing sympy, about a second of CPU) starts
        # now, beside PyTorch's import and the model load: started after the load, it ran
        # into the first reply of a user who sent at once (scripts/measure_first_reply.py).
        verify.warm_up()
        progress(f"loading {self.model} on {resolve_device(self.device)}", None)
        engine = Engine.load(self.model, device=self.device, dtype=self.dtype,
                             quant=self.quant, progress=progress, compile=self.compile)
        if self.history is not None:
            engine.set_history_exchanges(parse_history_exchanges(self.history))
        return engine

    def warm_up(self, engine: ChatEngine, cancel: threading.Event) -> None:
        """While the user types the first prompt: decode one short block, so the first reply
        does not pay for cold caches and first-call allocations (measured: 3.9 s for the
        first reply, 0.3-0.6 s later), and restart the checker's worker if it died. A prompt
        sent meanwhile sets `cancel`, which stops this after the current forward."""
        from noema_core import verify

        verify.warm_up()  # started with the load; a no-op while that worker is alive
        settings = engine.settings_for("s", gen_length=32, block_length=32)
        for _event in engine.stream([{"role": "user", "content": "1 + 1"}], settings, cancel):
            pass


@dataclass(frozen=True)
class EngineFromServer:
    """`--server URL`: connect (waiting while the server loads) instead of loading here."""

    model: str  # the URL, shown where a local load shows the model's name
    api_key: str | None = None

    def __call__(self, progress: ProgressCallback) -> ChatEngine:
        from noema_core.remote.client import RemoteEngine

        progress(f"connecting to {self.model}", None)
        return RemoteEngine.connect(self.model, api_key=self.api_key, progress=progress)


def check_with_sympy(response: str, *, question: str | None = None,
                     earlier: tuple[str, ...] = ()) -> Any:
    from noema_core.verify import check

    return check(response, question=question, earlier=earlier)


def open_conversation(options: ChatOptions, store: ConversationStore | None
                      ) -> tuple[Conversation, str]:
    """The conversation to show, and a notice for the user ('' if none). Raises `StoreError`
    for an unknown --conversation id."""
    if store is not None and options.conversation_id is not None:
        return store.load(options.conversation_id), ""
    if store is not None and options.resume:
        latest = store.latest()
        if latest is not None:
            return latest, ""
        return Conversation(model=options.model), "No saved conversation yet: starting a new one."
    return Conversation(model=options.model), ""


def create_app(options: ChatOptions, *, loader: EngineLoader | None = None,
               checker: Checker | None = None, store: ConversationStore | None = None,
               clock: Callable[[], float] = time.monotonic, notice: str = "") -> NoemaChatApp:
    """Raises `ThemeNotFoundError`, `SettingsError` or `StoreError` (all one-line, typed)."""
    theme = load_theme(options.theme)
    conversation, opened = open_conversation(options, store)
    settings = DecodingSettings.for_mode(options.mode or mode_value(conversation.last_mode))
    auto_retry, config_notices = load_auto_retry(MAX_RETRIES, DEFAULT_RETRIES)
    notices = [n for n in (notice, opened) if n] + (store.problems if store else [])
    if loader is None and options.server:
        loader = EngineFromServer(options.server, options.api_key)
    screen = ChatScreen(
        loader=loader or EngineFromOptions(options.model, options.device, options.dtype,
                                           options.quant, options.compile, options.history),
        checker=checker or check_with_sympy, settings=settings, conversation=conversation,
        store=store, clock=clock, auto_retry=auto_retry)
    keymap, keymap_notices = load_keymap(binding_ids())
    return NoemaChatApp(screen, theme, notices=notices + config_notices + keymap_notices,
                        keymap=keymap)

