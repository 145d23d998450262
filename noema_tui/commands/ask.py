"""`noema ask`: one question in, one answer out, for terminals and scripts alike.

In a terminal the reply is decoded under a live block view on stderr, then printed to stdout
as Markdown with its math rendered, followed by the checker's verdict and a stats line on
stderr. Piped, stdout carries only the answer text (or one JSON object with `--json`).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from noema_core.decoding.settings import (
    PRESETS,
    TUNABLE_FIELDS,
    Attention,
    DecodingSettings,
    Mode,
)
from noema_core.retry import DEFAULT_RETRIES
from noema_tui.commands.options import (
    ApiKeyOption,
    CompileOption,
    DeviceOption,
    DtypeOption,
    ModeChoice,
    QuantChoice,
    QuantOption,
    ServerOption,
)
from noema_tui.commands.output import emit, fail, require_finite, require_model

NO_PROMPT = "no prompt: pass a question (noema ask \"Solve 3x + 5 = 20\") or pipe one on stdin"
NOT_UTF8 = ("the prompt is not valid UTF-8 text: convert it first (e.g. iconv -f latin1 -t utf-8 "
            "file.txt | noema ask -)")
EMPTY_ANSWER = ("the model produced no text for this prompt (it may be outside what the model "
                "knows): ask one math question, e.g. noema ask \"Solve 3x + 5 = 20\"")
# What torch.Generator.manual_seed accepts.
SEED_MIN, SEED_MAX = -(2**63), 2**64 - 1
DECODING = "Decoding (overrides the mode's preset)"


def preset(name: str) -> str:
    """The parameter's value in each mode, read from the presets so help never drifts."""
    default = getattr(DecodingSettings, name)
    values = {mode.label: PRESETS[mode].get(name, default) for mode in Mode}
    if len(set(values.values())) == 1:
        return f"default {default:g}"
    listed = ", ".join(f"{label} {value:g}" for label, value in values.items())
    if name in TUNABLE_FIELDS:  # a checkpoint's generation_config.json may set its own
        return f"card preset {listed}, unless the model ships its own"
    return "preset " + listed


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


# Mathematical content: a digit, or an operator or relation between terms.
MATH = re.compile(r"\d|[-+*/^=<>]\s*\w|\w\s*[-+*/^=<>]")


def read_prompt(words: list[str], stdin: TextIO | None) -> tuple[str, str]:
    """The prompt from the arguments and piped stdin, and a note for stderr ("" if none);
    `-` stands for stdin and places it exactly.

    Piped stdin comes first, then the arguments (`cat notes.txt | noema ask "summarise"`).
    When the arguments carry no mathematics of their own ("what is the answer?", "solve
    this") and the piped text does, the piped text is the whole question: a model that
    answers one question per message (noema-tiny) reads "Solve 4x + 1 = 9\n\nwhat is the
    answer?" as neither: 2 of 30 such pairs (6 questions x 5 instructions) got the right
    boxed answer in either order, against 30 of 30 for the question alone.
    """
    wants_stdin = "-" in words
    piped = ""
    if stdin is not None and (wants_stdin or not stdin.isatty()):
        try:
            piped = stdin.read()
        except UnicodeDecodeError:  # a strict stdin; the default one maps bad bytes to surrogates
            fail(NOT_UTF8, 2)
    if wants_stdin:
        return " ".join(piped.strip() if w == "-" else w for w in words).strip(), ""
    piped, instruction = piped.strip(), " ".join(words).strip()
    if piped and instruction and MATH.search(piped) and not MATH.search(instruction):
        return piped, (f"asking the piped text as the question; {instruction!r} has no math of "
                       f"its own, so it is not sent (place the piped text with '-' to send both)")
    return "\n\n".join(p for p in (piped, instruction) if p), ""


