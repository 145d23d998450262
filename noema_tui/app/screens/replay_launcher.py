"""The chat screen's replay: open a finished reply's decoding trace in the replay view.

A mixin of `ChatScreen` (F5 replays the last reply; the palette offers "Replay reply N" for
any reply, loaded from history too), kept in its own file so the screen stays readable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from noema_core.decoding.events import BlockUpdated
from noema_core.remote.wire import WireError, event_from_wire
from noema_tui.app.conversation import Turn, message_name
from noema_tui.app.screens.replay_screen import ReplayScreen

if TYPE_CHECKING:
    from noema_tui.app.screens.chat_screen import ChatScreen


def trace_frames(turn: Turn) -> list[BlockUpdated]:
    """A reply's stored frames as events (none for a prompt, a failed or an older reply)."""
    frames = []
    for item in turn.trace or ():
        try:
            event = event_from_wire(item)
        except WireError:
            continue  # one unreadable frame costs only that forward of the replay
        if isinstance(event, BlockUpdated):
            frames.append(event)
    return frames


class ReplayLauncher:
    """F5 / palette: replay a reply forward by forward."""

    def action_replay_reply(self: ChatScreen, number: int | None = None) -> None:
        """Replay reply `number` (the answer to question `number`, its last try, as the
        transcript numbers them), else the last reply."""
        turns = self.session.turns
        replies = [t for i, t in enumerate(turns) if t.role == "assistant" and (
            number is None or message_name(turns, i).split(",")[0] == f"reply {number}")]
        if not replies:
            self.tell("No reply to replay yet." if number is None
                      else f"There is no reply {number} to replay.", kind="replay")
            return
        self.replay_turn(replies[-1])

    def replay_turn(self: ChatScreen, turn: Turn) -> None:
        turns = self.session.turns
        index = next(i for i, t in enumerate(turns) if t is turn)
        name = message_name(turns, index)
        frames = trace_frames(turn)
        if not frames:
            self.tell(f"{name.capitalize()} has no decoding trace to replay (a failed reply, "
                      f"or one saved before Noema kept traces).", kind="replay", title="Replay")
            return
        question = next((t.content for t in reversed(turns[:index]) if t.role == "user"), "")
        title = f"Replay of {name}: " + " ".join(question.split())[:60]
        self.app.push_screen(ReplayScreen(frames, title))
