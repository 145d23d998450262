"""Plain-text math (`3*x**2 - 2x + 1`, `sqrt(2)/2`, `x >= 3`) into an unevaluated sympy tree.

Never `sympify`/`parse_expr`/`eval`: the tokenizer accepts only an allow-list of characters
and words, and the parser builds sympy objects by calling their constructors. Trees are built
with `evaluate=False`, so `10^(10^10)` is just three nodes until `numbers.guard_tree` has checked
it; `numbers.rebuild` evaluates them afterwards.

Grammar (loosest first): relation chain (`=`, `<`, `<=`, ...), sum (`+`, `-`), product (`*`, `/`,
`·`, `×`, `÷` and juxtaposition as in `2x` or `(x+1)(x-1)`), unary sign, power (`^`, `**`, `²`,
right-associative), postfix factorial, atoms (numbers, names, calls, `( )`, `[ ]`, `{ }`, `|x|`,
`√`). A comma list inside brackets becomes a `Tuple`. Top-level lists, `±`, percent signs and
units are handled by `shapes`, not here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import sympy

from noema_core.verify.limits import MAX_DIGITS, MAX_NESTING


class PlainParseError(ValueError):
    """The text is not plain-text math this parser accepts."""


_TOKEN = re.compile(
    r"""(?P<space>\s+)
      |(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+(?![A-Za-z]))?)
      |(?P<name>[A-Za-z]+(?:_\{?[A-Za-z0-9]+\}?)?|[α-ωΑ-Ω])
      |(?P<op>\*\*|<=|>=|!=|==|=<|=>|[-+*/^()\[\]{},=<>!|·×÷−≤≥≠√∛π∞²³])""",
    re.VERBOSE,
)

_UNARY_FUNCTIONS = {
    "sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan, "cot": sympy.cot,
    "sec": sympy.sec, "csc": sympy.csc, "cosec": sympy.csc,
    "asin": sympy.asin, "acos": sympy.acos, "atan": sympy.atan, "acot": sympy.acot,
    "arcsin": sympy.asin, "arccos": sympy.acos, "arctan": sympy.atan, "arccot": sympy.acot,
    "sinh": sympy.sinh, "cosh": sympy.cosh, "tanh": sympy.tanh,
    "asinh": sympy.asinh, "acosh": sympy.acosh, "atanh": sympy.atanh,
    "arcsinh": sympy.asinh, "arccosh": sympy.acosh, "arctanh": sympy.atanh,
    "exp": sympy.exp, "ln": sympy.log, "sqrt": sympy.sqrt, "cbrt": sympy.cbrt,
    "abs": sympy.Abs, "Abs": sympy.Abs, "floor": sympy.floor, "ceil": sympy.ceiling,
    "ceiling": sympy.ceiling, "factorial": sympy.factorial,
}
_INVERSE_TRIG = {sympy.sin: sympy.asin, sympy.cos: sympy.acos, sympy.tan: sympy.atan}
GREEK_NAMES = {"alpha", "beta", "gamma", "delta", "theta", "phi", "lambda", "mu", "sigma", "omega",
          "tau", "rho", "epsilon", "psi", "eta", "zeta", "kappa", "nu", "xi", "chi"}
_RELATIONS = {"=": sympy.Eq, "==": sympy.Eq, "!=": sympy.Ne, "≠": sympy.Ne, "<": sympy.Lt,
              ">": sympy.Gt, "<=": sympy.Le, "=<": sympy.Le, "≤": sympy.Le, ">=": sympy.Ge,
              "=>": sympy.Ge, "≥": sympy.Ge}
_CLOSERS = {"(": ")", "[": "]", "{": "}"}
# Longest all-letter word read as a product of one-letter variables (`xy`); longer words
# ("two", "yes") are prose, and so are these short ones.
_MAX_LETTER_PRODUCT = 2
# Letters read as function names when applied to a single variable: f(x), g(t).
_FUNCTION_LETTERS = {"f", "g", "h", "F", "G"}
_SHORT_WORDS = {"is", "no", "of", "to", "in", "at", "on", "or", "an", "as", "be", "by", "if",
                "it", "so", "up", "we", "do", "go", "he", "me", "my", "us", "am", "ok"}


@dataclass(frozen=True)
class Token:
    kind: str  # "num", "name", "op", "end"
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    """Split `text` into allow-listed tokens; anything else is a PlainParseError."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise PlainParseError(f"unexpected character {text[pos]!r} at position {pos}")
        kind = m.lastgroup or ""
        if kind != "space":
            value = m.group(0)
            tokens.append(Token(kind, "-" if value == "−" else value, pos))
        pos = m.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


def parse_plain(text: str, *, variables: frozenset[str] = frozenset()) -> sympy.Basic:
    """One plain-text expression or relation as an unevaluated sympy tree.

    `variables` names letters that are unknowns here even though they are usually constants
    (`e`, `E`, `i`, `I`), e.g. when the question says "Solve for e".
    """
    parser = _Parser(tokenize(text), variables)
    tree = parser.relation()
    if parser.peek().kind != "end":
        tok = parser.peek()
        raise PlainParseError(f"unexpected {tok.text!r} at position {tok.pos}")
    return tree


