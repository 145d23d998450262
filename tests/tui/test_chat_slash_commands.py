"""Slash commands in the prompt (/help, /new, /mode, /set, /export) and small chat papercuts."""

from __future__ import annotations

import dataclasses
import io

from rich.console import Console

from noema_core.decoding.settings import Mode
from noema_core.engine import Engine
from noema_tui.app.screens.help_screen import HelpScreen
from noema_tui.app.widgets.prompt_input import PromptInput
from noema_tui.app.widgets.reply_view import ReplyView
from noema_tui.app.widgets.status_line import StatusLine
from noema_tui.app.widgets.turn_notice import TurnNotice
from tests.tui.chat_support import (  # noqa: F401 (isolated_dirs is an autouse fixture)
    TINY_INFO,
    ReplayEngine,
    Stepper,
    build_app,
    complete_turn,
    isolated_dirs,
    load_trace,
    pilot_test,
    send_prompt,
    toasts,
    wait_for,
    wait_for_forward,
)

PROMPT = load_trace()[0]



async def type_command(pilot, command: str) -> None:
    await wait_for(pilot, lambda: pilot.app.chat_screen.info is not None, "the model")
    pilot.app.query_one(PromptInput).load_text(command)
    await pilot.press("enter")


@pilot_test
async def test_unknown_command_lists_every_command_and_stays_in_the_prompt(tmp_path):
    app = build_app()
    async with app.run_test(notifications=True) as pilot:
        await type_command(pilot, "/frobnicate now")
        await wait_for(pilot, lambda: toasts(app), "the notice")
        for name in ("/help", "/new", "/mode", "/set", "/export"):
            assert name in toasts(app)
        assert app.query_one(PromptInput).text == "/frobnicate now"


@pilot_test
async def test_help_command_opens_help_with_the_commands_and_glyphs(tmp_path):
    app = build_app()
    async with app.run_test(size=(100, 50)) as pilot:
        await type_command(pilot, "/help")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        console = Console(width=100, record=True, file=io.StringIO())
        for static in app.screen.query("Static"):
            console.print(static.content)
        text = console.export_text()
        assert "/set name value" in text and "/mode q|s|ar" in text
        assert "∎" in text and "⟦" in text
        assert "linear and quadratic equations" in text  # what the loaded model answers
        assert app.chat_screen.prompt.text == ""


@pilot_test
async def test_mode_command_switches_the_mode_and_rejects_unknown_ones(tmp_path):
    app = build_app()
    async with app.run_test(notifications=True) as pilot:
        await type_command(pilot, "/mode S")
        assert app.chat_screen.settings.mode is Mode.SPEED
        assert app.query_one(StatusLine).mode == "S"
        await type_command(pilot, "/mode turbo")
        await wait_for(pilot, lambda: "unknown mode" in toasts(app), "the error")
        assert app.chat_screen.settings.mode is Mode.SPEED
        assert app.query_one(PromptInput).text == "/mode turbo"


@pilot_test
async def test_set_command_validates_and_applies_a_parameter(tmp_path):
    app = build_app()
    async with app.run_test(notifications=True) as pilot:
        await type_command(pilot, "/set gen_length 64")
        assert app.chat_screen.settings.gen_length == 64
        assert app.query_one(StatusLine).mode == "Q custom"
        await type_command(pilot, "/set eos_early_stop off")
        assert app.chat_screen.settings.eos_early_stop is False
        await type_command(pilot, "/set threshold 1.5")
        await wait_for(pilot, lambda: "out of range" in toasts(app), "the range error")
        assert app.chat_screen.settings.threshold != 1.5
        await type_command(pilot, "/set colour blue")
        await wait_for(pilot, lambda: "unknown setting 'colour'" in toasts(app), "the name error")


@dataclasses.dataclass
class WindowedEngine(ReplayEngine):
    """A local engine: it can change how much of the chat the model reads."""

    set_history_exchanges = Engine.set_history_exchanges


@pilot_test
async def test_set_history_changes_what_the_model_reads_from_the_next_reply(tmp_path):
    engine = WindowedEngine(info=dataclasses.replace(TINY_INFO, history_exchanges=0))
    app = build_app(engine=engine)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await complete_turn(pilot, "Solve 2x = 4")
        await complete_turn(pilot, "Solve 3x = 6")
        assert "on its own" in str(app.query_one(TurnNotice).render())
        await type_command(pilot, "/set history all")
        await wait_for(pilot, lambda: "reads the whole conversation" in toasts(app), "notice")
        assert engine.info.history_exchanges is None and app.chat_screen.info is engine.info
        assert not app.query_one(TurnNotice).display  # two questions: within what it reads
        await type_command(pilot, "/set history 1")
        assert engine.info.history_exchanges == 1
        await type_command(pilot, "/set history lots")
        await wait_for(pilot, lambda: "history 'lots'" in toasts(app), "the error")
        assert engine.info.history_exchanges == 1
        assert app.query_one(PromptInput).text == "/set history lots"


@pilot_test
async def test_set_history_is_refused_where_the_engine_cannot_change_it(tmp_path):
    app = build_app()  # like a server's engine: no set_history_exchanges
    async with app.run_test(notifications=True) as pilot:
        await type_command(pilot, "/set history 2")
        await wait_for(pilot, lambda: "decodes on a server" in toasts(app), "the refusal")


@pilot_test
async def test_new_command_and_ctrl_n_clear_the_chat_and_the_status_counts(tmp_path):
    app = build_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await complete_turn(pilot, PROMPT)
        status = app.query_one(StatusLine)
        assert status.forwards > 0
        await type_command(pilot, "/new")
        await wait_for(pilot, lambda: not app.query(ReplyView), "an empty chat")
        assert status.forwards == 0 and "tok/s" not in str(status.render())
        assert app.chat_screen.session.turns == []


@pilot_test
async def test_regenerate_after_stop_does_not_leave_the_prompt_to_be_sent_twice(tmp_path):
    stepper = Stepper()
    engine = ReplayEngine(stepper=stepper)
    app = build_app(engine=engine)
    async with app.run_test(size=(100, 40)) as pilot:
        await send_prompt(pilot, PROMPT)
        stepper.release(2)
        await wait_for_forward(pilot, 2)
        await pilot.press("escape")
        stepper.release()
        await wait_for(pilot, lambda: app.query(ReplyView).first().finished, "the stop")
        assert app.query_one(PromptInput).text == PROMPT  # put back for editing
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: len(engine.calls) == 2, "the regeneration")
        assert app.query_one(PromptInput).text == ""
