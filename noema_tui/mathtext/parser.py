"""A small, strict parser for the LaTeX math that language models write.

It covers what shows up in model replies (scripts, fractions, roots, boxes, accents, fonts,
`\\left...\\right`, matrix/cases/aligned environments, symbol macros) and raises
`MathSyntaxError` on anything malformed, so callers can fall back to the raw text. Unknown
macros are kept as written (`\\foo`), never dropped.
"""

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


class MathSyntaxError(ValueError):
    """The fragment is not well-formed LaTeX math (unbalanced braces, missing argument, ...)."""


_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|\s+|.", re.S)
_ESCAPED = {"\\{": "{", "\\}": "}", "\\%": "%", "\\$": "$", "\\#": "#", "\\&": "&",
            "\\_": "_", "\\|": "‖", "\\ ": " ", "\\,": " ", "\\;": " ", "\\:": " ",
            "\\>": " ", "\\!": "", "\\'": "′"}
_FRACTIONS = {"frac", "dfrac", "tfrac", "cfrac"}
_BINOMIALS = {"binom", "dbinom", "tbinom"}
_TEXT = {"text", "textrm", "textit", "textbf", "textsf", "texttt", "textnormal", "mbox", "hbox"}
_FONTS = {"mathrm", "mathit", "mathbf", "mathsf", "mathtt", "mathnormal", "boldsymbol", "bm",
          "operatorname", "mathop", "ensuremath"}
_LETTER_FONTS = {"mathbb": symbols.BLACKBOARD, "mathcal": symbols.CALLIGRAPHIC,
                 "mathscr": symbols.CALLIGRAPHIC}
_IGNORED = {"displaystyle", "textstyle", "scriptstyle", "limits", "nolimits", "nonumber",
            "notag", "hline", "centering", "allowbreak"}
_IGNORED_WITH_ARG = {"label", "tag", "color", "phantom", "hphantom", "vphantom"}
_SIZES = {"big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr",
          "Biggl", "Biggr", "middle"}
_MATRICES = {"matrix": ("", ""), "smallmatrix": ("", ""), "pmatrix": ("(", ")"),
             "bmatrix": ("[", "]"), "Bmatrix": ("{", "}"), "vmatrix": ("|", "|"),
             "Vmatrix": ("‖", "‖"), "array": ("", "")}
_ALIGNED = {"aligned", "align", "align*", "alignat", "alignat*", "eqnarray", "eqnarray*",
            "split", "gather", "gather*", "gathered", "multline", "multline*"}
_PLAIN_ENVIRONMENTS = {"equation", "equation*", "displaymath", "math"}
_STRUCTURAL = (_FRACTIONS | _BINOMIALS | _TEXT | _FONTS | set(_LETTER_FONTS)
               | {"sqrt", "boxed", "fbox", "left", "begin", "not", "pmod"})


def parse(latex: str) -> Node:
    """Parse a math fragment (no surrounding `$`). Raises MathSyntaxError if malformed."""
    parser = Parser(latex)
    node = parser.parse_table_body(end=None, align="pairs")
    if parser.pos != len(parser.tokens):
        raise MathSyntaxError(f"unexpected {parser.tokens[parser.pos]!r}")
    return node


def is_structural(name: str) -> bool:
    """True for macros that build structure (fractions, roots, fonts, environments...)."""
    return name in _STRUCTURAL or name in symbols.ACCENTS or name in symbols.LIMIT_OPERATORS


