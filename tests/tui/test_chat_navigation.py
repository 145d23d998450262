"""Moving around the conversation from the prompt: PageUp/PageDown, Home/End, Ctrl+Home/End."""

from __future__ import annotations

from noema_tui.app.widgets.prompt_input import PromptInput
from tests.tui.chat_support import (  # noqa: F401 (isolated_dirs is an autouse fixture)
    build_app,
    complete_turn,
    isolated_dirs,
    pilot_test,
    wait_for,
)


async def long_conversation(pilot) -> None:
    for question in ("Solve 3x + 5 = 20", "Solve 2x = 8", "Solve x + 1 = 2"):
        await complete_turn(pilot, question)
    transcript = pilot.app.chat_screen.transcript
    await wait_for(pilot, lambda: transcript.max_scroll_y > 10, "a transcript taller than the view")


@pilot_test
async def test_page_keys_scroll_the_conversation_while_the_prompt_has_focus(tmp_path):
    app = build_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await long_conversation(pilot)
        transcript = app.chat_screen.transcript
        assert app.focused is app.query_one(PromptInput)
        await pilot.press("end")
        await pilot.pause()
        bottom = transcript.scroll_y
        await pilot.press("pageup")
        await wait_for(pilot, lambda: transcript.scroll_y < bottom, "a page up")
        await pilot.press("pagedown")
        await wait_for(pilot, lambda: transcript.scroll_y == bottom, "a page down")
        await pilot.press("ctrl+home")
        await wait_for(pilot, lambda: transcript.scroll_y == 0, "the first turn")
        await pilot.press("ctrl+end")
        await wait_for(pilot, lambda: transcript.scroll_y == transcript.max_scroll_y, "the end")
        assert app.focused is app.query_one(PromptInput)


@pilot_test
async def test_home_and_end_scroll_only_while_the_prompt_is_empty(tmp_path):
    app = build_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await long_conversation(pilot)
        transcript = app.chat_screen.transcript
        await pilot.press("home")
        await wait_for(pilot, lambda: transcript.scroll_y == 0, "the top")
        prompt = app.query_one(PromptInput)
        prompt.load_text("abc")
        prompt.move_cursor((0, 3))
        await pilot.press("end")  # with text, End is the editor's: the view stays put
        await pilot.press("home")
        await pilot.pause()
        assert prompt.cursor_location == (0, 0) and transcript.scroll_y == 0
        assert prompt.text == "abc"


@pilot_test
async def test_help_key_fits_in_the_footer_of_an_80x24_terminal(tmp_path):
    from textual.widgets._footer import FooterKey

    app = build_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.chat_screen.info is not None, "the model")
        await pilot.pause()
        keys = {key.key: key for key in app.screen.query(FooterKey)}
        assert "f1" in keys, sorted(keys)
        help_key = keys["f1"]
        assert help_key.region.width > 0 and help_key.region.right <= 80
        # and each visible key is drawn whole, none cut by the palette hint
        palette = keys.get("ctrl+p")
        for key in keys.values():
            if key is not palette and palette is not None:
                assert key.region.right <= palette.region.x, key.key
