"""Independent mode: classify the question, compute with sympy, compare with the answer.

Checks by kind (equations, systems and inequalities are in `solving`):
- evaluate: the exact value, compared at the precision the answer shows;
- simplify: equal in value, and no more complex than sympy's simplification (a numeric
  fraction must be written in lowest terms);
- factor: equal when expanded, and every factor irreducible over the rationals;
- expand: equal, and already expanded;
- differentiate: equal to sympy's derivative;
- integrate: the answer's derivative equals the integrand (constants of integration ignored);
- definite integral, limit, sum: the value sympy computes (numerically when it has no closed form).
"""

from __future__ import annotations

import re
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, NoReturn, TypeVar

import sympy

from noema_core.verify.classify import NotCheckable, Task, classify
from noema_core.verify.context import Context
from noema_core.verify.equality import (
    decimals_equal,
    expressions_equal,
    is_number,
    numbers_equal,
)
from noema_core.verify.families import check_digits, check_exact, check_yes_no
from noema_core.verify.shapes import Parsed, parse_answer
from noema_core.verify.solving import check_equation, check_inequality, check_system
from noema_core.verify.trees import (
    contains_operation,
    drop_additive_constant,
    fold_case,
    rebuild,
    short,
)
from noema_core.verify.verdict import CONTRADICTED, UNVERIFIABLE, VERIFIED, Verdict, outcome

if TYPE_CHECKING:
    from types import FrameType

_T = TypeVar("_T")

_FRACTION = re.compile(r"^\s*(?P<sign>-?)\s*(?:\\[dtc]?frac\s*\{\s*(?P<a>\d+)\s*\}\s*\{\s*"
                       r"(?P<b>\d+)\s*\}|(?P<p>\d+)\s*/\s*(?P<q>\d+)|(?P<n>\d+))\s*$")


_SIMPLIFY_SLACK = 2  # operations an answer may have beyond sympy's simplified form


class SoftTimeout(Exception):
    """An optional step (a nicer `expected`, a simplification) ran out of its small budget."""


@contextmanager
def soft_budget(seconds: float) -> Iterator[None]:
    """Interrupt the block after `seconds` (worker main thread only; elsewhere no limit)."""
    if threading.current_thread() is not threading.main_thread() or seconds <= 0:
        yield
        return

    def stop(signum: int, frame: FrameType | None) -> NoReturn:
        raise SoftTimeout

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _optional(compute: Callable[[], _T], seconds: float = 1.0) -> _T | None:
    """The result of an optional computation, or None if it fails or takes too long."""
    try:
        with soft_budget(seconds):
            return compute()
    except (SoftTimeout, Exception):
        return None


def _decide(same: bool | None, method: str, yes: str, no: str, expected: str) -> Verdict:
    if same is None:
        return outcome(UNVERIFIABLE, method, "sympy could not decide whether they are equal",
                       expected)
    return outcome(VERIFIED if same else CONTRADICTED, method, yes if same else no, expected)


def check_independently(question: str, answer: str, ctx: Context,
                        earlier: tuple[str, ...] = ()) -> Verdict:
    """Classify, compute and compare; NotCheckable/ShapeError propagate as "could not check"."""
    task = classify(question, ctx, earlier)
    if task.kind == "yes-no":
        return check_yes_no(task.expr, task.extras["claim"], answer).with_(
            kind="yes-no", mode="independent")
    if task.kind == "digits":
        return check_digits(task.expr, task.extras["base"], answer).with_(
            kind="base", mode="independent")
    ans = parse_answer(answer, ctx.variables)
    verdict = _dispatch(task, ans, ctx)
    return verdict.with_(kind=task.kind, mode="independent")


def _dispatch(task: Task, ans: Parsed, ctx: Context) -> Verdict:
    if task.kind == "solve":
        return check_equation(task, ans, ctx)
    if task.kind == "system":
        return check_system(task, ans)
    if task.kind == "inequality":
        return check_inequality(task, ans, ctx)
    leaf = _single_value(ans)
    if task.kind == "exact":
        return check_exact(task.expr, task.extras["places"], leaf)
    checks = {"evaluate": _check_value, "sum": _check_value, "definite-integral": _check_value,
              "limit": _check_value, "simplify": _check_simplify, "factor": _check_factor,
              "expand": _check_expand, "differentiate": _check_derivative,
              "integrate": _check_antiderivative}
    return checks[task.kind](task, leaf)


def _single_value(ans: Parsed) -> Parsed:
    while ans.shape in ("assign", "choice") or (ans.shape in ("list", "set")
                                                and len(ans.items) == 1):
        if not ans.items:
            raise NotCheckable(f"the answer {ans.text!r} is not a value")
        ans = ans.items[0]
    if ans.shape == "dne":
        return ans
    if ans.shape != "value" or not isinstance(ans.value, sympy.Expr):
        raise NotCheckable(f"expected a single value or expression, got a {ans.shape}")
    if contains_operation(ans.value):
        raise NotCheckable("the answer still contains an unevaluated integral, derivative, "
                           "limit or sum")
    return ans.with_(value=fold_case(ans.value), raw=fold_case(ans.raw))


