"""Ctrl+O: the saved conversations, newest first: open, rename, delete, and search every turn.

The screen reads and edits the store directly (the UI thread's connection, which gives up
quickly on a busy file); it dismisses with the id of the conversation to open, or None.
Conversations deleted here are listed in `deleted`, so the chat can leave one it was showing.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from noema_tui.app.screens.confirm_dialog import ConfirmDialog
from noema_tui.app.screens.rename_dialog import RenameDialog
from noema_tui.app.store import ConversationStore, ConversationSummary, SearchHit, StoreError
from noema_tui.terminal_text import visible


def conversation_row(summary: ConversationSummary, excerpt: str = "",
                     current: bool = False) -> Text:
    """One option: date, title, questions and mode, then the matching text when searching."""
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(summary.updated_at))
    questions = f"{summary.questions} question" + ("s" if summary.questions != 1 else "")
    row = Text.assemble((when, "dim"), "  ", (visible(summary.title) or "(untitled)", "bold"),
                        "  ", (f"{questions} · {summary.mode or '-'}", "dim"))
    if current:
        row.append("  (open)", "italic")
    if excerpt:
        row.append("\n  " + visible(excerpt), "italic dim")
    return row


class BrowserScreen(Screen[int | None]):
    DEFAULT_CSS = """
    BrowserScreen { layout: vertical; }
    BrowserScreen > #browser-search { margin: 0 1; }
    BrowserScreen > #browser-list { height: 1fr; margin: 0 1; }
    BrowserScreen > .browser--status { height: 1; padding: 0 2; }
    """

    BINDINGS = [
        Binding("escape", "close_browser", "Back", id="browser.close"),
        Binding("enter", "open_conversation", "Open", id="browser.open_conversation",
                priority=True),
        Binding("f2", "rename_conversation", "Rename", id="browser.rename_conversation"),
        Binding("f8", "delete_conversation", "Delete", id="browser.delete_conversation"),
        Binding("ctrl+f", "focus_search", "Search", id="browser.focus_search", show=False),
    ]

    def __init__(self, store: ConversationStore, current_id: int | None = None) -> None:
        super().__init__()
        self.store = store
        self.current_id = current_id
        self.deleted: set[int] = set()
        self.shown: list[ConversationSummary] = []

    def compose(self) -> ComposeResult:
        yield Static("Conversations", classes="browser--title")
        yield Input(placeholder="Search every turn…", id="browser-search")
        yield OptionList(id="browser-list")
        yield Static("", classes="browser--status")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_list()
        self.query_one(OptionList).focus()

    @property
    def options(self) -> OptionList:
        return self.query_one(OptionList)

    @property
    def query_text(self) -> str:
        return self.query_one(Input).value.strip()

    def refresh_list(self, keep: int | None = None) -> None:
        """List what matches the search (everything when it is empty), newest first."""
        try:
            if self.query_text:
                hits = self.store.search(self.query_text)
            else:
                hits = [SearchHit(s, "") for s in self.store.summaries()]
        except StoreError as error:
            self.show_status(str(error), error=True)
            return
        self.shown = [hit.summary for hit in hits]
        options = self.options
        options.clear_options()
        options.add_options(Option(conversation_row(hit.summary, hit.excerpt,
                                                    hit.summary.id == self.current_id),
                                   id=str(hit.summary.id)) for hit in hits)
        if hits:
            ids = [s.id for s in self.shown]
            options.highlighted = ids.index(keep) if keep in ids else 0
        self.show_status(self.count_line(len(hits)))

    def count_line(self, count: int) -> str:
        if self.query_text:
            return (f"{count} conversation(s) match {self.query_text!r}" if count
                    else f"no conversation matches {self.query_text!r}")
        return f"{count} saved conversation(s)" if count else "no saved conversations yet"

    def show_status(self, text: str, error: bool = False) -> None:
        status = self.query_one(".browser--status", Static)
        status.update(Text(text))
        status.set_class(error, "-error")

    @property
    def highlighted(self) -> ConversationSummary | None:
        index = self.options.highlighted
        return self.shown[index] if index is not None and index < len(self.shown) else None

    @on(Input.Changed, "#browser-search")
    def search(self) -> None:
        self.refresh_list()

    @on(OptionList.OptionSelected)
    def open_selected(self) -> None:
        self.action_open_conversation()

    def action_open_conversation(self) -> None:
        chosen = self.highlighted
        if chosen is None:
            self.show_status("Nothing to open: clear the search or press Esc.")
            return
        self.dismiss(chosen.id)

    def action_close_browser(self) -> None:
        self.dismiss(None)

    def action_focus_search(self) -> None:
        self.query_one(Input).focus()

    def action_rename_conversation(self) -> None:
        chosen = self.highlighted
        if chosen is None:
            return

        def rename(title: str | None) -> None:
            if not title:
                return
            try:
                self.store.rename(chosen.id, title)
            except StoreError as error:
                self.show_status(str(error), error=True)
                return
            self.refresh_list(keep=chosen.id)

        self.app.push_screen(RenameDialog(chosen.title), rename)

    def action_delete_conversation(self) -> None:
        chosen = self.highlighted
        if chosen is None:
            return

        def delete(confirmed: bool | None) -> None:
            if not confirmed:
                return
            try:
                self.store.delete(chosen.id)
            except StoreError as error:
                self.show_status(str(error), error=True)
                return
            self.deleted.add(chosen.id)
            self.refresh_list()
            self.notify(f"Deleted {visible(chosen.title)!r}.")

        question = (f"Delete {visible(chosen.title)!r} ({chosen.questions} question(s))? "
                    f"This cannot be undone.")
        self.app.push_screen(ConfirmDialog(question, confirm_label="Delete"), delete)
