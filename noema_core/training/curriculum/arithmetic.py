"""Multi-digit arithmetic with digit-level steps, and fractions.

Each step is small enough for a small model to learn: column addition and subtraction with
explicit carries and borrows, multiplication split into single-digit products, long division
one digit at a time. Every answer is recomputed with sympy when `check` is set.
"""

from __future__ import annotations

import random
from fractions import Fraction
from math import gcd

import sympy

from noema_core.training.curriculum.notation import boxed, frac, frac_latex
from noema_core.training.curriculum.phrasing import (
    VALUE_Q,
    casual,
    product_sign,
    quotient_sign,
    spacing,
)
from noema_core.training.curriculum.problem import Problem

PLACES = ("ones", "tens", "hundreds", "thousands", "ten-thousands", "hundred-thousands")


def _digits(n: int) -> list[int]:
    """Least significant first."""
    return [int(d) for d in reversed(str(n))]


def column_addition(a: int, b: int) -> str:
    """'ones 7 + 9 = 16, write 6 carry 1; tens 4 + 8 + 1 = 13, write 3 carry 1; hundreds ...'"""
    da, db = _digits(a), _digits(b)
    steps, carry = [], 0
    for i in range(max(len(da), len(db))):
        parts = [d for d in (da[i] if i < len(da) else None, db[i] if i < len(db) else None)
                 if d is not None] + ([carry] if carry else [])
        total = sum(parts)
        if len(parts) == 1:
            steps.append(f"{PLACES[i]} {total}")
        elif total >= 10:
            steps.append(f"{PLACES[i]} {' + '.join(map(str, parts))} = {total}, "
                         f"write {total % 10} carry 1")
        else:
            steps.append(f"{PLACES[i]} {' + '.join(map(str, parts))} = {total}")
        carry = total // 10
    if carry:
        steps.append(f"{PLACES[max(len(da), len(db))]} 1")
    return "; ".join(steps)


def column_subtraction(a: int, b: int) -> str:
    """a >= b >= 0: 'ones 2 - 9: borrow, 12 - 9 = 3; tens 4 - 1 - 8: borrow, 13 - 8 = 5; ...'"""
    da, db = _digits(a), _digits(b)
    steps, borrow = [], 0
    for i in range(len(da)):
        top, bottom = da[i], db[i] if i < len(db) else None
        shown = f"{top}" + (f" - {borrow}" if borrow else "")
        value = top - borrow
        if bottom is None:
            if borrow and value < 0:
                steps.append(f"{PLACES[i]} {shown}: borrow, {value + 10}")
                borrow = 1
            elif borrow:
                steps.append(f"{PLACES[i]} {shown} = {value}")
                borrow = 0
            else:
                steps.append(f"{PLACES[i]} {top}")
            continue
        if value < bottom:
            steps.append(f"{PLACES[i]} {shown} - {bottom}: borrow, {value + 10} - {bottom} = "
                         f"{value + 10 - bottom}")
            borrow = 1
        else:
            steps.append(f"{PLACES[i]} {shown} - {bottom} = {value - bottom}")
            borrow = 0
    return "; ".join(steps)


def add_text(a: int, b: int) -> str:
    """A sum of two non-negative numbers, with columns once both have two or more digits."""
    if a < 10 or b < 10:
        return f"{a} + {b} = {a + b}."
    return f"{a} + {b}: {column_addition(a, b)}. So {a} + {b} = {a + b}."


def sub_text(a: int, b: int) -> str:
    if a < b:
        return f"{a} - {b} = -({b} - {a}). " + sub_text(b, a)[:-1] + \
            f", so {a} - {b} = {a - b}."
    if b < 10 and a < 20:
        return f"{a} - {b} = {a - b}."
    return f"{a} - {b}: {column_subtraction(a, b)}. So {a} - {b} = {a - b}."


