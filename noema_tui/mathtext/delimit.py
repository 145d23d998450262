"""Math in a reply, given the delimiters Markdown readers know, for export.

Obsidian, GitHub and Pandoc render `$...$` and `$$...$$`; small models also write `\\(...\\)`,
`\\[...\\]`, a bare `\\begin{env}...\\end{env}` or bare LaTeX (`\\frac{1}{2}`, `x^2`). Export
rewrites those to dollars and leaves the LaTeX itself exactly as written; math that already
has dollars, code spans and fenced code blocks are not touched.
"""

from __future__ import annotations

import re

from noema_tui.mathtext import markdown
from noema_tui.mathtext.markdown import _BARE, _BOXED_LINE, _CODE_SPAN, _DISPLAY, _INLINE

_BASE = re.compile(r"[A-Za-z0-9.]+$")
_CLOSING = {")": "(", "]": "[", "}": "{"}


def delimit_math(text: str) -> str:
    """`text` with every math fragment in `$...$` (inline) or `$$...$$` (display)."""
    try:
        return "".join(markdown._map_outside_code_blocks(text, _delimit_prose))
    except Exception:  # noqa: BLE001 - export must never lose the reply
        return text


def _delimit_prose(text: str) -> str:
    out: list[str] = []
    position = 0
    for match in _DISPLAY.finditer(text):
        out.append(_delimit_lines(text[position:match.start()]))
        if match.group("dollars") is not None:
            out.append(match.group(0))
        else:
            latex = match.group("brackets") or match.group("env")
            out.append(f"$${latex.strip()}$$")
        position = match.end()
    out.append(_delimit_lines(text[position:]))
    return "".join(out)


def _delimit_lines(text: str) -> str:
    out: list[str] = []
    position = 0
    for match in _BOXED_LINE.finditer(text):
        out.append(_delimit_inline(text[position:match.start()]))
        out.append(f"$${match.group('latex')}$$")
        position = match.end()
    out.append(_delimit_inline(text[position:]))
    return "".join(out)


def _delimit_inline(text: str) -> str:
    out: list[str] = []
    position = 0
    for code in _CODE_SPAN.finditer(text):
        out.append(_delimit_spans(text[position:code.start()]))
        out.append(code.group(0))
        position = code.end()
    out.append(_delimit_spans(text[position:]))
    return "".join(out)


def _delimit_spans(text: str) -> str:
    out: list[str] = []
    position = 0
    for match in _INLINE.finditer(text):
        out.append(_delimit_bare(text[position:match.start()]))
        paren = match.group("paren")
        out.append(f"${paren.strip()}$" if paren is not None else match.group(0))
        position = match.end()
    out.append(_delimit_bare(text[position:]))
    return "".join(out)


def _delimit_bare(text: str) -> str:
    """Wrap LaTeX written without delimiters: a known macro with its arguments, x^2, a_n."""
    out: list[str] = []
    position = 0
    while (match := _BARE.search(text, position)) is not None:
        token = match.group(0)
        if token.startswith("\\"):
            converted, end = markdown._bare_macro(text, match.start())
            start = match.start()
        else:
            converted, end = markdown._bare_script(text, match.end(), superscript=token == "^")
            start = _base_start(text, match.start(), floor=position)
        if converted is None:
            out.append(text[position:match.end()])
            position = match.end()
            continue
        out.append(text[position:start])
        out.append(f"${text[start:end]}$")
        position = end
    out.append(text[position:])
    return "".join(out)


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
