"""Equations: linear in one variable, quadratics with rational roots, 2x2 linear systems.

Solutions move one term or one factor per step and state each intermediate equation. Answers
are checked with sympy by substituting them back into the equation built from the same numbers.
"""

from __future__ import annotations

import random
from fractions import Fraction

import sympy

from noema_core.training.curriculum.notation import (
    boxed,
    frac,
    frac_latex,
    linear,
    polynomial,
    signed,
)
from noema_core.training.curriculum.phrasing import casual, in_latex, powers, spacing
from noema_core.training.curriculum.problem import Problem

VARIABLES = "xxxxxxyntabkmpz"
SOLVE_Q = ["Solve {eq}", "Solve {eq}.", "Solve for {v}: {eq}", "find {v}: {eq}",
           "Find {v} if {eq}.", "{eq}, what is {v}?", "Solve the equation {eq}.",
           "What value of {v} satisfies {eq}?", "Solve ${eq}$.", "{eq}. Solve for {v}.",
           "solve {eq}", "{eq}", "{eq}, solve for {v}", "{eq}. {v} = ?", "{eq}, find {v}",
           "what is {v} if {eq}", "What is {v} if {eq}?", "find {v} when {eq}",
           "What value of {v} makes {eq} true?", "{v} = ? if {eq}", "Solve {eq} for {v}.",
           "{eq} solve", "solve: {eq}", "If {eq}, what is {v}?", "Find the value of {v}: {eq}",
           "{eq}, {v} = ?", "Solve for {v}\n{eq}", "{eq}\nsolve for {v}", "{eq}, solve it",
           "solve for {v} in {eq}", "Find {v}.\n{eq}", "what's {v} in {eq}?"]
QUADRATIC_Q = ["Find the roots of {eq}.", "find the roots of {eq}", "roots of {eq}?",
               "What are the solutions of {eq}?", "Solve the quadratic {eq}",
               "What {v} satisfies {eq}?", "I need the solutions to {eq}",
               "Factor and solve {eq}.", "What are the roots of {eq}?", "Solve {eq} by factoring."]
ZEROS_Q = ["Find the zeros of {p}.", "zeros of {p}", "What are the roots of {p}?",
           "Where is {p} equal to zero?", "When is {p} = 0?", "find the roots of {p}"]


def equation_as_typed(rng: random.Random, left: str, right: str) -> str:
    """`left = right` or, as people also write it, `right = left`."""
    return f"{right} = {left}" if rng.random() < 0.2 else f"{left} = {right}"


def constant_first(a: int, b: int, var: str) -> str:
    """b + ax as people also write it: '10 - x', '5 + 3y' (b nonzero)."""
    return f"{b} {'-' if a < 0 else '+'} {linear(abs(a), 0, var)}"


def _nonzero(rng: random.Random, low: int, high: int) -> int:
    return rng.choice([n for n in range(low, high + 1) if n != 0])


def isolate(a: int, rhs: Fraction, var: str) -> list[str]:
    """Steps from `a·var = rhs` to `var = value`."""
    if a == 1:
        return []
    if a == -1:
        return [f"Multiply both sides by -1: {var} = {frac(-rhs)}."]
    value = rhs / a
    shown = f"{frac(rhs)}/{signed(a)}" if a > 0 else f"{frac(rhs)}/({a})"
    return [f"Divide both sides by {a}: {var} = {shown} = {frac(value)}."]


def move_constant(lhs_a: int, b: int, rhs: Fraction, var: str,
                  left: str | None = None) -> tuple[list[str], Fraction]:
    """Steps from `a·var + b = rhs` to `a·var = rhs - b` (`left`: how the term without the
    constant is written, when it is not `a·var`, e.g. `x/4`)."""
    if b == 0:
        return [], rhs
    new_rhs = rhs - b
    verb = f"Subtract {b} from" if b > 0 else f"Add {-b} to"
    left = left or linear(lhs_a, 0, var)
    return [f"{verb} both sides: {left} = {frac(rhs)} {'-' if b > 0 else '+'} {abs(b)} = "
            f"{frac(new_rhs)}."], new_rhs


