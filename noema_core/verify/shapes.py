"""The structure of an answer or reference: lists, sets, pairs, intervals, assignments, values.

The top level is read here, with our conventions, before either expression parser sees the
pieces: `x = 2, x = -3` is a list of assignments, `(x, y) = (2, 3)` a list of assignments,
`\\{1, 2\\}` a set, `(a, b)` a *pair* (a point or an open interval: the comparison decides from
context), `[a, b)` an interval, `A \\cup B` a union, `x = 3 \\pm 2` the list `5, 1`, and
`no real solutions` the empty set. Each leaf keeps its unevaluated tree (for form checks such
as "is this factored?"), its evaluated value, the precision its decimals show, and any
percent sign or unit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import sympy

from noema_core.verify.latex import LatexParseError, looks_like_latex, parse_latex
from noema_core.verify.limits import MAX_DIGITS, InputTooLarge
from noema_core.verify.plaintext import GREEK_NAMES, PlainParseError, parse_plain
from noema_core.verify.trees import MathObject, guard_tree, rebuild, short
from noema_core.verify.units import Unit, split_unit


class ShapeError(ValueError):
    """The text could not be read as a mathematical answer."""


@dataclass(frozen=True)
class Parsed:
    shape: str  # value, list, set, tuple, pair, interval, matrix, assign, empty, reals, dne,
    #             choice (a letter A-E; items: the letter read as mathematics, if it can be)
    value: object = None  # evaluated sympy object (value, interval, matrix)
    raw: object = None  # the unevaluated tree of a value, for form checks
    items: tuple[Parsed, ...] = ()
    text: str = ""
    tolerance: sympy.Rational = sympy.S.Zero  # one unit in the last decimal place shown
    percent: bool = False
    unit: Unit | None = None
    name: str = ""  # assign: the variable (or label such as f'(x)) on the left
    brackets: str = ""  # pair: "()" or "[]"
    joiner: str = ","  # list: ",", "and", "or" or "union"

    def with_(self, **changes) -> Parsed:
        return replace(self, **changes)

    def describe(self) -> str:
        """How the checker read this answer, as short text (the verdict's `expected`)."""
        if self.shape in ("value", "interval", "matrix", "reals", "empty"):
            text = {"reals": "all real numbers", "empty": "no solution"}.get(
                self.shape, short(self.value))
            text += "%" if self.percent else ""
            return f"{text} {self.unit.name}" if self.unit else text
        if self.shape == "assign":
            return f"{self.name} = {self.items[0].describe()}"
        if self.shape == "dne":
            return "does not exist"
        if self.shape == "choice":
            return f"choice {self.text}"
        inner = ", ".join(i.describe() for i in self.items)
        if self.shape == "set":
            return "{" + inner + "}"
        if self.shape in ("pair", "tuple"):
            return (self.brackets or "()")[0] + inner + (self.brackets or "()")[1]
        return inner


_EMPTY = re.compile(
    r"(?:there\s+(?:are|is)\s+)?no\s+(?:real\s+|complex\s+)?(?:solutions?|roots?|zeros?|values?)"
    r"(?:\s+exists?)?|none|no\s+solution|∅|\\emptyset|\\varnothing|\{\s*\}|\\\{\s*\\\}|"
    r"(?:the\s+)?empty\s+set", re.IGNORECASE)
_DNE = re.compile(r"dne|does\s+not\s+exist|undefined|diverges", re.IGNORECASE)
_REALS = re.compile(r"all\s+real\s+(?:numbers|values)(?:\s+of\s+\w)?|\\mathbb\s*\{?\s*R\s*\}?|ℝ|"
                    r"(?:any|every)\s+real\s+number|infinitely\s+many\s+solutions",
                    re.IGNORECASE)
_CHOICE = re.compile(r"(?:(?i:option|choice)\s+)?\(?\s*([A-E])\s*\)?")
_SEPARATOR = re.compile(r",|;|\s+(?:and|or)\s+|\\q?quad|\\cup|∪|\\lor|\\vee|\\land|\\wedge")
_NAME = re.compile(r"^\s*([A-Za-z](?:_\{?[A-Za-z0-9]+\}?)?|\\(?:theta|alpha|beta|phi|lambda))\s*$")
_LABEL = re.compile(r"^\s*(?:[A-Za-z]'*\s*\(\s*[A-Za-z]\s*\)|[A-Za-z]'+|d\^?\d?[A-Za-z]\s*/\s*"
                    r"d[A-Za-z]\^?\d?|\\frac\s*\{\s*d\^?\{?\d?\}?[A-Za-z]?\s*\}\s*\{\s*d[A-Za-z]"
                    r"\^?\{?\d?\}?\s*\})\s*$")
_PLUS_MINUS = re.compile(r"\\pm|±|\\mp|∓|\+\s*/\s*-|\+-")
_PERCENT = re.compile(r"^(?P<value>.*?)\s*(?:\\%|%|\\text\s*\{\s*%\s*\}|\s+percent)\s*$",
                      re.IGNORECASE)
_DECIMAL = re.compile(r"(?<![\d.])\d*\.(\d+)(?![\d.])")
_THOUSANDS = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_CLEANUPS = [
    (re.compile(r"^\s*(?:\$\$|\$|\\\(|\\\[)\s*|\s*(?:\$\$|\$|\\\)|\\\])\s*$"), ""),
    (re.compile(r"\\(?:displaystyle|textstyle|left|right|bigl|bigr|Bigl|Bigr)(?![a-zA-Z])"), ""),
    (re.compile(r"(?<!\\)\\[,;:! ]"), " "),  # spacing commands, before `;` splits a list
    (re.compile(r"\\langle"), "("),
    (re.compile(r"\\rangle"), ")"),
    (re.compile(r"\\(?:approx|simeq)|≈"), "="),
    (re.compile(r"\\text\s*\{\s*(and|or)\s*\}"), r" \1 "),
    (re.compile(r"\\(?:le|leq|leqslant)(?![a-zA-Z])"), "≤"),
    (re.compile(r"\\(?:ge|geq|geqslant)(?![a-zA-Z])"), "≥"),
    (re.compile(r"\\(?:ne|neq)(?![a-zA-Z])"), "≠"),
    (re.compile(r"−"), "-"),
]


def clean(text: str) -> str:
    """Strip math delimiters, sizing commands and end punctuation; unify relation symbols."""
    text = text.strip()
    for _ in range(2):
        for pattern, replacement in _CLEANUPS:
            text = pattern.sub(replacement, text)
        text = text.strip().rstrip(".").strip()
        if text.startswith("**") and text.endswith("**") and len(text) > 4:
            text = text[2:-2]
    return text


def answer_words(text: str) -> str:
    """Text with `\\text{...}` unwrapped, for matching phrases like "no real solutions"."""
    return re.sub(r"\\(?:text|mathrm|textbf)\s*\{([^{}]*)\}", r"\1", text).strip().rstrip(".")


def parse_answer(text: str, variables: frozenset[str] = frozenset()) -> Parsed:
    """Read an answer or reference text (see the module docstring for the conventions)."""
    text = clean(text)
    if not text:
        raise ShapeError("the answer is empty")
    words = answer_words(text)
    if _EMPTY.fullmatch(words):
        return Parsed("empty", value=sympy.S.EmptySet, text=text)
    if _DNE.fullmatch(words):
        return Parsed("dne", text=text)
    if _REALS.fullmatch(words):
        return Parsed("reals", value=sympy.S.Reals, text=text)
    choice = _CHOICE.fullmatch(words)
    if choice:  # a letter A-E: a multiple-choice answer, or the letter as mathematics
        try:
            as_math: tuple[Parsed, ...] = (parse_leaf(text, variables),)
        except (ShapeError, InputTooLarge):
            as_math = ()
        return Parsed("choice", text=choice.group(1), items=as_math)
    member = re.match(r"^([A-Za-z])\s*(?:\\in|∈)\s*(.+)$", text)
    if member:
        return parse_answer(member.group(2), variables).with_(name=member.group(1))
    parts, joiners = split_top(text)
    if len(parts) > 1 and not _THOUSANDS.match(text):
        items = [_parse_item(p, variables) for p in parts]
        joiner = "union" if "union" in joiners else "or" if "or" in joiners else (
            "and" if "and" in joiners else ",")
        return Parsed("list", items=tuple(_flatten(items)), text=text, joiner=joiner)
    return _parse_item(text, variables)


def split_top(text: str) -> tuple[list[str], set[str]]:
    """Split at separators outside brackets; also return which kinds of joiner were seen."""
    parts, joiners = [], set()
    depth, start, i = 0, 0, 0
    while i < len(text):
        ch = text[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0:
            m = _SEPARATOR.match(text, i)
            if m:
                word = m.group(0).strip().lstrip("\\")
                joiners.add("union" if word in ("cup", "∪") else "or" if word in (
                    "or", "lor", "vee") else "and" if word in ("and", "land", "wedge") else ",")
                parts.append(text[start:i])
                start = i = m.end()
                continue
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()], joiners


def _flatten(items: list[Parsed]) -> list[Parsed]:
    out: list[Parsed] = []
    for item in items:
        out.extend(item.items if item.shape == "list" and item.joiner == "," else [item])
    return out


def _bracket_group(text: str) -> tuple[str, str, str] | None:
    """(opener, inner, closer) when the whole text is one bracketed group."""
    offset = 1 if text.startswith("\\{") else 0
    if not text or text[offset] not in "([{":
        return None
    depth = 0
    for i in range(offset, len(text)):
        if text[i] in "([{":
            depth += 1
        elif text[i] in ")]}":
            depth -= 1
            if depth == 0:
                if i != len(text) - 1:
                    return None
                end = i - 1 if offset and text[i - 1] == "\\" else i
                return text[offset - 1 if offset else 0:offset + 1], text[offset + 1:end], text[i]
    return None


def _parse_item(text: str, variables: frozenset[str]) -> Parsed:
    if len(_PLUS_MINUS.findall(text)) == 1:
        variants = [_PLUS_MINUS.sub(sign, text) for sign in ("+", "-")]
        items = [_parse_item(v, variables) for v in variants]
        return Parsed("list", items=tuple(items), text=text, joiner="or")
    group = _bracket_group(text)
    if group is not None:
        return _parse_group(text, *group, variables)
    equals = _top_level_equals(text)
    if equals:
        lhs, rhs = text[:equals[0]].strip(), text[equals[-1] + 1:].strip()
        if _NAME.match(lhs) or _LABEL.match(lhs):
            name = re.sub(r"[\s{}]", "", lhs)
            return Parsed("assign", items=(parse_answer(rhs, variables),), text=text, name=name)
        names = _bracket_group(lhs)
        if names and names[0] == "(":
            return _assign_tuple(names[1], rhs, text, variables)
        if len(equals) > 1:  # a chain `2 + 3 = 5`: the answer is its last part
            return parse_answer(rhs, variables)
    return parse_leaf(text, variables)


def _top_level_equals(text: str) -> list[int]:
    found, depth = [], 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "=" and depth == 0 and text[i - 1:i] not in ("<", ">", "!", "=") \
                and text[i + 1:i + 2] not in ("=", ">", "<"):
            found.append(i)
    return found


def _assign_tuple(names_text: str, rhs: str, text: str, variables: frozenset[str]) -> Parsed:
    names = [n.strip() for n in names_text.split(",")]
    values = parse_answer(rhs, variables)
    if not all(_NAME.match(n) for n in names) or values.shape not in ("pair", "tuple") \
            or len(values.items) != len(names):
        raise ShapeError(f"cannot match {names_text!r} with {rhs!r}")
    items = tuple(Parsed("assign", items=(v,), text=f"{n} = {v.text}", name=n)
                  for n, v in zip(names, values.items, strict=True))
    return Parsed("list", items=items, text=text, joiner="and")


def _parse_group(text: str, opener: str, inner: str, closer: str,
                 variables: frozenset[str]) -> Parsed:
    parts, _ = split_top(inner)
    if opener in ("\\{", "{") and (opener == "\\{" or len(parts) > 1):
        items = tuple(parse_answer(p, variables) for p in parts)
        return Parsed("set", items=items, text=text) if items else Parsed(
            "empty", value=sympy.S.EmptySet, text=text)
    if len(parts) == 1:
        return parse_answer(inner, variables)
    items = tuple(parse_answer(p, variables) for p in parts)
    if opener == "[" and all(i.brackets == "[]" for i in items):  # [[1, 2], [3, 4]]
        rows = [[x.value for x in i.items] for i in items]
        if len({len(r) for r in rows}) == 1:
            return Parsed("matrix", value=sympy.Matrix(rows), text=text)
    if len(items) == 2 and opener in "([" and closer in ")]":
        if opener + closer in ("[)", "(]") or any(_is_infinite(i) for i in items):
            return Parsed("interval", value=_interval(items, opener, closer), text=text,
                          items=items, brackets=opener + closer)
        return Parsed("pair", items=items, text=text, brackets=opener + closer)
    return Parsed("tuple", items=items, text=text, brackets=opener + closer)


def _is_infinite(item: Parsed) -> bool:
    return item.shape == "value" and item.value in (sympy.oo, -sympy.oo)


def _interval(items: tuple[Parsed, ...], opener: str, closer: str) -> sympy.Set:
    a, b = (i.value for i in items)
    if not all(isinstance(v, sympy.Expr) and v.is_number for v in (a, b)):
        raise ShapeError("an interval needs numeric endpoints")
    return sympy.Interval(a, b, left_open=opener == "(", right_open=closer == ")")


def parse_leaf(text: str, variables: frozenset[str]) -> Parsed:
    """One expression, relation, matrix or set, with percent sign, unit and precision."""
    percent = _PERCENT.match(text)
    if percent and percent.group("value").strip():
        text = percent.group("value").strip()
    number_text, unit = split_unit(text)
    raw = parse_math(number_text, variables)
    value = rebuild(raw)
    words = [s.name for s in getattr(value, "free_symbols", ()) if _is_word(s.name)]
    if words:
        raise ShapeError(f"the answer is words, not mathematics ({words[0]!r})")
    tolerance = shown_precision(number_text)
    shape = "value"
    if isinstance(value, sympy.MatrixBase):
        shape = "matrix"
    elif isinstance(value, sympy.Set):
        shape = "interval"
    elif isinstance(value, sympy.Tuple):
        return Parsed("tuple", text=text, items=tuple(
            Parsed("value", value=v, raw=v, text=str(v)) for v in value), brackets="()")
    return Parsed(shape, value=value, raw=raw, text=text, tolerance=tolerance,
                  percent=bool(percent and percent.group("value").strip()), unit=unit)


_VARIABLE_NAME = re.compile(r"^([A-Za-z]+)(?:_\{?[A-Za-z0-9]+\}?)?$")


_SCIENTIFIC = re.compile(r"^\s*-?\d+(?:\.(?P<places>\d+))?\s*(?:(?:\\times|\\cdot|\*|×|·)\s*10\s*"
                         r"(?:\^|\*\*)\s*\{?\s*\(?(?P<exp>[-+]?\d+)\)?\s*\}?|[eE](?P<e>[-+]?\d+))\s*$")


def shown_precision(text: str) -> sympy.Rational:
    """One unit in the last decimal place written (0 when no decimal point is written);
    for scientific notation, scaled by the power of ten (`6.02 \\times 10^{23}`)."""
    scientific = _SCIENTIFIC.match(text)
    if scientific:
        places = len(scientific.group("places") or "")
        exponent = int(scientific.group("exp") or scientific.group("e"))
        if abs(exponent) <= MAX_DIGITS:
            return sympy.Rational(10) ** (exponent - places)
    places = [len(m.group(1)) for m in _DECIMAL.finditer(text)]
    return sympy.Rational(1, 10 ** max(places)) if places else sympy.S.Zero


def _is_word(name: str) -> bool:
    """A symbol from `\\text{two}` (prose), not a variable like x, x_1 or theta."""
    m = _VARIABLE_NAME.match(name)
    return m is None or (len(m.group(1)) > 1 and m.group(1).lower() not in GREEK_NAMES)


def parse_math(text: str, variables: frozenset[str] = frozenset()) -> MathObject:
    """Plain text or LaTeX into a guarded (size-checked), still unevaluated sympy tree."""
    order = (parse_latex, parse_plain) if looks_like_latex(text) else (parse_plain, parse_latex)
    errors = []
    for parse in order:
        try:
            tree = parse(text, variables=variables)
        except (PlainParseError, LatexParseError) as err:
            errors.append(str(err))
            continue
        guard_tree(tree)
        return tree
    raise ShapeError(f"could not parse {text[:80]!r}: {errors[0]}")


__all__ = ["InputTooLarge", "Parsed", "ShapeError", "clean", "parse_answer", "parse_math"]