def times_digit_text(a: int, d: int) -> str:
    """a × d for a single digit d, split by the place values of a: '47 × 6 = 40 × 6 + 7 × 6 =
    240 + 42 = 282'."""
    parts = [int(c) * 10 ** i for i, c in enumerate(reversed(str(a))) if c != "0"][::-1]
    if len(parts) == 1:
        return f"{a} × {d} = {a * d}"
    text = f"{a} × {d} = " + " + ".join(f"{p} × {d}" for p in parts)
    products = [p * d for p in parts]
    text += " = " + " + ".join(map(str, products))
    running = products[0]
    for k, p in enumerate(products[1:], 1):
        running += p
        rest = products[k + 1:]
        text += " = " + " + ".join(map(str, [running, *rest]))
    return text


def multiplication_text(a: int, b: int) -> str:
    if b < 10:
        return times_digit_text(a, b) + "."
    tens, ones = b // 10 * 10, b % 10
    lines = []
    if ones:
        lines.append(f"{a} × {b} = {a} × {tens} + {a} × {ones}.")
    lines.append(times_digit_text(a, tens // 10) + f", so {a} × {tens} = {a * tens}.")
    if ones:
        lines.append(times_digit_text(a, ones) + ".")
        lines.append(add_text(a * tens, a * ones)[:-1] + f", so {a} × {b} = {a * b}.")
    return " ".join(lines)


def long_division_text(n: int, d: int) -> str:
    """Exact n ÷ d for a single-digit d, one dividend digit at a time."""
    digits = str(n)
    steps, current, quotient, started = [], 0, "", False
    for i, ch in enumerate(digits):
        current = current * 10 + int(ch)
        if not started and current < d and i < len(digits) - 1:
            continue
        started = True
        q, r = divmod(current, d)
        steps.append(f"{current} ÷ {d} = {q} remainder {r}")
        quotient += str(q)
        current = r
    return f"{n} ÷ {d}: " + "; ".join(steps) + f". So {n} ÷ {d} = {int(quotient)}."


# Sentences that name the operation in words; the rest put a symbol between the numbers.
WORDED_Q = {
    "+": ["What is the sum of {a} and {b}?", "sum of {a} and {b}", "Add {a} and {b}.",
          "add {b} to {a}", "What is {a} plus {b}?", "{a} plus {b}", "what's {a} plus {b}",
          "the total of {a} and {b}", "{a} and {b} added together", "Increase {a} by {b}.",
          "how much is {a} plus {b}"],
    "-": ["Subtract {b} from {a}.", "subtract {b} from {a}", "What is {a} minus {b}?",
          "{a} minus {b}", "take {b} away from {a}", "{a} take away {b}",
          "Decrease {a} by {b}.", "what's {a} minus {b}", "how much is {a} minus {b}",
          "{b} less than {a}"],
    "×": ["What is {a} times {b}?", "{a} times {b}", "How much is {a} times {b}?",
          "Multiply {a} by {b}.", "multiply {a} and {b}", "{a} multiplied by {b}",
          "What is the product of {a} and {b}?", "product of {a} and {b}",
          "what's {a} times {b}", "{a} times {b} equals what"],
    "÷": ["Divide {a} by {b}.", "divide {a} by {b}", "What is {a} divided by {b}?",
          "{a} divided by {b}", "Calculate {a} divided by {b}.",
          "what's {a} divided by {b}", "the quotient of {a} and {b}",
          "How many times does {b} go into {a}?", "{a} split into {b} equal parts"],
}
DIFFERENCE_Q = ["What is the difference between {a} and {b}?", "difference between {a} and {b}"]


def arithmetic_question(rng: random.Random, a: int, op: str, b: int) -> str:
    """`a op b` asked as a person would: in words or with a symbol, LaTeX or plain."""
    if rng.random() < 0.35:
        templates = WORDED_Q[op] + (DIFFERENCE_Q if op == "-" and a >= b else [])
        return casual(rng, rng.choice(templates).format(a=a, b=b))
    latex = rng.random() < 0.08
    sign = {"+": "+", "-": "-", "×": product_sign(rng, latex), "÷": quotient_sign(rng, latex)}[op]
    if latex and op == "÷" and rng.random() < 0.5:
        expression = f"\\frac{{{a}}}{{{b}}}"
    else:
        expression = spacing(rng, f"{a} {sign} {b}")
    if latex:
        expression = f"${expression}$"
    return casual(rng, rng.choice(VALUE_Q).format(e=expression))


# Of the quotients: a divisor from 10 to 25 (people divide by 12 or 15 as often as by 7),
# written digit by digit as the others are; the rest divide by 2-9.
TWO_DIGIT_DIVISOR_SHARE = 0.25


def _operand(rng: random.Random, low_digits: int, high_digits: int) -> int:
    digits = rng.randint(low_digits, high_digits)
    return rng.randint(10 ** (digits - 1), 10 ** digits - 1)


def multi_digit(rng: random.Random, check: bool = True) -> Problem:
    op = rng.choice("+-×÷")
    if op == "+":
        a, b = _operand(rng, 2, 4), _operand(rng, 1, 4)
        value, text = a + b, add_text(a, b)
    elif op == "-":
        a, b = _operand(rng, 2, 4), _operand(rng, 1, 4)
        value, text = a - b, sub_text(a, b)
    elif op == "×":
        a = _operand(rng, 2, 3)
        b = _operand(rng, 1, 2) if a < 100 else rng.randint(2, 9)
        value, text = a * b, multiplication_text(a, b)
    else:
        if rng.random() < TWO_DIGIT_DIVISOR_SHARE:  # "144 / 12", "what's 225 / 15"
            b, value = rng.randint(10, 25), _operand(rng, 1, 2)
        else:
            b, value = rng.randint(2, 9), _operand(rng, 1, 3)
        a = b * value
        text = long_division_text(a, b)
    if check:
        x, y = sympy.Integer(a), sympy.Integer(b)
        expected = {"+": x + y, "-": x - y, "×": x * y, "÷": x / y}[op]
        assert expected == value, (a, op, b)
    question = arithmetic_question(rng, a, op, b)
    return Problem("arithmetic", question, f"{text} {boxed(str(value))}", str(value),
                   ("arithmetic", a, op, b))


# --- fractions -------------------------------------------------------------------------

def _lcm(a: int, b: int) -> int:
    return a * b // gcd(a, b)


def _lowest_terms(n: int, d: int) -> tuple[str, Fraction]:
    """Text that reduces n/d, and the value."""
    value = Fraction(n, d)
    g = gcd(abs(n), d)
    if d == 1:
        return "", value
    if g == 1:
        return f"{n}/{d} is in lowest terms.", value
    if value.denominator == 1:
        return f"{n}/{d} = {value.numerator}.", value
    return f"Divide top and bottom by {g}: {n}/{d} = {frac(value)}.", value


SIMPLIFY_Q = ["Simplify {p}.", "Reduce {p} to lowest terms.", "Write {p} in simplest form.",
              "Simplify the fraction {p}.", "simplify {p}", "reduce {p}", "Reduce {p}.",
              "{p} in lowest terms", "What is {p} in simplest form?", "simplify {p} for me",
              "write {p} in lowest terms", "What is {p} simplified?", "{p} simplified",
              "Simplify {p} please", "can {p} be simplified?", "reduce the fraction {p}",
              "Put {p} in lowest terms.", "{p} = ? (lowest terms)"]
FRACTION_WORDED_Q = {
    "+": ["Add {p} and {q}.", "add {p} and {q}", "{p} plus {q}", "What is {p} plus {q}?",
          "the sum of {p} and {q}", "What is the sum of {p} and {q}?", "add {q} to {p}"],
    "-": ["Subtract {q} from {p}.", "subtract {q} from {p}", "{p} minus {q}",
          "What is {p} minus {q}?", "take {q} away from {p}", "what's {p} minus {q}"],
    "×": ["Multiply {p} by {q}.", "multiply {p} by {q}", "{p} times {q}",
          "What is {p} times {q}?", "What is {p} of {q}?", "the product of {p} and {q}",
          "{p} multiplied by {q}"],
    "÷": ["Divide {p} by {q}.", "divide {p} by {q}", "{p} divided by {q}",
          "What is {p} divided by {q}?", "what's {p} divided by {q}"],
}


def _show_fraction(n: int, d: int, latex: bool) -> str:
    return f"\\frac{{{n}}}{{{d}}}" if latex else f"{n}/{d}"


def fractions(rng: random.Random, check: bool = True) -> Problem:
    kind = rng.choice(["+", "-", "×", "÷", "simplify"])
    latex = rng.random() < 0.3
    if kind == "simplify":
        d0 = rng.randint(2, 12)
        n0 = rng.randint(1, 3 * d0)
        g = rng.randint(2, 12)  # school fractions reduce by 10, 11 or 12 too (48/36)
        n, d = n0 * g, d0 * g
        text, value = _lowest_terms(n, d)
        text = f"The greatest common divisor of {n} and {d} is {gcd(n, d)}. " + text
        question = casual(rng, rng.choice(SIMPLIFY_Q).format(p=_show_fraction(n, d, latex)))
        key = ("fractions", "simplify", n, d)
        expected = sympy.Rational(n, d)
    else:
        # Denominators to 12, as in school exercises (3/8 + 5/12).
        a, b = rng.randint(1, 9), rng.randint(2, 12)
        c, e = rng.randint(1, 9), rng.randint(2, 12)
        p, q = f"{a}/{b}", f"{c}/{e}"
        if kind in "+-":
            m = _lcm(b, e)
            n = a * m // b + (c * m // e if kind == "+" else -(c * m // e))
            text = (f"The common denominator of {b} and {e} is {m}. "
                    f"{p} = {a * m // b}/{m} and {q} = {c * m // e}/{m}. "
                    f"{a * m // b}/{m} {kind} {c * m // e}/{m} = {n}/{m}.")
            reduce, value = _lowest_terms(n, m)
            text = f"{text} {reduce}"
        else:
            n1, d1 = (c, e) if kind == "×" else (e, c)
            lead = f"{p} ÷ {q} = {p} × {e}/{c}. " if kind == "÷" else ""
            n, m = a * n1, b * d1
            reduce, value = _lowest_terms(n, m)
            text = f"{lead}{p} × {n1}/{d1} = ({a} × {n1})/({b} × {d1}) = {n}/{m}. {reduce}"
        symbol = {"+": "+", "-": "-", "×": product_sign(rng, letters=False),
                  "÷": quotient_sign(rng)}[kind]
        if latex:
            symbol = {"×": product_sign(rng, latex=True), "÷": "\\div"}.get(kind, symbol)
        shown_p, shown_q = _show_fraction(a, b, latex), _show_fraction(c, e, latex)
        if symbol == "/":  # 2/3 / 4/5 would be ambiguous
            shown_p, shown_q = f"({shown_p})", f"({shown_q})"
        expression = f"{shown_p} {symbol} {shown_q}"
        # LaTeX in $...$ or bare, as pasted; plain text spaced as typed
        expression = (f"${expression}$" if rng.random() < 0.6 else expression) if latex \
            else spacing(rng, expression)
        if rng.random() < 0.3:
            worded = rng.choice(FRACTION_WORDED_Q[kind])
            question = casual(rng, worded.format(p=_show_fraction(a, b, latex),
                                                 q=_show_fraction(c, e, latex)))
        else:
            question = casual(rng, rng.choice(VALUE_Q).format(e=expression))
        key = ("fractions", a, b, kind, c, e)
        x, y = sympy.Rational(a, b), sympy.Rational(c, e)
        expected = {"+": x + y, "-": x - y, "×": x * y, "÷": x / y}[kind]
    if check:
        assert expected == sympy.Rational(value), (question, value)
    return Problem("fractions", question, f"{text} {boxed(frac_latex(value))}",
                   frac_latex(value), key)
