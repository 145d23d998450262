"""Question families the checker models beyond the plain tasks, each a whole-question pattern.

- remainder: "What is the remainder when A is divided by B?" (integers or polynomials);
- gcd / lcm: "Find the greatest common divisor (factor) / least common multiple of A, B and C";
- digit: "What is the units (tens) digit of N?" for a non-negative integer N;
- residue: "Find the modulo n residue of A", "What is A (mod n)?" (inverses as modular ones);
- base: "Express N in base b", "Convert N_{10} to base b", "Find A_5 + B_5. Express your
  answer in base 5.": the answer's digits are compared with the number written in base b;
- degree: "What is the degree of the polynomial P?" (P written out, not named);
- coefficient: "the constant term / the coefficient of x^k in the expansion of E" (or "when E
  is simplified");
- rounding: "Round X to the nearest tenth (integer, ...)", "the nearest integer to X": the
  answer must equal the rounded value exactly;
- prime: "Is 97 a prime number?", "is 91 prime": a yes or no, read from the answer's words.

A family applies only when the whole question matches its pattern (answer-form instructions
aside), so every quantity it depends on is in the formulas it reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import sympy

from noema_core.verify.scope import (
    ALLOWED_WORDS,
    NAMING,
    OutOfScope,
    directive_text,
    mask_math,
    prose_words,
    question_body,
    sentences,
)
from noema_core.verify.shapes import Parsed, answer_words
from noema_core.verify.verdict import CONTRADICTED, UNVERIFIABLE, VERIFIED, Verdict, outcome

# A formula: a LaTeX segment, or a plain number (thousands commas allowed).
_F = r"(\$[^$]+\$|\\\[.+?\\\]|\\\(.+?\\\)|-?\d[\d,]*(?:\.\d+)?!?)"
_LEAD = r"^(?:what\s+is|find|compute|determine|calculate|evaluate)\s+(?:the\s+)?"
_END = r"\s*[.?!]?\s*$"
_BASE_NUMBER = re.compile(r"([0-9A-Za-z]+)_\s*\{?\s*(?:\\text\s*\{\s*)?(\d+)\s*\}?\s*\}?")
_ROUNDING = {"tenth": 1, "hundredth": 2, "thousandth": 3, "ten-thousandth": 4,
             "integer": 0, "whole number": 0, "one": 0, "unit": 0}

Reader = Callable[[str], sympy.Basic]
# Words an answer-form instruction of these families may use ("as a residue from 0 to 24").
_FORM_WORDS = frozenset({"base", "residue", "integer", "between", "inclusive", "digits",
                         "digit", "modulo", "mod", "letters", "if", "necessary", "needed"})


def _strip(formula: str) -> str:
    formula = formula.strip()
    for a, b in (("$$", "$$"), ("$", "$"), ("\\[", "\\]"), ("\\(", "\\)")):
        if formula.startswith(a) and formula.endswith(b) and len(formula) > len(a) + len(b):
            return formula[len(a):-len(b)].strip().rstrip(".,").strip()
    return formula.replace(",", "") if re.fullmatch(r"-?\d[\d,]*!?", formula) else formula


def _integer(value: sympy.Basic, what: str) -> int:
    if not (isinstance(value, sympy.Expr) and value.is_Integer):
        raise OutOfScope(f"the {what} is not an integer the checker can compute")
    return int(value)


def family_task(question: str, read: Reader) -> tuple[str, sympy.Basic, dict] | None:
    """(kind, expected value, extras) when the question is one of the families, else None."""
    body = question_body(question)
    text = " ".join(directive_text(body).split())
    others = [s for s in sentences(" ".join(body.split())) if " ".join(s.split()) not in text]
    if any(w not in ALLOWED_WORDS and w not in _FORM_WORDS for w in prose_words(" ".join(others))):
        return None
    low = mask_math(text).lower()
    if "in base" in mask_math(body).lower() or re.search(r"\bbase\s+\$?\d", low):
        return _base(body, read)
    def read_written(formula: str) -> sympy.Basic:
        if NAMING.match(formula) or re.fullmatch(r"\s*[A-Za-z]\s*\(\s*[A-Za-z]\s*\)\s*", formula):
            raise OutOfScope(f"the question names an object ({formula}) it does not write out")
        return read(formula)

    for pattern, family in _PATTERNS:
        m = re.match(pattern, text, re.I | re.S)
        if m:
            return family(m, read_written)
    return None


def _remainder(m: re.Match, read: Reader):
    a, b = read(_strip(m.group(1))), read(_strip(m.group(2)))
    symbols = sorted((a.free_symbols | b.free_symbols), key=lambda s: s.name)
    if not symbols:
        n, d = _integer(a, "dividend"), _integer(b, "divisor")
        if d <= 0:
            raise OutOfScope("the divisor is not a positive integer")
        return "evaluate", sympy.Integer(n % d), {}
    if len(symbols) != 1:
        raise OutOfScope("polynomial division in several variables is not checked")
    return "evaluate", sympy.rem(a, b, symbols[0]), {"symbolic": True}


def _gcd_lcm(m: re.Match, read: Reader):
    numbers = [_integer(read(_strip(p)), "number") for p in re.findall(_F, m.group(2))]
    if len(numbers) < 2 or any(n <= 0 for n in numbers):
        raise OutOfScope("the numbers are not positive integers")
    lcm = "multiple" in m.group(1).lower()
    value = sympy.ilcm(*numbers) if lcm else sympy.igcd(*numbers)
    return "evaluate", sympy.Integer(value), {}


def _digit(m: re.Match, read: Reader):
    place = {"units": 0, "ones": 0, "tens": 1, "hundreds": 2}[m.group(1).lower()]
    text = _strip(m.group(2))
    power = re.fullmatch(r"\s*(\d+)\s*\^\s*\{?\s*(\d+)\s*\}?\s*", text)
    if power:  # 13^{2003}: only its last digits, without writing it out
        b, e = int(power.group(1)), int(power.group(2))
        last = pow(b, e, 10 ** (place + 1))
        if b ** min(e, 64) < 10**place:
            raise OutOfScope("the number has fewer digits than the place asked for")
        return "evaluate", sympy.Integer(last // 10**place % 10), {}
    n = _integer(read(text), "number")
    if n < 0:
        raise OutOfScope("the digit of a negative number is not checked")
    return "evaluate", sympy.Integer(n // 10**place % 10), {}


def _residue(m: re.Match, read: Reader):
    groups = m.groupdict()
    n = _integer(read(_strip(groups["n"])), "modulus")
    value = read(_strip(groups["a"]))
    if n <= 1 or not (isinstance(value, sympy.Expr) and value.is_Rational):
        raise OutOfScope("the residue is not of a rational number modulo an integer above 1")
    if sympy.gcd(value.q, n) != 1:
        raise OutOfScope("the denominator has no inverse modulo n")
    return "evaluate", sympy.Integer(value.p * sympy.mod_inverse(value.q, n) % n), {}


def _degree(m: re.Match, read: Reader):
    expr = read(_strip(m.group(1)))
    if not isinstance(expr, sympy.Expr) or not expr.free_symbols:
        raise OutOfScope("the degree of a constant is not checked")
    try:
        poly = sympy.Poly(sympy.expand(expr), *sorted(expr.free_symbols, key=lambda s: s.name))
    except sympy.PolynomialError as err:
        raise OutOfScope("the expression is not a polynomial") from err
    if poly.is_zero:
        raise OutOfScope("the degree of the zero polynomial is not checked")
    return "evaluate", sympy.Integer(poly.total_degree()), {}


def _coefficient(m: re.Match, read: Reader):
    expr = sympy.expand(read(_strip(m.group("e"))))
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    if not symbols:
        raise OutOfScope("the expression has no variable")
    if m.groupdict().get("term"):  # the constant term
        independent, _ = expr.as_independent(*symbols, as_Add=True)
        return "evaluate", independent, {}
    written = _strip(m.group("m"))
    monomial = sympy.Symbol(written.strip()) if NAMING.match(written) else read(written)
    powers = sympy.Mul.make_args(monomial)
    if not all(p.free_symbols and (p.is_Symbol or (p.is_Pow and p.exp.is_Integer))
               for p in powers):
        raise OutOfScope("the term is not a monomial")
    rest = expr
    for p in powers:
        base, exp = (p, 1) if p.is_Symbol else (p.base, int(p.exp))
        rest = sympy.expand(rest).coeff(base, exp)
    if rest.free_symbols & set(symbols):
        raise OutOfScope("the coefficient still depends on the variables")
    return "evaluate", rest, {}


def _rounding(m: re.Match, read: Reader):
    groups = m.groupdict()
    value = read(_strip(groups["x"]))
    if not (isinstance(value, sympy.Expr) and value.is_number and value.is_real):
        raise OutOfScope("the number to round is not a real number")
    places = _ROUNDING[" ".join(groups["unit"].lower().split())]
    scaled = sympy.floor(value * 10**places + sympy.Rational(1, 2))
    return "exact", sympy.Rational(int(scaled), 10**places), {"places": places}


def _base(body: str, read: Reader):
    target = re.search(r"\bbase\s*\$?\s*(\d+)\s*\$?", mask_math(body) + " " + body)
    formulas = [f for f in re.findall(r"\$([^$]+)\$", body)
                if not re.fullmatch(r"\s*\d+\s*", f)]
    prose = mask_math(body).lower()
    shape = re.match(r"^\s*(?:express|convert|write|what\s+is|find|compute|evaluate)\b", prose)
    if not target or len(formulas) != 1 or not shape:
        raise OutOfScope("the base-conversion question is not one the checker reads")
    words = set(re.findall(r"[a-z]+", prose))
    if words - {"express", "convert", "write", "what", "is", "find", "compute", "evaluate",
                "in", "base", "to", "the", "number", "your", "answer", "as", "a", "math",
                "of", "value", "and", "integer"}:
        raise OutOfScope("the base-conversion question says more than the number")

    def decimal(match: re.Match) -> str:
        digits, base = match.group(1), int(match.group(2))
        try:
            return str(int(digits, base)) if 2 <= base <= 36 else match.group(0)
        except ValueError as err:
            raise OutOfScope(f"{digits} is not a number in base {base}") from err

    value = read(_BASE_NUMBER.sub(decimal, formulas[0]))
    b = int(target.group(1))
    n = _integer(value, "number")
    if not 2 <= b <= 36 or n < 0:
        raise OutOfScope("only non-negative integers in bases 2 to 36 are checked")
    return "digits", sympy.Integer(n), {"base": b}


def _digits_of(n: int, base: int) -> str:
    out = ""
    while True:
        n, r = divmod(n, base)
        out = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[r] + out
        if n == 0:
            return out


def check_digits(expected: sympy.Integer, base: int, answer: str) -> Verdict:
    """The answer's digits (`3032_5`, `\\text{4A}_{16}`) against the number in that base."""
    want = _digits_of(int(expected), base)
    shown = f"{want} in base {base}"
    text = answer_words(answer.strip("$ "))
    m = re.fullmatch(r"\s*\{?([0-9A-Za-z]+)\}?\s*(?:_\s*\{?\s*(\d+)\s*\}?)?\s*", text)
    if not m:
        return outcome(UNVERIFIABLE, "base:digits", "could not read the answer as digits", shown)
    if m.group(2) and int(m.group(2)) != base:
        return outcome(CONTRADICTED, "base:digits", f"the answer is written in base "
                       f"{m.group(2)}, not base {base}", shown)
    same = m.group(1).upper().lstrip("0") == want.lstrip("0")
    return outcome(VERIFIED if same else CONTRADICTED, "base:digits",
                   f"the digits match {shown}" if same else f"in base {base} it is {want}",
                   shown)


