"""`noema chat --server`: the app over the Noema stream draws the local engine's snapshots;
over an OpenAI-only server it says what it cannot show and greys out what it cannot send."""

from __future__ import annotations

from textual.widgets import Input

from noema_core.decoding.events import BlockUpdated
from noema_tui.app.factory import ChatOptions, create_app
from noema_tui.app.screens.settings_screen import SettingsScreen
from noema_tui.app.store import ConversationStore
from noema_tui.app.widgets.prompt_input import PromptInput
from noema_tui.app.widgets.reply_view import ReplyView
from tests.serve.conftest import API_KEY
from tests.tui.chat_support import (  # noqa: F401 (isolated_dirs is an autouse fixture)
    FakeChecker,
    isolated_dirs,
    pilot_test,
    wait_for,
)

PROMPT = "Solve 3x + 5 = 20"


def chat_over(url: str, api_key: str | None = None):
    options = ChatOptions(model=url, server=url, api_key=api_key)
    return create_app(options, checker=FakeChecker(), store=ConversationStore.open_default())


async def send(pilot, app, **settings) -> None:
    screen = app.chat_screen
    await wait_for(pilot, lambda: screen.info is not None, "the server", limit=30)
    screen.settings = screen.settings.replace(**settings)
    app.query_one(PromptInput).load_text(PROMPT)
    await pilot.press("enter")
    await wait_for(pilot, lambda: app.query(ReplyView) and app.query(ReplyView)[0].finished,
                   "the reply", limit=60)


@pilot_test
async def test_chat_over_the_server_draws_the_local_engines_snapshots(server, local_engine,
                                                                      monkeypatch):
    drawn: list[BlockUpdated] = []
    original = ReplyView.show_snapshot
    monkeypatch.setattr(ReplyView, "show_snapshot",
                        lambda self, update: (drawn.append(update), original(self, update)))
    app = chat_over(server.url, API_KEY)
    async with app.run_test(size=(100, 40)) as pilot:
        settings = {"gen_length": 40, "block_length": 16, "steps": 4, "temperature": 1.0,
                    "seed": 9}
        await send(pilot, app, **settings)
        reply = app.query(ReplyView)[0]
        local = list(local_engine.stream([{"role": "user", "content": PROMPT}],
                                         app.chat_screen.settings))
        assert reply.raw_text == local[-1].result.text
        frames = {(e.block_index, e.forward): e for e in local if isinstance(e, BlockUpdated)}
        assert drawn, "no live block was drawn"
        for update in drawn:  # stale frames may be skipped; every drawn one is the local one
            want = frames[(update.block_index, update.forward)]
            assert (update.token_ids, update.states, update.pieces) == \
                (want.token_ids, want.states, want.pieces)
        assert app.chat_screen.sendable is not None and "threshold" in app.chat_screen.sendable


@pilot_test
async def test_an_openai_only_server_is_named_and_its_fixed_settings_greyed_out(openai_only):
    app = chat_over(openai_only.url)
    async with app.run_test(size=(100, 50)) as pilot:
        await send(pilot, app, gen_length=8)
        assert app.query(ReplyView)[0].raw_text  # whole blocks arrived
        notes = [n.message for n in app._notifications]
        assert any("per-forward detail is not available from this server" in n for n in notes)
        await pilot.press("f3")
        await wait_for(pilot, lambda: isinstance(app.screen, SettingsScreen), "F3")
        assert app.screen.query_one("#threshold", Input).disabled
        assert app.screen.query_one("#block_length", Input).disabled
        assert not app.screen.query_one("#temperature", Input).disabled
        assert not app.screen.query_one("#gen_length", Input).disabled
