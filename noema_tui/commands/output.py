"""What every command does with bad input and with its output: one-line errors, exit codes.

Expected errors print `error: <cause>: <fix>` on stderr and exit with a documented code
(README, "Exit codes"); results go to stdout through `emit`, which turns a write failure (a
full disk, a closed pipe) into one line instead of a traceback.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from pathlib import Path
from typing import NoReturn

import typer

EXIT_RUNTIME, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


def fail(message: str, code: int) -> NoReturn:
    """One line on stderr (`error: ...`, or the bare message for an interruption), then exit."""
    print(f"error: {message}" if code != EXIT_INTERRUPTED else message, file=sys.stderr)
    raise typer.Exit(code)


def usage_error_line(err: Exception) -> str:
    """Typer's usage error as `error: <cause>: <fix>` on one line."""
    message = " ".join(str(getattr(err, "format_message", err.__str__)()).split())
    message = message[:1].lower() + message[1:].rstrip(".")
    context = getattr(err, "ctx", None)
    command = getattr(context, "command_path", None) or "noema"
    return f"error: {message}: see '{command} --help'"


def emit(text: str) -> None:
    """Write `text` (plus a newline) to stdout and flush it, so a failed write is seen here."""
    try:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`noema ask ... | head -1`): nothing to report. Point stdout at
        # /dev/null so the interpreter's final flush does not fail a second time.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(EXIT_RUNTIME) from None
    except OSError as err:
        fail(f"could not write the output ({err.strerror or err}): redirect it to a file on "
             f"a disk with free space", EXIT_RUNTIME)


def flush_quietly() -> None:
    """Flush stdout and stderr, ignoring a stream that can no longer be written."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()


def require_finite(**values: float | None) -> None:
    """Typer's FLOAT accepts `nan` and `inf`, which no range check rejects: refuse them."""
    for name, value in values.items():
        if value is not None and not math.isfinite(value):
            fail(f"--{name.replace('_', '-')} {value} is not a finite number: give one in the "
                 f"option's range (see --help)", EXIT_USAGE)


def require_model(model: str | None) -> None:
    """`--model ''` (an unset variable in a script) must not quietly mean the default."""
    if model is not None and not model.strip():
        fail("--model is empty: give a bundled name (noema-tiny), a checkpoint directory or a "
             "hub id, or leave the option out for the default", EXIT_USAGE)


def require_writable_dir(path: Path, option: str) -> None:
    """Create `path` if needed and prove a file can be written there, before any long work."""
    if path.exists() and not path.is_dir():
        fail(f"{option} {path} is a file, not a directory: choose a directory", EXIT_USAGE)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".noema-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        fail(f"{option} {path} is not a writable directory ({err.strerror or err}): choose a "
             f"directory you can write to", EXIT_USAGE)