def _exact_value(task: Task):
    """The value the question asks for: sympy's, or a 30-digit numeric one as a fallback."""
    if task.kind == "limit":
        point, direction = task.bounds
        try:
            return sympy.limit(task.expr, task.var, point, dir=direction)
        except ValueError:  # the one-sided limits differ
            return None
    if task.kind == "definite-integral":
        integral = sympy.Integral(task.expr, (task.var, *task.bounds))
        value = _optional(integral.doit, 2.0)
        return value if value is not None and not value.has(sympy.Integral) else \
            sympy.N(integral, 30)
    if task.kind == "evaluate" and getattr(task.expr, "free_symbols", None) \
            and not task.extras.get("symbolic"):
        names = ", ".join(sorted(s.name for s in task.expr.free_symbols))
        raise NotCheckable(f"the expression has unknowns ({names}) the question gives no "
                           "values for")
    value = task.expr.doit() if hasattr(task.expr, "doit") else task.expr
    if isinstance(value, sympy.Basic) and value.has(*_OPERATIONS):
        raise NotCheckable("sympy found no closed form for the sum, product or integral")
    _cross_check_infinite(task.expr, value)
    return sympy.expand(value) if is_number(value) and value.has(sympy.I) else value


_OPERATIONS = (sympy.Sum, sympy.Product, sympy.Integral, sympy.Limit)


def _cross_check_infinite(expr: object, value: object) -> None:
    """sympy's closed forms of infinite sums and products are sometimes wrong: trust one
    only when sympy's own numeric evaluation of the series agrees with it."""
    if not isinstance(expr, sympy.Basic):
        return
    infinite = [node for node in sympy.preorder_traversal(expr)
                if isinstance(node, (sympy.Sum, sympy.Product))
                and any(bound.has(sympy.oo) for limit in node.limits for bound in limit[1:])]
    if not infinite:
        return
    numeric = _optional(lambda: sympy.N(expr, 20), 2.0)
    if numeric is None or not numeric.is_number or numeric.has(*_OPERATIONS) \
            or numbers_equal(value, numeric, abs(numeric) * 10**-12 + 10**-15) is not True:
        raise NotCheckable("sympy's closed form for the infinite series could not be confirmed "
                           "numerically")


def _check_value(task: Task, leaf: Parsed) -> Verdict:
    value = _exact_value(task)
    method = f"{task.kind}:sympy"
    if value is None or value in (sympy.zoo, sympy.nan):
        same = leaf.shape == "dne"
        return _decide(same, method, "sympy agrees that it does not exist",
                       "sympy finds that it does not exist", "does not exist")
    if leaf.shape == "dne":
        return outcome(CONTRADICTED, method, f"it exists: {short(value)}", short(value))
    expected = short(value)
    if is_number(value) and is_number(leaf.value):
        # A numeric fallback (30 digits) is only trusted to 20 significant digits.
        ulp = max(abs(value), 1) * sympy.Rational(1, 10**20) if value.has(sympy.Float) else 0
        same = decimals_equal(value, sympy.S(ulp), leaf.value, leaf.tolerance)
    else:
        same = expressions_equal(value, leaf.value)
    return _decide(same, method, f"equals sympy's value {expected}",
                   f"sympy computes {expected}", expected)


def _fraction_form(text: str) -> tuple[int, int] | None:
    m = _FRACTION.match(text.strip().strip("$"))
    if not m:
        return None
    if m.group("n"):
        return int(m.group("n")), 1
    return int(m.group("a") or m.group("p")), int(m.group("b") or m.group("q"))


def _check_simplify(task: Task, leaf: Parsed) -> Verdict:
    expr = task.expr
    same = expressions_equal(expr, leaf.value) if not is_number(expr) else \
        decimals_equal(expr, sympy.S.Zero, leaf.value, leaf.tolerance)
    if not same:
        return _decide(same, "simplify:value", "", f"not equal to {short(expr)}", short(expr))
    if expr.is_Rational:
        parts = _fraction_form(leaf.text)
        if parts is None:
            return outcome(CONTRADICTED, "simplify:form",
                           "equal in value, but not written as a fraction", short(expr))
        a, b = parts
        if sympy.gcd(a, b) != 1:
            return outcome(CONTRADICTED, "simplify:form",
                           f"equal in value, but {a}/{b} is not in lowest terms", short(expr))
        return outcome(VERIFIED, "simplify:value+form", "equal, and in lowest terms",
                       short(expr))
    radical = _reducible_radical(leaf.raw)
    if radical is not None:
        return outcome(CONTRADICTED, "simplify:form", f"equal in value, but the radical "
                       f"{short(radical)} can be simplified", short(sympy.simplify(expr)))
    simplest = _optional(lambda: sympy.simplify(expr), 2.0)
    if simplest is None:
        return outcome(UNVERIFIABLE, "simplify:value", "equal in value, but sympy could not "
                       "simplify the expression to compare forms", short(expr))
    # The answer as written (its unevaluated tree: sympy would cancel (x-1)(x+1)/(x-1)),
    # with a little slack for how differently equal forms count.
    if sympy.count_ops(leaf.raw) <= sympy.count_ops(simplest) + _SIMPLIFY_SLACK:
        return outcome(VERIFIED, "simplify:value+form", "equal, and no more complex than "
                       "sympy's simplification", short(simplest))
    return outcome(CONTRADICTED, "simplify:form", "equal in value, but not simplified "
                   f"(sympy gives {short(simplest)})", short(simplest))


