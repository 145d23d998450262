"""Order of operations: an expression tree reduced one operation per step.

`2^3 + 4 × (6 - 1) = 8 + 4 × (6 - 1) = 8 + 4 × 5 = 8 + 20 = 28`: the innermost parentheses
first, then powers, products and quotients, then sums, left to right. Quotients are exact;
powers are small (a base to the 2nd or 3rd) because larger ones are out of the model's reach.
"""

from __future__ import annotations

import random
from fractions import Fraction

import sympy

from noema_core.training.curriculum.notation import boxed, frac, frac_latex, signed
from noema_core.training.curriculum.phrasing import (
    VALUE_Q,
    casual,
    powers,
    product_sign,
    quotient_sign,
    spacing,
)
from noema_core.training.curriculum.problem import Problem

PRECEDENCE = {"+": 1, "-": 1, "×": 2, "÷": 2, "^": 3}
POWER_SHARE = 0.08  # of leaves that are a small power, 2^3 or 7^2, as in "2^3 + 4 * 5"
# Of quotients in trees of 2+ operators: a parenthesised sum or difference as the divisor or
# the dividend, as people type them ("12 / (1 + 3) + 5", "(20 - 4) / 2"); the rest divide
# two numbers.
COMPOUND_QUOTIENT_SHARE = 0.4

Tree = int | tuple[str, "Tree", "Tree"]  # (op, left, right) or a leaf


def _random_tree(rng: random.Random, ops: int) -> Tree:
    """An expression tree (op, left, right) | int with `ops` operators besides the small
    powers some leaves become; ÷ only exact."""
    if ops == 0:
        if rng.random() < POWER_SHARE:
            exponent = rng.choice([2, 2, 3])
            return ("^", rng.randint(2, 12 if exponent == 2 else 5), exponent)
        return rng.randint(1, 12)
    op = rng.choice("++--××÷")
    if op == "÷":
        d = rng.randint(2, 9)
        if ops >= 2 and rng.random() < COMPOUND_QUOTIENT_SHARE:
            quotient = _compound_quotient(rng, d)
            return quotient if ops == 2 else \
                (rng.choice("+-"), quotient, _random_tree(rng, ops - 3))
        return ("÷", d * rng.randint(1, 9), d) if ops == 1 else \
            (rng.choice("+-"), ("÷", d * rng.randint(1, 9), d), _random_tree(rng, ops - 2))
    left_ops = rng.randint(0, ops - 1)
    return (op, _random_tree(rng, left_ops), _random_tree(rng, ops - 1 - left_ops))


def _compound_quotient(rng: random.Random, d: int) -> Tree:
    """An exact quotient with one side a sum or difference (two operators): d * k ÷ (a ± b)
    where a ± b = d, or (a ± b) ÷ d where a ± b = d * k."""
    k = rng.randint(1, 9)
    if rng.random() < 0.5:  # the divisor
        a = rng.randint(1, d - 1)
        side: Tree = ("+", a, d - a) if rng.random() < 0.5 else ("-", d + a, a)
        return ("÷", d * k, side)
    total = d * k
    a = rng.randint(1, 12)
    side = ("+", a, total - a) if total > a and rng.random() < 0.5 else ("-", total + a, a)
    return ("÷", side, d)


def _tokens(tree: Tree, parent_op: str | None = None, right: bool = False) -> list:
    if isinstance(tree, int):
        return [tree]
    op, left, rgt = tree
    inner = _tokens(left, op, False) + [op] + _tokens(rgt, op, True)
    if parent_op is None:
        return inner
    needs = PRECEDENCE[op] < PRECEDENCE[parent_op] or (
        right and PRECEDENCE[op] == PRECEDENCE[parent_op] and parent_op in "-÷")
    return ["(", *inner, ")"] if needs else inner


def _show(tokens: list) -> str:
    out = []
    for i, t in enumerate(tokens):
        if isinstance(t, int | Fraction):
            after_op = i > 0 and tokens[i - 1] in PRECEDENCE
            out.append(signed(t) if after_op else frac(t))
        else:
            out.append(t)
    return " ".join(out).replace("( ", "(").replace(" )", ")").replace(" ^ ", "^")


def _apply(a: int | Fraction, op: str, b: int | Fraction) -> int | Fraction:
    if op == "^":
        return a ** b
    if op == "÷":
        value = Fraction(a) / b
        return int(value) if value.denominator == 1 else value
    return a + b if op == "+" else a - b if op == "-" else a * b


def _reduce_once(tokens: list) -> list:
    """Perform the one operation that comes next by the order of operations."""
    lo, hi = 0, len(tokens)
    for i, t in enumerate(tokens):  # the innermost (first closing) parenthesised group
        if t == ")":
            hi = i
            lo = max(j for j in range(i) if tokens[j] == "(") + 1
            break
    span = tokens[lo:hi]
    for group in ("^", "×÷", "+-"):
        for k in range(1, len(span), 2):
            if span[k] in group:
                value = _apply(span[k - 1], span[k], span[k + 1])
                span = span[:k - 1] + [value] + span[k + 2:]
                if len(span) == 1 and lo > 0:  # "(5 - 2)" -> "3", "(2 - 5)" -> "(-3)"
                    return tokens[:lo - 1] + span + tokens[hi + 1:]
                return tokens[:lo] + span + tokens[hi:]
    raise ValueError(f"cannot reduce {tokens}")


def _sympy_value(tree: Tree) -> sympy.Expr:
    if isinstance(tree, int):
        return sympy.Integer(tree)
    op, a, b = tree
    x, y = _sympy_value(a), _sympy_value(b)
    return {"+": x + y, "-": x - y, "×": x * y, "÷": x / y, "^": x ** y}[op]


def order_of_operations(rng: random.Random, check: bool = True) -> Problem:
    tree = _random_tree(rng, rng.randint(2, 4))
    tokens = _tokens(tree)
    chain = [_show(tokens)]
    while len(tokens) > 1:
        tokens = _reduce_once(tokens)
        chain.append(_show(tokens))
    value = tokens[0]
    if check:
        assert _sympy_value(tree) == sympy.Rational(value), chain
    expression = chain[0]
    latex = rng.random() < 0.08
    times, divide = product_sign(rng, latex, letters=False), quotient_sign(rng, latex)
    question_expr = spacing(rng, expression.replace("×", times).replace("÷", divide))
    question_expr = powers(rng, question_expr)
    if latex:
        question_expr = f"${question_expr}$"
    question = casual(rng, rng.choice(VALUE_Q).format(e=question_expr))
    solution = " = ".join(chain) + f". {boxed(frac_latex(value))}"
    return Problem("order_of_operations", question, solution, frac_latex(value),
                   ("order_of_operations", expression))


