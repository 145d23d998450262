"""Ctrl-C as a terminal sends it (SIGINT to the whole process group), in real processes:
`noema train` before and after its first step, and `noema ask` while it loads."""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from noema_core.training import checkpoint
from tests.faults.conftest import TRAIN

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("deadline")]
DEADLINE_S = 400  # each case starts Python, torch and a training run on a busy CPU
ROOT = Path(__file__).resolve().parents[2]


class Command:
    """`noema ARGS` in its own session, stderr read line by line as it comes."""

    def __init__(self, *args: object, cwd: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "NOEMA_DATA_DIR": str(cwd / "data")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "noema_tui.cli", *map(str, args)], cwd=cwd, env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, start_new_session=True)
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self._queue.put(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.2)
            except queue.Empty:
                assert self.proc.poll() is None, f"ended early: {self.lines}"
                continue
            self.lines.append(line)
            if text in line:
                return
        self.kill()
        pytest.fail(f"{text!r} not seen within {timeout} s: {self.lines}")

    def ctrl_c(self) -> None:
        os.killpg(self.proc.pid, signal.SIGINT)

    def finish(self, timeout: float) -> tuple[int, float]:
        started = time.monotonic()
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"still running {timeout} s after Ctrl-C: {self.lines}")
        time.sleep(0.3)
        while not self._queue.empty():
            self.lines.append(self._queue.get())
        return code, time.monotonic() - started

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def group_is_gone(self) -> bool:
        for _ in range(50):
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                return True
            time.sleep(0.1)
        return False


def assert_clean(lines: list[str]) -> None:
    assert not any("Traceback" in line for line in lines), lines


def test_ctrl_c_before_the_first_step_exits_130_at_once(tmp_path):
    # Before: it did not exit (the main thread was inside the tokenizer's training).
    run = Command("train", "--out", tmp_path / "run", "--steps", "5", *TRAIN, cwd=tmp_path)
    run.wait_for("training the tokenizer", timeout=180)
    time.sleep(1)
    run.ctrl_c()
    code, took = run.finish(timeout=20)
    assert code == 130 and took < 10
    assert run.lines[-1] == ("interrupted before the first step: nothing to save; run the "
                             "same command to start again")
    assert_clean(run.lines)
    assert not (tmp_path / "run" / "checkpoint").exists()
    assert run.group_is_gone()


def test_ctrl_c_after_some_steps_saves_and_exits_130(tmp_path, trained_run):
    out = tmp_path / "run"
    shutil.copytree(trained_run / "tokenizer", out / "tokenizer")
    run = Command("train", "--out", out, "--steps", "200", *TRAIN, "--workers", "2",
                  cwd=tmp_path)  # the last --workers wins: data workers get the Ctrl-C too
    run.wait_for("step 2 ", timeout=240)
    run.ctrl_c()
    code, took = run.finish(timeout=90)
    assert code == 130, run.lines
    assert run.lines[-1].startswith("interrupted: checkpoint saved in")
    assert_clean(run.lines)
    meta, _ = checkpoint.read_meta(out / "checkpoint")
    assert meta["step"] >= 2
    assert (out / "model" / "config.json").is_file()
    assert run.group_is_gone()  # the data workers went with it


def test_a_second_ctrl_c_quits_at_once_keeping_a_whole_checkpoint(tmp_path, trained_run):
    out = tmp_path / "run"
    shutil.copytree(trained_run, out)
    run = Command("train", "--out", out, "--steps", "200", *TRAIN, cwd=tmp_path)
    run.wait_for("step 2 ", timeout=240)
    run.ctrl_c()
    run.wait_for("stopping after this step", timeout=10)
    run.ctrl_c()
    code, took = run.finish(timeout=20)
    assert code == 130 and took < 10
    assert_clean(run.lines)
    meta, _ = checkpoint.read_meta(out / "checkpoint")  # the old one or the new one, whole
    assert meta["step"] >= 1
    assert run.group_is_gone()
