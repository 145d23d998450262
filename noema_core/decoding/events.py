"""What the sampler tells its caller, one past-tense fact at a time.

A UI consumes `generate(...)` as an iterator of these events: a `BlockUpdated` snapshot after
every forward, a `BlockFinished` when a block's tokens are final, and one `GenerationFinished`
at the end (also after cancellation, carrying the partial result). Snapshots are whole-block,
not deltas, so a consumer that drops stale frames never ends up inconsistent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class TokenState(str, Enum):
    """The state of one slot of the active block after a forward."""

    PROMPT = "prompt"  # prompt tail sharing the first generated block; never changes
    MASKED = "masked"  # still [MASK]
    UNMASKED = "unmasked"  # unmasked by this forward
    STABLE = "stable"  # unmasked by an earlier forward and unchanged since
    EDITED = "edited"  # rewritten by this forward (token -> different token)


@dataclass(frozen=True)
class BlockUpdated:
    """A snapshot of the active block after one forward."""

    block_index: int  # 0-based among generated blocks
    forward: int  # 1-based forward counter within this block
    token_ids: tuple[int, ...]  # the whole block, mask id where masked
    states: tuple[TokenState, ...]
    confidences: tuple[float, ...]  # probability of the token in each slot (0: masked/prompt)
    pieces: tuple[str, ...] = ()  # each slot's text ("" if masked), when a tokenizer is known
    edits: int = 0  # slots edited by this forward

    @property
    def masked(self) -> int:
        return sum(s is TokenState.MASKED for s in self.states)


@dataclass(frozen=True)
class BlockFinished:
    """A block is final: its tokens will never change again. Ids/text exclude prompt slots."""

    block_index: int
    forwards: int
    token_ids: tuple[int, ...]
    text: str = ""
    edits: int = 0


@dataclass(frozen=True)
class GenerationStats:
    prompt_tokens: int
    new_tokens: int  # committed tokens up to (not including) the first EOS
    forwards: int
    seconds: float
    edits: int = 0
    blocks: int = 0
    prefill_seconds: float = 0.0  # part of `seconds` spent filling the prompt's KV cache

    @property
    def tokens_per_forward(self) -> float:
        return self.new_tokens / self.forwards if self.forwards else 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.new_tokens / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "new_tokens": self.new_tokens,
            "forwards": self.forwards,
            "tokens_per_forward": round(self.tokens_per_forward, 3),
            "tokens_per_second": round(self.tokens_per_second, 2),
            "seconds": round(self.seconds, 4),
            "edits": self.edits,
        }


@dataclass(frozen=True)
class GenerationResult:
    token_ids: tuple[int, ...]  # generated ids, cut at the first EOS (exclusive)
    text: str
    stats: GenerationStats
    cancelled: bool = False
    finish_reason: str = "eos"  # "eos" | "length" | "cancelled"


@dataclass(frozen=True)
class GenerationFinished:
    result: GenerationResult = field()


DecodingEvent = BlockUpdated | BlockFinished | GenerationFinished
