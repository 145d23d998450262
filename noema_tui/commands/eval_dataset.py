"""`noema eval --dataset FILE`: grade a public question set against its gold answers."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from noema_tui.commands.output import emit, fail

if TYPE_CHECKING:
    from noema_core.dataset_grading import DatasetReport
    from noema_core.decoding.settings import Mode

BAR = 24  # characters of the stderr progress bar


def eval_dataset(path: Path, *, model: str | None, mode: Mode, limit: int | None,
                 question_field: str | None, answer_field: str | None, batch_size: int,
                 output: Path | None, device: str, card_presets: bool, retries: int,
                 as_json: bool) -> None:
    from noema_core.dataset import load_dataset
    from noema_core.dataset_grading import run_dataset
    from noema_core.decoding.settings import DecodingSettings
    from noema_core.errors import NoemaError
    from noema_tui.commands.evaluate import load_engine, run_cancellable

    try:
        data = load_dataset(path, question_field=question_field, answer_field=answer_field)
    except NoemaError as err:
        fail(str(err), err.exit_code)
    for bad in data.malformed:  # reported, never dropped silently
        print(f"warning: {path}:{bad.line}: {bad.reason}: skipped", file=sys.stderr)
    items = data.items[:limit] if limit else data.items
    engine = load_engine(model, device)
    settings = (DecodingSettings.for_mode(mode) if card_presets
                else engine.settings_for(mode))
    began = time.monotonic()
    shown = {"resumed": False}

    def progress(report: DatasetReport) -> None:
        if report.resumed and not shown["resumed"]:
            print(f"[eval] resuming {output}: {report.resumed} problems already graded, "
                  "skipped", file=sys.stderr)
            shown["resumed"] = True
        done, total = report.graded, report.total
        if sys.stderr.isatty():  # one bar redrawn in place
            end = "\n" if done == total else ""
            print(f"\r[eval] {_bar(report, time.monotonic() - began)}", end=end,
                  file=sys.stderr, flush=True)
        elif done % max(1, min(10, total // 20)) == 0 or done == total:  # a log: fewer lines
            print(f"[eval] {_bar(report, time.monotonic() - began)}", file=sys.stderr,
                  flush=True)

    cancel = threading.Event()
    report, interrupted = run_cancellable(
        lambda: run_dataset(engine, items, settings, mode=mode.value, source=str(path),
                            batch_size=batch_size, output=output,
                            malformed=len(data.malformed), retries=retries,
                            progress=progress,
                            cancel=cancel), cancel)
    if report.resumed and not shown["resumed"]:
        print(f"[eval] resuming {output}: all {report.resumed} problems already graded",
              file=sys.stderr)
    summary = report.as_dict()
    summary.update(question_field=data.question_field, answer_field=data.answer_field,
                   batch_size=batch_size, output=str(output) if output else None)
    emit(json.dumps(summary) if as_json else _table(summary))
    if interrupted:
        raise typer.Exit(130)


def _bar(report: DatasetReport, elapsed: float) -> str:
    """`12/100 [###.....] 12%  0.41/s  ETA 3:34`; the rate counts this run's problems only."""
    done, total = report.graded, max(report.total, 1)
    new = report.graded - report.resumed
    rate = new / elapsed if elapsed > 0 else 0.0
    eta = (total - done) / rate if rate else None
    filled = round(BAR * done / total)
    eta_text = "?" if eta is None else f"{int(eta // 60)}:{int(eta % 60):02d}"
    return (f"{done}/{report.total} [{'#' * filled}{'.' * (BAR - filled)}] {done / total:4.0%}"
            f"  {rate:.2f}/s  ETA {eta_text}")


def _table(s: dict) -> str:
    lines = [f"{s['model']}: {s['problems']}/{s['of']} problems from {s['source']} "
             f"(mode {s['mode']}, fields {s['question_field']}/{s['answer_field']})"
             + (" (cancelled: partial)" if s["cancelled"] else "")]
    lines.append(f"accuracy {s['accuracy']:.3f}  ({s['verified']} verified, "
                 f"{s['contradicted']} wrong, {s['could_not_check']} could not check)")
    lines.append(f"{s['problems_per_second']:.3f} problems/s  {s['tokens_per_second']:.1f} "
                 f"tok/s  {s['tokens_per_forward']:.2f} tok/fwd")
    retry = s.get("retry")
    if retry:
        lines.append(f"as asked {retry['accuracy_as_asked']:.3f}; with --retry "
                     f"{retry['retries']}: {retry['retried']} decoded again, {retry['fixed']} "
                     f"fixed, {retry['broken']} broken")
    if s["malformed"]:
        lines.append(f"{s['malformed']} malformed rows skipped (see the warnings above)")
    if s["resumed"]:
        lines.append(f"{s['resumed']} problems resumed from {s['output']}")
    return "\n".join(lines)
