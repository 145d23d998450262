"""`noema eval --batch-size N` on held-out and hand-written sets: the report batch 1 gives."""

from __future__ import annotations

import pytest

from noema_core.decoding.settings import Mode
from noema_core.engine import Engine
from noema_core.evaluation import EvalItem, Turn, evaluate, held_out_items


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.load("noema-tiny", device="cpu")


def _items() -> list[EvalItem]:
    conversation = (Turn("what is 23 + 58?", "81"), Turn("and 406 - 177?", "229"),
                    Turn("now 912 divided by 8", "114"))
    return [*held_out_items(1, seed=3)[:4],
            EvalItem("arithmetic", conversation),
            EvalItem("out_of_scope", (Turn("hello there", None),))]


def _graded(report: dict) -> dict:
    """What must not depend on the batch: every count and accuracy (tokens/s aside)."""
    def strip(row: dict) -> dict:
        return {k: v for k, v in row.items() if k != "tokens_per_second"}

    retry = {r["mode"]: {k: v for k, v in r.get("retry", {}).items() if k != "extra_seconds"}
             for r in report["results"]}
    return {"results": [{k: v for k, v in strip(r).items() if k != "retry"}
                        for r in report["results"]],
            "retry": retry,
            "families": {f: {m: strip(t) for m, t in modes.items()}
                         for f, modes in report["families"].items()}}


def test_a_batched_eval_grades_every_turn_as_one_at_a_time(engine):
    items = _items()
    kwargs = dict(modes=[Mode.QUALITY, Mode.SPEED], items=items, retries=1)
    alone = evaluate(engine, **kwargs).as_dict()
    seen = []
    batched = evaluate(engine, batch_size=4, progress=seen.append, **kwargs).as_dict()
    assert _graded(batched) == _graded(alone)
    assert batched["batch_size"] == 4 and alone["batch_size"] == 1
    # Conversation turns are reported by turn, and progress counts every turn of each mode.
    assert "turns 1-3" in batched["families"]
    assert [p.done for p in seen] == list(range(1, 2 * 8 + 1))
    assert seen[-1].total == 16


def test_a_cancelled_batched_eval_books_only_whole_answers(engine):
    import threading

    cancel = threading.Event()
    seen = []

    def progress(p) -> None:
        seen.append(p)
        if len(seen) == 2:
            cancel.set()

    report = evaluate(engine, modes=[Mode.SPEED], items=_items(), batch_size=3,
                      progress=progress, cancel=cancel).as_dict()
    assert report["cancelled"]
    booked = report["results"][0]["problems"] if report["results"] else 0
    assert 2 <= booked < 8  # the answers finished before the cancel, never a partial one
