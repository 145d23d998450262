"""`noema train`: the recipe that trains the bundled model (resumable, CPU or CUDA)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from noema_tui.commands.options import DeviceOption
from noema_tui.commands.output import emit, fail, require_finite, require_writable_dir

if TYPE_CHECKING:
    from noema_core.training.trainer import TrainProgress


class PrecisionChoice(str, Enum):
    auto = "auto"
    bfloat16 = "bfloat16"
    float32 = "float32"


def train(
    out: Annotated[Path, typer.Option(help="Run directory: tokenizer, checkpoint, exported "
                                           "model. An existing checkpoint there is resumed.")]
    = Path("runs/noema-tiny"),
    minutes: Annotated[float, typer.Option(min=0, help="Time budget (0 = none); the LR "
                                                       "schedule ends with it.")] = 0.0,
    steps: Annotated[int, typer.Option(min=1, help="Step budget.")] = 20_000,
    batch_size: Annotated[int, typer.Option(min=1, help="Canvases per step.")] = 128,
    max_batch_tokens: Annotated[int, typer.Option(
        min=0, help="Memory cap: at most this many canvases x canvas length per step; batches "
                    "of long canvases get fewer rows (0 = no cap).")] = 0,
    lr: Annotated[float, typer.Option(min=0.0, help="Peak learning rate.")] = 2e-3,
    seed: Annotated[int, typer.Option(help="Seed for data, noise and init.")] = 0,
    device: DeviceOption = "auto",
    precision: Annotated[PrecisionChoice, typer.Option(
        help="Matmul precision: auto is bf16 on CUDA and on CPUs with native bf16, else "
             "fp32.")] = PrecisionChoice.auto,
    workers: Annotated[int, typer.Option(min=0, help="Data worker processes.")] = 2,
    eval_every: Annotated[int, typer.Option(min=1, help="Steps between evaluations.")] = 1000,
    eval_problems: Annotated[int, typer.Option(min=0, help="Held-out problems decoded per "
                                                           "evaluation (0 = none).")] = 27,
    log_every: Annotated[int, typer.Option(min=1, help="Steps between progress lines.")] = 20,
    shape: Annotated[str, typer.Option(help="tiny (the bundled model) or micro (a smoke "
                                            "test).")] = "tiny",
    init_from: Annotated[Path | None, typer.Option(help="Start from an exported model "
                                                        "directory (same shape and "
                                                        "tokenizer).")] = None,
    warmup: Annotated[int, typer.Option(
        min=1, help="Warmup steps (at most a tenth of --steps).")] = 300,
    bundle: Annotated[Path | None, typer.Option(help="Also copy the exported model here "
                                                     "(e.g. noema_core/models/noema-tiny).")]
    = None,
) -> None:
    """Train the bundled diffusion model on the sympy-checked curriculum.

    Ctrl-C saves a checkpoint; run the same command again to resume.

    Exit codes: 0 done, 1 runtime error, 2 usage or a damaged checkpoint in
    --out, 3 device unavailable or --init-from not loadable, 130 interrupted
    (checkpoint saved after the first step).
    """
    import shutil

    from noema_core.errors import NoemaError
    from noema_core.training.trainer import SHAPES, TrainConfig, Trainer

    if shape not in SHAPES:
        fail(f"--shape {shape} is unknown: choose {' or '.join(SHAPES)}", 2)
    require_finite(minutes=minutes, lr=lr)
    if init_from is not None and not (init_from / "config.json").is_file():
        fail(f"--init-from {init_from} is not an exported model directory (no config.json): "
             f"pass one such as runs/noema-tiny/model", 3)
    # Before any work: a run directory that cannot be written would fail only at the first
    # checkpoint, and a --bundle that cannot be written only after the whole run.
    require_writable_dir(out, "--out")
    if bundle is not None:
        require_writable_dir(bundle, "--bundle")
    config = TrainConfig(out_dir=str(out), seed=seed, device=device, precision=precision.value,
                         batch_size=batch_size, max_batch_tokens=max_batch_tokens,
                         workers=workers, max_steps=steps, max_minutes=minutes, lr=lr,
                         eval_every=eval_every, eval_problems=eval_problems,
                         log_every=log_every, model=SHAPES[shape],
                         warmup_steps=min(warmup, max(1, steps // 10)),
                         init_from=str(init_from or ""))
    reporter = _Reporter()
    training = False
    ctrl_c = CtrlC(out, reporter.close)
    try:
        with ctrl_c:
            trainer = Trainer(config, progress=reporter.update)
            trainer.prepare()
            training = True
            first_step = trainer.step
            ctrl_c.arm(lambda: trainer.step > first_step)
            summary = trainer.train(stop=ctrl_c.stop)
    except NoemaError as err:
        reporter.close()
        fail(str(err), err.exit_code)
    except KeyboardInterrupt:
        reporter.close()
        if not training:
            fail("interrupted before the first step: nothing to save; run the same command "
                 "to start again", 130)
        fail(f"interrupted: checkpoint saved in {out / 'checkpoint'}; run the same command "
             f"to resume", 130)
    except OSError as err:  # a full disk or a directory removed under the run
        reporter.close()
        fail(f"could not write the run ({err.strerror or err}: {err.filename or out}): free "
             f"space or choose another --out", 1)
    reporter.close()
    if bundle is not None:
        try:
            shutil.copytree(out / "model", bundle, dirs_exist_ok=True)
        except OSError as err:
            fail(f"could not copy the model to --bundle {bundle} ({err}): it is in "
                 f"{out / 'model'}; copy it by hand", 1)
    emit(json.dumps(summary))


class CtrlC:
    """Ctrl-C during `noema train`, taken by a thread of its own (SIGINT is blocked in every
    other thread, and so in the data workers forked from them): the main thread may sit in
    Rust or C for seconds (tokenizer training, a forward) where no Python handler would run.

    Until the first step of this run is done there is nothing new to save: Ctrl-C ends the
    process at once (exit 130). After it, the first Ctrl-C sets `stop`, the trainer saves at
    the end of its step and the command exits 130; a second one quits at once, the last
    saved checkpoint left whole (checkpoints are swapped in by rename)."""

    def __init__(self, out: Path, before_exit: Callable[[], None]) -> None:
        self.out, self.before_exit = out, before_exit
        self.stop = threading.Event()
        self._unsaved: Callable[[], bool] = lambda: False
        self._done = False
        self._thread: threading.Thread | None = None
        self._last = -1.0  # when the last Ctrl-C was acted on

    def arm(self, unsaved: Callable[[], bool]) -> None:
        """From now on a Ctrl-C saves, once `unsaved()` says there is something to save."""
        self._unsaved = unsaved

    def __enter__(self) -> CtrlC:
        # The C-level handler writes each signal to the wakeup socket from whichever thread
        # the kernel picks (torch's OpenMP threads included), so the watcher learns of a
        # Ctrl-C at once even while the main thread is inside native code (the tokenizer's
        # training) and cannot run a Python handler.
        if threading.current_thread() is threading.main_thread():
            self._receive, self._send = socket.socketpair()
            self._send.setblocking(False)
            self._previous_handler = signal.signal(signal.SIGINT, lambda *_: None)
            self._previous_fd = signal.set_wakeup_fd(self._send.fileno(), warn_on_full_buffer=False)
            self._thread = threading.Thread(target=self._watch, name="ctrl-c", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is None:
            return
        self._done = True
        signal.set_wakeup_fd(self._previous_fd)
        signal.signal(signal.SIGINT, self._previous_handler)
        with contextlib.suppress(OSError):
            self._send.send(b"\0")  # wakes the watcher to end
        self._thread.join(timeout=5)
        self._receive.close()
        self._send.close()

    def _watch(self) -> None:
        while True:
            try:
                received = self._receive.recv(1)
            except OSError:
                return
            if self._done or not received:
                return
            # One Ctrl-C can arrive twice (sent to the process and to its group): a second
            # within half a second is the same keypress; signals did not queue under sigwait.
            if received[0] != signal.SIGINT or time.monotonic() - self._last < 0.5:
                continue
            self._last = time.monotonic()
            if not self._unsaved():
                self._quit("interrupted before the first step: nothing to save; run the same "
                           "command to start again")
            elif not self.stop.is_set():
                self.stop.set()
                print("stopping after this step: saving the checkpoint (Ctrl-C again to quit "
                      "at once, keeping the last saved one)", file=sys.stderr, flush=True)
            else:
                self._quit(f"interrupted while saving: the last saved checkpoint in "
                           f"{self.out / 'checkpoint'} is intact; run the same command to "
                           f"resume")

    def _quit(self, message: str) -> None:
        with contextlib.suppress(Exception):
            self.before_exit()
        with contextlib.suppress(OSError, ValueError):
            print(message, file=sys.stderr, flush=True)
        os._exit(130)  # worker processes die with us (the DataLoader's parent-death signal)


class _Reporter:
    """A Rich progress bar in a terminal; one plain line per update otherwise (logs, nohup)."""

    def __init__(self) -> None:
        self.live = sys.stderr.isatty()
        self.bar = None
        if self.live:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(),
                                TextColumn("{task.fields[status]}"), transient=False)
            self.bar.start()
            self.task = self.bar.add_task("training", total=1.0, status="")

    def update(self, p: TrainProgress) -> None:
        evaluation = ""
        if p.evaluation:
            evaluation = (f" | held-out acc {p.evaluation['accuracy']:.0%} "
                          f"TPF {p.evaluation['tokens_per_forward']:.2f}")
        if p.message:
            line = p.message
        else:
            line = (f"step {p.step} loss {p.loss:.4f} lr {p.lr:.2e} "
                    f"{p.tokens_per_second / 1000:.1f}k tok/s{evaluation}")
        if self.bar is not None:
            self.bar.update(self.task, completed=p.fraction, status=line)
            if evaluation or p.message:
                self.bar.console.print(line)
        else:
            print(f"[{p.elapsed:7.1f}s {p.fraction:6.1%}] {line}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
