"""Hostile inputs: no code runs, every call returns within its deadline + 1 s, nothing crashes.

Each input goes through the public `check` (extraction here, parsing in the worker). Code
aimed at a canary file would create it if anything were ever evaluated.
"""

from __future__ import annotations

import time

import pytest

from noema_core.verify import Verdict

DEADLINE = 1.0
CANARY = "/tmp/noema-verify-canary-{pid}"

TOUCH = "__import__('os').system('touch {canary}')"
OPEN = "open('{canary}', 'w').write('ran')"

CODE = [
    ("\\boxed{" + TOUCH + "}", {"reference": "0"}),
    (TOUCH, {"reference": "0"}),
    ("\\boxed{1}", {"reference": TOUCH}),
    ("\\boxed{1}", {"question": "Solve " + TOUCH + " = 0"}),
    ("\\boxed{0}", {"question": "Solve $" + TOUCH + " = x$"}),
    ("\\boxed{x}", {"question": "Find ∫ " + TOUCH + " dx"}),
    ("\\boxed{eval(\"" + OPEN + "\")}", {"reference": "1"}),
    ("\\boxed{exec('import os; os.system(\"touch {canary}\")')}", {"reference": "1"}),
    ("\\boxed{lambda: " + OPEN + "}", {"reference": "1"}),
    ("\\boxed{().__class__.__bases__[0].__subclasses__()}", {"reference": "1"}),
    ("\\boxed{\\text{" + TOUCH + "}}", {"reference": "1"}),
    ("\\boxed{\\mathrm{os.system('touch {canary}')}}", {"reference": "1"}),
    ("\\boxed{x; import os; os.system('touch {canary}')}", {"reference": "1"}),
    ("\\boxed{1}", {"reference": OPEN}),
    ("\\boxed{$(touch {canary})}", {"reference": "1"}),
    ("\\boxed{`touch {canary}`}", {"reference": "1"}),
    ("\\boxed{getattr(__builtins__, 'exec')(\"" + OPEN + "\")}", {"reference": "1"}),
    ("\\boxed{sympify(\"" + OPEN + "\")}", {"reference": "1"}),
    ("\\boxed{S(\"" + OPEN + "\")}", {"reference": "1"}),
    ("\\boxed{Function('system')('touch {canary}')}", {"reference": "1"}),
    ("The answer is pathlib.Path('{canary}').touch()", {"reference": "1"}),
    ("\\boxed{\\operatorname{__import__}('os')}", {"question": "Evaluate 1 + 1"}),
]
HUGE = [
    ("\\boxed{10^{10^{10}}}", {"reference": "1"}),
    ("\\boxed{9^{9^{9^{9}}}}", {"question": "Compute 9^9"}),
    ("\\boxed{2**2**2**2**2**2}", {"reference": "1"}),
    ("\\boxed{(10!)!}", {"reference": "1"}),
    ("\\boxed{x^{999999}}", {"question": "Expand (x+1)^2"}),
    ("\\boxed{1}", {"question": "Factor x^{100000} - 1"}),
    ("\\boxed{10^{-10^{10}}}", {"reference": "0"}),
    ("\\boxed{1}", {"reference": "1e999999999"}),
    ("\\boxed{" + "9" * 1900 + "}", {"reference": "1"}),
    ("\\boxed{\\exp(\\exp(\\exp(\\exp(100))))}", {"reference": "1"}),
    ("\\boxed{10^{10}!}", {"reference": "1"}),
]
DEEP = [
    ("\\boxed{" + "(" * 5000 + "1" + ")" * 5000 + "}", {"reference": "1"}),
    ("\\boxed{" + "\\frac{1}{" * 300 + "2" + "}" * 300 + "}", {"reference": "1"}),
    ("\\boxed{" + "\\sqrt{" * 500 + "2" + "}" * 500 + "}", {"reference": "1"}),
    ("\\boxed{" + "x^{" * 300 + "2" + "}" * 300 + "}", {"reference": "1"}),
    ("\\boxed{" + "-" * 1900 + "1}", {"reference": "1"}),
    ("\\boxed{" + "[" * 35 + "1" + "]" * 35 + "}", {"reference": "1"}),
    ("\\boxed{" + "+".join(["x"] * 900) + "}", {"question": "Simplify x"}),
]
LONG = [
    ("1+" * 500_000 + "1", {"reference": "1"}),
    ("{" * 1_000_000, {"reference": "1"}),
    ("\\boxed{" + "x" * 1_000_000 + "}", {"reference": "1"}),
    ("\\boxed{1}", {"question": "a" * 1_000_000}),
    ("\\boxed{1}", {"reference": "1" * 1_000_000}),
    ("\\[" * 90_000, {"reference": "1"}),
    ("final answer " * 15_000, {"reference": "1"}),
    ("\\boxed{" * 25_000, {"reference": "1"}),
]
MALFORMED = [
    ("\\boxed{\\frac{1}{", {"reference": "1"}),
    ("\\boxed{}}}}{{{}", {"reference": "1"}),
    ("\\boxed{\\begin{pmatrix}1 & 2}", {"reference": "1"}),
    ("\\boxed{\\sqrt[}", {"reference": "1"}),
    ("\\boxed{^^^^}", {"reference": "1"}),
    ("\\boxed{\\left( x \\right.}", {"reference": "x"}),
    ("\\boxed{\\frac{}{}}", {"reference": "1"}),
    ("\\boxed{\\int}", {"question": "Find ∫ x dx"}),
    ("\\boxed{\\lim_{x\\to}}", {"reference": "1"}),
    ("\\boxed{x = = = 3}", {"reference": "3"}),
    ("\\boxed{\\\\\\\\\\\\}", {"reference": "1"}),
    ("\\boxed{\\undefinedcommand{x}}", {"reference": "x"}),
    ("\\boxed{1\x00 + 2}", {"reference": "3"}),
    ("\\boxed{😀 + ∑∏∫}", {"reference": "1"}),
    ("\\boxed{\u202e1 + 2\u202c}", {"reference": "3"}),
    ("\\boxed{1}", {"question": "😀😀😀 ∫∫∫ $$$"}),
]
SLOW = [  # pass the caps, then compute for longer than the deadline: the worker is killed
    ("\\boxed{0}", {"reference": "\\binom{10^{6}}{5 \\cdot 10^{5}}"}),
    ("\\boxed{1}", {"question": "Evaluate $\\int_0^1 e^{x^{x^{x}}} \\sin(e^{x^{x}})\\,dx$"}),
]
CASES = CODE + HUGE + DEEP + LONG + MALFORMED + SLOW


