"""Themes: `.tcss` files in themes/, token-state styles from theme variables, found when
installed, switchable at run time."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from noema_tui.app import themes
from noema_tui.app.factory import ChatOptions
from noema_tui.app.themes import ThemeNotFoundError, available_themes, load_theme
from noema_tui.app.widgets.live_block import STATE_CLASSES, LiveBlock
from noema_tui.app.widgets.prompt_input import PromptInput
from tests.tui.chat_support import (  # noqa: F401 (isolated_dirs is an autouse fixture)
    build_app,
    isolated_dirs,
    pilot_test,
    wait_for,
)

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted(p.stem for p in (REPO / "themes").glob("*.tcss"))


def test_at_least_two_themes_ship_in_the_themes_folder():
    assert len(SHIPPED) >= 2 and "noema-dark" in SHIPPED
    assert set(SHIPPED) <= set(available_themes())


@pytest.mark.parametrize("name", SHIPPED)
def test_each_theme_styles_every_token_state_from_theme_variables(name):
    css = load_theme(name).css
    for component in STATE_CLASSES.values():
        rule = re.search(rf"\.{component}\s*{{([^}}]*)}}", css)
        assert rule, f"{name} does not style {component}"
        colours = re.findall(r"(?:color|background):\s*([^;]+);", rule.group(1))
        assert colours and all(c.strip().startswith("$") for c in colours), (name, component)
    assert not re.search(r"#[0-9a-fA-F]{3,8}\b", css), "colours must come from the palette"


@pytest.mark.parametrize("name", SHIPPED)
def test_each_theme_names_a_palette_textual_has(name):
    from textual.app import App

    assert load_theme(name).palette in App().available_themes


def test_unknown_theme_names_the_ones_available():
    with pytest.raises(ThemeNotFoundError, match="choose one of .*noema-dark"):
        load_theme("no-such-theme")


def test_pyproject_ships_the_themes_as_data_files():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["data-files"]["share/noema/themes"]
    shipped = {p.name for pattern in patterns for p in REPO.glob(pattern)}
    assert shipped == {f"{name}.tcss" for name in SHIPPED}


def test_an_installed_copy_finds_themes_under_its_prefix(tmp_path, monkeypatch):
    """A non-editable install has no source tree: themes come from <prefix>/share/noema."""
    installed = tmp_path / "prefix" / "share" / "noema" / "themes"
    installed.mkdir(parents=True)
    (installed / "installed-only.tcss").write_text("/* palette: nord */\n")
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "prefix"))
    assert load_theme("installed-only").palette == "nord"


def test_a_users_own_theme_overrides_a_shipped_one(tmp_path):
    own = tmp_path / "config" / "noema" / "themes"
    own.mkdir(parents=True)
    (own / "noema-dark.tcss").write_text("/* palette: gruvbox */\n")
    assert load_theme("noema-dark").palette == "gruvbox"
    assert themes.theme_dirs()[0] == own


def edited_style(app) -> str:
    return str(app.query_one(LiveBlock).get_component_rich_style("live-block--edited"))


@pilot_test
async def test_themes_change_the_palette_and_token_styles_at_run_time(tmp_path):
    app = build_app(options=ChatOptions(theme="noema-light"))
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: app.chat_screen.info is not None, "the model")
        app.query_one(PromptInput).load_text("hi")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.query(LiveBlock), "a live block")
        assert app.theme == "textual-light"
        light = edited_style(app)
        app.apply_noema_theme("noema-dark")
        await pilot.pause()
        assert app.theme == "textual-dark" and edited_style(app) != light


@pilot_test
async def test_the_palettes_theme_command_lists_noemas_themes_and_switches_them(tmp_path):
    app = build_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.press(*"theme")
        await wait_for(pilot, lambda: app.screen.query("CommandList") and
                       app.screen.query_one("CommandList").option_count, "palette hits")
        await pilot.press("enter")  # "Theme": now a list of Noema's themes
        await wait_for(pilot, lambda: app.screen.query("CommandList") and
                       app.screen.query_one("CommandList").option_count, "the theme list")
        command_list = app.screen.query_one("CommandList")
        listed = {str(command_list.get_option_at_index(i).prompt)
                  for i in range(command_list.option_count)}
        assert set(SHIPPED) <= {line.split("\n")[0].strip() for line in listed}, listed
        await pilot.press(*"noema-light", "enter")
        await wait_for(pilot, lambda: app.noema_theme.name == "noema-light", "the light theme")
