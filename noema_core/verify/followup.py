"""Follow-up questions in a conversation: "Solve x + y = 5, x - y = 1" then "Now what is x + y?".

A follow-up that states its whole task after its turn words ("and 406 - 177?", "now solve
2x + 6 = 10") is checked on its own: nothing in it needs an earlier value. Otherwise a
question that points back at an earlier turn is checked only when the checker can use that
turn itself: the latest earlier question must be an equation or a system that sympy solves
with exactly one solution (the model's earlier answer is never trusted). Its values then act
as definitions for the follow-up, whose turn words ("now", "then") are dropped. Anything else
stays "could not check: refers to an earlier turn".
"""

from __future__ import annotations

import re
from collections.abc import Callable

import sympy

from noema_core.verify.scope import EARLIER_TURN, OutOfScope, mask_math, prose_words

_TURN_WORDS = re.compile(r"^\s*(?:(?:now|then|so|and|ok(?:ay)?|next(?:\s+one)?|also|finally|"
                         r"last\s+one|thanks|thank\s+you|what\s+about|how\s+about)\b"
                         r"[\s,.:!]*)+", re.I)
# What a bare formula after turn words asks of, when the earlier question said it.
_EARLIER_VERBS = {"expand": "Expand", "simplify": "Simplify", "factor": "Factor",
                  "differentiate": "Find the derivative of"}

Definition = tuple[str, str | None, str]


def refers_to_earlier(question: str) -> bool:
    return bool(EARLIER_TURN.search(mask_math(question)))


# Tasks whose letters are their own unknowns or variables, so an earlier turn's values do not
# apply to them ("now expand (x + 1)^2" after a system in x and y is about the polynomial).
_OWN_VARIABLES = frozenset({"solve", "system", "inequality", "differentiate", "expand",
                            "simplify", "factor", "integrate", "definite-integral", "limit",
                            "sum"})


def standalone(question: str) -> str | None:
    """The question without its leading turn words, when nothing else in it points back at
    an earlier turn; None when it has no turn words or still points back ("and that?")."""
    stripped = _TURN_WORDS.sub("", question)
    if stripped == question or not stripped.strip() or refers_to_earlier(stripped):
        return None
    return stripped


def self_contained(task: object) -> bool:
    """Whether a task needs no value from an earlier turn: one about its own variables, or a
    value with no letters left in it ("what is x + y?" needs the earlier solution)."""
    kind = getattr(task, "kind", "")
    if kind in ("solve", "system") and all(_gives_a_value(eq) for eq in
                                           getattr(task, "equations", ()) or (task.expr,)):
        return False  # "now x = 2" after "differentiate x^3": a value for x, not an equation
    if kind in _OWN_VARIABLES:
        return True
    free = getattr(getattr(task, "expr", None), "free_symbols", None)
    return free is not None and not free


def bare_expression(question: str) -> bool:
    """A formula with letters and nothing else ("(x - 7)(x - 8)"): alone it asks nothing a
    checker can answer, after "expand ..." it is the next one to expand."""
    return (not prose_words(question) and bool(re.search(r"[A-Za-z]", question))
            and not re.search(r"[=<>≤≥]", question))


def with_earlier_task(alone: str, earlier_task: object) -> str | None:
    """'now (x - 3)^2' after 'expand (x + 1)(x + 2)': 'Expand (x - 3)^2'. Only for a bare
    formula (optionally after 'of') and an earlier task that is done to an expression."""
    formula = re.sub(r"^\s*of\s+", "", alone, flags=re.I)
    verb = _EARLIER_VERBS.get(getattr(earlier_task, "kind", ""))
    if verb is None or prose_words(formula) or not re.search(r"[A-Za-z]", formula):
        return None
    return f"{verb} {formula}"


def _gives_a_value(relation: object) -> bool:
    """`x = 2` (a letter on one side, a number on the other) states a value to use."""
    sides = (getattr(relation, "lhs", None), getattr(relation, "rhs", None))
    return any(isinstance(a, sympy.Symbol) and getattr(b, "is_number", False)
               for a, b in (sides, sides[::-1]))


def resolve(question: str, earlier: tuple[str, ...], solve_latest: Callable[[str], dict]
            ) -> tuple[str, list[Definition]]:
    """The follow-up without its turn words, and the earlier turn's solution as definitions."""
    stripped = _TURN_WORDS.sub("", question)
    if not earlier or refers_to_earlier(stripped):
        found = EARLIER_TURN.search(mask_math(question))
        raise OutOfScope(f"the question refers to an earlier turn ({found.group(0)!r}) that the "
                         "checker cannot use" if earlier else "the question refers to an earlier "
                         f"turn ({found.group(0)!r}); the checker sees only this question")
    solution = solve_latest(earlier[-1])
    return stripped, [(str(name), None, sympy.latex(value)) for name, value in solution.items()]


def unique_solution(task: object) -> dict:
    """The one solution of an equation or system task, or OutOfScope."""
    kind = getattr(task, "kind", "")
    if kind == "system":
        variables = list(task.extras["variables"])
        found = sympy.solve(list(task.equations), variables, dict=True)
    elif kind == "solve":
        roots = sympy.solveset(task.expr.lhs - task.expr.rhs, task.var, sympy.S.Reals)
        found = [{task.var: r} for r in roots] if isinstance(roots, sympy.FiniteSet) else []
        variables = [task.var]
    else:
        raise OutOfScope("the question refers to an earlier turn that is not an equation or "
                         "system the checker can solve")
    if len(found) != 1 or set(found[0]) != set(variables) or not all(
            v.is_number for v in found[0].values()):
        raise OutOfScope("the question refers to an earlier turn whose equations do not have "
                         "exactly one solution")
    return found[0]
