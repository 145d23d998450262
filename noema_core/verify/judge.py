"""One check, start to finish, inside the worker: which mode, parse, compare, and a verdict.

Every expected failure (unreadable text, a question we do not model, an input over a cap)
becomes an "unverifiable" verdict with the reason; only bugs raise.
"""

from __future__ import annotations

import re

from noema_core.verify.classify import NotCheckable
from noema_core.verify.context import Context, context_from_question
from noema_core.verify.independent import check_independently
from noema_core.verify.limits import (
    MAX_ANSWER_CHARS,
    MAX_QUESTION_CHARS,
    MAX_REFERENCE_CHARS,
    InputTooLarge,
    check_text,
)
from noema_core.verify.reference import compare
from noema_core.verify.shapes import ShapeError, parse_answer
from noema_core.verify.verdict import (
    CONTRADICTED,
    UNVERIFIABLE,
    VERIFIED,
    Verdict,
    unverifiable,
)


def judge(answer: str, question: str | None = None, reference: str | None = None,
          earlier: tuple[str, ...] = ()) -> Verdict:
    """The verdict for an extracted answer, against a reference or else the question."""
    mode = "reference" if reference is not None else "independent" if question else ""
    try:
        check_text(answer, "the answer", MAX_ANSWER_CHARS)
        if question:
            check_text(question, "the question", MAX_QUESTION_CHARS)
        ctx = context_from_question(question)
        if reference is not None:
            check_text(reference, "the reference", MAX_REFERENCE_CHARS)
            verdict = _reference_mode(answer, reference, ctx)
            if verdict.status == VERIFIED and question:
                return _in_the_form_asked(verdict, question, answer, reference, ctx, earlier)
            return verdict
        if question:
            return check_independently(question, answer, ctx, earlier)
        return unverifiable("nothing to check against: give a question or a reference")
    except InputTooLarge as err:
        return unverifiable(f"{err}", method="limits", mode=mode)
    except NotCheckable as err:
        return unverifiable(str(err), method="classify", mode=mode)
    except ShapeError as err:
        return unverifiable(f"could not read the answer: {err}", method="parse", mode=mode)
    except RecursionError:
        return unverifiable("the expression is nested too deeply to check", method="limits",
                            mode=mode)


def _reference_mode(answer: str, reference: str, ctx: Context) -> Verdict:
    try:
        ref = parse_answer(reference, ctx.variables)
    except ShapeError as err:
        return unverifiable(f"could not read the reference: {err}", method="parse",
                            mode="reference")
    expected = ref.describe()
    ans = parse_answer(answer, ctx.variables)
    decision = compare(ref, ans, ctx)
    if decision.same is None:
        status, reason = UNVERIFIABLE, "could not decide whether the answer equals the reference"
    elif decision.same:
        status, reason = VERIFIED, "equivalent to the reference"
    else:
        status, reason = CONTRADICTED, "differs from the reference"
    if decision.detail:
        reason += f": {decision.detail}"
    return Verdict(status=status, expected=expected, method=decision.method, reason=reason,
                   mode="reference")


def _in_the_form_asked(verdict: Verdict, question: str, answer: str, reference: str,
                       ctx: Context, earlier: tuple[str, ...]) -> Verdict:
    """An answer equal to the reference may still not be what the question asks for: `12/9`
    for "Simplify 48/36", `x^2 - 1` for "Factor x^2 - 1". It is contradicted when the
    independent check finds its form wrong and the reference in the right one; whatever that
    check cannot read leaves the reference's verdict as it was."""
    try:
        own = check_independently(question, answer, ctx, earlier)
        if own.status != CONTRADICTED or not own.method.endswith(":form"):
            return verdict
        if check_independently(question, reference, ctx, earlier).status != VERIFIED:
            return verdict  # the reference is not in that form either: the form is not asked
    except (NotCheckable, ShapeError, RecursionError):
        return verdict
    why = re.sub(r"^equal(?: in value)?, but ", "", own.reason)  # "12/9 is not in lowest terms"
    return Verdict(status=CONTRADICTED, expected=verdict.expected, method=own.method,
                   reason=f"equivalent to the reference, but {why}", mode="reference")
