"""Derivative notation read as the task it names, before the question is classified.

`d/dx x^3 + 2x`, `\\frac{d}{dx}(x^3 + 2x)`, `d^2/dx^2 ...` apply the operator to the whole
formula after it; `dy/dx`, `y'`, `f'(x)` and `f''(x)` ask for the derivative of a function the
question defines (`for y = x^3 + 2x`, `if f(x) = ...`). Such a question is rewritten as
"Find the derivative of EXPR with respect to x" (with its order), so the rest of the checker
sees one task and one formula; the `x` of `dx` is the variable, never a factor. A question
whose other words say more than that keeps its text and is judged (or refused) as written.
"""

from __future__ import annotations

import re

from noema_core.verify.scope import ALLOWED_WORDS, prose_words

_ORDER_WORDS = {1: "", 2: "second ", 3: "third ", 4: "fourth "}

# d/dx, d^2/dx^2, \frac{d}{dx}, \frac{d^2}{dx^2} (optionally \mathrm{d}), then the formula.
_OPERATOR = re.compile(
    r"(?:\\frac\s*\{\s*(?:\\mathrm\{d\}|d)\s*(?:\^\s*\{?(?P<n1>\d)\}?)?\s*\}\s*\{\s*(?:\\mathrm"
    r"\{d\}|d)\s*(?P<v1>[A-Za-z])\s*(?:\^\s*\{?\d\}?)?\s*\}|\bd\s*(?:\^\s*(?P<n2>\d))?\s*/\s*"
    r"d\s*(?P<v2>[A-Za-z])(?:\s*\^\s*\d)?)(?![A-Za-z])\s*(?P<rest>.+)$", re.S)
# dy/dx, \frac{dy}{dx}, y', y'', f'(x), f''(x)
_NAMED = re.compile(
    r"\\frac\s*\{\s*d\s*(?:\^\s*\{?(?P<n1>\d)\}?)?\s*(?P<f1>[A-Za-z])\s*\}\s*\{\s*d\s*"
    r"(?P<v1>[A-Za-z])\s*(?:\^\s*\{?\d\}?)?\s*\}|\bd\s*(?:\^\s*(?P<n2>\d))?\s*(?P<f2>[A-Za-z])"
    r"\s*/\s*d\s*(?P<v2>[A-Za-z])(?:\s*\^\s*\d)?|(?<![A-Za-z\\])(?P<f3>[A-Za-z])(?P<primes>'+|"
    r"\^\s*\{?\\prime\}?|\^\s*\{?\\prime\\prime\}?)(?:\s*\(\s*(?P<v3>[A-Za-z])\s*\))?")
_DEFINITION_WORDS = frozenset({"if", "let", "given", "suppose", "where", "for", "define", "be",
                               "when", "function"})


def _definition(text: str, name: str) -> tuple[str, str | None, str] | None:
    """The formula `name(v) = ...` or `name = ...` defines, its variable, and the definition
    as written, from `text`."""
    m = re.search(rf"(?<![A-Za-z\\]){name}\s*(?:\(\s*(?P<var>[A-Za-z])\s*\))?\s*=\s*"
                  r"(?P<expr>[^=$<>]+?)\s*(?:\$|\\\]|\\\)|[,;?]|\.(?:\s|$)|\s+(?:and|find|what|"
                  r"compute|evaluate|determine|calculate)\b|$)", text)
    if not m or not m.group("expr").strip():
        return None
    return m.group("expr").strip(), m.group("var"), text[m.start():m.end("expr")]


def _say(expr: str, var: str, order: int, latex: bool) -> str:
    wrap = (lambda t: f"${t}$") if latex else (lambda t: t)
    return (f"Find the {_ORDER_WORDS.get(order, '')}derivative of {wrap(expr)} with respect "
            f"to {wrap(var)}")


def _only_directive_left(question: str, *used: str) -> bool:
    """Whether the question says nothing beyond the pieces used: no other formula or
    relation, and only directive or definition words."""
    rest = question
    for piece in used:
        rest = rest.replace(piece, " ", 1)
    if re.search(r"[=<>≤≥\d^+*/]|\\(?:le|ge|lt|gt|neq)", rest):
        return False
    return all(w in ALLOWED_WORDS or w in _DEFINITION_WORDS for w in prose_words(rest))


def rewrite_derivative(question: str) -> str:
    """The question restated as "Find the derivative of ..." when it is written in derivative
    notation; otherwise the question unchanged."""
    latex = "$" in question or "\\(" in question or "\\[" in question
    segments = re.findall(r"\$([^$]+)\$", question) if latex else [question]
    for segment in segments:
        op = _OPERATOR.search(segment)
        if op and not _NAMED.match(segment, op.start()):
            order = int(op.group("n1") or op.group("n2") or 1)
            var = op.group("v1") or op.group("v2")
            expr = op.group("rest").strip().rstrip("?.!").strip()
            before = segment[:op.start()]
            if expr and _only_directive_left(question, segment if latex else op.group(0)) \
                    and not re.search(r"[0-9)]\s*$", before):
                return _say(expr, var, order, latex)
    named = _NAMED.search(question)
    if not named:
        return question
    name = named.group("f1") or named.group("f2") or named.group("f3")
    primes = named.group("primes") or ""
    order = int(named.group("n1") or named.group("n2") or 0) or \
        (primes.count("'") + 2 * primes.count("\\prime\\prime") or primes.count("\\prime") or 1)
    var = named.group("v1") or named.group("v2") or named.group("v3")
    # "f(x) = x^2 + 1, f'(x) = ?": the "= ?" asks for it, as a question mark would.
    asked = re.match(r"\s*=\s*\?", question[named.end():])
    end = named.end() + (asked.end() if asked else 0)
    rest = question[:named.start()] + " " + question[end:]
    found = _definition(rest, name)
    if found is None:
        return question
    expr, defined_var, written = found
    var = var or defined_var or "x"
    if defined_var and defined_var != var:
        return question
    if not _only_directive_left(question, question[named.start():end], written):
        return question
    return _say(expr, var, order, latex)