def check_exact(expected: sympy.Rational, places: int, answer: Parsed) -> Verdict:
    """A rounded value: the answer must be exactly the rounded number."""
    value = answer.value
    shown = f"{int(expected * 10**places) / 10**places:.{places}f}"
    if answer.shape != "value" or not (isinstance(value, sympy.Expr) and value.is_number):
        return outcome(UNVERIFIABLE, "round:exact", "the answer is not a number", shown)
    same = sympy.nsimplify(value) == expected if not value.is_Rational else value == expected
    return outcome(VERIFIED if same else CONTRADICTED, "round:exact",
                   "equals the rounded value" if same else f"rounded, it is {shown}", shown)


MAX_PRIME_DIGITS = 30


def _prime(m: re.Match, read: Reader):
    n = _integer(read(_strip(m.group(1))), "number")
    if n < 0 or len(str(n)) > MAX_PRIME_DIGITS:
        raise OutOfScope(f"primality is checked for whole numbers up to {MAX_PRIME_DIGITS} "
                         "digits")
    return "yes-no", sympy.true if sympy.isprime(n) else sympy.false, {"claim": f"{n} is prime"}


_SAYS_NO = re.compile(r"^(?:no|false|not)\b|\bnot\s+(?:a\s+)?prime\b|\bcomposite\b|\bisn't\b")
_SAYS_YES = re.compile(r"^(?:yes|true|prime)\b|\bis\s+(?:a\s+)?prime\b")


