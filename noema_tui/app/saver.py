"""Saving off the UI thread: writes queue in order and a write that fails waits to be retried.

A busy database (another program holds its lock) or a full disk fails a write; the write and
every later one stay queued, in order, while the turns stay in memory, and the queue retries
until the database takes them. The chat hears of a failure at once (`on_failed`, once per
failure) and of the recovery (`on_saved`). A damaged database is not retried: it is never
written.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from noema_tui.app.store import ConversationStore, StoreError

SaveJob = Callable[[ConversationStore], object]
RETRY_SECONDS = 2.0
WRITER_BUSY_TIMEOUT = 2.0  # how long one write waits for another program's lock


class Saver:
    def __init__(self, store: ConversationStore,
                 on_failed: Callable[[StoreError], None] = lambda error: None,
                 on_saved: Callable[[int], None] = lambda count: None,
                 retry_seconds: float = RETRY_SECONDS) -> None:
        self.store = store
        self.on_failed = on_failed  # called on the writer thread: post, never draw
        self.on_saved = on_saved  # after a failure, with how many writes then went through
        self.retry_seconds = retry_seconds
        self.error: StoreError | None = None  # why the oldest queued write is waiting
        self._jobs: deque[SaveJob] = deque()
        self._changed = threading.Condition()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="noema-saver", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        """Writes not yet in the database (the one being made included)."""
        with self._changed:
            return len(self._jobs)

    def submit(self, job: SaveJob) -> None:
        with self._changed:
            if isinstance(self.error, StoreError) and not self.error.retryable:
                return  # the database cannot be written at all; the turn stays in memory
            self._jobs.append(job)
            self._changed.notify_all()

    def flush(self, timeout: float) -> bool:
        """Wait until every queued write is saved (True) or `timeout` seconds pass (False)."""
        with self._changed:
            if not self._thread.is_alive():
                return not self._jobs  # closed: nothing more will be written
            if self._jobs:
                self._changed.notify_all()  # retry at once rather than at the next interval
            return self._changed.wait_for(lambda: not self._jobs, timeout)

    def close(self, timeout: float = 2.0) -> bool:
        """Save what is queued (up to `timeout`), stop the thread; True if nothing is lost."""
        saved = self.flush(timeout)
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        self._thread.join(timeout=1.0)
        return saved

    def _run(self) -> None:
        written_since_failure = 0
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._jobs or self._closing)
                if not self._jobs:
                    return
                job = self._jobs[0]
            try:
                job(self.store)
            except StoreError as error:
                first = self.error is None
                with self._changed:
                    self.error = error
                    if not error.retryable:
                        self._jobs.clear()
                        self._changed.notify_all()
                if first:
                    self.on_failed(error)
                if not error.retryable:
                    continue
                with self._changed:
                    if not self._closing:
                        self._changed.wait(self.retry_seconds)
                    elif not self._jobs:
                        return
                    if self._closing:
                        return
                written_since_failure = 0
                continue
            with self._changed:
                self._jobs.popleft()
                recovered = self.error is not None and not self._jobs
                written_since_failure += 1
                if recovered:
                    self.error = None
                self._changed.notify_all()
            if recovered:
                self.on_saved(written_since_failure)
                written_since_failure = 0
