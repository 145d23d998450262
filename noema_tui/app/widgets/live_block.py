"""The block being decoded, drawn slot by slot as each forward resolves masks in place.

Markdown can only append, so the active block lives here until it is final. Each slot is
styled by its token state through component classes, which themes fill from theme variables.
"""

from __future__ import annotations

import re

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from noema_core.decoding.events import BlockUpdated, TokenState
from noema_tui.formatting import SEPARATOR, block_line
from noema_tui.terminal_text import visible

MASK_GLYPH = "░"
SPECIAL_GLYPH = "∎"  # end-of-text and role tokens have no text of their own
SPECIAL_TOKEN = re.compile(r"^<\|?[\w/]+\|?>$")

STATE_CLASSES = {
    TokenState.MASKED: "live-block--masked",
    TokenState.UNMASKED: "live-block--unmasked",
    TokenState.STABLE: "live-block--stable",
    TokenState.EDITED: "live-block--edited",
}


def slot_text(piece: str, state: TokenState) -> str:
    if state is TokenState.MASKED:
        return MASK_GLYPH
    if SPECIAL_TOKEN.match(piece):
        return SPECIAL_GLYPH
    return visible(piece)


class LiveBlock(Widget):
    """One 32-slot block: masked, just unmasked, stable and edited slots, and its forward count."""

    COMPONENT_CLASSES = {"live-block--header", *STATE_CLASSES.values()}

    DEFAULT_CSS = """
    LiveBlock { height: auto; }
    LiveBlock > .live-block--header { color: $text-muted; }
    LiveBlock > .live-block--masked { color: $foreground 30%; }
    LiveBlock > .live-block--unmasked { color: $text-primary; text-style: bold; }
    LiveBlock > .live-block--stable { color: $foreground; }
    LiveBlock > .live-block--edited { color: $warning; text-style: bold underline; }
    """

    # Repaint only: a layout pass per forward costs more than the forward itself on small
    # models, so the watcher asks for layout only when the block's height changes.
    snapshot: reactive[BlockUpdated | None] = reactive(None)

    def __init__(self) -> None:
        super().__init__()
        self._height = 0

    def watch_snapshot(self) -> None:
        width = self.size.width
        height = self.get_content_height(self.size, self.app.size, width) if width else 0
        if height != self._height:
            self._height = height
            self.refresh(layout=True)

    def render(self) -> Text:
        update = self.snapshot
        if update is None:
            return Text("waiting for the first forward…", style=self._style("live-block--header"))
        slots = sum(state is not TokenState.PROMPT for state in update.states)
        header = block_line(update.block_index, update.forward, update.masked, slots)
        if update.edits:
            header += f"{SEPARATOR}{update.edits} edited"
        text = Text()
        text.append(header + "\n", style=self._style("live-block--header"))
        pieces = update.pieces or ("?",) * len(update.states)
        for slot, (piece, state) in enumerate(zip(pieces, update.states, strict=True)):
            if state is not TokenState.PROMPT:
                self.append_slot(text, update, slot, piece, state)
        return text

    def append_slot(self, text: Text, update: BlockUpdated, slot: int, piece: str,
                    state: TokenState) -> None:
        """Draw one slot, styled by its state (the replay view also colours by confidence)."""
        text.append(slot_text(piece, state), style=self._style(STATE_CLASSES[state]))

    def decoded_text(self) -> str:
        """The text of the slots decoded so far (masked ones left out), as the engine has it."""
        update = self.snapshot
        if update is None or not update.pieces:
            return ""
        return "".join(piece for piece, state in zip(update.pieces, update.states, strict=True)
                       if state not in (TokenState.MASKED, TokenState.PROMPT))

    def _style(self, component: str):
        # Not partial: translucent colours such as `$foreground 30%` need blending.
        return self.get_component_rich_style(component)
