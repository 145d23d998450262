"""Pilot tests of what a newcomer sees: the welcome panel and its example prompts, an empty
reply explained, and the notice when a chat grows past the turns the model was trained on."""

from __future__ import annotations

import dataclasses

from noema_core.decoding.events import GenerationFinished, GenerationResult, GenerationStats
from noema_tui.app.factory import ChatOptions
from noema_tui.app.widgets.prompt_input import PromptInput
from noema_tui.app.widgets.reply_view import ReplyView
from noema_tui.app.widgets.turn_notice import TurnNotice
from noema_tui.app.widgets.welcome_panel import BUNDLED_CARD, NOEMA1_CARD, WelcomePanel
from tests.tui.chat_support import (  # noqa: F401 (isolated_dirs is an autouse fixture)
    TINY_INFO,
    ReplayEngine,
    build_app,
    complete_turn,
    isolated_dirs,
    pilot_test,
    send_prompt,
    wait_for,
)


def _text(widget) -> str:
    return str(widget.render())


@pilot_test
async def test_an_empty_chat_welcomes_with_the_model_and_example_prompts():
    app = build_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: app.query("#welcome-examples"), "the welcome panel")
        panel = app.query_one(WelcomePanel)
        title = _text(panel.query_one(".welcome-panel--title"))
        assert "noema-tiny" in title and "1.2M parameters" in title and "cpu" in title
        assert "fractions" in _text(panel.query_one(".welcome-panel--summary"))
        options = panel.query_one("#welcome-examples")
        assert options.option_count == len(BUNDLED_CARD.examples)


@pilot_test
async def test_an_example_is_picked_with_the_keyboard_or_a_click_and_fills_the_prompt():
    app = build_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: app.query("#welcome-examples"), "the welcome panel")
        prompt = app.query_one(PromptInput)
        await pilot.press("shift+tab")  # from the prompt back to the examples
        assert app.focused.id == "welcome-examples"
        await pilot.press("down", "enter")
        assert prompt.text == BUNDLED_CARD.examples[1] and app.focused is prompt
        prompt.load_text("")
        await pilot.click("#welcome-examples", offset=(2, 0))
        await wait_for(pilot, lambda: prompt.text in BUNDLED_CARD.examples, "a click")


@pilot_test
async def test_the_welcome_goes_with_the_first_prompt_and_comes_back_with_a_new_chat():
    app = build_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await complete_turn(pilot, "Solve 3x + 5 = 20")
        assert not app.query(WelcomePanel)
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.query(WelcomePanel), "the welcome panel again")


def test_a_noema1_checkpoint_gets_its_own_card():
    from noema_tui.app.widgets.welcome_panel import card_for

    assert card_for(TINY_INFO) is BUNDLED_CARD
    other = dataclasses.replace(TINY_INFO, name="/models/noema-1")
    assert card_for(other) is NOEMA1_CARD
    assert card_for(dataclasses.replace(other, max_turns_trained=9)) is BUNDLED_CARD


@pilot_test
async def test_an_empty_reply_is_explained_instead_of_shown_blank():
    stats = GenerationStats(prompt_tokens=12, new_tokens=1, forwards=1, seconds=0.01)
    empty = ReplayEngine(events=[GenerationFinished(GenerationResult((0,), "", stats))])
    app = build_app(engine=empty)
    async with app.run_test(size=(100, 40)) as pilot:
        await send_prompt(pilot, "hi")
        await wait_for(pilot, lambda: app.query(ReplyView) and app.query_one(ReplyView).finished,
                       "the reply")
        body = app.query_one(ReplyView).query_one(".reply--body").source
        assert body.startswith("*The model produced no text:") and "(no text)" not in body
        assert "Ctrl+N" in body


def _notice(app) -> str:
    """The turn notice above the prompt, '' while it is hidden."""
    notice = app.query_one(TurnNotice)
    return _text(notice) if notice.display else ""


@pilot_test
async def test_a_notice_points_at_ctrl_n_while_the_chat_is_past_the_trained_turns():
    engine = ReplayEngine(info=dataclasses.replace(TINY_INFO, max_turns_trained=2))
    app = build_app(engine=engine)
    async with app.run_test(size=(100, 60)) as pilot:
        for n in range(2):
            await complete_turn(pilot, f"Solve {n + 2}x = 4")
        assert _notice(app) == ""
        await complete_turn(pilot, "Solve 5x = 10")
        text = _notice(app)
        assert "up to 2 questions" in text and "Ctrl+N" in text
        await complete_turn(pilot, "Solve 6x = 12")
        assert _notice(app) == text  # still true, still shown, and only one of it
        assert len(app.query(TurnNotice)) == 1
        app.chat_screen.transcript.scroll_home(animate=False)
        await pilot.pause()
        assert _notice(app) == text  # above the prompt: scrolling does not take it away
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: not _notice(app), "a fresh chat")


@pilot_test
async def test_a_resumed_chat_past_the_trained_turns_shows_the_notice_once_loaded():
    info = dataclasses.replace(TINY_INFO, max_turns_trained=1)
    first = build_app(engine=ReplayEngine(info=info))
    async with first.run_test(size=(100, 60)) as pilot:
        for n in range(2):
            await complete_turn(pilot, f"Solve {n + 2}x = 4")
        await wait_for(pilot, lambda: first.chat_screen.session.saver.pending == 0, "saves")
    resumed = build_app(engine=ReplayEngine(info=info), options=ChatOptions(resume=True))
    async with resumed.run_test(size=(100, 60)) as pilot:
        await wait_for(pilot, lambda: resumed.chat_screen.info is not None, "the model")
        await pilot.pause()
        assert "up to 1 question;" in _notice(resumed)


@pilot_test
async def test_no_notice_for_a_model_that_does_not_declare_its_trained_turns():
    app = build_app()  # TINY_INFO declares none
    async with app.run_test(size=(100, 60)) as pilot:
        for n in range(4):
            await complete_turn(pilot, f"Solve {n + 2}x = 4")
        assert _notice(app) == ""


@pilot_test
async def test_a_model_that_reads_no_earlier_turn_says_so_from_the_first_follow_up():
    info = dataclasses.replace(TINY_INFO, max_turns_trained=2, history_exchanges=0)
    app = build_app(engine=ReplayEngine(info=info))
    async with app.run_test(size=(100, 60)) as pilot:
        await wait_for(pilot, lambda: app.query(WelcomePanel), "the welcome panel")
        summary = _text(app.query_one(WelcomePanel).query_one(".welcome-panel--summary"))
        assert "on its own" in summary
        await complete_turn(pilot, "Solve 2x = 4")
        assert _notice(app) == ""
        await complete_turn(pilot, "Solve 3x = 6")
        text = _notice(app)
        assert "answers each question on its own" in text and "/set history all" in text
        for n in range(2):  # past max_turns_trained too: it still reads one question
            await complete_turn(pilot, f"Solve {n + 4}x = 8")
        assert _notice(app) == text


def test_a_window_of_some_exchanges_is_named_once_the_chat_is_longer():
    from noema_tui.app.widgets.turn_notice import turn_notice

    info = dataclasses.replace(TINY_INFO, history_exchanges=2, max_turns_trained=9)
    assert turn_notice(info, 3) is None  # two earlier exchanges: both read
    assert "last 2 exchanges" in turn_notice(info, 4)
    info = dataclasses.replace(info, history_exchanges=1)
    assert "last 1 exchange with" in turn_notice(info, 3)
    whole = dataclasses.replace(info, history_exchanges=None, max_turns_trained=3)
    assert turn_notice(whole, 3) is None and "up to 3 questions" in turn_notice(whole, 4)
