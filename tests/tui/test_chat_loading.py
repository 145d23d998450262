"""Loading the model: progress naming the device, failures shown in the app, the real engine."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field

import pytest

from noema_core.decoding.settings import DecodingSettings
from noema_core.errors import ModelNotFoundError
from noema_tui.app.factory import ChatOptions, EngineFromOptions, create_app
from noema_tui.app.store import ConversationStore
from noema_tui.app.widgets.load_panel import LoadPanel
from noema_tui.app.widgets.prompt_input import PromptInput
from noema_tui.app.widgets.reply_view import ReplyView
from noema_tui.app.widgets.status_line import StatusLine
from noema_tui.app.widgets.user_message import UserMessage
from tests.tui.chat_support import (  # noqa: F401 (isolated_dirs is an autouse fixture)
    FakeChecker,
    ReplayEngine,
    ReplayLoader,
    build_app,
    complete_turn,
    isolated_dirs,
    pilot_test,
    send_prompt,
    toasts,
    wait_for,
)

MISSING = ModelNotFoundError("model 'noema-tiny' is not a bundled model (tiny-random), a "
                             "directory or a hub id (org/name): check the name")


@dataclass
class HeldLoader(ReplayLoader):
    """Reports progress, then waits for the test before finishing the load."""

    finish: threading.Event = field(default_factory=threading.Event)

    def __call__(self, progress):
        progress("loading noema-tiny on cpu", 0.0)
        progress("reading model.safetensors", 0.5)
        self.finish.wait(timeout=10)
        return self.engine


def panel_text(app) -> str:
    return " ".join(str(w.render()) for w in app.query_one(LoadPanel).query("Label, Static"))


@pilot_test
async def test_loading_shows_progress_naming_the_device(tmp_path):
    loader = HeldLoader()
    app = build_app(loader=loader)
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: "reading model.safetensors" in panel_text(app), "progress")
        assert "Loading noema-tiny" in panel_text(app)
        assert "reading model.safetensors" in app.query_one(StatusLine).loading_text
        loader.finish.set()
        await wait_for(pilot, lambda: not app.query(LoadPanel), "the panel to go")
        assert app.query_one(StatusLine).info.device == "cpu"


@pilot_test
async def test_quitting_during_a_load_does_not_wait_for_it(tmp_path):
    loader = HeldLoader()
    app = build_app(loader=loader)
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: "reading" in app.query_one(StatusLine).loading_text,
                       "the load to start")
    # The app has exited while the load is still blocked: nothing joined its thread.
    assert any(t.name == "noema-load" and t.is_alive() for t in threading.enumerate())
    loader.finish.set()


@pilot_test
async def test_prompt_sent_while_loading_is_kept_with_a_notice(tmp_path):
    loader = HeldLoader()
    app = build_app(loader=loader)
    async with app.run_test() as pilot:
        app.query_one(PromptInput).load_text("too early")
        await pilot.press("enter")
        assert app.query_one(PromptInput).text == "too early"
        assert not app.query(ReplyView)
        loader.finish.set()


QUESTIONS = ["Solve 3x + 5 = 20", "Solve 2x = 8", "Solve x + 1 = 4"]


async def save_a_conversation() -> None:
    """Three checked turns in the store, for --resume to open."""
    first = build_app()
    async with first.run_test(size=(100, 40)) as pilot:
        for question in QUESTIONS:
            await complete_turn(pilot, question)
        await wait_for(pilot, lambda: first.chat_screen.session.saver.pending == 0, "saves")


@contextlib.asynccontextmanager
async def resumed_while_loading(**run_options):
    """`noema chat --resume` on a saved conversation, its load held at "reading the
    weights" until the test sets `loader.finish`: yields the pilot and the loader."""
    await save_a_conversation()
    loader = HeldLoader()
    app = build_app(loader=loader, options=ChatOptions(resume=True))
    try:
        async with app.run_test(**run_options) as pilot:
            await wait_for(pilot, lambda: "reading" in app.query_one(StatusLine).loading_text,
                           "the load's step")
            yield pilot, loader
    finally:
        loader.finish.set()


