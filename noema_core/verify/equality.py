"""When are two sympy values the same? Numbers, expressions, equations and sets.

Guards against math-verify's known false positives at default settings:
- exact numbers compare exactly (rationals) or to 50 significant digits relative to their
  size, so 1/2^99 and 1/2^98 differ;
- a decimal matches a value when it is that value rounded, or truncated, to the decimal
  places it shows (`0.3333` and `0.333` match 1/3, `0.34` does not); two decimals match when
  the finer one rounds to the coarser one: |a - b| <= max(ulp(a), ulp(b)) / 2, where ulp is
  one unit in the last decimal place written (0 for an exact number), so `0.1` and `0.0`
  differ even though both could be roundings of 0.05;
- equations compare by their solution sets (proportional sides), never by collapsing both
  sides to 0.

Every function answers True, False or None ("could not decide").
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import sympy
from sympy.core.relational import Relational

if TYPE_CHECKING:
    from noema_core.verify.trees import MathObject

# Exact numbers: equal when they agree to this many significant digits.
_EXACT_DIGITS = 50
_EXACT_RELATIVE = sympy.Float(10) ** -45
# Expressions are compared at points drawn once from a seeded generator: each variable gets
# its own value at each point (exact rationals, so evaluation is reproducible).
_RANDOM = random.Random(20240607)
_MAX_SYMBOLS = 12
_POSITIVE_POINTS = [[sympy.Rational(_RANDOM.randint(1000, 32000), 10000)
                     for _ in range(_MAX_SYMBOLS)] for _ in range(6)]
_NEGATIVE_POINTS = [[-sympy.Rational(_RANDOM.randint(1000, 32000), 10000)
                     for _ in range(_MAX_SYMBOLS)] for _ in range(3)]
_SAME = 1e-18  # relative difference below which two evaluations agree
_DIFFERENT = 1e-9  # relative difference above which they certainly differ


def is_number(value: object) -> bool:
    return isinstance(value, sympy.Expr) and value.is_number


def numbers_equal(a: sympy.Expr, b: sympy.Expr, tolerance: sympy.Expr = sympy.S.Zero
                  ) -> bool | None:
    """Equality of two numbers, exact or within `tolerance` (on each of re and im)."""
    if a.has(sympy.oo, -sympy.oo, sympy.zoo) or b.has(sympy.oo, -sympy.oo, sympy.zoo):
        return a == b
    if a.is_Rational and b.is_Rational and not tolerance:
        return a == b
    try:
        diff = sympy.N(a - b, _EXACT_DIGITS)
        re_d, im_d = (abs(part) for part in diff.as_real_imag())
        if not (re_d.is_number and im_d.is_number) or re_d.has(sympy.nan) or im_d.has(sympy.nan):
            return None
        if tolerance:
            slack = sympy.Float(tolerance, 30) * (1 + sympy.Float(10) ** -12)
            return bool(re_d <= slack and im_d <= slack)
        scale = max(abs(sympy.N(a, _EXACT_DIGITS)), abs(sympy.N(b, _EXACT_DIGITS)))
        if scale == 0:
            return True
        return bool(max(re_d, im_d) <= _EXACT_RELATIVE * scale)
    except (TypeError, ValueError, ArithmeticError):
        return None


def decimals_equal(a: sympy.Expr, ulp_a: sympy.Expr, b: sympy.Expr, ulp_b: sympy.Expr
                   ) -> bool | None:
    """Numbers written with `ulp_*` precision (0 = exact): rounding or truncation agrees."""
    if not ulp_a and not ulp_b:
        return numbers_equal(a, b)
    rounded = numbers_equal(a, b, max(ulp_a, ulp_b) / 2)
    if rounded or (ulp_a and ulp_b):
        return rounded
    decimal, ulp, exact = (a, ulp_a, b) if ulp_a else (b, ulp_b, a)
    # Truncated toward zero: the exact value lies in [d, d + ulp) on the side away from zero.
    shift = [sympy.sign(part) * ulp / 2 for part in decimal.as_real_imag()]
    truncated = numbers_equal(exact, decimal + shift[0] + sympy.I * shift[1], ulp / 2)
    return truncated if truncated is not None else rounded


def _evaluate_at(expr: sympy.Expr, point: dict) -> complex | None:
    try:
        value = sympy.N(expr.xreplace(point), 30)
        re_v, im_v = value.as_real_imag()
        result = complex(float(re_v), float(im_v))
    except (TypeError, ValueError, ArithmeticError, AttributeError):
        return None
    if result != result or abs(result) == float("inf"):
        return None
    return result


def _spot_check(a: sympy.Expr, b: sympy.Expr, points: list) -> tuple[int, int]:
    """(agreeing points, differing points) among the points where both sides are defined."""
    symbols = sorted(a.free_symbols | b.free_symbols, key=lambda s: s.name)
    if len(symbols) > _MAX_SYMBOLS:
        return 0, 0
    agree = differ = 0
    for values in points:
        point = dict(zip(symbols, values, strict=False))
        va, vb = _evaluate_at(a, point), _evaluate_at(b, point)
        if va is None or vb is None:
            continue
        relative = abs(va - vb) / max(1.0, abs(va), abs(vb))
        if relative <= _SAME:
            agree += 1
        elif relative > _DIFFERENT:
            differ += 1
    return agree, differ


def expressions_equal(a: MathObject, b: MathObject) -> bool | None:
    """Equality of two expressions in the same variables, for every value of them."""
    if a == b:
        return True
    if not (isinstance(a, sympy.Expr) and isinstance(b, sympy.Expr)):
        return None
    if is_number(a) and is_number(b):
        return numbers_equal(a, b)
    agree, differ = _spot_check(a, b, _POSITIVE_POINTS)
    if differ:
        return False
    if agree >= 3:
        neg_agree, neg_differ = _spot_check(a, b, _NEGATIVE_POINTS)
        if not neg_differ:
            return True
    # Few usable points (or equal only for positive values): ask sympy for a proof.
    try:
        if sympy.simplify(a - b) == 0:
            return True
    except (TypeError, ValueError, ArithmeticError, RecursionError):
        return None
    return None


def equations_equal(a: Relational, b: Relational) -> bool | None:
    """Two equations are the same when their sides differ by a nonzero constant factor."""
    fa, fb = a.lhs - a.rhs, b.lhs - b.rhs
    if fa == 0 or fb == 0:  # identities like 2 = 2 say nothing to compare
        return None if fa == fb else False
    symbols = fa.free_symbols | fb.free_symbols
    if not symbols:
        return None
    ratio = sympy.cancel(fa / fb)
    if not ratio.free_symbols:
        return bool(ratio != 0)
    if len(symbols) == 1:  # not proportional, but maybe the same roots: (x-2)^2 = 0 and x = 2
        (x,) = symbols
        return sets_equal(sympy.solveset(fa, x), sympy.solveset(fb, x))
    return False


def sets_equal(a: sympy.Set, b: sympy.Set) -> bool | None:
    if a == b:
        return True
    try:
        empty = a.symmetric_difference(b).is_empty
    except (TypeError, ValueError, NotImplementedError, AttributeError):
        return None
    return None if empty is None else bool(empty)
