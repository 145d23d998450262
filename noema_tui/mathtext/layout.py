"""Two-dimensional layout of display math in monospace text.

Every node becomes a `Box`: equal-width lines plus the row its baseline sits on, so boxes
line up side by side the way TeX aligns them. Fractions stack over a bar, scripts that have
Unicode forms stay on the line (x²), others are raised or lowered, radicals get a sign that
spans their content, brackets grow with what they enclose, and boxed answers get a frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from noema_tui.mathtext import symbols
from noema_tui.mathtext.inline import render_inline
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

_BRACKETS = {"(": ")", "[": "]", "{": "}", "⟨": "⟩", "⌊": "⌋", "⌈": "⌉"}


@dataclass
class Box:
    lines: list[str]
    baseline: int  # index of the row that lines up with the surrounding text

    def __post_init__(self) -> None:
        width = max((len(line) for line in self.lines), default=0)
        self.lines = [line.ljust(width) for line in self.lines]

    @property
    def width(self) -> int:
        return len(self.lines[0]) if self.lines else 0

    @property
    def height(self) -> int:
        return len(self.lines)

    @property
    def descent(self) -> int:
        return self.height - 1 - self.baseline


def text_box(text: str) -> Box:
    return Box([text], 0)


def hcat(boxes: list[Box]) -> Box:
    """Boxes side by side, baselines aligned."""
    boxes = [b for b in boxes if b.width]
    if not boxes:
        return text_box("")
    ascent = max(b.baseline for b in boxes)
    descent = max(b.descent for b in boxes)
    rows = [""] * (ascent + descent + 1)
    for box in boxes:
        top = ascent - box.baseline
        for r in range(len(rows)):
            inside = top <= r < top + box.height
            rows[r] += box.lines[r - top] if inside else " " * box.width
    return Box(rows, ascent)


def stack(boxes: list[Box], baseline: int, align: str = "center") -> Box:
    """Boxes one above the other, each centred (or left/right aligned) in the widest."""
    width = max(b.width for b in boxes)
    rows = []
    for box in boxes:
        for line in box.lines:
            pad = width - len(line)
            left = {"center": pad // 2, "left": 0, "right": pad}[align]
            rows.append(" " * left + line + " " * (pad - left))
    return Box(rows, baseline)


def tall_delimiter(char: str, ascent: int, descent: int) -> Box:
    """`char` drawn over ascent + 1 + descent rows (one row: the character itself)."""
    height = ascent + descent + 1
    if not char or height == 1 or char not in symbols.TALL_DELIMITERS:
        return Box([char] * height if char else [""] * height, ascent)
    top, middle, bottom, extender = symbols.TALL_DELIMITERS[char]
    rows = [extender] * height
    rows[0], rows[-1] = top, bottom
    if char in "{}" and height > 2:
        rows[ascent if 0 < ascent < height - 1 else height // 2] = middle
    return Box(rows, ascent)


def layout(node: Node) -> Box:
    if isinstance(node, Chars | Text):
        return text_box(node.text)
    if isinstance(node, BigOperator):
        return text_box(node.symbol)
    if isinstance(node, Row):
        return _layout_row(node)
    if isinstance(node, Scripts):
        return _layout_scripts(node)
    if isinstance(node, Fraction):
        return _layout_fraction(node)
    if isinstance(node, Root):
        return _layout_root(node)
    if isinstance(node, Boxed):
        body = layout(node.body)
        edge = "─" * (body.width + 2)
        rows = [f"┌{edge}┐", *(f"│ {line} │" for line in body.lines), f"└{edge}┘"]
        return Box(rows, body.baseline + 1)
    if isinstance(node, Accent):
        body = layout(node.body)
        mark = symbols.ACCENTS[node.name][1]
        over = mark * body.width if mark == "_" else mark.center(body.width)
        return stack([text_box(over), body], baseline=body.baseline + 1)
    if isinstance(node, Fenced):
        body = layout(node.body)
        return hcat([tall_delimiter(node.left, body.baseline, body.descent), body,
                     tall_delimiter(node.right, body.baseline, body.descent)])
    if isinstance(node, Table):
        return _layout_table(node)
    raise TypeError(f"unknown node {node!r}")  # a bug in the parser, not bad input


def _layout_row(row: Row) -> Box:
    # Runs of plain text merge into one box; brackets stay separate so they can grow to the
    # height of what they enclose. A script on a closing bracket, as in (a/b)^2, is attached
    # after the bracket has grown.
    boxes: list[Box] = []
    scripted: dict[int, Scripts] = {}
    run = ""
    for item in row.items:
        if isinstance(item, Chars | Text) and not _is_bracket(item):
            run += item.text
            continue
        if run:
            boxes.append(text_box(run))
            run = ""
        if isinstance(item, Scripts) and _is_bracket(item.base):
            scripted[len(boxes)] = item
            boxes.append(layout(item.base))
        else:
            boxes.append(layout(item))
    if run:
        boxes.append(text_box(run))
    _grow_brackets(boxes)
    for i, node in scripted.items():
        boxes[i] = _layout_scripts(node, base=boxes[i])
    return hcat(boxes)


def _is_bracket(node: Node) -> bool:
    return isinstance(node, Chars) and (node.text in _BRACKETS or node.text in _BRACKETS.values())


def _grow_brackets(boxes: list[Box]) -> None:
    """Replace matched one-line brackets around taller content with tall delimiters."""
    openings: list[int] = []
    for i, box in enumerate(boxes):
        char = box.lines[0] if box.height == 1 else ""
        if char in _BRACKETS:
            openings.append(i)
        elif char in _BRACKETS.values() and openings and _BRACKETS[
                boxes[openings[-1]].lines[0]] == char:
            start = openings.pop()
            inner = boxes[start + 1:i]
            if not inner:
                continue
            ascent = max(b.baseline for b in inner)
            descent = max(b.descent for b in inner)
            boxes[start] = tall_delimiter(boxes[start].lines[0], ascent, descent)
            boxes[i] = tall_delimiter(char, ascent, descent)


def _flat(node: Node | None, convert: Callable[[str], str | None]) -> str | None:
    """The script as Unicode super/subscript characters if it is one line and has them."""
    if node is None:
        return None
    box = layout(node)
    return convert(render_inline(node)) if box.height == 1 else None


def _layout_scripts(node: Scripts, base: Box | None = None) -> Box:
    if isinstance(node.base, BigOperator) and node.base.limits:
        parts = [layout(node.sup)] if node.sup is not None else []
        parts.append(text_box(node.base.symbol))
        baseline = parts[0].height if node.sup is not None else 0
        if node.sub is not None:
            parts.append(layout(node.sub))
        return stack(parts, baseline)
    base = base or layout(node.base)
    if isinstance(node.base, Fraction):  # (a/b)²: the exponent belongs to the whole fraction
        base = hcat([tall_delimiter("(", base.baseline, base.descent), base,
                     tall_delimiter(")", base.baseline, base.descent)])
    sup_flat = _flat(node.sup, symbols.to_superscript)
    sub_flat = _flat(node.sub, symbols.to_subscript)
    if base.height == 1 and (node.sup is None or sup_flat) and (node.sub is None or sub_flat):
        return text_box(base.lines[0] + (sub_flat or "") + (sup_flat or ""))
    # Place the scripts in a column right of the base: flat ones on its top/bottom row,
    # others above/below it. Rows are counted from the base's top row.
    placed: list[tuple[Box, int]] = []
    if node.sup is not None:
        sup = text_box(sup_flat) if sup_flat else layout(node.sup)
        placed.append((sup, 0 if sup_flat else -sup.height))
    if node.sub is not None:
        sub = text_box(sub_flat) if sub_flat else layout(node.sub)
        placed.append((sub, base.height - 1 if sub_flat else base.height))
    top = min([0] + [row for _, row in placed])
    bottom = max([base.height] + [row + box.height for box, row in placed])
    width = max(box.width for box, _ in placed)
    column = [" " * width] * (bottom - top)
    for box, row in placed:
        for k, line in enumerate(box.lines):
            column[row - top + k] = line.ljust(width)
    rows = []
    for r in range(top, bottom):
        left = base.lines[r] if 0 <= r < base.height else " " * base.width
        rows.append(left + column[r - top])
    return Box(rows, base.baseline - top)


def _layout_fraction(node: Fraction) -> Box:
    top, bottom = layout(node.numerator), layout(node.denominator)
    if node.binomial:
        inner = stack([top, text_box(""), bottom], baseline=top.height)
        return hcat([tall_delimiter("(", inner.baseline, inner.descent), inner,
                     tall_delimiter(")", inner.baseline, inner.descent)])
    bar = text_box("─" * (max(top.width, bottom.width) + 2))
    return stack([top, bar, bottom], baseline=top.height)


def _layout_root(node: Root) -> Box:
    body = layout(node.body)
    index = render_inline(node.index) if node.index is not None else ""
    if body.height == 1:
        sign = {"": "√", "2": "√", "3": "∛", "4": "∜"}.get(index)
        if sign is None:
            sign = (symbols.to_superscript(index) or index) + "√"
        pad = " " * len(sign)
        return Box([pad + "_" * body.width, sign + body.lines[0]], 1)
    # A sign that climbs the content: ╲╱ at the bottom, ╱ rising one column per row.
    height = body.height
    prefix = height + 1
    top = (index if index not in ("", "2") else "").ljust(prefix) + "_" * body.width
    rows = [top]
    for r in range(1, height + 1):
        cells = [" "] * prefix
        cells[height - r + 1] = "╱"
        if r == height:
            cells[0] = "╲"
        rows.append("".join(cells) + body.lines[r - 1])
    return Box(rows, body.baseline + 1)


def _layout_table(table: Table) -> Box:
    cells = [[_strip(layout(cell)) for cell in row] for row in table.rows]
    columns = max(len(row) for row in cells)
    widths = [max((row[c].width for row in cells if c < len(row)), default=0)
              for c in range(columns)]
    lines: list[str] = []
    baselines: list[int] = []
    any_tall = any(cell.height > 1 for row in cells for cell in row)
    for r, row in enumerate(cells):
        row = row + [text_box("")] * (columns - len(row))
        padded = [_align(cell, widths[c], _column_align(table.align, c))
                  for c, cell in enumerate(row)]
        gap = " " if table.align == "pairs" else "  "
        joined = hcat([part for c, cell in enumerate(padded)
                       for part in ([text_box(gap)] if c else []) + [cell]])
        if r and any_tall:
            lines.append("")
        baselines.append(len(lines) + joined.baseline)
        lines.extend(joined.lines)
    middle = baselines[0] if len(baselines) == 1 else len(lines) // 2
    body = Box(lines, middle)
    if not table.left and not table.right:
        return body
    return hcat([tall_delimiter(table.left, body.baseline, body.descent), text_box(" "), body,
                 text_box(" "), tall_delimiter(table.right, body.baseline, body.descent)])


def _strip(box: Box) -> Box:
    return text_box(box.lines[0].strip()) if box.height == 1 else box


def _column_align(align: str, column: int) -> str:
    if align == "pairs":
        return "right" if column % 2 == 0 else "left"
    return align


def _align(box: Box, width: int, align: str) -> Box:
    pad = width - box.width
    left = {"center": pad // 2, "left": 0, "right": pad}[align]
    return Box([" " * left + line + " " * (pad - left) for line in box.lines], box.baseline)
