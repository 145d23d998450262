"""The conversation database's schema, its migrations, and how sqlite's errors read to a user.

The schema version is SQLite's `user_version`. Before a migration touches an existing file, a
copy of it is made next to it (`conversations.sqlite3.backup-v0`), so a migration that goes
wrong, or a newer Noema's, never costs a conversation. Full-text search uses an FTS5 table
when the sqlite library has the module, and plain LIKE matching when it does not.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from noema_core.errors import NoemaError

DATA_DIR_ENV = "NOEMA_DATA_DIR"
SCHEMA_VERSION = 3  # 2: turns.trace (a reply's decoding trace); 3: turns.attempt, turns.how

# Columns later versions added to turns, each added to an older file by `migrate`; its older
# turns keep NULL there (no trace, not a retry).
ADDED_COLUMNS = (("trace", "BLOB"), ("attempt", "INTEGER"), ("how", "TEXT"))

TABLES = """
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
    created_at REAL NOT NULL,
    trace BLOB,
    attempt INTEGER,
    how TEXT
);
CREATE INDEX IF NOT EXISTS turns_by_conversation ON turns(conversation_id, id);
"""

# The turn's text, indexed by the turn's row id; kept in step by the store's own writes (not
# triggers: a file written by a sqlite without FTS5 must still take new turns).
FTS_TABLE = "CREATE VIRTUAL TABLE IF NOT EXISTS turns_fts USING fts5(content)"


class StoreError(NoemaError):
    """The conversation database cannot be opened or written."""

    retryable = False  # whether trying the same write again later can succeed


class StoreBusyError(StoreError):
    """Another program holds the database's lock."""

    retryable = True


class StoreFullError(StoreError):
    """The disk (or the file's size limit) has no room for the write."""

    retryable = True


class StoreDamagedError(StoreError):
    """The file is not a readable SQLite database; it is left exactly as it is."""


def has_fts5() -> bool:
    """Whether this Python's sqlite library has the FTS5 module."""
    try:
        sqlite3.connect(":memory:").execute("CREATE VIRTUAL TABLE probe USING fts5(x)")
    except sqlite3.Error:
        return False
    return True


def store_error(path: Path, error: sqlite3.Error | OSError, doing: str) -> StoreError:
    """The typed one-line error for what sqlite (or the OS) said while `doing` ("save to")."""
    name = getattr(error, "sqlite_errorname", "") or ""
    reason = getattr(error, "strerror", None) or str(error)
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in reason:
        return StoreBusyError(f"could not {doing} {path}: another program holds its lock "
                              f"({reason}); close it (another noema chat?), and unsaved turns "
                              f"are kept and saved when it frees")
    if name.startswith("SQLITE_FULL") or "disk is full" in reason or "No space" in reason:
        return StoreFullError(f"could not {doing} {path} ({reason}): free some disk space; "
                              f"unsaved turns are kept and saved when there is room")
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in reason:
        return damaged(path, reason)
    return StoreError(f"could not {doing} {path} ({reason}): set {DATA_DIR_ENV} to a "
                      f"writable directory")


def damaged(path: Path, reason: str) -> StoreDamagedError:
    return StoreDamagedError(f"the conversation store {path} is damaged ({reason}): it is "
                             f"left untouched; move it away to start a new one, e.g. "
                             f"mv {path} {path}.damaged")


def check_integrity(db: sqlite3.Connection, path: Path) -> None:
    """Raise `StoreDamagedError` unless SQLite's quick check passes (a lock is not damage)."""
    try:
        problems = [row[0] for row in db.execute("PRAGMA quick_check(3)")]
    except sqlite3.DatabaseError as error:
        raise store_error(path, error, "read") from None
    if problems != ["ok"]:
        raise damaged(path, "; ".join(problems)[:200])


def schema_version(db: sqlite3.Connection, path: Path) -> int:
    """The file's schema version; a newer one than this Noema reads is refused untouched."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreError(f"{path} was written by a newer Noema (schema {version}, this one "
                         f"reads {SCHEMA_VERSION}): upgrade noema, or set {DATA_DIR_ENV} to "
                         f"another directory")
    return version


def backup_before_migrating(db: sqlite3.Connection, path: Path) -> Path | None:
    """Copy a file that holds data and an older schema aside (before anything writes it)."""
    version = schema_version(db, path)
    tables = db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
    if version == SCHEMA_VERSION or not tables:
        return None
    target = path.with_name(f"{path.name}.backup-v{version}")
    serial = 1
    while target.exists():
        serial += 1
        target = path.with_name(f"{path.name}.backup-v{version}-{serial}")
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size:
        copy = sqlite3.connect(target)  # committed pages still in the WAL: SQLite's backup
        try:
            db.backup(copy)
        finally:
            copy.close()
    else:
        shutil.copy2(path, target)  # the file exactly as it was
    return target


def migrate(db: sqlite3.Connection, path: Path, fts: bool) -> None:
    """Bring the file to `SCHEMA_VERSION` (after `backup_before_migrating`)."""
    version = schema_version(db, path)
    if version < SCHEMA_VERSION:
        with db:
            db.executescript(TABLES)  # a new file gets every column at once
            columns = {row[1] for row in db.execute("PRAGMA table_info(turns)")}
            for name, kind in ADDED_COLUMNS:
                if name not in columns:
                    db.execute(f"ALTER TABLE turns ADD COLUMN {name} {kind}")
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    if fts:
        sync_search_index(db)


def sync_search_index(db: sqlite3.Connection) -> None:
    """Create the FTS5 index if missing and rebuild it if turns were written without it."""
    with db:
        db.execute(FTS_TABLE)
        indexed = db.execute("SELECT count(*) FROM turns_fts").fetchone()[0]
        stored = db.execute("SELECT count(*) FROM turns").fetchone()[0]
        if indexed != stored:
            db.execute("DELETE FROM turns_fts")
            db.execute("INSERT INTO turns_fts (rowid, content) SELECT id, content FROM turns")


def fts_query(text: str) -> str:
    """The user's words as an FTS5 query: each one quoted (no operators), prefix-matched."""
    return " ".join('"' + word.replace('"', '""') + '"*' for word in text.split())
