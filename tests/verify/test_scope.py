"""Independent mode gives a verdict only when the formulas are the whole question."""

from __future__ import annotations

import pytest

from noema_core.verify.judge import judge
from noema_core.verify.scope import directive_text, sentences


def verdict(question: str, answer: str):
    return judge(answer, question=question)


@pytest.mark.parametrize(("question", "why"), [
    ("Denali is responsible for $16$ dogs and Nate for $12$. How many dogs?", "how many"),
    ("Denali walks $16$ dogs each day. What is $16 + 12$?", "says more than its formulas"),
    ("What is the slope of the line $2y = -3x + 6$?", "property"),
    ("What is the discriminant of $2x^2 - 8x + 15$?", "property"),
    ("What is the units digit of the product of the first three primes?", "digit"),
    ("In the diagram, what is $x$? [asy] draw((0,0)--(1,1)); [/asy]", "diagram"),
    ("Find $x$ such that $x^2 = 4$ and $x > 0$.", "says more than its formulas"),
    ("If $x > 3$, what is $x^2$?", "says more than its formulas"),
    ("Now what is x + y?", "earlier turn"),
    ("What is the value of that expression at $x = 2$?", "earlier turn"),
    ("Simplify the previous answer", "earlier turn"),
])
def test_questions_that_say_more_than_their_formulas_are_not_judged(question, why):
    found = verdict(question, "28")
    assert found.status == "unverifiable"
    assert why in found.reason.lower()


def test_a_condition_the_formula_does_not_carry_is_never_contradicted():
    # The circle question the solve path once answered with "c = 33 does not satisfy".
    question = ("For what value of $c$ will the circle with equation $x^2 + 8x + y^2 + 4y + c"
                " = 0$ have a radius of length 3?")
    assert verdict(question, "11").status == "unverifiable"


def test_several_formulas_that_the_task_does_not_combine_are_not_judged():
    assert "several formulas" in verdict("What is $50\\%$ of $200\\%$ of $10$?", "10").reason
    found = verdict("Solve $x + 1 = 2$ and $x^2$", "1")
    assert found.status == "unverifiable" and "equations with other formulas" in found.reason


def test_an_answer_to_be_written_in_a_form_of_its_own_is_not_judged():
    question = ("Find $\\frac{2}{1 + 2\\sqrt{3}}$, and write your answer in the form "
                "$\\frac{A + B\\sqrt{3}}{C}$. What is $A+B+C$?")
    assert verdict(question, "112").status == "unverifiable"


def test_answer_form_instructions_do_not_change_the_task():
    question = "Solve for $x$: $3x-(1-x)=5$. Express your answer as a common fraction."
    assert verdict(question, "\\frac{3}{2}").status == "verified"
    assert verdict(question, "\\frac{5}{2}").status == "contradicted"
    assert verdict("Simplify the following expression in $x$:\n\n$$3x + 2 - 5x + 18$$",
                   "-2x + 20").status == "verified"


def test_a_formula_on_the_next_line_belongs_to_the_question():
    question = "Compute\n\\[\\frac{1990^3 - 1000^3 - 990^3}{(1990)(1000)(990)}.\\]"
    assert verdict(question, "3").status == "verified"
    assert verdict(question, "4").status == "contradicted"


def test_degrees_are_converted_and_odd_roots_are_real():
    assert verdict("Compute $\\cos 60^\\circ$.", "\\frac{1}{2}").status == "verified"
    assert verdict("Compute $\\tan 225^\\circ$.", "-1").status == "contradicted"
    assert verdict("Evaluate $(-125)^{4/3}$.", "625").status == "verified"
    assert verdict("Find $\\left\\lceil \\sqrt[3]{-25}\\right\\rceil$.", "-2").status == "verified"


def test_a_superscript_takes_one_token_as_in_tex():
    assert verdict("Compute $\\gcd(6^210^2,15^4)$.", "225").status == "verified"


