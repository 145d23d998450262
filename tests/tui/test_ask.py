"""`noema ask`: prompt sources, output shapes, parameters, exit codes, interruption."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys

import pytest
from typer.testing import CliRunner

from noema_core.decoding.events import BlockFinished, BlockUpdated, TokenState
from noema_core.decoding.settings import Mode
from noema_core.errors import DeviceError, PromptTooLongError
from noema_tui.cli import app
from noema_tui.commands import ask as ask_module
from tests.tui.conftest import FakeVerdict

pytestmark = pytest.mark.usefixtures("fake_checker")


def run(*args: str, stdin: str | None = None):
    return CliRunner().invoke(app, ["ask", *args], input=stdin)


def sent_prompt(engine) -> str:
    messages, _ = engine.streams[-1]
    assert [m["role"] for m in messages] == ["user"]
    return messages[0]["content"]


def test_prompt_words_are_sent_as_one_user_message(scripted_engine):
    result = run("Solve", "3x + 5 = 20")
    assert result.exit_code == 0, result.output
    assert sent_prompt(scripted_engine) == "Solve 3x + 5 = 20"


def test_piped_stdin_is_put_in_front_of_the_prompt(scripted_engine):
    result = run("with x = 2", stdin="What is 3x + 5?\n")
    assert result.exit_code == 0, result.output
    assert sent_prompt(scripted_engine) == "What is 3x + 5?\n\nwith x = 2"


@pytest.mark.parametrize("instruction", ["what is the answer?", "solve this", "help me"])
def test_an_instruction_without_math_sends_the_piped_question_alone(scripted_engine,
                                                                     instruction):
    result = run(instruction, stdin="Solve 4x + 1 = 9\n")
    assert result.exit_code == 0, result.output
    assert sent_prompt(scripted_engine) == "Solve 4x + 1 = 9"
    assert "asking the piped text as the question" in result.stderr


def test_piped_text_without_math_keeps_the_instruction(scripted_engine):
    result = run("what is the answer?", stdin="hello there\n")
    assert result.exit_code == 0, result.output
    assert sent_prompt(scripted_engine) == "hello there\n\nwhat is the answer?"
    assert "piped text" not in result.stderr


def test_dash_reads_the_prompt_from_stdin(scripted_engine):
    result = run("-", stdin="Solve 2x = 8\n")
    assert result.exit_code == 0, result.output
    assert sent_prompt(scripted_engine) == "Solve 2x = 8"


def test_no_prompt_is_a_usage_error(scripted_engine):
    result = run(stdin="")
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {ask_module.NO_PROMPT}"
    assert scripted_engine.loads == []


def test_json_prints_one_object_with_answer_verdict_mode_and_stats(scripted_engine,
                                                                   fake_checker):
    scripted_engine.reply = "So $x = 5$.\n\\boxed{5}"
    fake_checker.verdict = FakeVerdict("verified", answer="5", expected="5", method="solve",
                                       reason="x = 5 satisfies the equation")
    result = run("--json", "--mode", "s", "Solve 3x + 5 = 20")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report == {
        "answer": "So $x = 5$.\n\\boxed{5}",
        "final_answer": "5",
        "verdict": {"status": "verified", "expected": "5",
                    "reason": "x = 5 satisfies the equation"},
        "mode": "s",
        "stats": {"new_tokens": 21, "forwards": 12, "tokens_per_forward": 1.75,
                  "tokens_per_second": 42.0, "seconds": 0.5},
    }
    assert fake_checker.calls == [("So $x = 5$.\n\\boxed{5}", "Solve 3x + 5 = 20")]
    assert result.stderr == ""  # nothing but the object, not even progress


def test_piped_stdout_gets_the_plain_answer_and_stderr_the_verdict_and_stats(scripted_engine):
    scripted_engine.reply = "We get $x^2 = \\frac{1}{2}$"
    result = run("q")
    assert result.exit_code == 0, result.output
    assert result.stdout == "We get $x^2 = \\frac{1}{2}$\n"  # raw LaTeX, no colour codes
    assert "\x1b[" not in result.stderr
    assert "✓ verified: 5" in result.stderr
    assert "tok/s" in result.stderr and "forwards" in result.stderr
    assert "loading noema-tiny on cpu" in result.stderr  # "auto" resolved


def test_terminal_stdout_gets_markdown_with_math_rendered(scripted_engine, monkeypatch):
    monkeypatch.setattr(ask_module, "stdout_is_terminal", lambda: True)
    scripted_engine.reply = "We get $x^2 = \\frac{1}{2}$ and\n$$\\frac{a}{b}$$\n"
    result = run("q")
    assert result.exit_code == 0, result.output
    assert "We get x² = ½ and" in result.stdout
    assert "───" in result.stdout  # the display fraction is stacked over a bar
    assert "\\frac" not in result.stdout


def test_decoding_options_override_the_mode_preset(scripted_engine):
    result = run("--mode", "s", "--threshold", "0.9", "--editing-threshold", "0.2",
                 "--block-length", "64", "--gen-length", "128", "--max-post-steps", "3",
                 "--temperature", "0.7", "--top-k", "20", "--top-p", "0.95", "--steps", "8",
                 "--num-to-transfer", "2", "--no-eos-early-stop", "--eos-only",
                 "--attention", "card",
                 "--seed", "11", "q")
    assert result.exit_code == 0, result.output
    _, settings = scripted_engine.streams[-1]
    assert (settings.mode.value, settings.threshold, settings.editing_threshold) == ("s", 0.9, 0.2)
    assert (settings.block_length, settings.gen_length, settings.max_post_steps) == (64, 128, 3)
    assert (settings.temperature, settings.top_k, settings.top_p) == (0.7, 20, 0.95)
    assert (settings.steps, settings.eos_early_stop, settings.seed) == (8, False, 11)
    assert (settings.num_to_transfer, settings.stop_at_role_end) == (2, False)
    assert settings.attention.value == "card"


def test_mode_presets_apply_when_no_option_overrides_them(scripted_engine):
    run("--mode", "ar", "q")
    _, settings = scripted_engine.streams[-1]
    assert (settings.mode.value, settings.threshold, settings.max_post_steps) == ("ar", 1.0, 0)


def test_model_device_and_quant_options_reach_the_loader(scripted_engine):
    run("--model", "some/dir", "--device", "cpu", "--quant", "int8", "--dtype", "float32", "q")
    run("--compile", "q")
    run("--no-compile", "q")
    # Neither flag: None, the engine's default (compiled on CUDA, eager on a CPU).
    assert scripted_engine.loads == [
        dict(model="some/dir", device="cpu", dtype="float32", quant="int8", compile=None),
        dict(model="noema-tiny", device="auto", dtype="auto", quant="none", compile=True),
        dict(model="noema-tiny", device="auto", dtype="auto", quant="none", compile=False)]


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--threshold", "1.5", "threshold=1.5 is out of range: choose a value in [0, 1]"),
    ("--block-length", "8", "block_length=8 is out of range: choose a value in [16, 128]"),
    ("--top-p", "0", "top_p=0.0 is out of range: choose a value in (0, 1]"),
    ("--top-k", "-1", "top_k=-1 is out of range: choose a value >= 0"),
])
def test_out_of_range_parameter_is_a_one_line_usage_error(scripted_engine, option, value,
                                                          message):
    result = run(option, value, "q")
    assert result.exit_code == 2
    assert result.stderr == f"error: {message}\n"
    assert scripted_engine.loads == []  # rejected before the model loads


def test_unknown_mode_is_typers_usage_error():
    result = run("--mode", "fast", "q")
    assert result.exit_code == 2


def test_bad_model_path_exits_3_with_one_line():
    result = run("--model", "/no/such/checkpoint", "q")
    assert result.exit_code == 3
    assert result.stderr.splitlines()[-1].startswith("error: checkpoint directory /no/such/")
    assert result.stderr.count("\n") <= 2 and "Traceback" not in result.output


def test_missing_default_model_exits_3(monkeypatch):
    import noema_core.engine

    monkeypatch.setattr(noema_core.engine, "DEFAULT_MODEL", "noema-not-bundled")
    result = run("q")
    assert result.exit_code == 3
    assert "noema-not-bundled" in result.stderr and "Traceback" not in result.output


def test_device_error_from_the_loader_exits_3(scripted_engine):
    scripted_engine.load_error = DeviceError("int8 needs a CUDA GPU: use --quant none")
    result = run("--device", "cpu", "--quant", "int8", "q")
    assert result.exit_code == 3
    assert result.stderr.endswith("error: int8 needs a CUDA GPU: use --quant none\n")


def test_unknown_device_exits_3_before_loading(scripted_engine):
    result = run("--device", "abacus", "q")
    assert result.exit_code == 3
    assert result.stderr.startswith("error: device 'abacus' is not") and not scripted_engine.loads


def test_prompt_too_long_exits_2(scripted_engine):
    scripted_engine.stream_error = PromptTooLongError("the prompt is too long: shorten it")
    result = run("q")
    assert result.exit_code == 2
    assert result.stderr.endswith("error: the prompt is too long: shorten it\n")


def test_unexpected_runtime_error_exits_1_with_one_line(scripted_engine):
    scripted_engine.stream_error = RuntimeError("CUDA out of memory")
    result = run("q")
    assert result.exit_code == 1
    assert result.stderr.endswith("error: RuntimeError: CUDA out of memory\n")
    assert "Traceback" not in result.output


def test_strict_exits_4_when_the_checker_contradicts_the_answer(scripted_engine, fake_checker):
    fake_checker.verdict = FakeVerdict("contradicted", answer="4", expected="5", method="solve")
    result = run("--strict", "q")
    assert result.exit_code == 4
    assert result.stdout == "x = 5\n"
    assert "✗ contradicted: the reply says 4, sympy found 5" in result.stderr


def test_contradicted_answer_without_strict_still_exits_0(scripted_engine, fake_checker):
    fake_checker.verdict = FakeVerdict("contradicted", answer="4", expected="5")
    assert run("q").exit_code == 0


def test_ctrl_c_stops_between_forwards_prints_the_partial_answer_and_exits_130(scripted_engine,
                                                                             fake_checker):
    scripted_engine.reply = "abcdefgh"
    interrupted_at = []

    def press_ctrl_c(cancel):
        os.kill(os.getpid(), signal.SIGINT)  # lands in the main thread, like a real Ctrl-C
        assert cancel.wait(timeout=30), "Ctrl-C did not set the cancel event"
        interrupted_at.append(len(scripted_engine.streams))

    scripted_engine.during_stream = press_ctrl_c
    result = run("--json", "q")
    assert result.exit_code == 130
    report = json.loads(result.stdout)
    assert report["answer"] == "" and report["stats"]["forwards"] == 1
    assert report["verdict"]["status"] == "unverifiable"
    assert interrupted_at == [1] and fake_checker.calls == []


def test_live_view_draws_each_slot_state_in_its_own_style():
    from rich.console import Console

    from noema_tui.live_view import MASK_PLACEHOLDER, SLOT_STYLES, LiveBlockView

    block = BlockUpdated(0, 3, (1, 2, 3, 4, 5), (
        TokenState.PROMPT, TokenState.STABLE, TokenState.UNMASKED, TokenState.EDITED,
        TokenState.MASKED), (0.0, 0.9, 0.8, 0.7, 0.0), ("P", "a", "b\n", "c", ""))
    text = LiveBlockView.slots(block)
    assert text.plain == f"ab⏎c{MASK_PLACEHOLDER}"  # prompt slot left out, newline marked
    styles = [(text.plain[s.start:s.end], str(s.style)) for s in text.spans]
    assert ("b⏎", SLOT_STYLES[TokenState.UNMASKED]) in styles
    assert ("c", SLOT_STYLES[TokenState.EDITED]) in styles
    assert (MASK_PLACEHOLDER, SLOT_STYLES[TokenState.MASKED]) in styles

    view = LiveBlockView(Console(width=60, height=20), title="Q quality")
    view.apply(block)
    assert "block 1 · forward 3 · 1/5 masked" in view.header().plain
    view.apply(BlockFinished(0, 3, (2, 3, 4), "ab\nc"))
    assert view.finished_text == "ab\nc" and view.block is None  # the block joined the reply


def test_live_view_keeps_only_the_reply_tail_that_fits_above_the_block():
    from rich.console import Console

    from noema_tui.live_view import LiveBlockView

    view = LiveBlockView(Console(width=10, height=20))
    view.apply(BlockFinished(0, 1, (), "first line\n" + "x" * 25 + "\nlast"))
    assert view.reply_tail(4) == "x" * 25 + "\nlast"  # 3 wrapped rows + 1
    assert view.reply_tail(2) == "x" * 10 + "\nlast"  # a long line keeps its end


def test_the_models_own_presets_apply_and_options_still_override_them(scripted_engine):
    scripted_engine.info = dataclasses.replace(
        scripted_engine.info, decoding_presets={Mode.SPEED: {"threshold": 0.9}})
    run("--mode", "s", "q")
    _, settings = scripted_engine.streams[-1]
    assert (settings.threshold, settings.editing_threshold) == (0.9, 0.0)
    run("--mode", "s", "--threshold", "0.6", "q")
    assert scripted_engine.streams[-1][1].threshold == 0.6


def test_an_empty_answer_exits_1_with_a_message_instead_of_printing_nothing(scripted_engine):
    scripted_engine.reply = ""
    result = run("what can you do?")
    assert result.exit_code == 1
    assert "the model produced no text" in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()[-1]) > 0


def test_the_loading_line_does_not_repeat_itself():
    from noema_tui.formatting import load_line

    line = load_line("noema-tiny", "cpu", "loading noema-tiny on cpu", 0.0)
    assert line.count("loading") == 1 and line.endswith("0%")
    assert load_line("m", "cpu", "reading model.safetensors", 0.5) == (
        "loading m on cpu: reading model.safetensors 50%")


def test_retry_decodes_again_after_a_contradiction_and_json_records_every_try(
        scripted_engine, fake_checker):
    verdicts = iter([FakeVerdict("contradicted", answer="4", expected="5", method="solve"),
                     FakeVerdict("verified", answer="5", expected="5", method="solve")])
    sys.modules["noema_core.verify"].check = lambda response, **kw: next(verdicts)
    result = run("--retry", "2", "--json", "Solve 3x + 5 = 20")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [t["how"] for t in report["tries"]] == ["as asked", "one token per forward"]
    assert [t["verdict"]["status"] for t in report["tries"]] == ["contradicted", "verified"]
    assert report["verdict"]["status"] == "verified"  # the verified try is the answer
    assert report["mode"] == "ar" and [t["mode"] for t in report["tries"]] == ["q", "ar"]
    first, second = (settings for _, settings in scripted_engine.streams)
    assert first.mode.value == "q" and second.mode.value == "ar"


def test_by_default_a_contradicted_answer_is_decoded_once_more_one_token_per_forward(
        scripted_engine, fake_checker):
    fake_checker.verdict = FakeVerdict("contradicted", answer="4", expected="5", method="solve")
    result = run("--json", "Solve 3x + 5 = 20")
    assert result.exit_code == 0 and len(scripted_engine.streams) == 2
    report = json.loads(result.stdout)
    assert [t["how"] for t in report["tries"]] == ["as asked", "one token per forward"]
    assert report["answer"] == report["tries"][0]["answer"]  # both contradicted: the first


def test_retry_0_decodes_a_contradicted_answer_once(scripted_engine, fake_checker):
    fake_checker.verdict = FakeVerdict("contradicted", answer="4", expected="5", method="solve")
    result = run("--retry", "0", "--json", "Solve 3x + 5 = 20")
    assert result.exit_code == 0 and len(scripted_engine.streams) == 1
    assert "tries" not in json.loads(result.stdout)
