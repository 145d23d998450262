"""The user's own configuration: Noema's config directory, the key remaps and chat options.

`keymap.toml` maps binding ids (the README's key table lists them) to keys, e.g.

    "chat.cycle_mode" = "f9"
    "chat.export_transcript" = "ctrl+e"

`config.toml` holds the chat's own options:

    [chat]
    auto_retry = 2  # decode a reply the checker contradicts again, up to 2 times (default 1)

A bad file never stops the app: each problem becomes a one-line notice and the defaults
stay in force for what it could not use.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

KEYMAP_FILE = "keymap.toml"
CONFIG_FILE = "config.toml"


def config_dir() -> Path:
    """`$XDG_CONFIG_HOME/noema`, by default `~/.config/noema`."""
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "noema"


def _read_toml(path: Path) -> tuple[dict, str]:
    """The file's table ({} when there is none) and why it could not be read ("" if it was)."""
    if not path.is_file():
        return {}, ""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")), ""
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        return {}, f"{path} could not be read ({err}): fix it; the defaults are in use"


def load_auto_retry(most: int, default: int) -> tuple[int, list[str]]:
    """`[chat] auto_retry` from config.toml (`default` when unset or unusable) and a notice
    for a file or value that could not be used."""
    path = config_dir() / CONFIG_FILE
    table, problem = _read_toml(path)
    if problem:
        return default, [problem]
    chat = table.get("chat", {})
    value = chat.get("auto_retry", default) if isinstance(chat, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= most:
        return default, [f"{path}: [chat] auto_retry must be a whole number from 0 to {most}, "
                         f"e.g. auto_retry = 2; the default ({default}) is in use"]
    return value, []


def load_keymap(known_ids: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """The remaps in keymap.toml (binding id -> comma-separated keys) and a notice for each
    entry or file that could not be used."""
    path = config_dir() / KEYMAP_FILE
    table, problem = _read_toml(path)
    if problem:
        return {}, [problem]
    table = table.get("keymap", table)  # a [keymap] table, or the entries at the top level
    known = set(known_ids)
    keymap: dict[str, str] = {}
    notices = []
    for binding_id, keys in table.items():
        if binding_id not in known:
            notices.append(f"{path}: {binding_id!r} is not a binding id; choose one of "
                           f"{', '.join(sorted(known))}")
        elif not isinstance(keys, str) or not keys.strip():
            notices.append(f"{path}: {binding_id} needs keys as a string, e.g. "
                           f"\"{binding_id}\" = \"f9\"")
        else:
            keymap[binding_id] = keys.replace(" ", "")
    return keymap, notices
