"""Pilot tests of a chat turn: sending, the live block, the mode key, stopping, regenerating."""

from __future__ import annotations

import threading

from textual import events

from noema_core.decoding.events import TokenState
from noema_core.decoding.settings import Mode
from noema_core.errors import PromptTooLongError
from noema_core.verify import Verdict
from noema_tui.app.factory import ChatOptions
from noema_tui.app.screens.chat_screen import ChatScreen
from noema_tui.app.widgets.live_block import MASK_GLYPH, LiveBlock
from noema_tui.app.widgets.prompt_input import PromptInput
from noema_tui.app.widgets.reply_view import ReplyView
from noema_tui.app.widgets.status_line import StatusLine
from noema_tui.app.widgets.user_message import UserMessage
from tests.tui.chat_support import (  # noqa: F401 (isolated_dirs is an autouse fixture)
    FakeChecker,
    ReplayEngine,
    Stepper,
    build_app,
    isolated_dirs,
    load_trace,
    pilot_test,
    saved_store,
    send_prompt,
    wait_for,
    wait_for_forward,
)

PROMPT = load_trace()[0]


def chat(app) -> ChatScreen:
    return app.chat_screen


def replies(app) -> list[ReplyView]:
    return list(app.query(ReplyView))


@pilot_test
async def test_sending_a_prompt_shows_the_reply_with_math_stats_and_verdict(tmp_path):
    app = build_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await send_prompt(pilot, PROMPT)
        await wait_for(pilot, lambda: replies(app) and replies(app)[0].finished, "the reply")
        reply = replies(app)[0]
        assert reply.raw_text.endswith(r"The answer is $\boxed{5}$.")
        body = reply.query_one(".reply--body").source
        assert "$3x" not in body and "3x + 5 = 20" in body  # inline math converted
        assert r"\frac" not in body and "15" in body  # display math laid out in 2-D
        await wait_for(pilot, lambda: "verified" in str(
            reply.query_one(".reply--verdict").render()), "the verdict")
        assert reply.query_one(".reply--verdict").has_class("-verified")
        stats = str(reply.query_one(".reply--stats").render())
        assert "21 forwards" in stats and "62 new tokens" in stats
        status = app.query_one(StatusLine)
        assert (status.tokens, status.forwards) == (62, 21)
        assert app.query_one(PromptInput).text == ""
    saved = saved_store().latest()
    assert [t.role for t in saved.turns] == ["user", "assistant"]
    assert saved.turns[1].verdict["status"] == "verified"


@pilot_test
async def test_a_narrow_status_line_keeps_the_speed_and_shortens_the_rest(tmp_path):
    app = build_app()
    async with app.run_test(size=(60, 30)) as pilot:
        await send_prompt(pilot, PROMPT)
        await wait_for(pilot, lambda: replies(app) and replies(app)[0].finished, "the reply")
        status = app.query_one(StatusLine)
        line = str(status.render())
        assert len(line) <= status.content_size.width
        assert "tok/s" in line and "tok/fwd" in line and "quant" not in line
        assert line.startswith(status.info.name)


@pilot_test
async def test_the_checker_gets_the_users_prompt_as_the_question(tmp_path):
    checker = FakeChecker()
    app = build_app(checker=checker)
    async with app.run_test() as pilot:
        await send_prompt(pilot, PROMPT)
        await wait_for(pilot, lambda: checker.questions, "the check")
    assert checker.questions == [PROMPT]


@pilot_test
async def test_a_follow_up_is_checked_with_the_earlier_prompts(tmp_path):
    checker = FakeChecker()
    app = build_app(checker=checker)
    async with app.run_test() as pilot:
        await send_prompt(pilot, PROMPT)
        await wait_for(pilot, lambda: len(checker.questions) == 1, "the first check")
        await send_prompt(pilot, "Now what is x + y?")
        await wait_for(pilot, lambda: len(checker.questions) == 2, "the follow-up's check")
    assert checker.earlier == [(), (PROMPT,)]


@pilot_test
async def test_live_block_draws_masks_then_an_edit_in_place(tmp_path):
    stepper = Stepper()
    app = build_app(engine=ReplayEngine(stepper=stepper))
    async with app.run_test(size=(100, 40)) as pilot:
        await send_prompt(pilot, PROMPT)
        live = lambda: app.query_one(LiveBlock)  # noqa: E731
        stepper.release()
        await wait_for_forward(pilot, 1)
        first = str(live().render())
        assert "block 1 · forward 1" in first and MASK_GLYPH in first and " 12" in first
        stepper.release(3)
        await wait_for_forward(pilot, 4)
        edited = [p for p, s in zip(live().snapshot.pieces, live().snapshot.states, strict=True)
                  if s is TokenState.EDITED]
        assert edited == [" 20"]
        assert "1 edited" in str(live().render())
        stepper.release(100)
        await wait_for(pilot, lambda: replies(app)[0].finished, "the reply")
        assert not live().display


