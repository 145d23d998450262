"""`noema eval`: decode a seeded held-out suite in each mode and grade it with the checker.

Every problem comes from the curriculum's held-out split (never seen in training). An answer
is right when `noema_core.verify.check` verifies it against the problem's reference. For each
mode the report gives accuracy, tokens per forward, tokens/s and edits per answer, overall and
per family. For modes that edit, the prompts whose answers were edited are decoded again with
editing off, so the value of editing is measured on the same prompts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from noema_core.decoding.events import GenerationStats
from noema_core.decoding.settings import DecodingSettings, Mode
from noema_core.engine import Engine

EDITING_OFF = 1.0  # a confidence must exceed the threshold, and none exceeds 1


@dataclass
class ModeTally:
    problems: int = 0
    correct: int = 0
    new_tokens: int = 0
    forwards: int = 0
    seconds: float = 0.0
    edits: int = 0

    def add(self, correct: bool, stats: GenerationStats) -> None:
        self.problems += 1
        self.correct += correct
        self.new_tokens += stats.new_tokens
        self.forwards += stats.forwards
        self.seconds += stats.seconds
        self.edits += stats.edits

    def summary(self) -> dict:
        return {
            "accuracy": round(self.correct / self.problems, 4) if self.problems else 0.0,
            "tokens_per_forward": round(self.new_tokens / max(self.forwards, 1), 3),
            "tokens_per_second": round(self.new_tokens / self.seconds, 2) if self.seconds else 0.0,
            "edits_per_answer": round(self.edits / max(self.problems, 1), 3),
        }


@dataclass
class EditingEffect:
    """On the prompts whose answers were edited: accuracy with edits vs with editing off."""

    edited_answers: int = 0
    correct_with_edits: int = 0
    correct_editing_off: int = 0

    def summary(self) -> dict:
        n = self.edited_answers
        return {"edited_answers": n,
                "accuracy_with_edits": round(self.correct_with_edits / n, 4) if n else None,
                "accuracy_editing_off": round(self.correct_editing_off / n, 4) if n else None}


@dataclass
class EvalReport:
    model: str
    problems: int
    overall: dict[str, ModeTally] = field(default_factory=dict)
    families: dict[str, dict[str, ModeTally]] = field(default_factory=dict)
    editing: dict[str, EditingEffect] = field(default_factory=dict)
    # The thresholds each mode decoded with (the model's own presets may differ from the card).
    thresholds: dict[str, dict[str, float]] = field(default_factory=dict)
    cancelled: bool = False

    def as_dict(self) -> dict:
        results = []
        for mode, tally in self.overall.items():
            row = {"mode": mode, "problems": tally.problems, **tally.summary(),
                   "thresholds": self.thresholds.get(mode, {})}
            if mode in self.editing:
                row["editing"] = self.editing[mode].summary()
            results.append(row)
        return {"model": self.model, "problems": self.problems, "results": results,
                "families": {family: {mode: {"problems": t.problems, **t.summary()}
                                      for mode, t in modes.items()}
                             for family, modes in self.families.items()},
                "cancelled": self.cancelled}


@dataclass(frozen=True)
class EvalProgress:
    done: int
    total: int
    mode: str
    family: str
    correct: bool


def grade(text: str, question: str, reference: str) -> bool:
    from noema_core.verify import check

    return check(text, question=question, reference=reference).status == "verified"


def evaluate(engine: Engine, *, modes: Sequence[Mode], per_family: int, seed: int = 0,
             families: list[str] | None = None, gen_length: int = 320,
             card_presets: bool = False,
             progress: Callable[[EvalProgress], None] | None = None,
             cancel: threading.Event | None = None) -> EvalReport:
    """Decode and grade the held-out suite. Setting `cancel` stops after the current problem
    and returns what was graded so far (marked cancelled). `card_presets` decodes with the
    card's thresholds instead of the model's own."""
    from noema_core.training.curriculum import held_out_suite

    suite = held_out_suite(per_family, seed=seed, families=families)
    report = EvalReport(engine.info.name, len(suite))
    total = len(suite) * len(modes)
    done = 0
    for mode in modes:
        settings = (DecodingSettings.for_mode(mode, gen_length=gen_length) if card_presets
                    else engine.settings_for(mode, gen_length=gen_length))
        report.thresholds[mode.value] = {"threshold": settings.threshold,
                                         "editing_threshold": settings.editing_threshold}
        overall = report.overall.setdefault(mode.value, ModeTally())
        effect = EditingEffect()
        for problem in suite:
            if cancel is not None and cancel.is_set():
                report.cancelled = True
                return report
            messages = [{"role": "user", "content": problem.question}]
            result = engine.generate(messages, settings)
            right = grade(result.text, problem.question, problem.answer)
            overall.add(right, result.stats)
            report.families.setdefault(problem.family, {}).setdefault(
                mode.value, ModeTally()).add(right, result.stats)
            if result.stats.edits:
                plain = engine.generate(messages,
                                        settings.replace(editing_threshold=EDITING_OFF))
                effect.edited_answers += 1
                effect.correct_with_edits += right
                effect.correct_editing_off += grade(plain.text, problem.question, problem.answer)
            done += 1
            if progress:
                progress(EvalProgress(done, total, mode.value, problem.family, right))
        if mode is not Mode.AR:
            report.editing[mode.value] = effect
    return report


def comparisons(report: dict) -> dict[str, float | None]:
    """The issue's goals as ratios: S vs AR speed and accuracy."""
    rows = {r["mode"]: r for r in report["results"]}
    s, ar = rows.get("s"), rows.get("ar")
    if not s or not ar:
        return {}
    return {
        "s_speedup_over_ar": round(s["tokens_per_second"] / ar["tokens_per_second"], 2)
        if ar["tokens_per_second"] else None,
        "s_accuracy_share_of_ar": round(s["accuracy"] / ar["accuracy"], 3)
        if ar["accuracy"] else None,
    }

