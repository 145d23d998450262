"""`noema eval --dataset`: read a public question set (JSONL or CSV) and grade it, batched.

Field defaults fit GSM8K (`question`/`answer`, the gold is the number after the `#### ` line)
and MATH (`problem`/`answer`, or the last `\\boxed{}` of `solution`); which one is picked from
the fields of the first good row when none are given. Malformed rows are kept as `Malformed`
with their line number, so the caller reports them instead of dropping them. Results are
appended to a JSONL file as they are graded, so a rerun with the same file resumes.
"""

from __future__ import annotations

import csv
import json
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from noema_core.decoding.events import GenerationResult
from noema_core.decoding.settings import DecodingSettings
from noema_core.engine import Engine
from noema_core.errors import NoemaError


class DatasetError(NoemaError):
    """The `--dataset` file is missing, unreadable or holds no usable row (exit 2, usage)."""

    exit_code = 2


@dataclass(frozen=True)
class DatasetItem:
    line: int  # 1-based line (JSONL) or row (CSV, header is line 1) in the file
    question: str
    gold: str


@dataclass(frozen=True)
class Malformed:
    line: int
    reason: str


@dataclass
class Dataset:
    items: list[DatasetItem]
    malformed: list[Malformed]
    question_field: str
    answer_field: str


def gsm8k_gold(answer: str) -> str | None:
    """The number after GSM8K's `#### ` line, commas removed; the text itself without one."""
    if "####" not in answer:
        return answer.strip() or None
    gold = answer.rsplit("####", 1)[1].strip().replace(",", "")
    return gold or None


def boxed_gold(solution: str) -> str | None:
    """The last `\\boxed{}` of a MATH solution (the checker's own extraction rule)."""
    from noema_core.verify.extract import extract_answer

    found = extract_answer(solution)
    return found.answer if found.rule == "boxed" and found.answer else None


