"""SVG snapshots of the chat's main states, driven by the recorded decoding trace.

Update after an intended visual change with `pytest tests/tui/test_chat_snapshots.py
--snapshot-update`, then look at the SVGs before committing them.
"""

from __future__ import annotations

import asyncio

from noema_core.errors import ModelNotFoundError
from noema_tui.app.factory import ChatOptions
from noema_tui.app.widgets.reply_view import ReplyView
from tests.tui.chat_support import (  # noqa: F401 (isolated_dirs is an autouse fixture)
    ReplayEngine,
    ReplayLoader,
    Stepper,
    build_app,
    complete_turn,
    isolated_dirs,
    load_trace,
    send_prompt,
    wait_for,
    wait_for_forward,
)
from tests.tui.test_chat_loading import HeldLoader, save_a_conversation

SIZE = (100, 36)
PROMPT = load_trace()[0]


def steady(scenario=None):
    """`run_before` for snapshots: run `scenario`, then stop cursors blinking, so the picture
    does not depend on when within the blink cycle it was taken."""
    async def run_before(pilot):
        if scenario is not None:
            await scenario(pilot)
        await pilot.pause()
        # Turning blinking off fixes the cursor shown or hidden by where the focus is at
        # that moment; on a loaded machine the focus can still be settling then, so turn it
        # off again once it has: the cursor shows exactly in the focused editor.
        for _ in range(2):
            for editor in pilot.app.screen.query("TextArea, Input"):
                editor.cursor_blink = True
                editor.cursor_blink = False
            await pilot.pause()
        # TextArea caches rendered lines under a key that, with blinking off, leaves out
        # whether it has focus: a line drawn while the focus was elsewhere (no cursor) would
        # be reused once it is back. Draw the editors afresh.
        for editor in pilot.app.screen.query("TextArea"):
            editor._line_cache.clear()
            editor.refresh()
        await pilot.pause()

    return run_before


class TestLoading:
    def test_progress_names_model_and_device(self, snap_compare):
        """While loading: a progress bar and the step, naming the device."""
        loader = HeldLoader()

        async def loading(pilot):
            await wait_for(pilot, lambda: "reading" in " ".join(
                str(step.render()) for step in pilot.app.query(".load-panel--step")), "progress")

        try:
            assert snap_compare(build_app(loader=loader), run_before=steady(loading),
                                terminal_size=SIZE)
        finally:
            loader.finish.set()

    def test_a_resumed_conversation_while_the_model_loads(self, snap_compare):
        """--resume: the saved turns at once, the load compact in the status line."""
        asyncio.run(save_a_conversation())
        loader = HeldLoader()

        async def loading(pilot):
            await wait_for(pilot, lambda: "reading" in pilot.app.query_one(
                "StatusLine").loading_text, "progress")

        try:
            assert snap_compare(build_app(loader=loader, options=ChatOptions(resume=True)),
                                run_before=steady(loading), terminal_size=SIZE)
        finally:
            loader.finish.set()

    def test_failure_shows_cause_and_fix(self, snap_compare):
        """A load failure: cause, fix and a way forward, with the app still open."""
        failing = ReplayLoader(fail_with=ModelNotFoundError(
            "model 'noema-tiny' is not a bundled model (tiny-random), a directory or a hub id "
            "(org/name): check the name"))

        async def failed(pilot):
            await wait_for(pilot, lambda: pilot.app.query("LoadPanel.-failed"), "the failure")

        assert snap_compare(build_app(loader=failing), run_before=steady(failed),
                            terminal_size=SIZE)


