"""One reply: finished blocks as Markdown, the live block below them, then verdict and stats.

While decoding, settled paragraphs are appended to the Markdown (math converted); the
unfinished last paragraph is redrawn on its own in a small tail Markdown, once per block.
When the reply ends, one full Markdown update replaces both with the whole reply. The raw
text (LaTeX kept) stays in `raw_text` for copy and export.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, Markdown, Static

from noema_core.decoding.events import BlockUpdated, GenerationStats
from noema_tui.app.conversation import verdict_record
from noema_tui.app.reply_text import split_settled
from noema_tui.app.widgets.live_block import LiveBlock
from noema_tui.formatting import has_no_answer, stats_line, verdict_line
from noema_tui.mathtext import render_markdown
from noema_tui.terminal_text import visible

VERDICT_CLASSES = ("-checking", "-verified", "-contradicted", "-unverifiable", "-no-answer")


def empty_reply(finish_reason: str) -> str:
    """What an empty reply means, in place of the reply (Markdown)."""
    if finish_reason == "cancelled":
        return "*(stopped before the model wrote any text)*"
    return ("*The model produced no text: it ended its reply at once, as a small model does "
            "with a message unlike those it was trained on. Rephrase it, or start a new chat "
            "(Ctrl+N) to see example questions it can answer.*")


class ReplyView(Vertical):
    """A reply in the transcript, live or finished."""

    DEFAULT_CSS = """
    ReplyView { height: auto; padding: 0 1 1 1; border-left: thick $accent 40%; }
    ReplyView > .reply--title { color: $text-accent; text-style: bold; }
    ReplyView > Markdown { margin: 0; padding: 0; }
    ReplyView > .reply--tail { margin: 0; padding: 0; }
    ReplyView > .reply--verdict.-checking { color: $text-muted; text-style: italic; }
    ReplyView > .reply--verdict.-verified { color: $text-success; }
    ReplyView > .reply--verdict.-contradicted { color: $text-error; }
    ReplyView > .reply--verdict.-unverifiable { color: $text-warning; }
    ReplyView > .reply--stats { color: $text-muted; }
    ReplyView > .reply--offer { color: $text-accent; text-style: italic; }
    ReplyView > .reply--failure { color: $text-error; }
    """

    def __init__(self, mode_label: str, *, reply_id: int | None = None,
                 attempt: int | None = None, how: str | None = None) -> None:
        super().__init__(classes="-live")
        self.mode_label = mode_label
        self.reply_id = reply_id
        self.attempt, self.how = attempt, how  # a retried reply's try: "try 2 · stricter ..."
        self.raw_text = ""  # finished blocks so far, then the whole reply
        self._settled = 0  # characters of raw_text already handed to the Markdown
        self.finished = False

    def compose(self) -> ComposeResult:
        yield Label(self._title(), markup=False, classes="reply--title")
        yield Markdown(classes="reply--body")
        yield Markdown(classes="reply--tail")
        yield LiveBlock()
        yield Static("", markup=False, classes="reply--verdict")
        yield Static("", markup=False, classes="reply--stats")
        yield Static("", markup=False, classes="reply--offer")

    def on_mount(self) -> None:
        # Empty parts take no lines until they have something to show.
        for part in self.query(".reply--body, .reply--tail, .reply--verdict, .reply--stats, "
                               ".reply--offer"):
            part.display = False

    def _title(self) -> str:
        title = f"Noema · {self.mode_label}"
        if self.attempt:
            title += f" · try {self.attempt}" + (f" · {self.how}" if self.how else "")
        return title

    def set_try(self, attempt: int, how: str) -> None:
        """Label this reply as try `attempt` (the first one, once it is retried)."""
        self.attempt, self.how = attempt, how
        self.query_one(".reply--title", Label).update(self._title())

    def show_offer(self, text: str) -> None:
        """What the user can do next with this reply (the retry key), or nothing ("")."""
        offer = self.query_one(".reply--offer", Static)
        offer.update(text)
        offer.display = bool(text)

    @property
    def live_block(self) -> LiveBlock:
        return self.query_one(LiveBlock)

    def show_snapshot(self, update: BlockUpdated) -> None:
        self.live_block.snapshot = update

    async def add_block(self, text: str) -> None:
        """A block is final: its text joins the reply; settled paragraphs go to Markdown."""
        self.raw_text += text
        settled, tail = split_settled(self.raw_text)
        if len(settled) > self._settled:
            body = self.query_one(".reply--body", Markdown)
            body.display = True
            await body.append(render_markdown(visible(settled[self._settled:])))
            self._settled = len(settled)
        tail_view = self.query_one(".reply--tail", Markdown)
        tail_view.display = bool(tail.strip())
        await tail_view.update(render_markdown(visible(tail)))

    async def finish(self, text: str, stats: GenerationStats | None, finish_reason: str) -> None:
        """The reply ended: one full Markdown update with the whole text, then its stats."""
        self.raw_text = text
        self.finished = True
        self.remove_class("-live")
        self.live_block.display = False
        self.query_one(".reply--tail", Markdown).display = False
        body = self.query_one(".reply--body", Markdown)
        body.display = True
        await body.update(render_markdown(visible(text) if text.strip()
                                          else empty_reply(finish_reason)))
        line = stats_line(stats) if stats is not None else ""
        if finish_reason == "cancelled":
            line = f"stopped · {line}" if line else "stopped"
        elif finish_reason == "length":
            line = f"{line} · hit gen_length (raise it in settings, F3)"
        stats_view = self.query_one(".reply--stats", Static)
        stats_view.update(line)
        stats_view.display = bool(line)

    def fail(self, reason: str) -> None:
        self.finished = True
        self.live_block.display = False
        self.query_one(".reply--tail", Markdown).display = False
        self.mount(Static(f"Reply failed: {visible(reason)}", markup=False,
                          classes="reply--failure"))

    def show_checking(self) -> None:
        self._set_verdict("checking the answer…", "-checking")

    def show_verdict(self, verdict: dict[str, Any] | None, *, note: str = "") -> None:
        if verdict is None:
            self._set_verdict(note, "-unverifiable" if note else "")
            return
        record = verdict_record(verdict)
        state = "-no-answer" if has_no_answer(record) else f"-{record.status or 'unverifiable'}"
        self._set_verdict(verdict_line(record), state)

    def _set_verdict(self, text: str, state: str) -> None:
        line = self.query_one(".reply--verdict", Static)
        line.remove_class(*VERDICT_CLASSES)
        if state:
            line.add_class(state)
        line.update(visible(text))
        line.display = bool(text)
