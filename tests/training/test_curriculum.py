"""The curriculum: sympy-checked answers, many phrasings, and a held-out split that never leaks."""

from __future__ import annotations

import itertools
import random
import re

import pytest

from noema_core.training.curriculum import FAMILIES, held_out_suite, training_stream
from noema_core.training.curriculum.notation import boxed
from noema_core.training.curriculum.problem import is_held_out


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_family_generates_sympy_checked_solutions_ending_in_the_boxed_answer(family):
    rng = random.Random(family)
    for _ in range(150):
        problem = FAMILIES[family](rng, True)  # the generator asserts its sympy check
        assert problem.family == family
        assert problem.solution.endswith(boxed(problem.answer))
        assert problem.question and "\\boxed" not in problem.question


@pytest.mark.parametrize("family", list(FAMILIES))
def test_questions_come_in_several_phrasings(family):
    rng = random.Random(0)
    wordings = {tuple(re.findall(r"[A-Za-z]{3,}", FAMILIES[family](rng, False).question))
                for _ in range(200)}
    assert len(wordings) >= 3


def test_the_answer_checker_verifies_generated_answers_against_their_references():
    from noema_core.verify import check

    for problem in held_out_suite(4, seed=3):
        verdict = check(problem.solution, question=problem.question, reference=problem.answer)
        assert verdict.status == "verified", (problem.question, problem.answer, verdict.reason)


def test_held_out_problems_never_appear_in_training():
    held_out = {p.key for p in held_out_suite(30, seed=0)}
    assert all(is_held_out(key) for key in held_out)
    seen = {p.key for p in itertools.islice(training_stream(0, check_share=0.0), 20_000)}
    assert not held_out & seen
    assert not any(is_held_out(key) for key in seen)


def test_streams_are_reproducible_from_their_seed():
    first = [p.question for p in itertools.islice(training_stream(5, check_share=0.0), 50)]
    again = [p.question for p in itertools.islice(training_stream(5, check_share=0.0), 50)]
    other = [p.question for p in itertools.islice(training_stream(6, check_share=0.0), 50)]
    assert first == again and first != other
    assert [p.key for p in held_out_suite(3, seed=1)] == [p.key for p in held_out_suite(3, seed=1)]


def test_column_arithmetic_shows_each_carry_and_borrow():
    from noema_core.training.curriculum.arithmetic import add_text, long_division_text, sub_text

    assert add_text(347, 589) == ("347 + 589: ones 7 + 9 = 16, write 6 carry 1; tens 4 + 8 + 1 "
                                  "= 13, write 3 carry 1; hundreds 3 + 5 + 1 = 9. So 347 + 589 "
                                  "= 936.")
    assert sub_text(742, 289).endswith("So 742 - 289 = 453.")
    assert "ones 2 - 9: borrow, 12 - 9 = 3" in sub_text(742, 289)
    assert long_division_text(612, 6) == ("612 ÷ 6: 6 ÷ 6 = 1 remainder 0; 1 ÷ 6 = 0 remainder "
                                          "1; 12 ÷ 6 = 2 remainder 0. So 612 ÷ 6 = 102.")


def test_order_of_operations_reduces_one_operation_per_step():
    from noema_core.training.curriculum.expressions import order_of_operations

    rng = random.Random(11)
    problem = order_of_operations(rng)
    steps = problem.solution.split(". ")[0].split(" = ")
    assert len(steps) >= 3
    for before, after in itertools.pairwise(steps):
        ops = sum(before.count(op) for op in "+×÷") + before.count(" - ")
        ops_after = sum(after.count(op) for op in "+×÷") + after.count(" - ")
        assert ops_after == ops - 1


def test_order_of_operations_divides_by_and_into_parenthesised_sums_as_people_type_them():
    import re

    from noema_core.training.curriculum.expressions import order_of_operations

    rng = random.Random(12)
    expressions = [order_of_operations(rng).key[1] for _ in range(600)]  # checked with sympy
    assert any(re.search(r"÷ \([^()]*[+-][^()]*\)", e) for e in expressions)  # 12 ÷ (1 + 3)
    assert any(re.search(r"\([^()]*[+-][^()]*\) ÷", e) for e in expressions)  # (20 - 4) ÷ 2
    assert any(re.fullmatch(r"\d+ ÷ \d+", e.split(" + ")[0]) for e in expressions)


def test_arithmetic_divides_by_two_digit_numbers_too():
    from noema_core.training.curriculum.arithmetic import multi_digit

    rng = random.Random(13)
    divisions = [p.key for p in (multi_digit(rng) for _ in range(400)) if p.key[2] == "÷"]
    divisors = {b for _, _, _, b in divisions}
    assert divisors & set(range(10, 26)) and divisors & set(range(2, 10))
    assert all(a % b == 0 for _, a, _, b in divisions)  # exact, as the steps assume


def test_fractions_reach_twelfths_and_reduce_by_factors_to_twelve():
    from math import gcd

    from noema_core.training.curriculum.arithmetic import fractions

    rng = random.Random(14)
    keys = [fractions(rng).key for _ in range(600)]  # each checked with sympy
    denominators = {k[2] for k in keys if k[1] != "simplify"} | \
        {k[5] for k in keys if k[1] != "simplify"}
    assert {11, 12} <= denominators <= set(range(2, 13))
    assert any(gcd(k[2], k[3]) > 9 for k in keys if k[1] == "simplify")


def test_collecting_like_terms_adds_one_term_per_step():
    from noema_core.training.curriculum.polynomials import _collect_like_terms

    assert _collect_like_terms([7, 4, -1], 1) == "(7x + 4x - x) = 11x - x = 10x"
    assert _collect_like_terms([2, 5], 2) == "(2x^2 + 5x^2) = 7x^2"
    # a running sum of zero drops out without repeating a step
    assert _collect_like_terms([3, -3, 5], 2) == "(3x^2 - 3x^2 + 5x^2) = 5x^2"
    assert _collect_like_terms([1, -1, 1, -1], 0) == "(1 - 1 + 1 - 1) = 1 - 1 = 0"


def test_powers_are_worked_out_before_products_and_sums():
    from noema_core.training.curriculum.expressions import _reduce_once

    tokens = [2, "^", 3, "+", 4, "×", 5]
    assert _reduce_once(tokens) == [8, "+", 4, "×", 5]
    assert _reduce_once(["(", 1, "+", 3, "^", 2, ")", "×", 2]) == ["(", 1, "+", 9, ")", "×", 2]


def test_a_divided_unknown_is_undone_by_multiplying_both_sides():
    from noema_core.training.curriculum.algebra import linear_equation

    rng = random.Random(0)
    undone = 0
    for problem in (linear_equation(rng) for _ in range(400)):
        step = re.search(r"Multiply both sides by (\d+): \w = (-?\d+) × \1 = (-?\d+)\.",
                         problem.solution)
        if step:
            factor, quotient, value = map(int, step.groups())
            assert f"/{factor}" in problem.question
            assert quotient * factor == value == int(problem.answer)
            undone += 1
    assert undone > 20
