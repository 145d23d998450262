"""The result of checking one answer: a small frozen record the UI, the CLI and eval share."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

Status = Literal["verified", "contradicted", "unverifiable"]

VERIFIED: Status = "verified"
CONTRADICTED: Status = "contradicted"
UNVERIFIABLE: Status = "unverifiable"

# Exit codes of `noema verify`, one per status (2 stays the usage error).
EXIT_CODES: dict[str, int] = {VERIFIED: 0, CONTRADICTED: 4, UNVERIFIABLE: 5}


@dataclass(frozen=True)
class Verdict:
    """What the checker concluded about one final answer, always with a reason.

    status:   "verified", "contradicted" or "unverifiable" (shown as "could not check").
    answer:   the answer text extracted from the response ("" when none was found).
    expected: what sympy computed (independent mode) or the parsed reference, as text.
    method:   how the decision was made, e.g. "reference:numeric" or "solve:substitute+solveset".
    reason:   one human sentence saying why.
    rule:     which extraction rule found the answer ("boxed", "final-answer", ... "none").
    mode:     "reference", "independent" or "" when nothing was compared.
    kind:     the question's classification in independent mode ("solve", "integrate", ...).
    elapsed_ms: wall-clock time of the whole check, including waiting for the worker.
    """

    status: Status
    answer: str = ""
    expected: str = ""
    method: str = ""
    reason: str = ""
    rule: str = "none"
    mode: str = ""
    kind: str = ""
    elapsed_ms: float = 0.0

    @property
    def label(self) -> str:
        """The badge text: "verified", "contradicted" or "could not check"."""
        return "could not check" if self.status == UNVERIFIABLE else self.status

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "label": self.label}

    def with_(self, **changes: Any) -> Verdict:
        return replace(self, **changes)


def outcome(status: str, method: str, reason: str, expected: str = "") -> Verdict:
    """A verdict from a check: its status, how it was decided, why, and what was expected."""
    return Verdict(status=status, method=method, reason=reason, expected=expected)  # type: ignore[arg-type]


def unverifiable(reason: str, method: str = "", **fields: Any) -> Verdict:
    """A "could not check" verdict; every such verdict names its reason."""
    return Verdict(status=UNVERIFIABLE, reason=reason, method=method, **fields)
