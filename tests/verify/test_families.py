"""Question families modelled beyond the plain tasks: each whole-question pattern, right and
wrong answers, and the near misses that must stay "could not check"."""

from __future__ import annotations

import pytest

from noema_core.verify.judge import judge


def status(question: str, answer: str) -> str:
    return judge(answer, question=question).status


@pytest.mark.parametrize(("question", "right", "wrong"), [
    ("What is the remainder when $301^4$ is divided by 10,000?", "1201", "1202"),
    ("Find the remainder when $x^3 + 2x + 1$ is divided by $x - 1$.", "4", "3"),
    ("Find the least common multiple of $6!$ and $(4!)^2.$", "2880", "720"),
    ("What is the greatest common factor of 5!, 10!, and 15!?", "120", "24"),
    ("What is the greatest common divisor of $1729$ and $1768$?", "13", "1"),
    ("What is the units digit of $13^{2003}$?", "7", "3"),
    ("What is the tens digit of $7^{5}$?", "0", "8"),  # 16807
    ("Find the modulo 4 residue of $17 \\cdot 18$.", "2", "3"),
    ("What is $3^{-1} \\pmod{25}$?", "17", "8"),
    ("What is the degree of the polynomial $(4 +5x^3 +100 +2\\pi x^4 + \\sqrt{10}x^4 +9)$?",
     "4", "3"),
    ("Find the constant term in the expansion of $(x + 1/x)^6$.", "20", "15"),
    ("Find the coefficient of $x^2$ in the expansion of $(x+1)^5$.", "10", "5"),
    ("Find the coefficient of $x$ when $(7+8x)-3(2+6x+2x^2)$ is simplified.", "-10", "8"),
    ("Round $563.5097$ to the nearest hundredth.", "563.51", "563.5"),
    ("What is the nearest integer to $(5+2\\sqrt7)^4$?", "11218", "11217"),
    ("Convert $222_{10}$ to base 13.", "141_{13}", "142_{13}"),
    ("Find $4321_{5}-1234_{5}$. Express your answer in base $5$.", "3032_5", "3033_5"),
    ("Express $213_{8}-142_{7}$ as a base 10 integer.", "60", "61"),
    ("Is 97 a prime number?", "\\text{Yes}", "no"),
    ("is 91 prime", "No, 91 = 7 \\times 13", "91 is prime"),
    ("Is $1$ prime?", "no", "yes"),
    ("Is 101 a prime or not?", "101 is prime", "composite"),
])
def test_families_verify_the_right_answer_and_contradict_a_wrong_one(question, right, wrong):
    assert status(question, right) == "verified"
    assert status(question, wrong) == "contradicted"


def test_a_rounded_answer_must_be_the_rounded_value_not_just_close():
    found = judge("563.5", question="Round $563.5097$ to the nearest hundredth.")
    assert found.status == "contradicted" and found.expected == "563.51"


def test_an_answer_in_another_base_is_contradicted():
    found = judge("1011_3", question="Convert $11_{10}$ to base 2.")
    assert found.status == "contradicted" and "base 3" in found.reason


def test_a_yes_no_question_answered_with_a_number_is_unreadable_so_retried():
    from noema_core.retry import should_retry

    found = judge("0", question="Is 97 a prime number?")  # noema-tiny's made-up 97 - 97
    assert found.status == "unverifiable" and "yes or no" in found.reason
    assert should_retry(found)


@pytest.mark.parametrize("question", [
    "What is the remainder when $n$ is divided by 5, if $n$ is odd?",
    "What is the remainder when the sum of the first 100 primes is divided by 7?",
    "What is the degree of $f$?",  # a named object
    "Find the constant term of $p(x)$ if $p$ has roots 1 and 2.",
    "What is the units digit of the product of the first three primes?",
    "In base 5, how many digits does $1000$ have?",
    "Round $x$ to the nearest tenth.",
    "What is the greatest common divisor of $a$ and $b$ if $ab = 12$?",
    "Is $n$ prime if $n$ is odd?",  # not one written-out number
    "Is the sum of 3 and 5 prime?",
])
def test_near_misses_are_not_judged(question):
    assert status(question, "5") == "unverifiable"
