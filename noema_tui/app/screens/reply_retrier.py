"""The chat screen's second decodings: regenerate the last reply, or retry a contradicted one.

A mixin of `ChatScreen`. When the checker contradicts the last reply's answer, Ctrl+T (palette
"Retry reply N") decodes it again by `noema_core.retry.retry_plan`: one token per forward
(AR) first, then stricter thresholds, then other seeds at a small temperature. With
"auto-retry up to N" (F3, `[chat] auto_retry` in config.toml; by default 1) the screen does it
by itself, up to N times, stopping at the first verified answer. "Could not check" says
nothing about the answer, so it never triggers a retry. Every try stays in the transcript as
its own reply ("AR · try 2 · one token per forward") with its own verdict; the conversation
goes on from the try `retry.choose` picks.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from noema_core.decoding.settings import DecodingSettings
from noema_core.retry import retry_plan, should_retry
from noema_tui.app.conversation import Turn
from noema_tui.app.widgets.reply_view import ReplyView
from noema_tui.app.widgets.user_message import UserMessage

if TYPE_CHECKING:
    from noema_tui.app.screens.chat_screen import ChatScreen

FIRST_TRY = "as asked"  # what try 1 changed: nothing (retry_plan's first entry)


class ReplyRetrier:
    """Ctrl+R regenerates the last reply; Ctrl+T / auto-retry decode a contradicted one again."""

    # The first try of the reply being retried and the settings it was decoded with: later
    # tries derive theirs from these, not from settings changed since (F2, F3).
    retry_base: tuple[Turn, DecodingSettings] | None = None

    def retry_applies(self: ChatScreen) -> bool:
        """Whether the last reply can be retried now: its latest try was contradicted (or its
        answer unreadable), or a retry of it was stopped or failed before it could be checked."""
        if self.generating or self.info is None:
            return False
        tries = self.session.last_tries()
        if not tries:
            return False
        last = tries[-1]
        if should_retry(last.verdict or {}):
            return True
        return (last.is_later_try and last.finish_reason in ("cancelled", "failed")
                and not any(t.status == "verified" for t in tries))

    def next_try(self: ChatScreen) -> tuple[int, str, DecodingSettings]:
        """The next try of the last reply: its number, what it changes, its settings."""
        tries = self.session.last_tries()
        base = self.settings
        if self.retry_base is not None and self.retry_base[0] is tries[0]:
            base = self.retry_base[1]
        done = len(tries)
        how, settings = retry_plan(base, done)[done]
        return done + 1, how, settings

    async def action_retry_reply(self: ChatScreen) -> None:
        if not self.retry_applies():
            self.tell("Nothing to retry: Ctrl+T decodes again a reply the checker contradicted "
                      "or could not read.", kind="retry")
            return
        tries = self.session.last_tries()
        views = self.last_reply_views()
        if tries[0].attempt is None:  # retried for the first time: it becomes try 1
            self.session.mark_first_try(tries[0], FIRST_TRY)
            if views:
                views[0].set_try(1, FIRST_TRY)
        attempt, how, settings = self.next_try()
        conversation = self.session.conversation
        before = replace(conversation, turns=conversation.turns[:-len(tries)])
        await self.start_reply(settings=settings, attempt=attempt, how=how,
                               messages=before.engine_messages())

    async def after_check(self: ChatScreen, turn: Turn) -> None:
        """A try of the last reply has its verdict: retry it by itself while auto-retry
        allows, else offer the key."""
        tries = self.session.last_tries()
        if not tries or tries[-1] is not turn or self.generating:
            return  # a verdict for an earlier reply, or the chat has moved on
        if should_retry(turn.verdict or {}) and len(tries) - 1 < self.auto_retry:
            await self.action_retry_reply()
            return
        self.offer_retry()

    def offer_retry(self: ChatScreen) -> None:
        """Under the last reply, the key that decodes it again, where it applies."""
        self.refresh_bindings()
        views = self.last_reply_views()
        if not views or not self.retry_applies():
            return
        _, how, _ = self.next_try()
        views[-1].show_offer(f"{self.key_for('retry_reply')}: decode it again ({how})")

    def key_for(self: ChatScreen, action: str) -> str:
        """The key that runs `action` here (after the user's keymap), as the footer shows it."""
        for bindings in self._bindings.key_to_bindings.values():
            for binding in bindings:
                if binding.action == action:
                    return self.app.get_key_display(binding)
        return "Ctrl+P"

    def last_reply_views(self: ChatScreen) -> list[ReplyView]:
        """The transcript's views of the last reply's tries (after the last prompt)."""
        views: list[ReplyView] = []
        for widget in self.transcript.children:
            if isinstance(widget, UserMessage):
                views = []
            elif isinstance(widget, ReplyView):
                views.append(widget)
        return views

    async def action_regenerate_reply(self: ChatScreen) -> None:
        if self.generating or self.info is None:
            return
        self.session.drop_last_reply()  # every try of it
        for view in self.last_reply_views():
            await view.remove()
        if not self.session.turns:
            self.tell("Nothing to regenerate yet: send a prompt first.", kind="retry")
            return
        if self.prompt.text.strip() == (self.session.last_prompt() or "").strip():
            self.prompt.remember(self.prompt.text.strip())  # put back by Esc: now sent again
        await self.start_reply()