def _rows(path: Path) -> list[tuple[int, dict | None, str]]:
    """(line, row or None, why not) for every non-blank line/row of the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise DatasetError(f"cannot read the dataset {path} ({reason}): pass a JSONL or CSV "
                           "file, e.g. data/natural/questions.jsonl") from None
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        return [(reader.line_num, row, "") for row in reader]
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            rows.append((number, None, f"not JSON ({err.msg})"))
            continue
        rows.append((number, row, "") if isinstance(row, dict)
                    else (number, None, "not a JSON object"))
    return rows


def _fields(row: dict, question_field: str | None,
            answer_field: str | None) -> tuple[str, str]:
    question_field = question_field or ("problem" if "problem" in row and "question" not in row
                                        else "question")
    if answer_field is None:
        answer_field = "answer" if "answer" in row or "solution" not in row else "solution"
    return question_field, answer_field


def _gold(row: dict, answer_field: str) -> str | None:
    value = row.get(answer_field)
    if answer_field == "answer" and not isinstance(value, str | int | float) \
            and isinstance(row.get("solution"), str):  # MATH rows without `answer`
        return boxed_gold(row["solution"])
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        return None
    return boxed_gold(value) if answer_field == "solution" else gsm8k_gold(value)


def load_dataset(path: str | Path, *, question_field: str | None = None,
                 answer_field: str | None = None) -> Dataset:
    """Every row of `path` as an item or as a `Malformed` with its line number."""
    path = Path(path)
    rows = _rows(path)
    first = next((row for _, row, _ in rows if row), {})
    q_field, a_field = _fields(first, question_field, answer_field)
    items, malformed = [], []
    for line, row, why in rows:
        if row is None:
            malformed.append(Malformed(line, why))
            continue
        question = row.get(q_field)
        if not isinstance(question, str) or not question.strip():
            malformed.append(Malformed(line, f"no question in field {q_field!r}"))
            continue
        gold = _gold(row, a_field)
        if gold is None:
            malformed.append(Malformed(line, f"no gold answer in field {a_field!r}"))
            continue
        items.append(DatasetItem(line, question.strip(), gold))
    if not items:
        raise DatasetError(f"the dataset {path} holds no usable question ({len(malformed)} "
                           f"malformed rows): pass rows with fields {q_field!r} and "
                           f"{a_field!r}, or name them with --question-field/--answer-field")
    return Dataset(items, malformed, q_field, a_field)


def generate_many(engine: Engine, prompts: Sequence[str], settings: DecodingSettings,
                  cancel: threading.Event | None = None, *, batch_size: int = 1,
                  on_result: Callable[[int, GenerationResult], None] | None = None
                  ) -> list[GenerationResult]:
    """One reply per prompt (a single user turn each), in order; `on_result(index, result)`
    hears each as it finishes. Batch 1 decodes one prompt after another (the interactive
    path); more decodes `batch_size` at once (`Engine.generate_batch`: the same greedy
    replies), a finished prompt's row going to the next one. After `cancel` the replies not
    finished come back `cancelled` (batch 1: the list stops at the cancelled one)."""
    conversations = [[{"role": "user", "content": prompt}] for prompt in prompts]
    if batch_size > 1:
        return engine.generate_batch(conversations, settings, cancel, batch_size=batch_size,
                                     on_result=on_result)
    results = []
    for index, messages in enumerate(conversations):
        if cancel is not None and cancel.is_set():
            break
        results.append(engine.generate(messages, settings, cancel))
        if on_result is not None:
            on_result(index, results[-1])
    return results


@dataclass
class DatasetReport:
    model: str
    source: str
    mode: str
    total: int  # items to grade in this run, after --limit (done earlier ones included)
    malformed: int = 0
    resumed: int = 0  # items found in --output and skipped
    graded: int = 0
    verified: int = 0
    contradicted: int = 0
    unverifiable: int = 0
    new_tokens: int = 0
    forwards: int = 0
    seconds: float = 0.0
    cancelled: bool = False
    rows: list[dict] = field(default_factory=list)  # resumed + new, for the totals

    def add(self, row: dict) -> None:
        self.rows.append(row)
        self.graded += 1
        setattr(self, row["verdict"], getattr(self, row["verdict"]) + 1)
        self.new_tokens += row.get("new_tokens", 0)
        self.forwards += row.get("forwards", 0)
        self.seconds += row.get("seconds", 0.0)

    def as_dict(self) -> dict:
        n = self.graded
        return {"model": self.model, "source": self.source, "mode": self.mode,
                "problems": n, "of": self.total, "resumed": self.resumed,
                "malformed": self.malformed,
                "accuracy": round(self.verified / n, 4) if n else 0.0,
                "verified": self.verified, "contradicted": self.contradicted,
                "could_not_check": self.unverifiable,
                "problems_per_second": round(n / self.seconds, 3) if self.seconds else 0.0,
                "tokens_per_second": round(self.new_tokens / self.seconds, 2)
                if self.seconds else 0.0,
                "tokens_per_forward": round(self.new_tokens / max(self.forwards, 1), 3),
                "cancelled": self.cancelled}


def read_done(output: Path) -> dict[tuple[int, str], dict]:
    """Rows already graded in `output`, by (line, question); a torn last line is ignored."""
    done: dict[tuple[int, str], dict] = {}
    if not output.exists():
        return done
    try:
        lines = output.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise DatasetError(f"cannot read the results file {output} ({err}): pass another "
                           "--output") from None
    for line in lines:
        try:
            row = json.loads(line)
            done[(int(row["line"]), str(row["question"]))] = row
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            continue  # a run killed mid-write: that item is decoded again
    return done


def run_dataset(engine: Engine, items: Sequence[DatasetItem], settings: DecodingSettings, *,
                mode: str, source: str = "dataset", batch_size: int = 1,
                output: Path | None = None, malformed: int = 0,
                progress: Callable[[DatasetReport], None] | None = None,
                cancel: threading.Event | None = None) -> DatasetReport:
    """Decode `items`, `batch_size` at a time, and grade each reply against its gold with
    the checker as it finishes; each graded row is appended to `output` at once (in the
    order they finish: a batch's short replies come first).

    Grading runs on a thread of its own (the checker's sympy work is in its worker process),
    so decoding goes on while a reply is checked instead of waiting for it; every reply
    decoded is graded and written before this returns, after a cancel too."""
    report = DatasetReport(engine.info.name, source, mode, len(items), malformed)
    done = read_done(output) if output is not None else {}
    todo = []
    for item in items:
        row = done.get((item.line, item.question))
        if row is not None and row.get("mode", mode) != mode:
            raise DatasetError(f"the results file {output} holds answers decoded in mode "
                               f"{row['mode']}, not {mode}: pass another --output")
        if row is not None and row.get("verdict") in ("verified", "contradicted",
                                                      "unverifiable"):
            report.add(row)
            report.resumed += 1
        else:
            todo.append(item)
    grader = _Grader(todo, report, mode, output, progress)
    try:
        results = generate_many(engine, [i.question for i in todo], settings, cancel,
                                batch_size=max(batch_size, 1), on_result=grader.submit)
        if len(results) < len(todo) or (cancel is not None and cancel.is_set()):
            report.cancelled = True
    finally:
        grader.close()
    return report


class _Grader:
    """Grades replies in the order they come, on one background thread, and books them."""

    def __init__(self, todo: Sequence[DatasetItem], report: DatasetReport, mode: str,
                 output: Path | None,
                 progress: Callable[[DatasetReport], None] | None) -> None:
        self.todo, self.report, self.mode, self.progress = todo, report, mode, progress
        self.sink = output.open("a", encoding="utf-8") if output is not None else None
        self.last = time.monotonic()
        self.error: BaseException | None = None
        self.queue: queue.SimpleQueue[tuple[int, GenerationResult] | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="noema-grader", daemon=True)
        self.thread.start()

    def submit(self, index: int, result: GenerationResult) -> None:
        if self.error is not None:  # fail fast: the decoding thread hears it
            raise self.error
        if result.cancelled:
            self.report.cancelled = True
        else:
            self.queue.put((index, result))

    def close(self) -> None:
        """Wait until every submitted reply is graded; re-raise a grading error."""
        self.queue.put(None)
        self.thread.join()
        if self.sink is not None:
            self.sink.close()
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        while (job := self.queue.get()) is not None:
            if self.error is None:
                try:
                    self._grade(*job)
                except BaseException as err:  # re-raised on the caller's thread
                    self.error = err

    def _grade(self, index: int, result: GenerationResult) -> None:
        from noema_core.verify import check

        item = self.todo[index]
        verdict = check(result.text, question=item.question, reference=item.gold)
        now = time.monotonic()
        row = {"line": item.line, "question": item.question, "gold": item.gold,
               "response": result.text, "answer": verdict.answer,
               "verdict": verdict.status, "mode": self.mode,
               "forwards": result.stats.forwards, "new_tokens": result.stats.new_tokens,
               # the wall time since the previous graded reply: a batch's rows share it,
               # and the rows' seconds add up to the run's
               "seconds": round(now - self.last, 4)}
        self.last = now
        self.report.add(row)
        if self.sink is not None:
            self.sink.write(json.dumps(row) + "\n")
            self.sink.flush()
        if self.progress:
            self.progress(self.report)
