"""The curriculum's questions as people type them, conversations, and out-of-scope messages."""

from __future__ import annotations

import itertools
import json
import random
import re
from pathlib import Path

import pytest

from noema_core.training.curriculum import FAMILIES, SCOPE_SHARE, scope, training_stream
from noema_core.training.curriculum.phrasing import split_line
from noema_core.training.data import MAX_EARLIER_EXCHANGES, conversations

NATURAL = Path(__file__).resolve().parents[2] / "data" / "natural"


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def _dev_questions() -> set[str]:
    found = set()
    for name in ("questions", "conversations", "out_of_scope"):
        for line in (NATURAL / f"{name}.jsonl").read_text().splitlines():
            row = json.loads(line)
            for turn in row.get("turns", [row]):
                # one- and two-word messages ("hi", "good morning") are what anyone types
                if len(turn["question"].split()) > 2:
                    found.add(_normal(turn["question"]))
    return found


def _questions(family: str, n: int = 600, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [FAMILIES[family](rng, False).question for _ in range(n)]


def test_the_generator_never_emits_a_hand_written_dev_question():
    dev = _dev_questions()
    assert len(dev) > 200
    stream = itertools.islice(training_stream(0, check_share=0.0), 30_000)
    emitted = {_normal(p.question) for p in stream}
    assert not emitted & dev, sorted(emitted & dev)[:5]


@pytest.mark.parametrize(("family", "forms"), [
    ("arithmetic", [" times ", "multiplied by", "product of", "sum of", " minus ",
                    "subtract", "divided by", "difference between", r"\d ?[xX] ?\d"]),
    ("fractions", [r"\\frac", " of ", "lowest terms", "simplest form", "add ", "divide"]),
    ("order_of_operations", [r"\d\^\d", r"\d\*\*\d", "²"]),
    ("linear_equation", [r"^-?\d+ = ", r"\b[abnty]\b", "solve for", "please", "can you",
                         r"\b[a-z]/\d"]),
    ("quadratic_equation", ["roots", "zeros", r"\*\*2", "²", r"^0 = "]),
    ("linear_system", [r"\ba\b.*\bb\b", r"\bm\b.*\bn\b", "\n", "simultaneous", "cases"]),
    ("polynomial_expand", [r"\)\^2", r"\)\(", r"\)\*\(", "multiply out", r"\([a-wyz] "]),
    ("polynomial_simplify", ["combine", "collect", r"\*\*", "simplif"]),
    ("derivative", ["f'\\(x\\)", "g'\\(", "dy/dx", "d/dx", "d/dt", "with respect to t",
                    "frac\\{d\\}"]),
])
def test_each_family_is_asked_in_the_forms_people_type(family, forms):
    questions = _questions(family, 1500)
    for form in forms:
        assert any(re.search(form, q, re.IGNORECASE | re.MULTILINE) for q in questions), form


def test_surface_varies_in_case_punctuation_politeness_and_spacing():
    questions = [q for family in FAMILIES for q in _questions(family, 300, seed=1)]
    assert any(q[0].islower() for q in questions) and any(q[0].isupper() for q in questions)
    assert any(q.endswith("?") for q in questions) and any(q[-1].isalnum() for q in questions)
    polite = ("please", "can you", "could you", "i need")
    assert any(q.lower().startswith(polite) for q in questions)
    assert any(re.search(r"\d[-+]\d", q) for q in questions)  # unspaced
    assert any(re.search(r"\d [-+] \d", q) for q in questions)  # spaced
    assert sum("\n" in q for q in questions) > 20  # split over lines


def test_split_line_breaks_between_words_and_mathematics_not_inside_an_equation():
    rng = random.Random(0)
    assert split_line(rng, "Solve for x: 3x = 2") == "Solve for x:\n3x = 2"
    assert split_line(rng, "please solve the equation -x + 17 = 11") == \
        "please solve the equation\n-x + 17 = 11"
    assert split_line(rng, "4m + 3n = 17") == "4m + 3n = 17"


def test_answers_use_the_questions_own_unknowns():
    rng = random.Random(4)
    seen = set()
    for _ in range(400):
        problem = FAMILIES["linear_system"](rng, True)
        u, v = re.fullmatch(r"([a-z]) = -?\d+, ([a-z]) = -?\d+", problem.answer).groups()
        seen.add((u, v))
        assert f"So {u} = " in problem.solution and f" and {v} = " in problem.solution
    assert {("x", "y"), ("a", "b"), ("m", "n")} <= seen
    rng = random.Random(5)
    unknowns = set()
    for _ in range(300):
        problem = FAMILIES["derivative"](rng, True)
        letters = set(re.findall(r"[a-z]", problem.answer))
        assert len(letters) <= 1 and letters <= set(problem.question)  # the question's unknown
        unknowns |= letters
    assert {"x", "t"} <= unknowns


def test_out_of_scope_messages_get_one_paragraph_with_examples_and_no_boxed_answer():
    rng = random.Random(0)
    messages = [scope.message(rng) for _ in range(500)]
    assert len({m.question for m in messages}) > 200
    for m in messages:
        assert "\\boxed" not in m.solution and "\n" not in m.solution
        assert "noema-tiny" in m.solution and 2 <= m.solution.count('"') // 2 <= 3
    openers = {m.solution.split("I'm noema-tiny")[0] for m in messages}
    assert len(openers) == len(scope.OPENERS)
    share = sum(p.family == "scope" for p in itertools.islice(training_stream(1), 4000)) / 4000
    assert SCOPE_SHARE / 2 < share < SCOPE_SHARE * 2


def test_some_canvases_continue_conversations_of_up_to_eight_earlier_exchanges():
    pairs = list(itertools.islice(conversations(0), 1500))
    earlier = [sum(m["role"] == "assistant" for m in messages) for messages, _ in pairs]
    assert max(earlier) == MAX_EARLIER_EXCHANGES and 0.2 < sum(map(bool, earlier)) / 1500 < 0.4
    assert len({n for n in earlier if n}) == MAX_EARLIER_EXCHANGES  # 1 to 8
    for messages, _answer in pairs:
        assert [m["role"] for m in messages] == ["user", "assistant"] * (len(messages) // 2) + \
            ["user"]
        for reply in messages[1::2]:  # earlier answers as the model writes them
            assert reply["content"].endswith("}") or "noema-tiny" in reply["content"]


def test_questions_the_families_answer_are_never_trained_as_declined_near_misses():
    rng = random.Random(2)
    declined = [scope.message(rng).question for _ in range(5000)]
    in_family = [r"\d\s*(\^|\*\*)\s*[2-5]\b",  # 2^3 + 4 * 5: order of operations
                 r"\b[a-z]/\d+\s*[-+]\s*\d+\s*=",  # x/4 + 2 = 5: a linear equation
                 r"x\^2 \+ 2x \+ 1"]  # a quadratic with a rational root
    for pattern in in_family:
        assert not [q for q in declined if re.search(pattern, q)], pattern


def test_a_generated_question_that_a_person_wrote_is_skipped(monkeypatch):
    from noema_core.training import curriculum
    from noema_core.training.curriculum.decontaminate import dev_questions, is_dev_question
    from noema_core.training.curriculum.problem import Problem

    assert dev_questions() and is_dev_question("EXPAND  (-2x + 3)**2")
    assert not is_dev_question("hi")  # short messages are what anyone types: kept
    made = iter([Problem("polynomial_expand", "expand (-2x + 3)**2", "", "", ("e", 1)),
                 Problem("polynomial_expand", "expand (-2x + 5)**2", "", "", ("e", 2))])
    monkeypatch.setattr(curriculum, "generate", lambda rng, family, check: next(made))
    monkeypatch.setattr(curriculum, "is_held_out", lambda key: False)
    problem = curriculum.training_problem(random.Random(0), "polynomial_expand")
    assert problem.question == "expand (-2x + 5)**2"
