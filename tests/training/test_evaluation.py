"""`noema eval`: held-out accuracy per mode and family, graded by the checker; editing's value."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

import pytest
from typer.testing import CliRunner

from noema_core.decoding.events import GenerationResult, GenerationStats
from noema_core.decoding.settings import Mode
from noema_core.engine import Engine
from noema_core.evaluation import EDITING_OFF, comparisons, evaluate
from noema_core.training.curriculum import held_out_suite


@dataclass
class Info:
    name: str = "fake"
    decoding_presets: dict = field(default_factory=dict)
    history_exchanges: int | None = None


class FakeEngine:
    """Answers the first question of each family right (with an edit) and the rest wrong;
    with editing off every answer is wrong. AR is slower and never edits."""

    def __init__(self, per_family: int) -> None:
        self.info = Info()
        self.settings_seen: set[tuple[Mode, float]] = set()
        suite = held_out_suite(per_family, seed=0)
        self.answers = {p.question: p.answer for p in suite}
        self.right = {p.question for i, p in enumerate(suite) if i % per_family == 0}

    settings_for = Engine.settings_for  # the real presets logic, reading self.info

    def generate(self, messages, settings):
        self.settings_seen.add((settings.mode, settings.threshold))
        question = messages[-1]["content"]
        ar = settings.mode is Mode.AR
        editing_off = not ar and settings.editing_threshold == EDITING_OFF
        right = question in self.right and not editing_off
        text = f"So the answer is \\boxed{{{self.answers[question] if right else '999999'}}}"
        stats = GenerationStats(prompt_tokens=20, new_tokens=30, forwards=30 if ar else 10,
                                seconds=3.0 if ar else 1.0,
                                edits=0 if ar or editing_off else 2)
        return GenerationResult((1,) * 30, text, stats)


def test_report_gives_accuracy_speed_and_edits_per_mode_and_family():
    report = evaluate(FakeEngine(2), modes=[Mode.QUALITY, Mode.AR], per_family=2).as_dict()
    assert report["problems"] == 18
    q, ar = report["results"]
    assert (q["mode"], q["accuracy"], q["tokens_per_forward"], q["edits_per_answer"]) == (
        "q", 0.5, 3.0, 2.0)
    assert ar["tokens_per_second"] == 10.0 and "editing" not in ar
    assert all(f["q"]["accuracy"] == 0.5 for f in report["families"].values())
    assert q["editing"] == {"edited_answers": 18, "accuracy_with_edits": 0.5,
                            "accuracy_editing_off": 0.0}


def test_speed_and_accuracy_of_s_mode_are_compared_with_ar():
    report = evaluate(FakeEngine(1), modes=[Mode.SPEED, Mode.AR], per_family=1).as_dict()
    assert comparisons(report) == {"s_speedup_over_ar": 3.0, "s_accuracy_share_of_ar": 1.0}


def test_eval_command_prints_one_json_object(monkeypatch):
    from noema_core.engine import Engine
    from noema_tui.cli import app

    monkeypatch.setattr(Engine, "load", classmethod(lambda cls, *a, **k: FakeEngine(1)))
    result = CliRunner().invoke(app, ["eval", "--limit", "1", "--mode", "s", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) >= {"model", "problems", "results", "families"}
    assert report["results"][0]["mode"] == "s" and report["problems"] == 9


def test_eval_with_a_missing_model_exits_3_with_one_line():
    from noema_tui.cli import app

    result = CliRunner().invoke(app, ["eval", "--model", "/no/such/dir"])
    assert result.exit_code == 3 and "does not exist" in result.output


def test_each_mode_is_decoded_with_the_models_own_preset():
    engine = FakeEngine(1)
    engine.info.decoding_presets = {Mode.SPEED: {"threshold": 0.9}}
    evaluate(engine, modes=[Mode.QUALITY, Mode.SPEED], per_family=1)
    assert {(Mode.QUALITY, 0.7), (Mode.SPEED, 0.9)} <= engine.settings_seen
    assert (Mode.SPEED, 0.5) not in engine.settings_seen
    report = evaluate(engine, modes=[Mode.SPEED], per_family=1).as_dict()
    assert report["results"][0]["thresholds"] == {"threshold": 0.9, "editing_threshold": 0.0}


def test_eval_table_names_the_thresholds_each_mode_used(monkeypatch):
    from noema_core.engine import Engine
    from noema_tui.cli import app

    fake = FakeEngine(1)
    fake.info.decoding_presets = {Mode.QUALITY: {"threshold": 0.95}}
    monkeypatch.setattr(Engine, "load", classmethod(lambda cls, *a, **k: fake))
    result = CliRunner().invoke(app, ["eval", "--limit", "1", "--mode", "q", "--mode", "s",
                                      "--mode", "ar"])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if line.startswith("threshold"))
    assert row.split()[-3:] == ["0.95/0.5", "0.5/0", "-"]


def test_card_presets_option_ignores_the_models_own(monkeypatch):
    from noema_core.engine import Engine
    from noema_tui.cli import app

    fake = FakeEngine(1)
    fake.info.decoding_presets = {Mode.SPEED: {"threshold": 0.9}}
    monkeypatch.setattr(Engine, "load", classmethod(lambda cls, *a, **k: fake))
    result = CliRunner().invoke(app, ["eval", "--limit", "1", "--mode", "s", "--card-presets",
                                      "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["results"][0]["thresholds"]["threshold"] == 0.5
    assert (Mode.SPEED, 0.9) not in fake.settings_seen


# --- hand-written question sets (`noema eval --questions FILE`) ------------------------

NATURAL = "data/natural"


class ScriptedEngine:
    """Replies from a table keyed by the last question; records every conversation it sees."""

    def __init__(self, replies: dict[str, str]) -> None:
        self.info = Info()
        self.replies = replies
        self.seen: list[list[dict]] = []
        self.batches: list[int] = []  # the size of each generate_batch call

    settings_for = Engine.settings_for
    set_history_exchanges = Engine.set_history_exchanges

    def generate(self, messages, settings):
        self.seen.append(messages)
        text = self.replies.get(messages[-1]["content"], "")
        stats = GenerationStats(prompt_tokens=5, new_tokens=4, forwards=2, seconds=0.1)
        return GenerationResult((1,) * 4, text, stats)

    def generate_batch(self, conversations, settings, cancel=None, *, batch_size=None,
                       on_result=None):
        self.batches.append(len(conversations))
        results = [self.generate(messages, settings) for messages in conversations]
        for index, result in enumerate(results):
            if on_result is not None:
                on_result(index, result)
        return results


def _write(tmp_path, rows) -> str:
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return str(path)


def test_the_shipped_natural_sets_cover_every_family_turns_4_to_8_and_out_of_scope():
    from noema_core.evaluation import OUT_OF_SCOPE, load_questions
    from noema_core.training.curriculum import FAMILIES

    singles = load_questions([f"{NATURAL}/questions.jsonl"])
    assert len(singles) >= 150 and all(len(i.turns) == 1 for i in singles)
    per_family = {f: sum(i.family == f for i in singles) for f in FAMILIES}
    assert min(per_family.values()) >= 15, per_family
    conversations = load_questions([f"{NATURAL}/conversations.jsonl"])
    # one kind of question each, or "mixed" (a homework session moving between kinds)
    assert all(4 <= len(c.turns) <= 8 and c.family in {*FAMILIES, "mixed"}
               for c in conversations)
    assert sum(len(c.turns) - 3 for c in conversations) >= 30  # turns 4-8
    scope = load_questions([f"{NATURAL}/out_of_scope.jsonl"])
    assert len(scope) >= 40 and all(i.family == OUT_OF_SCOPE and i.turns[0].reference is None
                                    for i in scope)
    curriculum = {p.question for p in held_out_suite(50, seed=0)}
    assert not curriculum & {i.turns[0].question for i in singles}


def test_conversation_turns_follow_the_models_own_answers_and_are_reported_by_turn(tmp_path):
    from noema_core.evaluation import load_questions

    turns = [{"question": f"what is {n} + 1?", "answer": str(n + 1)} for n in range(5)]
    items = load_questions([_write(tmp_path, [{"family": "arithmetic", "turns": turns}])])
    replies = {t["question"]: f"\\boxed{{{t['answer']}}}" for t in turns}
    replies["what is 4 + 1?"] = "\\boxed{7}"  # the fifth answer is wrong
    engine = ScriptedEngine(replies)
    report = evaluate(engine, modes=[Mode.QUALITY], items=items).as_dict()
    last = engine.seen[-1]
    assert [m["role"] for m in last] == ["user", "assistant"] * 4 + ["user"]
    assert last[1]["content"] == "\\boxed{1}"  # the model's earlier answer, not the gold one
    assert report["problems"] == 5
    assert report["families"]["turns 1-3"]["q"]["accuracy"] == 1.0
    later = report["families"]["turns 4-8"]["q"]
    assert (later["problems"], later["accuracy"]) == (2, 0.5)
    assert report["history_exchanges"] is None  # the engine's window, recorded with the figures
    engine.info = Info(history_exchanges=0)
    assert evaluate(engine, modes=[Mode.QUALITY], items=items).history_exchanges == 0


def test_out_of_scope_passes_only_with_a_non_empty_reply_that_boxes_nothing(tmp_path):
    from noema_core.evaluation import load_questions

    rows = [{"family": "out_of_scope", "question": q} for q in ("hi", "prove it", "asdf")]
    engine = ScriptedEngine({"hi": "I am noema-tiny: I solve school maths.", "prove it": "",
                             "asdf": "7 ÷ 0 = 1 \\boxed{1}"})
    report = evaluate(engine, modes=[Mode.QUALITY],
                      items=load_questions([_write(tmp_path, rows)])).as_dict()
    assert report["families"]["out_of_scope"]["q"]["accuracy"] == round(1 / 3, 4)


def test_eval_questions_option_reports_per_family(monkeypatch, tmp_path):
    from noema_tui.cli import app

    rows = [{"family": "fractions", "question": "1/2 + 1/4?", "answer": "\\frac{3}{4}"},
            {"family": "fractions", "question": "1/2 - 1/4?", "answer": "\\frac{1}{4}"},
            {"family": "out_of_scope", "question": "hello"}]
    fake = ScriptedEngine({"1/2 + 1/4?": "so \\boxed{\\frac{3}{4}}", "1/2 - 1/4?": "\\boxed{3}",
                           "hello": "Hi, I solve school maths."})
    monkeypatch.setattr(Engine, "load", classmethod(lambda cls, *a, **k: fake))
    result = CliRunner().invoke(app, ["eval", "--questions", _write(tmp_path, rows),
                                      "--mode", "q", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["problems"] == 3 and report["source"].startswith("questions from ")
    assert report["families"]["fractions"]["q"]["accuracy"] == 0.5
    assert report["families"]["out_of_scope"]["q"]["accuracy"] == 1.0


@pytest.mark.parametrize(("option", "read"), [((), "0"), (("--history", "all"), "all"),
                                              (("--history", "2"), "2")])
def test_eval_history_option_sets_and_reports_what_the_model_read(monkeypatch, tmp_path,
                                                                  option, read):
    from noema_tui.cli import app

    turns = [{"question": f"what is {n} + 1?", "answer": str(n + 1)} for n in range(4)]
    fake = ScriptedEngine({})
    fake.info = Info(history_exchanges=0)  # what the checkpoint declares
    monkeypatch.setattr(Engine, "load", classmethod(lambda cls, *a, **k: fake))
    path = _write(tmp_path, [{"family": "arithmetic", "turns": turns}])
    result = CliRunner().invoke(app, ["eval", "--questions", path, "--mode", "q", *option])
    assert result.exit_code == 0, result.output
    assert f"earlier exchanges read with each turn: {read}" in result.stdout


def test_a_missing_or_malformed_question_file_exits_2_with_one_line(tmp_path):
    from noema_tui.cli import app

    missing = CliRunner().invoke(app, ["eval", "--questions", str(tmp_path / "none.jsonl")])
    assert missing.exit_code == 2 and "cannot read the question set" in missing.output
    no_answer = _write(tmp_path, [{"family": "fractions", "question": "1/2 + 1/4?"}])
    bad = CliRunner().invoke(app, ["eval", "--questions", no_answer])
    assert bad.exit_code == 2 and "set.jsonl:1 has a question without an answer" in bad.output
    assert len(bad.output.strip().splitlines()) == 1


class TwoMindedEngine(ScriptedEngine):
    """Replies by question as ScriptedEngine, but AR mode (one token per forward) has its own
    table: the first retry of a contradicted Q/S answer decodes in AR."""

    def __init__(self, replies: dict[str, str], ar_replies: dict[str, str]) -> None:
        super().__init__(replies)
        self.ar_replies = ar_replies
        self.modes: list[Mode] = []

    def generate(self, messages, settings, cancel=None):
        self.modes.append(settings.mode)
        result = super().generate(messages, settings)
        if settings.mode is Mode.AR:
            text = self.ar_replies.get(messages[-1]["content"], "")
            return dataclasses.replace(result, text=text)
        return result


def test_retry_decodes_a_contradicted_answer_again_and_grades_the_answer_shown(tmp_path):
    from noema_core.evaluation import load_questions

    rows = [{"family": "arithmetic", "question": "What is 17 + 25?", "answer": "42"},
            {"family": "arithmetic", "question": "What is 6 * 7?", "answer": "42"},
            {"family": "out_of_scope", "question": "hello"}]
    engine = TwoMindedEngine({"What is 17 + 25?": "\\boxed{41}", "What is 6 * 7?": "\\boxed{42}",
                              "hello": "Hi, I solve school maths."},
                             {"What is 17 + 25?": "17 + 25 = 42. \\boxed{42}"})
    items = load_questions([_write(tmp_path, rows)])
    report = evaluate(engine, modes=[Mode.QUALITY], items=items, retries=2).as_dict()
    q = report["results"][0]
    assert report["retries"] == 2 and q["accuracy"] == 1.0
    assert q["retry"] == {"accuracy_as_asked": round(2 / 3, 4), "retried": 1, "fixed": 1,
                          "broken": 0, "extra_seconds": round(0.1 / 0.3, 3)}
    # only the contradicted answer was decoded again, and its retry stopped once verified
    assert engine.modes == [Mode.QUALITY, Mode.AR, Mode.QUALITY, Mode.QUALITY]
    plain = evaluate(engine, modes=[Mode.QUALITY], items=items).as_dict()
    assert plain["results"][0]["accuracy"] == round(2 / 3, 4) and "retry" not in plain["results"][0]


def test_eval_retry_option_reports_both_accuracies_on_questions_and_datasets(monkeypatch,
                                                                              tmp_path):
    from noema_tui.cli import app

    rows = [{"family": "arithmetic", "question": "What is 17 + 25?", "answer": "42"}]
    fake = TwoMindedEngine({"What is 17 + 25?": "\\boxed{41}"}, {"What is 17 + 25?": "\\boxed{42}"})
    monkeypatch.setattr(Engine, "load", classmethod(lambda cls, *a, **k: fake))
    path = _write(tmp_path, rows)
    result = CliRunner().invoke(app, ["eval", "--questions", path, "--mode", "q", "--retry", "1"])
    assert result.exit_code == 0, result.output
    assert "Q: 1 answers retried (at most 1 more decoding each): accuracy 0.000 as asked, " \
           "1.000 with retries (1 fixed, 0 broken)" in result.stdout
    out = tmp_path / "rows.jsonl"
    result = CliRunner().invoke(app, ["eval", "--dataset", path, "--mode", "q", "--retry", "1",
                                      "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "accuracy 1.000" in result.stdout
    assert "as asked 0.000; with --retry 1: 1 decoded again, 1 fixed, 0 broken" in result.stdout
    (row,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert (row["tries"], row["shown"], row["verdict"], row["verdict_as_asked"]) == \
        (2, "one token per forward", "verified", "contradicted")
    assert row["response"] == "\\boxed{42}"


def test_eval_batch_size_decodes_a_sets_turns_in_waves_with_the_same_report(monkeypatch,
                                                                           tmp_path):
    from noema_tui.cli import app

    turns = [{"question": f"what is {n} + 1?", "answer": str(n + 1)} for n in range(3)]
    rows = [{"family": "arithmetic", "turns": turns},
            {"family": "fractions", "question": "1/2 + 1/4?", "answer": "\\frac{3}{4}"},
            {"family": "out_of_scope", "question": "hello"}]
    replies = {"what is 0 + 1?": "\\boxed{1}", "what is 1 + 1?": "\\boxed{3}",
               "what is 2 + 1?": "\\boxed{3}", "1/2 + 1/4?": "\\boxed{\\frac{3}{4}}",
               "hello": "Hi, I solve school maths."}
    path = _write(tmp_path, rows)
    reports = {}
    for size in ("1", "8"):
        fake = ScriptedEngine(replies)
        monkeypatch.setattr(Engine, "load", classmethod(lambda cls, *a, fake=fake, **k: fake))
        result = CliRunner().invoke(app, ["eval", "--questions", path, "--mode", "q",
                                          "--batch-size", size, "--json"])
        assert result.exit_code == 0, result.output
        reports[size] = json.loads(result.stdout)
    # Batched: wave 0 holds every first turn, then one wave per later turn of the chat,
    # each after the model's own earlier answer.
    assert fake.batches == [3, 1, 1]
    assert fake.seen[3][-2] == {"role": "assistant", "content": "\\boxed{1}"}
    assert reports["8"]["batch_size"] == 8
    # The same grades; only the mode's tokens/s changes meaning (throughput when batched).
    assert reports["8"]["families"] == reports["1"]["families"]
    assert [r["accuracy"] for r in reports["8"]["results"]] == \
        [r["accuracy"] for r in reports["1"]["results"]] == [0.8]
