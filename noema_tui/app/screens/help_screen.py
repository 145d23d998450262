"""F1: every key that works right now, read from the live bindings of the screen below."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

ABOUT_BLOCK = ("While a reply is decoded, its active 32-token block is drawn in place: "
               "░ is a masked slot, bold slots were unmasked by the last forward, underlined "
               "ones were rewritten by an edit. Finished blocks join the reply as Markdown.")


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 76; max-width: 100%; height: auto; max-height: 100%; padding: 1 2;
        border: round $primary; background: $surface;
    }
    HelpScreen .help--about { color: $text-muted; margin-top: 1; }
    """

    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close", id="help.close")]

    def __init__(self, bindings: list[tuple[str, Binding]]) -> None:
        super().__init__()
        self.bindings = bindings  # (key shown, binding), in the order the screen offers them

    def compose(self) -> ComposeResult:
        table = Table(title="Keys", expand=True, show_edge=False, box=None, pad_edge=False)
        table.add_column("key", style="bold", no_wrap=True)
        table.add_column("does")
        table.add_column("binding id", style="dim")
        for key, binding in self.bindings:
            table.add_row(key, binding.tooltip or binding.description or binding.action,
                          binding.id or "")
        with VerticalScroll():
            yield Static(table)
            yield Static("Up/Down in the prompt recall earlier prompts. Type /export [path] to "
                         "save the transcript (.md, .json, or a folder for both).",
                         classes="help--about", markup=False)
            yield Static(ABOUT_BLOCK, classes="help--about", markup=False)
        yield Footer()