@pilot_test
async def test_finished_blocks_join_the_reply_while_the_next_block_decodes(tmp_path):
    stepper = Stepper()
    app = build_app(engine=ReplayEngine(stepper=stepper))
    async with app.run_test(size=(100, 40)) as pilot:
        await send_prompt(pilot, PROMPT)
        stepper.release(7)  # block 1's six forwards and its BlockFinished
        await wait_for(pilot, lambda: replies(app)[0].raw_text, "the first block")
        reply = replies(app)[0]
        assert reply.raw_text.startswith("To solve $3x + 5 = 20$")
        assert "subtract 5" in reply.query_one(".reply--body").source
        assert not reply.finished
        stepper.release(8)  # block 2 ends inside the last paragraph: it waits in the tail
        await wait_for(pilot, lambda: reply.raw_text.endswith(r"$\boxed{5}$"), "block 2")
        tail = reply.query_one(".reply--tail").source
        assert "The answer is" in tail and r"\boxed" not in tail  # its math converted too
        stepper.release(100)
        await wait_for(pilot, lambda: reply.finished, "the reply")


@pilot_test
async def test_mode_key_cycles_q_s_ar_and_applies_to_the_next_reply(tmp_path):
    engine = ReplayEngine()
    app = build_app(engine=engine)
    async with app.run_test() as pilot:
        status = app.query_one(StatusLine)
        assert status.mode == "Q"
        await pilot.press("f2")
        assert status.mode == "S" and chat(app).settings.mode is Mode.SPEED
        await pilot.press("f2")
        assert status.mode == "AR" and chat(app).settings.max_post_steps == 0
        await send_prompt(pilot, PROMPT)
        await wait_for(pilot, lambda: replies(app) and replies(app)[0].finished, "the reply")
        assert engine.calls[-1][1].mode is Mode.AR
        await pilot.press("f2")
        assert status.mode == "Q" and chat(app).settings.threshold == 0.7
        assert chat(app).settings.max_post_steps == 16


@pilot_test
async def test_escape_cancels_reply_and_keeps_partial_text(tmp_path):
    stepper = Stepper()
    app = build_app(engine=ReplayEngine(stepper=stepper))
    async with app.run_test(size=(100, 40)) as pilot:
        await send_prompt(pilot, PROMPT)
        stepper.release(3)
        await wait_for_forward(pilot, 3)
        await pilot.press("escape")
        stepper.release()  # the engine notices the flag before its next forward
        await wait_for(pilot, lambda: replies(app)[0].finished, "the stopped reply")
        reply = replies(app)[0]
        assert "12" in reply.raw_text and "from both" in reply.raw_text
        assert "stopped" in str(reply.query_one(".reply--stats").render())
        assert "not checked" in str(reply.query_one(".reply--verdict").render())
        assert app.query_one(PromptInput).text == PROMPT
        turns = chat(app).session.turns
        assert turns[-1].finish_reason == "cancelled" and turns[-1].content == reply.raw_text


@pilot_test
async def test_regenerate_replaces_the_last_reply(tmp_path):
    engine = ReplayEngine()
    app = build_app(engine=engine)
    async with app.run_test() as pilot:
        await send_prompt(pilot, PROMPT)
        await wait_for(pilot, lambda: replies(app) and replies(app)[0].finished, "the reply")
        first = replies(app)[0]
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: replies(app) and replies(app)[0] is not first and
                       replies(app)[0].finished, "the new reply")
        assert len(replies(app)) == 1 and len(engine.calls) == 2
        assert engine.calls[1][0] == engine.calls[0][0]  # same conversation, old reply dropped
        assert [t.role for t in chat(app).session.turns] == ["user", "assistant"]


@pilot_test
async def test_up_arrow_recalls_earlier_prompts_and_down_returns_to_the_draft(tmp_path):
    app = build_app()
    async with app.run_test() as pilot:
        await send_prompt(pilot, "first question")
        await wait_for(pilot, lambda: replies(app) and replies(app)[0].finished, "reply 1")
        await send_prompt(pilot, "second question")
        await wait_for(pilot, lambda: len(replies(app)) == 2 and replies(app)[1].finished,
                       "reply 2")
        prompt = app.query_one(PromptInput)
        await pilot.press("d", "r", "a", "f", "t")
        await pilot.press("up")
        assert prompt.text == "second question"
        await pilot.press("up")
        assert prompt.text == "first question"
        await pilot.press("down", "down")
        assert prompt.text == "draft"


@pilot_test
async def test_shift_enter_and_ctrl_j_insert_newlines_instead_of_sending(tmp_path):
    engine = ReplayEngine()
    app = build_app(engine=engine)
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: chat(app).info is not None, "the model")
        await pilot.press("a", "shift+enter", "b", "ctrl+j", "c")
        assert app.query_one(PromptInput).text == "a\nb\nc"
        assert engine.calls == []
        await pilot.press("enter")
        await wait_for(pilot, lambda: engine.calls, "the reply to start")
        assert engine.calls[0][0][-1] == {"role": "user", "content": "a\nb\nc"}