def check_yes_no(expected: sympy.Basic, claim: str, answer: str) -> Verdict:
    """A yes/no answer ("yes", "\\text{No}", "97 is prime", "composite") against the truth of
    `claim`; an answer that says neither (a number) is one the checker cannot read."""
    text = answer_words(answer).strip("$ .!").lower()
    truth = bool(expected)
    shown = "yes" if truth else "no"
    says = False if _SAYS_NO.search(text) else True if _SAYS_YES.search(text) else None
    if says is None:
        return outcome(UNVERIFIABLE, "parse", f"could not read the answer as a yes or no: the "
                       f"question asks whether {claim}", shown)
    why = claim if truth else claim.replace(" is ", " is not ", 1)
    return outcome(VERIFIED if says == truth else CONTRADICTED, "yes-no",
                   f"{shown}: {why}", shown)


def _f(name: str) -> str:
    return _F.replace("(", f"(?P<{name}>", 1)


_PATTERNS = [
    (r"^(?:is|are)\s+" + _F + r"\s+(?:a\s+)?prime(?:\s+number)?(?:\s+or\s+not)?" + _END,
     _prime),
    (_LEAD + r"remainder\s+when\s+(?:the\s+polynomial\s+)?" + _F + r"\s+is\s+divided\s+by\s+"
     + _F + _END, _remainder),
    (_LEAD + r"(greatest\s+common\s+(?:divisor|factor)|least\s+common\s+multiple)\s+of\s+"
     r"((?:" + _F + r"(?:\s*,\s*(?:and\s+)?|\s+and\s+)?)+)" + _END, _gcd_lcm),
    (_LEAD + r"(units|ones|tens|hundreds)\s+digit\s+of\s+" + _F + _END, _digit),
    (_LEAD + r"(?:modulo|mod)\s+" + _f("n") + r"\s+residue\s+of\s+" + _f("a") + _END, _residue),
    (_LEAD + r"(?:value\s+of\s+)?\$(?P<a>[^$]+?)\s*\\pmod\s*\{?\s*(?P<n>\d+)\s*\}?\s*\$" + _END,
     _residue),
    (_LEAD + r"degree\s+of\s+(?:the\s+)?(?:polynomial\s+)?" + _F + _END, _degree),
    (_LEAD + r"(?P<term>constant\s+term)\s+(?:in|of)\s+(?:the\s+expansion\s+of\s+)?" + _f("e")
     + _END, _coefficient),
    (_LEAD + r"coefficient\s+of\s+" + _f("m") + r"\s+in\s+(?:the\s+expansion\s+of\s+)?"
     + _f("e") + _END, _coefficient),
    (_LEAD + r"coefficient\s+of\s+" + _f("m") + r"\s+when\s+" + _f("e")
     + r"\s+is\s+(?:simplified|expanded)" + _END, _coefficient),
    (r"^round\s+" + _f("x") + r"\s+to\s+the\s+nearest\s+(?P<unit>tenth|hundredth|thousandth|"
     r"ten-thousandth|integer|whole\s+number)" + _END, _rounding),
    (_LEAD + r"nearest\s+(?P<unit>integer|whole\s+number)\s+to\s+" + _f("x") + _END, _rounding),
]
