"""The live block view of `noema ask`: a Rich renderable redrawn after every forward.

It shows the reply decoded so far (finished blocks, as plain text) and, below it, the block
being decoded: its slots in place, each styled by what the last forward did to it (still
masked, unmasked now, stable, rewritten by an edit), under a header with the block's forward
counter. When a block finishes, its text joins the reply above.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.text import Text

from noema_core.decoding.events import BlockFinished, BlockUpdated, DecodingEvent, TokenState
from noema_tui.formatting import SEPARATOR, block_line
from noema_tui.terminal_text import visible

MASK_PLACEHOLDER = "·"
NEWLINE_MARK = "⏎"
# Styles use the terminal's own palette (named colours), so they follow its theme.
SLOT_STYLES: dict[TokenState, str] = {
    TokenState.MASKED: "dim",
    TokenState.UNMASKED: "bold green",
    TokenState.STABLE: "",
    TokenState.EDITED: "bold black on yellow",
}
LEGEND = (("masked", TokenState.MASKED), ("new", TokenState.UNMASKED),
          ("stable", TokenState.STABLE), ("edited", TokenState.EDITED))


class LiveBlockView:
    """Feed it engine events with `apply`; it redraws (throttled by the caller) on `refresh`."""

    def __init__(self, console: Console, title: str = "") -> None:
        self.console = console
        self.title = title
        self.finished_text = ""
        self.block: BlockUpdated | None = None
        self._live: Live | None = None

    def __enter__(self) -> LiveBlockView:
        self._live = Live(self.render(), console=self.console, transient=True,
                          auto_refresh=False, vertical_overflow="crop")
        self._live.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._live is not None:
            self._live.__exit__(*exc_info)
            self._live = None

    def apply(self, event: DecodingEvent) -> None:
        """Update the state from one event (cheap; no drawing)."""
        if isinstance(event, BlockUpdated):
            self.block = event
        elif isinstance(event, BlockFinished):
            self.finished_text += event.text
            self.block = None

    def refresh(self) -> None:
        if self._live is not None:
            self._live.update(self.render(), refresh=True)

    def render(self) -> RenderableType:
        parts: list[RenderableType] = []
        tail = self.reply_tail(max(3, self.console.height - 5))  # keep the block on screen
        if tail:
            parts.append(Text(visible(tail)))
        parts.append(self.header())
        if self.block is not None:
            parts.append(self.slots(self.block))
        return Group(*parts)

    def reply_tail(self, rows: int) -> str:
        """The end of the finished text that fits in `rows` terminal rows once wrapped."""
        width = max(1, self.console.width)
        kept: list[str] = []
        for line in reversed(self.finished_text.splitlines()):
            needed = max(1, -(-cell_len(line) // width))
            if needed > rows:
                if rows:
                    kept.append(line[-rows * width:])
                break
            kept.append(line)
            rows -= needed
        return "\n".join(reversed(kept))

    def header(self) -> Text:
        header = Text(self.title + SEPARATOR if self.title else "", style="dim")
        if self.block is None:
            header.append("waiting for the first forward", style="dim")
            return header
        block = self.block
        header.append(block_line(block.block_index, block.forward, block.masked,
                                 len(block.states)), style="dim")
        header.append(SEPARATOR, style="dim")
        for i, (name, state) in enumerate(LEGEND):
            header.append(name, style=SLOT_STYLES[state] or "default")
            header.append(" " if i < len(LEGEND) - 1 else "")
        return header

    @staticmethod
    def slots(block: BlockUpdated) -> Text:
        """The active block's slots in place; prompt slots sharing the block are left out."""
        text = Text()
        pieces = block.pieces or ("",) * len(block.states)
        for state, piece in zip(block.states, pieces, strict=True):
            if state is TokenState.PROMPT:
                continue
            shown = MASK_PLACEHOLDER if state is TokenState.MASKED else (
                visible(piece.replace("\n", NEWLINE_MARK)) or "□")
            text.append(shown, style=SLOT_STYLES[state])
        return text
