"""One LaTeX expression or relation into a sympy tree, through latex2sympy2_extended.

latex2sympy2_extended (math-verify's parser) is grammar based (ANTLR). Its one path from text
to `sympify` is how it turns a number token into a number (`sympy.Number(text)` parses the
string with `parse_expr`); we replace those two helpers with exact decimal conversion, so no
part of the model's text ever reaches `sympify`, `parse_expr` or `eval`. We keep symbol case
(so `E`, `C`, `X` survive until our own conventions apply), read `\\log` without a base as
the natural logarithm, and apply the constant conventions: `e` is Euler's number and `i` the
imaginary unit unless the question uses them as unknowns.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import sympy
from latex2sympy2_extended import latex2sympy2 as _latex2sympy2
from latex2sympy2_extended.latex2sympy2 import ConversionConfig, latex2sympy
from latex2sympy2_extended.math_normalization import NormalizationConfig, normalize_latex

from noema_core.verify.plaintext import number_from_literal

if TYPE_CHECKING:
    from noema_core.verify.trees import MathObject


class LatexParseError(ValueError):
    """The LaTeX could not be parsed into mathematics."""


# Normalisation without unit stripping (it would turn `2t` into `2`) or box handling (done
# by extraction); `shapes` strips units, percent signs and degree marks itself.
_NORMALIZATION = NormalizationConfig(basic_latex=True, units=False, malformed_operators=True,
                                     nits=True, boxed="none", equations=False)
_CONVERSION = ConversionConfig(lowercase_symbols=False, interpret_as_mixed_fractions=True)

_CONSTANT_SPELLINGS = [
    (re.compile(r"\\(?:mathrm|text|mathit|operatorname)\s*\{\s*([ie])\s*\}"), r"\1"),
    (re.compile(r"\\imath\b"), "i"),
    (re.compile(r"\\log(?![_a-zA-Z])"), r"\\ln"),  # \log x means ln x, as in sympy
    (re.compile(r"\\(?:left|right|bigl|bigr|Bigl|Bigr|big|Big)(?![a-zA-Z])"), ""),
    (re.compile(r"\\[,;:!]|\\q?quad\b|~"), " "),
    (re.compile(r"\\operatorname\s*\{\s*(\w+)\s*\}"), r"\\\1"),
]


def _number_token(self: _latex2sympy2._Latex2Sympy, text: str) -> sympy.Rational:
    """latex2sympy's number tokens (`12`, `0.5`, `1,000`) as exact rationals, without sympify."""
    return number_from_literal(text.replace(",", ""))


def _thousands_number(text: str) -> sympy.Rational:
    """`1,000` is 1000; `0,5` (a decimal comma) is 1/2, as latex2sympy reads them."""
    if "," in text and text.strip().startswith("0"):
        return number_from_literal(text.strip().replace(",", "."))
    return number_from_literal(text.replace(",", "").replace(" ", ""))


_latex2sympy2._Latex2Sympy.parse_number = _number_token
_latex2sympy2.convert_number = _thousands_number


def looks_like_latex(text: str) -> bool:
    return "\\" in text or "{" in text or "}" in text


# Characters no mathematical answer uses, and letter runs that are words, not products
# of variables (`touch` would otherwise be t*o*u*c*h).
_NOT_MATH = re.compile(r"[\"`@?;]|__|(?<![A-Za-z}'])'")
_WORD = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{4,}")
_NAMED_GROUPS = re.compile(r"\\(?:text|mathrm|textrm|mbox|begin|end)\s*\{[^{}]*\}")
_FUNCTION_WORDS = {"sinh", "cosh", "tanh", "coth", "sech", "csch", "arcsin", "arccos", "arctan",
                   "sqrt", "frac", "sign", "ceil", "floor", "cosec"}


def parse_latex(text: str, *, variables: frozenset[str] = frozenset()) -> MathObject:
    """Parse one LaTeX expression/relation; constants follow the conventions above."""
    for pattern, replacement in _CONSTANT_SPELLINGS:
        text = pattern.sub(replacement, text)
    bad = _NOT_MATH.search(text)
    if bad:
        raise LatexParseError(f"unexpected {bad.group(0)!r} in mathematics")
    word = next((w for w in _WORD.findall(_NAMED_GROUPS.sub("", text))
                 if w.lower() not in _FUNCTION_WORDS), None)
    if word:
        raise LatexParseError(f"the word {word!r} is not mathematics")
    text = normalize_latex(text, _NORMALIZATION).strip()
    if not text:
        raise LatexParseError("empty expression")
    try:
        tree = latex2sympy(text, normalization_config=None, is_real=None,
                           conversion_config=_CONVERSION)
    except RecursionError as err:
        raise LatexParseError("expression nested too deeply") from err
    except Exception as err:  # the ANTLR listener raises bare Exceptions with a caret diagram
        first_line = str(err).split("\n", 1)[0] or type(err).__name__
        raise LatexParseError(first_line) from err
    return apply_constants(tree, variables)


def apply_constants(tree: object, variables: frozenset[str]) -> MathObject:
    """`i` is the imaginary unit and `e`/`E` Euler's number unless they are unknowns here."""
    if not isinstance(tree, (sympy.Basic, sympy.MatrixBase)):
        raise LatexParseError("not a mathematical expression")
    mapping: dict = {}
    for name in ("i", "I"):
        if name not in variables:
            mapping[sympy.Symbol(name)] = sympy.I
    for name in ("e", "E"):
        if name not in variables:
            mapping[sympy.Symbol(name)] = sympy.E
    if "e" in variables:
        mapping[sympy.E] = sympy.Symbol("e")
    return tree.xreplace(mapping) if mapping else tree
