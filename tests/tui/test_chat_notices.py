"""Pilot tests of what the chat says in passing: toasts expire, one per kind, and what stays
true (unsaved changes) stays on screen until it is not."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from noema_tui.app import notices
from noema_tui.app.screens.chat_screen import ChatScreen
from noema_tui.app.store import StoreBusyError
from noema_tui.app.widgets.status_line import StatusLine
from tests.tui.chat_support import (  # noqa: F401 (isolated_dirs is an autouse fixture)
    ReplayEngine,
    Stepper,
    build_app,
    isolated_dirs,
    pilot_test,
    send_prompt,
    toasts,
    wait_for,
)


def toast_count(app) -> int:
    return len(app.screen.query("Toast"))


@pytest.fixture
def quick_toasts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Toasts that expire in 1.5 s, so expiry is seen without waiting 4 s; shorter ones can
    come and go before a loaded 2-core CI machine lets the test look."""
    monkeypatch.setitem(notices.TIMEOUTS, "information", 1.5)


@pilot_test
async def test_a_notice_expires_by_itself(quick_toasts):
    app = build_app()
    async with app.run_test(notifications=True) as pilot:
        await pilot.press("ctrl+s")  # nothing to export yet: says so
        await wait_for(pilot, lambda: "Nothing to export yet." in toasts(app), "the notice")
        await wait_for(pilot, lambda: toast_count(app) == 0, "the notice to expire")
        assert not list(app._notifications)


@pilot_test
async def test_the_mode_key_pressed_five_times_mid_reply_leaves_one_toast():
    stepper = Stepper()
    app = build_app(engine=ReplayEngine(stepper=stepper))
    async with app.run_test(notifications=True) as pilot:
        await send_prompt(pilot, "Solve 3x + 5 = 20")
        await wait_for(pilot, lambda: app.chat_screen.generating, "the reply to start")
        for _ in range(5):
            await pilot.press("f2")
        await pilot.pause()
        await wait_for(pilot, lambda: toast_count(app) == 1, "one toast")
        # Q -> S -> AR -> Q -> S -> AR: the last press is the one on screen.
        assert toasts(app) == "Mode AR applies from the next reply."
        assert len(list(app._notifications)) == 1
        stepper.release(10_000)
        await wait_for(pilot, lambda: not app.chat_screen.generating, "the reply to end")


@pilot_test
async def test_an_identical_notice_repeated_does_not_stack():
    app = build_app()
    async with app.run_test(notifications=True) as pilot:
        for _ in range(3):
            await pilot.press("ctrl+s")
            await pilot.pause()
        await wait_for(pilot, lambda: toast_count(app) == 1, "one toast")
        app.notify("the same words")  # through App.notify too, as Textual's own notices go
        app.notify("the same words")
        await wait_for(pilot, lambda: toast_count(app) == 2, "one more toast")


@pilot_test
async def test_notices_of_different_kinds_show_together():
    app = build_app()
    async with app.run_test(notifications=True) as pilot:
        await wait_for(pilot, lambda: app.chat_screen.info is not None, "the model")
        app.chat_screen.tell("could not write x.md", kind="export", severity="error")
        await pilot.press("f2")  # between replies the status line says it; no toast
        await send_prompt(pilot, "/mode s")
        await wait_for(pilot, lambda: toast_count(app) == 2, "both toasts")
        assert "could not write x.md" in toasts(app) and "Mode S" in toasts(app)


@pilot_test
async def test_unsaved_changes_stay_in_the_status_line_until_they_are_saved():
    app = build_app()
    async with app.run_test(size=(120, 24), notifications=True) as pilot:
        await wait_for(pilot, lambda: app.chat_screen.info is not None, "the model")
        status = app.query_one(StatusLine)
        busy = StoreBusyError("the database is locked by another program: changes are kept")
        for _ in range(2):
            app.chat_screen.post_message(ChatScreen.SaveFailed(busy))
        await wait_for(pilot, lambda: "not saved" in str(status.render()), "the marker")
        await wait_for(pilot, lambda: toast_count(app) == 1, "one toast for two failures")
        app.chat_screen.post_message(ChatScreen.SavesCaughtUp(2))
        await wait_for(pilot, lambda: "not saved" not in str(status.render()), "the marker gone")
        await wait_for(pilot, lambda: "Saved the 2 change(s)" in toasts(app), "the confirmation")
        assert toast_count(app) == 1  # the confirmation replaced the failure's toast


@dataclass
class NoticingEngine(ReplayEngine):
    """An engine that, like `Engine` after a failed compile, says one line while it decodes."""

    notice: Callable[[str], None] | None = None

    def stream(self, messages, settings, cancel=None):
        if self.notice is not None:
            self.notice("compile failed, decoding eagerly: Unsupported: a test")
        yield from super().stream(messages, settings, cancel)


@pilot_test
async def test_an_engine_notice_while_decoding_shows_as_a_warning():
    engine = NoticingEngine()
    app = build_app(engine=engine)
    async with app.run_test(notifications=True) as pilot:
        await send_prompt(pilot, "Solve 3x + 5 = 20")
        await wait_for(pilot, lambda: "compile failed, decoding eagerly" in toasts(app),
                       "the engine's notice")
        await wait_for(pilot, lambda: not app.chat_screen.generating, "the reply to end")
        assert engine.notice is not None  # the app listens from the load on
