"""SVG snapshots at 80x24, the size a new user's terminal often has: the footer after a reply
(F1 must stay on it), the slash-command list an unknown command shows, and a long
conversation scrolled back to its first turn from the prompt.

Update after an intended visual change with `pytest tests/tui/test_chat_narrow_snapshots.py
--snapshot-update`, then look at the SVGs before committing them.
"""

from __future__ import annotations

from noema_tui.app.widgets.prompt_input import PromptInput
from tests.tui.chat_support import (  # noqa: F401 (isolated_dirs is an autouse fixture)
    build_app,
    complete_turn,
    isolated_dirs,
    load_trace,
    wait_for,
)
from tests.tui.test_chat_snapshots import steady

NARROW = (80, 24)
PROMPT = load_trace()[0]


def test_the_footer_keeps_help_after_a_reply_at_80x24(snap_compare):
    """A finished reply at 80x24: the footer shows F1 Help and no key is cut off."""
    async def replied(pilot):
        await complete_turn(pilot, PROMPT)

    assert snap_compare(build_app(), run_before=steady(replied), terminal_size=NARROW)


def test_an_unknown_command_lists_the_slash_commands_at_80x24(snap_compare):
    """`/frob`: a notice listing every slash command; the command stays in the prompt."""
    async def unknown_command(pilot):
        await wait_for(pilot, lambda: pilot.app.chat_screen.info is not None, "the model")
        pilot.app.query_one(PromptInput).load_text("/frob")
        await pilot.press("enter")
        await wait_for(pilot, lambda: pilot.app.screen.query("Toast"), "the notice")

    assert snap_compare(build_app(), run_before=steady(unknown_command), terminal_size=NARROW)


def test_ctrl_home_scrolls_a_long_conversation_to_its_first_turn(snap_compare):
    """Three turns, taller than the view; Ctrl+Home from the prompt shows the first one."""
    async def scrolled_back(pilot):
        for question in (PROMPT, "Solve 2x = 8", "Solve x + 1 = 2"):
            await complete_turn(pilot, question)
        transcript = pilot.app.chat_screen.transcript
        await wait_for(pilot, lambda: transcript.max_scroll_y > 10, "a tall transcript")
        await pilot.press("ctrl+home")
        await wait_for(pilot, lambda: transcript.scroll_y == 0, "the first turn")

    assert snap_compare(build_app(), run_before=steady(scrolled_back), terminal_size=NARROW)
