"""The chat screen's reply in flight: start it, draw the engine's frames, finish and check it.

A mixin of `ChatScreen`: the flow of one reply (live blocks -> finished reply -> verdict).
Every message carries the id of the reply it belongs to, and frames of a reply that is no
longer the current one (regenerated, or the chat switched) are dropped. Handlers use Textual's
naming convention (`on_engine_bridge_...`): `@on` is collected only from classes of Textual's
own hierarchy, which a plain mixin is not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from noema_core.decoding.events import TokenState
from noema_core.decoding.settings import DecodingSettings
from noema_tui.app.bridge import EngineBridge
from noema_tui.app.widgets.reply_view import ReplyView

if TYPE_CHECKING:
    from noema_tui.app.screens.chat_screen import ChatScreen

DECODED = (TokenState.UNMASKED, TokenState.STABLE, TokenState.EDITED)


class ReplyStreamer:
    """One reply at a time, from the prompt to its verdict."""

    reply: ReplyView | None = None  # the reply being generated
    _reply_ids = 0
    _asked = ""  # the prompt of the reply in flight
    _try: tuple[int, str] | None = None  # the reply in flight's try, if a retry
    _started = 0.0
    _done_tokens = _done_forwards = 0  # of the finished blocks of this reply

    @property
    def generating(self) -> bool:
        return self.reply is not None

    async def start_reply(self: ChatScreen, *, settings: DecodingSettings | None = None,
                          attempt: int | None = None, how: str | None = None,
                          messages: Sequence[dict[str, str]] | None = None) -> None:
        """Decode a reply to the conversation as it stands (it ends with a prompt), or, for a
        retry, try `attempt` of the last reply with `settings` from `messages`."""
        self._reply_ids += 1
        self._asked = self.session.last_prompt() or ""
        self._started = self.clock()
        self._done_tokens = self._done_forwards = 0
        self._settings_used = settings = settings or self.settings
        self._try = (attempt, how or "") if attempt else None
        for view in self.transcript.query(ReplyView):
            view.show_offer("")  # an offer applies only until something else is decoded
        self.reply = ReplyView(settings.mode.label, reply_id=self._reply_ids, attempt=attempt,
                               how=how)
        await self.transcript.mount(self.reply)
        self.transcript.anchor()
        self.status.running_mode = settings.mode.label if attempt else self.status.mode
        self.status.show_progress(0, 0, 0.0)
        self.refresh_bindings()
        if messages is None:
            messages = self.session.conversation.engine_messages()
        self.bridge.stream_reply(self._reply_ids, messages, settings)

    def _is_current(self, reply_id: int) -> bool:
        return self.reply is not None and reply_id == self.reply.reply_id

    def on_engine_bridge_block_updated(self: ChatScreen,
                                       event: EngineBridge.BlockUpdated) -> None:
        if not self._is_current(event.reply_id):
            return
        update = event.update
        self.reply.show_snapshot(update)
        decoded = sum(state in DECODED for state in update.states)
        self.status.show_progress(self._done_tokens + decoded,
                                  self._done_forwards + update.forward,
                                  self.clock() - self._started)

    async def on_engine_bridge_block_finished(self: ChatScreen,
                                              event: EngineBridge.BlockFinished) -> None:
        if not self._is_current(event.reply_id):
            return
        self._done_tokens += len(event.block.token_ids)
        self._done_forwards += event.block.forwards
        await self.reply.add_block(event.block.text)

    async def on_engine_bridge_reply_finished(self: ChatScreen,
                                              event: EngineBridge.ReplyFinished) -> None:
        if not self._is_current(event.reply_id):
            return
        view, result = self.reply, event.result
        self._end_reply()
        await view.finish(result.text, result.stats, result.finish_reason)
        stats = result.stats
        self.status.show_progress(stats.new_tokens, stats.forwards, stats.seconds)
        attempt, how = self._try or (None, None)
        turn = self.session.add_reply(result, view.mode_label, event.trace, attempt, how)
        if attempt is None:
            self.retry_base = (turn, self._settings_used)
        # Why a reply is not checked belongs with the reply, not in a toast that expires.
        if result.cancelled:
            view.show_verdict(None, note="not checked: the reply was stopped")
            if attempt is None:  # a stopped retry leaves the earlier tries as the answer
                self.prompt.put_back(self._asked)
            self.offer_retry()
        elif not result.text.strip():
            view.show_verdict(None, note="not checked: the reply is empty")
        else:
            view.show_checking()
            self._checking[event.reply_id] = (view, turn)
            earlier = tuple(self.session.conversation.prompts()[:-1])  # for a follow-up
            self.bridge.check_reply(event.reply_id, result.text, self._asked, earlier)

    def on_engine_bridge_reply_failed(self: ChatScreen,
                                      event: EngineBridge.ReplyFailed) -> None:
        if not self._is_current(event.reply_id):
            return
        self.reply.fail(event.reason)  # under the reply: the cause stays with what failed
        attempt, how = self._try or (None, None)
        self.session.add_failed_reply(self.reply.mode_label, attempt, how)
        self._end_reply()
        if attempt is None:
            self.prompt.put_back(self._asked)
        self.offer_retry()

    def keep_partial_reply(self: ChatScreen) -> None:
        """Save the reply in flight as far as it was drawn (the app is closing before the
        engine could hand back its partial result)."""
        if self.reply is None:
            return
        text = self.reply.raw_text + self.reply.live_block.decoded_text()
        self.session.add_stopped_reply(text, self.reply.mode_label, *(self._try or ()))
        self._end_reply()

    def _end_reply(self: ChatScreen) -> None:
        self.reply = None
        self.status.running_mode = ""
        self.refresh_bindings()

    async def on_engine_bridge_verdict_reached(self: ChatScreen,
                                               event: EngineBridge.VerdictReached) -> None:
        view, turn = self._checking.pop(event.reply_id, (None, None))
        if view is None or not view.is_attached:
            return  # the reply was regenerated or the chat cleared meanwhile
        view.show_verdict(event.verdict)
        self.session.set_verdict(turn, event.verdict)
        await self.after_check(turn)
