"""Reference mode: is a parsed answer equivalent to a parsed reference?

Structure is compared here with the conventions of `shapes` (lists and sets unordered, tuples
ordered, pairs read as points unless the context is about intervals), leaves with the guards
of `equality` and the units/percent rules below. Shapes we do not model fall back to
math-verify's `verify`.

Percent: `p%` is p/100. A bare number is also read as a percentage when the question asks for
one or the reference itself carries a percent sign (the format the answer is expected in);
a bare reference never matches a percentage answer of the same digits (25 is not 25%).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy
from sympy.core.relational import Relational

from noema_core.verify.context import Context
from noema_core.verify.equality import (
    decimals_equal,
    equations_equal,
    expressions_equal,
    is_number,
    sets_equal,
)
from noema_core.verify.shapes import Parsed
from noema_core.verify.trees import drop_additive_constant, fold_case

_SET_SHAPES = ("interval", "reals", "empty")


@dataclass(frozen=True)
class Decision:
    same: bool | None  # None: could not decide
    method: str
    detail: str = ""


def compare(ref: Parsed, ans: Parsed, ctx: Context) -> Decision:
    """Decide whether `ans` says the same as `ref`."""
    ref, ans = _unwrap(ref, ans)
    if ref.shape == "assign" and ans.shape == "assign":
        if _plain_name(ref.name) and _plain_name(ans.name) and \
                ref.name.lower() != ans.name.lower():
            return Decision(False, "reference:names", f"names {ans.name}, expected {ref.name}")
        return compare(ref.items[0], ans.items[0], ctx)
    if ref.shape == ans.shape == "choice":
        same = ref.text.upper() == ans.text.upper()
        return Decision(same, "reference:choice", "" if same else f"choice {ans.text}")
    if "choice" in (ref.shape, ans.shape):  # one letter against mathematics: read it as such
        ref_math, ans_math = _as_math(ref), _as_math(ans)
        if ref_math is None or ans_math is None:
            return Decision(False, "reference:choice", "a choice letter against a value")
        return compare(ref_math, ans_math, ctx)
    if "dne" in (ref.shape, ans.shape):
        same = ref.shape == ans.shape
        return Decision(same, "reference:exists", "" if same else "existence differs")
    if _is_set_like(ref, ctx) or _is_set_like(ans, ctx):
        return _compare_sets(ref, ans, ctx)
    if ref.shape == "matrix" or ans.shape == "matrix":
        return _compare_matrices(ref, ans, ctx)
    if _is_mapping(ref) or _is_mapping(ans):
        return _compare_mappings(ref, ans, ctx)
    if ref.shape in ("list", "set") or ans.shape in ("list", "set"):
        return _compare_unordered(ref, ans, ctx)
    if ref.shape in ("tuple", "pair") or ans.shape in ("tuple", "pair"):
        return _compare_ordered(ref, ans, ctx)
    return compare_values(ref, ans, ctx)


def _as_math(p: Parsed) -> Parsed | None:
    if p.shape != "choice":
        return p
    return p.items[0] if p.items else None


def _plain_name(name: str) -> bool:
    return len(name.split("_")[0]) == 1 and name[0].isalpha()


def _unwrap(ref: Parsed, ans: Parsed) -> tuple[Parsed, Parsed]:
    """Drop an assignment on one side only (`x = 5` vs `5`); one-item lists are their item."""
    def single(p: Parsed) -> Parsed:
        while p.shape in ("list", "set") and len(p.items) == 1:
            p = p.items[0]
        return p
    ref, ans = single(ref), single(ans)
    if ref.shape == "assign" and ans.shape != "assign":
        ref = single(ref.items[0])
    elif ans.shape == "assign" and ref.shape != "assign":
        ans = single(ans.items[0])
    return ref, ans


def _is_mapping(p: Parsed) -> bool:
    names = [i.name.lower() for i in p.items if i.shape == "assign"]
    return p.shape == "list" and len(names) == len(p.items) > 1 and len(set(names)) == len(names)


def _is_set_like(p: Parsed, ctx: Context) -> bool:
    if p.shape in _SET_SHAPES or (p.shape == "list" and p.joiner == "union"):
        return True
    if p.shape == "pair" and ctx.intervals:
        return True
    if p.shape == "value" and isinstance(p.value, (Relational, sympy.And, sympy.Or)):
        return not isinstance(p.value, sympy.Eq)
    return p.shape == "list" and all(_is_set_like(i, ctx) for i in p.items)


def as_set(p: Parsed, ctx: Context) -> sympy.Set | None:
    """The set of real numbers an answer describes, or None if it does not describe one."""
    if p.shape in ("interval", "reals", "empty"):
        return p.value
    if p.shape == "assign":
        return as_set(p.items[0], ctx)
    if p.shape == "pair":
        a, b = (i.value for i in p.items)
        if is_number(a) and is_number(b):
            return sympy.Interval(a, b, p.brackets[0] == "(", p.brackets[1] == ")")
        return None
    if p.shape in ("list", "set"):
        parts = [as_set(i, ctx) for i in p.items]
        if any(s is None for s in parts):
            return None
        return sympy.Intersection(*parts) if p.joiner == "and" else sympy.Union(*parts)
    if p.shape == "value":
        value = p.value
        if is_number(value):
            return sympy.FiniteSet(value)
        symbols = getattr(value, "free_symbols", set())
        if isinstance(value, (Relational, sympy.And, sympy.Or)) and len(symbols) == 1:
            try:
                return value.as_set()
            except (NotImplementedError, TypeError, ValueError):
                return None
    return None


def _compare_sets(ref: Parsed, ans: Parsed, ctx: Context) -> Decision:
    a, b = as_set(ref, ctx), as_set(ans, ctx)
    if a is None or b is None:
        return Decision(None, "reference:set", "could not read both as sets of numbers")
    same = sets_equal(a, b)
    return Decision(same, "reference:set", "" if same else f"the sets differ ({_short(b)})")


def _compare_matrices(ref: Parsed, ans: Parsed, ctx: Context) -> Decision:
    a, b = _as_matrix(ref), _as_matrix(ans)
    if a is None or b is None:
        return Decision(False, "reference:matrix", "a matrix against something else")
    if a.shape != b.shape:
        return Decision(False, "reference:matrix", f"shape {b.shape}, expected {a.shape}")
    for x, y in zip(a, b, strict=True):
        same = _values_equal(x, ref.tolerance, y, ans.tolerance)
        if not same:
            return Decision(same, "reference:matrix", f"entry {y} differs from {x}")
    return Decision(True, "reference:matrix")


def _as_matrix(p: Parsed) -> sympy.Matrix | None:
    if p.shape == "matrix":
        return sympy.Matrix(p.value)
    if p.shape in ("tuple", "pair") and all(i.shape == "value" for i in p.items):
        return sympy.Matrix([i.value for i in p.items])  # a vector as a column
    return None


def _mapping(p: Parsed) -> dict[str, Parsed]:
    return {i.name.lower(): i.items[0] for i in p.items}


def _compare_mappings(ref: Parsed, ans: Parsed, ctx: Context) -> Decision:
    """`x = 2, y = 3` against `(x, y) = (2, 3)`, or against `(2, 3)` in alphabetical order."""
    if _is_mapping(ref) and _is_mapping(ans):
        a, b = _mapping(ref), _mapping(ans)
        if set(a) != set(b):
            return Decision(False, "reference:mapping", f"names {sorted(b)}, expected {sorted(a)}")
        pairs = [(a[k], b[k]) for k in sorted(a)]
    else:
        mapping, other = (ref, ans) if _is_mapping(ref) else (ans, ref)
        if other.shape not in ("tuple", "pair") or len(other.items) != len(mapping.items):
            return Decision(False, "reference:mapping", "different number of values")
        named = _mapping(mapping)
        ordered = [named[k] for k in sorted(named)]
        pairs = list(zip(ordered, other.items, strict=True))
        if mapping is ans:
            pairs = [(o, m) for m, o in pairs]
    for r, a in pairs:
        decision = compare(r, a, ctx)
        if not decision.same:
            return decision
    return Decision(True, "reference:mapping")


def _compare_unordered(ref: Parsed, ans: Parsed, ctx: Context) -> Decision:
    refs = ref.items if ref.shape in ("list", "set") else (ref,)
    answers = ans.items if ans.shape in ("list", "set") else (ans,)
    undecided = False
    for r in refs:
        found = [compare(r, a, ctx).same for a in answers]
        if True not in found:
            undecided |= None in found
            if None not in found:
                return Decision(False, "reference:list", f"missing {r.describe()}")
    for a in answers:
        found = [compare(r, a, ctx).same for r in refs]
        if True not in found and None not in found:
            return Decision(False, "reference:list", f"{a.describe()} is not in the reference")
        undecided |= True not in found
    return Decision(None if undecided else True, "reference:list")


def _compare_ordered(ref: Parsed, ans: Parsed, ctx: Context) -> Decision:
    if ref.shape not in ("tuple", "pair") or ans.shape not in ("tuple", "pair"):
        return Decision(False, "reference:tuple", "a tuple against a single value")
    if len(ref.items) != len(ans.items):
        return Decision(False, "reference:tuple",
                        f"{len(ans.items)} components, expected {len(ref.items)}")
    for r, a in zip(ref.items, ans.items, strict=True):
        decision = compare(r, a, ctx)
        if not decision.same:
            return Decision(decision.same, "reference:tuple", decision.detail)
    return Decision(True, "reference:tuple")


def _values_equal(a: sympy.Expr, ulp_a: sympy.Expr, b: sympy.Expr, ulp_b: sympy.Expr
                  ) -> bool | None:
    if is_number(a) and is_number(b):
        return decimals_equal(a, ulp_a, b, ulp_b)
    return expressions_equal(a, b)


def compare_values(ref: Parsed, ans: Parsed, ctx: Context) -> Decision:
    """Two single values: numbers (units, percent, precision), expressions or equations."""
    a, b = ref.value, ans.value
    if ref.shape != "value" or ans.shape != "value":
        return _math_verify(ref, ans)
    if isinstance(a, sympy.Eq) and isinstance(b, sympy.Eq):
        same = equations_equal(fold_case(a), fold_case(b))
        return Decision(same, "reference:equation", "" if same else "different equations")
    if isinstance(a, Relational) or isinstance(b, Relational):
        return _math_verify(ref, ans)
    if is_number(a) and is_number(b):
        return _compare_numbers(ref, ans, ctx)
    a, b = (fold_case(drop_additive_constant(x)) for x in (a, b))
    same = expressions_equal(a, b)
    return Decision(same, "reference:symbolic", "" if same else f"{_short(b)} ≠ {_short(a)}")


def _compare_numbers(ref: Parsed, ans: Parsed, ctx: Context) -> Decision:
    a, b = ref.value, ans.value
    method = "reference:decimal" if ref.tolerance or ans.tolerance else "reference:numeric"
    ta, tb = ref.tolerance, ans.tolerance
    if ref.unit and ans.unit and ref.unit.dimension and ans.unit.dimension:
        if ref.unit.dimension != ans.unit.dimension:
            return Decision(False, "reference:units",
                            f"unit {ans.unit.name} is not a {ref.unit.dimension}")
        a, ta = a * ref.unit.factor, ta * ref.unit.factor
        b, tb = b * ans.unit.factor, tb * ans.unit.factor
        method = "reference:units"
    else:  # 30° against pi/6 converts; against a bare 30 both read in degrees
        ref_degrees, ans_degrees = _in_degrees(ref), _in_degrees(ans)
        if ref_degrees and not ans_degrees and b.has(sympy.pi):
            a, ta = a * ref.unit.factor, ta * ref.unit.factor
        elif ans_degrees and not ref_degrees and a.has(sympy.pi):
            b, tb = b * ans.unit.factor, tb * ans.unit.factor
    percent_context = ctx.percent or ref.percent
    candidates_a = _percent_readings(a, ta, ref.percent, percent_context)
    candidates_b = _percent_readings(b, tb, ans.percent, percent_context)
    undecided = False
    for x, tx in candidates_a:
        for y, ty in candidates_b:
            same = decimals_equal(x, tx, y, ty)
            if same:
                return Decision(True, method)
            undecided |= same is None
    return Decision(None if undecided else False, method, f"{_short(b)} ≠ {_short(a)}")


def _in_degrees(p: Parsed) -> bool:
    return bool(p.unit and p.unit.dimension == "angle" and p.unit.factor != 1)


def _percent_readings(value: sympy.Expr, tolerance: sympy.Expr, has_percent: bool, context: bool
                      ) -> list[tuple[sympy.Expr, sympy.Expr]]:
    if has_percent:
        return [(value / 100, tolerance / 100)]
    if context:
        return [(value, tolerance), (value / 100, tolerance / 100)]
    return [(value, tolerance)]


def _math_verify(ref: Parsed, ans: Parsed) -> Decision:
    from math_verify import verify

    try:
        same = verify(ref.value, ans.value, timeout_seconds=None, float_rounding=10,
                      numeric_precision=30)
    except Exception:  # math-verify raises freely on shapes it does not support
        return Decision(None, "reference:math-verify", "math-verify could not compare them")
    return Decision(bool(same), "reference:math-verify", "" if same else "math-verify differs")


def _short(value: object) -> str:
    text = str(value)
    return text if len(text) <= 80 else text[:79] + "…"