def linear_equation(rng: random.Random, check: bool = True) -> Problem:
    var = rng.choice(VARIABLES)
    x0 = rng.randint(-12, 15)
    form = rng.choice(["ax+b=c", "ax+b=c", "a(x+b)=c", "ax+b=cx+d", "x/a+b=c"])
    steps: list[str] = []
    if form == "ax+b=c":
        a, b = _nonzero(rng, -9, 12), rng.randint(-20, 20)
        c = a * x0 + b
        equation = f"{linear(a, b, var)} = {c}"
        left = constant_first(a, b, var) if b and rng.random() < 0.2 else linear(a, b, var)
        shown = equation_as_typed(rng, left, str(c))
        more, rhs = move_constant(a, b, Fraction(c), var)
        steps += more
        lhs_a, sympy_lhs, sympy_rhs = a, (a, b), (0, c)
    elif form == "a(x+b)=c":
        a, b = _nonzero(rng, 2, 9), _nonzero(rng, -9, 9)
        c = a * (x0 + b)
        equation = f"{a}({linear(1, b, var)}) = {c}"
        shown = equation_as_typed(rng, f"{a}({linear(1, b, var)})", str(c))
        steps.append(f"Expand: {linear(a, a * b, var)} = {c}.")
        more, rhs = move_constant(a, a * b, Fraction(c), var)
        steps += more
        lhs_a, sympy_lhs, sympy_rhs = a, (a, a * b), (0, c)
    elif form == "x/a+b=c":
        a, b = rng.randint(2, 9), rng.randint(-20, 20)
        x0 = a * rng.randint(-6, 8)
        c = x0 // a + b
        over = f"{var}/{a}"
        left = f"{over} {'-' if b < 0 else '+'} {abs(b)}" if b else over
        equation = f"{left} = {c}"
        shown = equation_as_typed(rng, left, str(c))
        steps += move_constant(1, b, Fraction(c), var, left=over)[0]
        steps.append(f"Multiply both sides by {a}: {var} = {c - b} × {a} = {x0}.")
        lhs_a, rhs = 1, Fraction(x0)
        sympy_lhs, sympy_rhs = (sympy.Rational(1, a), b), (0, c)
    else:
        a, c = _nonzero(rng, -6, 9), _nonzero(rng, -6, 9)
        while a == c:
            c = _nonzero(rng, -6, 9)
        b = rng.randint(-15, 15)
        d = (a - c) * x0 + b
        equation = f"{linear(a, b, var)} = {linear(c, d, var)}"
        shown = equation
        lhs_a = a - c
        verb = f"Subtract {linear(c, 0, var)} from" if c > 0 else f"Add {linear(-c, 0, var)} to"
        steps.append(f"{verb} both sides: {linear(lhs_a, b, var)} = {d}.")
        more, rhs = move_constant(lhs_a, b, Fraction(d), var)
        steps += more
        sympy_lhs, sympy_rhs = (a, b), (c, d)
    steps += isolate(lhs_a, rhs, var)
    if not steps or not steps[-1].startswith(("Divide", "Multiply")):
        steps.append(f"So {var} = {x0}.")
    if check:
        s = sympy.Symbol(var)
        left = sympy_lhs[0] * s + sympy_lhs[1]
        right = sympy_rhs[0] * s + sympy_rhs[1]
        # Linear with a nonzero x coefficient: one root, and x0 satisfies the equation.
        assert (left - right).diff(s) != 0 and (left - right).subs(s, x0) == 0, equation
    question = casual(rng, rng.choice(SOLVE_Q).format(eq=in_latex(rng, spacing(rng, shown)),
                                                       v=var))
    return Problem("linear_equation", question, " ".join(steps) + f" {boxed(str(x0))}",
                   str(x0), ("linear_equation", equation))


def _quadratic_question(rng: random.Random, equation: str, var: str) -> str:
    typed = powers(rng, equation)
    if typed.endswith(" = 0") and rng.random() < 0.12:
        return rng.choice(ZEROS_Q).format(p=spacing(rng, typed[:-4]))
    left, right = typed.split(" = ")
    typed = in_latex(rng, spacing(rng, equation_as_typed(rng, left, right)))
    return rng.choice(SOLVE_Q + QUADRATIC_Q * 2).format(eq=typed, v=var)


