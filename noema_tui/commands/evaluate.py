"""`noema eval`: accuracy and speed of a model on the held-out curriculum (or on question sets
from files), in every mode."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from noema_tui.commands.options import DeviceOption, HistoryOption, ModeChoice, apply_history
from noema_tui.commands.output import emit, fail, require_model

if TYPE_CHECKING:
    from noema_core.engine import Engine
    from noema_core.evaluation import EvalProgress

T = TypeVar("T")


def eval_command(
    model: Annotated[str | None, typer.Option(
        help="Bundled name, checkpoint directory or hub id. Default: noema-tiny.",
        show_default=False)] = None,
    mode: Annotated[list[ModeChoice] | None, typer.Option(
        help="Decoding mode (repeatable). Default: q, s and ar.", show_default=False)] = None,
    limit: Annotated[int | None, typer.Option(
        min=1, help="Problems per family (default 20); with --dataset, the first N rows.",
        show_default=False)] = None,
    seed: Annotated[int, typer.Option(help="Seed of the held-out suite.")] = 0,
    questions: Annotated[list[Path] | None, typer.Option(
        help="A question set (JSONL, repeatable) to decode instead of the held-out suite, "
             "e.g. data/natural/questions.jsonl.", show_default=False)] = None,
    dataset: Annotated[Path | None, typer.Option(
        help="A public question set (JSONL or CSV) graded against its gold answers, e.g. "
             "GSM8K, MATH or data/natural/questions.jsonl.", show_default=False)] = None,
    question_field: Annotated[str | None, typer.Option(
        help="--dataset field with the question. Default: question, or problem (MATH).",
        show_default=False)] = None,
    answer_field: Annotated[str | None, typer.Option(
        help="--dataset field with the gold answer. Default: answer (GSM8K: the number "
             "after '#### '), or solution's last \\boxed{} (MATH).", show_default=False)] = None,
    batch_size: Annotated[int, typer.Option(
        min=1, help="Questions decoded at once (one forward per step over all of them; "
                    "greedy replies are the same as at 1; a conversation's turns still go "
                    "in order). 16 gives 3.6-5.6x the problems/s of 1 on a 2-core CPU "
                    "(noema-tiny), more where a forward has spare compute (a GPU); each "
                    "row holds its own KV cache. Above 1, tokens/s is the throughput.")] = 1,
    output: Annotated[Path | None, typer.Option(
        help="--dataset: append per-problem results to this JSONL; rerunning with the same "
             "file skips the problems already there.", show_default=False)] = None,
    device: DeviceOption = "auto",
    history: HistoryOption = None,
    retry: Annotated[int, typer.Option(
        "--retry", min=0, max=8, help="When the checker (no reference, as in the chat) "
        "contradicts an answer, decode it again (one token per forward, stricter thresholds, "
        "then other seeds) up to this many times [0, 8], and grade the answer that would be "
        "shown; the report also gives the accuracy as asked (with --dataset: each plan step "
        "decodes the answers still contradicted as one batch).")] = 0,
    card_presets: Annotated[bool, typer.Option(
        "--card-presets", help="Decode with Noema-1's card thresholds, not the model's own "
        "(generation_config.json).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Decode the seeded held-out suite and grade it with the sympy checker.

    Reports accuracy, tokens per forward, tokens/s and edits per answer per mode,
    overall and per family; for editing modes, the edited prompts are decoded
    again with editing off. With --questions, hand-written sets are graded
    instead: conversations are reported by turn (1-3, 4-8), and an out_of_scope
    message passes with a non-empty reply that boxes no answer.

    With --dataset, one mode (default s) is decoded over a JSONL/CSV set and
    each reply's final answer is checked against the row's gold answer;
    malformed rows are reported with their line number and skipped.

    With --retry N, an answer the checker contradicts is decoded again as in
    `noema ask --retry N`, and the answer shown is graded.

    Exit codes: 0 ok, 1 runtime error, 2 usage (also a missing or malformed
    --questions file, or a missing or unusable --dataset), 3 model or device
    could not load, 130 interrupted (the problems graded so far are reported).
    """
    from noema_core.decoding.settings import Mode
    from noema_core.errors import NoemaError
    from noema_core.evaluation import comparisons, evaluate, load_questions

    require_model(model)
    if dataset is not None:
        from noema_tui.commands.eval_dataset import eval_dataset

        if questions:
            fail("--dataset and --questions cannot be combined: pass one of them", 2)
        if mode and len(mode) > 1:
            fail("--dataset decodes one mode: pass a single --mode", 2)
        eval_dataset(dataset, model=model, mode=Mode(mode[0].value) if mode else Mode.SPEED,
                     limit=limit, question_field=question_field, answer_field=answer_field,
                     batch_size=batch_size, output=output, device=device,
                     card_presets=card_presets, retries=retry, as_json=as_json)
        return
    modes = [Mode(m.value) for m in (mode or list(ModeChoice))]
    cancel = threading.Event()
    items, source = None, "held-out problems"
    if questions:
        try:
            items = load_questions(questions)
        except NoemaError as err:
            fail(str(err), err.exit_code)
        source = "questions from " + ", ".join(str(q) for q in questions)
    engine = load_engine(model, device)
    apply_history(engine, history)

    def progress(p: EvalProgress) -> None:
        if p.done % 10 == 0 or p.done == p.total:
            print(f"[eval] {p.done}/{p.total} ({p.mode})", file=sys.stderr, flush=True)

    report, interrupted = run_cancellable(
        lambda: evaluate(engine, modes=modes, per_family=limit or 20, seed=seed, items=items,
                         source=source, card_presets=card_presets, retries=retry,
                         batch_size=batch_size, progress=progress, cancel=cancel), cancel)
    report = report.as_dict()
    report["comparisons"] = comparisons(report)
    if as_json:
        emit(json.dumps(report))
    else:
        emit(_table(report))
    if interrupted:
        raise typer.Exit(130)