def test_an_ambiguous_logarithm_is_not_judged():
    found = verdict("Evaluate $\\log_28\\sqrt{2}$.", "\\frac{7}{2}")
    assert found.status == "unverifiable" and "ambiguous" in found.reason


def test_an_expression_with_unknowns_is_not_evaluated():
    found = verdict("What is $x + y$?", "5")
    assert found.status == "unverifiable" and "unknowns (x, y)" in found.reason


def test_an_infinite_series_sympy_cannot_confirm_numerically_is_not_judged():
    # sympy's closed form here is -1/6; the sum telescopes to 0.
    question = "Compute\n\\[\\sum_{k = 2}^\\infty \\frac{k - 3}{k(k^2 - 1)}.\\]"
    assert verdict(question, "0").status == "unverifiable"
    assert verdict("Compute $\\sum_{k=0}^{\\infty} \\frac{1}{2^k}$.", "2").status == "verified"


def test_format_instruction_blocks_end_the_question():
    question = ("Solve for real d: 98 - 2*d**2 = 0\nIn solving equations, please follow these "
                "instructions:\n1. Provide all answers as comma-separated decimal values. For "
                "example: \"-0.3773, 0.4005\"\n2. Give the answer if x > 0 holds.")
    assert verdict(question, "-7, 7").status == "verified"


def test_sentences_split_outside_formulas_and_at_a_full_stop_inside_one():
    assert sentences("Let $z^2 = 1.$  Compute $z$. Round 3.14 to 2.") == [
        "Let $z^2 = 1.$", "Compute $z$.", "Round 3.14 to 2."]
    assert directive_text("Solve $x = 1$. Express your answer as a fraction.") == \
        "Solve $x = 1$."


@pytest.mark.parametrize(("question", "right", "wrong"), [
    ("If $f(x) = 3x+2$ and $g(x) = (x-1)^2$, what is $f(g(-2))$?", "29", "30"),
    ("Let $f(x)=x^2-2x$. What is $f(f(f(f(f(f(-1))))))$?", "3", "-1"),
    ("If $x=\\frac{5}{8}$ and $y=\\frac{5}{3}$, what is $\\frac{x}{y}$?", "\\frac{3}{8}", "3"),
    ("Given $x = -2$ find the value of $2x^2+3x+4$.", "6", "18"),
    ("Evaluate $\\log_381$.", "4", "3"),
])
def test_functions_and_variables_defined_by_a_formula_are_applied(question, right, wrong):
    assert verdict(question, right).status == "verified"
    assert verdict(question, wrong).status == "contradicted"


@pytest.mark.parametrize("question", [
    "If $f(x)=\\dfrac{x-3}{x-4}$, then what is $f^{-1}(2)$?",  # an inverse
    "If $f(x)=2x$ and $f(a)=6$, find $f(3)$.",  # f defined twice
    "If $x + y = 7$ and $x - y = 9$, find $x^2$.",  # conditions, not definitions
    "Let $f(x) = f(x-1) + 1$. Find $f(3)$.",  # defined in terms of itself
])
def test_what_is_not_a_plain_definition_is_not_applied(question):
    assert verdict(question, "5").status == "unverifiable"


SYSTEM = ("Solve the system: x + y = 5, x - y = 1",)


