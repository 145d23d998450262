"""Where a streaming reply can be handed to Markdown: after paragraphs that can no longer change.

Finished blocks arrive as raw text that may stop inside a formula or a code fence. Math
conversion needs whole formulas, so only text up to the last blank line that lies outside any
code fence or display-math environment is "settled"; the rest waits for more blocks.
"""

from __future__ import annotations

import re

PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
FENCE = re.compile(r"^\s*(```|~~~)", re.MULTILINE)


def is_closed(text: str) -> bool:
    """True when `text` ends outside code fences and display math."""
    if len(FENCE.findall(text)) % 2:
        return False
    outside_code = FENCE.split(text)[::4]  # [out, fence, in, fence, out, ...]: `$` in code
    prose = "".join(outside_code)
    return prose.count("$$") % 2 == 0 and prose.count(r"\[") <= prose.count(r"\]")


def split_settled(raw: str) -> tuple[str, str]:
    """(settled, tail): `settled` ends at the last paragraph break that closes every block."""
    for match in reversed(list(PARAGRAPH_BREAK.finditer(raw))):
        head = raw[: match.end()]
        if is_closed(head):
            return head, raw[match.end():]
    return "", raw
