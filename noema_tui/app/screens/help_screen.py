"""F1: every key that works right now, read from the live bindings of the screen below."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from noema_tui.app.slash_commands import COMMANDS

ABOUT_BLOCK = ("While a reply is decoded, its active 32-token block is drawn in place: "
               "░ is a masked slot, bold slots were unmasked by the last forward, underlined "
               "ones were rewritten by an edit, and ∎ is a slot holding an end-of-text or "
               "role token (it has no text of its own: the reply ends there). Finished blocks "
               "join the reply as Markdown; in math, ⟦x⟧ is a boxed final answer. F5 replays "
               "the last reply forward by forward (Ctrl+P \u2192 \"Replay reply N\" any "
               "other): \u2190/\u2192 step, Space plays, +/- speed, c colours by confidence. "
               "When the checker contradicts the last reply, Ctrl+T decodes it again "
               "(one token per forward, stricter thresholds, then other seeds), each try "
               "kept with its verdict; "
               "auto_retry (F3) does it by itself. Up/Down in the prompt recall earlier "
               "prompts.")


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 76; max-width: 100%; height: auto; max-height: 100%; padding: 1 2;
        border: round $primary; background: $surface;
    }
    HelpScreen .help--about { color: $text-muted; margin-top: 1; }
    HelpScreen .help--commands { margin-top: 1; }
    HelpScreen .help--model { color: $text-accent; margin-bottom: 1; }
    """

    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close", id="help.close")]

    def __init__(self, bindings: list[tuple[str, Binding]], model_note: str = "") -> None:
        super().__init__()
        self.bindings = bindings  # (key shown, binding), in the order the screen offers them
        self.model_note = model_note  # what the loaded model can answer, where it says

    def compose(self) -> ComposeResult:
        table = Table(title="Keys", expand=True, show_edge=False, box=None, pad_edge=False)
        table.add_column("key", style="bold", no_wrap=True)
        table.add_column("does")
        table.add_column("binding id", style="dim")
        for key, binding in self.bindings:
            table.add_row(key, binding.tooltip or binding.description or binding.action,
                          binding.id or "")
        commands = Table(title="Commands (type in the prompt)", expand=True, show_edge=False,
                         box=None, pad_edge=False)
        commands.add_column("command", style="bold", no_wrap=True)
        commands.add_column("does")
        for command in COMMANDS:
            commands.add_row(f"{command.name} {command.usage}".strip(), command.does)
        with VerticalScroll():
            if self.model_note:
                yield Static(self.model_note, classes="help--model", markup=False)
            yield Static(table)
            yield Static(commands, classes="help--commands")
            yield Static(ABOUT_BLOCK, classes="help--about", markup=False)
        yield Footer()
