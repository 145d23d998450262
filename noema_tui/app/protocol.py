"""The seams between the chat app and the things it drives: the engine, its loader, the checker.

The app never imports `noema_core.engine.Engine` directly; it depends on these small protocols
so tests can inject a fake engine that replays a recorded decoding trace and a fake checker.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from noema_core.decoding.events import DecodingEvent
from noema_core.decoding.settings import DecodingSettings
from noema_core.engine import Message, ModelInfo, ProgressCallback


class ChatEngine(Protocol):
    """What the app needs from a loaded engine: what it is, and a stream of decoding events."""

    info: ModelInfo

    def stream(
        self,
        messages: Sequence[Message],
        settings: DecodingSettings,
        cancel: threading.Event | None = None,
    ) -> Iterator[DecodingEvent]: ...


class EngineLoader(Protocol):
    """Loads an engine, reporting progress; raises a `ModelLoadError` with cause and fix."""

    model: str  # the reference being loaded, for the load panel's title

    def __call__(self, progress: ProgressCallback) -> ChatEngine: ...


# check(response, question=..., earlier=(the previous prompts)) -> a Verdict (noema_core.verify);
# `Any` keeps the app free of the checker's import until a reply actually needs checking.
Checker = Callable[..., Any]