# --- quadratics ------------------------------------------------------------------------

def quadratic_equation(rng: random.Random, check: bool = True) -> Problem:
    """(p1·x - q1)(p2·x - q2) = 0 with small integers; leading coefficient 1 most of the time."""
    var = rng.choice("xxxxxt")
    p1 = 1 if rng.random() < 0.7 else rng.choice([2, 3])
    q1 = _nonzero(rng, -15, 15) if p1 == 1 else rng.choice(
        [q for q in range(-15, 16) if q and Fraction(q, p1).denominator == p1])
    q2 = rng.randint(-15, 15)
    a, b, c = p1, -(p1 * q2 + q1), q1 * q2
    coefs = {2: a, 1: b, 0: c}
    roots = sorted({Fraction(q1, p1), Fraction(q2)})
    steps: list[str] = []
    form = rng.random()
    if form < 0.2 and c != 0:  # given as ax^2 + bx = -c: move everything to one side first
        equation = f"{polynomial({2: a, 1: b}, var)} = {-c}"
        steps.append(f"Move everything to one side: {polynomial(coefs, var)} = 0.")
    else:
        equation = f"{polynomial(coefs, var)} = 0"
    factors = f"({linear(p1, -q1, var)})({linear(1, -q2, var)})"
    if c == 0:
        steps.append(f"Factor out {var}: {var}({linear(a, b, var)}) = 0.")
    elif p1 == 1:
        steps.append(f"We need two numbers whose product is {c} and whose sum is {b}: "
                     f"{-q1} and {-q2}. So {polynomial(coefs, var)} = {factors} = 0.")
    else:
        steps.append(f"Factor: {polynomial(coefs, var)} = {factors} = 0.")
    if len(roots) == 1:
        steps.append(f"So {var} = {frac(roots[0])} (a double root).")
        answer = frac_latex(roots[0])
    else:
        steps.append(f"So {var} = {frac(roots[0])} or {var} = {frac(roots[1])}.")
        answer = ", ".join(frac_latex(r) for r in roots)
    if check:
        s = sympy.Symbol(var)
        expr = a * s**2 + b * s + c
        assert all(expr.subs(s, sympy.Rational(r)) == 0 for r in roots), equation
        # Two distinct roots found, or the discriminant says there is only one.
        assert len(roots) == 2 or sympy.Integer(b) ** 2 - 4 * a * c == 0, equation
    question = casual(rng, _quadratic_question(rng, equation, var))
    return Problem("quadratic_equation", question, " ".join(steps) + f" {boxed(answer)}",
                   answer, ("quadratic_equation", a, b, c))


# --- systems ---------------------------------------------------------------------------

SYSTEM_Q = ["Solve the system {e1} and {e2}.", "Solve: {e1}, {e2}",
            "Find {u} and {v} if {e1} and {e2}.", "Solve {e1}; {e2}",
            "Solve the system of equations: {e1}, {e2}.",
            "Solve $\\begin{{cases}} {e1} \\\\ {e2} \\end{{cases}}$",
            "{e1} and {e2}. What are {u} and {v}?", "Solve simultaneously: {e1}, {e2}",
            "solve simultaneously {e1} and {e2}", "{e1} and {e2}", "{e1}, {e2}",
            "{e1}; {e2}", "{e1}\n{e2}", "solve the system\n{e1}\n{e2}",
            "Find {u} and {v}: {e1}, {e2}", "What are {u} and {v} if {e1} and {e2}?",
            "Solve for {u} and {v}: {e1}, {e2}", "{e1} and {e2}, find {u} and {v}",
            "{e1}, {e2}. what are {u} and {v}?", "Can you solve these: {e1}, {e2}",
            "solve {e1}, {e2}", "{e1} and {e2}, find {u}, {v}",
            "$\\begin{{cases}} {e1} \\\\ {e2} \\end{{cases}}$",
            "Solve the simultaneous equations {e1} and {e2}.",
            "solve the pair of equations {e1} and {e2}", "{e1}\n{e2}\nsolve for {u} and {v}"]
