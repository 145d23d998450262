"""A new title for a conversation: Enter keeps it, Esc leaves the old one."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class RenameDialog(ModalScreen[str | None]):
    DEFAULT_CSS = """
    RenameDialog { align: center middle; }
    RenameDialog > Vertical { width: 72; max-width: 100%; height: auto; padding: 1 2; }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="rename.cancel")]

    def __init__(self, title: str) -> None:
        super().__init__()
        self.old_title = title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("New title (Enter to keep it, Esc to cancel):",
                         classes="dialog--question")
            yield Input(self.old_title, id="rename-title")

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
