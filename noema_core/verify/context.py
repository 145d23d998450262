"""What the question (if any) tells us about how to read answers.

- `variables`: letters the question treats as unknowns ("Solve for e", "value of i"), so `e`
  and `i` stop being Euler's number and the imaginary unit;
- `percent`: the question asks for a percentage, so a bare `25` also reads as `25%`;
- `intervals`: the question asks for a set of values (inequality, interval, domain, range), so
  `(a, b)` is an open interval rather than a point;
- `domain`: "real" or "complex" when the question says so, else None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_VARIABLE = re.compile(
    r"\b(?:solve|for|of|find|value\s+of|values\s+of|value\(s\)\s+of|respect\s+to)\s+"
    r"(?:all\s+|the\s+)?(?:real\s+|complex\s+)?(?:values?\s+of\s+|value\(s\)\s+of\s+)?"
    r"\$?\\?\(?([A-Za-z])\$?\\?\)?(?=[\s:,.;?$]|$)")
_DIFFERENTIAL = re.compile(r"(?:\bd|\\,d|\\mathrm\{d\})\s*([A-Za-z])\s*$|\bd/d([A-Za-z])\b|"
                           r"\\frac\s*\{\s*d\s*\}\s*\{\s*d\s*([A-Za-z])\s*\}")
_PERCENT = re.compile(r"percent|\\%|%", re.IGNORECASE)
_INTERVALS = re.compile(r"inequalit|interval|domain|range|\bset\s+of\s+(?:all\s+)?(?:real|values)"
                        r"|[<>≤≥]|\\le|\\ge|\\lt|\\gt", re.IGNORECASE)
_COMPLEX = re.compile(r"complex|imaginary|\\mathbb\s*\{?\s*C\b", re.IGNORECASE)
_REAL = re.compile(r"\breal\b|\\mathbb\s*\{?\s*R\b", re.IGNORECASE)


@dataclass(frozen=True)
class Context:
    variables: frozenset[str] = frozenset()
    percent: bool = False
    intervals: bool = False
    domain: str | None = None  # "real", "complex" or None (not said)


def context_from_question(question: str | None) -> Context:
    if not question:
        return Context()
    names = {m.group(1) for m in _VARIABLE.finditer(question)}
    names |= {g for m in _DIFFERENTIAL.finditer(question) for g in m.groups() if g}
    # Only the letters that would otherwise be constants need declaring.
    variables = frozenset(n for n in names if n in ("e", "i", "E", "I"))
    domain = "complex" if _COMPLEX.search(question) else "real" if _REAL.search(question) else None
    return Context(variables=variables, percent=bool(_PERCENT.search(question)),
                   intervals=bool(_INTERVALS.search(question)), domain=domain)


def declared_variable(question: str) -> str | None:
    """The unknown the question names ("Solve for x", "value of k"), if it names exactly one."""
    names = {m.group(1) for m in _VARIABLE.finditer(question)}
    names -= {"a", "A", "I"}  # English words caught by the pattern ("find a", "for I")
    return names.pop() if len(names) == 1 else None
