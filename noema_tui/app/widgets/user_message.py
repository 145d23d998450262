"""A prompt the user sent, shown with its math rendered; the raw text stays in `text`."""

from __future__ import annotations

import re

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, Markdown

from noema_tui.mathtext import render_markdown
from noema_tui.terminal_text import visible

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def keep_line_breaks(markdown: str) -> str:
    """`markdown` with every line break the user typed kept: Markdown joins the lines of a
    paragraph into one (a system of equations would read as one line), so each prose line
    followed by another ends in a hard break. Fenced blocks are left as they are."""
    lines = markdown.split("\n")
    fence: str | None = None
    for index, line in enumerate(lines):
        marker = FENCE.match(line)
        if fence is not None:
            if marker and marker.group(1).startswith(fence) and not line.strip(" `~"):
                fence = None
            continue
        if marker:
            fence = marker.group(1)
            continue
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if line.strip() and following.strip() and not FENCE.match(following):
            lines[index] = line.rstrip() + "  "
    return "\n".join(lines)


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
        yield Markdown(keep_line_breaks(render_markdown(visible(self.text))))
