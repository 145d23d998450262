"""A line in the transcript when a conversation grows past the turns the model was trained on.

A small model trained on short conversations answers a question late in a long one worse
than the same question in a fresh chat; the notice says so once and points at Ctrl+N.
"""

from __future__ import annotations

from textual.widgets import Static

from noema_core.engine import ModelInfo


def turn_notice(info: ModelInfo | None, questions: int) -> str | None:
    """The notice for the conversation's `questions`-th question, when it is the first one
    past `max_turns_trained` (and the model declares that figure)."""
    if info is None or not info.max_turns_trained or questions != info.max_turns_trained + 1:
        return None
    trained = info.max_turns_trained
    return (f"{info.name} was trained on conversations of up to {trained} question"
            f"{'s' if trained != 1 else ''}; from here its answers may go wrong. "
            f"Ctrl+N starts a new chat, where it answers best.")


class TurnNotice(Static):
    DEFAULT_CSS = """
    TurnNotice { height: auto; margin: 0 0 1 0; padding: 0 1; color: $text-warning;
                 border-left: thick $warning 60%; }
    """

    def __init__(self, text: str) -> None:
        super().__init__(text, markup=False)
