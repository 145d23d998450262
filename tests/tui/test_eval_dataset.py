"""`noema eval --dataset`: GSM8K/MATH/CSV files are read and graded against their gold answers
by the real checker; the model is scripted, so the verdicts are known in advance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from noema_core.dataset import boxed_gold, gsm8k_gold, load_dataset
from noema_tui.cli import app
from tests.tui.conftest import ScriptedEngine

ROOT = Path(__file__).resolve().parents[2]


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def answering(scripted_engine: ScriptedEngine) -> dict[str, str]:
    """Replies chosen per question: `answers[question] = reply` (default: no answer)."""
    answers: dict[str, str] = {}
    plain = ScriptedEngine.stream

    def stream(messages, settings, cancel=None):
        scripted_engine.reply = answers.get(messages[-1]["content"], "I don't know.")
        return plain(scripted_engine, messages, settings, cancel)

    scripted_engine.stream = stream
    return answers


def write_jsonl(path: Path, rows: list[dict | str]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def summary(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_gold_answers_follow_gsm8k_and_math_conventions():
    assert gsm8k_gold("48 / 2 = 24 apples\n#### 1,234") == "1234"
    assert gsm8k_gold("#### ") is None
    assert boxed_gold(r"So it is $\boxed{\frac{1}{2}}$.") == r"\frac{1}{2}"
    assert boxed_gold("no box here") is None


def test_a_gsm8k_file_is_graded_and_malformed_lines_are_reported(tmp_path, answering):
    path = write_jsonl(tmp_path / "gsm8k.jsonl", [
        {"question": "Ann has 3 pens and buys 4. How many?", "answer": "3+4=7\n#### 7"},
        {"question": "What is 1,000 + 200?", "answer": "1,000+200\n#### 1,200"},
        '{"question": "broken',
        {"question": "What is 2 + 2?", "answer": "#### 4"},
        {"question": "   ", "answer": "#### 1"},
        {"question": "No gold here?"},
    ])
    answering["Ann has 3 pens and buys 4. How many?"] = "3 + 4 = 7. \\boxed{7}"
    answering["What is 1,000 + 200?"] = "The total is \\boxed{1200}"
    answering["What is 2 + 2?"] = "\\boxed{5}"
    result = invoke("eval", "--dataset", str(path), "--json")
    s = summary(result)
    assert (s["problems"], s["verified"], s["contradicted"], s["malformed"]) == (3, 2, 1, 3)
    assert s["accuracy"] == pytest.approx(2 / 3, abs=1e-3)
    assert (s["question_field"], s["answer_field"]) == ("question", "answer")
    for line in (3, 5, 6):
        assert f"gsm8k.jsonl:{line}:" in result.stderr
    assert "gsm8k.jsonl:1:" not in result.stderr


def test_math_files_use_problem_and_answer_or_the_boxed_solution(tmp_path, answering):
    with_answer = write_jsonl(tmp_path / "math.jsonl", [
        {"problem": "Compute $\\frac{2}{4}$.", "answer": "\\frac{1}{2}", "level": "Level 1"}])
    with_solution = write_jsonl(tmp_path / "math_sol.jsonl", [
        {"problem": "Compute $\\frac{2}{4}$.", "solution": "It halves: $\\boxed{\\frac12}$."}])
    answering["Compute $\\frac{2}{4}$."] = "Dividing gives \\boxed{0.5}"
    for path, field in ((with_answer, "answer"), (with_solution, "solution")):
        s = summary(invoke("eval", "--dataset", str(path), "--json"))
        assert (s["question_field"], s["answer_field"]) == ("problem", field)
        assert (s["problems"], s["verified"], s["malformed"]) == (1, 1, 0)


def test_a_csv_file_with_named_fields(tmp_path, answering):
    path = tmp_path / "set.csv"
    path.write_text('id,prompt,gold\n1,"What is 6 * 7?",42\n2,"What is 9 - 3?",6\n3,,5\n',
                    encoding="utf-8")
    answering["What is 6 * 7?"] = "\\boxed{42}"
    answering["What is 9 - 3?"] = "\\boxed{7}"
    result = invoke("eval", "--dataset", str(path), "--question-field", "prompt",
                    "--answer-field", "gold", "--json")
    s = summary(result)
    assert (s["problems"], s["verified"], s["contradicted"], s["malformed"]) == (2, 1, 1, 1)
    assert "set.csv:4:" in result.stderr  # the header is line 1


def test_output_is_written_as_it_goes_and_a_rerun_resumes(tmp_path, answering,
                                                          scripted_engine):
    rows = [{"question": f"What is {n} + 1?", "answer": f"#### {n + 1}"} for n in range(5)]
    for n in range(5):
        answering[f"What is {n} + 1?"] = f"\\boxed{{{n + 1}}}"
    path, out = write_jsonl(tmp_path / "d.jsonl", rows), tmp_path / "results.jsonl"
    first = summary(invoke("eval", "--dataset", str(path), "--limit", "2", "--output", str(out),
                           "--json"))
    assert first["problems"] == 2 and len(scripted_engine.streams) == 2
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["line"] for r in written] == [1, 2]
    assert set(written[0]) >= {"question", "gold", "response", "answer", "verdict", "forwards",
                               "seconds"}
    assert written[1]["answer"] == "2" and written[1]["verdict"] == "verified"
    second = invoke("eval", "--dataset", str(path), "--output", str(out), "--batch-size", "2",
                    "--json")
    s = summary(second)
    assert "resuming" in second.stderr and "2 problems already graded" in second.stderr
    assert len(scripted_engine.streams) == 5  # only the three new ones were decoded
    assert (s["problems"], s["resumed"], s["verified"]) == (5, 2, 5)
    assert [json.loads(line)["line"] for line in out.read_text().splitlines()] == [1, 2, 3, 4, 5]
    other_mode = invoke("eval", "--dataset", str(path), "--output", str(out), "--mode", "q")
    assert other_mode.exit_code == 2 and "decoded in mode s" in other_mode.stderr
    assert len(scripted_engine.streams) == 5  # nothing mixed into the file


def test_batches_that_do_not_divide_the_set_lose_nothing(tmp_path, answering,
                                                         scripted_engine):
    rows = [{"question": f"Q{n}?", "answer": f"#### {n}"} for n in range(7)]
    for n in range(7):
        answering[f"Q{n}?"] = f"\\boxed{{{n}}}"
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    s = summary(invoke("eval", "--dataset", str(path), "--batch-size", "3", "--limit", "5",
                       "--json"))
    assert (s["problems"], s["verified"], s["batch_size"]) == (5, 5, 3)
    assert [m[-1]["content"] for m, _ in scripted_engine.streams] == [f"Q{n}?" for n in range(5)]


def test_the_natural_set_reads_as_a_dataset(answering):
    data = load_dataset(ROOT / "data/natural/questions.jsonl")
    assert not data.malformed and len(data.items) >= 100
    s = summary(invoke("eval", "--dataset", str(ROOT / "data/natural/questions.jsonl"),
                       "--limit", "3", "--json"))
    assert (s["problems"], s["malformed"]) == (3, 0)


@pytest.mark.parametrize("content", [None, "", "not json\n"])
def test_a_missing_or_useless_file_is_one_error_line_exit_2(tmp_path, scripted_engine, content):
    path = tmp_path / "set.jsonl"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = invoke("eval", "--dataset", str(path))
    assert result.exit_code == 2 and "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and "set.jsonl" in lines[-1]
    assert not scripted_engine.loads  # failed before loading the model
