"""One forward of a finished reply, drawn as the live block drew it, for the replay view.

It is the live block (same slot glyphs and state colours) with two additions: a slot can be
coloured by the model's confidence in its token instead (a five-step heat map), and an edited
slot is followed by the token the edit replaced, struck through.
"""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive

from noema_core.decoding.events import BlockUpdated, TokenState
from noema_tui.app.widgets.live_block import LiveBlock
from noema_tui.terminal_text import visible

# Lower bounds of the heat map's steps: below 0.5 is a guess, 0.95 and up is near certain.
HEAT_STEPS = (0.0, 0.5, 0.7, 0.85, 0.95)
HEAT_CLASSES = tuple(f"replay-block--heat-{step}" for step in range(len(HEAT_STEPS)))


def heat_step(confidence: float) -> int:
    """The heat-map step of a confidence (0: lowest)."""
    return max(step for step, low in enumerate(HEAT_STEPS) if confidence >= low or step == 0)


class ReplayBlock(LiveBlock):
    """A replayed forward, by state (as live) or by confidence; edits show the old token."""

    COMPONENT_CLASSES = {*LiveBlock.COMPONENT_CLASSES, *HEAT_CLASSES,
                         "replay-block--replaced"}

    DEFAULT_CSS = """
    ReplayBlock > .replay-block--heat-0 { color: $error; text-style: bold; }
    ReplayBlock > .replay-block--heat-1 { color: $warning; }
    ReplayBlock > .replay-block--heat-2 { color: $text-warning; }
    ReplayBlock > .replay-block--heat-3 { color: $text-success; }
    ReplayBlock > .replay-block--heat-4 { color: $success; text-style: bold; }
    ReplayBlock > .replay-block--replaced { color: $text-muted; text-style: strike; }
    """

    by_confidence: reactive[bool] = reactive(False)

    def __init__(self) -> None:
        super().__init__()
        self.replaced: dict[int, str] = {}  # slot -> the text its edit replaced (this frame)

    def show(self, frame: BlockUpdated, replaced: dict[int, str]) -> None:
        self.replaced = replaced
        self.snapshot = frame
        self.refresh()  # the same frame again with other edits still needs a repaint

    def watch_by_confidence(self) -> None:
        self.refresh()

    def append_slot(self, text: Text, update: BlockUpdated, slot: int, piece: str,
                    state: TokenState) -> None:
        if self.by_confidence and state is not TokenState.MASKED:
            step = heat_step(update.confidences[slot] if slot < len(update.confidences) else 0.0)
            text.append(visible(piece) if piece else "?", style=self._style(HEAT_CLASSES[step]))
        else:
            super().append_slot(text, update, slot, piece, state)
        if slot in self.replaced:
            text.append(f"⟨{visible(self.replaced[slot]).strip() or '␣'}⟩",
                        style=self._style("replay-block--replaced"))

    def legend(self) -> Text:
        """The heat map's key: each step's colour and the confidences it stands for."""
        text = Text("confidence ")
        bounds = [*HEAT_STEPS[1:], 1.0]
        for step, (low, high) in enumerate(zip(HEAT_STEPS, bounds, strict=True)):
            text.append(f" {low:.2f}–{high:.2f} ", style=self._style(HEAT_CLASSES[step]))
        return text
