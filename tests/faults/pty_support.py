"""Run a `noema` command in a pseudo-terminal, as a person's terminal would, and read all it
wrote there (escape sequences included)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Sequence


class TerminalRun:
    """`noema ARGS` with stdin, stdout and stderr on one pseudo-terminal."""

    def __init__(self, args: Sequence[str], env: dict[str, str]) -> None:
        self.output = bytearray()
        self._parent, child = pty.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "noema_tui.cli", *args], stdin=child, stdout=child,
            stderr=child, close_fds=True, start_new_session=True,
            env={**os.environ, "TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24", **env})
        os.close(child)

    def read_until(self, marker: bytes, limit: float) -> bool:
        """Read what the program writes until `marker` appears (True) or `limit` s pass."""
        deadline = time.monotonic() + limit
        while marker not in self.output and time.monotonic() < deadline:
            ready, _, _ = select.select([self._parent], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(self._parent, 65536)
                except OSError:  # the program ended and closed the terminal
                    return marker in self.output
                if not chunk:
                    break
                self.output.extend(chunk)
        return marker in self.output

    def type(self, text: str) -> None:
        os.write(self._parent, text.encode())

    def finish(self, limit: float = 30) -> int:
        """Wait for the exit (reading all output); its exit code."""
        deadline = time.monotonic() + limit
        while self.process.poll() is None and time.monotonic() < deadline:
            self.read_until(b"\x00never", 0.2)
        self.read_until(b"\x00never", 0.3)
        return self.process.wait(timeout=max(0.1, deadline - time.monotonic()))

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self._parent)
