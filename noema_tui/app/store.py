"""Conversations in SQLite under the XDG data directory, written after every turn.

Each turn is committed on its own (WAL journal), so a crash or kill loses at most the reply
being generated. All calls come from the UI thread.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from noema_core.errors import NoemaError
from noema_tui.app.conversation import Conversation, Turn, title_from

DATA_DIR_ENV = "NOEMA_DATA_DIR"
DATABASE_NAME = "conversations.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    mode TEXT,
    stats TEXT,
    verdict TEXT,
    finish_reason TEXT,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS turns_by_conversation ON turns(conversation_id, id);
"""


class StoreError(NoemaError):
    """The conversation database cannot be opened or written."""


class ConversationNotFoundError(StoreError):
    """No saved conversation has the requested id (a usage error)."""

    exit_code = 2


def data_dir() -> Path:
    """$NOEMA_DATA_DIR, else $XDG_DATA_HOME/noema, else ~/.local/share/noema."""
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV]).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "noema"


@dataclass(frozen=True)
class ConversationSummary:
    id: int
    title: str
    model: str
    updated_at: float
    questions: int  # the user's prompts (each usually with a reply)


class ConversationStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as err:
            raise StoreError(f"cannot open the conversation store {path} ({err}): set "
                             f"{DATA_DIR_ENV} to a writable directory") from None

    @classmethod
    def open_default(cls) -> ConversationStore:
        return cls(data_dir() / DATABASE_NAME)

    def close(self) -> None:
        self._db.close()

    def _write(self, sql: str, params: tuple) -> int:
        try:
            with self._db:
                return self._db.execute(sql, params).lastrowid or 0
        except sqlite3.Error as err:
            raise StoreError(f"could not save to {self.path} ({err}): check the disk has room "
                             f"and the file is writable") from None

    def create(self, model: str) -> Conversation:
        now = time.time()
        row_id = self._write("INSERT INTO conversations (model, created_at, updated_at) "
                             "VALUES (?, ?, ?)", (model, now, now))
        return Conversation(model=model, id=row_id, created_at=now, updated_at=now)

    def add_turn(self, conversation: Conversation, turn: Turn) -> Turn:
        """Append and commit `turn`; the first prompt names the conversation."""
        if conversation.id is None:
            conversation.id = self.create(conversation.model).id
        now = time.time()
        turn.id = self._write(
            "INSERT INTO turns (conversation_id, role, content, mode, stats, verdict, "
            "finish_reason, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (conversation.id, turn.role, turn.content, turn.mode, _dump(turn.stats),
             _dump(turn.verdict), turn.finish_reason, now))
        if not conversation.title and turn.role == "user":
            conversation.title = title_from(turn.content)
        conversation.updated_at = now
        self._write("UPDATE conversations SET title = ?, updated_at = ? WHERE id = ?",
                    (conversation.title, now, conversation.id))
        return turn

    def update_turn(self, turn: Turn) -> None:
        """Save a turn's later facts (its verdict arrives after the reply)."""
        if turn.id is not None:
            self._write("UPDATE turns SET verdict = ?, stats = ?, finish_reason = ? WHERE id = ?",
                        (_dump(turn.verdict), _dump(turn.stats), turn.finish_reason, turn.id))

    def delete_turn(self, turn: Turn) -> None:
        if turn.id is not None:
            self._write("DELETE FROM turns WHERE id = ?", (turn.id,))

    def load(self, conversation_id: int) -> Conversation:
        row = self._db.execute("SELECT id, title, model, created_at, updated_at FROM "
                               "conversations WHERE id = ?", (conversation_id,)).fetchone()
        if row is None:
            raise ConversationNotFoundError(f"there is no conversation {conversation_id}: see "
                                            f"`noema chat --list` for the ones saved")
        turns = [Turn(role=r[0], content=r[1], mode=r[2], stats=_load(r[3]), verdict=_load(r[4]),
                      finish_reason=r[5], id=r[6])
                 for r in self._db.execute(
                     "SELECT role, content, mode, stats, verdict, finish_reason, id FROM turns "
                     "WHERE conversation_id = ? ORDER BY id", (conversation_id,))]
        return Conversation(model=row[2], id=row[0], title=row[1], created_at=row[3],
                            updated_at=row[4], turns=turns)

    def latest(self) -> Conversation | None:
        """The conversation with the most recent turn, if any has one."""
        row = self._db.execute("SELECT c.id FROM conversations c WHERE EXISTS (SELECT 1 FROM "
                               "turns t WHERE t.conversation_id = c.id) ORDER BY c.updated_at "
                               "DESC, c.id DESC LIMIT 1").fetchone()
        return self.load(row[0]) if row else None

    def summaries(self) -> list[ConversationSummary]:
        """Every conversation that has turns, newest first."""
        rows = self._db.execute(
            "SELECT c.id, c.title, c.model, c.updated_at, SUM(t.role = 'user') "
            "FROM conversations c JOIN turns t ON t.conversation_id = c.id GROUP BY c.id "
            "ORDER BY c.updated_at DESC, c.id DESC").fetchall()
        return [ConversationSummary(*row) for row in rows]


def _dump(value: dict | None) -> str | None:
    return None if value is None else json.dumps(value)


def _load(text: str | None) -> dict | None:
    return None if text is None else json.loads(text)
