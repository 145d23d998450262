"""The work behind `noema ask`: load with progress, decode under the live view, show results.

Decoding runs in a worker thread that hands events to the main thread through a queue, so
Ctrl-C lands in the main thread while the model is mid-forward: it sets the engine's cancel
event, the engine stops between forwards, and the partial reply is still printed. A second
Ctrl-C stops waiting for that forward: the blocks finished so far are printed and the process
ends at once (`exit_now`), since a thread inside a forward cannot be stopped or joined.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.console import Console

from noema_core.decoding.events import (
    GenerationFinished,
    GenerationResult,
    GenerationStats,
)
from noema_tui.commands.output import emit, flush_quietly
from noema_tui.formatting import (
    has_no_answer,
    load_line,
    mode_label,
    stats_line,
    verdict_line,
)
from noema_tui.terminal_text import visible

if TYPE_CHECKING:  # annotations only: the real imports are deferred to keep startup fast
    from noema_core.decoding.settings import DecodingSettings
    from noema_core.engine import Engine, Message
    from noema_core.remote.client import RemoteEngine
    from noema_tui.live_view import LiveBlockView

VERDICT_STYLES = {"verified": "bold green", "contradicted": "bold red", "unverifiable": "yellow"}
_FINISHED = object()  # the worker's last queue item


@dataclass
class AskOutcome:
    question: str
    result: GenerationResult
    verdict: Any  # noema_core.verify.Verdict
    interrupted: bool
    mode: str  # what this answer was decoded in: a retry may differ from the mode asked

    def as_json(self) -> dict[str, Any]:
        stats = self.result.stats.as_dict()
        return {
            "answer": self.result.text,
            "final_answer": self.verdict.answer or "",
            "verdict": {"status": self.verdict.status, "expected": self.verdict.expected,
                        "reason": self.verdict.reason},
            "mode": self.mode,
            "stats": {key: stats[key] for key in ("new_tokens", "forwards",
                                                  "tokens_per_forward", "tokens_per_second",
                                                  "seconds")},
        }


class AskSession:
    """One `noema ask` run. `terminal`: stdout is a terminal; `quiet`: nothing on stderr."""

    def __init__(self, terminal: bool, quiet: bool = False) -> None:
        self.terminal = terminal
        self.quiet = quiet
        self.abandoned = False  # a second Ctrl-C left the decoding thread inside a forward
        self.events: list[Any] = []  # every decoding event, for --trace
        self.stderr = Console(file=sys.stderr, highlight=False, soft_wrap=True, markup=False,
                              no_color=not terminal, force_terminal=None if terminal else False)

    # -- loading ------------------------------------------------------------------------
    def load(self, model: str | None, *, device: str, dtype: str, quant: str,
             compile: bool | None = None) -> Engine:
        from noema_core.engine import DEFAULT_MODEL, Engine

        name = model or DEFAULT_MODEL
        # A failed compile is one line on stderr (then the reply decodes eagerly).
        options = {"compile": compile,
                   "notice": None if self.quiet else lambda line: print(line, file=sys.stderr)}
        if self.quiet:
            return Engine.load(name, device=device, dtype=dtype, quant=quant, **options)
        if not self.stderr.is_terminal:
            from noema_core.loading import resolve_device

            where = str(resolve_device(device))  # "auto" named as the device it stands for
            print(load_line(name, where), file=sys.stderr)
            engine = Engine.load(name, device=device, dtype=dtype, quant=quant, **options)
        else:
            # The line is up before torch is imported (resolving "auto" imports it: about 2 s
            # on a cold start), then names the device once it is known.
            with self.stderr.status(f"loading {name}…") as status:
                from noema_core.loading import resolve_device

                where = str(resolve_device(device))
                status.update(load_line(name, where))

                def progress(what: str, fraction: float | None) -> None:
                    status.update(load_line(name, where, what, fraction))

                engine = Engine.load(name, device=device, dtype=dtype, quant=quant,
                                     progress=progress, **options)
        info = engine.info
        self.stderr.print(f"loaded {info.name} on {info.device} ({info.dtype}, quant "
                          f"{info.quant}, {info.parameters / 1e6:.1f}M parameters)",
                          style="dim")
        return engine

    def connect(self, url: str, api_key: str | None) -> RemoteEngine:
        """The engine behind `noema ask --server URL`, waiting while the server loads."""
        from noema_core.remote.client import RemoteEngine, limits_note

        if self.quiet:
            return RemoteEngine.connect(url, api_key=api_key)
        if not self.stderr.is_terminal:
            print(f"connecting to {url}", file=sys.stderr)
            engine = RemoteEngine.connect(url, api_key=api_key)
        else:
            with self.stderr.status(f"connecting to {url}") as status:
                engine = RemoteEngine.connect(
                    url, api_key=api_key, progress=lambda what, _: status.update(what))
        self.stderr.print(f"connected to {engine.info.name} on {engine.info.device}",
                          style="dim")
        if note := limits_note(engine):
            self.stderr.print(note, style="yellow")
        return engine

    # -- decoding -----------------------------------------------------------------------
    def decode(self, engine: Engine, question: str, settings: DecodingSettings) -> AskOutcome:
        from noema_tui.live_view import LiveBlockView

        messages: list[Message] = [{"role": "user", "content": question}]
        view = LiveBlockView(self.stderr, title=mode_label(settings.mode))
        draw = self.terminal and self.stderr.is_terminal
        if draw:
            with view:
                result, interrupted = self._run(engine, messages, settings, view, draw)
        else:
            result, interrupted = self._run(engine, messages, settings, view, draw)
        if result is None:  # no final event (a second Ctrl-C): keep the finished blocks
            result = GenerationResult((), view.finished_text, GenerationStats(0, 0, 0, 0.0),
                                      cancelled=True, finish_reason="cancelled")
        verdict, checked = self._check(result, question, interrupted)
        return AskOutcome(question, result, verdict, interrupted or not checked,
                          settings.mode.value)

    def decode_with_retries(self, engine: Engine, question: str, settings: DecodingSettings,
                            tries: int) -> list[tuple[str, AskOutcome]]:
        """`decode`, then while the checker contradicts the answer (or cannot read it), decode
        again by `noema_core.retry.retry_plan` (up to `tries` more times). Every try, in
        order."""
        from noema_core.retry import retry_plan, should_retry, unreadable_answer

        outcomes: list[tuple[str, AskOutcome]] = []
        for how, each in retry_plan(settings, tries):
            if outcomes:
                last = outcomes[-1][1]
                if last.interrupted or not should_retry(last.verdict):
                    break
                if not self.quiet:
                    why = ("? the answer could not be read" if unreadable_answer(last.verdict)
                           else "✗ contradicted")
                    self.stderr.print(f"{why}: retrying with {how}", style="yellow")
            outcomes.append((how, self.decode(engine, question, each)))
        return outcomes

    def show_other_tries(self, tries: list[tuple[str, AskOutcome]], shown: AskOutcome) -> None:
        """Every try but the one shown as the answer, numbered, with its verdict (stderr)."""
        for number, (how, outcome) in enumerate(tries, start=1):
            if outcome is shown:
                continue
            answer = outcome.verdict.answer or " ".join(outcome.result.text.split())[-60:]
            self.stderr.print(f"try {number} ({how}): {answer} · "
                              f"{verdict_line(outcome.verdict)}", style="dim")

    def exit_now(self, code: int) -> None:
        """End the process without waiting for the decoding thread (after a second Ctrl-C).

        Interpreter shutdown would wait on, or abort under, the thread still inside a torch
        forward ("terminate called without an active exception"), so flush and leave.
        """
        flush_quietly()
        os._exit(code)

    def _run(self, engine: Engine, messages: list[Message], settings: DecodingSettings,
             view: LiveBlockView, draw: bool) -> tuple[GenerationResult | None, bool]:
        cancel = threading.Event()
        events: queue.Queue[Any] = queue.Queue()

        def work() -> None:
            try:
                for event in engine.stream(messages, settings, cancel):
                    events.put(event)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
                events.put(exc)
            finally:
                events.put(_FINISHED)

        worker = threading.Thread(target=work, name="noema-ask-decode", daemon=True)
        result: GenerationResult | None = None
        interrupted = False
        while True:
            try:
                if worker.ident is None:
                    worker.start()  # inside the try: Ctrl-C may land while it starts
                batch = self._next_batch(events)
                for item in batch:
                    if item is _FINISHED:
                        return result, interrupted
                    if isinstance(item, BaseException):
                        raise item
                    if isinstance(item, GenerationFinished):
                        result = item.result
                    self.events.append(item)
                    view.apply(item)  # also when not drawn: it keeps the finished blocks
                if draw:
                    view.refresh()  # once per batch: stale frames are skipped, not drawn
            except KeyboardInterrupt:
                if interrupted:  # a second Ctrl-C stops waiting for the current forward
                    self.abandoned = True
                    return result, True
                interrupted = True
                cancel.set()

    @staticmethod
    def _next_batch(events: queue.Queue[Any]) -> list[Any]:
        """Wait for one item, then take whatever else is already queued."""
        batch = [events.get()]
        while True:
            try:
                batch.append(events.get_nowait())
            except queue.Empty:
                return batch

    @staticmethod
    def _check(result: GenerationResult, question: str, interrupted: bool):
        """The checker's verdict, and whether checking ran to the end (not cut by Ctrl-C)."""
        from noema_core.verify import Verdict, check

        if interrupted:
            reason = ("the reply was interrupted" if result.cancelled
                      else "interrupted before the answer was checked")
            return Verdict(status="unverifiable", reason=reason), True
        try:
            return check(result.text, question=question), True
        except KeyboardInterrupt:  # Ctrl-C while checking: keep the answer, skip the verdict
            return Verdict(status="unverifiable",
                           reason="interrupted before the answer was checked"), False
        except Exception as err:  # noqa: BLE001 - a checker bug must not lose the answer
            return Verdict(status="unverifiable", reason=f"the checker failed: {err}"), True

    # -- output -------------------------------------------------------------------------
    def show(self, outcome: AskOutcome) -> None:
        """The answer on stdout; verdict and stats on stderr."""
        if self.terminal:
            from rich.markdown import Markdown

            from noema_tui.mathtext import render_markdown

            text = visible(outcome.result.text)  # the model's escape sequences shown, not obeyed
            Console(file=sys.stdout).print(Markdown(render_markdown(text)))
        else:
            emit(outcome.result.text)
        if outcome.interrupted and outcome.result.cancelled:
            self.stderr.print("interrupted: the answer above is partial", style="yellow")
        elif outcome.result.text.strip():  # an empty answer is an error line instead (ask)
            self.stderr.print(visible(verdict_line(outcome.verdict)),
                              style="dim" if has_no_answer(outcome.verdict)
                              else VERDICT_STYLES.get(outcome.verdict.status, ""))
        if outcome.result.stats.forwards:  # none reported when a second Ctrl-C cut it short
            self.stderr.print(stats_line(outcome.result.stats), style="dim")
