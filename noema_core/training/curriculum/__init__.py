"""A seeded, endless curriculum of school-math problems with step-by-step solutions.

Families, each in the module named after its subject: multi-digit arithmetic and fractions
(`arithmetic`), order of operations (`expressions`); linear equations, quadratics and 2x2 systems
(`algebra`); expanding, simplifying and differentiating polynomials (`polynomials`).
Every answer is correct by construction and rechecked with sympy as it is generated.

The questions are phrased as people type them (`phrasing`); the training stream also holds
out-of-scope messages (`scope`) with the one reply the model gives them.

`training_stream` never yields a held-out problem; `held_out_suite` yields only those, so the
two never overlap, by seed or by problem.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

from noema_core.training.curriculum import algebra, arithmetic, expressions, polynomials, scope
from noema_core.training.curriculum.decontaminate import is_dev_question
from noema_core.training.curriculum.problem import HELD_OUT_SHARE, Problem, is_held_out

Generator = Callable[[random.Random, bool], Problem]

FAMILIES: dict[str, Generator] = {
    "arithmetic": arithmetic.multi_digit,
    "order_of_operations": expressions.order_of_operations,
    "fractions": arithmetic.fractions,
    "linear_equation": algebra.linear_equation,
    "quadratic_equation": algebra.quadratic_equation,
    "linear_system": algebra.linear_system,
    "polynomial_expand": polynomials.expand,
    "polynomial_simplify": polynomials.simplify,
    "derivative": polynomials.derivative,
}

# Harder families are drawn more often: they have more steps to learn. After stage 5 the
# families the model still got wrong most often, on the hand-written questions and on the
# held-out suite alike, were order of operations (64% / 50%), fractions, systems, linear
# equations and arithmetic (72-77%), while quadratics, expanding, simplifying and derivatives
# were at 94-100%: the later stages draw the first group more and the second less.
WEIGHTS: dict[str, float] = {
    "arithmetic": 1.5, "order_of_operations": 1.6, "fractions": 1.4, "linear_equation": 1.3,
    "quadratic_equation": 0.8, "linear_system": 1.4, "polynomial_expand": 0.6,
    "polynomial_simplify": 0.7, "derivative": 0.5,
}

SCOPE_SHARE = 0.15  # of training problems: out-of-scope messages and their reply

__all__ = ["FAMILIES", "Problem", "held_out_suite", "training_stream", "generate",
           "training_problem"]


def generate(rng: random.Random, family: str | None = None, *, check: bool = True) -> Problem:
    """One problem of `family` (or of a family drawn by weight)."""
    if family is None:
        family = rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
    return FAMILIES[family](rng, check)


def training_problem(rng: random.Random, family: str | None = None, *,
                     check: bool = False) -> Problem:
    """One problem of `family` (or drawn by weight) that is neither held out nor phrased as
    a hand-written evaluation question."""
    while True:
        problem = generate(rng, family, check=check)
        if not is_held_out(problem.key) and not is_dev_question(problem.question):
            return problem


def training_stream(seed: int, *, check_share: float = 1.0) -> Iterator[Problem]:
    """Endless training problems, with `SCOPE_SHARE` out-of-scope messages among them;
    held-out problems and the hand-written evaluation questions are skipped. `check_share`
    of them are rechecked with sympy (the checks cost more than generating; training uses a
    sample)."""
    rng = random.Random(f"train-{seed}")
    audit = random.Random(f"audit-{seed}")
    while True:
        if rng.random() < SCOPE_SHARE:
            message = scope.message(rng)
            if not is_held_out(message.key) and not is_dev_question(message.question):
                yield message
        else:
            yield training_problem(rng, check=audit.random() < check_share)


def held_out_suite(per_family: int, *, seed: int = 0,
                   families: list[str] | None = None) -> list[Problem]:
    """`per_family` distinct held-out problems of each family, deterministic for a seed."""
    suite = []
    for family in families or list(FAMILIES):
        rng = random.Random(f"held-out-{seed}-{family}")
        seen: set[tuple] = set()
        for _attempt in range(HELD_OUT_SHARE * per_family * 50):
            if len(seen) == per_family:
                break
            state = rng.getstate()
            problem = FAMILIES[family](rng, False)
            if is_held_out(problem.key) and problem.key not in seen:
                after = rng.getstate()
                rng.setstate(state)  # regenerate the same problem, this time checked
                problem = FAMILIES[family](rng, True)
                rng.setstate(after)
                seen.add(problem.key)
                suite.append(problem)
        else:
            raise ValueError(f"{family} has fewer than {per_family} held-out problems")
    return suite
