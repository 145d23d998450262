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

TITLE_LENGTH = 60
VERDICT_FIELDS = ("status", "answer", "expected", "method", "reason")


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

    @property
    def generation_stats(self) -> GenerationStats | None:
        return GenerationStats(**self.stats) if self.stats else None

    @property
    def stopped(self) -> bool:
        return self.finish_reason == "cancelled"


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
        """
        messages: list[dict[str, str]] = []
        for turn in self.turns:
            if turn.finish_reason == "failed":
                if messages and messages[-1]["role"] == "user":
                    messages.pop()
                continue
            messages.append({"role": turn.role, "content": turn.content})
        return messages

    def prompts(self) -> list[str]:
        return [t.content for t in self.turns if t.role == "user"]

    @property
    def last_mode(self) -> str | None:
        """The mode label ("Q", "S", "AR") of the last reply, which `--resume` continues in."""
        modes = [t.mode for t in self.turns if t.role == "assistant" and t.mode]
        return modes[-1] if modes else None


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
