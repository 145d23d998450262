"""Every chat reply keeps its decoding trace: in the SQLite store (a zlib'd blob column, added
to older files by a migration) and in the JSON transcript export."""

from __future__ import annotations

import json
import random
import sqlite3

from noema_core.decoding.events import BlockUpdated, TokenState
from noema_core.decoding.trace import events_from_blob, events_to_blob
from noema_core.remote.wire import event_from_wire, event_to_wire
from noema_tui.app.conversation import Conversation, Turn
from noema_tui.app.export import transcript_json
from noema_tui.app.store import ConversationStore
from noema_tui.app.store_schema import SCHEMA_VERSION
from tests.tui.chat_support import (  # noqa: F401 (isolated_dirs is an autouse fixture)
    build_app,
    complete_turn,
    isolated_dirs,
    load_trace,
    pilot_test,
    saved_store,
)
from tests.tui.test_replay import long_reply_events

VERSION_1 = """
CREATE TABLE conversations (id INTEGER PRIMARY KEY, title TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE turns (id INTEGER PRIMARY KEY, conversation_id INTEGER NOT NULL
    REFERENCES conversations(id) ON DELETE CASCADE, role TEXT NOT NULL, content TEXT NOT NULL,
    mode TEXT, stats TEXT, verdict TEXT, finish_reason TEXT, created_at REAL NOT NULL);
INSERT INTO conversations VALUES (1, 'old chat', 'noema-tiny', 1.0, 2.0);
INSERT INTO turns (conversation_id, role, content, created_at) VALUES
    (1, 'user', 'Solve 4x + 1 = 9', 1.0), (1, 'assistant', 'x = 2', 2.0);
PRAGMA user_version = 1;
"""


def wire_frames(blocks: int = 2) -> list[dict]:
    return [event_to_wire(e) for e in long_reply_events(blocks=blocks)
            if isinstance(e, BlockUpdated)]


def test_a_reply_trace_round_trips_through_the_store(tmp_path):
    store = ConversationStore(tmp_path / "c.sqlite3")
    conversation = Conversation(model="m")
    store.add_turn(conversation, Turn(role="user", content="Solve 2x = 8"))
    store.add_turn(conversation, Turn(role="assistant", content="x = 4", trace=wire_frames()))
    again = ConversationStore(tmp_path / "c.sqlite3").load(conversation.id)
    assert again.turns[0].trace is None  # a prompt has none
    frames = [event_from_wire(item) for item in again.turns[1].trace]
    assert len(frames) == 16 and frames[5].states == long_reply_events(blocks=2)[5].states


def test_a_version_1_file_gains_the_trace_column_and_keeps_its_turns(tmp_path):
    path = tmp_path / "c.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(VERSION_1)
    db.close()
    store = ConversationStore(path)
    assert path.with_name("c.sqlite3.backup-v1").exists()
    assert store._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    old = store.load(1)
    assert [t.content for t in old.turns] == ["Solve 4x + 1 = 9", "x = 2"]
    assert old.turns[1].trace is None
    store.add_turn(old, Turn(role="assistant", content="again", trace=wire_frames(1)))
    assert len(store.load(1).turns[2].trace) == 8


def test_an_unreadable_stored_trace_leaves_the_reply_and_says_so(tmp_path):
    store = ConversationStore(tmp_path / "c.sqlite3")
    conversation = Conversation(model="m")
    store.add_turn(conversation, Turn(role="assistant", content="x = 4", trace=wire_frames(1)))
    store._db.execute("UPDATE turns SET trace = ?", (b"not zlib",))
    store._db.commit()
    [turn] = store.load(conversation.id).turns
    assert turn.content == "x = 4" and turn.trace is None
    assert "cannot be read" in store.problems[-1]


def test_a_1024_token_trace_blob_stays_under_80_kb():
    # Realistic frames (ids settle, so consecutive frames repeat) pack ~70x; the bound is for
    # the worst case: 256 frames of 32 slots whose ids, pieces and confidences are all
    # random every forward (measured 70.7 kB), i.e. ~280 bytes a frame, ~70 bytes a token.
    rng = random.Random(1)
    frames = []
    for block in range(32):
        for forward in range(1, 9):
            done = 4 * forward
            frames.append(event_to_wire(BlockUpdated(
                block, forward, tuple(rng.randrange(50_000) for _ in range(32)),
                (TokenState.STABLE,) * done + (TokenState.MASKED,) * (32 - done),
                tuple(rng.random() for _ in range(32)),
                tuple(f"w{rng.randrange(1000)}" for _ in range(32)))))
    blob = events_to_blob(frames)
    assert len(blob) < 80_000, len(blob)
    assert events_from_blob(blob) == frames
    settled = events_to_blob(wire_frames(blocks=32))
    assert len(settled) < 10_000, len(settled)  # measured 3.2 kB for the settled reply


def test_the_json_transcript_carries_each_reply_trace():
    conversation = Conversation(model="m", turns=[
        Turn(role="user", content="Solve 2x = 8"),
        Turn(role="assistant", content="x = 4", trace=wire_frames(1))])
    document = json.loads(transcript_json(conversation, None, 0.0))
    assert "trace" not in document["turns"][0]
    assert document["turns"][1]["trace"][3]["forward"] == 4


@pilot_test
async def test_a_chat_reply_is_saved_with_every_frame_it_drew():
    app = build_app()
    async with app.run_test() as pilot:
        await complete_turn(pilot, "Solve 3x + 5 = 20")
        reply = app.chat_screen.session.turns[-1]
        assert reply.trace and all(item["type"] == "block_updated" for item in reply.trace)
        assert app.chat_screen.session.saver.flush(timeout=5)
    [summary] = saved_store().summaries()
    stored = saved_store().load(summary.id).turns[-1].trace
    assert stored == reply.trace
    engine_frames = [e for e in load_trace()[1] if isinstance(e, BlockUpdated)]
    assert [event_from_wire(f) for f in stored] == engine_frames  # not only those drawn
