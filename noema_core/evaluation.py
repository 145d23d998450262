"""`noema eval`: decode a question set in each mode and grade it with the checker.

By default the set is a seeded suite from the curriculum's held-out split (never seen in
training); `--questions` reads hand-written sets instead (JSONL, `load_questions`): single
questions, conversations whose later turns follow the model's own earlier answers, and
out-of-scope messages. An answer is right when `noema_core.verify.check` verifies it against
the reference; an out-of-scope message is answered right by a non-empty reply with no
`\\boxed{}` (the model must not make up a calculation). For each mode the report gives
accuracy, tokens per forward, tokens/s and edits per answer, overall and per family. For modes
that edit, the prompts whose answers were edited are decoded again with editing off, so the
value of editing is measured on the same prompts.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from noema_core.decoding.events import GenerationResult, GenerationStats
from noema_core.decoding.settings import DecodingSettings, Mode
from noema_core.engine import Engine
from noema_core.errors import NoemaError
from noema_core.retry import Attempt, all_decodings, chosen, decode_until_verified

EDITING_OFF = 1.0  # a confidence must exceed the threshold, and none exceeds 1


@dataclass
class ModeTally:
    problems: int = 0
    correct: int = 0
    new_tokens: int = 0
    forwards: int = 0
    seconds: float = 0.0
    edits: int = 0
    # Batched decoding: the wall time of the whole run (rows overlap, so their own seconds
    # do not add up to it); tokens/s is then the throughput.
    wall_seconds: float | None = None

    def add(self, correct: bool, stats: GenerationStats) -> None:
        self.problems += 1
        self.correct += correct
        self.new_tokens += stats.new_tokens
        self.forwards += stats.forwards
        self.seconds += stats.seconds
        self.edits += stats.edits

    def summary(self) -> dict:
        seconds = self.seconds if self.wall_seconds is None else self.wall_seconds
        return {
            "accuracy": round(self.correct / self.problems, 4) if self.problems else 0.0,
            "tokens_per_forward": round(self.new_tokens / max(self.forwards, 1), 3),
            "tokens_per_second": round(self.new_tokens / seconds, 2) if seconds else 0.0,
            "edits_per_answer": round(self.edits / max(self.problems, 1), 3),
        }


@dataclass
class RetryEffect:
    """With `--retry`: what decoding a contradicted answer again bought, on the same prompts.
    The mode's accuracy and speed count the answer shown and every decoding it took."""

    correct_as_asked: int = 0
    retried: int = 0  # answers the checker contradicted, so decoded again
    fixed: int = 0  # wrong as asked, right after the retries
    broken: int = 0  # right as asked, wrong after (a contradicted right answer: a checker bug)
    seconds_as_asked: float = 0.0
    seconds_retrying: float = 0.0

    def add(self, attempts: Sequence[Attempt], right: bool, right_first: bool) -> None:
        first = attempts[0].result
        self.correct_as_asked += right_first
        self.retried += len(attempts) > 1
        self.fixed += right and not right_first
        self.broken += right_first and not right
        self.seconds_as_asked += first.stats.seconds
        self.seconds_retrying += sum(a.result.stats.seconds for a in attempts[1:])

    def summary(self, problems: int) -> dict:
        return {"accuracy_as_asked": round(self.correct_as_asked / problems, 4) if problems
                else 0.0, "retried": self.retried, "fixed": self.fixed, "broken": self.broken,
                "extra_seconds": round(self.seconds_retrying / self.seconds_as_asked, 3)
                if self.seconds_as_asked else 0.0}


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


OUT_OF_SCOPE = "out_of_scope"  # the family whose messages have no answer to check


class QuestionSetError(NoemaError):
    """A `--questions` file is missing or has a malformed line (exit code 2, usage)."""

    exit_code = 2


@dataclass(frozen=True)
class Turn:
    question: str
    reference: str | None  # None: out of scope, no answer to check


@dataclass(frozen=True)
class EvalItem:
    """One fresh conversation: a single question, or several asked one after another."""

    family: str
    turns: tuple[Turn, ...]

    def label(self, index: int) -> str:
        """The row a turn is counted in: its family, or for a conversation its turn range
        (the bundled model was trained on few earlier turns; later ones are reported apart)."""
        if len(self.turns) == 1:
            return self.family
        return "turns 1-3" if index < 3 else "turns 4-8" if index < 8 else "turns 9+"


def held_out_items(per_family: int, *, seed: int = 0,
                   families: list[str] | None = None) -> list[EvalItem]:
    from noema_core.training.curriculum import held_out_suite

    return [EvalItem(p.family, (Turn(p.question, p.answer),))
            for p in held_out_suite(per_family, seed=seed, families=families)]