class TestLiveBlock:
    def test_masks_unmasked_and_edited_slots(self, snap_compare):
        """Mid-reply: block 1 at forward 4, where the wrong "12" was just edited to "20"."""
        stepper = Stepper()

        async def mid_block(pilot):
            await send_prompt(pilot, PROMPT)
            stepper.release(4)
            await wait_for_forward(pilot, 4)

        try:
            assert snap_compare(build_app(engine=ReplayEngine(stepper=stepper)),
                                run_before=steady(mid_block), terminal_size=SIZE)
        finally:
            stepper.release(100)

    def test_finished_block_above_the_next_live_block(self, snap_compare):
        """Block 1 joined the reply as Markdown while block 2 decodes below it."""
        stepper = Stepper()

        async def second_block(pilot):
            await send_prompt(pilot, PROMPT)
            stepper.release(10)  # block 1 (6 forwards + finish), then 3 forwards of block 2
            await wait_for_forward(pilot, 3, block=1)

        try:
            assert snap_compare(build_app(engine=ReplayEngine(stepper=stepper)),
                                run_before=steady(second_block), terminal_size=SIZE)
        finally:
            stepper.release(100)


class TestReply:
    def test_finished_reply_with_math_verdict_and_stats(self, snap_compare):
        """A whole reply: inline math as Unicode, display math in 2-D, verdict, stats."""
        async def replied(pilot):
            await complete_turn(pilot, PROMPT)

        assert snap_compare(build_app(), run_before=steady(replied), terminal_size=SIZE)

    def test_stopped_reply_keeps_partial_text_and_restores_the_prompt(self, snap_compare):
        """Esc mid-reply: the partial reply stays, marked stopped; the prompt is back."""
        stepper = Stepper()

        async def stopped(pilot):
            await send_prompt(pilot, PROMPT)
            stepper.release(3)
            await wait_for_forward(pilot, 3)
            await pilot.press("escape")
            stepper.release()
            await wait_for(pilot, lambda: pilot.app.query_one(ReplyView).finished, "the stop")

        assert snap_compare(build_app(engine=ReplayEngine(stepper=stepper)),
                            run_before=steady(stopped), terminal_size=SIZE)

    def test_light_theme(self, snap_compare):
        """The same reply in the noema-light theme."""
        async def replied(pilot):
            await complete_turn(pilot, PROMPT)

        app = build_app(options=ChatOptions(theme="noema-light"))
        assert snap_compare(app, run_before=steady(replied), terminal_size=SIZE)


class TestScreens:
    def test_settings_screen(self, snap_compare):
        """F3: every decoding parameter with its range."""
        async def settings(pilot):
            await pilot.press("f3")
            await wait_for(pilot, lambda: pilot.app.screen.query("#gen_length"), "settings")

        assert snap_compare(build_app(), run_before=steady(settings), terminal_size=(100, 30))

    def test_help_screen(self, snap_compare):
        """F1: the live bindings with their ids."""
        async def help_screen(pilot):
            # The welcome behind the help: loaded first, so the picture does not depend on
            # whether the load beat the key.
            await wait_for(pilot, lambda: pilot.app.query("WelcomePanel"), "the welcome")
            await pilot.press("f1")
            await wait_for(pilot, lambda: pilot.app.screen.query("HelpScreen Static"), "help")

        assert snap_compare(build_app(), run_before=steady(help_screen), terminal_size=SIZE)


class TestReplay:
    def test_first_forward_of_a_replayed_reply(self, snap_compare):
        """F5 on a finished reply, Home: forward 1 of the trace, masked slots and counter."""
        async def first_forward(pilot):
            await complete_turn(pilot, PROMPT)
            await pilot.press("f5", "home")

        assert snap_compare(build_app(), run_before=steady(first_forward), terminal_size=SIZE)

    def test_an_edit_coloured_by_confidence(self, snap_compare):
        """The forward with the edit, by confidence: heat colours, legend, the replaced token."""
        async def edit_by_confidence(pilot):
            await complete_turn(pilot, PROMPT)
            await pilot.press("f5", "home", "c")
            screen = pilot.app.screen
            while not screen.block.replaced:
                await pilot.press("right")

        assert snap_compare(build_app(), run_before=steady(edit_by_confidence),
                            terminal_size=SIZE)
