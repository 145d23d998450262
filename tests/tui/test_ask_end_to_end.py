"""`noema ask` against the real engine and the tiny random checkpoint, in process and as a
real process (pipes, stdin, signals, exit codes)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from noema_tui.cli import app

RUNNER = Path(__file__).with_name("cli_with_fake_checker.py")
FAST = ["--device", "cpu", "--gen-length", "16", "--block-length", "16", "--steps", "4"]
STATS_KEYS = {"new_tokens", "forwards", "tokens_per_forward", "tokens_per_second", "seconds"}


def noema(*args: str, stdin: str | None = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(RUNNER), *args], input=stdin,
                          capture_output=True, text=True, timeout=300)


def expected_exit(answer: str) -> int:
    """The random model may answer only whitespace, which `noema ask` reports as exit 1."""
    return 0 if answer.strip() else 1


def real_checker_available() -> bool:
    try:
        from noema_core.verify import check  # noqa: F401
    except ImportError:
        return False
    return True


def test_tiny_checkpoint_answers_in_json_and_the_same_answer_plain_through_a_pipe(
        tiny_chat_checkpoint, fake_checker):
    result = CliRunner().invoke(app, ["ask", "--model", str(tiny_chat_checkpoint), *FAST,
                                      "--json", "Solve 3x + 5 = 20"])
    report = json.loads(result.stdout)
    assert result.exit_code == expected_exit(report["answer"]), result.output
    assert set(report) == {"answer", "final_answer", "verdict", "mode", "stats"}
    assert set(report["stats"]) == STATS_KEYS and report["mode"] == "q"
    assert 1 <= report["stats"]["new_tokens"] <= 16 and report["stats"]["forwards"] >= 1

    piped = noema("ask", "--model", str(tiny_chat_checkpoint), *FAST, "-",
                  stdin="Solve 3x + 5 = 20\n")
    assert piped.returncode == expected_exit(report["answer"]), piped.stderr
    assert piped.stdout == report["answer"] + "\n"  # greedy: the same reply, plain text only
    assert "\x1b[" not in piped.stdout + piped.stderr
    assert "loaded" in piped.stderr and "tok/s" in piped.stderr


@pytest.mark.skipif(not real_checker_available(), reason="noema_core.verify has not landed")
def test_tiny_checkpoint_reply_is_checked_by_the_real_checker(tiny_chat_checkpoint):
    result = CliRunner().invoke(app, ["ask", "--model", str(tiny_chat_checkpoint), *FAST,
                                      "--json", "Solve 3x + 5 = 20"])
    report = json.loads(result.stdout)
    assert result.exit_code == expected_exit(report["answer"]), result.output
    verdict = report["verdict"]
    assert verdict["status"] in {"verified", "contradicted", "unverifiable"}
    assert verdict["reason"]  # every verdict says why


def test_process_exit_codes_for_usage_and_load_errors(tmp_path):
    out_of_range = noema("ask", "--temperature", "3", "q")
    assert out_of_range.returncode == 2
    assert out_of_range.stderr == (
        "error: temperature=3.0 is out of range: choose a value in [0, 2]\n")
    missing = noema("ask", "--model", str(tmp_path / "missing"), "q")
    assert missing.returncode == 3
    assert missing.stderr.splitlines()[-1].startswith("error: checkpoint directory")
    assert "Traceback" not in missing.stderr


def test_process_interrupted_by_ctrl_c_exits_130_without_a_traceback(tiny_chat_checkpoint):
    proc = subprocess.Popen(
        [sys.executable, str(RUNNER), "ask", "--model", str(tiny_chat_checkpoint),
         "--device", "cpu", "--gen-length", "3072", "--no-eos-early-stop", "q"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    while line := proc.stderr.readline():  # wait until the model is loaded
        seen.append(line)
        if line.startswith("loaded"):
            break
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    report = f"stdout={stdout!r} stderr={''.join(seen) + stderr!r}"
    assert proc.returncode == 130, report
    assert "interrupted" in stderr and "Traceback" not in stderr, report
