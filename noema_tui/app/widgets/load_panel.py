"""Shown while the model loads (progress, naming the device), and in its place if loading fails.

A failed load keeps the app open: the panel names the cause and the fix, and saved
conversations can still be read and exported.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, ProgressBar, Static

from noema_tui.terminal_text import visible


class LoadPanel(Vertical):
    DEFAULT_CSS = """
    LoadPanel { height: auto; padding: 1 2; margin-bottom: 1; border: round $primary 50%; }
    LoadPanel > .load-panel--title { text-style: bold; }
    LoadPanel > .load-panel--step { color: $text-muted; }
    LoadPanel.-failed { border: round $error; }
    LoadPanel.-failed > .load-panel--title { color: $text-error; }
    LoadPanel > .load-panel--reason { color: $foreground; }
    LoadPanel > .load-panel--hint { color: $text-warning; }
    """

    def __init__(self, model: str) -> None:
        super().__init__()
        self.model = model

    def compose(self) -> ComposeResult:
        yield Label(f"Loading {self.model}…", markup=False, classes="load-panel--title")
        yield ProgressBar(total=1.0, show_eta=False)
        yield Label("starting the engine (importing PyTorch)", markup=False,
                    classes="load-panel--step")

    def show_progress(self, what: str, fraction: float | None) -> None:
        self.query_one(".load-panel--step", Label).update(what)
        bar = self.query_one(ProgressBar)
        if fraction is None:
            bar.update(total=None)
        else:
            bar.update(total=1.0, progress=fraction)

    def show_failure(self, reason: str, hint: str = "") -> None:
        self.add_class("-failed")
        self.query_one(".load-panel--title", Label).update(f"Could not load {self.model}")
        self.query_one(ProgressBar).display = False
        self.query_one(".load-panel--step", Label).display = False
        reason, hint = visible(reason), visible(hint)  # may quote a checkpoint's files
        cause, _, fix = reason.rpartition(": ")
        if hint:  # the app knows a better fix than the loader's generic one
            cause, fix = cause or reason, hint
        lines = [f"Cause: {cause}", f"Fix: {fix}"] if cause else [reason]
        self.mount(Static("\n".join(lines), markup=False, classes="load-panel--reason"))
        self.mount(Static("Saved conversations stay readable and exportable; Ctrl+Q quits.",
                          markup=False, classes="load-panel--hint"))
