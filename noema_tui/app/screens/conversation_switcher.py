"""The chat screen's conversation switching: a new one (Ctrl+N), or a saved one opened from
the browser (Ctrl+O). A mixin of `ChatScreen`, kept in its own file so the screen stays
readable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from noema_core.decoding.settings import Mode
from noema_tui.app.conversation import Conversation, mode_value
from noema_tui.app.screens.browser_screen import BrowserScreen
from noema_tui.app.store import StoreError
from noema_tui.terminal_text import visible

if TYPE_CHECKING:
    from noema_tui.app.screens.chat_screen import ChatScreen


class ConversationSwitcher:
    """Replace the conversation on screen: new, opened, or after deleting the open one."""

    async def action_new_conversation(self: ChatScreen) -> None:
        if self.generating:
            return
        await self._show_conversation(Conversation(model=self.session.conversation.model))
        self.tell("New conversation.", kind="conversation")

    async def _show_conversation(self: ChatScreen, conversation: Conversation) -> None:
        """Replace the transcript with `conversation` (new, or opened from the browser)."""
        self.session.conversation = conversation
        self._checking.clear()
        await self.transcript.query("UserMessage, ReplyView, WelcomePanel").remove()
        for turn in conversation.turns:
            await self._show_saved_turn(turn)
        await self.place_load_panel()  # while loading: the panel only on an empty chat
        self.show_welcome()
        self.show_turn_notice()
        self.prompt.sent_prompts = conversation.prompts()
        self.transcript.scroll_end(animate=False)
        self.status.show_progress(0, 0, 0.0)  # the last reply's speed is not this chat's
        self.offer_retry()  # its last reply may have been contradicted; a new one has none

    def action_open_browser(self: ChatScreen) -> None:
        store = self.session.store
        if self.generating:
            return
        if store is None:
            self.tell("Conversations are not saved in this session, so there are none to "
                      "browse: see the notice at start for why.", kind="conversation",
                      severity="warning")
            return
        browser = BrowserScreen(store, self.session.conversation.id)

        async def opened(conversation_id: int | None) -> None:
            if conversation_id is not None and conversation_id != self.session.conversation.id:
                await self.open_saved(conversation_id)
            elif self.session.conversation.id in browser.deleted:
                await self.action_new_conversation()

        self.app.push_screen(browser, opened)

    async def open_saved(self: ChatScreen, conversation_id: int) -> None:
        """Show a saved conversation and continue it, in the mode of its last reply."""
        store = self.session.store
        assert store is not None
        try:
            conversation = store.load(conversation_id)
        except StoreError as error:
            self.tell(str(error), kind="conversation", title="Cannot open", severity="error")
            return
        await self._show_conversation(conversation)
        if conversation.last_mode:
            mode = Mode(mode_value(conversation.last_mode))
            self.settings = self.mode_memory.switch(self.settings, mode, self.presets)
            self._show_mode()
        for problem in store.problems:
            self.tell(problem, kind=f"store: {problem}", severity="warning")
        store.problems.clear()
        self.tell(f"Opened {visible(conversation.title) or 'the conversation'!r}.",
                  kind="conversation")