class Parser:
    def __init__(self, latex: str) -> None:
        self.tokens = _TOKEN.findall(latex)
        self.pos = 0

    def parse_atom_with_scripts(self) -> Node:
        """One atom and the scripts glued to it (for LaTeX found in prose without `$`)."""
        node = self.parse_atom()
        while self.peek() in ("^", "_"):
            script = self.take()
            node = _attach(node, self.parse_argument(), script == "^")
        while self.pos and self.tokens[self.pos - 1].isspace():
            self.pos -= 1  # the prose's space after `\pi` is not part of the math
        return node

    def consumed_length(self) -> int:
        return sum(len(token) for token in self.tokens[:self.pos])

    # -- token helpers ------------------------------------------------------------------
    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise MathSyntaxError("unexpected end of formula")
        self.pos += 1
        return token

    def skip_spaces(self) -> None:
        while (token := self.peek()) is not None and token.isspace():
            self.pos += 1

    def expect(self, token: str) -> None:
        self.skip_spaces()
        if self.take() != token:
            raise MathSyntaxError(f"expected {token!r}")

    def raw_group(self) -> str:
        """The source text of a `{...}` group (for `\\text`, environment names)."""
        self.expect("{")
        depth, parts = 1, []
        while True:
            token = self.take()
            depth += token == "{"
            depth -= token == "}"
            if depth == 0:
                return "".join(parts)
            parts.append(_ESCAPED.get(token, token))

    # -- structure ----------------------------------------------------------------------
    def parse_row(self, stops: frozenset[str]) -> Row:
        items: list[Node] = []
        while (token := self.peek()) is not None and token not in stops:
            if token in ("^", "_"):
                self.pos += 1
                while items and isinstance(items[-1], Chars) and items[-1].text.isspace():
                    items.pop()  # TeX ignores spaces before a script
                base = items.pop() if items else Chars("")
                argument = self.parse_argument()
                items.append(_attach(base, argument, token == "^"))
            elif token == "}":
                raise MathSyntaxError("unbalanced '}'")
            else:
                items.append(self.parse_atom())
        return Row(items)

    def parse_argument(self) -> Node:
        self.skip_spaces()
        token = self.peek()
        if token is None or token in ("}", "&", "^", "_"):
            raise MathSyntaxError("missing argument")
        if token == "{":
            self.pos += 1
            row = self.parse_row(frozenset("}"))
            self.expect("}")
            return row
        return self.parse_atom()

    def parse_table_body(self, end: str | None, align: str) -> Node:
        """Cells split by `&`, rows by `\\\\`, up to `\\end{end}` (or the end of input)."""
        rows: list[list[Node]] = [[]]
        stops = frozenset({"&", "\\\\", "\\end"})
        while True:
            rows[-1].append(self.parse_row(stops))
            token = self.peek()
            if token == "&":
                self.pos += 1
            elif token == "\\\\":
                self.pos += 1
                self.skip_optional()
                rows.append([])
            elif token == "\\end":
                self.pos += 1
                if end is None or self.raw_group().strip() != end:
                    raise MathSyntaxError("mismatched \\end")
                break
            else:
                if end is not None:
                    raise MathSyntaxError(f"missing \\end{{{end}}}")
                break
        if len(rows) > 1 and _is_empty_row(rows[-1]):
            rows.pop()  # a trailing `\\` ends the last row, it does not start a new one
        if end is None and len(rows) == 1 and len(rows[0]) == 1:
            return rows[0][0]
        return Table(rows or [[Row([])]], align=align)

    def skip_optional(self) -> str | None:
        """Consume `[...]` if it comes next; return its source."""
        if self.peek() != "[":
            return None
        self.pos += 1
        parts = []
        while (token := self.take()) != "]":
            parts.append(token)
        return "".join(parts)

    # -- atoms --------------------------------------------------------------------------
    def parse_atom(self) -> Node:
        token = self.take()
        if token == "{":
            row = self.parse_row(frozenset("}"))
            self.expect("}")
            return row
        if token.isspace():
            return Chars(" ")
        if token in _ESCAPED:
            return Chars(_ESCAPED[token])
        if token in ("&", "\\\\", "\\end"):
            raise MathSyntaxError(f"{token} outside an environment")
        if token.startswith("\\") and token[1:].isalpha():
            return self.parse_command(token[1:])
        return Chars(token)

    def parse_command(self, name: str) -> Node:
        if name in _FRACTIONS or name in _BINOMIALS:
            numerator = self.parse_argument()
            return Fraction(numerator, self.parse_argument(), binomial=name in _BINOMIALS)
        if name == "sqrt":
            self.skip_spaces()
            index = None
            if self.peek() == "[":
                self.pos += 1
                index = self.parse_row(frozenset("]"))
                self.expect("]")
            return Root(self.parse_argument(), index)
        if name in ("boxed", "fbox", "framebox"):
            return Boxed(self.parse_argument())
        if name in symbols.ACCENTS:
            return Accent(self.parse_argument(), name)
        if name in _TEXT:
            return Text(self.raw_group() if self.peek() == "{" else self.take())
        if name in _FONTS:
            if self.peek() == "*":
                self.pos += 1
            return self.parse_argument()
        if name in _LETTER_FONTS:
            table = _LETTER_FONTS[name]
            letters = self.raw_group() if self.peek() == "{" else self.take()
            return Chars("".join(table.get(c, c) for c in letters))
        if name in _IGNORED:
            return Chars("")
        if name in _IGNORED_WITH_ARG:
            self.parse_argument()
            return Chars("")
        if name in _SIZES:
            return Chars(self.delimiter())
        if name == "left":
            left = self.delimiter()
            body = self.parse_row(frozenset({"\\right"}))
            if self.peek() is None:
                raise MathSyntaxError("\\left without \\right")
            self.pos += 1
            return Fenced(left, body, self.delimiter())
        if name == "right":
            raise MathSyntaxError("\\right without \\left")
        if name == "begin":
            return self.parse_environment(self.raw_group().strip())
        if name == "not":
            negated = self.parse_argument()
            text = negated.text if isinstance(negated, Chars) else ""
            return Chars({"=": "≠", "∈": "∉", "≡": "≢", "<": "≮", ">": "≯"}.get(text, "/" + text))
        if name == "pmod":
            return Row([Chars(" (mod "), self.parse_argument(), Chars(")")])
        if name in symbols.LIMIT_OPERATORS:
            text = symbols.NAMED_OPERATORS.get(name) or symbols.symbol(name) or name
            return BigOperator(text, limits=True)
        text = symbols.symbol(name)
        if text is None:  # unknown macro: keep it as written, with a braced argument if any
            return Chars(f"\\{name}{{{self.raw_group()}}}" if self.peek() == "{" else "\\" + name)
        if len(text) == 1 and (text.isalpha() or text in "∂∇"):
            self.skip_spaces()  # the space after `\pi` only ends the macro name: `\pi r` is πr
        return Chars(text)

    def delimiter(self) -> str:
        self.skip_spaces()
        token = self.take()
        if token == ".":
            return ""
        if token in _ESCAPED:
            return _ESCAPED[token]
        if token.startswith("\\"):
            return symbols.symbol(token[1:]) or token
        return token

    def parse_environment(self, name: str) -> Node:
        if name in _PLAIN_ENVIRONMENTS:
            return self.parse_table_body(end=name, align="pairs")
        if name == "array" or name == "alignat" or name == "alignat*":
            self.raw_group()  # column spec / column count
        if name in ("cases", "dcases", "rcases"):
            table = self.parse_table_body(end=name, align="left")
            if not isinstance(table, Table):
                table = Table([[table]], align="left")
            table.left, table.right = ("", "}") if name == "rcases" else ("{", "")
            return table
        align = "pairs" if name in _ALIGNED else "center"
        table = self.parse_table_body(end=name, align=align)
        if not isinstance(table, Table):
            table = Table([[table]], align=align)
        table.left, table.right = _MATRICES.get(name, ("", ""))
        return table


def _is_empty_row(row: list[Node]) -> bool:
    return len(row) == 1 and isinstance(row[0], Row) and all(
        isinstance(i, Chars) and not i.text.strip() for i in row[0].items)


def _attach(base: Node, argument: Node, superscript: bool) -> Scripts:
    """Attach a script to `base`, filling the free slot of an existing `x_i` for `x_i^2`."""
    if isinstance(base, Scripts):
        if superscript and base.sup is None:
            base.sup = argument
            return base
        if not superscript and base.sub is None:
            base.sub = argument
            return base
    return Scripts(base, sup=argument) if superscript else Scripts(base, sub=argument)
