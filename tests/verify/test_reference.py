"""Reference mode: equivalence with our conventions and guards (run in-process via `judge`)."""

from __future__ import annotations

import pytest

from noema_core.verify.judge import judge


def status(answer: str, reference: str, question: str | None = None) -> str:
    return judge(answer, question=question, reference=reference).status


@pytest.mark.parametrize(("answer", "reference"), [
    ("5", "5"), ("x = 5", "5"), ("5", "x=5"),
    ("\\frac{1}{2}", "0.5"), ("0.5", "1/2"), ("0.3333", "1/3"), ("0.333", "\\frac13"),
    ("\\frac{7}{12}", "7/12"), ("0.5833", "7/12"),
    ("\\sqrt{2}/2", "\\frac{1}{\\sqrt{2}}"), ("2\\sqrt{3}", "\\sqrt{12}"),
    ("3.1416", "\\pi"), ("\\pi/2", "\\frac{\\pi}{2}"),
    ("x = 2, x = -3", "\\{-3, 2\\}"), ("-3, 2", "x = 2 \\text{ or } x = -3"),
    ("x = \\pm 3", "3, -3"), ("\\frac{5 \\pm \\sqrt{13}}{2}", "\\frac{5+\\sqrt{13}}{2}, "
                                                        "\\frac{5-\\sqrt{13}}{2}"),
    ("[1, 2)", "1 \\le x < 2"), ("(-\\infty, -2) \\cup (2, \\infty)", "x < -2 \\text{ or } x > 2"),
    ("(2, 3)", "(2, 3)"), ("(x, y) = (2, 3)", "x = 2, y = 3"), ("(2, 3)", "(x, y) = (2, 3)"),
    ("\\begin{pmatrix}1 & 2\\\\ 3 & 4\\end{pmatrix}", "[[1, 2], [3, 4]]"),
    ("x + 1 = 2", "x - 1 = 0"), ("2x + 2y = 4", "x + y = 2"),
    ("6x^2 + 2x - 1", "2x + 6x^2 - 1"), ("(x-1)(x+1)", "x^2 - 1"),
    ("-\\frac{34x^8}{15} - \\frac{5x}{4} + C", "-34*x**8/15 - 5*x/4 + C"),
    ("-\\frac{34x^8}{15} - \\frac{5x}{4}", "-34*x**8/15 - 5*x/4 + C"),  # constant optional
    ("-15 + 3i", "-15.0 + 3.0i"), ("0, -29/8", "-3.625, 0.0"),
    ("25\\%", "0.25"), ("25", "25%"), ("0.25", "25\\%"),
    ("100 \\text{ cm}", "1 m"), ("1.5 km", "1500 m"), ("10", "10 cm"), ("\\$5", "5"),
    ("30^\\circ", "\\frac{\\pi}{6}"), ("1,000", "1000"), ("2.0", "2"),
    ("6.022 \\times 10^{23}", "6.02e23"), ("7 \\text{ cm}^2", "0.0007 m^2"),
    ("\\text{(B)}", "B"), ("3.1415", "\\pi"),  # truncated decimals match too
    ("\\text{No real solutions}", "\\emptyset"), ("\\mathbb{R}", "all real numbers"),
])
def test_equivalent_forms_are_verified(answer, reference):
    assert status(answer, reference) == "verified"


@pytest.mark.parametrize(("answer", "reference"), [
    ("6", "5"), ("y = 5", "x = 5"), ("0.34", "1/3"), ("3.15", "\\pi"), ("0.0", "0.1"),
    ("2", "2, -3"), ("2, -3, 4", "2, -3"), ("(2, 3)", "(3, 2)"), ("(3, 2)", "(x, y) = (2, 3)"),
    ("[1, 2]", "[1, 2)"), ("(1, 2)", "x \\le 2"),
    ("[[1, 2], [3, 5]]", "\\begin{pmatrix}1 & 2\\\\ 3 & 4\\end{pmatrix}"),
    ("x + 2 = 0", "x + 1 = 2"), ("6x^2 + 2x + 1", "6x^2 + 2x - 1"),
    ("-14 + 3i", "-15.0 + 3.0i"), ("1.9717", "2"),
    ("\\frac{1}{2^{98}}", "\\frac{1}{2^{99}}"),  # tiny numbers compare exactly
    ("25\\%", "25"),  # a bare reference is not a percentage
    ("6.1 \\times 10^{23}", "6.02e23"), ("(C)", "B"),
    ("10 \\text{ m}", "10 \\text{ cm}"), ("10 kg", "10 cm"),  # units are not dropped
    ("5", "\\text{No real solutions}"), ("\\emptyset", "x = 2"),
])
def test_different_answers_are_contradicted(answer, reference):
    assert status(answer, reference) == "contradicted"


