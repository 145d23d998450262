"""Verifier-guided retry in the chat: a reply the checker contradicts is decoded again (F6,
palette "Retry reply N", or by itself with auto-retry), every try kept with its verdict."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

from noema_core.decoding.settings import Mode
from noema_core.retry import DEFAULT_RETRIES, retry_plan
from noema_core.verify.verdict import Verdict
from noema_tui.app.factory import ChatOptions
from noema_tui.app.screens.settings_screen import SettingsScreen
from noema_tui.app.widgets.reply_view import ReplyView
from tests.tui.chat_support import (  # noqa: F401 (isolated_dirs is an autouse fixture)
    VERIFIED,
    ReplayEngine,
    Stepper,
    build_app,
    complete_turn,
    isolated_dirs,
    load_trace,
    pilot_test,
    saved_store,
    send_prompt,
    wait_for,
    wait_for_forward,
)

PROMPT = load_trace()[0]
CONTRADICTED = Verdict("contradicted", answer="4", expected="5", method="solve:substitute",
                       reason="x = 4 does not satisfy 3x + 5 = 20")
UNCHECKABLE = Verdict("unverifiable", reason="no final answer was found")


@dataclass
class VerdictsInTurn:
    """A checker that gives `verdicts` in order, one per check (the last one repeats)."""

    verdicts: list[Verdict]
    checked: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, response: str, *, question: str | None = None,
                 earlier: tuple[str, ...] = ()) -> Verdict:
        with self.lock:
            self.checked.append(question or "")
            return self.verdicts[min(len(self.checked), len(self.verdicts)) - 1]


def replies(app) -> list[ReplyView]:
    return list(app.query(ReplyView))


def title(view: ReplyView) -> str:
    return str(view.query_one(".reply--title").render())


def verdict(view: ReplyView) -> str:
    return str(view.query_one(".reply--verdict").render())


def offer(view: ReplyView) -> str:
    part = view.query_one(".reply--offer")
    return str(part.render()) if part.display else ""


def footer_keys(app) -> set[str]:
    return {key.key for key in app.chat_screen.query("FooterKey")}


async def footer_shows(pilot, key: str, shown: bool = True) -> None:
    """Until the footer (redrawn after the bindings change) shows `key`, or stops showing it."""
    await wait_for(pilot, lambda: (key in footer_keys(pilot.app)) == shown,
                   f"the footer {'with' if shown else 'without'} {key}")


def checked(app, count: int):
    """Until `count` replies have their verdict."""
    return lambda: sum(bool(t.verdict) for t in app.chat_screen.session.turns) >= count


@pilot_test
async def test_a_contradicted_reply_offers_ctrl_t_which_decodes_it_again_one_token_per_forward():
    engine = ReplayEngine()
    app = build_app(engine=engine, checker=VerdictsInTurn([CONTRADICTED, VERIFIED]), auto_retry=0)
    async with app.run_test(size=(100, 40)) as pilot:
        await complete_turn(pilot, PROMPT)
        await pilot.pause()
        [first] = replies(app)
        assert "contradicted" in verdict(first)
        assert offer(first) == "^t: decode it again (one token per forward)"
        await footer_shows(pilot, "ctrl+t")
        asked = app.chat_screen.settings
        await pilot.press("ctrl+t")
        await wait_for(pilot, checked(app, 2), "the second try's verdict")
        first, second = replies(app)
        assert title(first) == "Noema · Q · try 1 · as asked"
        assert title(second) == "Noema · AR · try 2 · one token per forward"
        assert "contradicted" in verdict(first) and "verified" in verdict(second)
        assert second.query_one(".reply--verdict").has_class("-verified")
        assert offer(first) == offer(second) == ""
        await footer_shows(pilot, "ctrl+t", False)  # verified: nothing to retry
        (messages_1, used_1), (messages_2, used_2) = engine.calls
        assert used_1 == asked and used_2 == retry_plan(asked, 1)[1][1]
        assert used_1.mode is Mode.QUALITY and used_2.mode is Mode.AR
        assert messages_2 == messages_1  # the same question, without the contradicted try


@pilot_test
async def test_the_palette_offers_retry_reply_n_only_while_it_applies():
    app = build_app(checker=VerdictsInTurn([CONTRADICTED, CONTRADICTED, CONTRADICTED,
                                            VERIFIED]), auto_retry=0)
    async with app.run_test(size=(100, 40)) as pilot:

        def retry_commands():
            return [c for c in app.get_system_commands(app.chat_screen)
                    if c.title.startswith("Retry")]

        assert not retry_commands()
        await complete_turn(pilot, PROMPT)
        [command] = retry_commands()
        assert command.title == "Retry reply 1" and "one token per forward" in command.help
        await command.callback()
        await wait_for(pilot, checked(app, 2), "try 2")
        [command] = retry_commands()  # try 2 contradicted too: stricter thresholds next
        assert "stricter thresholds" in command.help
        await command.callback()
        await wait_for(pilot, checked(app, 3), "try 3")
        [command] = retry_commands()  # and then another seed
        assert "seed 1, temperature 0.3" in command.help
        await command.callback()
        await wait_for(pilot, checked(app, 4), "try 4")
        assert not retry_commands()
        assert title(replies(app)[3]) == "Noema · Q · try 4 · seed 1, temperature 0.3"


@pilot_test
async def test_auto_retry_stops_at_the_first_verified_try():
    engine = ReplayEngine()
    app = build_app(engine=engine,
                    checker=VerdictsInTurn([CONTRADICTED, CONTRADICTED, VERIFIED, VERIFIED]))
    async with app.run_test(size=(100, 40)) as pilot:
        app.chat_screen.auto_retry = 5
        await send_prompt(pilot, PROMPT)
        await wait_for(pilot, checked(app, 3), "three checked tries")
        await pilot.pause()
        assert len(engine.calls) == 3 and not app.chat_screen.generating
        assert [verdict(v).split()[0] for v in replies(app)] == ["✗", "✗", "✓"]
        hows = [(t.attempt, t.how) for t in app.chat_screen.session.turns[1:]]
        assert hows == [(n + 1, how) for n, (how, _) in enumerate(retry_plan(
            app.chat_screen.settings, 2))]


@pilot_test
async def test_auto_retry_makes_at_most_n_tries_then_offers_the_key():
    engine = ReplayEngine()
    app = build_app(engine=engine, checker=VerdictsInTurn([CONTRADICTED]))
    async with app.run_test(size=(100, 40)) as pilot:
        app.chat_screen.auto_retry = 1
        await send_prompt(pilot, PROMPT)
        await wait_for(pilot, checked(app, 2), "two checked tries")
        await pilot.pause()
        assert len(engine.calls) == 2
        last = replies(app)[-1]
        assert offer(last) == "^t: decode it again (stricter thresholds)"


@pilot_test
async def test_an_answer_the_checker_cannot_read_is_retried_by_itself():
    garbled = Verdict("unverifiable", method="parse", mode="independent",
                      reason="could not read the answer: could not parse '\\frac{102}'")
    engine = ReplayEngine()
    app = build_app(engine=engine, checker=VerdictsInTurn([garbled, VERIFIED]), auto_retry=1)
    async with app.run_test(size=(100, 40)) as pilot:
        await complete_turn(pilot, PROMPT)
        await wait_for(pilot, checked(app, 2), "the automatic second try's verdict")
        first, second = replies(app)
        assert "could not read the answer" in verdict(first) and "verified" in verdict(second)
        assert title(second) == "Noema · AR · try 2 · one token per forward"


@pilot_test
async def test_could_not_check_never_triggers_a_retry():
    engine = ReplayEngine()
    app = build_app(engine=engine, checker=VerdictsInTurn([UNCHECKABLE]))
    async with app.run_test(size=(100, 40)) as pilot:
        app.chat_screen.auto_retry = 3
        await complete_turn(pilot, PROMPT)
        await pilot.pause()
        [only] = replies(app)
        assert "could not check" in verdict(only) and offer(only) == ""
        await footer_shows(pilot, "ctrl+t", False)
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert len(engine.calls) == 1 and title(only) == "Noema · Q"


@pilot_test
async def test_esc_stops_a_retry_like_any_reply_and_the_first_try_stays():
    stepper = Stepper()
    engine = ReplayEngine(stepper=stepper)
    app = build_app(engine=engine, checker=VerdictsInTurn([CONTRADICTED, VERIFIED]), auto_retry=0)
    async with app.run_test(size=(100, 40)) as pilot:
        await send_prompt(pilot, PROMPT)
        stepper.release(10_000)  # the first try runs through
        await wait_for(pilot, checked(app, 1), "the first verdict")
        stepper._allowed = threading.Semaphore(0)  # the retry waits for each forward
        await pilot.press("ctrl+t")
        stepper.release(2)
        await wait_for_forward(pilot, 2)
        await pilot.press("escape")
        stepper.release()
        await wait_for(pilot, lambda: not app.chat_screen.generating, "the stopped retry")
        first, second = replies(app)
        assert "not checked" in verdict(second) and "stopped" in str(
            second.query_one(".reply--stats").render())
        assert app.chat_screen.prompt.text == ""  # the question was answered: not put back
        turns = app.chat_screen.session.turns
        assert [t.finish_reason for t in turns[1:]] == ["eos", "cancelled"]
        await footer_shows(pilot, "ctrl+t")  # the reply is still contradicted: retry again
        assert app.chat_screen.session.conversation.engine_messages()[-1]["content"] == (
            turns[1].content)


@pilot_test
async def test_every_try_is_exported_and_stored_and_shown_again_from_history():
    app = build_app(checker=VerdictsInTurn([CONTRADICTED, VERIFIED]), auto_retry=0)
    async with app.run_test(size=(100, 40)) as pilot:
        await complete_turn(pilot, PROMPT)
        await pilot.press("ctrl+t")
        await wait_for(pilot, checked(app, 2), "the second try")
        assert app.chat_screen.action_export_transcript("out")
        await wait_for(pilot, lambda: app.chat_screen.session.saver.pending == 0, "the saves")
    markdown = Path("out.md").read_text(encoding="utf-8")
    assert "## Noema (mode q, try 1 · as asked)" in markdown
    assert "## Noema (mode ar, try 2 · one token per forward)" in markdown
    assert markdown.count("**Verdict:**") == 2 and "✗" in markdown and "✓" in markdown
    turns = json.loads(Path("out.json").read_text(encoding="utf-8"))["turns"]
    assert [(t.get("try"), t.get("how"), t["verdict"]["status"]) for t in turns[1:]] == [
        (1, "as asked", "contradicted"), (2, "one token per forward", "verified")]
    [summary] = saved_store().summaries()
    stored = saved_store().load(summary.id).turns
    assert [(t.attempt, t.how, t.status) for t in stored] == [
        (None, None, ""), (1, "as asked", "contradicted"),
        (2, "one token per forward", "verified")]

    resumed = build_app(options=ChatOptions(resume=True), auto_retry=0)
    async with resumed.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: resumed.chat_screen.info is not None, "the model")
        assert [title(v) for v in replies(resumed)] == [
            "Noema · Q · try 1 · as asked", "Noema · AR · try 2 · one token per forward"]
        commands = [c.title for c in resumed.get_system_commands(resumed.chat_screen)]
        assert any(t.startswith("Replay reply 1, try 2: ") for t in commands)
        assert not any(t.startswith("Retry") for t in commands)  # try 2 was verified


@pilot_test
async def test_a_contradicted_reply_from_history_can_be_retried():
    first = build_app(checker=VerdictsInTurn([CONTRADICTED]), auto_retry=0)
    async with first.run_test(size=(100, 40)) as pilot:
        await complete_turn(pilot, PROMPT)
        await wait_for(pilot, lambda: first.chat_screen.session.saver.pending == 0, "saves")
    engine = ReplayEngine()
    resumed = build_app(engine=engine, checker=VerdictsInTurn([VERIFIED]), auto_retry=0,
                        options=ChatOptions(resume=True))
    async with resumed.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: resumed.chat_screen.info is not None, "the model")
        await pilot.pause()
        assert offer(replies(resumed)[0]).startswith("^t: decode it again")
        await pilot.press("ctrl+t")
        await wait_for(pilot, checked(resumed, 2), "the second try")
        assert engine.calls[0][1] == retry_plan(resumed.chat_screen.settings, 1)[1][1]
        assert [title(v) for v in replies(resumed)] == [
            "Noema · Q · try 1 · as asked", "Noema · AR · try 2 · one token per forward"]
    stored = saved_store().load(saved_store().summaries()[0].id).turns
    assert [t.attempt for t in stored] == [None, 1, 2]  # try 1 was relabelled in the store


@pilot_test
async def test_a_new_conversation_takes_the_retry_key_away():
    app = build_app(checker=VerdictsInTurn([CONTRADICTED]), auto_retry=0)
    async with app.run_test(size=(100, 40)) as pilot:
        await complete_turn(pilot, PROMPT)
        await footer_shows(pilot, "ctrl+t")
        await pilot.press("ctrl+n")
        await footer_shows(pilot, "ctrl+t", False)
        assert not app.chat_screen.retry_applies()


@pilot_test
async def test_regenerate_replaces_every_try_of_the_last_reply():
    engine = ReplayEngine()
    app = build_app(engine=engine, checker=VerdictsInTurn([CONTRADICTED, CONTRADICTED,
                                                           VERIFIED]), auto_retry=0)
    async with app.run_test(size=(100, 40)) as pilot:
        await complete_turn(pilot, PROMPT)
        await pilot.press("ctrl+t")
        await wait_for(pilot, checked(app, 2), "try 2")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: len(engine.calls) == 3 and checked(app, 1)()
                       and not app.chat_screen.generating, "the new reply")
        [reply] = replies(app)
        assert title(reply) == "Noema · Q" and "verified" in verdict(reply)
        assert [t.role for t in app.chat_screen.session.turns] == ["user", "assistant"]


@pilot_test
async def test_f3_sets_auto_retry_and_config_toml_sets_its_default(tmp_path):
    config = tmp_path / "config" / "noema" / "config.toml"  # XDG_CONFIG_HOME is tmp/config
    config.parent.mkdir(parents=True)
    config.write_text("[chat]\nauto_retry = 2\n", encoding="utf-8")
    app = build_app()
    async with app.run_test(size=(100, 40)) as pilot:
        assert app.chat_screen.auto_retry == 2
        await pilot.press("f3")
        await wait_for(pilot, lambda: isinstance(app.screen, SettingsScreen), "settings")
        field_ = app.screen.query_one("#auto_retry")
        assert field_.value == "2"
        field_.value = "9"
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, SettingsScreen) and field_.has_class("-invalid")
        assert "auto_retry=9 is out of range [0, 8]" in str(
            app.screen.query_one(".settings--error").render())
        field_.value = "0"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is app.chat_screen, "the chat")
        assert app.chat_screen.auto_retry == 0


@pilot_test
async def test_a_bad_auto_retry_in_config_toml_is_a_notice_and_the_default_stays(tmp_path):
    config = tmp_path / "config" / "noema" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[chat]\nauto_retry = "lots"\n', encoding="utf-8")
    app = build_app()
    async with app.run_test(notifications=True) as pilot:
        await pilot.pause()
        assert app.chat_screen.auto_retry == DEFAULT_RETRIES == 1
        assert any("auto_retry must be a whole number from 0 to 8" in n.message
                   and "the default (1) is in use" in n.message for n in app._notifications)


@pilot_test
async def test_without_a_config_a_contradicted_reply_is_decoded_once_more_in_ar():
    engine = ReplayEngine()
    app = build_app(engine=engine, checker=VerdictsInTurn([CONTRADICTED, VERIFIED]))
    async with app.run_test(size=(100, 40)) as pilot:
        await send_prompt(pilot, PROMPT)
        await wait_for(pilot, checked(app, 2), "the automatic second try")
        assert [title(v) for v in replies(app)] == [
            "Noema · Q · try 1 · as asked", "Noema · AR · try 2 · one token per forward"]
        assert [s.mode for _, s in engine.calls] == [Mode.QUALITY, Mode.AR]


@pilot_test
async def test_the_replay_title_numbers_replies_as_the_transcript_does():
    app = build_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await complete_turn(pilot, PROMPT)
        await complete_turn(pilot, "and 2x = 8?")
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.screen is not app.chat_screen, "the replay")
        assert app.screen.title_text == "Replay of reply 2: and 2x = 8?"  # not 4 (messages)
        await pilot.press("escape")
        app.chat_screen.action_replay_reply(1)
        await wait_for(pilot, lambda: app.screen is not app.chat_screen, "the replay")
        assert app.screen.title_text == f"Replay of reply 1: {PROMPT}"[:len("Replay of "
                                                                           "reply 1: ") + 60]


@pilot_test
async def test_set_auto_retry_in_the_prompt_is_validated_like_f3():
    app = build_app()
    async with app.run_test(notifications=True) as pilot:
        await send_prompt(pilot, "/set auto_retry 3")
        await pilot.pause()
        assert app.chat_screen.auto_retry == 3 and app.chat_screen.prompt.text == ""
        await send_prompt(pilot, "/set auto_retry lots")
        await pilot.pause()
        assert app.chat_screen.auto_retry == 3
        assert app.chat_screen.prompt.text == "/set auto_retry lots"  # left to be corrected
        assert any("auto_retry='lots' is not a number" in n.message
                   for n in app._notifications)
