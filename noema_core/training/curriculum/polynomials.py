"""Polynomials: expanding products, collecting like terms, derivatives by the power rule.

Answers are compared with sympy's own expand / diff of the same polynomial, built from the
generated integers (never parsed from text).
"""

from __future__ import annotations

import random
from collections import defaultdict

import sympy

from noema_core.training.curriculum.notation import boxed, monomial, polynomial, signed
from noema_core.training.curriculum.phrasing import casual, spacing
from noema_core.training.curriculum.phrasing import powers as power_notation
from noema_core.training.curriculum.problem import Problem

EXPAND_Q = ["Expand {p}.", "Expand {p}", "Multiply out {p}.", "Expand and simplify {p}.",
            "What is {p} expanded?", "Expand ${p}$.", "expand {p}", "expand: {p}",
            "{p} expand", "{p}, expand it", "What's {p} expanded?", "multiply out {p}",
            "Multiply {p}", "Expand the product {p}", "I need {p} expanded",
            "What is {p} multiplied out?", "FOIL {p}", "expand {p} please", "{p} expanded",
            "Expand and simplify: {p}", "Write {p} without brackets.", "Remove the brackets: {p}",
            "expand the brackets in {p}", "Expand {p} fully."]
SIMPLIFY_Q = ["Simplify {p}.", "Simplify {p}", "Combine like terms: {p}", "Simplify ${p}$.",
              "Collect like terms in {p}.", "simplify {p}", "simplify: {p}", "Combine {p}",
              "{p}, simplify please", "{p} simplify", "What does {p} simplify to?",
              "Tidy up {p}.", "Combine like terms in {p}", "collect like terms: {p}",
              "Simplify the expression {p}.", "Write {p} in simplest form.", "{p} simplified",
              "what is {p} simplified", "Collect the terms of {p}.", "Simplify {p} fully."]
DERIVATIVE_Q = ["Differentiate {p}.", "Find the derivative of {p}.", "d/d{v} ({p})",
                "What is {f}'({v}) if {f}({v}) = {p}?",
                "Differentiate {f}({v}) = {p} with respect to {v}.",
                "Find $\\frac{{d}}{{d{v}}}\\left({p}\\right)$.", "Find dy/d{v} for y = {p}.",
                "what is the derivative of {p}?", "derivative of {p}", "d/d{v} of {p}",
                "d/d{v} {p}", "differentiate {p}", "{f}({v}) = {p}, find {f}'({v})",
                "{f}({v})={p}, {f}'({v})=?", "If y = {p}, what is dy/d{v}?",
                "y = {p}, find dy/d{v}", "what's dy/d{v} when y = {p}",
                "Take the derivative of {p}", "Differentiate with respect to {v}: {p}",
                "differentiate {p} with respect to {v}", "{f}'({v}) if {f}({v}) = {p}",
                "{f}({v}) = {p}. What is {f}'({v})?", "Find the first derivative of {p}.",
                "Find $\\frac{{d}}{{d{v}}}({p})$", "\\frac{{d}}{{d{v}}} {p}",
                "compute the derivative of {p}", "{p}, differentiate", "d/d{v}[{p}]",
                "What is the derivative of {f}({v}) = {p}?", "derivative: {p}",
                "find {f}'({v}) for {f}({v}) = {p}", "y = {p}. dy/d{v} = ?"]
VARIABLES = "xxxxxxxxatyn"  # x most often; other letters as people name them
FUNCTIONS = "ffffgh"


def user_notation(rng: random.Random, text: str) -> str:
    """Powers and spacing as people type them: x^2, x**2, x², x^{2}; spaced or not."""
    return spacing(rng, power_notation(rng, text))


def _sympy_poly(coefs: dict[int, int], x: sympy.Symbol) -> sympy.Expr:
    return sum((c * x**p for p, c in coefs.items()), sympy.Integer(0))


def _binomial(rng: random.Random) -> dict[int, int]:
    return {1: rng.choice([1, 1, 1, 2, 3, -1, -2]), 0: rng.choice(
        [n for n in range(-9, 10) if n])}


def _term(coef: int, power: int, first: bool, var: str = "x") -> str:
    return monomial(coef, power, var, first=first)


def _product_as_typed(rng: random.Random, shown_p: str, shown_q: str, square: bool) -> str:
    if square:
        return rng.choice([f"{shown_p}^2", f"{shown_p}^2", f"{shown_p}{shown_p}"])
    return rng.choice([f"{shown_p}{shown_q}"] * 4 + [f"{shown_p}*{shown_q}",
                                                     f"{shown_p} × {shown_q}"])


