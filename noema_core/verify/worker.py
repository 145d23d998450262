"""The checker's worker process: warm, single-threaded, limited, and safe to kill.

Started by `client.WorkerClient` as `python -I -c ... main()`. Protocol: one JSON object per
line. The worker first writes `{"ready": true, "pid": ...}` once sympy and the LaTeX parser are
loaded and warmed up; then for each request line `{"id", "answer", "question", "reference"}`
it writes `{"id", "verdict": {...}}`. It exits when its stdin closes.

Limits set here: the address space (a runaway computation hits MemoryError, not the machine's
swap) and, before each request, a CPU-time limit a little past the request's deadline (the
kernel stops the process if the parent somehow failed to). The wall-clock deadline itself is
the parent's job: it kills this process when a request overruns.
"""

from __future__ import annotations

import json
import logging
import math
import os
import resource
import signal
import sys

from noema_core.verify.limits import WORKER_CPU_SLACK_S, WORKER_MEMORY_BYTES


def _limit_memory() -> None:
    limit = int(os.environ.get("NOEMA_VERIFY_MEMORY_BYTES", WORKER_MEMORY_BYTES))
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _limit_cpu(seconds: float) -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = usage.ru_utime + usage.ru_stime
    soft = int(math.ceil(used + seconds + WORKER_CPU_SLACK_S))
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _warm_up() -> None:
    """Import sympy and the ANTLR parser and run them once, so the first check is fast."""
    from noema_core.verify.judge import judge

    judge("\\frac{1}{2}", reference="0.5")
    judge("x = 2", question="Solve x + 1 = 3")


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent, which kills us
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints must not corrupt replies
    logging.disable(logging.WARNING)  # math-verify logs timeouts/parse failures per call
    _limit_memory()
    _warm_up()
    from noema_core.verify.judge import judge

    protocol.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")
    protocol.flush()
    for line in sys.stdin:
        request = json.loads(line)
        _limit_cpu(float(request.get("deadline_s", 5.0)))
        restart = False
        try:
            verdict = judge(request["answer"], request.get("question"),
                            request.get("reference"), tuple(request.get("earlier") or ())
                            ).to_dict()
        except MemoryError:
            verdict = {"status": "unverifiable", "method": "limits",
                       "reason": "the check ran out of memory"}
            restart = True  # a fresh process rather than one that just ran out of memory
        except Exception as err:  # a bug in the checker: report it rather than die silently
            verdict = {"status": "unverifiable", "method": "error",
                       "reason": f"internal error in the checker: {type(err).__name__}: {err}"}
        protocol.write(json.dumps({"id": request["id"], "verdict": verdict}) + "\n")
        protocol.flush()
        if restart:
            return


if __name__ == "__main__":
    main()
