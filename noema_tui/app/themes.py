"""Noema's themes: `.tcss` stylesheets found in the user's config, the source tree or the install.

A theme styles the live block's token states and the reply decorations with Textual theme
variables, so it follows whatever colour palette it names. The palette is read from a comment
line in the file (`/* palette: textual-dark */`); the stylesheet itself stays plain TCSS.
"""

from __future__ import annotations

import re
import site
import sys
from dataclasses import dataclass
from pathlib import Path

from noema_core.errors import NoemaError
from noema_tui.app.user_config import config_dir

DEFAULT_THEME = "noema-dark"
PALETTE_LINE = re.compile(r"/\*\s*palette:\s*([\w-]+)\s*\*/")
INSTALLED_THEMES = Path("share") / "noema" / "themes"  # pyproject's data-files target


class ThemeNotFoundError(NoemaError):
    """No theme file has the requested name (a usage error)."""

    exit_code = 2


@dataclass(frozen=True)
class NoemaTheme:
    name: str
    path: Path
    css: str
    palette: str | None  # a Textual theme name, or None to keep the current palette


def theme_dirs() -> list[Path]:
    """Where themes are looked for, the first holding a name wins: the user's own themes,
    the source checkout (editable installs), then the install prefixes' data files."""
    candidates = [
        config_dir() / "themes",
        Path(__file__).resolve().parents[2] / "themes",
        Path(sys.prefix) / INSTALLED_THEMES,
        Path(site.getuserbase()) / INSTALLED_THEMES,
    ]
    return [d for d in dict.fromkeys(candidates) if d.is_dir()]


def available_themes() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for directory in theme_dirs():
        for path in sorted(directory.glob("*.tcss")):
            found.setdefault(path.stem, path)
    return found


def load_theme(name: str) -> NoemaTheme:
    themes = available_themes()
    if name not in themes:
        names = ", ".join(sorted(themes)) or "none found"
        raise ThemeNotFoundError(f"theme {name!r} does not exist: choose one of {names}")
    path = themes[name]
    css = path.read_text(encoding="utf-8")
    palette = PALETTE_LINE.search(css)
    return NoemaTheme(name, path, css, palette.group(1) if palette else None)
