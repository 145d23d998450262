"""Every action from the palette, copying raw replies, new conversations, CLI usage errors."""

from __future__ import annotations

from typer.testing import CliRunner

from noema_tui.app.chat_app import CHAT_COMMANDS
from noema_tui.app.widgets.user_message import UserMessage
from noema_tui.cli import app as cli
from tests.tui.chat_support import (  # noqa: F401 (isolated_dirs is an autouse fixture)
    ReplayEngine,
    build_app,
    complete_turn,
    isolated_dirs,
    load_trace,
    pilot_test,
    saved_store,
    send_prompt,
    wait_for,
)

PROMPT = load_trace()[0]


@pilot_test
async def test_the_palette_offers_every_chat_action_and_each_theme(tmp_path):
    app = build_app()
    async with app.run_test():
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {title for title, _, _ in CHAT_COMMANDS} <= titles
        assert {"Noema theme: noema-dark", "Noema theme: noema-light", "Help"} <= titles
        cycle = next(c for c in app.get_system_commands(app.screen)
                     if c.title == "Cycle decoding mode")
        await cycle.callback()  # the palette awaits what a command returns
        assert app.chat_screen.settings.mode.label == "S"


@pilot_test
async def test_copy_puts_the_raw_latex_of_the_last_reply_on_the_clipboard(tmp_path):
    app = build_app()
    async with app.run_test() as pilot:
        await complete_turn(pilot, PROMPT)
        await pilot.press("f4")
        assert app.clipboard == app.chat_screen.session.turns[-1].content
        assert r"\frac{15}{3}" in app.clipboard


@pilot_test
async def test_the_palette_copies_any_message_and_the_notice_says_how_to_enable_osc52(tmp_path):
    app = build_app()
    async with app.run_test(notifications=True) as pilot:
        await complete_turn(pilot, PROMPT)
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        question = next(c for t, c in commands.items() if t.startswith("Copy question 1"))
        question.callback()
        assert app.clipboard == PROMPT  # the first message, not only the last reply
        reply = next(c for title, c in commands.items() if title.startswith("Copy reply 1"))
        reply.callback()
        assert app.clipboard == app.chat_screen.session.turns[1].content
        await pilot.pause()
        notices = " ".join(str(toast.render()) for toast in app.screen.query("Toast"))
        assert "OSC 52" in notices and "set-clipboard" in notices


@pilot_test
async def test_copy_skips_a_failed_reply_and_takes_the_last_real_one(tmp_path):
    engine = ReplayEngine()
    app = build_app(engine=engine)
    async with app.run_test() as pilot:
        await complete_turn(pilot, PROMPT)
        engine.fail_with = RuntimeError("boom")
        await send_prompt(pilot, "again")
        await wait_for(pilot, lambda: app.query(".reply--failure"), "the failure")
        await pilot.press("f4")
        assert r"\frac{15}{3}" in app.clipboard


@pilot_test
async def test_new_conversation_clears_the_screen_and_saves_separately(tmp_path):
    app = build_app()
    async with app.run_test() as pilot:
        await complete_turn(pilot, PROMPT)
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: not app.query(UserMessage), "a clear transcript")
        await complete_turn(pilot, "second conversation")
    titles = [summary.title for summary in saved_store().summaries()]
    assert titles == ["second conversation", PROMPT]


def test_unknown_theme_is_a_usage_error_before_the_screen_is_taken(tmp_path):
    result = CliRunner().invoke(cli, ["chat", "--theme", "neon"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: theme 'neon' does not exist: choose one of ")


def test_unknown_conversation_id_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(cli, ["chat", "--conversation", "42"])
    assert result.exit_code == 2
    assert "there is no conversation 42: see `noema chat --list`" in result.stderr
