"""A retried reply's tries in the store (schema 3: turns.attempt and turns.how, added to older
files by a migration) and in the conversation the engine sees next."""

from __future__ import annotations

import sqlite3

from noema_tui.app.conversation import Conversation, Turn, message_name
from noema_tui.app.store import ConversationStore
from noema_tui.app.store_schema import SCHEMA_VERSION

VERSION_2 = """
CREATE TABLE conversations (id INTEGER PRIMARY KEY, title TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE turns (id INTEGER PRIMARY KEY, conversation_id INTEGER NOT NULL
    REFERENCES conversations(id) ON DELETE CASCADE, role TEXT NOT NULL, content TEXT NOT NULL,
    mode TEXT, stats TEXT, verdict TEXT, finish_reason TEXT, created_at REAL NOT NULL,
    trace BLOB);
INSERT INTO conversations VALUES (1, 'old chat', 'noema-tiny', 1.0, 2.0);
INSERT INTO turns (conversation_id, role, content, created_at) VALUES
    (1, 'user', 'Solve 4x + 1 = 9', 1.0), (1, 'assistant', 'x = 2', 2.0);
PRAGMA user_version = 2;
"""


def reply(text: str, status: str, attempt: int | None = None, how: str | None = None,
          finish_reason: str = "eos") -> Turn:
    return Turn("assistant", text, mode="Q", verdict={"status": status} if status else None,
                finish_reason=finish_reason, attempt=attempt, how=how)


def test_a_version_2_file_gains_the_try_columns_and_keeps_its_turns(tmp_path):
    path = tmp_path / "c.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(VERSION_2)
    db.close()
    store = ConversationStore(path)
    assert path.with_name("c.sqlite3.backup-v2").exists()
    assert store._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    old = store.load(1)
    assert [(t.content, t.attempt, t.how) for t in old.turns] == [
        ("Solve 4x + 1 = 9", None, None), ("x = 2", None, None)]
    old.turns[1].attempt, old.turns[1].how = 1, "as asked"  # retried after the upgrade
    store.update_turn(old.turns[1])
    store.add_turn(old, reply("x = 2", "verified", 2, "stricter thresholds"))
    again = ConversationStore(path).load(1)
    assert [(t.attempt, t.how) for t in again.turns[1:]] == [
        (1, "as asked"), (2, "stricter thresholds")]


def test_the_next_reply_sees_one_answer_per_question_the_verified_try():
    conversation = Conversation(model="m", turns=[
        Turn("user", "Solve 2x = 8"),
        reply("x = 3", "contradicted", 1, "as asked"),
        reply("x = 4", "verified", 2, "stricter thresholds"),
        Turn("user", "and 3x = 9?"),
        reply("x = 2", "contradicted", 1, "as asked"),
        reply("x = 3", "", 2, "stricter thresholds", finish_reason="cancelled"),
        reply("", "", 3, "seed 1, temperature 0.3", finish_reason="failed"),
    ])
    assert conversation.engine_messages() == [
        {"role": "user", "content": "Solve 2x = 8"},
        {"role": "assistant", "content": "x = 4"},  # the verified try, not the first
        {"role": "user", "content": "and 3x = 9?"},
        {"role": "assistant", "content": "x = 2"},  # a stopped or failed try: the whole one
    ]
    names = [message_name(conversation.turns, i) for i in range(len(conversation.turns))]
    assert names == ["question 1", "reply 1, try 1", "reply 1, try 2", "question 2",
                     "reply 2, try 1", "reply 2, try 2", "reply 2, try 3"]


def test_two_replies_in_a_row_that_are_not_tries_stay_two_messages():
    conversation = Conversation(model="m", turns=[
        Turn("user", "hi"), reply("hello", ""), reply("again", "")])  # e.g. an older file
    assert [m["content"] for m in conversation.engine_messages()] == ["hi", "hello", "again"]
