"""A line above the prompt while the model reads less of the chat than is on screen, or more
than it was trained on.

A small model trained on short conversations answers a question late in a long one worse
than the same question in a fresh chat. That stays true for every later question, so the
notice stays on screen (not in the transcript, where it scrolled away, nor a toast, which
expires) until the chat is short enough again: Ctrl+N, or opening a shorter conversation.
"""

from __future__ import annotations

from textual.widgets import Static

from noema_core.engine import ModelInfo


def turn_notice(info: ModelInfo | None, questions: int, new_chat_key: str = "Ctrl+N"
                ) -> str | None:
    """The notice for a conversation of `questions` questions: when the model reads fewer
    earlier exchanges than the chat has (`history_exchanges`), that it does, so nobody expects
    a follow-up about an earlier answer to work; else, when what it reads is past its
    `max_turns_trained` (and the model declares that figure), that answers may go wrong."""
    if info is None:
        return None
    window = info.history_exchanges
    # One line at 120 columns, two at 80: it stays on screen, so it must stay small.
    if window is not None and questions - 1 > window:  # the new question does not see all
        if window == 0:
            return (f"{info.name} answers each question on its own, without the earlier "
                    f"turns (/set history all sends them).")
        return (f"{info.name} reads only the last {window} exchange{'s' if window != 1 else ''}"
                f" with each question (/set history all: the whole chat).")
    trained = info.max_turns_trained
    if not trained or questions <= trained:
        return None
    return (f"{info.name} was trained on chats of up to {trained} question"
            f"{'s' if trained != 1 else ''}; from here answers may go wrong: "
            f"{new_chat_key} starts a new chat.")


class TurnNotice(Static):
    """Hidden while the model reads the whole chat, within its trained turns (`show(None)`)."""

    DEFAULT_CSS = """
    TurnNotice { height: auto; max-height: 3; padding: 0 1; color: $text-warning;
                 border-left: thick $warning 60%; display: none; }
    TurnNotice.-shown { display: block; }
    """

    def __init__(self, **kwargs: str) -> None:
        super().__init__("", markup=False, **kwargs)
        self.text = ""

    def show(self, text: str | None) -> None:
        self.text = text or ""
        self.update(self.text)
        self.set_class(bool(text), "-shown")
