"""Ending `noema chat` from inside (Ctrl+Q) or outside (SIGTERM, SIGHUP) loses nothing.

A reply in flight is kept as far as it was decoded, marked stopped, and saved; the terminal
is given back (alternate screen left, mouse reporting off); a signal exits 128 + its number.
"""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

import pytest

from noema_tui.app import chat_app
from noema_tui.app.widgets.reply_view import ReplyView
from tests.faults.pty_support import TerminalRun
from tests.tui.chat_support import (  # noqa: F401 (isolated_dirs is an autouse fixture)
    ReplayEngine,
    Stepper,
    build_app,
    isolated_dirs,
    pilot_test,
    saved_store,
    send_prompt,
    wait_for,
    wait_for_forward,
)


def saved_turns() -> list[tuple[str, str, str | None]]:
    store = saved_store()
    [summary] = store.summaries()
    return [(t.role, t.content, t.finish_reason) for t in store.load(summary.id).turns]


async def reply_in_flight(pilot, stepper: Stepper) -> None:
    await send_prompt(pilot, "Solve 3x + 5 = 20")
    stepper.release(3)  # three forwards of the first block
    await wait_for_forward(pilot, 3)


@pilot_test
async def test_ctrl_q_during_a_reply_keeps_the_partial_reply_marked_stopped():
    stepper = Stepper()
    app = build_app(engine=ReplayEngine(stepper=stepper))
    async with app.run_test() as pilot:
        await reply_in_flight(pilot, stepper)
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: not app.is_running, "the app to exit")
    assert app.return_code == 0
    [prompt, reply] = saved_turns()
    assert prompt[1] == "Solve 3x + 5 = 20"
    assert reply[2] == "cancelled" and reply[1].strip()  # the decoded text, marked stopped


@pytest.mark.parametrize(("number", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
@pilot_test
async def test_a_signal_during_a_reply_saves_it_and_exits_128_plus_the_signal(number, code):
    stepper = Stepper()
    app = build_app(engine=ReplayEngine(stepper=stepper))
    async with app.run_test() as pilot:
        await reply_in_flight(pilot, stepper)
        app.quit_on_signal(number)  # what the loop's signal handler calls
        await wait_for(pilot, lambda: not app.is_running, "the app to exit")
    assert app.return_code == code
    assert saved_turns()[-1][2] == "cancelled"


class StuckStepper(Stepper):
    """A forward that does not end when asked (a large model on a slow device)."""

    def wait(self, cancel) -> None:
        while not self._allowed.acquire(timeout=0.02):
            pass


@pilot_test
async def test_a_forward_too_slow_to_wait_for_still_keeps_the_blocks_drawn(monkeypatch):
    monkeypatch.setattr(chat_app, "STOP_WAIT_SECONDS", 0.3)
    stepper = StuckStepper()
    app = build_app(engine=ReplayEngine(stepper=stepper))
    try:
        async with app.run_test() as pilot:
            await reply_in_flight(pilot, stepper)
            drawn = app.query_one(ReplyView).live_block.decoded_text()
            assert drawn.strip()
            await pilot.press("ctrl+q")
            await wait_for(pilot, lambda: not app.is_running, "the app to exit")
    finally:
        stepper.release(1000)
    assert saved_turns()[-1] == ("assistant", drawn, "cancelled")


# ----------------------------------------------------------------- the real process


def run_in_a_terminal(data: Path, signal_number: int) -> tuple[int, bytes, list[str]]:
    """`noema chat` (the bundled model) in a pseudo-terminal: send a prompt, then a signal."""
    run = TerminalRun(["chat"], {"NOEMA_DATA_DIR": str(data)})
    try:
        assert run.read_until(b"quant none", 50), run.output[-400:]  # the model loaded
        time.sleep(0.5)
        run.type("Solve 3x + 5 = 20\r")
        time.sleep(1.5)
        run.process.send_signal(signal_number)
        code = run.finish()
    finally:
        run.close()
    with sqlite3.connect(data / "conversations.sqlite3") as db:
        contents = [row[0] for row in db.execute("SELECT content FROM turns ORDER BY id")]
    db.close()
    return code, bytes(run.output), contents


@pytest.mark.parametrize(("number", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_noema_chat_in_a_terminal_restores_it_and_saves_on_a_signal(tmp_path, number, code):
    exit_code, output, contents = run_in_a_terminal(tmp_path / "data", number)
    assert exit_code == code
    assert output.rfind(b"\x1b[?1049l") > output.rfind(b"\x1b[?1049h")  # alternate screen left
    assert output.rfind(b"\x1b[?1000l") > output.rfind(b"\x1b[?1000h")  # mouse reporting off
    assert b"Traceback" not in output
    assert contents[0] == "Solve 3x + 5 = 20"


@pilot_test
async def test_quit_from_the_command_palette_also_keeps_the_partial_reply():
    stepper = Stepper()
    app = build_app(engine=ReplayEngine(stepper=stepper))
    async with app.run_test() as pilot:
        await reply_in_flight(pilot, stepper)
        await pilot.press("ctrl+p")
        await pilot.press(*"quit")
        await wait_for(pilot, lambda: app.screen.query("CommandList") and
                       app.screen.query_one("CommandList").option_count, "palette hits")
        await pilot.press("enter")
        await wait_for(pilot, lambda: not app.is_running, "the app to exit")
    assert saved_turns()[-1][2] == "cancelled"
