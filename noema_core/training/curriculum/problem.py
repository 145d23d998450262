"""A generated problem, and the rule that splits problems into training and held-out sets."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

HELD_OUT_SHARE = 20  # one problem in 20 (by identity, not by phrasing) is held out


@dataclass(frozen=True)
class Problem:
    family: str
    question: str
    solution: str  # step-by-step text ending in \boxed{answer}
    answer: str  # the boxed content (LaTeX), the reference for grading
    key: tuple  # the problem's identity: family and numbers, independent of phrasing

    @property
    def held_out(self) -> bool:
        return is_held_out(self.key)


def is_held_out(key: tuple) -> bool:
    """Held-out problems are chosen by a hash of their identity, so a held-out problem never
    appears in training under another phrasing or from another seed."""
    digest = hashlib.blake2b(repr(key).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") % HELD_OUT_SHARE == 0
