"""The settings screen (every parameter, validated), F1 help, and remappable binding ids."""

from __future__ import annotations

import dataclasses

from textual.widgets import Input, Label, Select, Switch

from noema_core.decoding.settings import Attention, DecodingSettings, Mode
from noema_tui.app.screens.help_screen import HelpScreen
from noema_tui.app.screens.settings_screen import SettingsScreen, uses_card_preset
from noema_tui.app.widgets.prompt_input import PromptInput
from noema_tui.app.widgets.reply_view import ReplyView
from noema_tui.app.widgets.status_line import StatusLine
from tests.tui.chat_support import (  # noqa: F401 (isolated_dirs is an autouse fixture)
    TINY_INFO,
    ReplayEngine,
    build_app,
    isolated_dirs,
    pilot_test,
    wait_for,
)


async def open_settings(pilot) -> SettingsScreen:
    await pilot.press("f3")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, SettingsScreen), "settings")
    return pilot.app.screen


@pilot_test
async def test_settings_screen_has_a_field_for_every_decoding_parameter(tmp_path):
    app = build_app()
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await open_settings(pilot)
        for field in dataclasses.fields(DecodingSettings):
            assert screen.query(f"#{field.name}"), field.name
        assert screen.query_one("#threshold", Input).value == "0.7"


@pilot_test
async def test_out_of_range_value_is_refused_with_the_reason(tmp_path):
    app = build_app()
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await open_settings(pilot)
        screen.query_one("#threshold", Input).value = "1.5"
        await pilot.press("ctrl+s")
        assert app.screen is screen
        error = str(screen.query_one(".settings--error").render())
        assert "threshold=1.5 is out of range" in error and "[0, 1]" in error
        assert screen.query_one("#threshold").has_class("-invalid")
        await pilot.press("escape")
        assert app.chat_screen.settings.threshold == 0.7


@pilot_test
async def test_text_in_a_number_field_is_refused(tmp_path):
    app = build_app()
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await open_settings(pilot)
        screen.query_one("#gen_length", Input).value = "lots"
        await pilot.press("ctrl+s")
        assert "gen_length='lots' is not a number" in str(
            screen.query_one(".settings--error").render())


@pilot_test
async def test_saved_settings_apply_to_the_next_reply(tmp_path):
    engine = ReplayEngine()
    app = build_app(engine=engine)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: app.chat_screen.info is not None, "the model")
        screen = await open_settings(pilot)
        screen.query_one("#gen_length", Input).value = "64"
        screen.query_one("#temperature", Input).value = "0.5"
        screen.query_one("#seed", Input).value = "7"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is app.chat_screen, "the chat")
        app.query_one(PromptInput).load_text("hi")
        await pilot.press("enter")
        await wait_for(pilot, lambda: engine.calls, "the reply")
        used = engine.calls[0][1]
        assert (used.gen_length, used.temperature, used.seed) == (64, 0.5, 7)
        await wait_for(pilot, lambda: app.query_one(ReplyView).finished, "the reply to end")


@pilot_test
async def test_choosing_a_mode_fills_in_its_preset(tmp_path):
    app = build_app()
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await open_settings(pilot)
        screen.query_one("#mode", Select).value = "s"
        await wait_for(pilot, lambda: screen.query_one("#threshold", Input).value == "0.5",
                       "the S preset")
        assert not screen.query(".settings--note")  # the card's presets: nothing to explain
        assert screen.query_one("#editing_threshold", Input).value == "0.0"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is app.chat_screen, "the chat")
        assert app.chat_screen.settings.mode is Mode.SPEED
        assert app.query_one(StatusLine).mode == "S"


@pilot_test
async def test_the_card_attention_and_the_reference_options_can_be_chosen(tmp_path):
    app = build_app()
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await open_settings(pilot)
        assert screen.query_one("#attention", Select).value == "block-causal"
        screen.query_one("#attention", Select).value = "card"
        screen.query_one("#num_to_transfer", Input).value = "2"
        screen.query_one("#stop_at_role_end", Switch).value = False
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is app.chat_screen, "the chat")
        settings = app.chat_screen.settings
        assert settings.attention is Attention.CARD
        assert (settings.num_to_transfer, settings.stop_at_role_end) == (2, False)


@pilot_test
async def test_reopened_settings_show_the_values_saved_not_the_mode_preset(tmp_path):
    app = build_app()
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await open_settings(pilot)
        screen.query_one("#threshold", Input).value = "0.8"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is app.chat_screen, "the chat")
        screen = await open_settings(pilot)
        await pilot.pause()  # the mode picker reports its first value
        assert screen.query_one("#threshold", Input).value == "0.8"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is app.chat_screen, "the chat")
        assert app.chat_screen.settings.threshold == 0.8


@pilot_test
async def test_every_settings_editor_is_drawn_on_its_own_row(tmp_path):
    app = build_app()
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await open_settings(pilot)
        await pilot.pause()
        mode = screen.query_one("#mode", Select)
        shown = mode.query_one("SelectCurrent")
        assert shown.region.y == mode.region.y and shown.region.height == 1
        switch = screen.query_one("#eos_early_stop", Switch)
        [label] = [w for w in screen.query(Label) if str(w.render()) == "eos_early_stop"]
        assert switch.content_region.height == 1 and switch.region.y == label.region.y


@pilot_test
async def test_settings_fit_a_small_terminal_and_name_their_keys(tmp_path):
    app = build_app()
    async with app.run_test(size=(50, 14)) as pilot:
        screen = await open_settings(pilot)
        await pilot.pause()
        form = screen.query_one("SettingsScreen > VerticalScroll")
        assert form.region.right <= 50 and form.region.bottom <= 13
        footer = {(key.key, key.description) for key in screen.query("FooterKey")}
        assert {("ctrl+s", "Save"), ("escape", "Cancel")} <= footer
        form.scroll_end(animate=False)
        await pilot.pause()
        save = screen.query_one("#save")
        assert form.region.contains_region(save.region)


