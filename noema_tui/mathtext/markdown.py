"""Find the math in a model's Markdown reply and turn it into something a terminal can show.

Display math (`$$...$$`, `\\[...\\]`, a bare `\\begin{env}...\\end{env}`, a `\\boxed{...}` alone
on its line) becomes a fenced ```text block holding its 2-D layout; inline math (`$...$`,
`\\(...\\)`) and the bare LaTeX small models write without delimiters (`\\frac{1}{2}`, `x^2`)
become Unicode in the text. Code spans and fenced code blocks are left exactly as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

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
# A `*` with an operand right on both sides (5*5-3*3, 2*(x+1), f(x)*g(x)) is multiplication:
# Markdown would pair such stars into emphasis. Emphasis (*one*, **two**) has a space or the
# line's edge on its outer side, so it never matches.
_ARITHMETIC_STAR = re.compile(r"(?<=[\w)\]}.])\*(?=[\w(\[{.])")


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


@dataclass(frozen=True)
class MathRules:
    """What one pass puts in place of each kind of math it finds; None leaves it as written.

    `display` and `boxed` also get the output just before the match (a block may need to
    start on a new line); `bare` gets the text, the match of a bare macro or script, and where
    the text after the previous replacement starts, and returns (replacement, start, end).
    """

    display: Callable[[re.Match[str], str], str | None]
    boxed: Callable[[re.Match[str], str], str | None]
    inline: Callable[[re.Match[str]], str | None]
    bare: Callable[[str, re.Match[str], int], tuple[str, int, int] | None]


def rewrite_math(text: str, rules: MathRules) -> str:
    """`text` with each math fragment outside code replaced as `rules` say, in one walk:
    display blocks, then boxed lines, then (outside code spans) inline math, then bare LaTeX."""
    return "".join(_map_outside_code_blocks(text, lambda prose: _rewrite_display(prose, rules)))


def render_markdown(text: str) -> str:
    """`text` with math made readable in a terminal (see module docstring). Never raises."""
    try:
        return rewrite_math(text, RENDER)
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


def _rewrite_display(text: str, rules: MathRules) -> str:
    out: list[str] = []
    position = 0
    for match in _DISPLAY.finditer(text):
        before = _rewrite_boxed(text[position:match.start()], rules)
        replacement = rules.display(match, before)
        if replacement is None:
            continue  # left as written: inline rewriting skips it too
        out += [before, replacement]
        position = match.end()
    out.append(_rewrite_boxed(text[position:], rules))
    return "".join(out)


def _rewrite_boxed(text: str, rules: MathRules) -> str:
    out: list[str] = []
    position = 0
    for match in _BOXED_LINE.finditer(text):
        before = _rewrite_outside_code_spans(text[position:match.start()], rules)
        replacement = rules.boxed(match, before)
        if replacement is None:
            continue
        out += [before, replacement]
        position = match.end()
    out.append(_rewrite_outside_code_spans(text[position:], rules))
    return "".join(out)


def _rewrite_outside_code_spans(text: str, rules: MathRules) -> str:
    out: list[str] = []
    position = 0
    for code in _CODE_SPAN.finditer(text):
        out.append(_rewrite_inline(text[position:code.start()], rules))
        out.append(code.group(0))
        position = code.end()
    out.append(_rewrite_inline(text[position:], rules))
    return "".join(out)


def _rewrite_inline(text: str, rules: MathRules) -> str:
    out: list[str] = []
    position = 0
    for match in _INLINE.finditer(text):
        replacement = rules.inline(match)
        if replacement is None:
            continue
        out += [_rewrite_bare(text[position:match.start()], rules), replacement]
        position = match.end()
    out.append(_rewrite_bare(text[position:], rules))
    return "".join(out)


def _rewrite_bare(text: str, rules: MathRules) -> str:
    stars = {m.start() for m in _ARITHMETIC_STAR.finditer(text)}

    def prose(start: int, end: int) -> str:  # text kept as written, its multiplications escaped
        return "".join("\\*" if i in stars else text[i] for i in range(start, end)) \
            if stars else text[start:end]

    out: list[str] = []
    position = 0
    while (match := _BARE.search(text, position)) is not None:
        found = rules.bare(text, match, position)
        if found is None:
            out.append(prose(position, match.end()))
            position = match.end()
            continue
        replacement, start, end = found
        out += [prose(position, start), replacement]
        position = end
    out.append(prose(position, len(text)))
    return "".join(out)


# ----------------------------------------------------------------- rendering for a terminal


def _render_display(match: re.Match[str], before: str) -> str | None:
    lines = convert_display(match.group("dollars") or match.group("brackets")
                            or match.group("env"))
    return None if lines is None else _fenced(lines, after=before)


def _render_boxed(match: re.Match[str], before: str) -> str | None:
    lines = convert_display(match.group("latex"))
    return None if lines is None else _fenced(lines, after=before).rstrip("\n")


def _render_inline(match: re.Match[str]) -> str | None:
    converted = convert_inline(match.group("paren") or match.group("dollar"))
    return None if converted is None else escape_markdown(converted)


def _render_bare(text: str, match: re.Match[str], floor: int) -> tuple[str, int, int] | None:
    """A known macro with its arguments and scripts, x^2 or a_n, as Unicode."""
    converted, end = bare_extent(text, match)
    return None if converted is None else (escape_markdown(converted), match.start(), end)


def bare_extent(text: str, match: re.Match[str]) -> tuple[str | None, int]:
    """The Unicode for the bare LaTeX `match` starts (None if it is not LaTeX we know) and
    where it ends."""
    token = match.group(0)
    if token.startswith("\\"):
        return _bare_macro(text, match.start())
    return _bare_script(text, match.end(), superscript=token == "^")


def _fenced(lines: list[str], after: str) -> str:
    lead = "" if not after or after.endswith("\n") else "\n"
    return lead + "```text\n" + "\n".join(lines) + "\n```\n"


RENDER = MathRules(_render_display, _render_boxed, _render_inline, _render_bare)


def escape_markdown(text: str) -> str:
    """Backslash-escape characters Markdown would read as formatting (x_1*y_2 stays as is)."""
    return _MARKDOWN_ACTIVE.sub(r"\\\1", text)


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
