"""The syntax tree of a LaTeX math fragment, kept in the order the author wrote it.

The tree is syntactic, not algebraic: `5 + 3x` stays `5 + 3x` (an algebra system would
reorder or simplify it), so what a reader sees is what the model wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Chars:
    """Literal text: letters, digits, operators, spaces, or a symbol's Unicode."""

    text: str


@dataclass
class Text:
    """`\\text{...}` and friends: prose inside math, shown verbatim."""

    text: str


@dataclass
class Row:
    """A horizontal sequence (a brace group or a whole formula)."""

    items: list[Node] = field(default_factory=list)


@dataclass
class BigOperator:
    """∑, ∏, lim, ...: takes its scripts as limits above/below in display math."""

    symbol: str
    limits: bool


@dataclass
class Scripts:
    base: Node
    sup: Node | None = None
    sub: Node | None = None


@dataclass
class Fraction:
    numerator: Node
    denominator: Node
    binomial: bool = False  # \binom: stacked in parentheses, no bar


@dataclass
class Root:
    body: Node
    index: Node | None = None


@dataclass
class Boxed:
    body: Node


@dataclass
class Accent:
    body: Node
    name: str  # key of symbols.ACCENTS


@dataclass
class Fenced:
    """`\\left( ... \\right)`: delimiters that grow with their content ('' for `.`)."""

    left: str
    body: Node
    right: str


@dataclass
class Table:
    """matrix / pmatrix / cases / aligned ...: rows of cells with outer delimiters."""

    rows: list[list[Node]]
    left: str = ""
    right: str = ""
    align: str = "center"  # "center" (matrices), "left" (cases), "pairs" (aligned: r l r l)


Node = (Chars | Text | Row | BigOperator | Scripts | Fraction | Root | Boxed | Accent | Fenced
        | Table)
