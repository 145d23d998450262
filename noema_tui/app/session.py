"""The conversation being had: turns in memory, each saved to the store the moment it exists.

Saving never blocks the chat: if the store fails (disk full, read-only), the turn stays in
memory and `on_save_failed` tells the user once per failure, with the fix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from noema_core.decoding.events import GenerationResult
from noema_tui.app.conversation import Conversation, Turn, as_plain_dict
from noema_tui.app.store import ConversationStore, StoreError


class ChatSession:
    def __init__(self, conversation: Conversation, store: ConversationStore | None,
                 on_save_failed: Callable[[str], None] = lambda reason: None) -> None:
        self.conversation = conversation
        self.store = store
        self.on_save_failed = on_save_failed

    @property
    def turns(self) -> list[Turn]:
        return self.conversation.turns

    def _persist(self, save: Callable[[ConversationStore], None]) -> None:
        if self.store is None:
            return
        try:
            save(self.store)
        except StoreError as error:
            self.on_save_failed(str(error))

    def add_prompt(self, text: str) -> Turn:
        turn = Turn(role="user", content=text)
        self.turns.append(turn)
        self._persist(lambda store: store.add_turn(self.conversation, turn))
        return turn

    def add_reply(self, result: GenerationResult, mode_label: str) -> Turn:
        turn = Turn(role="assistant", content=result.text, mode=mode_label,
                    stats=as_plain_dict(result.stats), finish_reason=result.finish_reason)
        self.turns.append(turn)
        self._persist(lambda store: store.add_turn(self.conversation, turn))
        return turn

    def add_failed_reply(self, mode_label: str) -> Turn:
        """A reply that produced no text; it keeps its prompt out of later replies' context."""
        turn = Turn(role="assistant", content="", mode=mode_label, finish_reason="failed")
        self.turns.append(turn)
        self._persist(lambda store: store.add_turn(self.conversation, turn))
        return turn

    def set_verdict(self, turn: Turn, verdict: dict[str, Any]) -> None:
        turn.verdict = verdict
        self._persist(lambda store: store.update_turn(turn))

    def drop_last_reply(self) -> Turn | None:
        """Remove the last reply (to regenerate it); None when the last turn is a prompt."""
        if not self.turns or self.turns[-1].role != "assistant":
            return None
        turn = self.turns.pop()
        self._persist(lambda store: store.delete_turn(turn))
        return turn

    def last_prompt(self) -> str | None:
        prompts = self.conversation.prompts()
        return prompts[-1] if prompts else None
