"""One generation at a time per loaded model: a FIFO of jobs and the thread that runs them.

The engine keeps one KV cache and is not thread-safe, so requests wait their turn. Each job
carries its own cancel event and an asyncio queue its request reads; the worker thread hands
events over with `call_soon_threadsafe`, so the event loop never waits on a forward. A job
withdrawn while waiting leaves the queue at once; one withdrawn while running stops after the
forward in progress (the engine checks its cancel event between forwards).
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from noema_core.decoding.settings import DecodingSettings
from noema_core.engine import Engine, Message


@dataclass(frozen=True)
class Queued:
    """The job waits: `ahead` requests (the running one included) will be served first."""

    ahead: int


@dataclass(frozen=True)
class Started:
    """The job has the engine now."""


@dataclass(frozen=True)
class Failed:
    """The engine raised: the job ends without a result."""

    error: BaseException


@dataclass(frozen=True)
class Ended:
    """The job's last item: the engine is free of it."""


class Job:
    """One request's generation. Read its items with `await job.next()` until `Ended`."""

    def __init__(self, messages: Sequence[Message], settings: DecodingSettings,
                 loop: asyncio.AbstractEventLoop) -> None:
        self.messages = list(messages)
        self.settings = settings
        self.cancel = threading.Event()
        self._loop = loop
        self._items: asyncio.Queue[Any] = asyncio.Queue()

    def push(self, item: Any) -> None:
        """From any thread: hand an item to the request's coroutine."""
        try:
            self._loop.call_soon_threadsafe(self._items.put_nowait, item)
        except RuntimeError:  # the loop has closed (server shutting down): nobody is reading
            self.cancel.set()

    async def next(self) -> Any:
        return await self._items.get()


class GenerationQueue:
    """Runs jobs on `engine` one at a time, in arrival order, in a daemon thread."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._waiting: deque[Job] = deque()
        self._running: Job | None = None
        self._wake = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="noema-serve-engine",
                                        daemon=True)
        self._thread.start()

    @property
    def busy(self) -> bool:
        return self._running is not None

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def submit(self, messages: Sequence[Message], settings: DecodingSettings) -> Job:
        """Queue a job (call from the event loop's thread)."""
        job = Job(messages, settings, asyncio.get_running_loop())
        with self._wake:
            if self._closed:
                raise RuntimeError("the generation queue is closed")
            self._waiting.append(job)
            self._report_positions(since=len(self._waiting) - 1)  # the others did not move
            self._wake.notify()
        return job

    def withdraw(self, job: Job) -> None:
        """The client went away: drop the job if it waits, stop it if it runs."""
        job.cancel.set()
        with self._wake:
            if job in self._waiting:
                self._waiting.remove(job)
                self._report_positions()

    def close(self) -> None:
        """Stop taking jobs; cancel the waiting ones and the running one."""
        with self._wake:
            self._closed = True
            for job in (*self._waiting, *([self._running] if self._running else [])):
                job.cancel.set()
            self._wake.notify_all()

    def _report_positions(self, since: int = 0) -> None:
        """Tell waiting jobs from `since` on how many are ahead of them (lock held)."""
        running = 1 if self._running is not None else 0
        for index in range(since, len(self._waiting)):
            if index + running:
                self._waiting[index].push(Queued(index + running))

    def _serve(self) -> None:
        while True:
            with self._wake:
                while not self._waiting and not self._closed:
                    self._wake.wait()
                if not self._waiting:
                    return
                job = self._running = self._waiting.popleft()
                self._report_positions()
            try:
                if not job.cancel.is_set():
                    job.push(Started())
                    for event in self.engine.stream(job.messages, job.settings, job.cancel):
                        job.push(event)
            except Exception as error:  # noqa: BLE001 - reported to the request, never lost
                job.push(Failed(error))
            finally:
                with self._wake:
                    self._running = None
                job.push(Ended())
