"""A finished reply replayed forward by forward: step, play at a chosen speed, colour by confidence.

Opened on a reply that kept its decoding trace (every reply since traces are stored, live or
loaded from history). It draws each forward with the live block's own widget, so a slot looks
as it did while the reply was decoded; the counter says where in the trace it is.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Footer, Label, Static

from noema_core.decoding.events import BlockUpdated
from noema_core.decoding.trace import replaced_pieces
from noema_tui.app.widgets.replay_block import ReplayBlock
from noema_tui.formatting import SEPARATOR

SPEEDS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)  # forwards per second
DEFAULT_SPEED = 2  # index into SPEEDS: 4 forwards a second


class ReplayScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    ReplayScreen { align: center middle; }
    ReplayScreen > Vertical {
        width: 84; max-width: 100%; height: auto; padding: 1 2;
        border: round $primary; background: $surface;
    }
    ReplayScreen .replay--title { color: $text-accent; text-style: bold; }
    ReplayScreen .replay--counter { color: $text-muted; margin-bottom: 1; }
    ReplayScreen .replay--legend { margin-top: 1; display: none; }
    ReplayScreen .replay--legend.-shown { display: block; }
    """

    BINDINGS = [
        Binding("right", "step(1)", "Next", id="replay.next_forward"),
        Binding("left", "step(-1)", "Back", id="replay.previous_forward"),
        Binding("home", "jump(0)", "First", id="replay.first_forward", show=False),
        Binding("end", "jump(-1)", "Last", id="replay.last_forward", show=False),
        Binding("space", "toggle_play", "Play/pause", id="replay.toggle_play"),
        Binding("plus,equals_sign", "change_speed(1)", "Faster", id="replay.faster"),
        Binding("minus", "change_speed(-1)", "Slower", id="replay.slower"),
        Binding("c", "toggle_confidence", "Confidence", id="replay.toggle_confidence",
                tooltip="Colour each slot by its state, or by the model's confidence"),
        Binding("escape,q", "dismiss", "Close", id="replay.close"),
    ]

    def __init__(self, frames: list[BlockUpdated], title: str) -> None:
        super().__init__()
        self.frames = frames
        self.title_text = title
        self.position = len(frames) - 1  # opens on the last forward: the reply as it ended
        self.speed = DEFAULT_SPEED
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        # Kept by reference, not queried: the first frame is set before they are mounted.
        self.block = ReplayBlock()
        self.counter = Static("", markup=False, classes="replay--counter")
        self.legend = Static("", classes="replay--legend")
        self._show()
        with Vertical():
            yield Label(self.title_text, markup=False, classes="replay--title")
            yield self.counter
            yield self.block
            yield self.legend
        yield Footer()

    @property
    def playing(self) -> bool:
        return self._timer is not None

    def counter_text(self) -> str:
        frame = self.frames[self.position]
        blocks = len({f.block_index for f in self.frames})
        parts = [f"forward {self.position + 1}/{len(self.frames)}",
                 f"block {frame.block_index + 1}/{blocks}",
                 f"{SPEEDS[self.speed]:g} forwards/s", "playing" if self.playing else "paused"]
        return SEPARATOR.join(parts)

    def _show(self) -> None:
        frame = self.frames[self.position]
        previous = self.frames[self.position - 1] if self.position else None
        self.block.show(frame, replaced_pieces(previous, frame))
        self.counter.update(self.counter_text())

    def action_step(self, delta: int) -> None:
        self._pause()
        self._move(delta)

    def action_jump(self, position: int) -> None:
        self._pause()
        self.position = position % len(self.frames)
        self._show()

    def _move(self, delta: int) -> None:
        self.position = min(max(self.position + delta, 0), len(self.frames) - 1)
        self._show()

    def action_toggle_play(self) -> None:
        if self.playing:
            self._pause()
        else:
            if self.position == len(self.frames) - 1:
                self.position = -1  # from the end, play starts again at the first forward
                self._move(1)
            self._play()
        self._show()

    def _play(self) -> None:
        self._timer = self.set_interval(1.0 / SPEEDS[self.speed], self._tick)

    def _pause(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def _tick(self) -> None:
        if self.position >= len(self.frames) - 1:
            self._pause()  # the reply as it ended stays on screen
        else:
            self.position += 1
        self._show()

    def action_change_speed(self, delta: int) -> None:
        self.speed = min(max(self.speed + delta, 0), len(SPEEDS) - 1)
        if self.playing:
            self._pause()
            self._play()
        self._show()

    def action_toggle_confidence(self) -> None:
        block = self.block
        block.by_confidence = not block.by_confidence
        self.legend.set_class(block.by_confidence, "-shown")
        self.legend.update(block.legend())