@pilot_test
async def test_resume_shows_the_conversation_while_the_model_loads(tmp_path):
    async with resumed_while_loading(size=(80, 24)) as (pilot, loader):
        app, status = pilot.app, pilot.app.query_one(StatusLine)
        # Before the load ends: every turn is on screen, no panel takes their place, and
        # the status line carries the step and its bar in one line.
        assert app.chat_screen.info is None
        assert [m.text for m in app.query(UserMessage)] == QUESTIONS
        assert len(app.query(ReplyView)) == 3
        assert not app.query(LoadPanel)
        line = str(status.render())
        assert "reading model.safetensors" in line and "50%" in line and "━" in line
        transcript = app.chat_screen.transcript
        assert transcript.max_scroll_y > 0
        await wait_for(pilot, lambda: transcript.scroll_y == transcript.max_scroll_y,
                       "the last turn in view")
        await pilot.press("pageup")  # readable: it scrolls while the model loads
        await wait_for(pilot, lambda: transcript.scroll_y < transcript.max_scroll_y,
                       "the scroll")
        loader.finish.set()
        await wait_for(pilot, lambda: app.chat_screen.info is not None, "the model")
        assert "noema-tiny · cpu" in str(status.render())
        assert not app.query(LoadPanel) and len(app.query(ReplyView)) == 3


@pilot_test
async def test_enter_during_the_load_keeps_the_prompt_and_says_when_it_can_be_sent(tmp_path):
    async with resumed_while_loading(size=(100, 30), notifications=True) as (pilot, loader):
        app = pilot.app
        app.query_one(PromptInput).load_text("and x - 1 = 4?")
        for _ in range(3):
            await pilot.press("enter")
        await wait_for(pilot, lambda: "still loading (50%)" in toasts(app), "the notice")
        assert len(app.screen.query("Toast")) == 1  # three refusals, one notice
        assert app.query_one(PromptInput).text == "and x - 1 = 4?"
        assert len(app.query(UserMessage)) == 3  # nothing was sent
        loader.finish.set()
        await wait_for(pilot, lambda: "is loaded: Enter sends" in toasts(app), "ready")
        assert len(app.screen.query("Toast")) == 1  # it replaced the refusal
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(app.query(UserMessage)) == 4, "the prompt sent")


@pilot_test
async def test_a_failed_load_under_a_resumed_conversation_shows_below_it(tmp_path):
    await save_a_conversation()
    app = build_app(loader=ReplayLoader(fail_with=MISSING), options=ChatOptions(resume=True))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.query("LoadPanel.-failed"), "the failure")
        transcript = app.chat_screen.transcript
        assert isinstance(transcript.children[-1], LoadPanel)  # near the prompt, in view
        assert len(app.query(UserMessage)) == 3
        assert "Cause: model 'noema-tiny'" in panel_text(app)
        assert "noema-tiny failed to load" in str(app.query_one(StatusLine).render())


@pilot_test
async def test_load_failure_shows_cause_and_fix_and_keeps_the_app_open(tmp_path):
    app = build_app(loader=ReplayLoader(fail_with=MISSING))
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: app.query_one(LoadPanel).has_class("-failed"), "failure")
        text = panel_text(app)
        assert "Could not load noema-tiny" in text
        assert "Cause: model 'noema-tiny' is not a bundled model" in text
        assert "Fix: noema-tiny, the default model, is not installed here: start with a " \
               "checkpoint directory, noema chat --model /path/to/checkpoint" in text
        app.query_one(PromptInput).load_text("hello")
        await pilot.press("enter")
        assert app.query_one(PromptInput).text == "hello" and not app.query(ReplyView)
        assert app.is_running


@pilot_test
async def test_a_mistyped_model_name_keeps_the_loaders_own_fix(tmp_path):
    typo = ModelNotFoundError("model 'noema-tinny' is not a bundled model (tiny-random), a "
                              "directory or a hub id (org/name): check the name")
    app = build_app(loader=ReplayLoader(model="noema-tinny", fail_with=typo))
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: app.query("LoadPanel.-failed"), "failure")
        assert "Fix: check the name" in panel_text(app)
        assert "not installed here" not in panel_text(app)


def test_the_real_loader_names_the_device_before_loading():
    seen = []
    with pytest.raises(ModelNotFoundError):
        EngineFromOptions("/nonexistent/checkpoint", device="cpu")(
            lambda what, fraction: seen.append(what))
    assert seen == ["loading /nonexistent/checkpoint on cpu"]


