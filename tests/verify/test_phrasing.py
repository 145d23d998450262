"""Questions as people type them are checked like the classifier's own wording; a phrase that
could mean two things stays "could not check"."""

from __future__ import annotations

import pytest

from noema_core.verify.judge import judge
from noema_core.verify.phrasing import MAX_RESTATED_CHARS, restate


@pytest.mark.parametrize(("question", "right", "wrong"), [
    ("how much is 47 + 18?", "65", "66"),
    ("whats 9 * 12", "108", "107"),
    ("What do you get for 20 - 3 * 4?", "8", "9"),
    ("Work out 7 + 6 × 2.", "19", "26"),
    ("What does 30 / 5 + 1 equal?", "7", "8"),
    ("63 ÷ 9 = ?", "7", "8"),
    ("58 minus 19 equals what", "39", "40"),
    ("could you add 340 and 95 please", "435", "436"),
    ("subtract 45 from 300", "255", "-255"),
    ("I need 16 multiplied by 25", "400", "401"),
    ("what is the difference between 70 and 26?", "44", "96"),
    ("the product of 12 and 11", "132", "23"),
    ("sum of 1/3 and 1/6", "\\frac{1}{2}", "\\frac{2}{9}"),
    ("divide 2/3 by 4/9", "\\frac{3}{2}", "\\frac{8}{27}"),
    ("what is 84 divided by 4", "21", "22"),
    ("56 x 7", "392", "393"),  # x between two numbers: a times sign
    ("what is 2 x 3 X 4?", "24", "9"),
    ("Can you solve 5y - 2 = 13 please", "3", "4"),
    ("what is n if 3n + 4 = 19", "5", "6"),
    ("If k/2 - 1 = 4, what is k?", "10", "9"),
    ("what value of m makes 2m + 7 = 1 true?", "-3", "3"),
    ("Solve simultaneously: p + q = 9, p - q = 3", "p = 6, q = 3", "p = 3, q = 6"),
    ("collect like terms: 5x + 2 - 3x + 1", "2x + 3", "8x + 3"),
    ("tidy up 4x^2 - x + 2x^2", "6x^2 - x", "6x^2 + x"),
    ("what's (x + 2)(x - 7) expanded?", "x^2 - 5x - 14", "x^2 - 14"),
    ("What is (y + 1)^2 multiplied out?", "y^2 + 2y + 1", "y^2 + 1"),
    ("expand the product (3x - 1)(x + 2)", "3x^2 + 5x - 2", "3x^2 - 2"),
    ("what does 3x + 4 - x + 1 simplify to?", "2x + 5", "4x + 5"),
    ("Take the derivative of 4x^3 + x", "12x^2 + 1", "12x^2"),
    ("hey, can you differentiate x^4 - 2x for me", "4x^3 - 2", "4x^3"),
    ("(y - 4)(y + 4), expand it", "y^2 - 16", "y^2 - 8y - 16"),
    ("9 = 3 - 2x, solve it", "-3", "3"),
    ("5 - t = 1, t = ?", "4", "-4"),
    ("c + d = 7, c - d = 1. what are c and d?", "c = 4, d = 3", "c = 3, d = 4"),
    ("3x + y = 5; x - y = -1", "x = 1, y = 2", "x = 2, y = 1"),
    ("2p + q = 4 and p - q = 5", "p = 3, q = -2", "p = -2, q = 3"),
    ("x+y=0, x-y=8", "x = 4, y = -4", "x = -4, y = 4"),  # "x-y" is no hyphenated word
    ("a+b=7\na-b=1", "a = 4, b = 3", "a = 3, b = 4"),
    ("Solve these: u + v = 6, u - v = 2", "u = 4, v = 2", "u = 2, v = 4"),
    ("please multiply (x + 5)(x - 3)", "x^2 + 2x - 15", "x^2 - 15"),
    # LaTeX typed without $: read as the formula it is
    ("What is \\frac{1}{4} + \\frac{1}{6}?", "\\frac{5}{12}", "\\frac{1}{5}"),
    ("\\sqrt{49} - 2", "5", "7"),
    ("solve 3x - \\frac{1}{2} = 1", "\\frac{1}{2}", "\\frac{1}{6}"),
])
def test_a_natural_phrasing_is_checked_both_ways(question, right, wrong):
    assert judge(right, question=question).status == "verified"
    assert judge(wrong, question=question).status == "contradicted"


@pytest.mark.parametrize("question", [
    "What is 7 divided by 3?",  # 7/3, or 2 remainder 1?
    "quotient of 20 and 6",
    "What is 10 plus 2 times 3?",  # (10 + 2) * 3 in speech, 16 by precedence
    "the sum of 2 and 3 and 4",
    "what is the sum of x and 3",  # not two plain numbers
    "please",
    "how much is it",  # points back at an earlier turn
    "what's the area of a square of side 3",  # a word problem
    "what is 3 x 4 + x",  # an x that is an unknown: not a times sign
])
def test_a_phrase_that_could_mean_more_than_one_thing_is_not_checked(question):
    assert judge("5", question=question).status == "unverifiable"


@pytest.mark.parametrize("question", [
    "I want to read 4 books this month. In how many ways can I choose them?",
    "How many zeros are at the end of (10!)(20!) when multiplied out?",
    "Suppose we flip two coins simultaneously. What is the probability both are heads?",
    "What is $\\frac{1}{2}$ plus $\\frac{1}{3}$?",  # LaTeX questions are read as written
    "Solve 2 x 3 = 6x",  # an equation: its x is the unknown
])
def test_sentences_that_only_look_like_a_phrasing_are_left_as_written(question):
    assert restate(question) == question


def test_long_text_is_read_as_written_without_scanning_it():
    """The patterns are quadratic on some long inputs (20,000 characters of '=,' took 10 s):
    past MAX_RESTATED_CHARS the text is returned as it came, even a phrasing they would read."""
    padded = "can you add 2 and 3" + " " * MAX_RESTATED_CHARS
    assert restate(padded) == padded
    assert restate(padded.strip()) == "What is 2 + 3"


def test_a_difference_of_variables_is_math_and_a_hyphenated_word_is_prose():
    from noema_core.verify.scope import prose_words

    assert prose_words("x-y=8") == [] and prose_words("2a-b = 3") == []
    assert prose_words("an x-ray of a well-known case") == ["an", "x-ray", "of",
                                                              "well-known", "case"]
