"""The chat store under faults: old, damaged, locked and full databases.

Each case asserts what the user is told (one line naming the file and the real cause), that
readable conversations stay readable, that a damaged file is never written, and that a turn
which could not be saved is kept and saved once the database takes it again.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from noema_tui.app import saver as saver_module
from noema_tui.app.conversation import Conversation, Turn
from noema_tui.app.export import export_transcript
from noema_tui.app.factory import ChatOptions, create_app
from noema_tui.app.session import ChatSession
from noema_tui.app.store import (
    ConversationStore,
    StoreBusyError,
    StoreDamagedError,
    StoreError,
    data_dir,
)
from noema_tui.app.store_schema import SCHEMA_VERSION, TABLES
from noema_tui.cli import app as cli
from tests.tui.chat_support import (  # noqa: F401 (isolated_dirs is an autouse fixture)
    FakeChecker,
    ReplayLoader,
    isolated_dirs,
    pilot_test,
    send_prompt,
    wait_for,
)


def store_path() -> Path:
    return data_dir() / "conversations.sqlite3"


def fill(store: ConversationStore, count: int, padding: int = 0) -> list[Conversation]:
    conversations = []
    for i in range(count):
        conversation = Conversation(model="noema-tiny")
        store.add_turn(conversation, Turn("user", f"question {i} about x^{i} " + "p" * padding))
        store.add_turn(conversation, Turn("assistant", f"answer {i}", mode="S",
                                          stats={"new_tokens": 2, "forwards": 1,
                                                 "seconds": 0.1, "prompt_tokens": 4}))
        conversations.append(conversation)
    return conversations


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def list_command() -> object:
    return CliRunner().invoke(cli, ["chat", "--list"])


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


# ----------------------------------------------------------------- migrations


def make_version_0(path: Path) -> None:
    """A database as Noema wrote it before schema versions and full-text search."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.executescript(TABLES)
        db.execute("INSERT INTO conversations VALUES (1, 'old chat', 'noema-tiny', 1.0, 2.0)")
        db.execute("INSERT INTO turns (conversation_id, role, content, created_at) VALUES "
                   "(1, 'user', 'Solve 4x + 1 = 9', 1.0), (1, 'assistant', 'x = 2', 2.0)")
    db.close()


def test_a_migration_keeps_a_copy_of_the_file_first():
    make_version_0(store_path())
    before = digest(store_path())
    store = ConversationStore.open_default()
    backup = store_path().with_name("conversations.sqlite3.backup-v0")
    assert digest(backup) == before  # the copy is the file as it was
    assert store._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    [hit] = store.search("4x")
    assert hit.summary.title == "old chat"  # turns written before the index are searchable


def test_a_second_migration_never_replaces_an_earlier_backup():
    make_version_0(store_path())
    first = store_path().with_name("conversations.sqlite3.backup-v0")
    first.write_text("an earlier backup")
    ConversationStore.open_default()
    assert first.read_text() == "an earlier backup"
    assert store_path().with_name("conversations.sqlite3.backup-v0-2").exists()


def test_a_file_from_a_newer_noema_is_refused_and_left_alone():
    make_version_0(store_path())
    with sqlite3.connect(store_path()) as db:
        db.execute("PRAGMA user_version = 99")
    db.close()
    before = digest(store_path())
    with pytest.raises(StoreError, match="newer Noema"):
        ConversationStore.open_default()
    assert digest(store_path()) == before


def test_search_works_without_fts5_by_substring():
    store = ConversationStore(store_path(), fts=False)
    fill(store, 3)
    assert [hit.summary.title for hit in store.search("x^1")] == ["question 1 about x^1"]
    assert store.search("100%") == []  # LIKE's wildcards are matched literally


