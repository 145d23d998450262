"""Text from a model, a checkpoint or the store, made safe to draw on a terminal.

A tokenizer's pieces, a stored title or a checker's message may hold escape sequences
(`ESC ] 0 ; title BEL` sets the window title, `ESC [ 31 m` colours, `CR` overwrites a line).
Every such string passes through `visible` before it is drawn: C0 controls become their
Unicode "control picture" (ESC shows as U+241B), DEL as U+2421, C1 controls as U+FFFD. Line
feeds and tabs are kept: they are how text is laid out, not commands to the terminal.
"""

from __future__ import annotations

KEPT = {"\n", "\t"}
_PICTURES = {code: chr(0x2400 + code) for code in range(0x20) if chr(code) not in KEPT}
_PICTURES[0x7F] = "\u2421"
_PICTURES.update({code: "\ufffd" for code in range(0x80, 0xA0)})


def visible(text: str, *, one_line: bool = False) -> str:
    """`text` with every control character shown as a visible symbol instead of obeyed;
    `one_line` also shows line feeds and tabs (for titles and table cells)."""
    safe = text.translate(_PICTURES)
    if one_line:
        safe = safe.replace("\n", "\u2424").replace("\t", "\u2409")
    return safe


def has_controls(text: str) -> bool:
    return any(ord(ch) in _PICTURES for ch in text)
