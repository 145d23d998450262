"""Caps that keep hostile input cheap: sizes checked before any parsing, and the worker's limits.

Text caps are checked in the calling process (no round trip for a megabyte string); the
number-size caps are checked in the worker on parsed trees before anything is evaluated.
"""

from __future__ import annotations

MAX_RESPONSE_CHARS = 200_000  # a model response longer than this is not checked at all
MAX_QUESTION_CHARS = 20_000
MAX_REFERENCE_CHARS = 2_000
MAX_ANSWER_CHARS = 2_000  # the extracted final answer
MAX_MATH_CHARS = 2_000  # one mathematical object taken from a question
MAX_NESTING = 40  # brackets/braces deep
MAX_TREE_NODES = 4_000  # sympy nodes in one parsed object

# Numbers: an integer result may have at most this many digits, and a power with a symbolic
# base at most this exponent (x^200 is fine, x^(10^6) would make expand/solve explode).
MAX_DIGITS = 2_000
MAX_SYMBOLIC_EXPONENT = 200
MAX_FACTORIAL = 1_000

# The worker process: address space (bytes) and CPU seconds granted per request beyond its
# deadline. The wall-clock deadline is enforced by the parent, which kills the worker.
WORKER_MEMORY_BYTES = 2 * 1024**3
WORKER_CPU_SLACK_S = 2
WORKER_START_TIMEOUT_S = 60.0  # a worker not ready after this long is killed and replaced


class InputTooLarge(ValueError):
    """An input exceeds one of the caps above; the message says which."""


def check_text(text: str, what: str, max_chars: int) -> None:
    """Raise InputTooLarge if `text` is too long or nested too deeply to parse safely."""
    if len(text) > max_chars:
        raise InputTooLarge(f"{what} too long ({len(text):,} characters; limit {max_chars:,})")
    depth = deepest = 0
    for ch in text:
        if ch in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in ")]}":
            depth = max(0, depth - 1)
    if deepest > MAX_NESTING:
        raise InputTooLarge(f"{what} nested too deeply ({deepest} levels; limit {MAX_NESTING})")