# x and y most often; other pairs as people name their unknowns
VARIABLE_PAIRS = [("x", "y")] * 6 + [("a", "b"), ("a", "b"), ("m", "n"), ("m", "n"),
                                     ("p", "q"), ("s", "t"), ("u", "v")]


def _two_var(a: int, b: int, c: int, u: str = "x", v: str = "y") -> str:
    return f"{polynomial({1: a}, u)} {'+' if b > 0 else '-'} " \
        f"{polynomial({1: abs(b)}, v)} = {c}"


def linear_system(rng: random.Random, check: bool = True) -> Problem:
    x0, y0 = rng.randint(-9, 9), rng.randint(-9, 9)
    while True:
        a1, b1, a2, b2 = (_nonzero(rng, -5, 5) for _ in range(4))
        if a1 * b2 - a2 * b1 != 0:
            break
    u, v = rng.choice(VARIABLE_PAIRS)
    c1, c2 = a1 * x0 + b1 * y0, a2 * x0 + b2 * y0
    e1, e2 = _two_var(a1, b1, c1, u, v), _two_var(a2, b2, c2, u, v)
    steps = []
    # Eliminate v: scale so the v coefficients match, then subtract the second from the first.
    m1, m2 = b2, b1
    if abs(m1) != 1:
        steps.append(f"Multiply the first equation by {m1}: "
                     f"{_two_var(a1 * m1, b1 * m1, c1 * m1, u, v)}.")
    elif m1 == -1:
        steps.append(f"Multiply the first equation by -1: {_two_var(-a1, -b1, -c1, u, v)}.")
    if abs(m2) != 1:
        steps.append(f"Multiply the second equation by {m2}: "
                     f"{_two_var(a2 * m2, b2 * m2, c2 * m2, u, v)}.")
    elif m2 == -1:
        steps.append(f"Multiply the second equation by -1: {_two_var(-a2, -b2, -c2, u, v)}.")
    det, rhs = a1 * m1 - a2 * m2, c1 * m1 - c2 * m2
    steps.append(f"Subtract the second from the first: {linear(det, 0, u)} = {rhs}.")
    steps += isolate(det, Fraction(rhs), u)
    left = f"{polynomial({1: a1}, u).replace(u, '')}" if abs(a1) != 1 else \
        ("-" if a1 < 0 else "")
    shown = f"{left} × {signed(x0)}" if abs(a1) != 1 else f"{left}{signed(x0)}"
    rest = c1 - a1 * x0
    steps.append(f"Substitute {u} = {x0} into the first equation: {shown} "
                 f"{'+' if b1 > 0 else '-'} {polynomial({1: abs(b1)}, v)} = {c1}, so "
                 f"{linear(b1, 0, v)} = {c1} - {signed(a1 * x0)} = {rest}.")
    steps += isolate(b1, Fraction(rest), v)
    answer = f"{u} = {x0}, {v} = {y0}"
    steps.append(f"So {u} = {x0} and {v} = {y0}.")
    if check:
        x, y = sympy.symbols("x y")
        system = sympy.Matrix([[a1, b1], [a2, b2]])
        assert system.det() != 0, (e1, e2)  # a unique solution
        for a, b, c in ((a1, b1, c1), (a2, b2, c2)):
            assert (a * x + b * y - c).subs({x: x0, y: y0}) == 0, (e1, e2)
    shown_1, shown_2 = (in_latex(rng, spacing(rng, e), 0.05) for e in (e1, e2))
    question = rng.choice(SYSTEM_Q).format(e1=shown_1, e2=shown_2, u=u, v=v)
    # The identity is the numbers, whatever the unknowns are called.
    key = ("linear_system", _two_var(a1, b1, c1), _two_var(a2, b2, c2))
    return Problem("linear_system", casual(rng, question), " ".join(steps) + f" {boxed(answer)}",
                   answer, key)
