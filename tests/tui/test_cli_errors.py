"""Bad input and interruption across the commands: one line, a documented exit code, no loss."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from noema_core.decoding.events import BlockFinished, BlockUpdated, TokenState
from noema_tui.cli import app
from noema_tui.commands import output
from noema_tui.commands.ask_session import AskSession


def invoke(*args: str, stdin: str | bytes | None = None):
    return CliRunner().invoke(app, list(args), input=stdin)


def one_error_line(result) -> str:
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("error: "), result.stderr
    return lines[-1]


# -- noema ask ------------------------------------------------------------------------------
@pytest.mark.parametrize(("option", "value"), [
    ("--threshold", "nan"), ("--top-p", "nan"), ("--temperature", "inf"),
    ("--editing-threshold", "nan"),
])
def test_non_finite_decoding_values_are_usage_errors(scripted_engine, option, value):
    # nan slips through every `low <= x <= high` check; Typer's FLOAT accepts it.
    result = invoke("ask", option, value, "q")
    assert result.exit_code == 2
    assert one_error_line(result) == (f"error: {option} {value} is not a finite number: give "
                                      f"one in the option's range (see --help)")
    assert scripted_engine.loads == []


def test_seed_beyond_what_the_generator_takes_is_a_usage_error(scripted_engine):
    result = invoke("ask", "--temperature", "1", "--seed", str(2**64), "q")
    assert result.exit_code == 2
    assert one_error_line(result) == (f"error: --seed {2**64} is out of range: choose a whole "
                                      f"number in [{-2**63}, {2**64 - 1}] (-2**63 to "
                                      f"2**64 - 1)")
    assert scripted_engine.loads == []


def test_prompt_bytes_that_are_not_utf8_are_a_usage_error(scripted_engine):
    strict = invoke("ask", "-", stdin=b"Solve \xff\xfe x = 2")  # a strict stdin raises
    escaped = invoke("ask", "Solve \udcff x = 2")  # argv/stdin bytes kept as surrogates
    for result in (strict, escaped):
        assert result.exit_code == 2
        assert one_error_line(result).startswith("error: the prompt is not valid UTF-8")
    assert scripted_engine.loads == []


def test_ctrl_c_while_checking_keeps_the_whole_answer_and_exits_130(scripted_engine,
                                                                   fake_checker, monkeypatch):
    def interrupted_check(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sys.modules["noema_core.verify"], "check", interrupted_check)
    result = invoke("ask", "q")
    assert result.exit_code == 130
    assert result.stdout == "x = 5\n"  # decoded in full: printed, not lost
    assert "could not check: interrupted before the answer was checked" in result.stderr
    assert "partial" not in result.stderr


class _StuckEngine:
    """Finishes one block, then hangs inside a forward until released (a slow model)."""

    def __init__(self, scripted) -> None:
        self.info = scripted.info
        self.settings_for = scripted.settings_for
        self.release = threading.Event()

    def stream(self, messages, settings, cancel=None):
        states = (TokenState.STABLE,) * 4
        yield BlockUpdated(0, 1, (1, 2, 3, 4), states, (0.9,) * 4, tuple("abcd"))
        yield BlockFinished(0, 1, (1, 2, 3, 4), "abcd")
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C: the main thread sets `cancel`
        assert cancel.wait(30)
        time.sleep(0.2)  # let the main thread go back to waiting for events
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C again while the forward runs on
        self.release.wait(30)


def test_second_ctrl_c_prints_the_finished_blocks_and_ends_without_waiting(
        scripted_engine, fake_checker, monkeypatch):
    import noema_core.engine

    stuck = _StuckEngine(scripted_engine)
    monkeypatch.setattr(noema_core.engine.Engine, "load", classmethod(lambda *a, **k: stuck))
    exits = []

    def exit_now(self, code):  # the real one calls os._exit
        exits.append(code)
        raise typer.Exit(code)

    monkeypatch.setattr(AskSession, "exit_now", exit_now)
    try:
        result = invoke("ask", "q")
    finally:
        stuck.release.set()
    assert result.exit_code == 130 and exits == [130]
    assert result.stdout == "abcd\n"  # the finished block survives the second Ctrl-C
    assert "interrupted: the answer above is partial" in result.stderr
    assert "tok/s" not in result.stderr and fake_checker.calls == []


def test_a_model_dir_with_a_broken_config_exits_3_with_the_field_named(tiny_chat_checkpoint,
                                                                       tmp_path,
                                                                       fake_checker):
    ckpt = tmp_path / "ckpt"
    shutil.copytree(tiny_chat_checkpoint, ckpt)
    config = json.loads((ckpt / "config.json").read_text())
    (ckpt / "config.json").write_text(json.dumps({**config, "num_key_value_heads": 0}))
    result = invoke("ask", "--model", str(ckpt), "--device", "cpu", "q")
    assert result.exit_code == 3
    assert "num_key_value_heads=0, expected at least 1" in one_error_line(result)


# -- writing the output ---------------------------------------------------------------------
class _FailingStdout(io.StringIO):
    def __init__(self, error: OSError) -> None:
        super().__init__()
        self.error = error

    def write(self, text: str) -> int:
        raise self.error


def test_emit_turns_a_full_disk_into_one_line_and_exit_1(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdout", _FailingStdout(OSError(28, "No space left on device")))
    with pytest.raises(typer.Exit) as exit_info:
        output.emit("answer")
    assert exit_info.value.exit_code == 1
    assert capsys.readouterr().err == ("error: could not write the output (No space left on "
                                       "device): redirect it to a file on a disk with free "
                                       "space\n")


def test_emit_ends_quietly_when_the_reader_closed_the_pipe(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdout", _FailingStdout(BrokenPipeError(32, "Broken pipe")))
    with pytest.raises(typer.Exit) as exit_info:
        output.emit("answer")
    assert exit_info.value.exit_code == 1 and capsys.readouterr().err == ""


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_json_to_a_full_device_is_one_line_not_a_traceback():
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "noema_tui.cli", "verify", "--json",
                               "--reference", "5", r"\boxed{5}"], stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("error: could not write the output (No space left")
    assert "Traceback" not in done.stderr


def test_after_the_command_a_ctrl_c_ends_the_process_instead_of_raising(capsys):
    before = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(SystemExit):
            app(["--help"])
        # Interpreter shutdown takes a second or two; a Ctrl-C then must not print a
        # KeyboardInterrupt traceback from an exit hook.
        assert signal.getsignal(signal.SIGINT) is signal.SIG_DFL
    finally:
        signal.signal(signal.SIGINT, before)


EXIT_PROBE = """
import atexit, sys
{preload}
atexit.register(lambda: print("interpreter shutdown ran", file=sys.stderr, flush=True))
from noema_tui.cli import run
sys.argv = ["noema", "verify", "--reference", "5", "\\\\boxed{{4}}"]
run()
"""


@pytest.mark.parametrize(("preload", "shutdown_runs"), [("import torch", False), ("", True)])
def test_the_console_script_skips_torch_teardown_but_keeps_output_and_exit_code(preload,
                                                                                shutdown_runs):
    done = subprocess.run([sys.executable, "-c", EXIT_PROBE.format(preload=preload)],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 4, done.stderr  # contradicted
    assert done.stdout.startswith("contradicted: 4")
    assert ("interpreter shutdown ran" in done.stderr) is shutdown_runs


# -- noema eval / bench / train -------------------------------------------------------------
def test_eval_ctrl_c_reports_what_was_graded_and_exits_130(scripted_engine, monkeypatch):
    import noema_core.evaluation
    from noema_core.evaluation import EvalReport

    def evaluate(engine, *, cancel, **_settings):
        time.sleep(0.3)  # the main thread is waiting for this thread by now
        os.kill(os.getpid(), signal.SIGINT)  # lands in the main thread, like a real Ctrl-C
        assert cancel.wait(30), "Ctrl-C did not cancel the evaluation"
        return EvalReport("scripted", 9, cancelled=True)

    monkeypatch.setattr(noema_core.evaluation, "evaluate", evaluate)
    result = invoke("eval", "--limit", "1", "--mode", "s")
    assert result.exit_code == 130, result.output
    assert "scripted: 9 held-out problems (cancelled: partial)" in result.stdout
    assert "interrupted: finishing the current problem" in result.stderr


def test_bench_names_its_own_flags_when_the_prompt_does_not_fit():
    result = invoke("bench", "--model", "tiny-random", "--device", "cpu", "--mode", "s",
                    "--prompt-length", "5000", "--gen-length", "8", "--no-cache-compare",
                    "--json")
    assert result.exit_code == 2
    assert one_error_line(result).endswith(": lower --prompt-length or --gen-length")


def test_bench_unexpected_error_is_one_line_exit_1(monkeypatch):
    import noema_core.bench

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(noema_core.bench, "run_benchmark", broken)
    result = invoke("bench", "--model", "tiny-random", "--device", "cpu", "--json")
    assert result.exit_code == 1
    assert one_error_line(result) == "error: RuntimeError: out of memory"


def test_train_refuses_a_non_finite_learning_rate(tmp_path):
    result = invoke("train", "--out", str(tmp_path / "run"), "--lr", "nan", "--shape", "micro")
    assert result.exit_code == 2
    assert one_error_line(result).startswith("error: --lr nan is not a finite number")


def test_train_refuses_an_unwritable_out_or_bundle_before_any_work(tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    result = invoke("train", "--out", str(a_file), "--shape", "micro")
    assert result.exit_code == 2
    assert one_error_line(result) == (f"error: --out {a_file} is a file, not a directory: "
                                      f"choose a directory")
    result = invoke("train", "--out", str(tmp_path / "run"), "--bundle",
                    str(a_file / "bundle"), "--shape", "micro")
    assert result.exit_code == 2
    assert one_error_line(result).startswith(f"error: --bundle {a_file / 'bundle'} is not a "
                                             f"writable directory")
    assert not (tmp_path / "run" / "tokenizer").exists()  # nothing was trained


def test_train_init_from_a_missing_directory_exits_3(tmp_path):
    result = invoke("train", "--out", str(tmp_path / "run"), "--init-from",
                    str(tmp_path / "nope"), "--shape", "micro")
    assert result.exit_code == 3
    assert "--init-from" in one_error_line(result)
    assert not Path(tmp_path / "run" / "tokenizer").exists()