def test_the_suite_has_at_least_fifty_hostile_inputs():
    assert len(CASES) >= 50


@pytest.mark.parametrize(("response", "kwargs"), CASES,
                         ids=[f"{i:02d}-{r[:24]!r}" for i, (r, _) in enumerate(CASES)])
def test_hostile_input_runs_no_code_and_returns_within_the_deadline(checker, tmp_path, response,
                                                                      kwargs):
    canary = tmp_path / "canary"
    response = response.replace("{canary}", str(canary))
    kwargs = {k: v.replace("{canary}", str(canary)) for k, v in kwargs.items()}
    start = time.monotonic()
    verdict = checker(response, timeout=DEADLINE, **kwargs)
    elapsed = time.monotonic() - start
    assert isinstance(verdict, Verdict)
    assert verdict.status in ("verified", "contradicted", "unverifiable")
    assert verdict.reason  # every verdict says why
    assert elapsed < DEADLINE + 1.0, f"took {elapsed:.2f} s"
    assert not canary.exists(), "hostile input ran code"


def test_code_in_the_answer_is_refused_as_unreadable_not_judged(checker, tmp_path):
    canary = tmp_path / "canary"
    verdict = checker("\\boxed{" + TOUCH.replace("{canary}", str(canary)) + "}",
                      reference="0", timeout=30)  # a worker restarted by the cases above
    assert verdict.status == "unverifiable" and "could not read" in verdict.reason
    assert not canary.exists()


def test_huge_numbers_are_refused_before_they_are_computed(checker):
    verdict = checker("\\boxed{10^{10^{10}}}", reference="1", timeout=30)
    assert verdict.status == "unverifiable" and verdict.method == "limits"
    assert "too large" in verdict.reason
