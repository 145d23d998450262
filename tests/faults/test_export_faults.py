"""/export and Ctrl+S under hostile targets: devices, FIFOs, sockets, links, absurd lengths.

Export writes regular files only, refuses anything else before writing a byte, and a bad
target is one line in the app with the command left in the prompt to correct.
"""

from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path

import pytest

from noema_tui.app import export as export_module
from noema_tui.app.conversation import Conversation, Turn
from noema_tui.app.export import ExportError, export_transcript
from noema_tui.app.widgets.prompt_input import PromptInput
from tests.tui.chat_support import (  # noqa: F401 (isolated_dirs is an autouse fixture)
    build_app,
    complete_turn,
    isolated_dirs,
    load_trace,
    pilot_test,
    wait_for,
)

PROMPT = load_trace()[0]


def a_conversation() -> Conversation:
    return Conversation(model="noema-tiny", id=3, title="halves", turns=[
        Turn("user", r"What is \frac{1}{2} + \frac{1}{2}?"),
        Turn("assistant", r"We add: \[\frac{1}{2} + \frac{1}{2} = 1\] so \(x = 1\) and x^2 = 1.",
             mode="AR", finish_reason="eos"),
    ])


@pytest.fixture
def replace_only_under(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Guard: a rename onto anything outside the test's directory fails the test instead of
    replacing it (as root, replacing /dev/null would break the machine)."""
    done: list[str] = []
    real_replace = os.replace

    def guarded(source: str, target: str | Path) -> None:
        assert str(target).startswith(str(tmp_path)), f"export renamed onto {target}"
        done.append(str(target))
        real_replace(source, target)

    monkeypatch.setattr(export_module.os, "replace", guarded)
    return done


@pytest.mark.parametrize("device", ["/dev/null", "/dev/full"])
def test_a_device_is_refused_before_anything_is_written(device, replace_only_under):
    with pytest.raises(ExportError, match="is a character device, not a regular file") as error:
        export_transcript(a_conversation(), None, Path(device))
    assert "\n" not in str(error.value) and "choose a writable path" in str(error.value)
    assert stat.S_ISCHR(os.stat(device).st_mode) and replace_only_under == []


def test_a_fifo_is_refused_and_left_a_fifo(tmp_path, replace_only_under):
    fifo = tmp_path / "pipe.md"
    os.mkfifo(fifo)
    with pytest.raises(ExportError, match="is a FIFO"):
        export_transcript(a_conversation(), None, fifo)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe.md"]  # no temporary left


def test_a_socket_is_refused(tmp_path, replace_only_under):
    path = tmp_path / "s.json"
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(path))
        with pytest.raises(ExportError, match="is a socket"):
            export_transcript(a_conversation(), None, path)
    finally:
        server.close()


def test_one_bad_target_of_two_writes_neither(tmp_path, replace_only_under):
    os.mkfifo(tmp_path / "out.json")
    with pytest.raises(ExportError, match="out.json is a FIFO"):
        export_transcript(a_conversation(), None, tmp_path / "out")
    assert not (tmp_path / "out.md").exists()  # checked before the first file was written


def test_a_link_to_a_file_replaces_the_file_and_keeps_the_link(tmp_path, replace_only_under):
    real = tmp_path / "real.md"
    real.write_text("old")
    link = tmp_path / "link.md"
    link.symlink_to(real)
    export_transcript(a_conversation(), None, link)
    assert link.is_symlink() and "halves" in real.read_text()


def test_a_link_to_a_device_is_refused(tmp_path, replace_only_under):
    link = tmp_path / "null.md"
    link.symlink_to("/dev/null")
    with pytest.raises(ExportError, match="character device"):
        export_transcript(a_conversation(), None, link)
    assert link.is_symlink()


@pytest.mark.parametrize("target", ["n" * 300 + ".md", "/".join(["d" * 200] * 25) + "/x.md"])
def test_names_and_paths_too_long_are_one_line_errors(tmp_path, target):
    with pytest.raises(ExportError, match="more than the") as error:
        export_transcript(a_conversation(), None, tmp_path / target)
    assert "\n" not in str(error.value) and len(str(error.value)) < 300


def test_a_name_without_an_extension_writes_markdown_and_json(tmp_path):
    written = export_transcript(a_conversation(), None, tmp_path / "out")
    assert written == [tmp_path / "out.md", tmp_path / "out.json"]
    assert json.loads((tmp_path / "out.json").read_text())["title"] == "halves"


def test_markdown_export_delimits_math_and_json_keeps_the_text(tmp_path):
    markdown, document = export_transcript(a_conversation(), None, tmp_path / "out")
    text = markdown.read_text()
    assert r"What is $\frac{1}{2}$ + $\frac{1}{2}$?" in text
    assert r"$$\frac{1}{2} + \frac{1}{2} = 1$$" in text and "$x = 1$" in text
    assert "$x^2$ = 1" in text
    turns = json.loads(document.read_text())["turns"]
    assert turns[1]["content"] == a_conversation().turns[1].content


def test_the_mode_is_spelled_as_ask_json_spells_it(tmp_path):
    from types import SimpleNamespace

    from noema_core.decoding.events import GenerationResult, GenerationStats
    from noema_tui.commands.ask_session import AskOutcome

    [document] = export_transcript(a_conversation(), None, tmp_path / "chat.json")
    assert json.loads(document.read_text())["turns"][1]["mode"] == "ar"
    verdict = SimpleNamespace(status="verified", answer="5", expected="5", reason="")
    outcome = AskOutcome("q", GenerationResult((), "\\boxed{5}", GenerationStats(1, 1, 1, 0.1)),
                         verdict, False, "ar")
    assert outcome.as_json()["mode"] == "ar"  # ask --json prints the mode that decoded it


# ----------------------------------------------------------------- in the app


async def export_command(pilot, app, command: str) -> str:
    app.query_one(PromptInput).load_text(command)
    await pilot.press("enter")
    await wait_for(pilot, lambda: app.screen.query("Toast"), "the notice")
    return " ".join(str(toast.render()) for toast in app.screen.query("Toast"))


@pytest.mark.parametrize("name", ["n" * 300, "/".join(["d" * 100] * 50)])
@pilot_test
async def test_a_long_export_path_is_one_line_and_the_command_stays(tmp_path, name):
    app = build_app()
    async with app.run_test(notifications=True) as pilot:
        await complete_turn(pilot, PROMPT)
        command = f"/export {tmp_path / name}"
        shown = await export_command(pilot, app, command)
        assert "more than the" in shown
        assert app.query_one(PromptInput).text == command
        assert app.is_running and len(app.chat_screen.session.turns) == 2


@pilot_test
async def test_export_to_dev_full_in_the_app_is_refused(replace_only_under):
    app = build_app()
    async with app.run_test(notifications=True) as pilot:
        await complete_turn(pilot, PROMPT)
        shown = await export_command(pilot, app, "/export /dev/full")
        assert "character device" in shown
        assert app.query_one(PromptInput).text == "/export /dev/full"
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


@pilot_test
async def test_export_without_an_extension_says_what_was_written(tmp_path):
    app = build_app()
    async with app.run_test(notifications=True) as pilot:
        await complete_turn(pilot, PROMPT)
        shown = await export_command(pilot, app, f"/export {tmp_path / 'out'}")
        assert "out.md" in shown and "out.json" in shown
    assert (tmp_path / "out.md").exists() and (tmp_path / "out.json").exists()
