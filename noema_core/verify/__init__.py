"""Check a model's final answer with sympy: against a reference, or independently.

    from noema_core.verify import check, Verdict
    verdict = check(response, question=question)     # independent mode
    verdict = check(response, reference="7/12")      # reference mode (used by `noema eval`)
    verdict.status  # "verified" | "contradicted" | "unverifiable"; verdict.reason says why

The answer is extracted in this process (`extract`: last `\\boxed{}`, then answer lines, then
a reported fallback); all parsing and computing runs in a warm worker process (`worker`) with
a wall-clock deadline, memory and CPU limits and input caps (`limits`). When a check overruns,
the worker is killed and restarted and the verdict is "could not check: timed out". No text
is ever passed to `sympify`, `parse_expr` or `eval`: LaTeX goes through math-verify's ANTLR
grammar (latex2sympy2_extended), plain text through our allow-list parser (`plaintext`).
Importing this package does not import sympy (or torch, textual, rich).

Conventions (one place, applied in both modes):
- Lists of answers (`x = 2, x = -3`, `2 or -3`, `\\{-3, 2\\}`, `x = \\pm 3`) are unordered sets;
  repeated values count once. Tuples `(a, b, c)` are ordered. A pair `(a, b)` is a point
  unless the question is about an inequality/interval/domain/range, the other side is an
  interval, or an endpoint is infinite; `[a, b)`/`(a, b]` are always intervals.
- `(x, y) = (2, 3)` and `x = 2, y = 3` are the same solution; an unlabelled tuple gives the
  variables in alphabetical order. `x = 5` matches `5`; `y = 5` does not match `x = 5`.
- Decimals: a decimal matches a value it rounds or truncates to at the places it shows
  (`0.3333` and `0.333` match 1/3, `0.34` does not; `6.02 \\times 10^{23}` is good to
  10^21); two decimals match when the finer rounds to the coarser (`0.1` is not `0.0`).
  Decimals are read as exact decimal fractions, never binary floats. Exact numbers compare
  exactly (50 significant digits for irrationals), so 1/2^99 and 1/2^98 differ.
- `e` is Euler's number and `i` the imaginary unit, unless the question names them as the
  unknown ("Solve for e"). `\\log x` and `log(x)` are natural logarithms. One-letter variables
  are case-insensitive (`X` is `x`). `C`/`K` added to an antiderivative are constants. In
  plain text `xy` is x*y, `f(x)`/`g(t)` are functions, and `sin 2x` is sin(2x).
- A lone letter A-E is a multiple-choice answer when compared with another letter, and
  mathematics otherwise. Equations that are not assignments compare by their solutions
  (`x + 1 = 2` is `2x = 2`).
- Percent: `p%` is p/100; a bare number also reads as a percentage when the question asks for
  one or the reference is written with `%`. `25` as reference does not match `25%`.
- Units after a number are converted within a dimension (`100 cm` = `1 m`); different
  dimensions never match; a unit on one side only is ignored. Degrees (`30^\\circ`) convert to
  radians only against an angle written with pi.
- Independent mode: the domain is what the question says; otherwise the reals, unless the
  answer uses complex numbers. Every root must be given; each exact root is substituted back.
  Radians throughout, except `30^\\circ` in a question. A verdict needs the formulas to be
  the whole question (`scope`): word problems, conditions, properties it does not compute,
  diagrams and unexplained earlier-turn references ("now", "that") are "could not check"
  with the reason. Odd roots of negative numbers are real (∛-8 = -2).
"""

from __future__ import annotations

import atexit
import threading
import time
from collections.abc import Sequence

from noema_core.verify.extract import Extraction, extract_answer
from noema_core.verify.limits import (
    MAX_ANSWER_CHARS,
    MAX_QUESTION_CHARS,
    MAX_REFERENCE_CHARS,
    MAX_RESPONSE_CHARS,
)
from noema_core.verify.verdict import Verdict, unverifiable

