"""Polynomials: expanding products, collecting like terms, derivatives by the power rule.

Answers are compared with sympy's own expand / diff of the same polynomial, built from the
generated integers (never parsed from text).
"""

from __future__ import annotations

import random
from collections import defaultdict

import sympy

from noema_core.training.curriculum.notation import boxed, monomial, polynomial, signed
from noema_core.training.curriculum.problem import Problem

EXPAND_Q = ["Expand {p}.", "Expand {p}", "Multiply out {p}.", "Expand and simplify {p}.",
            "What is {p} expanded?", "Expand ${p}$."]
SIMPLIFY_Q = ["Simplify {p}.", "Simplify {p}", "Combine like terms: {p}", "Simplify ${p}$.",
              "Collect like terms in {p}."]
DERIVATIVE_Q = ["Differentiate {p}.", "Find the derivative of {p}.", "d/dx ({p})",
                "What is f'(x) if f(x) = {p}?", "Differentiate f(x) = {p} with respect to x.",
                "Find $\\frac{{d}}{{dx}}\\left({p}\\right)$.", "Find dy/dx for y = {p}."]


def user_notation(rng: random.Random, text: str) -> str:
    """Powers and spacing as people type them: x^2, x**2, x²; with or without spaces."""
    roll = rng.random()
    if roll < 0.12:
        text = text.replace("^", "**")
    elif roll < 0.2:
        text = text.replace("^2", "²").replace("^3", "³")
    return text.replace(" ", "") if rng.random() < 0.25 else text


def _sympy_poly(coefs: dict[int, int], x: sympy.Symbol) -> sympy.Expr:
    return sum((c * x**p for p, c in coefs.items()), sympy.Integer(0))


def _binomial(rng: random.Random) -> dict[int, int]:
    return {1: rng.choice([1, 1, 1, 2, 3, -1, -2]), 0: rng.choice(
        [n for n in range(-9, 10) if n])}


def _term(coef: int, power: int, first: bool) -> str:
    return monomial(coef, power, first=first)


def expand(rng: random.Random, check: bool = True) -> Problem:
    p, q = _binomial(rng), _binomial(rng)
    square = rng.random() < 0.2
    if square:
        q = dict(p)
    shown_p, shown_q = f"({polynomial(p)})", f"({polynomial(q)})"
    question_poly = f"{shown_p}^2" if square else f"{shown_p}{shown_q}"
    products, collected = [], defaultdict(int)
    for pp, pc in sorted(p.items(), reverse=True):
        for qp, qc in sorted(q.items(), reverse=True):
            left = monomial(pc, pp)
            left = f"({left})" if pc < 0 else left
            right = monomial(qc, qp)
            right = f"({right})" if qc < 0 else right
            products.append(f"{left} × {right}")
            collected[pp + qp] += pc * qc
    terms = []
    for pp, pc in sorted(p.items(), reverse=True):
        for qp, qc in sorted(q.items(), reverse=True):
            terms.append(_term(pc * qc, pp + qp, first=not terms))
    steps = [f"{shown_p}{shown_p if square else shown_q} = " + " + ".join(products) +
             " = " + " ".join(terms) + "."]
    result = polynomial(dict(collected))
    steps.append(f"Combine like terms: {result}.")
    if check:
        x = sympy.Symbol("x")
        assert sympy.expand(_sympy_poly(p, x) * _sympy_poly(q, x)) == \
            _sympy_poly(dict(collected), x)
    question = rng.choice(EXPAND_Q).format(p=user_notation(rng, question_poly))
    return Problem("polynomial_expand", question, " ".join(steps) + f" {boxed(result)}", result,
                   ("polynomial_expand", question_poly))


def _collect_like_terms(coefs: list[int], power: int) -> str:
    """`(7x + 4x - x) = 11x - x = 10x`: one addition per step, like order of operations.
    Summing three or more terms in one step was the bundled model's commonest mistake."""

    def sum_shown(items: list[int]) -> str:
        terms = [c for c in items if c]
        return " ".join(_term(c, power, first=i == 0) for i, c in enumerate(terms)) or "0"

    chain = [f"({sum_shown(coefs)})"]
    running = coefs[0]
    for i in range(1, len(coefs)):
        running += coefs[i]
        step = sum_shown([running, *coefs[i + 1:]])
        if step != chain[-1]:  # a zero running sum drops out, leaving the same sum twice
            chain.append(step)
    return " = ".join(chain)


def simplify(rng: random.Random, check: bool = True) -> Problem:
    """A shuffled sum of 4-6 terms of degree <= 3, to be collected by power."""
    n_terms = rng.randint(4, 6)
    powers = [rng.choice([0, 1, 1, 2, 2, 3]) for _ in range(n_terms)]
    terms = [(rng.choice([n for n in range(-9, 10) if n]), power) for power in powers]
    shown = " ".join(_term(c, p, first=i == 0) for i, (c, p) in enumerate(terms))
    collected = defaultdict(int)
    for c, p in terms:
        collected[p] += c
    groups = []
    for p in sorted(collected, reverse=True):
        same = [c for c, q in terms if q == p]
        if len(same) == 1:
            groups.append(_term(same[0], p, first=True))
        else:
            groups.append(_collect_like_terms(same, p))
    result = polynomial(dict(collected))
    steps = [f"Group like terms: {'; '.join(groups)}.", f"So the result is {result}."]
    if check:
        x = sympy.Symbol("x")
        assert sum(c * x**p for c, p in terms) == _sympy_poly(dict(collected), x)
    question = rng.choice(SIMPLIFY_Q).format(p=user_notation(rng, shown))
    return Problem("polynomial_simplify", question, " ".join(steps) + f" {boxed(result)}",
                   result, ("polynomial_simplify", shown))


def derivative(rng: random.Random, check: bool = True) -> Problem:
    powers = sorted(rng.sample(range(0, 6), rng.randint(2, 4)), reverse=True)
    coefs = {p: rng.choice([n for n in range(-9, 10) if n]) for p in powers}
    shown = polynomial(coefs)
    parts, result_coefs = [], {}
    for p in powers:
        c = coefs[p]
        term = monomial(c, p)
        if p == 0:
            parts.append(f"the derivative of {term} is 0")
        elif p == 1:
            parts.append(f"the derivative of {term} is {c}")
            result_coefs[0] = c
        else:
            parts.append(f"the derivative of {term} is {signed(c)} × {p}{monomial(1, p - 1)} = "
                         f"{monomial(c * p, p - 1)}")
            result_coefs[p - 1] = c * p
    result = polynomial(result_coefs)
    steps = ["Use the power rule term by term: " + "; ".join(parts) + ".",
             f"So the derivative is {result}."]
    if check:
        x = sympy.Symbol("x")
        assert sympy.diff(_sympy_poly(coefs, x), x) == _sympy_poly(result_coefs, x)
    question = rng.choice(DERIVATIVE_Q).format(p=user_notation(rng, shown))
    return Problem("derivative", question, " ".join(steps) + f" {boxed(result)}", result,
                   ("derivative", shown))
