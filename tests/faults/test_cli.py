"""Bad options and odd invocations across the commands: one `error:` line with the cause and
where to look, the documented exit code, and nothing loaded or written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.faults.conftest import cli, one_line_error
from tests.faults.test_signals import ROOT, Command

pytestmark = pytest.mark.usefixtures("deadline")


# -- usage errors are one line, not Typer's boxed panel ------------------------------------
@pytest.mark.parametrize(("args", "cause"), [
    (("ask", "--bogus", "q"), "no such option: --bogus"),
    (("ask", "--mode", "z", "q"), "invalid value for '--mode' / '-m': 'z' is not one of"),
    (("ask", "--threshold", "high", "q"), "invalid value for '--threshold'"),
    (("ask", "--gen-length", "1.5", "q"), "invalid value for '--gen-length'"),
    (("ask", "--quant", "int4", "q"), "invalid value for '--quant'"),
    (("ask", "--threshold"), "option '--threshold' requires an argument"),
    (("nope",), "no such command 'nope'"),
    (("verify", "--timeout", "abc", "x"), "invalid value for '--timeout'"),
    (("verify", "--timeout", "0", "-r", "1", "x"), "0 is not in the range 0.1<=x<=600"),
    (("verify", "--timeout", "inf", "-r", "1", "x"), "inf is not in the range"),
    (("verify", "a", "b"), "got unexpected extra argument"),
    (("train", "--steps", "0"), "0 is not in the range x>=1"),
    (("train", "--precision", "fp8"), "invalid value for '--precision'"),
    (("train", "--batch-size", "-3"), "-3 is not in the range x>=1"),
    (("bench", "--mode", "fast"), "invalid value for '--mode'"),
    (("eval", "--limit", "many"), "invalid value for '--limit'"),
    (("chat", "--bogus"), "no such option: --bogus"),
    (("ask", "--top-k", "2.5", "q"), "invalid value for '--top-k'"),
    (("eval", "--history", "some"), "'some' is not a number of exchanges: give 0, 1, 2, ..."),
    (("chat", "--history", "-1"), "invalid value for '--history'"),
])
def test_usage_errors_are_one_line_with_exit_2(ws, args, cause):
    result = cli(*args)
    line = one_line_error(result, 2)
    assert line.startswith("error: ") and cause in line, line
    assert line.endswith("--help'")  # where the accepted values are listed
    assert "╭" not in result.output and "Usage:" not in result.output


def test_noema_alone_still_prints_the_help(ws):
    result = cli()
    assert result.exit_code == 2 and "Usage: noema" in result.output
    assert "error:" not in result.output


# -- values Typer accepts that are still wrong ---------------------------------------------
def test_chat_history_with_a_server_is_refused_the_server_decides(ws):
    line = one_line_error(cli("chat", "--server", "http://127.0.0.1:9", "--history", "2"), 2)
    assert line.startswith("error: --history and --server:") and "drop --history" in line


@pytest.mark.parametrize("command", ["ask", "bench", "eval", "chat"])
@pytest.mark.parametrize("model", ["", "  "])
def test_an_empty_model_is_a_usage_error_not_the_default(ws, command, model):
    # Before: `--model ''` (an unset shell variable) quietly loaded noema-tiny, exit 0.
    args = ("ask", "--model", model, "q") if command == "ask" else (command, "--model", model)
    line = one_line_error(cli(*args), 2)
    assert line.startswith("error: --model is empty: give a bundled name")


@pytest.mark.parametrize("value", ["nan", "-nan", "NaN"])
def test_verify_timeout_nan_is_a_usage_error(ws, value):
    # Before: a traceback from deep in the client.
    line = one_line_error(cli("verify", "--timeout", value, "-r", "1", r"\boxed{1}"), 2)
    assert "is not a finite number" in line


@pytest.mark.parametrize("seed", [str(2**64), str(-(2**63) - 1)])
def test_the_seed_error_states_the_range_that_is_accepted(ws, seed):
    line = one_line_error(cli("ask", "--temperature", "1", "--seed", seed, "q"), 2)
    assert line == (f"error: --seed {seed} is out of range: choose a whole number in "
                    f"[{-(2**63)}, {2**64 - 1}] (-2**63 to 2**64 - 1)")


@pytest.mark.parametrize("seed", [str(-(2**63)), "-1", str(2**64 - 1)])
def test_seeds_inside_the_stated_range_pass_the_check(ws, seed):
    # They get as far as loading the model (which is missing: exit 3), not a seed error.
    line = one_line_error(cli("ask", "--model", ws.root / "nope", "--temperature", "1",
                              "--seed", seed, "q"), 3)
    assert "does not exist" in line


@pytest.mark.parametrize("option", ["--threshold", "--top-p", "--temperature",
                                    "--editing-threshold"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_decoding_values_are_usage_errors(ws, option, value):
    line = one_line_error(cli("ask", option, value, "q"), 2)
    assert "is not a finite number" in line or "is out of range" in line


# -- the checker ---------------------------------------------------------------------------
def test_a_check_that_runs_out_of_time_could_not_be_checked_exit_5(ws):
    from noema_core.verify import shutdown

    # A worker warmed by an earlier test can finish this solve inside 0.1 s; a cold one
    # (what a one-shot `noema verify` starts) cannot, whatever ran before.
    shutdown()
    result = cli("verify", "--timeout", "0.1", "-q", "Solve x^7 - 3x^3 + 2 = 0",
                 r"\boxed{1}")
    assert result.exit_code == 5, result.output  # could not check, never "contradicted" (4)
    assert result.stdout.startswith("could not check:") and "timed out" in result.stdout


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGSEGV])
def test_a_worker_that_died_while_idle_is_replaced_at_the_next_check(sig):
    from noema_core import verify
    from noema_core.verify import check, warm_up

    assert warm_up(wait=120)
    client = verify._get_client()  # the process's one client, whose worker warm_up started
    os.kill(client.pid, sig)
    time.sleep(0.5)  # dead and idle before the next check comes
    statuses = [check(r"\boxed{5}", reference="5", timeout=60).status for _ in range(3)]
    assert statuses == ["verified"] * 3


# -- odd invocations, in real processes ----------------------------------------------------
def test_ask_with_stdout_closed_is_one_line_and_writes_nowhere(ws):
    ws.freeze(ws.ckpt)  # fd 1 must not end up on a checkpoint file
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code = ("import os, sys; os.close(1); sys.argv = ['noema'] + sys.argv[1:]; "
            "from noema_tui.cli import run; run()")
    proc = subprocess.run([sys.executable, "-c", code, "ask", "--model", str(ws.ckpt),
                           "--device", "cpu", "Solve x = 1"], stderr=subprocess.PIPE,
                          stdout=subprocess.DEVNULL, text=True, timeout=120, env=env,
                          cwd=ws.root)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == ("error: stdout is closed: give the output somewhere to go "
                                   "(a terminal, a file or a pipe), e.g. noema ask ... > "
                                   "answer.txt")


@pytest.mark.slow
def test_ctrl_c_while_ask_is_loading_exits_130(ws):
    run = Command("ask", "--model", ws.ckpt, "--device", "cpu", "Solve x = 1", cwd=ws.root)
    run.wait_for("loading", timeout=120)
    run.ctrl_c()
    code, _ = run.finish(timeout=30)
    assert code == 130 and any(line.startswith("interrupted") for line in run.lines), run.lines
    assert not any("Traceback" in line for line in run.lines)
