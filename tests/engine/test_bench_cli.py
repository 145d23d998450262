"""`noema bench` and the engine's independence from the UI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from noema_tui.cli import app


def test_bench_json_reports_every_mode_with_and_without_cache():
    result = CliRunner().invoke(app, ["bench", "--model", "tiny-random", "--device", "cpu",
                                      "--prompt-length", "40", "--gen-length", "32", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["random_weights"] is True and report["parameters"] > 0
    assert {(r["mode"], r["cache"]) for r in report["runs"]} == {
        (m, c) for m in ("q", "s", "ar") for c in (True, False)}
    for run in report["runs"]:
        assert run["new_tokens"] == 32 and run["forwards"] >= 1
        assert abs(run["tokens_per_forward"] * run["forwards"] - 32) < 0.1
        assert run["peak_memory_bytes"] > 0 and run["ms_per_forward"] > 0
        # Counted on the cached run: a snapshot per forward plus the MoE layers' reads.
        assert (run["host_syncs_per_forward"] is None) == (not run["cache"])
        assert run["cache"] is False or 0 < run["host_syncs_per_forward"] < 20
    ar = [r for r in report["runs"] if r["mode"] == "ar"]
    assert all(r["forwards"] >= 32 for r in ar)


def test_bench_shows_progress_on_stderr_while_it_runs():
    result = CliRunner().invoke(app, ["bench", "--model", "tiny-random", "--device", "cpu",
                                      "--mode", "s", "--prompt-length", "8", "--gen-length", "40",
                                      "--no-cache-compare", "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert "[bench] s cache=on: decoding 40 tokens (2 blocks)" in result.output
    assert "[bench] s cache=on: block 2/2" in result.output
    assert "syncs/fwd" in result.output


def test_bench_rejects_an_unknown_model_with_exit_code_3():
    result = CliRunner().invoke(app, ["bench", "--model", "no-such-model", "--json"])
    assert result.exit_code == 3
    assert "is not a bundled model" in result.output
    assert "Traceback" not in result.output


def test_engine_modules_import_without_textual_or_rich():
    code = ("import sys, noema_core.engine, noema_core.loading, noema_core.decoding.sampler, "
            "noema_core.bench; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_bench_batch_size_compares_the_batch_with_one_prompt_alone():
    result = CliRunner().invoke(app, ["bench", "--model", "tiny-random", "--device", "cpu",
                                      "--mode", "s", "--mode", "ar", "--batch-size", "3",
                                      "--prompts", "4", "--prompt-length", "20",
                                      "--gen-length", "40", "--json"])
    assert result.exit_code == 0, result.output
    runs = json.loads(result.stdout)["runs"]
    assert [(r["mode"], r["batch_size"]) for r in runs] == [("s", 3), ("ar", 3)]
    for run in runs:
        assert run["new_tokens"] == 4 * 40 and run["output_matches_batch1"] is True
        assert 1 <= run["rows_per_forward"] <= 3
        assert run["tokens_per_second"] > 0 and run["batch1_tokens_per_second"] > 0
        assert run["speedup"] == pytest.approx(
            run["tokens_per_second"] / run["batch1_tokens_per_second"], rel=0.01)
