"""`noema eval --dataset` batched: the same graded rows as one problem at a time."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from noema_core.dataset import load_dataset
from noema_core.dataset_grading import run_dataset
from noema_core.engine import Engine

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def engine():
    yield Engine.load("noema-tiny", device="cpu")
    # Grading started the checker's worker: stop it, so later tests that time a check meet
    # the cold worker they were written against.
    from noema_core.verify import shutdown

    shutdown()


@pytest.fixture(scope="module")
def items():
    return load_dataset(ROOT / "data/natural/questions.jsonl").items[:5]


def test_a_batched_run_grades_every_problem_as_the_one_at_a_time_run(engine, items, tmp_path):
    settings = engine.settings_for("s", gen_length=48)
    runs = {}
    for batch_size in (1, 3):
        out = tmp_path / f"b{batch_size}.jsonl"
        heard: list[int] = []
        report = run_dataset(engine, items, settings, mode="s", batch_size=batch_size,
                             output=out, progress=lambda r, heard=heard: heard.append(r.graded))
        assert heard == [1, 2, 3, 4, 5]  # progress advances per problem
        assert report.graded == 5 and not report.cancelled
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        runs[batch_size] = {row["line"]: row for row in rows}
        assert sum(row["seconds"] for row in rows) == pytest.approx(report.seconds)
    assert runs[1].keys() == runs[3].keys() == {item.line for item in items}
    for line, row in runs[1].items():
        other = runs[3][line]
        assert (row["response"], row["verdict"], row["forwards"]) == \
            (other["response"], other["verdict"], other["forwards"])


def test_retries_decode_the_contradicted_replies_again_batched_as_one_at_a_time(engine, items,
                                                                                tmp_path):
    settings = engine.settings_for("q", gen_length=40)  # short: some replies are cut wrong
    runs = {}
    for batch_size in (1, 3):
        report = run_dataset(engine, items, settings, mode="q", batch_size=batch_size,
                             retries=2, output=tmp_path / f"r{batch_size}.jsonl")
        rows = [json.loads(line) for line in (tmp_path / f"r{batch_size}.jsonl").read_text()
                .splitlines()]
        assert report.graded == len(rows) == 5 and report.retries == 2
        assert report.retried == sum(row["tries"] > 1 for row in rows)
        assert all(1 <= row["tries"] <= 3 for row in rows)
        runs[batch_size] = {row["line"]: row for row in rows}
    assert any(row["tries"] > 1 for row in runs[1].values())  # the plan was exercised
    for line, row in runs[1].items():
        other = runs[3][line]
        assert (row["response"], row["verdict"], row["tries"], row["verdict_as_asked"]) == \
            (other["response"], other["verdict"], other["tries"], other["verdict_as_asked"])


def test_cancelling_a_batched_run_keeps_the_graded_rows_only(engine, items, tmp_path):
    settings = engine.settings_for("s", gen_length=48)
    cancel = threading.Event()
    out = tmp_path / "cut.jsonl"
    report = run_dataset(engine, items, settings, mode="s", batch_size=2, output=out,
                         progress=lambda r: cancel.set(), cancel=cancel)
    assert report.cancelled and 1 <= report.graded < 5
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == report.graded and all(r["verdict"] for r in rows)
    # A rerun with the same file resumes: only the rest is decoded.
    again = run_dataset(engine, items, settings, mode="s", batch_size=2, output=out)
    assert (again.resumed, again.graded, again.cancelled) == (report.graded, 5, False)


def test_decoding_goes_on_while_replies_are_graded(engine, items, monkeypatch):
    import noema_core.dataset_grading as dataset
    import noema_core.verify as verify

    decoded = threading.Event()
    real_generate, real_check = dataset.generate_many, verify.check
    waited: list[bool] = []

    def generate_then_signal(*args, **kwargs):
        results = real_generate(*args, **kwargs)
        decoded.set()
        return results

    def check_after_decoding(*args, **kwargs):  # inline grading would wait here in vain
        waited.append(decoded.wait(timeout=10))
        return real_check(*args, **kwargs)

    monkeypatch.setattr(dataset, "generate_many", generate_then_signal)
    monkeypatch.setattr(verify, "check", check_after_decoding)
    report = run_dataset(engine, items[:3], engine.settings_for("s", gen_length=32),
                         mode="s", batch_size=1)
    assert report.graded == 3 and waited == [True, True, True]


def test_a_grading_error_reaches_the_caller(engine, items, monkeypatch):
    import noema_core.verify as verify

    def broken(*args, **kwargs):
        raise RuntimeError("checker broke")

    monkeypatch.setattr(verify, "check", broken)
    with pytest.raises(RuntimeError, match="checker broke"):
        run_dataset(engine, items[:2], engine.settings_for("s", gen_length=32), mode="s")
