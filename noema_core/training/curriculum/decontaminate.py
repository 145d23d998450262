"""Keep the hand-written evaluation sets out of the training stream.

`data/natural/` holds questions written by hand to measure the model on material the
curriculum did not generate. A generator of short questions (`expand (-2x + 3)**2`) will now
and then phrase one exactly as a person did, and training on it would turn that measurement
into a memory test, so the stream skips any problem whose question is one of them (compared
case- and space-insensitively). One- and two-word messages ("hi", "good morning") are what
anyone types and stay in. Training runs from a checkout; where the sets are absent (an
installed package), nothing is skipped.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

NATURAL = Path(__file__).resolve().parents[3] / "data" / "natural"
SETS = ("questions", "conversations", "out_of_scope")


def normal(text: str) -> str:
    return " ".join(text.lower().split())


@functools.cache
def dev_questions() -> frozenset[str]:
    """The hand-written questions (every turn of the conversations), normalised."""
    found = set()
    for name in SETS:
        path = NATURAL / f"{name}.jsonl"
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            for turn in row.get("turns", [row]):
                if len(turn["question"].split()) > 2:
                    found.add(normal(turn["question"]))
    return frozenset(found)


def is_dev_question(text: str) -> bool:
    return normal(text) in dev_questions()
