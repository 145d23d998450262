"""Answer extraction: one test per rule, in the order the rules apply."""

from __future__ import annotations

import pytest

from noema_core.verify.extract import extract_answer


def test_last_boxed_wins_over_earlier_boxes_and_answer_lines():
    found = extract_answer("First \\boxed{3}. The answer is 4.\nSo \\boxed{5}.")
    assert (found.answer, found.rule) == ("5", "boxed")


@pytest.mark.parametrize(("response", "answer"), [
    ("\\boxed{\\frac{7}{12}}", "\\frac{7}{12}"),
    ("\\boxed{\\{1, 2\\}}", "\\{1, 2\\}"),  # escaped braces are content
    ("$\\boxed{x = 2, x = -3}$", "x = 2, x = -3"),
    ("\\boxed{(x, y) = (2, 3)}", "(x, y) = (2, 3)"),
    ("\\boxed {6x^2 + 2x - 1}", "6x^2 + 2x - 1"),
    ("\\fbox{42}", "42"),
    ("so \\boxed 7 is it", "7"),
])
def test_boxed_content_with_nested_braces(response, answer):
    assert extract_answer(response).answer == answer


def test_boxes_joined_by_and_become_one_list():
    assert extract_answer("x = \\boxed{2} and \\boxed{-3}").answer == "2, -3"
    assert extract_answer("\\boxed{2}. Next, \\boxed{-3}").answer == "-3"


def test_an_unclosed_last_box_gives_no_answer_rather_than_a_guess():
    found = extract_answer("The value is 7, so \\boxed{\\frac{1}{")
    assert (found.answer, found.rule) == ("", "unclosed-box")


@pytest.mark.parametrize(("response", "answer", "rule"), [
    ("Some work.\nFinal answer: 12", "12", "final-answer"),
    ("Hence the final answer is $\\frac{1}{2}$. I hope it is correct.", "\\frac{1}{2}",
     "final-answer"),
    ("We simplify. The answer is 3.5. Done", "3.5", "answer-is"),
    ("**Answer:** x = 4", "x = 4", "answer-label"),
    ("Q: what?\nA: 17", "17", "answer-label"),
    ("reasoning\n#### 1,234", "1,234", "hashes"),
])
def test_explicit_answer_lines(response, answer, rule):
    found = extract_answer(response)
    assert (found.answer, found.rule) == (answer, rule)
    assert not found.is_fallback


def test_the_last_answer_line_wins():
    found = extract_answer("The answer is 3.\nWait, recheck.\nFinal answer: 4")
    assert (found.answer, found.rule) == ("4", "final-answer")


def test_fallback_to_the_last_math_segment_is_reported():
    found = extract_answer("We get $x = 3$ and then $y = 7$ at the end")
    assert (found.answer, found.rule) == ("y = 7", "fallback:last-math")
    assert found.is_fallback


def test_fallback_to_the_last_number_is_reported():
    found = extract_answer("Subtract 5 from both sides: 3x = 15. Divide by 3: x = 5.")
    assert (found.answer, found.rule) == ("5", "fallback:last-number")


def test_the_last_number_fallback_skips_numbers_inside_terms():
    assert extract_answer("So the curve is y = 3x^2").rule == "none"
    assert extract_answer("We get 10x").rule == "none"
    assert extract_answer("It is 3.5.").answer == "3.5"


def test_the_last_number_fallback_reads_thousands_separators_whole():
    assert extract_answer("The total is 1,000 apples").answer == "1,000"
    assert extract_answer("The roots are 1,2").answer == "2"


def test_quoted_example_questions_are_not_the_answer():
    declined = ("I can't answer that one. I solve school-math exercises. Try, for example: "
                "\"What is 48 + 37?\", \"Solve 3x + 5 = 20\" or \"Expand (2x - 1)^2\".")
    assert (extract_answer(declined).answer, extract_answer(declined).rule) == ("", "none")
    assert extract_answer("He guessed “7”, but it is 9").answer == "9"


def test_no_answer_at_all():
    found = extract_answer("I am not sure how to do this.")
    assert (found.answer, found.rule) == ("", "none")