def test_a_bare_number_reads_as_percent_when_the_question_asks_for_one():
    question = "What percent of 40 is 10?"
    assert status("25", "25", question) == "verified"
    assert status("25\\%", "25", question) == "verified"
    assert status("25\\%", "25") == "contradicted"


def test_pairs_are_intervals_when_the_question_is_about_inequalities():
    assert status("(1, 2)", "1 < x < 2") == "verified"  # the other side decides
    assert status("(1, 2)", "(1, 2)", "Solve the inequality (x-1)(x-2) < 0") == "verified"
    assert status("[1, 2]", "(1, 2)", "Solve the inequality (x-1)(x-2) < 0") == "contradicted"


def test_a_lone_letter_is_a_choice_against_a_choice_and_mathematics_otherwise():
    assert status("(B)", "B") == "verified"
    assert status("B", "(C)") == "contradicted"
    assert status("C", "0 + C") == "verified"  # the antiderivative of 0
    assert status("E", "2.718") == "verified"  # Euler's number


def test_e_and_i_follow_the_question():
    assert status("i = 13", "13", "Solve for i: 3*i = 39") == "verified"
    assert status("e = 13", "13", "Solve for e: 56 - 98*e = -1218") == "verified"
    assert status("i^2", "-1") == "verified"


def test_unreadable_text_could_not_be_checked_and_says_why():
    verdict = judge("\\text{two}", reference="2")
    assert verdict.status == "unverifiable"
    assert "words, not mathematics" in verdict.reason
    verdict = judge("5", reference="\\frac{")
    assert verdict.status == "unverifiable" and "reference" in verdict.reason


def test_verdict_names_the_method_and_the_parsed_reference():
    verdict = judge("0.5833", reference="\\frac{7}{12}")
    assert (verdict.status, verdict.expected, verdict.method) == (
        "verified", "7/12", "reference:decimal")
    assert verdict.mode == "reference"
    assert "differs" in judge("6", reference="5").reason


@pytest.mark.parametrize(("question", "answer", "reference", "why"), [
    ("Simplify 48/36 for me", "\\frac{12}{9}", "\\frac{4}{3}", "12/9 is not in lowest terms"),
    ("Factor x^2 - 1", "x^2 - 1", "(x - 1)(x + 1)", "can be factored further"),
    ("Expand (x + 1)^2", "(x + 1)^2", "x^2 + 2x + 1", "not fully expanded"),
])
def test_an_answer_equal_to_the_reference_but_not_in_the_form_asked_is_contradicted(
        question, answer, reference, why):
    verdict = judge(answer, question=question, reference=reference)
    assert verdict.status == "contradicted" and verdict.mode == "reference"
    assert verdict.reason.startswith("equivalent to the reference, but ") and why in verdict.reason
    assert judge(reference, question=question, reference=reference).status == "verified"


def test_the_form_is_required_only_where_the_reference_is_in_it_and_the_question_asks_it():
    # the reference itself is not in lowest terms: the question's form is not what is graded
    assert judge("\\frac{12}{9}", question="Simplify 48/36",
                 reference="\\frac{12}{9}").status == "verified"
    # no task with a form: equal values are enough
    assert judge("\\frac{2}{4}", question="What is 1/4 + 1/4?",
                 reference="\\frac{1}{2}").status == "verified"
    assert judge("\\frac{2}{4}", reference="\\frac{1}{2}").status == "verified"
