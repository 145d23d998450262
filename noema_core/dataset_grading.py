"""`noema eval --dataset`, the run: decode a question set, batched, and grade each reply.

Each reply is graded against its item's gold with the checker as it finishes, on a thread of
its own, and appended to a JSONL file at once, so a rerun with the same file resumes. With
retries, a reply the checker contradicts (or cannot read) without the gold, as the chat checks
it, is decoded again by `noema_core.retry`'s plan, one batch per step, before it is booked.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from noema_core.dataset import DatasetError, DatasetItem
from noema_core.decoding.events import GenerationResult
from noema_core.decoding.settings import DecodingSettings
from noema_core.engine import Engine
from noema_core.retry import (
    Attempt,
    all_decodings,
    chosen,
    retry_in_batches,
    retry_plan,
    should_retry,
)


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
    retries: int = 0  # --retry: how many more decodings a contradicted answer may get
    verified_as_asked: int = 0  # with retries: right at the first decoding
    retried: int = 0
    fixed: int = 0  # wrong as asked, right as shown
    broken: int = 0  # right as asked, wrong as shown (a contradicted right answer)

    def add(self, row: dict) -> None:
        self.rows.append(row)
        self.graded += 1
        setattr(self, row["verdict"], getattr(self, row["verdict"]) + 1)
        self.new_tokens += row.get("new_tokens", 0)
        self.forwards += row.get("forwards", 0)
        self.seconds += row.get("seconds", 0.0)
        first_right = row.get("verdict_as_asked", row["verdict"]) == "verified"
        self.verified_as_asked += first_right
        if row.get("tries", 1) > 1:
            self.retried += 1
            self.fixed += row["verdict"] == "verified" and not first_right
            self.broken += first_right and row["verdict"] != "verified"

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
                "cancelled": self.cancelled,
                **({"retry": {"retries": self.retries,
                              "accuracy_as_asked": round(self.verified_as_asked / n, 4)
                              if n else 0.0,
                              "retried": self.retried, "fixed": self.fixed,
                              "broken": self.broken}} if self.retries else {})}


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
                output: Path | None = None, malformed: int = 0, retries: int = 0,
                progress: Callable[[DatasetReport], None] | None = None,
                cancel: threading.Event | None = None) -> DatasetReport:
    """Decode `items`, `batch_size` at a time, and grade each reply against its gold with
    the checker as it finishes; each graded row is appended to `output` at once (in the
    order they finish: a batch's short replies come first).

    Grading runs on a thread of its own (the checker's sympy work is in its worker process),
    so decoding goes on while a reply is checked instead of waiting for it; every reply
    decoded is graded and written before this returns, after a cancel too.

    With `retries`, a reply the checker contradicts (or cannot read) without the gold, as the
    chat checks it, is held back and decoded again by `noema_core.retry`'s plan, each step a
    batch of its own, and the answer the chat would show is graded; its row says how many
    tries it took and its verdict as asked."""
    report = DatasetReport(engine.info.name, source, mode, len(items), malformed,
                           retries=retries)
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
    grader = _Grader(todo, report, mode, output, progress,
                     retry_from=settings if retries > 0 else None)
    try:
        results = generate_many(engine, [i.question for i in todo], settings, cancel,
                                batch_size=max(batch_size, 1), on_result=grader.submit)
        if len(results) < len(todo) or (cancel is not None and cancel.is_set()):
            report.cancelled = True
        grader.drain()
        _retry_contradicted(engine, grader, retry_plan(settings, retries)[1:],
                            max(batch_size, 1), cancel)
    finally:
        grader.close()
    return report


def _retry_contradicted(engine: Engine, grader: _Grader,
                        plan: Sequence[tuple[str, DecodingSettings]], batch_size: int,
                        cancel: threading.Event | None) -> None:
    """Each step of the plan decodes the replies still held back, as one batched run; a reply
    the checker no longer finds wrong is booked at once, the rest after the plan."""
    from noema_core.verify import check

    retry_in_batches(
        lambda keys, each: generate_many(engine, [grader.todo[i].question for i in keys],
                                         each, cancel, batch_size=batch_size),
        grader.pending, lambda i, text: check(text, question=grader.todo[i].question),
        plan, cancel, settled=grader.finish)
    if cancel is not None and cancel.is_set():
        grader.report.cancelled = True  # the replies held back show their tries so far
    for index in sorted(grader.pending):
        grader.finish(index)


class _Grader:
    """Grades replies in the order they come, on one background thread, and books them."""

    def __init__(self, todo: Sequence[DatasetItem], report: DatasetReport, mode: str,
                 output: Path | None,
                 progress: Callable[[DatasetReport], None] | None, *,
                 retry_from: DecodingSettings | None = None) -> None:
        """`retry_from`: the settings replies were decoded with, when they may be retried."""
        self.todo, self.report, self.mode, self.progress = todo, report, mode, progress
        self.retry_from = retry_from
        self.pending: dict[int, list[Attempt]] = {}  # held back for retries: the tries so far
        self.as_asked: dict[int, Any] = {}  # their first try's verdict against the gold
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

    def drain(self) -> None:
        """Wait until every submitted reply is graded; re-raise a grading error. Booking
        goes on in the caller's thread after this (`finish`)."""
        if self.thread.is_alive():
            self.queue.put(None)
            self.thread.join()
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        """`drain`, then book what is still held back and close the results file."""
        try:
            self.drain()
        finally:
            for index in sorted(self.pending):
                self.finish(index)
            if self.sink is not None:
                self.sink.close()

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
        graded = check(result.text, question=item.question, reference=item.gold)
        if self.retry_from is not None:
            alone = check(result.text, question=item.question)  # as the chat checks it
            if should_retry(alone, result.cancelled):
                self.pending[index] = [Attempt("as asked", self.retry_from, result, alone)]
                self.as_asked[index] = graded
                return
        self._book(index, [result], result, graded)

    def finish(self, index: int) -> None:
        """Book a held-back reply: the try the chat would show, graded against the gold."""
        from noema_core.verify import check

        attempts, first = self.pending.pop(index), self.as_asked.pop(index)
        shown = chosen(attempts)
        item = self.todo[index]
        graded = first if shown is attempts[0] else check(
            shown.result.text, question=item.question, reference=item.gold)
        self._book(index, [a.result for a in attempts], shown.result, graded, shown.how,
                   first.status)

    def _book(self, index: int, results: list[GenerationResult], shown: GenerationResult,
              graded: Any, how: str = "as asked", as_asked: str | None = None) -> None:
        """Write the row of the reply shown (`graded` against the gold) and count it."""
        item, stats = self.todo[index], all_decodings(results)
        now = time.monotonic()
        row = {"line": item.line, "question": item.question, "gold": item.gold,
               "response": shown.text, "answer": graded.answer, "verdict": graded.status,
               "mode": self.mode, "forwards": stats.forwards, "new_tokens": stats.new_tokens,
               # the wall time since the previous graded reply: a batch's rows share it,
               # and the rows' seconds add up to the run's
               "seconds": round(now - self.last, 4)}
        if self.retry_from is not None:
            row.update(tries=len(results), shown=how, verdict_as_asked=as_asked or graded.status)
        self.last = now
        self.report.add(row)
        if self.sink is not None:
            self.sink.write(json.dumps(row) + "\n")
            self.sink.flush()
        if self.progress:
            self.progress(self.report)
