"""Operations on parsed (still unevaluated) sympy trees: a size guard, evaluation, clean-up.

Both parsers build trees without evaluating them, so `10^{10^{10}}` is three harmless nodes.
`guard_tree` bounds how big every exact number in the tree could get (in digits) and refuses a
tree before sympy would try to compute it; only then does `rebuild` evaluate it bottom-up.
"""

from __future__ import annotations

import math
import re

import sympy
from sympy.core.relational import Relational

from noema_core.verify.limits import (
    MAX_DIGITS,
    MAX_FACTORIAL,
    MAX_SYMBOLIC_EXPONENT,
    MAX_TREE_NODES,
    InputTooLarge,
)

# Digits of an exponent above which we do not even evaluate the exponent to look at it.
_SMALL_NUMBER_DIGITS = 7
_MAX_DEPTH = 200
_UNEVALUATED_OPERATIONS = (sympy.Integral, sympy.Derivative, sympy.Limit, sympy.Sum,
                           sympy.Product)

# What the parsers give: an expression, relation or set (all sympy.Basic), or a matrix.
MathObject = sympy.Basic | sympy.MatrixBase


def guard_tree(expr: MathObject) -> None:
    """Raise InputTooLarge if evaluating `expr` could build a huge number or blow up."""
    nodes = 0
    stack = [expr]
    while stack:
        node = stack.pop()
        nodes += 1
        if nodes > MAX_TREE_NODES:
            raise InputTooLarge(f"expression too large (more than {MAX_TREE_NODES} parts)")
        stack.extend(_children(node))
    _digits(expr, 0)


def _children(node: object) -> tuple:
    if isinstance(node, sympy.MatrixBase):
        return tuple(node)
    return getattr(node, "args", ()) if isinstance(node, sympy.Basic) else ()


def _digits(node: object, depth: int) -> float | None:
    """Upper bound on the digits of `node`'s exact value (None: not a plain number)."""
    if depth > _MAX_DEPTH:
        raise InputTooLarge("expression nested too deeply")
    if isinstance(node, sympy.MatrixBase) or not isinstance(node, sympy.Basic):
        for child in _children(node):
            _digits(child, depth + 1)
        return None
    if node.is_Integer:
        return _int_digits(int(node))
    if node.is_Rational:
        return max(_int_digits(int(node.p)), _int_digits(int(node.q)))
    if node.is_Float:
        sign, man, exp, bc = node._mpf_
        return abs(exp + bc) * 0.302 + 17
    if node.is_Atom:
        return None if node.free_symbols else 1.0
    if isinstance(node, sympy.Pow):
        return _pow_digits(node, depth)
    if isinstance(node, (sympy.factorial, sympy.gamma)):
        return _factorial_digits(node, depth)
    if isinstance(node, sympy.exp):  # e^z: as big as a power, even though never exact
        return _pow_digits(sympy.Pow(sympy.E, node.args[0], evaluate=False), depth)
    sizes = [_digits(child, depth + 1) for child in node.args]
    if node.free_symbols or any(s is None for s in sizes):
        return None
    if isinstance(node, (sympy.Add, sympy.Mul)):
        return sum(sizes) + 1  # a common denominator multiplies the parts
    return max(sizes, default=0) + 1  # functions (sin, log, Abs...) do not grow numbers


def _int_digits(n: int) -> float:
    return max(1, n.bit_length()) * 0.30103  # >= log10(n): digits of a power scale with it


def _small_value(node: sympy.Basic, depth: int) -> sympy.Expr | None:
    """The exact value of a numeric subtree known to be small, or None if it is not."""
    size = _digits(node, depth + 1)
    if size is None or size > _SMALL_NUMBER_DIGITS:
        return None
    return rebuild(node)


def _pow_digits(node: sympy.Pow, depth: int) -> float | None:
    base, exponent = node.args
    base_size = _digits(base, depth + 1)
    exponent_size = _digits(exponent, depth + 1)
    if exponent.free_symbols or exponent_size is None:
        return None
    value = _small_value(exponent, depth)
    if value is None or not value.is_number or not value.is_finite:
        if base_size is not None and base_size <= 2 and rebuild(base) in (0, 1, -1):
            return 1.0
        raise InputTooLarge("exponent too large to evaluate safely")
    magnitude = float(abs(value.as_real_imag()[0])) + float(abs(value.as_real_imag()[1]))
    if base_size is None:
        if magnitude > MAX_SYMBOLIC_EXPONENT:
            raise InputTooLarge(f"exponent {value} is above the limit of {MAX_SYMBOLIC_EXPONENT}")
        return None
    digits = magnitude * base_size
    if digits > MAX_DIGITS:
        raise InputTooLarge(f"number too large to evaluate safely (about {digits:.3g} digits)")
    return digits


