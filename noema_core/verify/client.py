"""The calling side of the worker: start it, talk to it, and kill it when a check overruns.

One `WorkerClient` owns one worker process. A lock serialises checks (several UI threads may
call at once); each check has one wall-clock deadline covering the wait for the lock, the
worker's start-up and the computation. When the deadline passes mid-computation the worker is
killed and a replacement is started at once, so it is warming up while the caller carries on.
Nothing here imports sympy: the calling process stays light.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

from noema_core.verify.limits import WORKER_START_TIMEOUT_S
from noema_core.verify.verdict import Verdict, unverifiable

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
# -I: ignore PYTHONPATH, the user site and the current directory (nothing there can shadow
# sympy in the worker); the package root is added explicitly instead.
_WORKER_COMMAND = [sys.executable, "-I", "-c",
                   f"import sys; sys.path.insert(0, {_PACKAGE_ROOT!r}); "
                   "from noema_core.verify.worker import main; main()"]
_VERDICT_FIELDS = set(Verdict.__dataclass_fields__)


class _WorkerGone(Exception):
    """The worker closed its output: it crashed, was killed, or exited after MemoryError."""


class WorkerClient:
    def __init__(self, command: list[str] | None = None) -> None:
        self._command = command or _WORKER_COMMAND
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._owner_pid = 0  # after a fork the child must not use (or kill) our worker
        self._buffer = b""
        self._ready = False
        self._started_at = 0.0
        self._next_id = 0
        self.restarts = 0  # how many times a worker was killed or found dead (for tests/figures)

    # -- process lifecycle (call with the lock held) -------------------------------------
    def _spawn(self) -> None:
        stderr = None if os.environ.get("NOEMA_VERIFY_DEBUG") else subprocess.DEVNULL
        self._proc = subprocess.Popen(self._command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=stderr, start_new_session=True)
        self._owner_pid = os.getpid()
        self._buffer = b""
        self._ready = False
        self._started_at = time.monotonic()

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        self._ready = False
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):  # SIGKILL ends it; don't hang
            proc.wait(timeout=5)
        for stream in (proc.stdin, proc.stdout):
            with contextlib.suppress(OSError):
                stream.close()

    def _restart(self) -> None:
        self._kill()
        self.restarts += 1
        self._spawn()

    def _exit_status(self) -> str:
        """How the worker ended, once it closed its output (it is exiting, or has)."""
        code = None
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = self._proc.wait(timeout=1)
        if code is None:
            return "no exit status"
        return f"killed by signal {-code}" if code < 0 else f"exit status {code}"

    def _alive(self) -> bool:
        return (self._proc is not None and self._owner_pid == os.getpid()
                and self._proc.poll() is None)

    def _read_message(self, deadline: float) -> dict | None:
        """The next JSON line from the worker, or None when the deadline passes first."""
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            poller = select.poll()  # not select(): no limit on descriptor numbers
            poller.register(fd, select.POLLIN)
            if not poller.poll(remaining * 1000):
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                raise _WorkerGone
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def _ensure_ready(self, deadline: float) -> bool:
        if not self._alive():
            if self._proc is not None and self._owner_pid == os.getpid():
                self.restarts += 1
            if self._owner_pid != os.getpid():
                self._proc = None  # inherited through fork: the parent's, not ours
            self._kill()
            self._spawn()
        if self._ready:
            return True
        try:
            message = self._read_message(deadline)
        except _WorkerGone:
            self._kill()
            return False
        if message is None:
            if time.monotonic() - self._started_at > WORKER_START_TIMEOUT_S:
                self._restart()  # stuck while starting: try a fresh one next time
            return False
        self._ready = bool(message.get("ready"))
        return self._ready

    # -- public -------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        """The worker's process id while it runs (for diagnostics and tests)."""
        return self._proc.pid if self._alive() else None

    def warm_up(self, wait: float = 0.0) -> bool:
        """Start the worker if needed; with `wait` > 0, block up to that long until ready."""
        with self._lock:
            if not self._alive():
                self._kill()
                self._spawn()
            if wait <= 0:
                return self._ready
            return self._ensure_ready(time.monotonic() + wait)

    def close(self) -> None:
        """Stop the worker (it is started again by the next check)."""
        with self._lock:
            if self._owner_pid == os.getpid():
                self._kill()

    def run(self, request: dict, timeout: float) -> Verdict:
        """Send one request and wait for its verdict, never much past `timeout` seconds."""
        deadline = time.monotonic() + timeout
        if not self._lock.acquire(timeout=max(0.0, timeout)):
            return unverifiable(f"timed out after {timeout:g} s waiting for other checks",
                                method="timeout")
        try:
            return self._run_locked(request, deadline, timeout)
        finally:
            self._lock.release()

    def _run_locked(self, request: dict, deadline: float, timeout: float) -> Verdict:
        if not self._ensure_ready(deadline):
            return unverifiable(f"timed out after {timeout:g} s: the checker process was still "
                                "starting", method="timeout")
        self._next_id += 1
        message = {**request, "id": self._next_id,
                   "deadline_s": max(0.0, deadline - time.monotonic())}
        try:
            assert self._proc is not None and self._proc.stdin is not None
            self._proc.stdin.write((json.dumps(message) + "\n").encode())
            self._proc.stdin.flush()
            while True:
                reply = self._read_message(deadline)
                if reply is None or reply.get("id") == self._next_id:
                    break
        except (_WorkerGone, BrokenPipeError, OSError, ValueError):
            how = self._exit_status()
            self._restart()
            return unverifiable(f"the checker process crashed ({how}) and was restarted",
                                method="crash")
        if reply is None:
            self._restart()
            return unverifiable(f"timed out after {timeout:g} s (the checker was stopped and "
                                "restarted)", method="timeout")
        fields = {k: v for k, v in reply["verdict"].items() if k in _VERDICT_FIELDS}
        return Verdict(**fields)
