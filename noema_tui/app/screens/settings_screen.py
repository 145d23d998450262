"""F3: every decoding parameter in one form, validated by `DecodingSettings` before it applies.

The fields come from the settings dataclass itself, so a new parameter appears here without
edits. Picking a mode fills in that mode's preset; the result applies from the next reply.
Below them, the chat's auto-retry: how many times a contradicted reply is decoded again.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import Enum

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Select, Static, Switch

from noema_core.decoding.settings import PRESETS, RANGES, DecodingSettings, Mode, ModelPresets
from noema_core.errors import SettingsError
from noema_core.retry import MAX_RETRIES

PRESET_FIELDS = sorted({name for preset in PRESETS.values() for name in preset})


def switch_mode(settings: DecodingSettings, mode: Mode,
                presets: ModelPresets | None = None) -> DecodingSettings:
    """`settings` in another mode: that mode's preset values (the model's own `presets` where
    it ships them), every other parameter kept."""
    preset = DecodingSettings.for_mode(mode, presets=presets)
    return settings.replace(mode=mode, **{name: getattr(preset, name) for name in PRESET_FIELDS})


def uses_card_preset(settings: DecodingSettings) -> bool:
    """Whether `settings` hold the card's preset values for their mode (none tuned by hand)."""
    return switch_mode(settings, settings.mode) == settings


def parse_value(name: str, text: str, current: object) -> object:
    """A decoding parameter's value typed as text, in the type of its `current` value."""
    text = text.strip()
    if isinstance(current, bool):
        words = {"on": True, "true": True, "yes": True, "1": True,
                 "off": False, "false": False, "no": False, "0": False}
        if text.lower() not in words:
            raise SettingsError(f"{name}={text!r} is not on/off: type on or off")
        return words[text.lower()]
    if name == "seed" and text.lower() in ("", "none", "random"):
        return None
    try:
        return float(text) if isinstance(current, float) else int(text)
    except ValueError:
        example = "0.5" if isinstance(current, float) else "32"
        raise SettingsError(f"{name}={text!r} is not a number: type one, e.g. {example}") \
            from None


@dataclass(frozen=True)
class ChatSettings:
    """What F3 saves: the decoding settings and the chat's auto-retry count."""

    decoding: DecodingSettings
    auto_retry: int = 0  # retries of a contradicted reply made without asking


def parse_auto_retry(text: str) -> int:
    """The auto-retry count typed as text; raises `SettingsError` naming the field."""
    value = parse_value("auto_retry", text, 0)
    if not 0 <= value <= MAX_RETRIES:  # type: ignore[operator]
        raise SettingsError(f"auto_retry={value} is out of range [0, {MAX_RETRIES}]: choose "
                            f"how many times to decode a contradicted reply again")
    return value  # type: ignore[return-value]


def describe_range(name: str) -> str:
    if name == "seed":
        return "blank: random"
    low, high = RANGES.get(name, (None, None))
    if low is None:
        return ""
    return f"{low:g} to {high:g}" if high is not None else f"≥ {low:g}"