@pilot_test
async def test_f1_lists_the_live_bindings_with_their_ids(tmp_path):
    app = build_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        ids = {binding.id for _, binding in app.screen.bindings}
        assert {"chat.stop_reply", "chat.cycle_mode", "chat.open_settings",
                "chat.regenerate_reply", "chat.export_transcript", "prompt.send",
                "prompt.newline", "app.show_help"} <= ids
        keys = dict((b.id, key) for key, b in app.screen.bindings)
        assert keys["chat.cycle_mode"] == "f2"
        assert keys["prompt.newline"] == "shift+⏎ / ^j"  # Ctrl+J: where Shift+Enter can't be sent
        footer = {(key.key, key.description) for key in app.screen.query("FooterKey")}
        assert ("escape", "Close") in footer
        await pilot.press("escape")
        assert app.screen is app.chat_screen


@pilot_test
async def test_help_fits_a_small_terminal_with_noemas_keys_first(tmp_path):
    app = build_app()
    async with app.run_test(size=(60, 20)) as pilot:
        app.chat_screen.query_one("#transcript").focus()  # its scroll keys join the list
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        await pilot.pause()
        ids = [binding.id for _, binding in app.screen.bindings]
        assert None in ids and ids.index(None) == sum(1 for i in ids if i)  # ids first
        panel = app.screen.query_one("HelpScreen > VerticalScroll")
        assert panel.region.right <= 60 and panel.region.bottom <= 19


@pilot_test
async def test_keymap_toml_in_the_config_dir_remaps_keys_by_binding_id(tmp_path):
    keymap = tmp_path / "config" / "noema" / "keymap.toml"  # XDG_CONFIG_HOME is tmp/config
    keymap.parent.mkdir(parents=True)
    keymap.write_text('"chat.cycle_mode" = "f9"\n"chat.no_such_action" = "f8"\n'
                      '"chat.open_settings" = 3\n')
    app = build_app()
    async with app.run_test() as pilot:
        await pilot.press("f2")  # the default key no longer cycles the mode
        assert app.chat_screen.settings.mode is Mode.QUALITY
        await pilot.press("f9")
        assert app.chat_screen.settings.mode is Mode.SPEED
    assert any("'chat.no_such_action' is not a binding id" in n for n in app.notices)
    assert any("chat.open_settings needs keys as a string" in n for n in app.notices)


@pilot_test
async def test_an_unreadable_keymap_is_a_notice_and_the_default_keys_stay(tmp_path):
    keymap = tmp_path / "config" / "noema" / "keymap.toml"
    keymap.parent.mkdir(parents=True)
    keymap.write_text("chat.cycle_mode = [unclosed\n")
    app = build_app()
    async with app.run_test() as pilot:
        await pilot.press("f2")
        assert app.chat_screen.settings.mode is Mode.SPEED
    assert any("keymap.toml could not be read" in n for n in app.notices)


@pilot_test
async def test_bindings_can_be_remapped_by_id(tmp_path):
    app = build_app()
    async with app.run_test() as pilot:
        app.set_keymap({"chat.cycle_mode": "f9"})
        await pilot.press("f9")
        assert app.chat_screen.settings.mode is Mode.SPEED


MODEL_PRESETS = {Mode.QUALITY: {"threshold": 0.95}, Mode.SPEED: {"threshold": 0.9}}


@pilot_test
async def test_the_models_own_presets_apply_once_it_loads_and_on_every_mode_switch(tmp_path):
    engine = ReplayEngine(info=dataclasses.replace(TINY_INFO, decoding_presets=MODEL_PRESETS))
    app = build_app(engine=engine)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: app.chat_screen.info is not None, "the model")
        assert (app.chat_screen.settings.mode, app.chat_screen.settings.threshold) == (
            Mode.QUALITY, 0.95)
        await pilot.press("f2")
        assert (app.chat_screen.settings.mode, app.chat_screen.settings.threshold) == (
            Mode.SPEED, 0.9)
        assert app.chat_screen.settings.editing_threshold == 0.0  # the card's, not overridden
        screen = await open_settings(pilot)
        screen.query_one("#mode", Select).value = "q"
        await wait_for(pilot, lambda: screen.query_one("#threshold", Input).value == "0.95",
                       "the model's Q preset")
        note = screen.query_one(".settings--note", Label)
        assert "model's own presets" in str(note.render())


def test_settings_tuned_by_hand_are_not_replaced_by_the_models_preset():
    assert uses_card_preset(DecodingSettings.for_mode("s", gen_length=64))
    assert not uses_card_preset(DecodingSettings.for_mode("s", threshold=0.8))


@pilot_test
async def test_mode_key_keeps_values_tuned_in_each_mode_and_shows_custom(tmp_path):
    app = build_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: app.chat_screen.info is not None, "the model")
        status = app.query_one(StatusLine)
        screen = await open_settings(pilot)
        screen.query_one("#threshold", Input).value = "0.5"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is app.chat_screen, "the chat")
        assert status.mode == "Q custom"
        for _ in range(3):  # Q -> S -> AR -> Q: the hand-set threshold comes back with Q
            await pilot.press("f2")
            if app.chat_screen.settings.mode is not Mode.QUALITY:
                assert status.mode in ("S", "AR")
        assert app.chat_screen.settings.threshold == 0.5 and status.mode == "Q custom"
        screen = await open_settings(pilot)
        assert screen.query_one("#threshold", Input).value == "0.5"
