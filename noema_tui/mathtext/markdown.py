"""Find the math in a model's Markdown reply and turn it into something a terminal can show.

Display math (`$$...$$`, `\\[...\\]`, a bare `\\begin{env}...\\end{env}`, a `\\boxed{...}` alone
on its line) becomes a fenced ```text block holding its 2-D layout; inline math (`$...$`,
`\\(...\\)`) and the bare LaTeX small models write without delimiters (`\\frac{1}{2}`, `x^2`)
become Unicode in the text. Code spans and fenced code blocks are left exactly as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from noema_tui.mathtext import parser, symbols
from noema_tui.mathtext.inline import render_inline

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_DISPLAY = re.compile(
    r"\$\$(?P<dollars>.+?)\$\$"
    r"|\\\[(?P<brackets>.+?)\\\]"
    r"|^[ \t]*(?P<env>\\begin\{(?P<name>[A-Za-z]+\*?)\}.*?\\end\{(?P=name)\})",
    re.S | re.M)
_BOXED_LINE = re.compile(
    r"^[ \t]*(?:\\\(|\$)?[ \t]*(?P<latex>\\boxed\s*\{.*\})[ \t]*(?:\\\)|\$)?[ \t]*\.?[ \t]*$",
    re.M)
_CODE_SPAN = re.compile(r"(`+)(?:.+?)\1", re.S)
_INLINE = re.compile(
    r"\\\((?P<paren>.+?)\\\)"
    # $...$ as Pandoc reads it: no space inside the dollars, no digit right after the closing
    # one, so "costs $5 and $10" stays prose.
    r"|(?<![\\$])\$(?![\s$])(?P<dollar>(?:\\.|[^$\\\n])+?)(?<![\s\\])\$(?![\d$])",
    re.S)
# A known macro; ^ after a letter, digit or bracket; _ after a one-letter name (a_n, not my_var).
_BARE = re.compile(r"\\[A-Za-z]{2,}|(?<=[A-Za-z0-9)\]])\^|(?<![\w\\][A-Za-z])(?<=[A-Za-z])_")
_BARE_SCRIPT = re.compile(r"\{[^{}\n]*\}|-?\d+(?:\.\d+)?|[A-Za-z](?![A-Za-z0-9])")
_MARKDOWN_ACTIVE = re.compile(r"([\\`*_\[\]<>|~])")


def convert_inline(latex: str) -> str | None:
    """Unicode for an inline fragment, or None when it is not well-formed LaTeX."""
    try:
        return render_inline(parser.parse(latex))
    except Exception:  # noqa: BLE001 - any failure on model text means "show it raw"
        return None


def convert_display(latex: str) -> list[str] | None:
    from noema_tui.mathtext.layout import layout

    try:
        lines = layout(parser.parse(latex)).lines
    except Exception:  # noqa: BLE001 - any failure on model text means "show it raw"
        return None
    return _trim(lines)


def _trim(lines: list[str]) -> list[str]:
    lines = [line.rstrip() for line in lines]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    indent = min((len(line) - len(line.lstrip()) for line in lines if line), default=0)
    return [line[indent:] for line in lines] or [""]


def render_markdown(text: str) -> str:
    """`text` with math made readable in a terminal (see module docstring). Never raises."""
    try:
        return "".join(_map_outside_code_blocks(text, _render_prose))
    except Exception:  # noqa: BLE001 - a renderer bug must never lose the reply
        return text


def _map_outside_code_blocks(text: str, render: Callable[[str], str]) -> list[str]:
    out: list[str] = []
    prose: list[str] = []
    fence: str | None = None
    for line in text.splitlines(keepends=True):
        marker = _FENCE.match(line)
        if fence is None and marker:
            out.append(render("".join(prose)))
            prose, fence = [], marker.group(1)
            out.append(line)
        elif fence is not None:
            out.append(line)
            if marker and marker.group(1).startswith(fence) and not line.strip(" `~\n"):
                fence = None
        else:
            prose.append(line)
    out.append(render("".join(prose)))
    return out


def _render_prose(text: str) -> str:
    out: list[str] = []
    position = 0
    for match in _DISPLAY.finditer(text):
        latex = match.group("dollars") or match.group("brackets") or match.group("env")
        lines = convert_display(latex)
        if lines is None:
            continue  # malformed: the raw text stays, inline conversion skips it too
        out.append(_render_lines(text[position:match.start()]))
        out.append(_fenced(lines, after=out[-1]))
        position = match.end()
    out.append(_render_lines(text[position:]))
    return "".join(out)


def _fenced(lines: list[str], after: str) -> str:
    lead = "" if not after or after.endswith("\n") else "\n"
    return lead + "```text\n" + "\n".join(lines) + "\n```\n"


def _render_lines(text: str) -> str:
    out: list[str] = []
    position = 0
    for match in _BOXED_LINE.finditer(text):
        lines = convert_display(match.group("latex"))
        if lines is None:
            continue
        out.append(_render_inline_math(text[position:match.start()]))
        out.append(_fenced(lines, after=out[-1]).rstrip("\n"))
        position = match.end()
    out.append(_render_inline_math(text[position:]))
    return "".join(out)


def _render_inline_math(text: str) -> str:
    out: list[str] = []
    position = 0
    for code in _CODE_SPAN.finditer(text):
        out.append(_render_math_spans(text[position:code.start()]))
        out.append(code.group(0))
        position = code.end()
    out.append(_render_math_spans(text[position:]))
    return "".join(out)


def _render_math_spans(text: str) -> str:
    out: list[str] = []
    position = 0
    for match in _INLINE.finditer(text):
        converted = convert_inline(match.group("paren") or match.group("dollar"))
        if converted is None:
            continue
        out.append(_render_bare(text[position:match.start()]))
        out.append(escape_markdown(converted))
        position = match.end()
    out.append(_render_bare(text[position:]))
    return "".join(out)


def escape_markdown(text: str) -> str:
    """Backslash-escape characters Markdown would read as formatting (x_1*y_2 stays as is)."""
    return _MARKDOWN_ACTIVE.sub(r"\\\1", text)


def _render_bare(text: str) -> str:
    """Convert LaTeX written without delimiters: known macros with their arguments, x^2, a_n."""
    out: list[str] = []
    position = 0
    while (match := _BARE.search(text, position)) is not None:
        out.append(text[position:match.start()])
        token = match.group(0)
        converted, end = (_bare_macro(text, match.start()) if token.startswith("\\")
                          else _bare_script(text, match.end(), superscript=token == "^"))
        if converted is None:
            out.append(token)
            position = match.end()
        else:
            out.append(escape_markdown(converted))
            position = end
    out.append(text[position:])
    return "".join(out)


def _bare_macro(text: str, start: int) -> tuple[str | None, int]:
    """The macro at `start` with its arguments and scripts, if it is one we know."""
    name = re.match(r"\\([A-Za-z]+)", text[start:]).group(1)
    if not _is_known_macro(name):
        return None, start
    reader = parser.Parser(text[start:])
    try:
        node = reader.parse_atom_with_scripts()
        converted = render_inline(node)
    except Exception:  # noqa: BLE001 - malformed: leave the macro as written
        return None, start
    return converted, start + reader.consumed_length()


def _bare_script(text: str, start: int, superscript: bool) -> tuple[str | None, int]:
    match = _BARE_SCRIPT.match(text, start)
    if match is None:
        return None, start
    script = match.group(0)
    inner = convert_inline(script[1:-1] if script.startswith("{") else script)
    if inner is None:
        return None, start
    convert = symbols.to_superscript if superscript else symbols.to_subscript
    result = convert(inner.replace("-", "−") if superscript else inner)
    return (result, match.end()) if result else (None, start)


def _is_known_macro(name: str) -> bool:
    return parser.is_structural(name) or symbols.symbol(name) is not None
