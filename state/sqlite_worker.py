"""One SQLite connection served by one thread (standard library :mod:`sqlite3` only).

The store's writes and reads are plain functions ``fn(conn) -> result`` run one at a time on a
dedicated thread, so the event loop never blocks on disk I/O and statements of different
coroutines never interleave inside a transaction (each job is a whole transaction).

A job may also run on the event-loop thread itself when the worker thread is idle
(:meth:`SqliteWorker.run_inline`): every job, wherever it runs, holds :attr:`SqliteWorker.lock`,
so the connection is never used by two threads at once (it is opened with
``check_same_thread=False`` for exactly this). The group committer (``state/commit.py``) uses
this to commit a group of FSM steps without two thread hand-offs on the reaction path.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], Any]

_STOP = object()


class WorkerClosed(RuntimeError):
    """The worker's connection is closed; no job can run."""


class SqliteWorker:
    """A connection to ``path`` and the thread that runs jobs on it. Create with :meth:`open`."""

    def __init__(self, path: str, *, name: str = "sqlite") -> None:
        self.path = path
        self.name = name
        #: held by every job while it runs (thread or inline)
        self.lock = threading.Lock()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._conn: sqlite3.Connection | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    @classmethod
    async def open(cls, path: str, *, name: str = "sqlite") -> "SqliteWorker":
        """Start the thread and open the connection on it (autocommit mode: transactions are
        explicit ``BEGIN`` ... ``COMMIT`` in the jobs). Raises ``sqlite3.Error``/``OSError``."""
        worker = cls(path, name=name)
        worker._thread = threading.Thread(target=worker._serve, name=f"{name}-worker", daemon=True)
        worker._thread.start()
        try:
            await worker.run(lambda _conn: None)  # the connection is opened by the thread's first turn
        except BaseException:
            await worker.close()
            raise
        return worker

    @property
    def running(self) -> bool:
        """True while jobs can be run."""
        return not self._closed and self._conn is not None

    # ---- the thread -----------------------------------------------------------------

    def _serve(self) -> None:
        first = True
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            loop, fut, fn = item
            try:
                if first:
                    first = False
                    self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
                with self.lock:
                    result = fn(self._require_conn())
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
                _resolve(loop, fut, None, exc)
            else:
                _resolve(loop, fut, result, None)
        conn, self._conn = self._conn, None
        if conn is not None:
            with self.lock:
                conn.close()

    def _require_conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise WorkerClosed(f"{self.name}: connection closed")
        return self._conn

    # ---- running jobs -----------------------------------------------------------------

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` on the worker thread; returns its result or raises its exception."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        self.submit(fn, fut)
        return await fut

    def submit(self, fn: Job, fut: asyncio.Future[Any]) -> None:
        """Queue ``fn`` for the thread; its outcome is set on ``fut`` (from the loop thread).
        Raises WorkerClosed once :meth:`close` was called."""
        if self._closed:
            raise WorkerClosed(f"{self.name}: connection closed")
        self._queue.put((fut.get_loop(), fut, fn))

    def run_inline(self, fn: Job) -> tuple[bool, Any]:
        """Run ``fn(conn)`` right here (on the calling thread) if the worker thread is idle.

        Returns ``(True, result)``, or ``(False, None)`` without running it when a job is
        running on the thread. Exceptions of ``fn`` propagate."""
        if self._conn is None or self._closed:
            raise WorkerClosed(f"{self.name}: connection closed")
        if not self.lock.acquire(blocking=False):
            return False, None
        try:
            return True, fn(self._conn)
        finally:
            self.lock.release()

    async def close(self) -> None:
        """Finish the queued jobs, close the connection and end the thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        thread = self._thread
        if thread is not None and thread.is_alive():
            await asyncio.get_running_loop().run_in_executor(None, thread.join)


def _resolve(loop: asyncio.AbstractEventLoop, fut: asyncio.Future[Any], result: Any,
             exc: BaseException | None) -> None:
    def settle() -> None:
        if fut.done():
            return
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(result)

    try:
        loop.call_soon_threadsafe(settle)
    except RuntimeError:  # the loop is closed: nobody waits any more
        pass


__all__ = ["SqliteWorker", "WorkerClosed"]
