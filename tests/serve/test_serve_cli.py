"""`noema serve` as a real process: binding, the open-host warning, load failures, Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def noema_serve(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # noema_server even in an older install
    env.pop("NOEMA_API_KEY", None)
    return subprocess.Popen([sys.executable, "-m", "noema_tui.cli", "serve", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_another_host_without_a_key_warns_and_a_missing_model_exits_3(tmp_path):
    proc = noema_serve("--model", str(tmp_path / "missing"), "--host", "0.0.0.0",
                       "--port", str(free_port()), "--device", "cpu")
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 3, stderr
    lines = stderr.splitlines()
    assert lines[0].startswith("warning: serving on 0.0.0.0 without --api-key")
    assert lines[-1].startswith("error: checkpoint directory")
    assert "Traceback" not in stderr


def test_serves_until_ctrl_c_then_exits_130(tiny_dir):
    port = free_port()
    proc = noema_serve("--model", str(tiny_dir), "--port", str(port), "--device", "cpu",
                       "--api-key", "k", "--log-level", "warning")
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "noema serve never became healthy"
            try:
                if httpx.get(url + "/health").status_code == 200:
                    break
            except httpx.ConnectError:
                pass
            time.sleep(0.2)
        models = httpx.get(url + "/v1/models", headers={"Authorization": "Bearer k"}).json()
        assert [m["id"] for m in models["data"]] == [tiny_dir.name]
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr  # interrupted, as every command
    assert "warning: serving" not in stderr  # loopback: no warning
    assert f"serving {tiny_dir.name}" in stderr and "Traceback" not in stderr
