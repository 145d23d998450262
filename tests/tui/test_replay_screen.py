"""The in-app replay view (F5): step through a finished reply's forwards, play them, colour
slots by confidence, see the token an edit replaced; for a live reply and one from history."""

from __future__ import annotations

from noema_tui.app.factory import ChatOptions
from noema_tui.app.screens.replay_screen import ReplayScreen
from noema_tui.app.widgets.replay_block import HEAT_CLASSES, ReplayBlock
from tests.tui.chat_support import (  # noqa: F401 (isolated_dirs is an autouse fixture)
    build_app,
    complete_turn,
    isolated_dirs,
    load_trace,
    pilot_test,
    wait_for,
)

PROMPT = load_trace()[0]


def counter(app) -> str:
    return str(app.screen.query_one(".replay--counter").render())


def block_text(app) -> str:
    return app.screen.query_one(ReplayBlock).render().plain


async def open_replay(pilot) -> ReplayScreen:
    await complete_turn(pilot, PROMPT)
    await pilot.press("f5")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ReplayScreen), "the replay")
    return pilot.app.screen


@pilot_test
async def test_arrows_home_and_end_step_through_every_forward():
    app = build_app()
    async with app.run_test() as pilot:
        screen = await open_replay(pilot)
        frames = len(screen.frames)
        assert frames == len(app.chat_screen.session.turns[-1].trace) > 3
        assert counter(app).startswith(f"forward {frames}/{frames}")  # opens as it ended
        await pilot.press("home")
        assert counter(app).startswith(f"forward 1/{frames} · block 1/")
        assert "░" in block_text(app)  # the first forward still has masked slots
        await pilot.press("right", "right")
        assert counter(app).startswith(f"forward 3/{frames}")
        await pilot.press("left")
        assert counter(app).startswith(f"forward 2/{frames}")
        await pilot.press("left", "left", "left")  # stops at the first forward
        assert counter(app).startswith(f"forward 1/{frames}")
        await pilot.press("end")
        assert screen.position == frames - 1
        await pilot.press("escape")
        assert app.screen is app.chat_screen


@pilot_test
async def test_an_edit_shows_the_token_it_replaced():
    app = build_app()
    async with app.run_test() as pilot:
        screen = await open_replay(pilot)
        await pilot.press("home")
        for _ in range(len(screen.frames)):
            if screen.block.replaced:
                break
            await pilot.press("right")
        assert screen.block.replaced == {slot: " 12" for slot in screen.block.replaced}
        assert "⟨12⟩" in block_text(app) and " 20" in block_text(app)


@pilot_test
async def test_c_colours_by_confidence_with_a_legend_and_back():
    app = build_app()
    async with app.run_test() as pilot:
        screen = await open_replay(pilot)
        legend = screen.query_one(".replay--legend")
        by_state = screen.block.render()
        assert not legend.display
        await pilot.press("c")
        assert screen.block.by_confidence and legend.display
        assert "0.95–1.00" in str(legend.render())
        heat = {screen.block.get_component_rich_style(name) for name in HEAT_CLASSES}
        spans = {span.style for span in screen.block.render().spans}
        assert spans & heat and screen.block.render().spans != by_state.spans
        await pilot.press("c")
        assert not screen.block.by_confidence and not legend.display


@pilot_test
async def test_space_plays_to_the_end_and_plus_minus_change_the_speed():
    app = build_app()
    async with app.run_test() as pilot:
        screen = await open_replay(pilot)
        await pilot.press("minus", "minus", "minus")  # stops at the slowest
        assert "1 forwards/s" in counter(app)
        await pilot.press("space")  # at the end: plays again from the first forward
        assert screen.playing and screen.position <= 1 and "playing" in counter(app)
        await pilot.press("plus", "plus", "plus", "plus", "plus", "plus")  # 32 a second
        assert "32 forwards/s" in counter(app)
        await wait_for(pilot, lambda: not screen.playing, "the replay to reach the end")
        assert screen.position == len(screen.frames) - 1 and "paused" in counter(app)
        await pilot.press("home", "space", "right")  # a step pauses the play
        assert not screen.playing and "paused" in counter(app)


@pilot_test
async def test_a_reply_loaded_from_history_replays_the_same_frames():
    first = build_app()
    async with first.run_test() as pilot:
        screen = await open_replay(pilot)
        live_frames = screen.frames
    resumed = build_app(options=ChatOptions(resume=True))
    async with resumed.run_test() as pilot:
        await wait_for(pilot, lambda: resumed.chat_screen.info is not None, "the model")
        resumed.chat_screen.action_replay_reply(1)  # the first reply, as the transcript says
        await wait_for(pilot, lambda: isinstance(resumed.screen, ReplayScreen), "the replay")
        assert resumed.screen.frames == live_frames
        commands = [c.title for c in resumed.get_system_commands(resumed.chat_screen)]
        assert any(title.startswith("Replay reply 1: ") for title in commands)
        assert not any(title.startswith("Replay question") for title in commands)


@pilot_test
async def test_a_reply_without_a_trace_says_so_instead_of_opening():
    app = build_app()
    async with app.run_test(notifications=True) as pilot:
        await complete_turn(pilot, PROMPT)
        app.chat_screen.session.turns[-1].trace = None  # as a reply saved by schema 1
        await pilot.press("f5")
        await pilot.pause()
        assert app.screen is app.chat_screen
        assert any("no decoding trace" in n.message for n in app._notifications)
