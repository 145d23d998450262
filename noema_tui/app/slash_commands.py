"""Slash commands typed in the prompt: /help, /new, /mode, /set, /export.

Parsing lives here, apart from the screen, so that every command and its usage line is listed
once: `/help`, an unknown command and the F1 screen all show `COMMANDS`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from noema_core.decoding.settings import DecodingSettings, Mode
from noema_core.errors import SettingsError
from noema_tui.app.screens.settings_screen import parse_value


@dataclass(frozen=True)
class SlashCommand:
    name: str
    usage: str  # the arguments, as shown in help
    does: str


COMMANDS = (
    SlashCommand("/help", "", "list keys and commands"),
    SlashCommand("/new", "", "start a new conversation (this one stays saved)"),
    SlashCommand("/mode", "q|s|ar", "decoding mode from the next reply"),
    SlashCommand("/set", "name value", "set a decoding parameter, e.g. /set threshold 0.8, "
                 "or auto_retry (0-8), or history (earlier exchanges the model reads: N or all)"),
    SlashCommand("/export", "[path]", "write the transcript: path.md, path.json, or a folder"),
)
NAMES = {command.name for command in COMMANDS}


def usage_line() -> str:
    """Every command with its arguments on one line, for notices."""
    return "  ".join(f"{c.name} {c.usage}".strip() for c in COMMANDS)


def split_command(text: str) -> tuple[str, str]:
    """`"/set threshold 0.8"` -> `("/set", "threshold 0.8")`; the name is lower-cased."""
    name, _, argument = text.strip().partition(" ")
    return name.lower(), argument.strip()


def parse_mode(argument: str) -> Mode:
    """`q`, `S`, `ar` (or `quality`/`speed`) -> the Mode; SettingsError names the choices."""
    word = argument.strip().lower()
    aliases = {"quality": "q", "speed": "s", "autoregressive": "ar"}
    try:
        return Mode(aliases.get(word, word))
    except ValueError:
        raise SettingsError(f"unknown mode {argument!r}: use /mode q, /mode s or /mode ar") \
            from None


def apply_set(settings: DecodingSettings, argument: str) -> DecodingSettings:
    """`/set name value` applied to `settings` (validated); SettingsError says what is wrong."""
    name, _, value = argument.partition(" ")
    fields = [f.name for f in dataclasses.fields(DecodingSettings) if f.name != "mode"]
    if not name or not value.strip():
        raise SettingsError("usage: /set name value, with name one of " + ", ".join(fields))
    if name not in fields:
        hint = "use /mode to change the mode" if name == "mode" else "one of " + ", ".join(fields)
        raise SettingsError(f"unknown setting {name!r}: {hint}")
    return settings.replace(**{name: parse_value(name, value, getattr(settings, name))})


def describe_history(name: str, exchanges: int | None) -> str:
    """What the model reads with each question, for the notice after `/set history`."""
    if exchanges is None:
        return f"{name} reads the whole conversation from the next reply."
    if exchanges == 0:
        return f"{name} answers each question on its own from the next reply."
    return (f"{name} reads the last {exchanges} exchange{'s' if exchanges != 1 else ''} with "
            "each question from the next reply.")
