"""Time the chat app's first and second reply headlessly (Pilot), as a user meets them.

For each reply: the wall time from Enter to the reply drawn and stored, the engine's own
decode time for it (the reply's stats), the CPU time this process spent meanwhile, the CPU
time the checker's worker process spent meanwhile (a worker still importing sympy competes
with the reply), and Enter to the verdict shown. `--settle S` waits S seconds after the
model loaded before the first Enter ("the user types"); `--settle 0` sends the moment the
model is up, as a user who clicks an example at once does.

    python scripts/measure_first_reply.py [--runs 3] [--settle 0 5] [--no-warm-up]

Prints one line per reply and the medians per settle time. Each run is a fresh app in this
process, not a fresh process: only the first run of a process pays Python's and PyTorch's
first-call costs, so run the script several times with --runs 1 for cold-process figures.
On a shared machine wall times swing with the load: note `uptime` beside them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from noema_core import verify
from noema_tui.app.factory import ChatOptions, EngineFromOptions, create_app
from noema_tui.app.screens.chat_screen import ChatScreen
from noema_tui.app.widgets.reply_view import ReplyView

QUESTIONS = ["Solve 3x + 5 = 20", "What is 48 + 37?"]
TIMEOUT_S = 120.0
FINAL = {"-verified", "-contradicted", "-unverifiable"}  # the verdict line once checked


class NoWarmUp(EngineFromOptions):
    """The real loader without its warm-up decode, to see what the warm-up saves."""

    warm_up = None  # the bridge skips a loader whose warm_up is None


def checker_cpu() -> float:
    """CPU seconds the checker's worker process has used so far (0 if none runs). Reads the
    client's process handle, which only a measurement should."""
    proc = getattr(verify._client, "_proc", None)
    if proc is None:
        return 0.0
    try:
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def wait_for(condition: Callable[[], bool], timeout: float = TIMEOUT_S) -> float:
    """Poll every 20 ms: a tighter loop costs the UI thread enough CPU (and the decoding
    thread enough waits for the GIL) to slow the reply it measures."""
    start = time.perf_counter()
    while not condition():
        if time.perf_counter() - start > timeout:
            raise TimeoutError("the app did not get there in time")
        await asyncio.sleep(0.02)
    return time.perf_counter()


async def one_reply(pilot, screen: ChatScreen, question: str) -> dict[str, float | str]:
    before = len(screen.query(ReplyView))
    turns_after = len(screen.session.turns) + 2
    screen.prompt.load_text(question)
    start, cpu, worker = time.perf_counter(), time.process_time(), checker_cpu()
    await pilot.press("enter")

    def stored() -> bool:  # drawn in full, then stored: the screen's last step of a reply
        turns = screen.session.turns
        if len(turns) < turns_after:  # cheap: no DOM query until the reply is stored
            return False
        replies = screen.query(ReplyView)
        return len(replies) > before and replies.last().finished

    done = await wait_for(stored)
    cpu, worker = time.process_time() - cpu, checker_cpu() - worker
    turn = screen.session.turns[-1]
    verdict = screen.query(ReplyView).last().query_one(".reply--verdict")
    checked = done
    if turn.finish_reason != "failed":
        checked = await wait_for(lambda: bool(FINAL & set(verdict.classes)))
    stats = turn.stats or {}
    return {"reply": done - start, "engine": float(stats.get("seconds", 0.0)), "cpu": cpu,
            "worker": worker, "verdict": checked - start, "end": turn.finish_reason or "",
            "tokens": stats.get("new_tokens", 0)}


async def one_run(settle: float, warm_up: bool) -> list[dict[str, float | str]]:
    options = ChatOptions()
    loader = None if warm_up else NoWarmUp(options.model)
    app = create_app(options, loader=loader, store=None)
    rows = []
    async with app.run_test(size=(120, 40)) as pilot:
        opened = time.perf_counter()
        screen = app.chat_screen
        loaded = await wait_for(lambda: screen.info is not None)
        await asyncio.sleep(settle)  # load + warm-up while "the user types"
        for question in QUESTIONS:
            row = await one_reply(pilot, screen, question)
            rows.append({"load": loaded - opened, **row})
            await pilot.pause()
    return rows


def describe(row: dict[str, float | str]) -> str:
    return (f"Enter->reply {row['reply']:.2f} s (engine {row['engine']:.2f} s, process CPU "
            f"{row['cpu']:.2f} s, checker worker CPU {row['worker']:.2f} s), Enter->verdict "
            f"{row['verdict']:.2f} s, load {row['load']:.2f} s, {row['tokens']} tokens, "
            f"ended: {row['end']}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--settle", type=float, nargs="+", default=[0.0, 5.0])
    parser.add_argument("--no-warm-up", action="store_true",
                        help="use the loader without its warm-up decode (a before figure)")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}; warm-up "
          f"{'off' if args.no_warm_up else 'on'}", flush=True)
    for settle in args.settle:
        table: dict[str, list[float]] = {}
        for run in range(args.runs):
            rows = asyncio.run(one_run(settle, not args.no_warm_up))
            for n, row in enumerate(rows, start=1):
                for key, value in row.items():
                    if not isinstance(value, str):
                        table.setdefault(f"{key}{n}", []).append(value)
                print(f"settle {settle:g} s, run {run + 1}, reply {n}: {describe(row)}",
                      flush=True)
        med = {key: statistics.median(values) for key, values in table.items()}
        print(f"median, settle {settle:g} s (load average {os.getloadavg()[0]:.2f}): " + ", ".join(
            f"reply {n} {med[f'reply{n}']:.2f} s (engine {med[f'engine{n}']:.2f}, CPU "
            f"{med[f'cpu{n}']:.2f}, checker {med[f'worker{n}']:.2f}, verdict "
            f"{med[f'verdict{n}']:.2f})" for n in (1, 2)), flush=True)


if __name__ == "__main__":
    main()
