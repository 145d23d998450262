"""How numbers, fractions and polynomials are written in questions and solutions.

Solutions use one notation so the model learns one form: `×` and `÷` for operations (a `*` in
Markdown turns into emphasis), `a/b` for fractions inside steps, LaTeX (`\\frac{a}{b}`) inside
the final `\\boxed{}`. Questions are phrased in several notations, as people type them.
"""

from __future__ import annotations

from fractions import Fraction


def signed(n: int | Fraction) -> str:
    """A number as an operand after an operator: negatives in parentheses."""
    return f"({frac(n)})" if n < 0 else frac(n)


def frac(q: int | Fraction) -> str:
    """A rational in step notation: 3, -2, 17/12, -1/2."""
    q = Fraction(q)
    return str(q.numerator) if q.denominator == 1 else f"{q.numerator}/{q.denominator}"


def frac_latex(q: int | Fraction) -> str:
    """A rational in LaTeX, for the boxed answer: 3, -\\frac{1}{2}."""
    q = Fraction(q)
    if q.denominator == 1:
        return str(q.numerator)
    sign = "-" if q < 0 else ""
    return f"{sign}\\frac{{{abs(q.numerator)}}}{{{q.denominator}}}"


def monomial(coef: int | Fraction, power: int, var: str = "x", *, first: bool = True,
             spaced: bool = True) -> str:
    """One term of a polynomial, with its sign: '3x^2', '- x', '+ 5'. `first` drops a '+'."""
    coef = Fraction(coef)
    magnitude = abs(coef)
    body = frac(magnitude)
    if power > 0:
        body = ("" if magnitude == 1 else body) + var + (f"^{power}" if power > 1 else "")
    if first:
        return ("-" if coef < 0 else "") + body
    sign = "-" if coef < 0 else "+"
    return f"{sign} {body}" if spaced else f"{sign}{body}"


def polynomial(coefs: dict[int, int | Fraction], var: str = "x", *, spaced: bool = True) -> str:
    """{power: coefficient} -> '2x^2 + 5x - 3', highest power first; '0' when empty."""
    terms = [(p, c) for p, c in sorted(coefs.items(), reverse=True) if c != 0]
    if not terms:
        return "0"
    parts = [monomial(c, p, var, first=i == 0, spaced=spaced) for i, (p, c) in enumerate(terms)]
    return (" " if spaced else "").join(parts)


def linear(a: int, b: int, var: str = "x") -> str:
    """ax + b, e.g. '3x - 5', 'x', '-2x + 1'."""
    return polynomial({1: a, 0: b}, var)


def boxed(answer: str) -> str:
    return f"\\boxed{{{answer}}}"
