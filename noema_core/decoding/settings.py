"""Decoding parameters (the Noema-1 card's), their valid ranges, and the Q / S / AR presets.

A checkpoint may ship its own Q and S thresholds (`decoding_presets` in its
generation_config.json, the file where Hugging Face checkpoints keep their decoding defaults):
the card's values suit Noema-1, and a small model can be more or less confident than it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
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


class Attention(str, Enum):
    """How a forward attends. BLOCK_CAUSAL is the model's pattern (exact prefix KV cache);
    CARD reproduces the Noema-1/LLaDA2.1 card's generate(), whose 0/1 mask is added to the
    scores, so every position of the window attends to every other (never cached)."""

    BLOCK_CAUSAL = "block-causal"
    CARD = "card"


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
    "num_to_transfer": (1, 128),
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
    # Masks committed per pass when too few clear the threshold (the reference's default, 1).
    num_to_transfer: int = 1
    eos_early_stop: bool = True
    # Also stop at <|role_end|> when the chat template closes turns with it (the reference
    # stops only at EOS).
    stop_at_role_end: bool = True
    attention: Attention = Attention.BLOCK_CAUSAL
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.attention in {a.value for a in Attention}:  # given by name, e.g. "card"
            object.__setattr__(self, "attention", Attention(self.attention))
        self.validate()

    @classmethod
    def for_mode(cls, mode: Mode | str, *, presets: ModelPresets | None = None,
                 **overrides: object) -> DecodingSettings:
        """The preset for `mode` (the card's, updated by a model's own `presets`), with any
        parameters overridden (None values ignored)."""
        mode = Mode(mode.lower() if isinstance(mode, str) else mode)
        preset: dict[str, object] = dict(PRESETS[mode])
        preset.update((presets or {}).get(mode, {}))
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
        if not isinstance(self.attention, Attention):
            raise SettingsError(f"attention={self.attention!r} is unknown: choose block-causal "
                                f"or card")


PRESETS: dict[Mode, dict[str, object]] = {
    Mode.QUALITY: {"threshold": 0.7, "editing_threshold": 0.5},
    Mode.SPEED: {"threshold": 0.5, "editing_threshold": 0.0},
    # AR ignores thresholds (leftmost mask each forward) and never edits.
    Mode.AR: {"threshold": 1.0, "editing_threshold": 1.0, "max_post_steps": 0},
}

# What a checkpoint's own presets may set, and for which modes: AR has no thresholds to tune.
TUNABLE_FIELDS = ("threshold", "editing_threshold")
TUNABLE_MODES = (Mode.QUALITY, Mode.SPEED)
ModelPresets = Mapping[Mode, Mapping[str, float]]


def parse_model_presets(raw: object) -> dict[Mode, dict[str, float]]:
    """Validate a checkpoint's `decoding_presets` object, e.g. {"s": {"threshold": 0.9}}.
    Raises `SettingsError` naming the first bad entry."""
    if not isinstance(raw, dict):
        raise SettingsError("decoding_presets must be an object such as "
                            '{"s": {"threshold": 0.9}}')
    presets: dict[Mode, dict[str, float]] = {}
    for key, values in raw.items():
        if key not in {m.value for m in TUNABLE_MODES}:
            raise SettingsError(f"decoding_presets has a preset for {key!r}: only q and s "
                                f"have thresholds to set")
        if not isinstance(values, dict) or not set(values) <= set(TUNABLE_FIELDS):
            raise SettingsError(f"decoding_presets.{key} may set only "
                                f"{' and '.join(TUNABLE_FIELDS)}")
        for name, value in values.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise SettingsError(f"decoding_presets.{key}.{name}={value!r} is not a number")
        presets[Mode(key)] = {name: float(value) for name, value in values.items()}
        DecodingSettings.for_mode(key, presets=presets)  # the values' ranges
    return presets