def test_the_real_loader_starts_the_checker_before_loading_the_model(monkeypatch):
    """The checker's worker imports sympy while PyTorch and the model load, not later beside
    the user's first reply."""
    from noema_core import verify

    seen = []
    monkeypatch.setattr(verify, "warm_up", lambda wait=0.0: seen.append("checker") or False)
    with pytest.raises(ModelNotFoundError):
        EngineFromOptions("/nonexistent/checkpoint", device="cpu")(
            lambda what, fraction: seen.append(what))
    assert seen == ["checker", "loading /nonexistent/checkpoint on cpu"]


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    import torch

    from noema_core.loading import save_checkpoint
    from tests.engine.conftest import tiny_model, write_tokenizer

    directory = tmp_path_factory.mktemp("tiny-chat-ckpt")
    save_checkpoint(tiny_model(seed=1, dtype=torch.float32), directory)
    write_tokenizer(directory)
    return directory


@pytest.mark.slow
@pilot_test
async def test_the_real_engine_streams_a_reply_into_the_app(tmp_path, tiny_checkpoint):
    app = create_app(ChatOptions(model=str(tiny_checkpoint), device="cpu"),
                     checker=FakeChecker(), store=ConversationStore.open_default())
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: app.chat_screen.info is not None, "the tiny model",
                       limit=30)
        # One block in one forward: the point is the engine/app contract, not decoding.
        app.chat_screen.settings = DecodingSettings.for_mode("q", gen_length=8, steps=1,
                                                             max_post_steps=0)
        app.query_one(PromptInput).load_text("1+1=?")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.query(ReplyView) and app.query_one(ReplyView).finished,
                       "the reply", limit=30)
        turn = app.chat_screen.session.turns[-1]
        assert turn.role == "assistant" and turn.stats["forwards"] >= 1
        assert app.query_one(StatusLine).forwards == turn.stats["forwards"]


@pilot_test
async def test_the_engine_warms_up_after_loading_and_a_prompt_sent_meanwhile_stops_it(tmp_path):
    warming = threading.Event()
    cancelled = threading.Event()

    class WarmingLoader(ReplayLoader):
        def warm_up(self, engine, cancel: threading.Event) -> None:
            warming.set()
            if cancel.wait(timeout=30):  # a long warm-up, until a reply needs the engine
                cancelled.set()

    loader = WarmingLoader()
    app = build_app(loader=loader)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, warming.is_set, "the warm-up")
        await send_prompt(pilot, "Solve 3x + 5 = 20")
        await wait_for(pilot, lambda: app.query("ReplyView") and
                       app.query_one("ReplyView").finished, "the reply")
        assert cancelled.is_set()  # the reply stopped the warm-up instead of waiting 30 s
        assert len(loader.engine.calls) == 1  # the warm-up never decoded through the app's engine


@pilot_test
async def test_the_warm_up_runs_in_a_worker_thread_not_the_load_thread(tmp_path):
    """Warmed in the load thread, a fresh process's first reply still burned many times the
    second's CPU; the warm-up runs where replies run (docs/captures/ux/latency.md)."""
    threads = []

    class RecordingLoader(ReplayLoader):
        def warm_up(self, engine, cancel: threading.Event) -> None:
            threads.append(threading.current_thread())

    app = build_app(loader=RecordingLoader())
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: threads, "the warm-up")
        assert threads[0].name != "noema-load"
        assert threads[0] is not threading.main_thread()


def test_the_real_loaders_warm_up_decodes_one_block_and_stops_when_cancelled(
        tiny_chat_checkpoint):
    loader = EngineFromOptions(str(tiny_chat_checkpoint), device="cpu")
    engine = loader(lambda what, fraction: None)
    forwards = []
    real_stream = engine.stream

    def counting_stream(messages, settings, cancel=None, **kwargs):
        for event in real_stream(messages, settings, cancel, **kwargs):
            forwards.append(event)
            yield event

    engine.stream = counting_stream
    loader.warm_up(engine, threading.Event())
    assert forwards  # it decoded
    forwards.clear()
    stopped = threading.Event()
    stopped.set()
    loader.warm_up(engine, stopped)  # already cancelled: at most one forward's worth
    assert len(forwards) <= 3
