"""A prompt the user sent, shown with its math rendered; the raw text stays in `text`."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, Markdown

from noema_tui.mathtext import render_markdown


class UserMessage(Vertical):
    DEFAULT_CSS = """
    UserMessage { height: auto; padding: 0 1; margin-bottom: 1; border-left: thick $primary; }
    UserMessage > .user-message--title { color: $text-primary; text-style: bold; }
    UserMessage > Markdown { margin: 0; padding: 0; }
    UserMessage MarkdownParagraph:last-child { margin-bottom: 0; }
    """

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        yield Label("You", classes="user-message--title")
        yield Markdown(render_markdown(self.text))
