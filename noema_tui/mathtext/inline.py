"""One-line Unicode for a LaTeX math fragment: x², ½, a/(b+1), √2, ∛x, xᵢ, ⟦5⟧."""

from __future__ import annotations

import re

from noema_tui.mathtext import symbols
from noema_tui.mathtext.nodes import (
    Accent,
    BigOperator,
    Boxed,
    Chars,
    Fenced,
    Fraction,
    Node,
    Root,
    Row,
    Scripts,
    Table,
    Text,
)

# A number, a word (sin, xy) or one character needs no parentheses; iπ or 2x does.
_ATOM = re.compile(r"\d+(?:\.\d+)?|[A-Za-z]+|.")
_LETTERS = re.compile(r"[^\W\d_]*[∂∇]?[^\W\d_]+")
_LINE_ACCENTS = {"bar", "overline", "underline"}


def render_inline(node: Node) -> str:
    """The fragment on one line, spaces as written (collapsed), nothing reordered."""
    return _tidy(_render(node))


def _tidy(text: str) -> str:
    return re.sub(r" {2,}", " ", text).strip()


def is_atomic(text: str) -> bool:
    """True if `text` needs no parentheses as a base, numerator, exponent or radicand."""
    if _ATOM.fullmatch(text) or text in symbols.VULGAR_FRACTIONS.values():
        return True
    return _wrapped(text, "(", ")") or _wrapped(text, "[", "]") or (
        text.startswith(("√", "∛", "∜")) and is_atomic(text[1:]))


def _wrapped(text: str, opening: str, closing: str) -> bool:
    """`text` is one bracketed group, like (x+1) but not (a)+(b)."""
    if len(text) < 2 or text[0] != opening or text[-1] != closing:
        return False
    depth = 0
    for i, char in enumerate(text):
        depth += (char == opening) - (char == closing)
        if depth == 0 and i < len(text) - 1:
            return False
    return True


def _parenthesized(text: str) -> str:
    return text if is_atomic(text) else f"({text})"


def _fraction_part(text: str) -> str:
    """Like `_parenthesized`, but a word of letters (∂f, πr) reads fine around a slash."""
    return text if is_atomic(text) or _LETTERS.fullmatch(text) else f"({text})"


def _render(node: Node) -> str:
    if isinstance(node, Chars | Text):
        return node.text
    if isinstance(node, BigOperator):
        return node.symbol
    if isinstance(node, Row):
        return _render_row(node)
    if isinstance(node, Scripts):
        return _render_scripts(node)
    if isinstance(node, Fraction):
        return _render_fraction(node)
    if isinstance(node, Root):
        return _render_root(node)
    if isinstance(node, Boxed):
        return f"⟦{render_inline(node.body)}⟧"
    if isinstance(node, Accent):
        return _render_accent(node)
    if isinstance(node, Fenced):
        return f"{node.left}{render_inline(node.body)}{node.right}"
    if isinstance(node, Table):
        return _render_table(node)
    raise TypeError(f"unknown node {node!r}")  # a bug in the parser, not bad input


def _render_row(row: Row) -> str:
    parts = [_render(item) for item in row.items]
    out = []
    for i, (item, text) in enumerate(zip(row.items, parts, strict=True)):
        following = next((p for p in parts[i + 1:] if p), "")
        # a/b followed by x would read as a/(bx): keep the fraction together
        if isinstance(item, Fraction) and "/" in text and not _wrapped(text, "(", ")") and (
                following[:1].isalnum() or following[:1] in ("(", "√")):
            text = f"({text})"
        out.append(text)
    return "".join(out)


def _render_scripts(node: Scripts) -> str:
    base = render_inline(node.base)
    if not isinstance(node.base, BigOperator) and base:
        base = _parenthesized(base)
    if node.sub is not None:
        sub = render_inline(node.sub)
        base += symbols.to_subscript(sub) or f"_{_parenthesized(sub)}"
    if node.sup is not None:
        sup = render_inline(node.sup)
        base += symbols.to_superscript(sup) or f"^{_parenthesized(sup)}"
    return base


def _render_fraction(node: Fraction) -> str:
    top, bottom = render_inline(node.numerator), render_inline(node.denominator)
    if node.binomial:
        return f"C({top}, {bottom})"
    if (top, bottom) in symbols.VULGAR_FRACTIONS:
        return symbols.VULGAR_FRACTIONS[(top, bottom)]
    return f"{_fraction_part(top)}/{_fraction_part(bottom)}"


def _render_root(node: Root) -> str:
    body = _parenthesized(render_inline(node.body))
    index = render_inline(node.index) if node.index is not None else "2"
    sign = {"2": "√", "3": "∛", "4": "∜"}.get(index)
    if sign is None:
        sign = (symbols.to_superscript(index) or f"({index})") + "√"
    return sign + body


def _render_accent(node: Accent) -> str:
    body = render_inline(node.body)
    mark = symbols.ACCENTS[node.name][0]
    if node.name in _LINE_ACCENTS:
        return "".join(char + mark for char in body)  # one continuous line over every char
    return body + mark


def _render_table(table: Table) -> str:
    if table.align == "pairs":
        return "; ".join(_tidy(" ".join(render_inline(c) for c in row)) for row in table.rows)
    if table.align == "left":
        rows = "; ".join(_tidy(", ".join(render_inline(c) for c in row)) for row in table.rows)
        return f"{table.left} {rows}{table.right}".strip()
    rows = "; ".join(", ".join(render_inline(c) for c in row) for row in table.rows)
    left, right = (table.left, table.right) if table.left or table.right else ("[", "]")
    return f"{left}{rows}{right}"
