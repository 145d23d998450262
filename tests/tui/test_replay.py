"""Decoding traces: `noema ask --trace` writes every forward, `noema replay` plays it back or
exports an asciicast recording; the trace format round-trips and stays compact."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from typer.testing import CliRunner

from noema_core.decoding.events import BlockFinished, BlockUpdated, TokenState
from noema_core.decoding.trace import Trace, TraceError, load_trace, replaced_pieces
from noema_tui.cli import app
from tests.tui.chat_support import load_trace as load_fixture
from tests.tui.conftest import BLOCK

pytestmark = pytest.mark.usefixtures("fake_checker")


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def long_reply_events(blocks: int = 32, forwards: int = 8, width: int = 32) -> list:
    """A 1024-token reply's worth of frames: every slot with an id, a piece and a confidence."""
    events = []
    for block in range(blocks):
        for forward in range(1, forwards + 1):
            done = width * forward // forwards
            states = (TokenState.STABLE,) * done + (TokenState.MASKED,) * (width - done)
            events.append(BlockUpdated(block, forward, tuple(range(100, 100 + width)), states,
                                       tuple(0.912345 for _ in range(width)),
                                       tuple("ab" if s is TokenState.STABLE else ""
                                             for s in states)))
        events.append(BlockFinished(block, forwards, tuple(range(width)), "ab" * width))
    return events


def test_a_trace_round_trips_through_its_file(tmp_path):
    trace = Trace(model="m", question="Solve 2x = 8", settings={"mode": "q", "threshold": 0.9},
                  events=long_reply_events(blocks=2))
    trace.save(tmp_path / "t.json")
    again = load_trace(tmp_path / "t.json")
    assert (again.model, again.question, again.settings) == ("m", "Solve 2x = 8", trace.settings)
    assert [type(e) for e in again.events] == [type(e) for e in trace.events]
    assert again.frames[5].states == trace.frames[5].states
    assert again.frames[5].pieces == trace.frames[5].pieces


def test_a_1024_token_reply_trace_stays_under_two_megabytes(tmp_path):
    Trace(events=long_reply_events()).save(tmp_path / "long.json")
    size = (tmp_path / "long.json").stat().st_size
    assert 100_000 < size < 2_000_000, size  # 256 frames of 32 slots


def test_the_token_an_edit_replaced_comes_from_the_blocks_previous_frame():
    before = BlockUpdated(0, 1, (1, 2), (TokenState.UNMASKED,) * 2, (0.9, 0.9), ("x", "3"))
    after = BlockUpdated(0, 2, (1, 5), (TokenState.STABLE, TokenState.EDITED), (0.9, 0.9),
                         ("x", "5"), edits=1)
    assert replaced_pieces(before, after) == {1: "3"}
    other_block = BlockUpdated(1, 1, (1, 5), (TokenState.STABLE, TokenState.EDITED),
                               (0.9, 0.9), ("x", "5"))
    assert replaced_pieces(before, other_block) == {}


@pytest.mark.parametrize("content", ["not json", '{"format": "other"}',
                                     '{"format": "noema-trace", "version": 99}',
                                     '{"format": "noema-trace", "version": 1, '
                                     '"events": [{"type": "block_updated"}]}'])
def test_a_bad_trace_file_is_one_line_naming_it(tmp_path, content):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    with pytest.raises(TraceError, match="bad.json"):
        load_trace(bad)
    result = run("replay", str(bad))
    assert result.exit_code == 2
    assert result.stderr.startswith("error:") and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_ask_trace_writes_every_forward_and_replay_prints_each(scripted_engine, tmp_path):
    scripted_engine.reply = "x = 5, so \\boxed{5}" * 3
    target = tmp_path / "reply.json"
    result = run("ask", "--trace", str(target), "Solve x = 5")
    assert result.exit_code == 0, result.output
    trace = load_trace(target)
    assert trace.question == "Solve x = 5" and trace.settings["mode"] == "q"
    blocks = -(-len(scripted_engine.reply) // BLOCK)  # the scripted engine's block size
    assert len(trace.frames) == 2 * blocks  # two forwards each
    played = run("replay", str(target))
    assert played.exit_code == 0, played.output
    assert played.stdout.count("forward ") >= len(trace.frames)
    assert "edited:" in played.stdout  # the scripted engine edits half of each block


def test_an_unwritable_trace_path_fails_after_the_answer_is_printed(scripted_engine, tmp_path):
    result = run("ask", "--trace", str(tmp_path / "missing" / "t.json"), "Solve x = 5")
    assert result.exit_code == 2
    assert "x = 5" in result.stdout  # the answer is not lost
    assert "could not write the trace" in result.stderr


def test_replay_exports_an_asciicast_v2_recording(scripted_engine, tmp_path):
    run("ask", "--trace", str(tmp_path / "t.json"), "Solve x = 5")
    result = run("replay", str(tmp_path / "t.json"), "--cast", str(tmp_path / "t.cast"),
                 "--fps", "4")
    assert result.exit_code == 0, result.output
    header, *frames = (tmp_path / "t.cast").read_text().splitlines()
    meta = json.loads(header)
    assert meta["version"] == 2 and meta["width"] > 0 and meta["height"] > 0
    times = []
    for line in frames:
        moment, kind, text = json.loads(line)
        assert kind == "o" and text.startswith("\x1b[H")
        times.append(moment)
    assert times == sorted(times) and times[1] == pytest.approx(0.25)
    assert len(frames) == len(load_trace(tmp_path / "t.json").frames)


def test_replay_exports_an_animated_svg_with_one_frame_per_forward(tmp_path):
    question, events = load_fixture()
    Trace(question=question, events=events).save(tmp_path / "t.json")
    result = run("replay", str(tmp_path / "t.json"), "--svg", str(tmp_path / "r.svg"),
                 "--fps", "5")
    assert result.exit_code == 0, result.output
    root = ET.parse(tmp_path / "r.svg").getroot()
    ns = "{http://www.w3.org/2000/svg}"
    groups = root.findall(f"{ns}g")
    forwards = sum(isinstance(e, BlockUpdated) for e in events)
    assert len(groups) == forwards > 3
    assert groups[3].get("style") == "animation-delay:0.600s"  # frame 4 at 5 per second
    assert "@keyframes" in root.find(f"{ns}style").text
    assert "forward 1" in "".join(groups[0].itertext())
    assert (tmp_path / "r.svg").stat().st_size < 300_000
