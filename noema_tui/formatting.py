"""Plain-string labels both UIs share: the stats line, the verdict line, mode names.

No Rich or Textual here: each UI styles these strings its own way, and `noema ask` prints
them as they are when its output is not a terminal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

SEPARATOR = " · "

MODE_NAMES = {"q": "quality", "s": "speed", "ar": "autoregressive"}
VERDICT_MARKS = {"verified": "✓", "contradicted": "✗", "unverifiable": "?"}
VERDICT_LABELS = {"verified": "verified", "contradicted": "contradicted",
                  "unverifiable": "could not check"}
NO_ANSWER_LINE = "– no answer to check: the reply has no \\boxed{}, answer line or number"


class StatsLike(Protocol):
    new_tokens: int
    forwards: int
    seconds: float


class VerdictLike(Protocol):
    status: str
    answer: str
    expected: str
    method: str
    reason: str


def _mode_value(mode: Any) -> str:
    return str(getattr(mode, "value", mode)).lower()


def mode_name(mode: Any) -> str:
    """'quality', 'speed' or 'autoregressive' for a `Mode` or its value ('q', 's', 'ar')."""
    value = _mode_value(mode)
    return MODE_NAMES.get(value, value)


def mode_label(mode: Any) -> str:
    """Short label and name, e.g. 'Q quality', 'AR autoregressive'."""
    value = _mode_value(mode)
    return f"{value.upper()} {mode_name(value)}"


def stats_line(stats: StatsLike | Mapping[str, float]) -> str:
    """'85.3 tok/s · 3.50 tok/fwd · 12 forwards · 42 new tokens · 0.49 s'.

    Takes a `GenerationStats` or its `as_dict()`.
    """
    get = stats.get if isinstance(stats, Mapping) else lambda key: getattr(stats, key)
    new_tokens, forwards, seconds = int(get("new_tokens")), int(get("forwards")), get("seconds")
    per_second = new_tokens / seconds if seconds > 0 else 0.0
    per_forward = new_tokens / forwards if forwards else 0.0
    return SEPARATOR.join([
        f"{per_second:.1f} tok/s",
        f"{per_forward:.2f} tok/fwd",
        f"{forwards} forward{'s' if forwards != 1 else ''}",
        f"{new_tokens} new token{'s' if new_tokens != 1 else ''}",
        f"{seconds:.2f} s",
    ])


def has_no_answer(verdict: VerdictLike) -> bool:
    """Whether the checker found no answer at all in the reply (a greeting's reply, a
    refusal): nothing was left unchecked, so it is shown as a quiet note, not a warning."""
    return (verdict.status == "unverifiable" and getattr(verdict, "rule", "") == "none"
            and verdict.method == "extract")  # not a limit or an interruption, which say so


def verdict_line(verdict: VerdictLike) -> str:
    """One line saying what the checker concluded and why.

    '✓ verified: 5 · <reason>', '✗ contradicted: the reply says 4, sympy found 5 · <reason>',
    '? could not check: <reason>', or NO_ANSWER_LINE when the reply holds no answer.
    """
    if has_no_answer(verdict):
        return NO_ANSWER_LINE
    mark = VERDICT_MARKS.get(verdict.status, "?")
    label = VERDICT_LABELS.get(verdict.status, verdict.status)
    if verdict.status == "unverifiable":
        return f"{mark} {label}: {verdict.reason or 'no reason given'}"
    if verdict.status == "verified":
        detail = verdict.answer or verdict.expected
    else:
        detail = f"the reply says {verdict.answer or 'nothing'}"
        if verdict.expected:
            detail += f", sympy found {verdict.expected}"
    return f"{mark} {label}: {detail}" + (f"{SEPARATOR}{verdict.reason}" if verdict.reason else "")


def block_line(block_index: int, forward: int, masked: int, size: int) -> str:
    """Header of the live block: 'block 3 · forward 5 · 12/32 masked' (block 1-based)."""
    return SEPARATOR.join([f"block {block_index + 1}", f"forward {forward}",
                           f"{masked}/{size} masked"])


def load_line(model: str, device: str, what: str = "", fraction: float | None = None) -> str:
    """'loading noema-tiny on cpu: reading model.safetensors 50%'."""
    line = f"loading {model} on {device}"
    if what and not what.startswith("loading "):  # the loader's first stage repeats the line
        line += f": {what}"
    if fraction is not None:
        line += f" {fraction:.0%}"
    return line