class SettingsScreen(ModalScreen[ChatSettings | None]):
    DEFAULT_CSS = """
    SettingsScreen { align: center middle; }
    /* On a small terminal the whole form scrolls (and Ctrl+S saves from anywhere). */
    SettingsScreen > VerticalScroll {
        width: 72; max-width: 100%; height: auto; max-height: 100%; padding: 0 2;
        border: round $primary; background: $surface;
    }
    SettingsScreen Grid { grid-size: 3; grid-columns: 20 16 1fr; grid-rows: 1; height: auto;
                          grid-gutter: 0 1; }
    SettingsScreen .settings--range { color: $text-muted; }
    SettingsScreen .settings--note { color: $text-muted; width: 100%; height: auto; }
    SettingsScreen Input.-invalid { color: $text-error; }
    SettingsScreen .settings--error { color: $text-error; height: auto; margin-top: 1; }
    SettingsScreen .settings--error.-empty { display: none; }
    SettingsScreen .settings--buttons { height: auto; align-horizontal: right; margin-top: 1; }
    SettingsScreen Select { width: 16; }
    /* A one-row switch: the grid gives each parameter one line. */
    SettingsScreen Switch, SettingsScreen Switch:focus { border: none; height: 1; padding: 0; }
    SettingsScreen Switch:focus { background-tint: $foreground 10%; }
    """

    BINDINGS = [
        Binding("ctrl+s", "save_settings", "Save", id="settings.save"),
        Binding("escape", "cancel_settings", "Cancel", id="settings.cancel"),
    ]

    def __init__(self, settings: DecodingSettings, presets: ModelPresets | None = None,
                 sendable: frozenset[str] | None = None, auto_retry: int = 0) -> None:
        super().__init__()
        self.settings = settings
        self.auto_retry = auto_retry
        self.presets = presets
        self.sendable = sendable  # a --server takes only these; None: every parameter

    def compose(self) -> ComposeResult:
        with VerticalScroll(can_focus=False):
            yield Label("Decoding settings (apply from the next reply)", markup=False)
            if self.presets:  # say why the thresholds differ from Noema-1's card
                yield Label("Q/S thresholds: the model's own presets (generation_config.json)",
                            classes="settings--note", markup=False)
            if self.sendable is not None:
                yield Label("Greyed out: set by the server when it started, not per request",
                            classes="settings--note", markup=False)
            with Grid():
                for field in dataclasses.fields(DecodingSettings):
                    fixed = self.sendable is not None and field.name not in self.sendable
                    yield Label(field.name, markup=False, disabled=fixed)
                    editor = self._editor(field.name, getattr(self.settings, field.name))
                    editor.disabled = fixed
                    yield editor
                    yield Label("set by the server" if fixed else describe_range(field.name),
                                classes="settings--range", markup=False)
                yield Label("auto_retry", markup=False)
                yield Input(str(self.auto_retry), type="integer", compact=True,
                            id="auto_retry", select_on_focus=True)
                yield Label(f"0 to {MAX_RETRIES} retries",
                            classes="settings--range", markup=False)
            yield Static("", classes="settings--error -empty", markup=False)
            with Horizontal(classes="settings--buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")
        yield Footer()

    def _editor(self, name: str, value: object):
        if isinstance(value, Enum):  # the mode, the attention
            return Select([(getattr(m, "label", m.value), m.value) for m in type(value)],
                          value=value.value, allow_blank=False, compact=True, id=name)
        if isinstance(value, bool):
            return Switch(value=value, id=name)
        kind = "number" if isinstance(value, float) else "integer"
        return Input("" if value is None else str(value), type=kind, compact=True, id=name,
                     select_on_focus=True)

    @on(Select.Changed, "#mode")
    def fill_mode_preset(self, event: Select.Changed) -> None:
        # The Select also reports its initial value: for the mode the screen opened in, show
        # the values in force (perhaps edited earlier), not that mode's preset.
        mode = Mode(str(event.value))
        values = (self.settings if mode is self.settings.mode
                  else switch_mode(self.settings, mode, self.presets))
        for name in PRESET_FIELDS:
            self.query_one(f"#{name}", Input).value = str(getattr(values, name))

    def read_form(self) -> DecodingSettings:
        """The settings the form describes; raises `SettingsError` naming the bad field."""
        values: dict[str, object] = {}
        for field in dataclasses.fields(DecodingSettings):
            current = getattr(self.settings, field.name)
            widget = self.query_one(f"#{field.name}")
            if isinstance(widget, Select):
                values[field.name] = type(current)(str(widget.value))
            elif isinstance(widget, Switch):
                values[field.name] = widget.value
            else:
                values[field.name] = parse_value(field.name, widget.value, current)
        return DecodingSettings(**values)  # type: ignore[arg-type]

    @on(Button.Pressed, "#save")
    @on(Input.Submitted)
    def action_save_settings(self) -> None:
        for field in self.query(Input):
            field.remove_class("-invalid")
        try:
            settings = self.read_form()
            auto_retry = parse_auto_retry(self.query_one("#auto_retry", Input).value)
        except SettingsError as error:
            message = self.query_one(".settings--error", Static)
            message.update(str(error))
            message.remove_class("-empty")
            bad = str(error).split("=", 1)[0]
            if bad in {field.name for field in dataclasses.fields(DecodingSettings)} | {
                    "auto_retry"}:
                self.query_one(f"#{bad}").add_class("-invalid")
            return
        self.dismiss(ChatSettings(settings, auto_retry))

    @on(Button.Pressed, "#cancel")
    def action_cancel_settings(self) -> None:
        self.dismiss(None)
