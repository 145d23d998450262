"""A conversation as plain data: what the store saves, the exporter writes and the screen shows.

Turn content is always the raw text (LaTeX kept); rendering happens only in widgets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, is_dataclass
from enum import Enum
from types import SimpleNamespace
from typing import Any

from noema_core.decoding.events import GenerationStats
from noema_core.decoding.settings import Mode
from noema_core.retry import choose

TITLE_LENGTH = 60
VERDICT_FIELDS = ("status", "answer", "expected", "method", "reason", "rule")


@dataclass
class Turn:
    role: str  # "user" | "assistant"
    content: str
    mode: str | None = None  # decoding mode label of a reply ("Q", "S", "AR")
    stats: dict[str, Any] | None = None  # GenerationStats fields
    verdict: dict[str, Any] | None = None  # the checker's Verdict fields
    finish_reason: str | None = None  # "eos" | "length" | "cancelled" | "failed"
    id: int | None = None  # row id once stored
    trace: list[dict[str, Any]] | None = None  # a reply's decoding frames, in wire form
    attempt: int | None = None  # a retried reply's try number (1: as asked); None: no retry
    how: str | None = None  # what that try changed ("stricter thresholds", "seed 1, ...")

    @property
    def generation_stats(self) -> GenerationStats | None:
        return GenerationStats(**self.stats) if self.stats else None

    @property
    def stopped(self) -> bool:
        return self.finish_reason == "cancelled"

    @property
    def status(self) -> str:
        """The verdict's status ("verified", "contradicted", "unverifiable"), "" if none."""
        return str((self.verdict or {}).get("status") or "")

    @property
    def is_later_try(self) -> bool:
        """A second or later decoding of the reply just before it."""
        return self.role == "assistant" and (self.attempt or 0) > 1


@dataclass
class Conversation:
    model: str
    id: int | None = None
    title: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0
    turns: list[Turn] = field(default_factory=list)

    def engine_messages(self) -> list[dict[str, str]]:
        """The turns as the engine's chat messages. A failed reply carries no text, and the
        prompt it answered is left out with it: that prompt went back to the editor to be
        changed or sent again, and one too long for the context would fail every later reply.
        A reply decoded more than once (verifier-guided retry) is one message: the try
        `noema_core.retry.choose` picks (the first verified, ...), as `ask --retry` prints;
        a try stopped part-way only when no try ran to its end.
        """
        messages: list[dict[str, str]] = []
        for tries in reply_groups(self.turns):
            answered = [t for t in tries if t.finish_reason != "failed"]
            if not answered:
                if messages and messages[-1]["role"] == "user":
                    messages.pop()
                continue
            whole = [t for t in answered if not t.stopped] or answered
            turn = choose(whole, lambda t: t.status)
            messages.append({"role": turn.role, "content": turn.content})
        return messages

    def prompts(self) -> list[str]:
        return [t.content for t in self.turns if t.role == "user"]

    @property
    def last_mode(self) -> str | None:
        """The mode label ("Q", "S", "AR") of the last reply, which `--resume` continues in."""
        modes = [t.mode for t in self.turns if t.role == "assistant" and t.mode]
        return modes[-1] if modes else None


def reply_groups(turns: list[Turn]) -> list[list[Turn]]:
    """The turns with every reply's tries together: [prompt], [try 1, try 2], [prompt], ..."""
    groups: list[list[Turn]] = []
    for turn in turns:
        if turn.is_later_try and groups and groups[-1][-1].role == "assistant":
            groups[-1].append(turn)
        else:
            groups.append([turn])
    return groups


def message_name(turns: list[Turn], index: int) -> str:
    """How the transcript numbers turn `index`: "question 2", "reply 2" (the answer to
    question 2) or "reply 2, try 3"."""
    turn = turns[index]
    number = sum(t.role == "user" for t in turns[:index + 1])
    if turn.role == "user":
        return f"question {number}"
    return f"reply {number}" + (f", try {turn.attempt}" if turn.attempt else "")


def mode_value(label: str | None) -> str:
    """A stored mode label ("Q", "S", "AR") as the mode's value; "q" for none or unknown."""
    return {mode.label: mode.value for mode in Mode}.get(label or "", Mode.QUALITY.value)


def title_from(prompt: str) -> str:
    """A one-line title from the first prompt."""
    line = " ".join(prompt.split())
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1] + "…"


def as_plain_dict(value: Any) -> dict[str, Any] | None:
    """A dataclass (Verdict, GenerationStats) or mapping as a JSON-ready dict."""
    if value is None:
        return None
    is_instance = is_dataclass(value) and not isinstance(value, type)
    data = asdict(value) if is_instance else dict(value)
    return {k: (v.value if isinstance(v, Enum) else v) for k, v in data.items()}


def verdict_record(data: Mapping[str, Any]) -> SimpleNamespace:
    """A stored verdict in the attribute shape `formatting.verdict_line` reads."""
    return SimpleNamespace(**{name: data.get(name) or "" for name in VERDICT_FIELDS})
