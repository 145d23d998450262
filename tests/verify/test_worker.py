"""The worker process: deadline, kill and respawn, crash recovery, limits, clean exit.

Fake workers (tiny scripts speaking the same protocol) make the supervisor's paths
deterministic; the real worker shows the same path with a genuinely slow input.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from noema_core.verify.client import WorkerClient

READY = "import json, sys; print(json.dumps({'ready': True}), flush=True); sys.stdin.readline(); "
HANGS = [sys.executable, "-c", READY + "import time; time.sleep(60)"]
CRASHES = [sys.executable, "-c", READY + "import os; os._exit(3)"]
NEVER_READY = [sys.executable, "-c", "import time; time.sleep(60)"]
REQUEST = {"answer": "5", "reference": "5"}
SLOW_REFERENCE = "\\binom{10^{6}}{5 \\cdot 10^{5}}"  # computed while parsing: seconds of work


@pytest.fixture
def client_for():
    clients = []

    def make(command=None) -> WorkerClient:
        clients.append(WorkerClient(command))
        return clients[-1]
    yield make
    for client in clients:
        client.close()


def test_overrunning_worker_is_killed_and_replaced(client_for):
    client = client_for(HANGS)
    client.warm_up(wait=10)
    first = client.pid
    verdict = client.run(REQUEST, timeout=0.5)
    assert verdict.status == "unverifiable" and verdict.method == "timeout"
    assert "timed out" in verdict.reason and "restarted" in verdict.reason
    assert client.restarts == 1
    assert client.pid is not None and client.pid != first  # the replacement is already starting
    assert_process_gone(first)


def test_crashed_worker_is_reported_and_replaced(client_for):
    client = client_for(CRASHES)
    verdict = client.run(REQUEST, timeout=10)
    assert verdict.status == "unverifiable" and verdict.method == "crash"
    assert "exit status 3" in verdict.reason
    assert client.restarts == 1 and client.pid is not None


def test_a_worker_still_starting_at_the_deadline_is_left_to_finish(client_for):
    client = client_for(NEVER_READY)
    verdict = client.run(REQUEST, timeout=0.3)
    assert verdict.status == "unverifiable" and "still starting" in verdict.reason
    assert client.restarts == 0 and client.pid is not None


def test_real_worker_times_out_on_slow_work_then_answers_again(client_for):
    client = client_for()
    assert client.warm_up(wait=60)
    slow = client.run({"answer": "0", "reference": SLOW_REFERENCE}, timeout=1.0)
    assert (slow.status, slow.method) == ("unverifiable", "timeout")
    assert client.restarts == 1
    again = client.run({"answer": "\\frac{7}{12}", "reference": "7/12"}, timeout=60)
    assert again.status == "verified"


def test_real_worker_runs_under_memory_and_cpu_limits(client_for):
    client = client_for()
    assert client.run(REQUEST, timeout=60).status == "verified"
    limits = Path(f"/proc/{client.pid}/limits").read_text()
    address_space = next(line for line in limits.splitlines() if "address space" in line)
    cpu_time = next(line for line in limits.splitlines() if "cpu time" in line)
    soft_address_space, soft_cpu = address_space.split()[3], cpu_time.split()[3]
    assert soft_address_space != "unlimited" and int(soft_address_space) <= 2 * 1024**3
    assert soft_cpu != "unlimited"


def test_concurrent_checks_from_several_threads_each_get_their_own_verdict(checker):
    cases = [("\\boxed{5}", "5", "verified"), ("\\boxed{6}", "5", "contradicted"),
             ("\\boxed{\\frac{7}{12}}", "7/12", "verified"),
             ("\\boxed{x = 2}", "3", "contradicted")]
    results: dict[int, str] = {}

    def run(index: int) -> None:
        response, reference, _ = cases[index % len(cases)]
        results[index] = checker(response, reference=reference, timeout=30).status
    threads = [threading.Thread(target=run, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: cases[i % len(cases)][2] for i in range(12)}


def test_the_worker_is_stopped_when_the_calling_interpreter_exits():
    script = ("from noema_core import verify; verify.warm_up(wait=60); "
              "print(verify._get_client().pid, flush=True)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert_process_gone(int(done.stdout))


def assert_process_gone(pid: int) -> None:
    status = Path(f"/proc/{pid}/status")
    assert not status.exists() or "zombie" in status.read_text()