def load_questions(paths: Iterable[str | Path]) -> list[EvalItem]:
    """Items from JSONL files, one object a line:
    `{"family": ..., "question": ..., "answer": ...}` (a single question),
    `{"family": ..., "turns": [{"question": ..., "answer": ...}, ...]}` (a conversation), or
    `{"family": "out_of_scope", "question": ...}` (no answer: it must not be boxed)."""
    items = []
    for path in map(Path, paths):
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as err:
            raise QuestionSetError(f"cannot read the question set {path} ({err}): pass a "
                                   f"JSONL file such as data/natural/questions.jsonl") from None
        for number, line in enumerate(lines, 1):
            if line.strip():
                items.append(_parse_item(line, f"{path}:{number}"))
    if not items:
        raise QuestionSetError("the question sets hold no questions: pass a JSONL file with "
                               "one question object a line")
    return items


def _parse_item(line: str, where: str) -> EvalItem:
    fix = ('write {"family": ..., "question": ..., "answer": ...} or {"family": ..., '
           '"turns": [...]}')
    try:
        row = json.loads(line)
    except json.JSONDecodeError as err:
        raise QuestionSetError(f"{where} is not JSON ({err.msg}): {fix}") from None
    if not isinstance(row, dict) or not isinstance(row.get("family"), str):
        raise QuestionSetError(f"{where} has no family: {fix}")
    family = row["family"]
    raw_turns = row.get("turns", [row])
    if not isinstance(raw_turns, list) or not raw_turns:
        raise QuestionSetError(f"{where}: turns must be a non-empty list: {fix}")
    turns = []
    for turn in raw_turns:
        question = turn.get("question") if isinstance(turn, dict) else None
        answer = turn.get("answer") if isinstance(turn, dict) else None
        if not isinstance(question, str) or not question.strip():
            raise QuestionSetError(f"{where} has a turn without a question: {fix}")
        if family != OUT_OF_SCOPE and not isinstance(answer, str):
            raise QuestionSetError(f"{where} has a question without an answer (only family "
                                   f"{OUT_OF_SCOPE} may leave it out): {fix}")
        turns.append(Turn(question, answer if family != OUT_OF_SCOPE else None))
    return EvalItem(family, tuple(turns))


@dataclass
class EvalReport:
    model: str
    problems: int
    source: str = "held-out problems"
    overall: dict[str, ModeTally] = field(default_factory=dict)
    families: dict[str, dict[str, ModeTally]] = field(default_factory=dict)
    editing: dict[str, EditingEffect] = field(default_factory=dict)
    # The thresholds each mode decoded with (the model's own presets may differ from the card).
    thresholds: dict[str, dict[str, float]] = field(default_factory=dict)
    cancelled: bool = False
    # Earlier exchanges the model read with each later turn of a conversation (None: all).
    history_exchanges: int | None = None
    retries: int = 0  # decodings again of an answer the checker contradicts, at most
    retry: dict[str, RetryEffect] = field(default_factory=dict)
    batch_size: int = 1  # questions decoded at once

    def as_dict(self) -> dict:
        results = []
        for mode, tally in self.overall.items():
            row = {"mode": mode, "problems": tally.problems, **tally.summary(),
                   "thresholds": self.thresholds.get(mode, {})}
            if mode in self.editing:
                row["editing"] = self.editing[mode].summary()
            if mode in self.retry:
                row["retry"] = self.retry[mode].summary(tally.problems)
            results.append(row)
        return {"model": self.model, "problems": self.problems, "source": self.source,
                "results": results,
                "families": {family: {mode: {"problems": t.problems, **t.summary()}
                                      for mode, t in modes.items()}
                             for family, modes in self.families.items()},
                "history_exchanges": self.history_exchanges, "retries": self.retries,
                "batch_size": self.batch_size, "cancelled": self.cancelled}


@dataclass(frozen=True)
class EvalProgress:
    done: int  # turns decoded (and, one at a time, graded)
    total: int
    mode: str
    family: str


def grade(text: str, question: str, reference: str | None) -> bool:
    """Verified against `reference`; without one (out of scope), a non-empty reply that
    boxes nothing."""
    if reference is None:
        return bool(text.strip()) and "\\boxed" not in text
    from noema_core.verify import check

    return check(text, question=question, reference=reference).status == "verified"


