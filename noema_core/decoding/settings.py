"""Decoding parameters (the Noema-1 card's), their valid ranges, and the Q / S / AR presets."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import Enum

from noema_core.errors import SettingsError


class Mode(str, Enum):
    """Decoding modes. Q and S differ only in thresholds; AR commits one token per forward."""

    QUALITY = "q"
    SPEED = "s"
    AR = "ar"

    @property
    def label(self) -> str:
        return {"q": "Q", "s": "S", "ar": "AR"}[self.value]

    def next(self) -> Mode:
        """The mode after this one in the Q -> S -> AR -> Q cycle."""
        order = list(Mode)
        return order[(order.index(self) + 1) % len(order)]


# name: (low, high) inclusive; None means unbounded on that side.
RANGES: dict[str, tuple[float | None, float | None]] = {
    "threshold": (0.0, 1.0),
    "editing_threshold": (0.0, 1.0),
    "block_length": (16, 128),
    "gen_length": (1, 4096),
    "max_post_steps": (0, 32),
    "temperature": (0.0, 2.0),
    "top_k": (0, None),  # 0 = off
    "top_p": (0.0, 1.0),  # 1.0 = off; 0 is rejected below
    "steps": (1, 64),
}


@dataclass(frozen=True)
class DecodingSettings:
    """Every parameter of the decoding loop (spec section 5). Build presets with `for_mode`."""

    mode: Mode = Mode.QUALITY
    threshold: float = 0.7
    editing_threshold: float = 0.5
    block_length: int = 32
    gen_length: int = 1024
    max_post_steps: int = 16
    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 1.0
    steps: int = 32
    eos_early_stop: bool = True
    seed: int | None = None

    def __post_init__(self) -> None:
        self.validate()

    @classmethod
    def for_mode(cls, mode: Mode | str, **overrides: object) -> DecodingSettings:
        """The card's preset for `mode`, with any parameters overridden (None values ignored)."""
        mode = Mode(mode.lower() if isinstance(mode, str) else mode)
        preset: dict[str, object] = dict(PRESETS[mode])
        preset.update({k: v for k, v in overrides.items() if v is not None})
        return cls(mode=mode, **preset)  # type: ignore[arg-type]

    def replace(self, **changes: object) -> DecodingSettings:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def validate(self) -> None:
        for name, (low, high) in RANGES.items():
            value = getattr(self, name)
            if value != value:  # NaN passes every comparison below
                raise SettingsError(f"{name}={value} is not a number: choose a value in range")
            if (low is not None and value < low) or (high is not None and value > high):
                upper = "" if high is None else f"{high:g}"
                raise SettingsError(
                    f"{name}={value} is out of range: choose a value in [{low:g}, {upper}]"
                    if high is not None
                    else f"{name}={value} is out of range: choose a value >= {low:g}"
                )
        if self.top_p <= 0.0:
            raise SettingsError(f"top_p={self.top_p} is out of range: choose a value in (0, 1]")
        if not isinstance(self.mode, Mode):
            raise SettingsError(f"mode={self.mode!r} is unknown: choose q, s or ar")


PRESETS: dict[Mode, dict[str, object]] = {
    Mode.QUALITY: {"threshold": 0.7, "editing_threshold": 0.5},
    Mode.SPEED: {"threshold": 0.5, "editing_threshold": 0.0},
    # AR ignores thresholds (leftmost mask each forward) and never edits.
    Mode.AR: {"threshold": 1.0, "editing_threshold": 1.0, "max_post_steps": 0},
}
