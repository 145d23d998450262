"""`noema --help` and `noema ask --help` stay instant: they import neither torch nor textual
(nor transformers or pydantic, the other slow imports that could creep in)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# pydantic: typer 0.29+ imports it and builds an adapter per option, ~0.13 s on every call
HEAVY = ("torch", "textual", "transformers", "pydantic")
PROBE = f"""
import json, sys
from noema_tui.cli import app
try:
    app(args=sys.argv[1:], prog_name="noema")
except SystemExit as exit:
    code = exit.code
heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)
print(json.dumps({{"code": code, "heavy": heavy}}), file=sys.stderr)
"""


def help_run(*args: str) -> tuple[subprocess.CompletedProcess, dict]:
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    return proc, json.loads(proc.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize("args", [("--help",), ("-h",), ("ask", "--help"), ("ask", "-h")])
def test_help_imports_neither_torch_nor_textual(args):
    proc, probe = help_run(*args)
    assert probe == {"code": 0, "heavy": []}, proc.stderr
    assert "Usage: noema" in proc.stdout


def test_ask_help_documents_every_exit_code_and_decoding_option():
    proc, _ = help_run("ask", "--help")
    text = " ".join(proc.stdout.split())  # the help box wraps lines
    for code in ("0 ok", "1 runtime error", "2 usage", "3 model or device could not load",
                 "4 the checker contradicted the answer (only with --strict)",
                 "130 interrupted"):
        assert code in text
    for option in ("--threshold", "--editing-threshold", "--block-length", "--gen-length",
                   "--max-post-steps", "--temperature", "--top-k", "--top-p", "--steps",
                   "--num-to-transfer", "--stop-at-role-end", "--eos-only", "--attention",
                   "--eos-early-stop", "--no-eos-early-stop", "--seed", "--mode", "--model",
                   "--device", "--quant", "--json", "--strict"):
        assert option in text


def test_version_prints_the_package_version_without_heavy_imports():
    from noema_core import __version__

    proc, probe = help_run("--version")
    assert probe == {"code": 0, "heavy": []}, proc.stderr
    assert proc.stdout.strip() == f"noema {__version__}"
