"""Escape sequences from a model, a checkpoint or the store never reach the terminal raw.

A tokenizer whose pieces set the window title (`ESC ] 0 ; ... BEL`) or colours (`ESC [ 31 m`)
is decoded in a real terminal: the sequences are shown as symbols (U+241B for ESC) instead of
obeyed, in `noema ask`, in the chat's live reply and `--resume`, in `noema chat --list` and in
`noema verify`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from noema_core.decoding.events import BlockUpdated, TokenState
from noema_core.loading import save_checkpoint
from noema_tui.app.conversation import Conversation, Turn
from noema_tui.app.widgets.live_block import LiveBlock
from noema_tui.app.widgets.reply_view import ReplyView
from noema_tui.cli import app as cli
from noema_tui.live_view import LiveBlockView
from noema_tui.terminal_text import visible
from tests.engine.conftest import tiny_model, write_tokenizer
from tests.faults.pty_support import TerminalRun
from tests.tui.chat_support import (  # noqa: F401 (isolated_dirs is an autouse fixture)
    ReplayEngine,
    build_app,
    isolated_dirs,
    pilot_test,
    saved_store,
    send_prompt,
    wait_for,
)

TITLE = "\x1b]0;pwned\x07"  # sets the terminal window's title
RED = "\x1b[31m"
CLEAR = "\x1b[2J"
HOSTILE = f"The answer is {TITLE}{RED}5{CLEAR}\r"


def test_control_characters_are_shown_as_symbols_and_layout_is_kept():
    assert visible(HOSTILE) == "The answer is ␛]0;pwned␇␛[31m5␛[2J␍"
    assert visible("a\tb\nc\x7f\x9b") == "a\tb\nc\u2421\ufffd"
    assert visible("two\nlines\t", one_line=True) == "two␤lines␉"


@pytest.fixture(scope="module")
def hostile_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("hostile-tokenizer")
    save_checkpoint(tiny_model(seed=3, dtype=torch.float32), directory)
    # Every ordinary piece carries an escape sequence; with the special tokens, 128 in all.
    write_tokenizer(directory, [f"{TITLE}t{i}" if i % 2 else f"\x1b[3{i % 8}mc{i}"
                                for i in range(118)])
    return directory


def test_noema_ask_in_a_terminal_shows_a_tokenizers_escapes_instead_of_obeying_them(
        hostile_checkpoint, tmp_path):
    run = TerminalRun(["ask", "--model", str(hostile_checkpoint), "--device", "cpu",
                       "--gen-length", "32", "hi"], {"NOEMA_DATA_DIR": str(tmp_path)})
    try:
        code = run.finish(limit=50)
    finally:
        run.close()
    output = bytes(run.output)
    assert code in (0, 1, 4, 5), output[-500:]  # answered (verdict aside), no crash
    assert b"Traceback" not in output
    assert b"]0;pwned" not in output.replace("␛]0;pwned".encode(), b"")  # never raw
    assert "␛".encode() in output  # the pieces were decoded and drawn as symbols


def test_the_live_block_of_noema_ask_draws_pieces_as_symbols():
    update = BlockUpdated(0, 1, (5, 6), (TokenState.UNMASKED, TokenState.STABLE), (0.9, 0.9),
                          (TITLE, RED + "x"), 0)
    drawn = str(LiveBlockView.slots(update))
    assert "\x1b" not in drawn and "␛]0;pwned␇" in drawn


@pilot_test
async def test_the_chat_draws_a_live_reply_and_its_text_without_raw_escapes():
    engine = ReplayEngine()
    for index, event in enumerate(engine.events):  # the recorded trace, with hostile pieces
        if isinstance(event, BlockUpdated) and event.pieces:
            engine.events[index] = BlockUpdated(
                event.block_index, event.forward, event.token_ids, event.states,
                event.confidences, tuple(TITLE + p for p in event.pieces), event.edits)
    app = build_app(engine=engine)
    async with app.run_test() as pilot:
        await send_prompt(pilot, f"Solve {RED}3x + 5 = 20")
        await wait_for(pilot, lambda: app.query(LiveBlock) and app.query_one(LiveBlock).snapshot,
                       "a live block")
        drawn = str(app.query_one(LiveBlock).render())
        assert "\x1b" not in drawn and "␛]0;pwned␇" in drawn


def test_resume_and_list_show_stored_escapes_as_symbols(tmp_path):
    store = saved_store()
    conversation = Conversation(model="noema-tiny")
    store.add_turn(conversation, Turn("user", f"Solve {TITLE}3x = 6"))
    store.add_turn(conversation, Turn("assistant", HOSTILE, mode="Q", finish_reason="eos"))
    listed = CliRunner().invoke(cli, ["chat", "--list"])
    assert listed.exit_code == 0 and "\x1b" not in listed.stdout
    assert "Solve ␛]0;pwned␇3x = 6" in listed.stdout
    run = TerminalRun(["chat", "--resume"], {"NOEMA_DATA_DIR": str(tmp_path / "data")})
    try:
        assert run.read_until("␛[31m5".encode(), 40), bytes(run.output)[-600:]
        run.type("\x11")  # Ctrl+Q
        run.finish()
    finally:
        run.close()
    output = bytes(run.output).replace("␛]0;pwned".encode(), b"")
    assert b"]0;pwned" not in output


@pilot_test
async def test_a_resumed_reply_widget_holds_no_control_characters():
    from noema_tui.app.factory import ChatOptions

    store = saved_store()
    conversation = Conversation(model="noema-tiny")
    store.add_turn(conversation, Turn("user", "q"))
    store.add_turn(conversation, Turn("assistant", HOSTILE, mode="Q", finish_reason="eos",
                                      verdict={"status": "verified", "answer": TITLE + "5"}))
    app = build_app(options=ChatOptions(resume=True))
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: app.query(ReplyView), "the saved reply")
        view = app.query_one(ReplyView)
        assert view.raw_text == HOSTILE  # kept exactly for copy and export
        verdict = str(view.query_one(".reply--verdict").render())
        assert "\x1b" not in verdict and "␛]0;pwned␇5" in verdict


def test_noema_verify_prints_the_models_escapes_as_symbols():
    result = CliRunner().invoke(cli, ["verify", HOSTILE, "--reference", "5"])
    assert "\x1b" not in result.stdout and "\r" not in result.stdout
    assert result.stdout.strip()
