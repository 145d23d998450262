"""Conversations in SQLite under the XDG data directory, written after every turn.

Each turn is committed on its own (WAL journal), so a crash or kill loses at most the reply
being generated. A store is safe to share between threads (one lock per connection); the
chat writes through its own store on a background thread (`saver.Saver`), so a busy or full
database never stalls the screen. A damaged file is opened read-only and never written: what
can still be read is listed and opened, and every write says why it cannot be made.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from noema_core.decoding.trace import TraceError, events_from_blob, events_to_blob
from noema_tui.app.conversation import Conversation, Turn, title_from
from noema_tui.app.store_schema import (
    DATA_DIR_ENV,
    StoreBusyError,
    StoreDamagedError,
    StoreError,
    backup_before_migrating,
    check_integrity,
    fts_query,
    has_fts5,
    migrate,
    store_error,
)

__all__ = ["DATA_DIR_ENV", "ConversationNotFoundError", "ConversationStore",
           "ConversationSummary", "SearchHit", "StoreBusyError", "StoreDamagedError",
           "StoreError", "data_dir"]

DATABASE_NAME = "conversations.sqlite3"
EXCERPT_WIDTH = 70  # characters of a matching turn shown with a search hit

SUMMARY_COLUMNS = (
    "c.id, c.title, c.model, c.created_at, c.updated_at, "
    "(SELECT count(*) FROM turns t WHERE t.conversation_id = c.id AND t.role = 'user'), "
    "(SELECT t.mode FROM turns t WHERE t.conversation_id = c.id AND t.mode IS NOT NULL "
    "ORDER BY t.id DESC LIMIT 1)")
HAS_TURNS = "EXISTS (SELECT 1 FROM turns t WHERE t.conversation_id = c.id)"
NEWEST_FIRST = "ORDER BY c.updated_at DESC, c.id DESC"


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
    created_at: float
    updated_at: float
    questions: int  # the user's prompts (each usually with a reply)
    mode: str | None = None  # the mode label of its last reply ("Q", "S", "AR")


@dataclass(frozen=True)
class SearchHit:
    summary: ConversationSummary
    excerpt: str  # one line of the first matching turn, around the match


class ConversationStore:
    def __init__(self, path: Path, *, busy_timeout: float = 0.25, fts: bool | None = None,
                 defer_open: bool = False) -> None:
        """Open (creating or migrating) the database at `path`, or with `defer_open` on first
        use. Raises `StoreError` when it cannot be opened at all; a busy database is opened on
        first use instead (`unavailable` says why until then), a damaged one read-only
        (`damage`)."""
        self.path = path
        self.busy_timeout = busy_timeout
        self.fts = has_fts5() if fts is None else fts
        self.damage: StoreDamagedError | None = None
        self.unavailable: StoreBusyError | None = None
        self.problems: list[str] = []  # parts that could not be read, one line each
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        if defer_open:
            return
        try:
            self._open()
        except StoreBusyError as busy:
            self.unavailable = busy

    @classmethod
    def open_default(cls, **options: object) -> ConversationStore:
        return cls(data_dir() / DATABASE_NAME, **options)

    def reopen(self, *, busy_timeout: float) -> ConversationStore:
        """Another connection to the same file, opened by its first use (the chat's writer
        thread has its own, so waiting for a lock never holds up the screen)."""
        return ConversationStore(self.path, busy_timeout=busy_timeout, fts=self.fts,
                                 defer_open=True)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # ----------------------------------------------------------------- opening

    def _connect(self, read_only: bool) -> sqlite3.Connection:
        target = f"file:{quote(str(self.path))}?mode={'ro' if read_only else 'rwc'}"
        return sqlite3.connect(target, uri=True, timeout=self.busy_timeout,
                               check_same_thread=False)

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.exists() and self.path.stat().st_size:
                probe = self._connect(read_only=True)
                try:
                    check_integrity(probe, self.path)
                except StoreDamagedError as damage:
                    self.damage, self._db = damage, probe  # read what can be read, never write
                    return
                probe.close()
            db = self._connect(read_only=False)
            try:
                backup_before_migrating(db, self.path)
                if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA foreign_keys=ON")
                migrate(db, self.path, self.fts)
            except BaseException:
                db.close()
                raise
            self._db = db
        except (OSError, sqlite3.Error) as error:
            raise store_error(self.path, error, "open") from None

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            self._open()  # raises StoreBusyError while it is still locked
            self.unavailable = None
        assert self._db is not None
        return self._db

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._connection()
            except sqlite3.Error as error:
                raise store_error(self.path, error, "read") from None

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """One transaction: all of it is committed, or none of it (then `StoreError`)."""
        with self._lock:
            try:
                db = self._connection()
                if self.damage is not None:
                    raise self.damage
                with db:
                    yield db
            except sqlite3.Error as error:
                raise store_error(self.path, error, "save to") from None

    # ----------------------------------------------------------------- writing

    def add_turn(self, conversation: Conversation, turn: Turn) -> Turn:
        """Append and commit `turn` (creating its conversation on the first); the first prompt
        names the conversation. Ids are set only once the write is committed, so a failed
        write can be made again as it was."""
        now = time.time()
        title = conversation.title
        if not title and turn.role == "user":
            title = title_from(turn.content)
        with self._writing() as db:
            conversation_id = conversation.id
            if conversation_id is None:
                conversation_id = db.execute(
                    "INSERT INTO conversations (model, created_at, updated_at) VALUES (?, ?, ?)",
                    (conversation.model, now, now)).lastrowid
            turn_id = db.execute(
                "INSERT INTO turns (conversation_id, role, content, mode, stats, verdict, "
                "finish_reason, created_at, trace, attempt, how) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (conversation_id, turn.role, turn.content, turn.mode, _dump(turn.stats),
                 _dump(turn.verdict), turn.finish_reason, now,
                 None if turn.trace is None else events_to_blob(turn.trace), turn.attempt,
                 turn.how)).lastrowid
            if self.fts:
                db.execute("INSERT INTO turns_fts (rowid, content) VALUES (?, ?)",
                           (turn_id, turn.content))
            db.execute("UPDATE conversations SET title = ?, updated_at = ? WHERE id = ?",
                       (title, now, conversation_id))
        conversation.id, turn.id = conversation_id, turn_id
        conversation.title, conversation.updated_at = title, now
        if not conversation.created_at:
            conversation.created_at = now
        return turn

    def update_turn(self, turn: Turn) -> None:
        """Save a turn's later facts (its verdict arrives after the reply; a reply becomes
        try 1 when it is retried)."""
        if turn.id is not None:
            with self._writing() as db:
                db.execute("UPDATE turns SET verdict = ?, stats = ?, finish_reason = ?, "
                           "attempt = ?, how = ? WHERE id = ?",
                           (_dump(turn.verdict), _dump(turn.stats), turn.finish_reason,
                            turn.attempt, turn.how, turn.id))

    def delete_turn(self, turn: Turn) -> None:
        if turn.id is not None:
            with self._writing() as db:
                db.execute("DELETE FROM turns WHERE id = ?", (turn.id,))
                if self.fts:
                    db.execute("DELETE FROM turns_fts WHERE rowid = ?", (turn.id,))

    def rename(self, conversation_id: int, title: str) -> str:
        """Give a conversation a new title (one line); returns the title stored."""
        title = title_from(title)
        with self._writing() as db:
            db.execute("UPDATE conversations SET title = ? WHERE id = ?", (title, conversation_id))
        return title

    def delete(self, conversation_id: int) -> None:
        """Delete a conversation and every turn of it."""
        with self._writing() as db:
            if self.fts:
                db.execute("DELETE FROM turns_fts WHERE rowid IN (SELECT id FROM turns WHERE "
                           "conversation_id = ?)", (conversation_id,))
            db.execute("DELETE FROM turns WHERE conversation_id = ?", (conversation_id,))
            db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    # ----------------------------------------------------------------- reading

    def load(self, conversation_id: int) -> Conversation:
        with self._reading() as db:
            row = db.execute("SELECT id, title, model, created_at, updated_at FROM "
                             "conversations WHERE id = ?", (conversation_id,)).fetchone()
            if row is None:
                raise ConversationNotFoundError(f"there is no conversation {conversation_id}: "
                                                f"see `noema chat --list` for the ones saved")
            rows = db.execute("SELECT role, content, mode, stats, verdict, finish_reason, id, "
                              "trace, attempt, how FROM turns WHERE conversation_id = ? "
                              "ORDER BY id",
                              (conversation_id,)).fetchall()
        unreadable = lost_traces = 0
        turns = []
        for (role, content, mode, stats, verdict, finish_reason, turn_id, blob, attempt,
             how) in rows:
            stats_value, verdict_value = _parse(stats), _parse(verdict)
            unreadable += (stats_value is _BAD) + (verdict_value is _BAD)
            trace = None
            if blob is not None:
                try:
                    trace = events_from_blob(blob)
                except TraceError:
                    lost_traces += 1  # the reply itself is still shown, without its replay
            turns.append(Turn(role=role, content=content, mode=mode,
                              stats=None if stats_value is _BAD else stats_value,
                              verdict=None if verdict_value is _BAD else verdict_value,
                              finish_reason=finish_reason, id=turn_id, trace=trace,
                              attempt=attempt, how=how))
        if unreadable:
            self.problems.append(f"conversation {conversation_id} in {self.path}: {unreadable} "
                                 f"stored stats/verdicts are not valid JSON and are left out")
        if lost_traces:
            self.problems.append(f"conversation {conversation_id} in {self.path}: "
                                 f"{lost_traces} stored decoding trace(s) cannot be read: "
                                 f"those replies cannot be replayed")
        return Conversation(model=row[2], id=row[0], title=row[1], created_at=row[3],
                            updated_at=row[4], turns=turns)

    def latest(self) -> Conversation | None:
        """The conversation with the most recent turn, if any has one."""
        for summary in self.summaries():
            try:
                return self.load(summary.id)
            except StoreDamagedError:
                continue  # unreadable turns: resume the newest one that can be read
        return None

    def summaries(self) -> list[ConversationSummary]:
        """Every conversation that has turns, newest first. In a damaged file, each one that
        can still be read (the others are counted in `problems`)."""
        try:
            with self._reading() as db:
                rows = db.execute(f"SELECT {SUMMARY_COLUMNS} FROM conversations c WHERE "
                                  f"{HAS_TURNS} {NEWEST_FIRST}").fetchall()
            return [ConversationSummary(*row) for row in rows]
        except StoreDamagedError:
            return self._readable_summaries()

    def _readable_summaries(self) -> list[ConversationSummary]:
        found, lost, table_lost = [], 0, False
        with self._reading() as db:
            ids = []
            try:
                for (conversation_id,) in db.execute("SELECT id FROM conversations"):
                    ids.append(conversation_id)
            except sqlite3.DatabaseError:
                table_lost = True  # the rest of the table cannot be read
            for conversation_id in ids:
                try:
                    row = db.execute(f"SELECT {SUMMARY_COLUMNS} FROM conversations c WHERE "
                                     f"c.id = ? AND {HAS_TURNS}", (conversation_id,)).fetchone()
                except sqlite3.DatabaseError:
                    lost += 1
                    continue
                if row is not None:
                    found.append(ConversationSummary(*row))
        if table_lost:
            self.problems.append(f"the list of conversations in {self.path} is damaged: "
                                 f"{len(found)} could be read")
        elif lost:
            self.problems.append(f"{lost} conversation(s) in {self.path} could not be read")
        return sorted(found, key=lambda s: (s.updated_at, s.id), reverse=True)

    def search(self, text: str) -> list[SearchHit]:
        """Conversations with a turn containing every word of `text` (FTS5 prefix match, or
        substring match without FTS5), newest first, each with the first matching turn."""
        words = text.split()
        if not words:
            return []
        with self._reading() as db:
            if self.fts:
                rows = db.execute("SELECT t.conversation_id, t.content FROM turns t WHERE t.id "
                                  "IN (SELECT rowid FROM turns_fts WHERE turns_fts MATCH ?) "
                                  "ORDER BY t.id", (fts_query(text),)).fetchall()
            else:
                where = " AND ".join("content LIKE ? ESCAPE '\\'" for _ in words)
                rows = db.execute(f"SELECT conversation_id, content FROM turns WHERE {where} "
                                  f"ORDER BY id", [f"%{_escape_like(w)}%" for w in words]
                                  ).fetchall()
        first_match: dict[int, str] = {}
        for conversation_id, content in rows:
            first_match.setdefault(conversation_id, content)
        return [SearchHit(s, excerpt(first_match[s.id], words[0]))
                for s in self.summaries() if s.id in first_match]


_BAD = object()  # a stored JSON value that does not parse


def _dump(value: dict | None) -> str | None:
    return None if value is None else json.dumps(value)


def _parse(text: str | None) -> object:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except (ValueError, TypeError):
        return _BAD
    return value if isinstance(value, dict) else _BAD


def _escape_like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def excerpt(content: str, word: str, width: int = EXCERPT_WIDTH) -> str:
    """One line of `content` around the first place `word` occurs (case-insensitive)."""
    line = " ".join(content.split())
    at = max(line.lower().find(word.lower()), 0)
    start = max(0, min(at - width // 3, len(line) - width))
    text = line[start:start + width]
    return ("…" if start else "") + text + ("…" if start + width < len(line) else "")
