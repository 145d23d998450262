"""Math in a reply, given the delimiters Markdown readers know, for export.

Obsidian, GitHub and Pandoc render `$...$` and `$$...$$`; small models also write `\\(...\\)`,
`\\[...\\]`, a bare `\\begin{env}...\\end{env}` or bare LaTeX (`\\frac{1}{2}`, `x^2`). Export
rewrites those to dollars and leaves the LaTeX itself exactly as written; math that already
has dollars, code spans and fenced code blocks are not touched. The math is found by the
same walk that renders it for the terminal (`markdown.rewrite_math`).
"""

from __future__ import annotations

import re

from noema_tui.mathtext.markdown import MathRules, bare_extent, rewrite_math

_BASE = re.compile(r"[A-Za-z0-9.]+$")
_CLOSING = {")": "(", "]": "[", "}": "{"}


def delimit_math(text: str) -> str:
    """`text` with every math fragment in `$...$` (inline) or `$$...$$` (display)."""
    try:
        return rewrite_math(text, DELIMIT)
    except Exception:  # noqa: BLE001 - export must never lose the reply
        return text


def _display(match: re.Match[str], before: str) -> str:
    if match.group("dollars") is not None:
        return match.group(0)
    return f"$${(match.group('brackets') or match.group('env')).strip()}$$"


def _boxed(match: re.Match[str], before: str) -> str:
    return f"$${match.group('latex')}$$"


def _inline(match: re.Match[str]) -> str:
    paren = match.group("paren")
    return f"${paren.strip()}$" if paren is not None else match.group(0)


def _bare(text: str, match: re.Match[str], floor: int) -> tuple[str, int, int] | None:
    """LaTeX written without delimiters, wrapped in dollars: a known macro with its
    arguments, or a script with its base (x^2, (x+1)^2, a_n)."""
    converted, end = bare_extent(text, match)
    if converted is None:
        return None
    start = match.start()
    if not match.group(0).startswith("\\"):
        start = _base_start(text, start, floor)
    return f"${text[start:end]}$", start, end


def _base_start(text: str, script_at: int, floor: int) -> int:
    """Where the base of a script at `script_at` begins: x in x^2, (x+1) in (x+1)^2."""
    before = text[floor:script_at]
    if before and before[-1] in _CLOSING:
        depth, opening = 0, _CLOSING[before[-1]]
        for index in range(len(before) - 1, -1, -1):
            depth += (before[index] == before[-1]) - (before[index] == opening)
            if depth == 0:
                return floor + index
        return script_at
    base = _BASE.search(before)
    return floor + base.start() if base else script_at


DELIMIT = MathRules(_display, _boxed, _inline, _bare)