@pilot_test
async def test_a_burst_of_keys_keeps_newlines_in_typing_order(tmp_path):
    """Keys that arrive in one read (fast typing, a terminal's paste without brackets)."""
    app = build_app()
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: chat(app).info is not None, "the model")
        for key, character in [("a", "a"), ("ctrl+j", "\n"), ("b", "b"), ("ctrl+j", "\n"),
                               ("c", "c")]:
            app.post_message(events.Key(key, character))
        await wait_for(pilot, lambda: "c" in app.query_one(PromptInput).text, "typing")
        assert app.query_one(PromptInput).text == "a\nb\nc"


@pilot_test
async def test_a_multi_line_prompt_is_shown_line_by_line(tmp_path):
    app = build_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await send_prompt(pilot, "Solve the system:\nx + y = 3\nx - y = 1")
        await wait_for(pilot, lambda: app.query(UserMessage), "the prompt")
        await pilot.pause()
        [paragraph] = app.query_one(UserMessage).query("MarkdownParagraph")
        assert paragraph.region.height == 3  # Markdown alone would join them into one line
        assert app.query_one(UserMessage).text == "Solve the system:\nx + y = 3\nx - y = 1"
        await wait_for(pilot, lambda: replies(app)[-1].finished, "the reply to end")


def too_long() -> PromptTooLongError:
    """The engine's error for a prompt that leaves no room for the reply."""
    return PromptTooLongError(
        "prompt (5000 tokens) + gen_length (1024) needs 6144 positions but the model's context "
        "is 4096: shorten the prompt or lower gen_length")


@pilot_test
async def test_a_failed_reply_shows_the_cause_and_puts_the_prompt_back(tmp_path):
    engine = ReplayEngine(fail_with=too_long())
    app = build_app(engine=engine)
    async with app.run_test() as pilot:
        await send_prompt(pilot, PROMPT)
        await wait_for(pilot, lambda: app.query(".reply--failure"), "the failure")
        failure = str(app.query_one(".reply--failure").render())
        assert "lower gen_length" in failure
        assert app.query_one(PromptInput).text == PROMPT
        assert not chat(app).generating


@pilot_test
async def test_a_failed_prompt_is_left_out_of_the_next_replys_context(tmp_path):
    engine = ReplayEngine(fail_with=too_long())
    app = build_app(engine=engine)
    async with app.run_test() as pilot:
        await send_prompt(pilot, "a prompt far too long")
        await wait_for(pilot, lambda: app.query(".reply--failure"), "the failure")
        engine.fail_with = None
        app.query_one(PromptInput).load_text(PROMPT)
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(engine.calls) == 2, "the second reply")
        assert engine.calls[1][0] == [{"role": "user", "content": PROMPT}]
        await wait_for(pilot, lambda: replies(app)[-1].finished, "the reply to end")
    saved = saved_store().latest()
    assert [(t.role, t.finish_reason) for t in saved.turns][:2] == [("user", None),
                                                                   ("assistant", "failed")]


@pilot_test
async def test_a_resumed_failed_reply_is_shown_as_failed_and_regenerate_retries_it(tmp_path):
    engine = ReplayEngine(fail_with=RuntimeError("boom"))
    async with build_app(engine=engine).run_test() as pilot:
        await send_prompt(pilot, PROMPT)
        await wait_for(pilot, lambda: pilot.app.query(".reply--failure"), "the failure")
    engine.fail_with = None
    app = build_app(engine=engine, options=ChatOptions(resume=True))
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: chat(app).info is not None, "the model")
        assert "Reply failed" in str(app.query_one(".reply--failure").render())
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: len(engine.calls) == 2, "the retry")
        assert engine.calls[1][0] == [{"role": "user", "content": PROMPT}]
        await wait_for(pilot, lambda: replies(app) and replies(app)[-1].finished, "the reply")
        assert not app.query(".reply--failure")
        assert [t.finish_reason for t in chat(app).session.turns] == [None, "eos"]


@pilot_test
async def test_a_reply_with_no_answer_to_check_gets_a_quiet_note(tmp_path):
    nothing = Verdict("unverifiable", method="extract", rule="none",
                      reason="no final answer found (no \\boxed{}, answer line or number)")
    app = build_app(checker=FakeChecker(verdict=nothing))
    async with app.run_test() as pilot:
        await send_prompt(pilot, PROMPT)
        await wait_for(pilot, lambda: replies(app) and replies(app)[0].finished, "the reply")
        line = replies(app)[0].query_one(".reply--verdict")
        await wait_for(pilot, lambda: line.has_class("-no-answer"), "the note")
        assert "no answer to check" in str(line.render())
        assert not line.has_class("-unverifiable")


@pilot_test
async def test_the_ui_keeps_working_while_the_checker_is_slow(tmp_path):
    gate = threading.Event()
    app = build_app(checker=FakeChecker(gate=gate))
    async with app.run_test() as pilot:
        await send_prompt(pilot, PROMPT)
        await wait_for(pilot, lambda: replies(app) and replies(app)[0].finished, "the reply")
        reply = replies(app)[0]
        assert reply.query_one(".reply--verdict").has_class("-checking")
        await pilot.press("f2")  # the app answers keys while the check runs
        assert app.query_one(StatusLine).mode == "S"
        gate.set()
        await wait_for(pilot, lambda: reply.query_one(".reply--verdict").has_class("-verified"),
                       "the verdict")