def test_search_with_fts5_matches_words_prefixes_and_ignores_query_syntax():
    store = ConversationStore.open_default()
    if not store.fts:
        pytest.skip("this sqlite has no FTS5")
    fill(store, 3)
    assert len(store.search("quest")) == 3
    assert [hit.summary.title for hit in store.search("answer 2")] == ["question 2 about x^2"]
    assert store.search('NEAR( "x') == []  # FTS5 operators in user text are plain words


# ----------------------------------------------------------------- damaged files


def corrupt_tail(path: Path, pages: int = 2) -> None:
    data = bytearray(path.read_bytes())
    page = 4096
    for index in range(len(data) // page - pages, len(data) // page):
        data[index * page:(index + 1) * page] = b"\xde\xad\xbe\xef" * (page // 4)
    path.write_bytes(bytes(data))


def test_malformed_pages_list_what_is_readable_in_one_line_and_keep_the_file():
    store = ConversationStore.open_default()
    fill(store, 6, padding=3000)
    store.close()
    corrupt_tail(store_path())
    before = digest(store_path())
    result = list_command()
    assert result.exit_code == 1
    line = one_error_line(result.stderr)
    assert str(store_path()) in line and "damaged" in line and "mv " in line
    assert "question" in result.stdout  # what can be read is still listed
    assert digest(store_path()) == before


def test_a_file_that_is_not_a_database_is_never_written():
    store_path().parent.mkdir(parents=True)
    store_path().write_bytes(b"these are my notes, not a database\n" * 200)
    before = digest(store_path())
    result = list_command()
    assert result.exit_code == 1
    assert "damaged" in one_error_line(result.stderr)
    store = ConversationStore.open_default()
    session = ChatSession(Conversation(model="noema-tiny"), store)
    session.add_prompt("Solve 2x = 4")
    session.close(timeout=2)
    assert isinstance(session.saver.error, StoreDamagedError)
    assert digest(store_path()) == before


def test_a_damaged_database_still_opens_the_chat_with_a_notice():
    store_path().parent.mkdir(parents=True)
    store_path().write_bytes(b"\x00garbage" * 500)
    store = ConversationStore.open_default()
    assert store.damage is not None
    result = CliRunner().invoke(cli, ["chat"])  # no terminal: fails after opening the store
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_a_turn_with_invalid_stats_json_resumes_without_its_stats():
    store = ConversationStore.open_default()
    [conversation] = fill(store, 1)
    with sqlite3.connect(store_path()) as db:
        db.execute("UPDATE turns SET stats = '{\"new_tokens\": 2,' WHERE role = 'assistant'")
    db.close()
    result = list_command()
    assert result.exit_code == 0 and "question 0" in result.stdout
    reopened = ConversationStore.open_default()
    app = create_app(ChatOptions(resume=True), loader=ReplayLoader(), checker=FakeChecker(),
                     store=reopened)
    loaded = app.chat_screen.session.conversation
    assert loaded.id == conversation.id and loaded.turns[1].stats is None
    assert loaded.turns[1].content == "answer 0"
    [notice] = [n for n in app.notices if "not valid JSON" in n]
    assert str(store_path()) in notice


# ----------------------------------------------------------------- locked databases


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(saver_module, "WRITER_BUSY_TIMEOUT", 0.1)
    monkeypatch.setattr("noema_tui.app.session.WRITER_BUSY_TIMEOUT", 0.1)
    monkeypatch.setattr(saver_module, "RETRY_SECONDS", 0.1)


class Recorder:
    def __init__(self) -> None:
        self.failures: list[StoreError] = []
        self.saved: list[int] = []
        self.failed = threading.Event()

    def failed_with(self, error: StoreError) -> None:
        self.failures.append(error)
        self.failed.set()


def session_with(store: ConversationStore, recorder: Recorder) -> ChatSession:
    session = ChatSession(Conversation(model="noema-tiny"), store, recorder.failed_with,
                          recorder.saved.append)
    session.saver.retry_seconds = 0.1
    return session


def saved_contents() -> list[str]:
    with sqlite3.connect(store_path()) as db:
        rows = [row[0] for row in db.execute("SELECT content FROM turns ORDER BY id")]
    db.close()
    return rows


def test_a_lock_held_while_chatting_never_blocks_and_the_turn_is_saved_when_it_frees(
        quick_retries):
    store = ConversationStore.open_default()
    recorder = Recorder()
    session = session_with(store, recorder)
    other = sqlite3.connect(store_path(), isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    started = time.monotonic()
    session.add_prompt("Solve 3x + 5 = 20")
    assert time.monotonic() - started < 0.05  # the UI thread only queues the write
    assert recorder.failed.wait(5)
    message = str(recorder.failures[0])
    assert isinstance(recorder.failures[0], StoreBusyError)
    assert "lock" in message and str(store_path()) in message
    assert "NOEMA_DATA_DIR" not in message
    assert session.saver.pending == 1 and session.turns[0].content == "Solve 3x + 5 = 20"
    other.execute("COMMIT")
    other.close()
    assert session.saver.flush(timeout=5)
    assert saved_contents() == ["Solve 3x + 5 = 20"]
    assert recorder.saved == [1]
    session.close()


def test_a_lock_held_at_start_names_the_lock_and_saves_once_it_frees(quick_retries):
    store_path().parent.mkdir(parents=True)
    other = sqlite3.connect(store_path(), isolation_level=None)
    other.execute("PRAGMA journal_mode=DELETE")
    other.execute("CREATE TABLE held (x)")
    other.execute("BEGIN EXCLUSIVE")  # readers are locked out too
    store = ConversationStore.open_default()
    assert isinstance(store.unavailable, StoreBusyError)
    assert "NOEMA_DATA_DIR" not in str(store.unavailable)
    result = list_command()
    assert result.exit_code == 1 and "lock" in one_error_line(result.stderr)
    recorder = Recorder()
    session = session_with(store, recorder)
    session.add_prompt("first")
    session.add_prompt("second")
    assert recorder.failed.wait(5)
    other.execute("ROLLBACK")
    other.close()
    assert session.saver.flush(timeout=5)
    assert saved_contents() == ["first", "second"]
    session.close()


# ----------------------------------------------------------------- a full disk


def fill_the_disk(session: ChatSession) -> sqlite3.Connection:
    """Cap the writer's database at its current size: sqlite then fails as on ENOSPC."""
    db = session.saver.store._connection()
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages}")
    return db


def test_a_full_disk_is_shown_at_once_the_turn_kept_exported_and_saved_later(quick_retries):
    store = ConversationStore.open_default()
    fill(store, 1)
    recorder = Recorder()
    session = session_with(store, recorder)
    db = fill_the_disk(session)
    session.add_prompt("a long question " + "z" * 20_000)
    assert recorder.failed.wait(5)
    message = str(recorder.failures[0])
    assert "disk" in message and str(store_path()) in message and "kept" in message
    [markdown, _] = export_transcript(session.conversation, None, Path("out.md").resolve()
                                      .parent)
    assert "a long question" in markdown.read_text()
    db.execute("PRAGMA max_page_count = 1000000")
    assert session.saver.flush(timeout=5)
    assert saved_contents()[-1].startswith("a long question")
    session.close()


@pilot_test
async def test_the_chat_shows_a_failed_save_at_once(quick_retries):
    store = ConversationStore.open_default()
    app = create_app(ChatOptions(), loader=ReplayLoader(), checker=FakeChecker(), store=store)
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: app.chat_screen.info is not None, "the model")
        fill_the_disk(app.chat_screen.session)
        await send_prompt(pilot, "Solve 3x + 5 = 20 " + "z" * 20_000)
        await wait_for(pilot, lambda: any(n.title == "Not saved" for n in app._notifications),
                       "the notice")
        assert app.chat_screen.session.turns[0].content.startswith("Solve 3x + 5 = 20")
