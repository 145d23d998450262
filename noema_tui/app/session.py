"""The conversation being had: turns in memory, each queued for the store the moment it exists.

Saving never blocks the chat: writes go through a `Saver` on its own thread and connection.
If the store fails (locked, disk full, read-only), the turns stay in memory (so export still
has them), the saver retries, and `on_save_failed` / `on_saved` tell the user.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from noema_core.decoding.events import GenerationResult
from noema_tui.app.conversation import (
    Conversation,
    Turn,
    as_plain_dict,
    reply_groups,
    title_from,
)
from noema_tui.app.saver import WRITER_BUSY_TIMEOUT, Saver
from noema_tui.app.store import ConversationStore, StoreError


class ChatSession:
    def __init__(self, conversation: Conversation, store: ConversationStore | None,
                 on_save_failed: Callable[[StoreError], None] = lambda error: None,
                 on_saved: Callable[[int], None] = lambda count: None) -> None:
        self.conversation = conversation
        self.store = store  # the UI thread's connection: reads (the browser), rename, delete
        self.saver: Saver | None = None
        if store is not None:
            try:
                writer = store.reopen(busy_timeout=WRITER_BUSY_TIMEOUT)
            except StoreError as error:
                on_save_failed(error)
            else:
                self.saver = Saver(writer, on_save_failed, on_saved)

    @property
    def turns(self) -> list[Turn]:
        return self.conversation.turns

    def _persist(self, save: Callable[[ConversationStore], object]) -> None:
        if self.saver is not None:
            self.saver.submit(save)

    def add_prompt(self, text: str) -> Turn:
        turn = Turn(role="user", content=text)
        conversation = self.conversation
        conversation.title = conversation.title or title_from(text)
        conversation.turns.append(turn)
        self._persist(lambda store: store.add_turn(conversation, turn))
        return turn

    def add_reply(self, result: GenerationResult, mode_label: str,
                  trace: list[dict[str, Any]] | None = None, attempt: int | None = None,
                  how: str | None = None) -> Turn:
        return self._add_reply(Turn(role="assistant", content=result.text, mode=mode_label,
                                    stats=as_plain_dict(result.stats),
                                    finish_reason=result.finish_reason, trace=trace,
                                    attempt=attempt, how=how))

    def add_stopped_reply(self, text: str, mode_label: str, attempt: int | None = None,
                          how: str | None = None) -> Turn:
        """A reply cut short by quitting, kept as far as it was decoded."""
        return self._add_reply(Turn(role="assistant", content=text, mode=mode_label,
                                    finish_reason="cancelled", attempt=attempt, how=how))

    def add_failed_reply(self, mode_label: str, attempt: int | None = None,
                         how: str | None = None) -> Turn:
        """A reply that produced no text; it keeps its prompt out of later replies' context
        (unless another try of it has text)."""
        return self._add_reply(Turn(role="assistant", content="", mode=mode_label,
                                    finish_reason="failed", attempt=attempt, how=how))

    def _add_reply(self, turn: Turn) -> Turn:
        conversation = self.conversation
        conversation.turns.append(turn)
        self._persist(lambda store: store.add_turn(conversation, turn))
        return turn

    def set_verdict(self, turn: Turn, verdict: dict[str, Any]) -> None:
        turn.verdict = verdict
        self._persist(lambda store: store.update_turn(turn))

    def mark_first_try(self, turn: Turn, how: str) -> None:
        """The reply is being decoded again: it becomes try 1."""
        turn.attempt, turn.how = 1, how
        self._persist(lambda store: store.update_turn(turn))

    def last_tries(self) -> list[Turn]:
        """The last reply's tries, in order (one for a reply never retried; none after a
        prompt)."""
        groups = reply_groups(self.turns)
        return groups[-1] if groups and groups[-1][0].role == "assistant" else []

    def drop_last_reply(self) -> list[Turn]:
        """Remove the last reply, every try of it (to regenerate it); none after a prompt."""
        dropped = self.last_tries()
        if dropped:
            del self.turns[-len(dropped):]  # the tries end the conversation
        for turn in dropped:
            self._persist(lambda store, turn=turn: store.delete_turn(turn))
        return dropped

    def last_prompt(self) -> str | None:
        prompts = self.conversation.prompts()
        return prompts[-1] if prompts else None

    def close(self, timeout: float = 2.0) -> int:
        """Save what is queued (waiting up to `timeout`); returns the writes left unsaved."""
        if self.saver is None:
            return 0
        self.saver.close(timeout)
        return self.saver.pending
