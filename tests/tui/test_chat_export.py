"""Exporting the transcript: by key, by /export [path], from the palette; failures lose nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from noema_tui.app.conversation import Conversation, Turn
from noema_tui.app.export import ExportError, export_transcript
from noema_tui.app.widgets.prompt_input import PromptInput
from tests.tui.chat_support import (  # noqa: F401 (isolated_dirs is an autouse fixture)
    TINY_INFO,
    build_app,
    complete_turn,
    isolated_dirs,
    load_trace,
    pilot_test,
    toasts,
    wait_for,
)

PROMPT = load_trace()[0]



def a_conversation() -> Conversation:
    return Conversation(model="noema-tiny", id=7, title="Solve", turns=[
        Turn("user", r"Solve $x^2 = 4$"),
        Turn("assistant", r"$$x = \pm 2$$ so $\boxed{2}$", mode="Q",
             stats={"prompt_tokens": 9, "new_tokens": 12, "forwards": 4, "seconds": 0.5},
             verdict={"status": "contradicted", "answer": "2", "expected": "-2, 2",
                      "method": "solve", "reason": "a root is missing"},
             finish_reason="eos"),
    ])


def test_markdown_export_keeps_latex_and_includes_verdict_and_stats(tmp_path):
    [path] = export_transcript(a_conversation(), TINY_INFO, tmp_path / "chat.md")
    text = path.read_text(encoding="utf-8")
    assert r"$$x = \pm 2$$ so $\boxed{2}$" in text and r"Solve $x^2 = 4$" in text
    assert "contradicted" in text and "a root is missing" in text
    assert "4 forwards" in text and "12 new tokens" in text
    assert "noema-tiny (cpu, float32, quant none)" in text


def test_json_export_carries_every_turn_with_raw_text(tmp_path):
    [path] = export_transcript(a_conversation(), TINY_INFO, tmp_path / "chat.json")
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["format"] == "noema-transcript/1"
    assert [t["content"] for t in document["turns"]] == [r"Solve $x^2 = 4$",
                                                         r"$$x = \pm 2$$ so $\boxed{2}$"]
    assert document["turns"][1]["verdict"]["status"] == "contradicted"
    assert document["model"]["device"] == "cpu"


def test_export_to_a_directory_writes_markdown_and_json(tmp_path):
    paths = export_transcript(a_conversation(), None, tmp_path, exported_at=0)
    assert sorted(p.suffix for p in paths) == [".json", ".md"]
    assert all(p.parent == tmp_path and p.exists() for p in paths)


def test_exported_files_get_the_usual_permissions_not_private_ones(tmp_path):
    previous = os.umask(0o022)
    try:
        [path] = export_transcript(a_conversation(), None, tmp_path / "chat.md")
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == 0o644  # readable like any file the user writes


def test_markdown_export_marks_a_failed_reply(tmp_path):
    conversation = a_conversation()
    conversation.turns.append(Turn("user", "again"))
    conversation.turns.append(Turn("assistant", "", mode="Q", finish_reason="failed"))
    [path] = export_transcript(conversation, None, tmp_path / "chat.md")
    assert path.read_text(encoding="utf-8").endswith("> **Failed:** no text was generated.  \n")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_directory_gives_a_clear_error_and_keeps_the_old_file(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "chat.md").write_text("earlier export")
    locked.chmod(0o500)
    try:
        with pytest.raises(ExportError, match="Permission denied.*choose a writable path"):
            export_transcript(a_conversation(), None, locked / "chat.md")
        assert (locked / "chat.md").read_text() == "earlier export"
    finally:
        locked.chmod(0o700)


def test_missing_directory_gives_a_clear_error(tmp_path):
    with pytest.raises(ExportError, match=r"could not write .*nowhere.*choose a writable path"):
        export_transcript(a_conversation(), None, tmp_path / "nowhere" / "chat.md")


@pilot_test
async def test_export_key_writes_markdown_and_json_to_the_working_directory(tmp_path):
    app = build_app()
    async with app.run_test() as pilot:
        await complete_turn(pilot, PROMPT)
        await pilot.press("ctrl+s")
    written = sorted(Path.cwd().glob("noema-chat-*"))
    assert [p.suffix for p in written] == [".json", ".md"]
    markdown = written[1].read_text(encoding="utf-8")
    assert r"$\boxed{5}$" in markdown and "verified" in markdown and "21 forwards" in markdown


@pilot_test
async def test_slash_export_writes_the_named_file_and_clears_the_prompt(tmp_path):
    app = build_app()
    async with app.run_test() as pilot:
        await complete_turn(pilot, PROMPT)
        app.query_one(PromptInput).load_text(f"/export {tmp_path / 'out.json'}")
        await pilot.press("enter")
        assert app.query_one(PromptInput).text == ""
    assert json.loads((tmp_path / "out.json").read_text())["turns"][0]["content"] == PROMPT


@pilot_test
async def test_slash_export_to_a_bad_path_says_why_and_keeps_the_command(tmp_path):
    app = build_app()
    async with app.run_test(notifications=True) as pilot:
        await complete_turn(pilot, PROMPT)
        command = f"/export {tmp_path / 'missing' / 'out.md'}"
        app.query_one(PromptInput).load_text(command)
        await pilot.press("enter")
        assert app.query_one(PromptInput).text == command
        await wait_for(pilot, lambda: toasts(app), "the error notice")
        assert "could not write" in toasts(app) and "choose a writable path" in toasts(app)
        assert app.screen.query_one("Toast").has_class("-error")
        assert len(app.chat_screen.session.turns) == 2  # nothing lost


@pilot_test
async def test_command_palette_offers_export(tmp_path):
    app = build_app()
    async with app.run_test() as pilot:
        await complete_turn(pilot, PROMPT)
        await pilot.press("ctrl+p")
        await pilot.press(*"export transcript")
        await wait_for(pilot, lambda: app.screen.query("CommandList") and
                       app.screen.query_one("CommandList").option_count, "palette hits")
        await pilot.press("enter")
        await wait_for(pilot, lambda: list(Path.cwd().glob("noema-chat-*.md")), "the export")