def number_from_literal(text: str) -> sympy.Rational:
    """A decimal literal as an exact rational (`0.1` is 1/10), never a binary float."""
    digits = sum(c.isdigit() for c in text)
    if digits > MAX_DIGITS:
        raise PlainParseError(f"number with {digits} digits is too long")
    exponent = re.search(r"[eE]([+-]?\d+)$", text)
    if exponent and abs(int(exponent.group(1))) > MAX_DIGITS:
        raise PlainParseError("exponent of a number in e-notation is too large")
    value = Fraction(text)
    return sympy.Rational(value.numerator, value.denominator)


def _neg(x: sympy.Basic) -> sympy.Basic:
    return sympy.Mul(sympy.S.NegativeOne, x, evaluate=False)


def _div(a: sympy.Basic, b: sympy.Basic) -> sympy.Basic:
    return sympy.Mul(a, sympy.Pow(b, sympy.S.NegativeOne, evaluate=False), evaluate=False)


class _Parser:
    def __init__(self, tokens: list[Token], variables: frozenset[str]) -> None:
        self.variables = variables
        # `xe^x` is x * e^x: a short unknown word is its letters, each its own atom, so a
        # power binds to the last letter only.
        self.tokens = []
        for tok in tokens:
            if self.is_letter_product(tok):
                self.tokens.extend(Token("name", ch, tok.pos + k) for k, ch in enumerate(tok.text))
            else:
                self.tokens.append(tok)
        self.i = 0
        self.bars = 0  # how many |...| we are inside: a `|` then closes instead of opening
        self.depth = 0

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def take(self) -> Token:
        tok = self.peek()
        self.i += 1
        return tok

    def expect(self, text: str) -> None:
        tok = self.take()
        if tok.text != text:
            raise PlainParseError(f"expected {text!r} at position {tok.pos}, found {tok.text!r}")

    def is_op(self, *texts: str) -> bool:
        tok = self.peek()
        return tok.kind == "op" and tok.text in texts

    # relation := sum (relop sum)*
    def relation(self) -> sympy.Basic:
        left = self.sum()
        parts = []
        while self.peek().kind == "op" and self.peek().text in _RELATIONS:
            rel = _RELATIONS[self.take().text]
            right = self.sum()
            parts.append(rel(left, right, evaluate=False))
            left = right
        if not parts:
            return left
        return parts[0] if len(parts) == 1 else sympy.And(*parts, evaluate=False)

    def sum(self) -> sympy.Basic:
        terms = [self.product()]
        while self.is_op("+", "-"):
            sign = self.take().text
            term = self.product()
            terms.append(_neg(term) if sign == "-" else term)
        return terms[0] if len(terms) == 1 else sympy.Add(*terms, evaluate=False)

    def starts_operand(self) -> bool:
        """Whether the next token can start a factor of an implicit product (`2x`, `x(x+1)`)."""
        tok = self.peek()
        if tok.kind == "num":
            return True
        if tok.kind == "name":
            return tok.text.lower() not in ("and", "or")
        return tok.kind == "op" and (tok.text in ("(", "[", "{", "√", "∛", "∞")
                                     or (tok.text == "|" and self.bars == 0))

    def product(self) -> sympy.Basic:
        left = self.unary()
        while True:
            if self.is_op("*", "·", "×"):
                self.take()
                left = sympy.Mul(left, self.unary(), evaluate=False)
            elif self.is_op("/", "÷"):
                self.take()
                left = _div(left, self.unary())
            elif self.starts_operand():
                if self.peek().kind == "num" and self.peek(-1).kind == "num":
                    raise PlainParseError(f"two numbers in a row at position {self.peek().pos}")
                left = sympy.Mul(left, self.power(), evaluate=False)
            else:
                return left

    def unary(self) -> sympy.Basic:
        if self.is_op("-"):
            self.take()
            return _neg(self.unary())
        if self.is_op("+"):
            self.take()
            return self.unary()
        return self.power()

    def power(self) -> sympy.Basic:
        base = self.postfix()
        if self.is_op("^", "**"):
            self.take()
            return sympy.Pow(base, self.unary(), evaluate=False)
        if self.is_op("²", "³"):
            exponent = sympy.Integer(2 if self.take().text == "²" else 3)
            return sympy.Pow(base, exponent, evaluate=False)
        return base

    def postfix(self) -> sympy.Basic:
        node = self.atom()
        while self.is_op("!") and self.peek(1).text != "=":
            self.take()
            node = sympy.factorial(node, evaluate=False)
        return node

    def group(self, opener: str) -> sympy.Basic:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise PlainParseError("brackets nested too deeply")
        closer = _CLOSERS[opener]
        saved_bars, self.bars = self.bars, 0
        items = [self.relation()]
        while self.is_op(","):
            self.take()
            items.append(self.relation())
        self.expect(closer)
        self.bars = saved_bars
        self.depth -= 1
        # A nested list is an ordered Tuple whatever its brackets; `shapes` gives the top-level
        # brackets their meaning (set, interval, point) before this parser sees the items.
        return items[0] if len(items) == 1 else sympy.Tuple(*items)

    def atom(self) -> sympy.Basic:
        tok = self.take()
        if tok.kind == "num":
            return number_from_literal(tok.text)
        if tok.kind == "name":
            return self.name(tok)
        if tok.kind == "op":
            if tok.text in _CLOSERS:
                return self.group(tok.text)
            if tok.text == "|":
                self.bars += 1
                inner = self.sum()
                self.bars -= 1
                self.expect("|")
                return sympy.Abs(inner, evaluate=False)
            if tok.text in ("√", "∛"):
                root = 2 if tok.text == "√" else 3
                return sympy.Pow(self.power(), sympy.Rational(1, root), evaluate=False)
            if tok.text == "π":
                return sympy.pi
            if tok.text == "∞":
                return sympy.oo
        raise PlainParseError(f"unexpected {tok.text or 'end of text'!r} at position {tok.pos}")

    def name(self, tok: Token) -> sympy.Basic:
        word = tok.text
        lower = word.lower()
        if word in self.variables:
            return sympy.Symbol(word)
        if lower == "pi" or word == "π":
            return sympy.pi
        if word in ("e", "E"):
            return sympy.E
        if word in ("i", "I"):
            return sympy.I
        if lower in ("oo", "inf", "infinity"):
            return sympy.oo
        if word in _UNARY_FUNCTIONS or lower in _UNARY_FUNCTIONS:
            return self.call(_UNARY_FUNCTIONS.get(word) or _UNARY_FUNCTIONS[lower])
        if lower == "log" or lower.startswith("log_") or lower in ("log10", "log2"):
            return self.log(lower)
        if word in _FUNCTION_LETTERS and self.applies_to_one_letter():
            self.take()
            arg = self.name(self.take())
            self.expect(")")
            return sympy.Function(word)(arg)
        if len(word) == 1 or "_" in word or lower in GREEK_NAMES:
            return sympy.Symbol(word.replace("{", "").replace("}", ""))
        raise PlainParseError(f"unknown word {word!r} at position {tok.pos}")

    def applies_to_one_letter(self) -> bool:
        """`f(x)` right after a function letter is an application, `h(h+1)` a product."""
        opener, arg, closer = self.peek(), self.peek(1), self.peek(2)
        return (opener.text == "(" and opener.pos == self.peek(-1).pos + 1
                and arg.kind == "name" and len(arg.text) == 1 and closer.text == ")")

    def is_letter_product(self, tok: Token) -> bool:
        word, lower = tok.text, tok.text.lower()
        return (tok.kind == "name" and word.isalpha() and 1 < len(word) <= _MAX_LETTER_PRODUCT
                and lower not in _SHORT_WORDS and word not in self.variables
                and lower not in _UNARY_FUNCTIONS and lower not in GREEK_NAMES
                and lower not in ("pi", "oo", "ln", "and", "or"))

    def call_argument(self) -> sympy.Basic:
        """The argument of a function: `(…)`, or juxtaposed factors as in `sin 2x`."""
        if self.is_op("("):
            self.take()
            return self.group("(")
        arg = self.power()
        while self.peek().kind == "name" and self.peek().text.lower() not in _UNARY_FUNCTIONS \
                and self.peek().text.lower() not in ("and", "or", "log", "ln"):
            arg = sympy.Mul(arg, self.power(), evaluate=False)
        return arg

    def call(self, func: Callable[..., sympy.Basic]) -> sympy.Basic:
        power = None
        if self.is_op("^", "**"):  # sin^2 x, sin^-1 x
            self.take()
            power = self.unary()
        arg = self.call_argument()
        if isinstance(arg, sympy.Tuple):
            raise PlainParseError(f"{func.__name__} takes one argument")
        if power is not None and func in _INVERSE_TRIG and power.doit() == -1:
            return _INVERSE_TRIG[func](arg, evaluate=False)
        if func is sympy.sqrt:
            node = sympy.Pow(arg, sympy.S.Half, evaluate=False)
        elif func is sympy.cbrt:
            node = sympy.Pow(arg, sympy.Rational(1, 3), evaluate=False)
        else:
            node = func(arg, evaluate=False)
        return node if power is None else sympy.Pow(node, power, evaluate=False)

    def log(self, lower: str) -> sympy.Basic:
        base: sympy.Basic | None = None
        if lower in ("log10", "log2"):
            base = sympy.Integer(int(lower[3:]))
        elif lower.startswith("log_"):
            sub = lower[4:].strip("{}")
            base = number_from_literal(sub) if sub.isdigit() else sympy.Symbol(sub)
        arg = self.call_argument()
        if isinstance(arg, sympy.Tuple) and len(arg) == 2 and base is None:
            arg, base = arg  # log(x, b), sympy's convention
        if base is None:  # plain `log` is the natural logarithm
            return sympy.log(arg, evaluate=False)
        return _div(sympy.log(arg, evaluate=False), sympy.log(base, evaluate=False))
