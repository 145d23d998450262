"""Derivatives written in operator or prime notation are checked as derivatives."""

from __future__ import annotations

import pytest

from noema_core.verify.judge import judge
from noema_core.verify.notation import rewrite_derivative


def status(question: str, answer: str) -> str:
    return judge(answer, question=question).status


@pytest.mark.parametrize(("question", "right", "wrong"), [
    ("d/dx x^3 + 2x", "3x^2 + 2", "4x^3 + 2"),  # the x of dx is not a factor
    ("What is d/dx (x^3 + 2x)?", "3x^2 + 2", "3x^2"),
    ("d^2/dx^2 x^4", "12x^2", "4x^3"),
    ("d/dt t^2 sin t", "2t sin t + t^2 cos t", "2t cos t"),
    ("Find dy/dx for y = x^3 + 2x", "3x^2 + 2", "3x^2 + 2x"),
    ("If f(x) = x^3 + 2x, find f'(x)", "3x^2 + 2", "x^3 + 2"),
    ("Find f''(x) if f(x) = x^3 + 2x", "6x", "3x^2 + 2"),
    ("Let $f(x) = \\sin x$. Find $f'(x)$.", "\\cos x", "-\\cos x"),
    ("Find $\\frac{dy}{dx}$ where $y = x^3 e^x$", "3x^2 e^x + x^3 e^x", "3x^2 e^x"),
    ("Compute $\\frac{d}{dx} \\ln x$", "\\frac{1}{x}", "\\frac{1}{x^2}"),
    ("What is the derivative of sin(x)?", "cos(x)", "-cos(x)"),
    ("f(x)=x²+x+1, f'(x)=?", "2x + 1", "2x"),  # "= ?" asks, as a question mark would
    ("y = x^3 - x, y' = ?", "3x^2 - 1", "3x^2"),
])
def test_derivative_notations(question, right, wrong):
    assert status(question, right) == "verified"
    assert status(question, wrong) == "contradicted"


def test_the_answer_may_be_labelled_with_the_notation():
    assert status("d/dx x^3 + 2x", "f'(x) = 3x^2 + 2") == "verified"


@pytest.mark.parametrize("question", [
    "Find dy/dx if y = x^2 and x > 0",  # a condition the rewrite would drop
    "Find dy/dx at the point where the tangent is horizontal, for y = x^2",
    "Find f'(2) if g(x) = x^2",  # f is not the function defined
])
def test_notation_with_more_said_is_not_rewritten(question):
    assert rewrite_derivative(question) == question


def test_questions_without_derivative_notation_are_left_alone():
    for question in ("Solve 3x + 5 = 20", "What is $\\frac{7}{2}$?", "Find x if x' = 3"):
        assert rewrite_derivative(question) == question