def _reducible_radical(raw: sympy.Basic) -> sympy.Pow | None:
    """A root of an integer with a perfect-power factor (√50 = 5√2), as written, or None."""
    for node in sympy.preorder_traversal(raw):
        if isinstance(node, sympy.Pow) and node.base.is_Integer and node.exp.is_Rational \
                and node.exp.q > 1 and 1 < abs(node.base) < 10**12 \
                and any(p >= node.exp.q for p in sympy.factorint(abs(node.base)).values()):
            return node
    return None


def _factors(raw: sympy.Basic) -> list:
    """The factors of an answer as written (its unevaluated tree), powers reduced to bases."""
    raw = raw.args[0] if isinstance(raw, sympy.UnevaluatedExpr) else raw
    if isinstance(raw, sympy.Mul):
        return [f for arg in raw.args for f in _factors(arg)]
    if isinstance(raw, sympy.Pow) and raw.exp.is_Integer and raw.exp > 0:
        return _factors(raw.base)
    return [raw]


def _check_factor(task: Task, leaf: Parsed) -> Verdict:
    expected = _optional(lambda: sympy.factor(task.expr), 2.0)
    shown = short(expected if expected is not None else task.expr)
    same = expressions_equal(sympy.expand(task.expr), sympy.expand(leaf.value))
    if not same:
        return _decide(same, "factor:value", "", "not equal to the expression when expanded",
                       shown)
    for factor in _factors(leaf.raw):
        value = rebuild(factor)
        if is_number(value) or not value.free_symbols:
            continue
        try:
            _, parts = sympy.factor_list(value)
        except (sympy.PolynomialError, NotImplementedError):
            continue
        if len(parts) > 1 or any(m > 1 for _, m in parts):
            return outcome(CONTRADICTED, "factor:form",
                           f"equal, but the factor {short(value)} can be factored further",
                           shown)
    return outcome(VERIFIED, "factor:value+form", "equal when expanded, and every factor is "
                   "irreducible", shown)


def _check_expand(task: Task, leaf: Parsed) -> Verdict:
    expected = sympy.expand(task.expr)
    same = expressions_equal(expected, leaf.value)
    if not same:
        return _decide(same, "expand:value", "", f"sympy expands it to {short(expected)}",
                       short(expected))
    if sympy.expand(leaf.value) != leaf.value:
        return outcome(CONTRADICTED, "expand:form", "equal, but not fully expanded",
                       short(expected))
    return outcome(VERIFIED, "expand:value+form", "equal, and fully expanded", short(expected))


def _on_the_real_line(task: Task, *exprs):
    """The expressions with the variable declared real, as calculus questions mean it
    (d/dx ln|x| is then 1/x, not an expression in re(x) and im(x))."""
    real = sympy.Symbol(task.var.name, real=True)
    return [e.xreplace({task.var: real}) for e in exprs], real


def _check_derivative(task: Task, leaf: Parsed) -> Verdict:
    (expr, answer), x = _on_the_real_line(task, task.expr, leaf.value)
    expected = sympy.diff(expr, x, task.order)
    same = expressions_equal(expected, answer)
    return _decide(same, "differentiate:sympy", "equals sympy's derivative",
                   f"sympy's derivative is {short(expected)}", short(expected))


def _check_antiderivative(task: Task, leaf: Parsed) -> Verdict:
    (integrand, answer), x = _on_the_real_line(task, task.expr,
                                               drop_additive_constant(leaf.value))
    derivative = sympy.diff(answer, x)
    expected = _optional(lambda: sympy.integrate(integrand, x), 1.0)
    shown = f"{short(expected)} + C" if expected is not None and not expected.has(
        sympy.Integral) else f"an antiderivative of {short(integrand)}"
    same = expressions_equal(derivative, integrand)
    return _decide(same, "integrate:differentiate", "differentiating the answer gives the "
                   "integrand", f"differentiating the answer gives {short(derivative)}, not "
                   f"{short(integrand)}", shown)
