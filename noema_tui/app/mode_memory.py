"""Per-mode hand-tuned values, so that cycling Q -> S -> AR with F2 never drops what F3 set.

Each mode starts from its preset (the model's own where it ships one). Values changed by hand
are remembered for the mode they were changed in and come back when that mode does.
"""

from __future__ import annotations

from noema_core.decoding.settings import DecodingSettings, Mode, ModelPresets
from noema_tui.app.screens.settings_screen import PRESET_FIELDS, switch_mode


class ModeMemory:
    """Remembers, per mode, the preset parameters that differ from that mode's preset."""

    def __init__(self) -> None:
        self._tuned: dict[Mode, dict[str, object]] = {}

    def switch(self, settings: DecodingSettings, mode: Mode,
               presets: ModelPresets | None = None) -> DecodingSettings:
        """`settings` in `mode`: its preset plus what was tuned by hand in it earlier."""
        preset = switch_mode(settings, settings.mode, presets)
        self._tuned[settings.mode] = {name: getattr(settings, name) for name in PRESET_FIELDS
                                      if getattr(settings, name) != getattr(preset, name)}
        return switch_mode(settings, mode, presets).replace(**self._tuned.get(mode, {}))


def is_custom(settings: DecodingSettings, presets: ModelPresets | None = None) -> bool:
    """Whether any parameter differs from the mode's preset (the seed does not count)."""
    preset = DecodingSettings.for_mode(settings.mode, presets=presets)
    return preset.replace(seed=settings.seed) != settings