@pytest.mark.parametrize(("question", "answer", "earlier", "want"), [
    ("Now what is x + y?", "5", SYSTEM, "verified"),
    ("Now what is x + y?", "6", SYSTEM, "contradicted"),
    ("Then what is $x \\cdot y$?", "6", SYSTEM, "verified"),
    ("Now what is x^2?", "4", ("Solve 3x + 5 = 11",), "verified"),
    ("Now what is x + y?", "5", (), "unverifiable"),  # no earlier turn given
    ("Now what is x^2?", "4", ("Solve x^2 = 4",), "unverifiable"),  # two solutions
    ("Now what is x + y?", "5", ("Write a poem",), "unverifiable"),
    ("What is that times 2?", "10", SYSTEM, "unverifiable"),  # 'that' is not a value
    ("and what is that times 2?", "10", SYSTEM, "unverifiable"),
    # A follow-up that states its whole task needs no earlier value, usable or not:
    ("and 406 - 177?", "229", ("what is 23 + 58?",), "verified"),
    ("and 406 - 177?", "228", ("what is 23 + 58?",), "contradicted"),
    ("Now solve 2x + 6 = 10", "2", SYSTEM, "verified"),  # its own x, not the system's 3
    ("now differentiate x^3 - y", "3x^2", SYSTEM, "verified"),
    ("then 3/4 + 1/8", "\\frac{7}{8}", ("Write a poem",), "verified"),
    ("how about 9 - 2 * 3", "3", ("what is 1 + 1",), "verified"),
    ("thanks. next one: 2y = 14", "7", ("what is 1 + 1",), "verified"),
    # A bare formula takes the task the earlier question named, through earlier follow-ups:
    ("now (x - 3)^2", "x^2 - 6x + 9", ("expand (x + 1)(x + 2)",), "verified"),
    ("and of x^5", "5x^4", ("differentiate x^2", "now x^3 + x"), "verified"),
    ("and of x^5", "x^6/6", ("differentiate x^2", "now x^3 + x"), "contradicted"),
    ("now (x - 3)^2", "9", ("what is 2 + 2",), "unverifiable"),  # no task to take
    ("now x = 2", "12", ("differentiate x^3",), "unverifiable"),  # a value, not an equation
    # ... and so does one with no turn words, which alone asks nothing:
    ("(x - 7)(x - 8)", "x^2 - 15x + 56", ("expand (3x - 2)(x + 5)",), "verified"),
    ("(x - 7)(x - 8)", "x^2 - 56", ("expand (3x - 2)(x + 5)",), "contradicted"),
    ("and (2x + 3)^2 please", "4x^2 + 12x + 9", ("expand (x + 1)^2", "(x - 7)(x - 8)"),
     "verified"),
    ("x^2 - 4 = 0", "x = 2, x = -2", ("expand (x + 1)^2",), "verified"),  # its own task
])
def test_a_follow_up_is_checked_with_the_earlier_turn_sympy_can_solve(question, answer, earlier,
                                                                      want):
    found = judge(answer, question=question, earlier=earlier)
    assert found.status == want
    if want == "unverifiable":
        assert "earlier turn" in found.reason


def test_a_bare_polynomial_after_a_task_it_cannot_take_stays_unchecked():
    found = judge("1", question="(x - 7)(x - 8)", earlier=("solve x + 1 = 2",))
    assert found.status == "unverifiable" and "unknowns" in found.reason


@pytest.mark.parametrize(("question", "answer", "want"), [
    ("18 + 25", "43", "verified"),
    ("7 * 6 + 8?", "51", "contradicted"),
    ("2x + 3 = 7", "2", "verified"),  # an equation to solve
    ("77 x 12", "924", "verified"),  # a spaced x between numbers, no unknown: times
    ("77 x 12 + x", "924", "unverifiable"),  # an x that is an unknown: no times sign
    ("x^2 + 2x + 1", "5", "unverifiable"),  # a value needs values for x
])
def test_a_bare_formula_asks_for_its_value(question, answer, want):
    assert verdict(question, answer).status == want


def test_a_final_exclamation_mark_in_plain_text_is_not_guessed():
    assert verdict("Solve 3x + 5 = 20!", "5").status == "unverifiable"
    assert verdict("What is 5!?", "120").status == "verified"
    assert verdict("Compute $7!/5!$.", "42").status == "verified"


def test_arccot_whose_range_has_two_conventions_is_not_judged():
    question = "Compute $\\operatorname{arccot} (-1).$  Express your answer in radians."
    assert verdict(question, "\\frac{3 \\pi}{4}").status == "unverifiable"
    assert verdict("Compute $\\arcsin 1.$ Express your answer in radians.",
                   "\\frac{\\pi}{2}").status == "verified"
