"""The public API other code relies on: `check`, `Verdict`, `warm_up`, a light import."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest

from noema_core.verify import Verdict, check


def test_importing_the_checker_loads_no_sympy_torch_or_ui():
    probe = ("import sys, noema_core.verify; print(sorted(m for m in ('sympy', 'torch', "
             "'textual', 'rich', 'math_verify', 'latex2sympy2_extended') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.strip() == "[]", done.stderr


def test_verdict_is_a_frozen_record_with_the_agreed_fields():
    verdict = Verdict(status="verified", answer="5", expected="5", method="m", reason="r")
    assert {"status", "answer", "expected", "method", "reason", "rule"} <= {
        f.name for f in dataclasses.fields(Verdict)}
    with pytest.raises(dataclasses.FrozenInstanceError):
        verdict.status = "contradicted"  # type: ignore[misc]
    assert (verdict.label, verdict.exit_code) == ("verified", 0)
    assert Verdict(status="unverifiable").label == "could not check"
    assert Verdict(status="contradicted").exit_code == 4
    assert json.loads(json.dumps(verdict.to_dict()))["status"] == "verified"


MODEL_STYLE = [
    ("Subtract 5 from both sides: 3x = 15. Divide by 3: x = 5. \\boxed{5}",
     "Solve 3x + 5 = 20", "5"),
    ("\\boxed{x = 2, x = -3}", "Solve $x^2 + x - 6 = 0$", "\\{-3, 2\\}"),
    ("\\boxed{(x, y) = (2, 3)}", "Solve the system: x + y = 5, x - y = -1", "(2, 3)"),
    ("\\boxed{6x^2 + 2x - 1}", "Find the derivative of 2x^3 + x^2 - x", "6x^2+2x-1"),
    ("\\boxed{\\frac{7}{12}}", "Compute $\\frac{1}{3} + \\frac{1}{4}$", "7/12"),
]


@pytest.mark.parametrize(("response", "question", "reference"), MODEL_STYLE)
def test_the_bundled_model_answer_forms_work_in_both_modes(checker, response, question,
                                                          reference):
    independent = checker(response, question=question)
    assert independent.status == "verified", independent.reason
    assert independent.mode == "independent" and independent.rule == "boxed"
    assert checker(response, reference=reference).status == "verified"


def test_the_verdict_carries_answer_expected_method_reason_and_rule(checker):
    verdict = checker("So \\boxed{x = 2}", question="Solve $x^2 + x - 6 = 0$")
    assert verdict.status == "contradicted"
    assert verdict.answer == "x = 2" and verdict.rule == "boxed"
    assert verdict.expected == "{-3, 2}" and verdict.kind == "solve"
    assert verdict.method and "missing" in verdict.reason and verdict.elapsed_ms > 0


def test_a_fallback_extraction_is_named_in_the_reason(checker):
    verdict = checker("Divide by 3: x = 5.", reference="5")
    assert (verdict.status, verdict.rule) == ("verified", "fallback:last-number")
    assert "fallback" in verdict.reason


def test_a_reply_that_declines_is_never_graded_by_its_example_questions(checker):
    declined = ("I can't answer that one. Try, for example: \"What is 1 + 1?\" or "
                "\"Expand (2x - 1)^2\".")
    for question in ("what is 1 + 1", "Solve 3x + 5 = 20"):
        verdict = checker(declined, question=question)
        assert verdict.status == "unverifiable" and verdict.rule == "none"
    assert checker(declined, reference="2").status == "unverifiable"


def test_nothing_to_check_against_or_no_answer_could_not_be_checked(checker):
    assert "nothing to check against" in checker("\\boxed{5}").reason
    verdict = checker("I don't know.", reference="5")
    assert verdict.status == "unverifiable" and "no final answer" in verdict.reason


def test_a_response_that_is_not_text_is_a_programming_error():
    with pytest.raises(TypeError):
        check(5, reference="5")  # type: ignore[arg-type]