def _factorial_digits(node: sympy.Function, depth: int) -> float | None:
    (arg,) = node.args
    if arg.free_symbols:
        _digits(arg, depth + 1)
        return None
    value = _small_value(arg, depth)
    if value is None or not value.is_number or abs(value) > MAX_FACTORIAL:
        raise InputTooLarge(f"factorial argument above the limit of {MAX_FACTORIAL}")
    n = float(abs(value))
    return n * math.log10(max(n, 2)) + 1


def rebuild(expr: MathObject) -> MathObject:
    """Evaluate a guarded tree bottom-up; floats become the exact decimals they were written as.

    Relations stay unevaluated (`Eq(2, 3)` must not collapse to False), and integrals,
    derivatives, limits and sums are rebuilt but not carried out.
    """
    if isinstance(expr, sympy.MatrixBase):
        return sympy.Matrix(expr.rows, expr.cols, [rebuild(x) for x in expr])
    if not isinstance(expr, sympy.Basic):
        return expr
    if expr.is_Float:
        return sympy.Rational(str(expr))
    if expr.is_Atom:
        return expr
    if isinstance(expr, sympy.UnevaluatedExpr):
        return rebuild(expr.args[0])
    args = [rebuild(a) for a in expr.args]
    if isinstance(expr, Relational):
        return type(expr)(*args, evaluate=False)
    if isinstance(expr, _UNEVALUATED_OPERATIONS):
        return type(expr)(*args)
    return expr.func(*args)


def fold_case(expr: MathObject, keep: frozenset[str] = frozenset()) -> MathObject:
    """Read one-letter variables case-insensitively (`X` is `x`) unless both cases occur."""
    symbols = getattr(expr, "free_symbols", set())
    names = {s.name for s in symbols}
    mapping = {}
    for s in symbols:
        lower = s.name.lower()
        if s.name != lower and len(s.name.split("_")[0]) == 1 and lower not in names \
                and s.name not in keep:
            mapping[s] = sympy.Symbol(lower)
    return expr.xreplace(mapping) if mapping else expr


INTEGRATION_CONSTANTS = frozenset({"C", "K", "C_1", "C_0", "c"})


def drop_additive_constant(expr: MathObject, names: frozenset[str] = INTEGRATION_CONSTANTS
                           ) -> MathObject:
    """`F + C` without the `C`: the arbitrary constant of an antiderivative."""
    if isinstance(expr, sympy.Add):
        kept = [a for a in expr.args if not (isinstance(a, sympy.Symbol) and a.name in names)]
        if len(kept) < len(expr.args):
            return sympy.Add(*kept)
    return expr


def contains_operation(expr: object) -> bool:
    """Whether an answer still contains an integral, derivative, limit, sum or product."""
    return isinstance(expr, sympy.Basic) and expr.has(*_UNEVALUATED_OPERATIONS)


def short(expr: object, limit: int = 300) -> str:
    """A readable, bounded rendering of a result for the verdict's `expected`."""
    text = _set_text(expr) if isinstance(expr, sympy.Set) else _plain(expr)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _plain(expr: object) -> str:
    """sympy's text with `^` for powers and `i` for the imaginary unit (`2 + 3i`)."""
    text = str(expr).replace("**", "^")
    text = re.sub(r"(?<![A-Za-z_])I(?![A-Za-z_(])", "i", text)
    return re.sub(r"(?<=\d)\*i(?![A-Za-z_(])", "i", text)


def _set_text(s: sympy.Set) -> str:
    """Intervals as `(-oo, -2) ∪ (2, oo)` rather than sympy's `Union(Interval.open(...))`."""
    if isinstance(s, sympy.Interval):
        return (f"{'(' if s.left_open else '['}{short(s.start)}, "
                f"{short(s.end)}{')' if s.right_open else ']'}")
    if isinstance(s, sympy.Union):
        return " ∪ ".join(_set_text(part) for part in s.args)
    if isinstance(s, sympy.FiniteSet):
        return "{" + ", ".join(short(v) for v in s) + "}"
    return {sympy.S.Reals: "all real numbers", sympy.S.EmptySet: "no solution"}.get(
        s, _plain(s))