def evaluate(engine: Engine, *, modes: Sequence[Mode], per_family: int = 20, seed: int = 0,
             families: list[str] | None = None, items: Sequence[EvalItem] | None = None,
             source: str = "held-out problems", gen_length: int = 320,
             card_presets: bool = False, retries: int = 0, batch_size: int = 1,
             progress: Callable[[EvalProgress], None] | None = None,
             cancel: threading.Event | None = None) -> EvalReport:
    """Decode and grade `items` (default: `per_family` held-out problems of each family).
    A conversation's turns are asked in order, each after the model's own earlier answers.
    Setting `cancel` stops after the current answer and returns what was graded so far
    (marked cancelled). `card_presets` decodes with the card's thresholds instead of the
    model's own. With `retries`, an answer the checker (independent mode, as in the chat)
    contradicts is decoded again by `noema_core.retry`'s plan, and the answer it would show is
    graded; `report.retry` compares it with the answer as asked. `batch_size` > 1 decodes
    `batch_size` questions at once (`noema_core.evaluation_batched`: the same replies); a
    mode's tokens/s is then its throughput, all its tokens over the wall time of its
    decoding (a family's stays per answer: its tokens over each answer's own time)."""
    if items is None:
        items = held_out_items(per_family, seed=seed, families=families)
    turns = sum(len(item.turns) for item in items)
    report = EvalReport(engine.info.name, turns, source,
                        history_exchanges=engine.info.history_exchanges, retries=retries,
                        batch_size=batch_size)
    decoded = [0, turns * len(modes)]  # turns decoded so far, of all the modes'
    for mode in modes:
        settings = (DecodingSettings.for_mode(mode, gen_length=gen_length) if card_presets
                    else engine.settings_for(mode, gen_length=gen_length))
        report.thresholds[mode.value] = {"threshold": settings.threshold,
                                         "editing_threshold": settings.editing_threshold}
        _evaluate_mode(engine, items, mode, settings, report, batch_size, decoded, progress,
                       cancel)
        if report.cancelled:
            break
    return report


def _evaluate_mode(engine: Engine, items: Sequence[EvalItem], mode: Mode,
                   settings: DecodingSettings, report: EvalReport, batch_size: int,
                   decoded: list[int], progress: Callable[[EvalProgress], None] | None,
                   cancel: threading.Event | None) -> None:
    """Decode and grade every turn in `mode`, into `report` (`decoded`: [done, total])."""
    overall = report.overall.setdefault(mode.value, ModeTally())
    effect = EditingEffect()
    retry = report.retry.setdefault(mode.value, RetryEffect()) if report.retries else None
    editing_off = settings.replace(editing_threshold=EDITING_OFF)

    def book(i: int, index: int, messages: list[dict[str, str]], attempts: list[Attempt],
             plain: GenerationResult | None) -> None:
        """Grade one decoded turn and count it in every tally it belongs to."""
        item, turn = items[i], items[i].turns[index]
        result = chosen(attempts).result
        right = grade(result.text, turn.question, turn.reference)
        stats = all_decodings([a.result for a in attempts])
        overall.add(right, stats)
        report.families.setdefault(item.label(index), {}).setdefault(
            mode.value, ModeTally()).add(right, stats)
        first = attempts[0].result
        right_first = right if first is result else grade(first.text, turn.question,
                                                          turn.reference)
        if retry is not None:
            retry.add(attempts, right, right_first)
        if plain is not None:  # what editing buys in this mode: the decoding as asked
            effect.edited_answers += 1
            effect.correct_with_edits += right_first
            effect.correct_editing_off += grade(plain.text, turn.question, turn.reference)

    def counted(i: int) -> None:
        decoded[0] += 1
        if progress:
            progress(EvalProgress(decoded[0], decoded[1], mode.value, items[i].family))

    if batch_size > 1:
        from noema_core.evaluation_batched import evaluate_waves

        report.cancelled, overall.wall_seconds = evaluate_waves(
            engine, items, settings, retries=report.retries, batch_size=batch_size,
            editing_off=editing_off, independent=_independent, book=book, decoded=counted,
            cancel=cancel)
    else:
        report.cancelled = _one_at_a_time(engine, items, settings, report.retries,
                                          editing_off, book, cancel, counted)
    if mode is not Mode.AR and not report.cancelled:
        report.editing[mode.value] = effect


def _one_at_a_time(engine: Engine, items: Sequence[EvalItem], settings: DecodingSettings,
                   retries: int, editing_off: DecodingSettings, book: Callable[..., None],
                   cancel: threading.Event | None, booked: Callable[[int], None]) -> bool:
    """The interactive path, one turn after another; returns whether it was cancelled."""
    for i, item in enumerate(items):
        history: list[dict[str, str]] = []
        for index, turn in enumerate(item.turns):
            if cancel is not None and cancel.is_set():
                return True
            messages = [*history, {"role": "user", "content": turn.question}]
            if retries:
                attempts = decode_until_verified(engine.generate, _independent(item, index),
                                                 messages, settings, turn.question, retries)
            else:  # no independent check: nothing would act on it
                attempts = [Attempt("as asked", settings, engine.generate(messages, settings),
                                    None)]
            plain = (engine.generate(messages, editing_off)
                     if attempts[0].result.stats.edits else None)
            book(i, index, messages, attempts, plain)
            booked(i)
            history = [*messages, {"role": "assistant",
                                   "content": chosen(attempts).result.text}]
    return False


def _independent(item: EvalItem, index: int) -> Callable[..., Any]:
    """The chat's check of a reply: no reference, the conversation's earlier questions."""
    from noema_core.verify import check

    earlier = tuple(turn.question for turn in item.turns[:index])
    return lambda text, *, question: check(text, question=question, earlier=earlier)


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

