"""The conversation browser (Ctrl+O): newest first, open, rename, delete with confirmation, and
full-text search over every turn."""

from __future__ import annotations

import sqlite3
import time

import pytest

from noema_core.decoding.settings import Mode
from noema_tui.app.conversation import Conversation, Turn
from noema_tui.app.screens.browser_screen import BrowserScreen
from noema_tui.app.screens.confirm_dialog import ConfirmDialog
from noema_tui.app.screens.rename_dialog import RenameDialog
from noema_tui.app.widgets.reply_view import ReplyView
from noema_tui.app.widgets.user_message import UserMessage
from tests.tui.chat_support import (  # noqa: F401 (isolated_dirs is an autouse fixture)
    build_app,
    complete_turn,
    isolated_dirs,
    pilot_test,
    saved_store,
    wait_for,
)

SAVED = [  # (prompt, reply, mode of the reply, updated_at): oldest first
    ("Solve 4x + 1 = 9", r"$x = 2$", "AR", 1_764_000_000.0),
    (r"What is $\frac{1}{2} + \frac{1}{3}$?", r"$\frac{5}{6}$", "S", 1_764_100_000.0),
    ("Factor x^2 - 9", "$(x - 3)(x + 3)$", "Q", 1_764_200_000.0),
]


def save_examples() -> list[int]:
    store = saved_store()
    ids = []
    for prompt, reply, mode, _when in SAVED:
        conversation = Conversation(model="noema-tiny")
        store.add_turn(conversation, Turn("user", prompt))
        store.add_turn(conversation, Turn("assistant", reply, mode=mode, finish_reason="eos"))
        ids.append(conversation.id)
    with sqlite3.connect(store.path) as db:  # fixed dates, for the order and the snapshot
        for conversation_id, (*_, when) in zip(ids, SAVED, strict=True):
            db.execute("UPDATE conversations SET created_at = ?, updated_at = ? WHERE id = ?",
                       (when, when, conversation_id))
    db.close()
    return ids


def listed_titles(browser: BrowserScreen) -> list[str]:
    return [summary.title for summary in browser.shown]


async def open_browser(pilot) -> BrowserScreen:
    await wait_for(pilot, lambda: pilot.app.chat_screen.info is not None, "the model")
    await pilot.press("ctrl+o")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, BrowserScreen), "the browser")
    return pilot.app.screen


@pilot_test
async def test_the_browser_lists_newest_first_with_title_date_and_mode():
    save_examples()
    app = build_app()
    async with app.run_test(size=(80, 24)) as pilot:
        browser = await open_browser(pilot)
        assert listed_titles(browser) == [prompt for prompt, *_ in reversed(SAVED)]
        first = str(browser.options.get_option_at_index(0).prompt)
        assert time.strftime("%Y-%m-%d", time.localtime(SAVED[-1][3])) in first
        assert "1 question · Q" in first
        await pilot.press("escape")
        assert app.screen is app.chat_screen


@pilot_test
async def test_opening_a_conversation_shows_it_and_continues_in_its_mode():
    save_examples()
    app = build_app()
    async with app.run_test() as pilot:
        browser = await open_browser(pilot)
        await pilot.press("down", "down", "enter")  # the oldest: Solve 4x + 1 = 9, in AR
        await wait_for(pilot, lambda: app.screen is app.chat_screen and app.query(UserMessage),
                       "the conversation")
        assert [m.text for m in app.query(UserMessage)] == ["Solve 4x + 1 = 9"]
        assert len(app.query(ReplyView)) == 1
        assert app.chat_screen.settings.mode == Mode.AR
        assert browser.deleted == set()
        await complete_turn(pilot, "and 4x + 1 = 13?")
    conversation = saved_store().load(app.chat_screen.session.conversation.id)
    assert [t.content for t in conversation.turns][:2] == ["Solve 4x + 1 = 9", "$x = 2$"]
    assert len(conversation.turns) == 4  # continued, not copied into a new one


@pilot_test
async def test_rename_changes_the_title_in_the_store():
    newest = save_examples()[-1]
    app = build_app()
    async with app.run_test() as pilot:
        browser = await open_browser(pilot)
        await pilot.press("f2")
        await wait_for(pilot, lambda: isinstance(app.screen, RenameDialog), "the dialog")
        app.screen.query_one("Input").value = "difference of squares"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is browser, "back in the browser")
        assert listed_titles(browser)[0] == "difference of squares"
    assert saved_store().load(newest).title == "difference of squares"


@pilot_test
async def test_delete_asks_first_and_no_keeps_the_conversation():
    ids = save_examples()
    app = build_app()
    async with app.run_test() as pilot:
        browser = await open_browser(pilot)
        await pilot.press("f8")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question")
        assert "Factor x^2 - 9" in str(app.screen.question)
        await pilot.press("enter")  # the focused button is Cancel: Enter alone never deletes
        await wait_for(pilot, lambda: app.screen is browser, "back in the browser")
        assert len(browser.shown) == 3
        await pilot.press("f8")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question")
        await pilot.press("y")
        await wait_for(pilot, lambda: len(browser.shown) == 2, "the list without it")
        assert browser.deleted == {ids[-1]}
    assert [s.id for s in saved_store().summaries()] == [ids[1], ids[0]]
    assert saved_store().search("Factor") == []


@pilot_test
async def test_search_matches_the_text_of_every_turn():
    save_examples()
    app = build_app()
    async with app.run_test() as pilot:
        browser = await open_browser(pilot)
        await pilot.press("ctrl+f")
        await pilot.press(*"frac")  # in a prompt and in its reply
        await wait_for(pilot, lambda: len(browser.shown) == 1, "one match")
        assert browser.shown[0].title.startswith("What is")
        assert r"\frac{1}{2}" in str(browser.options.get_option_at_index(0).prompt)
        browser.query_one("Input").value = "x + 3"  # words of a reply only
        await wait_for(pilot, lambda: listed_titles(browser) == ["Factor x^2 - 9"], "reply")
        browser.query_one("Input").value = "nothing like this"
        await wait_for(pilot, lambda: not browser.shown, "no match")
        assert "no conversation matches" in str(browser.query_one(".browser--status").render())


@pilot_test
async def test_deleting_the_open_conversation_starts_a_new_one():
    app = build_app()
    async with app.run_test() as pilot:
        await complete_turn(pilot, "Solve 3x + 5 = 20")
        assert app.chat_screen.session.saver.flush(timeout=5)
        await open_browser(pilot)
        await pilot.press("f8")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question")
        await pilot.press("y")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.chat_screen, "the chat")
        await wait_for(pilot, lambda: not app.query(UserMessage), "an empty transcript")
        assert app.chat_screen.session.conversation.id is None
    assert saved_store().summaries() == []


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_snapshot_of_the_browser_at_80x24(snap_compare, utc):
    """Ctrl+O at 80x24: three saved conversations, newest first, with dates and modes."""
    save_examples()

    async def browse(pilot):
        await open_browser(pilot)
        for editor in pilot.app.screen.query("Input"):
            editor.cursor_blink = False
        await pilot.pause()

    assert snap_compare(build_app(), run_before=browse, terminal_size=(80, 24))
