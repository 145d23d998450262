"""Conversations persist in SQLite after every turn, resume, and list from the command line."""

from __future__ import annotations

import sqlite3

from typer.testing import CliRunner

from noema_tui.app.conversation import Conversation, Turn
from noema_tui.app.factory import ChatOptions
from noema_tui.app.store import ConversationStore, StoreError, data_dir
from noema_tui.app.widgets.prompt_input import PromptInput
from noema_tui.app.widgets.reply_view import ReplyView
from noema_tui.app.widgets.user_message import UserMessage
from noema_tui.cli import app as cli
from tests.tui.chat_support import (  # noqa: F401 (isolated_dirs is an autouse fixture)
    ReplayEngine,
    Stepper,
    build_app,
    isolated_dirs,
    pilot_test,
    saved_store,
    wait_for,
)


def test_data_dir_follows_noema_data_dir_then_xdg(monkeypatch, tmp_path):
    assert data_dir() == tmp_path / "data"
    monkeypatch.delenv("NOEMA_DATA_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_dir() == tmp_path / "xdg" / "noema"


def test_turns_round_trip_with_stats_and_verdicts(tmp_path):
    store = ConversationStore(tmp_path / "c.sqlite3")
    conversation = Conversation(model="noema-tiny")
    store.add_turn(conversation, Turn("user", r"What is $\frac{1}{2} + \frac{1}{2}$?"))
    reply = store.add_turn(conversation, Turn("assistant", r"$1$", mode="S",
                                              stats={"new_tokens": 3, "forwards": 1,
                                                     "seconds": 0.1, "prompt_tokens": 5},
                                              finish_reason="eos"))
    reply.verdict = {"status": "verified", "answer": "1"}
    store.update_turn(reply)
    loaded = ConversationStore(tmp_path / "c.sqlite3").load(conversation.id)
    assert loaded.title == r"What is $\frac{1}{2} + \frac{1}{2}$?"
    assert [(t.role, t.content, t.mode) for t in loaded.turns] == [
        ("user", r"What is $\frac{1}{2} + \frac{1}{2}$?", None), ("assistant", "$1$", "S")]
    assert loaded.turns[1].verdict == {"status": "verified", "answer": "1"}
    assert loaded.turns[1].generation_stats.new_tokens == 3


def test_an_unopenable_store_names_the_fix(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    try:
        ConversationStore(tmp_path / "file" / "c.sqlite3")
    except StoreError as error:
        assert "NOEMA_DATA_DIR" in str(error)
    else:
        raise AssertionError("expected a StoreError")


@pilot_test
async def test_a_kill_mid_reply_loses_only_the_reply_in_flight(tmp_path):
    stepper = Stepper()
    engine = ReplayEngine(stepper=stepper)
    app = build_app(engine=engine)
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: app.chat_screen.info is not None, "the model")
        app.query_one(PromptInput).load_text("first")
        await pilot.press("enter")
        stepper.release(len(engine.events))
        await wait_for(pilot, lambda: app.query(ReplyView) and app.query_one(ReplyView).finished,
                       "reply 1")
        app.query_one(PromptInput).load_text("second")
        await pilot.press("enter")
        stepper.release(2)
        await wait_for(pilot, lambda: len(app.query(ReplyView)) == 2, "reply 2 to start")
        assert app.chat_screen.session.saver.flush(timeout=5)
        # Read the database from another connection while reply 2 is still being decoded,
        # as a fresh process would after a kill.
        with sqlite3.connect(saved_store().path) as other:
            rows = other.execute("SELECT role, content FROM turns ORDER BY id").fetchall()
        assert [r[0] for r in rows] == ["user", "assistant", "user"]
        assert rows[2][1] == "second"
        stepper.release(100)


@pilot_test
async def test_resume_shows_the_last_conversation_and_continues_it(tmp_path):
    first = build_app()
    async with first.run_test() as pilot:
        await wait_for(pilot, lambda: first.chat_screen.info is not None, "the model")
        first.query_one(PromptInput).load_text("Solve 3x + 5 = 20")
        await pilot.press("enter")
        await wait_for(pilot, lambda: first.chat_screen.session.turns[-1].verdict, "the reply")
    engine = ReplayEngine()
    resumed = build_app(engine=engine, options=ChatOptions(resume=True))
    async with resumed.run_test() as pilot:
        await wait_for(pilot, lambda: resumed.chat_screen.info is not None, "the model")
        assert [m.text for m in resumed.query(UserMessage)] == ["Solve 3x + 5 = 20"]
        [old_reply] = resumed.query(ReplyView)
        assert "verified" in str(old_reply.query_one(".reply--verdict").render())
        await pilot.press("up")
        assert resumed.query_one(PromptInput).text == "Solve 3x + 5 = 20"
        resumed.query_one(PromptInput).load_text("and 3x + 5 = 23?")
        await pilot.press("enter")
        await wait_for(pilot, lambda: engine.calls, "the reply")
        assert [m["role"] for m in engine.calls[0][0]] == ["user", "assistant", "user"]
    assert len(saved_store().summaries()) == 1


def test_list_prints_saved_conversations_newest_first(tmp_path):
    store = saved_store()
    for title in ("older question", "newer question"):
        conversation = Conversation(model="noema-tiny")
        store.add_turn(conversation, Turn("user", title))
        store.add_turn(conversation, Turn("assistant", "an answer"))
    result = CliRunner().invoke(cli, ["chat", "--list"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert "newer question" in lines[0] and "older question" in lines[1]
    assert "1 question " in lines[0] and "noema-tiny" in lines[0]  # a prompt and its reply


def test_list_with_nothing_saved_says_so_on_stderr(tmp_path):
    result = CliRunner().invoke(cli, ["chat", "--list"])
    assert result.exit_code == 0 and result.stdout == ""
    assert "no saved conversations" in result.stderr


def test_chat_outside_a_terminal_exits_2_with_one_line(tmp_path):
    result = CliRunner().invoke(cli, ["chat"])
    assert result.exit_code == 2
    assert result.stderr.strip() == ("error: noema chat needs a terminal: for pipes and "
                                     "scripts use noema ask")


def test_resume_restores_the_mode_the_conversation_last_used(tmp_path):
    from noema_core.decoding.settings import Mode
    from noema_tui.app.factory import create_app
    from tests.tui.chat_support import FakeChecker, ReplayLoader

    store = saved_store()
    conversation = Conversation(model="noema-tiny")
    store.add_turn(conversation, Turn("user", "Solve 2x = 4"))
    store.add_turn(conversation, Turn("assistant", "x = 2", mode="AR"))

    def started_in(options: ChatOptions) -> Mode:
        app = create_app(options, loader=ReplayLoader(), checker=FakeChecker(), store=store)
        return app.chat_screen.settings.mode

    assert started_in(ChatOptions(resume=True)) == Mode.AR
    assert started_in(ChatOptions(resume=True, mode="s")) == Mode.SPEED  # --mode still wins
    assert started_in(ChatOptions()) == Mode.QUALITY  # a new conversation
    assert store.summaries()[0].mode == "AR"