def load_engine(model: str | None, device: str) -> Engine:
    """The model to evaluate; a failure to load is one `error:` line.

    The checker's worker starts first: its second of sympy imports overlaps the load instead
    of taking a core from the first decoding steps (on 2 cores that stalls PyTorch's threads).
    """
    from noema_core import verify
    from noema_core.engine import DEFAULT_MODEL, Engine
    from noema_core.errors import NoemaError

    verify.warm_up()
    try:
        engine = Engine.load(model or DEFAULT_MODEL, device=device)
        verify.warm_up(wait=10.0)  # ready, or the first check waits for it as before
        return engine
    except NoemaError as err:
        fail(str(err), err.exit_code)
    except Exception as err:  # noqa: BLE001 - unexpected runtime failure: one line, exit 1
        fail(f"{type(err).__name__}: {err}", 1)


def run_cancellable(work: Callable[[], T], cancel: threading.Event) -> tuple[T, bool]:
    """`work()` in a thread, so Ctrl-C lands in the main thread and sets `cancel`; returns
    its result and whether it was interrupted. Its errors become one `error:` line."""
    from noema_core.errors import NoemaError

    outcome: dict = {}
    finished = threading.Event()

    def run() -> None:
        try:
            outcome["result"] = work()
        except BaseException as err:  # reported below, in the main thread
            outcome["error"] = err
        finally:
            finished.set()

    threading.Thread(target=run, daemon=True).start()
    interrupted = False
    # Wait on an Event, not Thread.join: before Python 3.13 a Ctrl-C that interrupts join()
    # can mark the still-running thread as stopped.
    while not finished.is_set():
        try:
            finished.wait(0.2)
        except KeyboardInterrupt:
            if not interrupted:
                print("interrupted: finishing the current problem", file=sys.stderr)
            interrupted = True
            cancel.set()
    if "error" in outcome:
        err = outcome["error"]
        if isinstance(err, NoemaError):
            fail(str(err), err.exit_code)
        fail(f"{type(err).__name__}: {err}", 1)
    return outcome["result"], interrupted


def _table(report: dict) -> str:
    lines = [f"{report['model']}: {report['problems']} {report.get('source', 'problems')}"
             + (" (cancelled: partial)" if report["cancelled"] else "")]
    if any(f.startswith("turns ") for f in report["families"]):  # conversations: what it read
        window = report.get("history_exchanges")
        lines.append("earlier exchanges read with each turn: "
                     + ("all" if window is None else str(window)))
    lines.append(f"{'':22} " + " ".join(f"{r['mode'].upper():>8}" for r in report["results"]))
    for key in ("problems", "accuracy", "tokens_per_forward", "tokens_per_second",
                "edits_per_answer"):
        lines.append(f"{key:22} " + " ".join(f"{r[key]:8.3f}" if key != "problems"
                                             else f"{r[key]:8d}" for r in report["results"]))
    lines.append(f"{'threshold / editing':22} " + " ".join(
        f"{_thresholds(r):>8}" for r in report["results"]))
    for family, modes in report["families"].items():
        lines.append(f"  {family:20} " + " ".join(f"{modes[r['mode']]['accuracy']:8.3f}"
                                                  for r in report["results"]
                                                  if r["mode"] in modes))
    for r in report["results"]:
        e = r.get("editing")
        if e and e["edited_answers"]:
            lines.append(f"{r['mode'].upper()}: {e['edited_answers']} answers edited: accuracy "
                         f"{e['accuracy_with_edits']:.3f} with edits, "
                         f"{e['accuracy_editing_off']:.3f} with editing off")
    for r in report["results"]:
        t = r.get("retry")
        if t:
            most = report["retries"]
            lines.append(f"{r['mode'].upper()}: {t['retried']} answers retried (at most {most} "
                         f"more decoding{'s' if most != 1 else ''} each): accuracy "
                         f"{t['accuracy_as_asked']:.3f} as "
                         f"asked, {r['accuracy']:.3f} with retries ({t['fixed']} fixed, "
                         f"{t['broken']} broken), {t['extra_seconds']:+.0%} decoding time")
    for key, value in report.get("comparisons", {}).items():
        lines.append(f"{key}: {value}")
    return "\n".join(lines)


def _thresholds(row: dict) -> str:
    """`0.95/0.5` for Q and S; AR commits the leftmost slot and has none."""
    t = row.get("thresholds")
    return "-" if row["mode"] == "ar" or not t else f"{t['threshold']:g}/{t['editing_threshold']:g}"