def ask(
    prompt: Annotated[list[str] | None, typer.Argument(
        help="The question (several words are joined). '-' reads it from stdin; piped stdin "
             "is put in front of it.", show_default=False)] = None,
    mode: Annotated[ModeChoice, typer.Option(
        "--mode", "-m", help="q quality, s speed, ar one token per forward.")] = ModeChoice.q,
    model: Annotated[str | None, typer.Option(
        help="Bundled name, checkpoint directory or hub id. Default: noema-tiny.",
        show_default=False)] = None,
    device: DeviceOption = "auto",
    dtype: DtypeOption = "auto",
    quant: QuantOption = QuantChoice.none,
    compile: CompileOption = None,
    threshold: Annotated[float | None, typer.Option(
        help=f"Unmask slots whose confidence reaches this [0, 1]; {preset('threshold')}.",
        rich_help_panel=DECODING,
        show_default=False)] = None,
    editing_threshold: Annotated[float | None, typer.Option(
        help="Rewrite unmasked tokens when another reaches this [0, 1]; "
             f"{preset('editing_threshold')}.",
        rich_help_panel=DECODING, show_default=False)] = None,
    block_length: Annotated[int | None, typer.Option(
        help=f"Tokens per block [16, 128]; {preset('block_length')}.", rich_help_panel=DECODING,
        show_default=False)] = None,
    gen_length: Annotated[int | None, typer.Option(
        help=f"Most new tokens [1, 4096]; {preset('gen_length')}.",
        rich_help_panel=DECODING, show_default=False)] = None,
    max_post_steps: Annotated[int | None, typer.Option(
        help=f"Extra edit-only forwards per block [0, 32]; {preset('max_post_steps')}.",
        rich_help_panel=DECODING,
        show_default=False)] = None,
    temperature: Annotated[float | None, typer.Option(
        help="Sampling temperature [0, 2]; 0 is greedy.", rich_help_panel=DECODING,
        show_default=False)] = None,
    top_k: Annotated[int | None, typer.Option(
        help="Sample from the k likeliest tokens; 0 is off.", rich_help_panel=DECODING,
        show_default=False)] = None,
    top_p: Annotated[float | None, typer.Option(
        help="Nucleus sampling (0, 1]; 1 is off.", rich_help_panel=DECODING,
        show_default=False)] = None,
    steps: Annotated[int | None, typer.Option(
        help=f"Most unmasking forwards per block [1, 64]; {preset('steps')}.",
        rich_help_panel=DECODING, show_default=False)] = None,
    num_to_transfer: Annotated[int | None, typer.Option(
        help="Masks committed per forward when too few clear the threshold [1, 128]; "
             f"{preset('num_to_transfer')}.", rich_help_panel=DECODING,
        show_default=False)] = None,
    eos_early_stop: Annotated[bool | None, typer.Option(
        "--eos-early-stop/--no-eos-early-stop", help="Stop at the first end-of-text block.",
        rich_help_panel=DECODING, show_default=False)] = None,
    stop_at_role_end: Annotated[bool | None, typer.Option(
        "--stop-at-role-end/--eos-only",
        help="Stop at <|role_end|> as well as EOS where the chat template ends turns with it "
             "(default on; the reference stops at EOS only).", rich_help_panel=DECODING,
        show_default=False)] = None,
    attention: Annotated[Attention | None, typer.Option(
        metavar="<mask>",
        help="block-causal (default, cached) or card: the card's generate() mask, added to "
             "the scores, for bit-for-bit agreement with it (uncached, slower).",
        rich_help_panel=DECODING, show_default=False)] = None,
    seed: Annotated[int | None, typer.Option(
        help="Random seed for sampling.", rich_help_panel=DECODING, show_default=False)] = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print one JSON object: answer, final_answer, verdict, mode, stats.")
    ] = False,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Exit with 4 when the checker contradicts the answer.")] = False,
    retry: Annotated[int, typer.Option(
        "--retry", min=0, max=8, help="When the checker contradicts the answer, decode again "
        "(one token per forward, stricter thresholds, then other seeds) up to this many "
        "times [0, 8]; 0 shows the first answer whatever its verdict.")] = DEFAULT_RETRIES,
    trace: Annotated[Path | None, typer.Option(
        "--trace", help="Write every forward of the reply to this JSON file (noema replay "
                        "plays it).", show_default=False, dir_okay=False)] = None,
    server: ServerOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Ask one question and print the answer.

    In a terminal: a live view of the blocks being decoded, then the answer as
    Markdown with its math rendered, the checker's verdict and speed figures (on
    stderr). Piped: the plain answer only, or one JSON object with --json.

    Exit codes: 0 ok, 1 runtime error or no answer text, 2 usage (bad option, out-of-range
    parameter, no prompt), 3 model or device could not load, 4 the checker
    contradicted the answer (only with --strict), 130 interrupted (Ctrl-C; the
    partial answer is printed).
    """
    from noema_core.errors import NoemaError
    from noema_tui.commands.ask_session import AskSession

    text, note = read_prompt(prompt or [], sys.stdin)
    if not text:
        fail(NO_PROMPT, 2)
    if not is_utf8(text):  # bytes that are not UTF-8, carried through as lone surrogates
        fail(NOT_UTF8, 2)
    require_model(model)
    require_finite(threshold=threshold, editing_threshold=editing_threshold,
                   temperature=temperature, top_p=top_p)
    if seed is not None and not SEED_MIN <= seed <= SEED_MAX:
        fail(f"--seed {seed} is out of range: choose a whole number in [{SEED_MIN}, "
             f"{SEED_MAX}] (-2**63 to 2**64 - 1)", 2)
    overrides: dict[str, Any] = dict(
        threshold=threshold, editing_threshold=editing_threshold, block_length=block_length,
        gen_length=gen_length, max_post_steps=max_post_steps, temperature=temperature,
        top_k=top_k, top_p=top_p, steps=steps, num_to_transfer=num_to_transfer,
        eos_early_stop=eos_early_stop, stop_at_role_end=stop_at_role_end, attention=attention,
        seed=seed)
    try:  # checked before loading, so a bad option fails at once
        DecodingSettings.for_mode(mode.value, **overrides)
    except NoemaError as err:
        fail(str(err), err.exit_code)

    if server and model:
        fail("--model and --server both name a model: give one (the server has its own)", 2)
    terminal = not as_json and stdout_is_terminal()
    session = AskSession(terminal=terminal, quiet=as_json)
    if note and not as_json:
        session.stderr.print(note, style="yellow")
    try:
        if server:
            from noema_core.remote.client import unsendable  # httpx: only when needed

            engine = session.connect(server, api_key)
            for name in unsendable(engine, overrides):
                session.stderr.print(f"--{name.replace('_', '-')} is not sent: {server} fixes "
                                     f"it when it starts", style="yellow")
        else:
            engine = session.load(model, device=device, dtype=dtype, quant=quant.value,
                                  compile=compile)
        # The model's own Q/S thresholds, if it ships them; options still override them.
        settings = engine.settings_for(mode.value, **overrides)
        tries = session.decode_with_retries(engine, text, settings, retry)
        outcome = pick_outcome(tries)
    except NoemaError as err:
        fail(str(err), err.exit_code)
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except Exception as err:  # noqa: BLE001 - unexpected runtime failure: one line, exit 1
        fail(f"{type(err).__name__}: {err}", 1)

    trace_error = write_trace(trace, session.events, model, text, settings) if trace else ""
    try:
        if as_json:
            report = outcome.as_json()
            if len(tries) > 1:  # the checker contradicted the first answer
                report["tries"] = [{"how": how, **each.as_json()} for how, each in tries]
            emit(json.dumps(report, ensure_ascii=False))
        else:
            session.show_other_tries(tries, outcome)
            session.show(outcome)
    finally:
        if session.abandoned:
            session.exit_now(130)  # the decoding thread is still inside a forward
    if trace_error:
        fail(trace_error, 2)
    if outcome.interrupted:
        raise typer.Exit(130)
    if not outcome.result.text.strip():
        fail(EMPTY_ANSWER, 1)
    if strict and outcome.verdict.status == "contradicted":
        raise typer.Exit(4)


def pick_outcome(tries: list[tuple[str, Any]]) -> Any:
    """The answer to show: the first verified try, else the last one not contradicted, else
    the first (the same rule as `noema_core.retry.chosen`)."""
    from noema_core.retry import choose

    return choose([outcome for _, outcome in tries], lambda o: o.verdict.status)


def write_trace(path: Path, events: list[Any], model: str | None, question: str,
                settings: DecodingSettings) -> str:
    """Write the reply's events as a trace file; '' or why it could not be written (shown
    after the answer, so nothing decoded is lost)."""
    from noema_core.decoding.trace import Trace, TraceError, settings_dict
    from noema_core.engine import DEFAULT_MODEL

    try:
        Trace(model=model or DEFAULT_MODEL, question=question,
              settings=settings_dict(settings), events=events).save(path)
    except TraceError as err:
        return str(err)
    return ""


def is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