def expand(rng: random.Random, check: bool = True) -> Problem:
    p, q = _binomial(rng), _binomial(rng)
    square = rng.random() < 0.2
    if square:
        q = dict(p)
    var = rng.choice(VARIABLES)
    key_poly = f"({polynomial(p)})^2" if square else f"({polynomial(p)})({polynomial(q)})"
    shown_p, shown_q = f"({polynomial(p, var)})", f"({polynomial(q, var)})"
    question_poly = _product_as_typed(rng, shown_p, shown_q, square)
    products, collected = [], defaultdict(int)
    for pp, pc in sorted(p.items(), reverse=True):
        for qp, qc in sorted(q.items(), reverse=True):
            left = monomial(pc, pp, var)
            left = f"({left})" if pc < 0 else left
            right = monomial(qc, qp, var)
            right = f"({right})" if qc < 0 else right
            products.append(f"{left} × {right}")
            collected[pp + qp] += pc * qc
    terms = []
    for pp, pc in sorted(p.items(), reverse=True):
        for qp, qc in sorted(q.items(), reverse=True):
            terms.append(_term(pc * qc, pp + qp, first=not terms, var=var))
    steps = [f"{shown_p}{shown_p if square else shown_q} = " + " + ".join(products) +
             " = " + " ".join(terms) + "."]
    result = polynomial(dict(collected), var)
    steps.append(f"Combine like terms: {result}.")
    if check:
        x = sympy.Symbol("x")
        assert sympy.expand(_sympy_poly(p, x) * _sympy_poly(q, x)) == \
            _sympy_poly(dict(collected), x)
    question = casual(rng, rng.choice(EXPAND_Q).format(p=user_notation(rng, question_poly)))
    return Problem("polynomial_expand", question, " ".join(steps) + f" {boxed(result)}", result,
                   ("polynomial_expand", key_poly))


def _collect_like_terms(coefs: list[int], power: int, var: str = "x") -> str:
    """`(7x + 4x - x) = 11x - x = 10x`: one addition per step, like order of operations.
    Summing three or more terms in one step was the bundled model's commonest mistake."""

    def sum_shown(items: list[int]) -> str:
        terms = [c for c in items if c]
        return " ".join(_term(c, power, first=i == 0, var=var)
                        for i, c in enumerate(terms)) or "0"

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
    var = rng.choice(VARIABLES)
    key = " ".join(_term(c, p, first=i == 0) for i, (c, p) in enumerate(terms))
    shown = " ".join(_term(c, p, first=i == 0, var=var) for i, (c, p) in enumerate(terms))
    collected = defaultdict(int)
    for c, p in terms:
        collected[p] += c
    groups = []
    for p in sorted(collected, reverse=True):
        same = [c for c, q in terms if q == p]
        if len(same) == 1:
            groups.append(_term(same[0], p, first=True, var=var))
        else:
            groups.append(_collect_like_terms(same, p, var))
    result = polynomial(dict(collected), var)
    steps = [f"Group like terms: {'; '.join(groups)}.", f"So the result is {result}."]
    if check:
        x = sympy.Symbol("x")
        assert sum(c * x**p for c, p in terms) == _sympy_poly(dict(collected), x)
    question = casual(rng, rng.choice(SIMPLIFY_Q).format(p=user_notation(rng, shown)))
    return Problem("polynomial_simplify", question, " ".join(steps) + f" {boxed(result)}",
                   result, ("polynomial_simplify", key))


def derivative(rng: random.Random, check: bool = True) -> Problem:
    powers = sorted(rng.sample(range(0, 6), rng.randint(2, 4)), reverse=True)
    coefs = {p: rng.choice([n for n in range(-9, 10) if n]) for p in powers}
    var = rng.choice(VARIABLES)
    shown = polynomial(coefs, var)
    parts, result_coefs = [], {}
    for p in powers:
        c = coefs[p]
        term = monomial(c, p, var)
        if p == 0:
            parts.append(f"the derivative of {term} is 0")
        elif p == 1:
            parts.append(f"the derivative of {term} is {c}")
            result_coefs[0] = c
        else:
            parts.append(f"the derivative of {term} is {signed(c)} × {p}"
                         f"{monomial(1, p - 1, var)} = {monomial(c * p, p - 1, var)}")
            result_coefs[p - 1] = c * p
    result = polynomial(result_coefs, var)
    steps = ["Use the power rule term by term: " + "; ".join(parts) + ".",
             f"So the derivative is {result}."]
    if check:
        x = sympy.Symbol("x")
        assert sympy.diff(_sympy_poly(coefs, x), x) == _sympy_poly(result_coefs, x)
    templates = [t for t in DERIVATIVE_Q if var != "y" or "y =" not in t]  # not dy/dy
    question = rng.choice(templates).format(p=user_notation(rng, shown), v=var,
                                               f=rng.choice(FUNCTIONS))
    return Problem("derivative", casual(rng, question), " ".join(steps) + f" {boxed(result)}",
                   result, ("derivative", polynomial(coefs)))