MAX_EARLIER_TURNS = 8  # earlier questions sent with a follow-up

__all__ = ["Extraction", "Verdict", "check", "extract_answer", "shutdown", "warm_up"]

DEFAULT_TIMEOUT_S = 5.0

_client = None
_client_lock = threading.Lock()


def _get_client():
    global _client
    with _client_lock:
        if _client is None:
            from noema_core.verify.client import WorkerClient

            _client = WorkerClient()
            atexit.register(shutdown)
        return _client


def warm_up(wait: float = 0.0) -> bool:
    """Start the checker's worker now (it takes about a second); optionally wait for it."""
    return _get_client().warm_up(wait)


def shutdown() -> None:
    """Stop the worker process (registered to run at interpreter exit)."""
    if _client is not None:
        _client.close()


def _too_long(text: str | None, limit: int) -> bool:
    return text is not None and len(text) > limit


def check(response: str, *, question: str | None = None, reference: str | None = None,
          timeout: float = DEFAULT_TIMEOUT_S, earlier: Sequence[str] = ()) -> Verdict:
    """Check the final answer in `response`; returns within about `timeout` + 1 s, always.

    With `reference`, decide whether the answer is equivalent to it; otherwise, with
    `question`, classify it and check the answer independently with sympy. `earlier` is the
    conversation's previous user questions, oldest first: a follow-up ("Now what is x + y?")
    is checked against the equation or system sympy solves from the latest of them, and is
    otherwise "could not check: refers to an earlier turn". Thread-safe.
    """
    start = time.monotonic()
    if not isinstance(response, str):
        raise TypeError(f"response must be a str, not {type(response).__name__}")
    timeout = min(max(float(timeout), 0.05), 600.0)

    def done(verdict: Verdict, found: Extraction | None = None) -> Verdict:
        extra = {"answer": found.answer, "rule": found.rule} if found else {}
        if found and found.is_fallback and verdict.reason:
            extra["reason"] = f"{verdict.reason} (answer taken from the {found.rule[9:]} "\
                              "fallback: no \\boxed{} or answer line)"
        return verdict.with_(elapsed_ms=round((time.monotonic() - start) * 1000, 3), **extra)

    if _too_long(response, MAX_RESPONSE_CHARS):
        return done(unverifiable(f"the response is too long to check ({len(response):,} "
                                 f"characters; limit {MAX_RESPONSE_CHARS:,})", method="limits"))
    if _too_long(reference, MAX_REFERENCE_CHARS):
        return done(unverifiable(f"the reference is too long ({len(reference):,} characters; "
                                 f"limit {MAX_REFERENCE_CHARS:,})", method="limits"))
    if _too_long(question, MAX_QUESTION_CHARS) and reference is None:
        return done(unverifiable(f"the question is too long ({len(question):,} characters; "
                                 f"limit {MAX_QUESTION_CHARS:,})", method="limits"))
    found = extract_answer(response)
    if found.rule == "unclosed-box":
        return done(unverifiable("the last \\boxed{...} is never closed (a truncated reply?)",
                                 method="extract"), found)
    if not found.answer:
        return done(unverifiable("no final answer found (no \\boxed{}, answer line or number)",
                                 method="extract"), found)
    if len(found.answer) > MAX_ANSWER_CHARS:
        return done(unverifiable(f"the answer is too long to check ({len(found.answer):,} "
                                 f"characters; limit {MAX_ANSWER_CHARS:,})", method="limits"),
                    found)
    if reference is None and not question:
        return done(unverifiable("nothing to check against: give a question or a reference"),
                    found)
    request = {"answer": found.answer, "reference": reference,
               "question": question if not _too_long(question, MAX_QUESTION_CHARS) else None,
               "earlier": [q for q in list(earlier)[-MAX_EARLIER_TURNS:]
                           if isinstance(q, str) and not _too_long(q, MAX_QUESTION_CHARS)]}
    verdict = _get_client().run(request, timeout - (time.monotonic() - start))
    return done(verdict, found)
