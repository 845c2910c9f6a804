"""The SQLite store: the only module that speaks SQL.

One database file holds every task of every process on this machine. It runs
in WAL mode so readers (``tasks list``, the dashboard) never block the
writers. Every FSM step is one transaction (:meth:`Store.commit_step`):
transition journal row + task checkpoint (state, context, PnL) + new order
intents + intent updates + fills, fenced by the task's lease so a process that
lost its lease can never commit. Commits that precede a side effect use
``synchronous=FULL``.

Schema versions live in ``PRAGMA user_version`` with forward migrations. A
database from a newer version, or a file that is not a readable SQLite
database, is refused with :class:`StoreError` and left untouched.

Default path: ``$ARB_DB``, else ``$ARB_HOME/arb.sqlite`` (``ARB_HOME``
defaults to ``~/.arb-runner``). The file is created with mode 0600.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from exchanges.clock import now_ms
from state.api import RUNNABLE_STATUSES, Backend, Claim, Notice
from state.commit import GroupCommitter, Step, build_step
from state.errors import LeaseLost, StoreError
from state.records import (
    ControlRequest,
    FillRecord,
    FundingRecord,
    IntentStatus,
    OrderIntent,
    State,
    TaskRecord,
    TaskStatus,
    TransitionRecord,
)
from state import history, prune
from state import statements as stmt
from state.schema import MIGRATIONS, SCHEMA_VERSION
from state.sqlite_worker import SqliteWorker

T = TypeVar("T")


_TASK_COLUMNS = (
    "task_id, strategy, symbol, mode, config, status, state, created_ms, updated_ms, state_entered_ms, "
    "owner_id, owner_pid, owner_host, heartbeat_ms, version, context, pnl, last_error, duration_s, started_ms"
)
_intent_decoder = msgspec.json.Decoder(OrderIntent)
_fill_decoder = msgspec.json.Decoder(FillRecord)
_funding_decoder = msgspec.json.Decoder(FundingRecord)


#: how long a write waits for another process's write lock (on the SQLite thread; never on the loop)
BUSY_TIMEOUT_MS = 10000
#: WAL pages after which a commit checkpoints by itself (SQLite's default is 1000); the runner
#: normally keeps the WAL far below it with :meth:`Store.checkpoint_wal`.
AUTOCHECKPOINT_PAGES = 10000


def arb_home() -> Path:
    """``$ARB_HOME`` or ``~/.arb-runner``: the runner's state directory."""
    return Path(os.environ.get("ARB_HOME") or Path.home() / ".arb-runner")


def default_db_path() -> Path:
    """``$ARB_DB``, else ``$ARB_HOME/arb.sqlite``."""
    env = os.environ.get("ARB_DB")
    return Path(env) if env else arb_home() / "arb.sqlite"


def _ensure_file_0600(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)
    os.chmod(path, 0o600)  # regardless of umask


def _task_from_row(row: sqlite3.Row | tuple) -> TaskRecord:
    (task_id, strategy, symbol, mode, config, status, state, created_ms, updated_ms, state_entered_ms,
     owner_id, owner_pid, owner_host, heartbeat_ms, version, context, pnl, last_error, duration_s,
     started_ms) = row
    return TaskRecord(
        task_id=task_id, strategy=strategy, symbol=symbol, mode=mode, config=config,
        status=TaskStatus(status), state=State(state), created_ms=created_ms, updated_ms=updated_ms,
        state_entered_ms=state_entered_ms, owner_id=owner_id, owner_pid=owner_pid, owner_host=owner_host,
        heartbeat_ms=heartbeat_ms, version=version, context=context, pnl=pnl, last_error=last_error,
        duration_s=float(duration_s), started_ms=started_ms,
    )


class Store:
    """Async SQLite store (:class:`state.api.TaskStore`). Create with :meth:`open`; close with :meth:`close`."""

    backend = Backend.SQLITE

    def __init__(self, worker: SqliteWorker, path: Path) -> None:
        self._worker = worker
        self.path = path
        self._sync_full: bool | None = None
        # Every write runs as ONE function on the worker thread (a whole transaction per hop), so
        # statements of different coroutines never interleave inside a transaction; FSM steps are
        # group-committed (state/commit.py), on the loop thread itself while the worker is idle.
        self._checkpoint_worker: SqliteWorker | None = None
        self._committer = GroupCommitter(worker, self._sync_in_thread, self._fenced, inline=True,
                                         busy_timeout_ms=BUSY_TIMEOUT_MS)

    # ---- lifecycle ---------------------------------------------------------

    @classmethod
    async def open(cls, path: str | os.PathLike[str] | None = None) -> "Store":
        """Open (creating with mode 0600 if absent) and migrate forward.

        Raises StoreError for a newer schema or an unreadable/corrupt file;
        the file is then left exactly as it was.
        """
        db_path = Path(path) if path is not None else default_db_path()
        if db_path.exists() and db_path.is_dir():
            raise StoreError(f"database path {db_path} is a directory")
        if db_path.exists() and db_path.stat().st_size > 0:
            _check_header(db_path)
        try:
            _ensure_file_0600(db_path)
        except OSError as exc:
            raise StoreError(f"cannot create database {db_path}: {exc.strerror or exc}") from None
        try:
            worker = await SqliteWorker.open(str(db_path), name="store")
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open database {db_path}: {exc}") from None
        store = cls(worker, db_path)
        try:
            await worker.run(partial(_init_db, path=db_path))
            store._sync_full = True
        except sqlite3.DatabaseError as exc:
            await worker.close()
            raise StoreError(f"database {db_path} is not usable: {exc}") from None
        except BaseException:
            await worker.close()
            raise
        return store

    async def close(self) -> None:
        """Wait for queued step commits, then close the connection(s)."""
        await self._committer.drain()
        if self._checkpoint_worker is not None:
            await self._checkpoint_worker.close()
            self._checkpoint_worker = None
        await self._worker.close()

    async def checkpoint_wal(self) -> tuple[int, int]:
        """Copy committed WAL frames into the database file, off the commit path.

        A PASSIVE ``wal_checkpoint`` on a second connection (its own thread): it waits for no
        lock and holds up no writer, and the next commit restarts the WAL from its start once it
        is fully copied. Left to SQLite, the commit that grows the WAL past 1000 pages runs the
        checkpoint itself (copy + fsync of the database file: milliseconds on the reaction
        path); the runner calls this every second instead, and the main connection's own
        threshold is raised to :data:`AUTOCHECKPOINT_PAGES` as a backstop. Returns (frames in the
        WAL, frames copied); ``(-1, -1)`` when the database is not in WAL mode.
        """
        if self._checkpoint_worker is None:
            self._checkpoint_worker = await SqliteWorker.open(str(self.path), name="store-checkpoint")
            await self._checkpoint_worker.run(lambda db: db.execute("PRAGMA busy_timeout=0"))

        def run(db: sqlite3.Connection) -> tuple[int, int]:
            _busy, wal_frames, copied = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            return int(wal_frames), int(copied)

        return await self._checkpoint_worker.run(run)

    async def now_ms(self) -> int:
        """The database's clock: on SQLite (one host) this host's clock."""
        return now_ms()

    @property
    def commit_stats(self) -> dict[str, int]:
        """Group-commit counters: ``groups``, ``steps``, ``max_group`` (benches)."""
        c = self._committer
        return {"groups": c.groups, "steps": c.steps, "max_group": c.max_group}

    def _sync_in_thread(self, db: sqlite3.Connection, full: bool) -> None:
        """On the connection's thread: select ``synchronous=FULL``/``NORMAL`` for the next commit."""
        if self._sync_full is not full:
            db.execute("PRAGMA synchronous=FULL" if full else "PRAGMA synchronous=NORMAL")
            self._sync_full = full

    @staticmethod
    def _fenced(step: Step) -> LeaseLost:
        return LeaseLost(f"task {step.task_id}: lease is not held by {step.owner_id}")

    async def _write(self, durable: bool, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(db, *args)`` on the worker thread in one hop, ``synchronous`` FULL if ``durable``."""
        def job(db: sqlite3.Connection) -> T:
            self._sync_in_thread(db, durable)
            return fn(db, *args)

        return await self._worker.run(job)

    async def _fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        return await self._worker.run(partial(stmt.fetch, sql=sql, params=tuple(params)))

    # ---- tasks -------------------------------------------------------------

    async def create_task(self, rec: TaskRecord) -> None:
        """Insert a new task (its id must be new)."""
        ts = now_ms()
        rec.created_ms = rec.created_ms or ts
        rec.updated_ms = ts
        row = (rec.task_id, rec.strategy, rec.symbol, rec.mode, rec.config, rec.status.value, State(rec.state).value,
               rec.created_ms, rec.updated_ms, rec.state_entered_ms, rec.owner_id, rec.owner_pid, rec.owner_host,
               rec.heartbeat_ms, rec.version, rec.context, rec.pnl, rec.last_error, rec.duration_s, rec.started_ms)
        await self._write(True, stmt.execute, f"INSERT INTO tasks ({_TASK_COLUMNS}) VALUES ({','.join('?' * 20)})", row)

    async def get_task(self, task_id: str) -> TaskRecord | None:
        rows = await self._fetchall(f"SELECT {_TASK_COLUMNS} FROM tasks WHERE task_id=?", (task_id,))
        return _task_from_row(rows[0]) if rows else None

    async def list_tasks(self) -> list[TaskRecord]:
        rows = await self._fetchall(f"SELECT {_TASK_COLUMNS} FROM tasks ORDER BY created_ms, task_id")
        return [_task_from_row(r) for r in rows]

    async def set_status(self, task_id: str, status: TaskStatus, reason: str = "",
                         owner_id: str | None = None) -> None:
        """Set a task's status and journal it (src == dst == current state).

        With ``owner_id`` the update is fenced by the lease (raises LeaseLost).
        """
        ts = now_ms()

        def run(db: sqlite3.Connection) -> bool:
            db.execute("BEGIN IMMEDIATE")
            try:
                sql = "UPDATE tasks SET status=?, updated_ms=? WHERE task_id=?"
                params: list = [status.value, ts, task_id]
                if owner_id is not None:
                    sql += " AND owner_id=?"
                    params.append(owner_id)
                if db.execute(sql, params).rowcount != 1:
                    db.execute("ROLLBACK")
                    return False
                state, version = db.execute("SELECT state, version FROM tasks WHERE task_id=?", (task_id,)).fetchone()
                db.execute("INSERT INTO transitions (task_id, version, ts_ms, src, dst, trigger, reason) "
                           "VALUES (?,?,?,?,?,?,?)", (task_id, version, ts, state, state, f"status:{status.value}",
                                                      reason))
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            return True

        if not await self._write(True, run):
            raise LeaseLost(f"task {task_id}: not updated (lease lost or unknown task)")

    async def set_error(self, task_id: str, text: str) -> None:
        """Record the last error shown in listings (not fenced; informational)."""
        await self._write(True, stmt.execute, "UPDATE tasks SET last_error=?, updated_ms=? WHERE task_id=?",
                          (text[-2000:], now_ms(), task_id))

    async def journal(self, task_id: str, trigger: str, reason: str) -> None:
        """Append a free-form journal row (e.g. a traceback) at the current state."""
        await self._write(True, stmt.execute,
                          "INSERT INTO transitions (task_id, version, ts_ms, src, dst, trigger, reason) "
                          "SELECT task_id, version, ?, state, state, ?, ? FROM tasks WHERE task_id=?",
                          (now_ms(), trigger, reason, task_id))

    # ---- the FSM commit ----------------------------------------------------

    async def commit_step(self, task_id: str, owner_id: str, **fields: Any) -> int:
        """Commit one FSM step atomically; returns the task's new version.

        ``fields`` (keyword-only): ``state``, ``state_entered_ms``, ``context_json``, ``pnl_json``
        (required; None leaves the stored PnL as it is), ``status``, ``transition`` (a TransitionRecord), ``new_intents``,
        ``intent_updates``, ``fills``, ``funding``, ``durable`` (default True), ``last_error``,
        ``ack_controls``. Writes the checkpoint (state, context, PnL, status), the journal row,
        new intents (a duplicate client order id raises ``sqlite3.IntegrityError`` and nothing
        of this step is committed), intent updates, fills and funding (both idempotent), and
        acknowledges the control requests ``ack_controls`` whose effect this step makes durable.
        Raises LeaseLost when ``owner_id`` does not hold the lease.

        Steps of concurrent callers are group-committed (:mod:`state.commit`): one
        transaction, one fsync, each step in its own savepoint; the await returns
        after the COMMIT of the caller's group. ``durable`` selects
        ``synchronous=FULL`` (a group is durable when any of its steps is).
        """
        return await self._committer.submit(build_step(task_id, owner_id, **fields))

    def commit_step_nowait(self, task_id: str, owner_id: str, **fields: Any) -> asyncio.Future:
        """Write-behind :meth:`commit_step` (same arguments): queue the step and return its future
        (the new version, or LeaseLost etc.) at once. A step committed by the same caller before
        the loop turns (the next handler's, carrying order intents) shares its transaction; any
        later step is committed after it (FIFO). The caller must consume the future's exception."""
        return self._committer.submit_nowait(build_step(task_id, owner_id, **fields))

    # ---- reads -------------------------------------------------------------

    async def intents(self, task_id: str, unresolved_only: bool = False) -> list[OrderIntent]:
        """Order intents of a task by sequence; ``unresolved_only`` skips final ones."""
        rows = await self._fetchall("SELECT data FROM order_intents WHERE task_id=? ORDER BY seq", (task_id,))
        out = [_intent_decoder.decode(r[0]) for r in rows]
        if unresolved_only:
            out = [i for i in out if not i.status.is_final]
        return out

    async def fills(self, task_id: str) -> list[FillRecord]:
        """The task's fills in the order they were booked (insertion order: average-cost PnL
        depends on it, so a rebuilt ledger equals the live one)."""
        rows = await self._fetchall("SELECT data FROM fills WHERE task_id=? ORDER BY rowid", (task_id,))
        return [_fill_decoder.decode(r[0]) for r in rows]

    async def funding(self, task_id: str) -> list[FundingRecord]:
        rows = await self._fetchall("SELECT data FROM funding WHERE task_id=? ORDER BY ts_ms", (task_id,))
        return [_funding_decoder.decode(r[0]) for r in rows]

    async def transitions(self, task_id: str, limit: int | None = None) -> list[TransitionRecord]:
        """Journal rows of a task, oldest first (the newest ``limit`` when given)."""
        cols = "task_id, version, ts_ms, src, dst, trigger, reason"
        sql = f"SELECT {cols} FROM transitions WHERE task_id=?"
        if limit is not None:  # rows of the same millisecond keep their journal order
            sql = (f"SELECT {cols} FROM (SELECT id, {cols} FROM transitions WHERE task_id=? ORDER BY id DESC "
                   f"LIMIT {int(limit)}) ORDER BY ts_ms, id")
            rows = await self._fetchall(sql, (task_id,))
        else:
            rows = await self._fetchall(sql + " ORDER BY id", (task_id,))
        return [TransitionRecord(task_id=r[0], version=r[1], ts_ms=r[2], src=r[3], dst=r[4], trigger=r[5],
                                 reason=r[6]) for r in rows]

    async def recent_transitions(self, limit: int = 10) -> list[TransitionRecord]:
        """The newest journal rows across all tasks, oldest first."""
        rows = await self._fetchall(
            "SELECT task_id, version, ts_ms, src, dst, trigger, reason FROM transitions "
            f"ORDER BY id DESC LIMIT {int(limit)}")
        return [TransitionRecord(task_id=r[0], version=r[1], ts_ms=r[2], src=r[3], dst=r[4], trigger=r[5],
                                 reason=r[6]) for r in reversed(rows)]

    # ---- lease -------------------------------------------------------------

    async def acquire_lease(self, task_id: str, owner_id: str, pid: int, host: str, ttl_s: float,
                            take_from: tuple[str | None, int] | None = None) -> bool:
        """Take the task's lease; returns True when ``owner_id`` now holds it.

        Without ``take_from``: only a free lease, our own, or one whose heartbeat is older than
        ``ttl_s``. With ``take_from=(previous owner id, previous heartbeat_ms)`` as the caller
        read them (a crashed owner: its pid is dead on this host): a compare-and-swap that
        succeeds only if the lease still has exactly that owner and heartbeat. Either way the
        condition is evaluated inside the UPDATE, so of two processes taking over the same lease
        at once exactly one succeeds.
        """
        ts = now_ms()
        sql = ("UPDATE tasks SET owner_id=?, owner_pid=?, owner_host=?, heartbeat_ms=?, updated_ms=?, "
               "started_ms=CASE WHEN started_ms=0 THEN ? ELSE started_ms END WHERE task_id=?")
        params: list[Any] = [owner_id, pid, host, ts, ts, ts, task_id]
        if take_from is None:
            sql += " AND (owner_id IS NULL OR owner_id=? OR heartbeat_ms < ?)"
            params += [owner_id, ts - int(ttl_s * 1000)]
        else:
            sql += " AND owner_id IS ? AND heartbeat_ms=?"
            params += [take_from[0], int(take_from[1])]
        return await self._write(True, stmt.execute, sql, params) == 1

    async def heartbeat(self, task_id: str, owner_id: str) -> bool:
        """Refresh the lease; False when it is no longer ours."""
        return task_id in await self.heartbeat_many([task_id], owner_id)

    async def heartbeat_many(self, task_ids: Iterable[str], owner_id: str) -> set[str]:
        """Refresh the leases of ``task_ids`` in ONE statement; returns the ids still held by
        ``owner_id`` (a missing id: its lease was taken over; stop driving it)."""
        ids = list(task_ids)
        if not ids:
            return set()
        return set(await self._write(False, stmt.heartbeat_many, ids, owner_id, now_ms()))

    async def release_lease(self, task_id: str, owner_id: str) -> None:
        await self._write(True, stmt.execute, "UPDATE tasks SET owner_id=NULL, owner_pid=NULL, owner_host=NULL, "
                          "heartbeat_ms=0 WHERE task_id=? AND owner_id=?", (task_id, owner_id))

    async def claim_tasks(self, owner_id: str, pid: int, host: str, ttl_s: float, limit: int,
                          modes: Iterable[str]) -> list[Claim]:
        """Take up to ``limit`` runnable tasks without a live lease, oldest first (TaskStore.claim_tasks);
        one ``BEGIN IMMEDIATE`` transaction, so two workers never claim the same task."""
        ts = now_ms()
        rows = await self._write(True, stmt.claim_many, _TASK_COLUMNS, [s.value for s in RUNNABLE_STATUSES],
                                 list(modes), ts - int(ttl_s * 1000), int(limit), (owner_id, pid, host, ts))
        return [Claim(record=_task_from_row(r[:-2]), previous_owner=r[-2], previous_host=r[-1]) for r in rows]

    # ---- control requests --------------------------------------------------

    async def request_control(self, task_id: str, action: str, flatten: bool = False) -> int:
        """Queue a ``stop``/``pause`` request for the task's owner; returns its id."""
        if action not in ("stop", "pause"):
            raise ValueError(f"unknown control action {action!r}")
        return await self._write(True, stmt.insert, "INSERT INTO control (task_id, action, flatten, created_ms) "
                                 "VALUES (?,?,?,?)", (task_id, action, int(flatten), now_ms()))

    async def pending_controls(self, task_id: str) -> list[ControlRequest]:
        return await self.pending_controls_many([task_id])

    async def pending_controls_many(self, task_ids: Iterable[str]) -> list[ControlRequest]:
        """Unacknowledged control requests of all ``task_ids`` in ONE query, oldest first."""
        ids = list(task_ids)
        if not ids:
            return []
        rows = await self._fetchall(
            "SELECT id, task_id, action, flatten, created_ms, acked_ms FROM control "
            f"WHERE task_id IN ({','.join('?' * len(ids))}) AND acked_ms=0 ORDER BY id", ids)
        return [ControlRequest(id=r[0], task_id=r[1], action=r[2], flatten=bool(r[3]), created_ms=r[4],
                               acked_ms=r[5]) for r in rows]

    async def ack_control(self, control_id: int) -> None:
        await self._write(True, stmt.execute, "UPDATE control SET acked_ms=? WHERE id=?", (now_ms(), control_id))

    async def subscribe(self, notice: Notice, callback: Callable[[str], None]) -> bool:
        """SQLite cannot push: always False (owners poll the control table, workers poll for tasks)."""
        return False

    async def control(self, control_id: int) -> ControlRequest | None:
        rows = await self._fetchall(
            "SELECT id, task_id, action, flatten, created_ms, acked_ms FROM control WHERE id=?", (control_id,))
        if not rows:
            return None
        r = rows[0]
        return ControlRequest(id=r[0], task_id=r[1], action=r[2], flatten=bool(r[3]), created_ms=r[4],
                              acked_ms=r[5])

    # ---- live telemetry (dashboard) ----------------------------------------

    async def put_live(self, task_id: str, json_text: str) -> None:
        """Upsert the task's dashboard telemetry (not fsynced: it is derivable)."""
        await self.put_live_many([(task_id, json_text)])

    async def put_live_many(self, items: Iterable[tuple[str, str]]) -> None:
        """Upsert ``(task_id, json_text)`` telemetry rows in ONE transaction (not fsynced)."""
        ts = now_ms()
        params = [v for task_id, text in items for v in (task_id, ts, text)]
        if params:
            await self._write(False, stmt.put_live_many, params)

    async def get_live(self) -> dict[str, str]:
        rows = await self._fetchall("SELECT task_id, data FROM task_live")
        return {r[0]: r[1] for r in rows}

    # ---- history (state/history.py) and pruning (state/prune.py) -------------

    async def append_history(self, rows: Iterable[tuple[str, int, str]], check_ids: Iterable[str] = ()) -> int:
        """Append ``(task_id, ts_ms, json)`` samples (not fsynced); retention: :func:`history.append`."""
        return await self._write(False, history.append, list(rows), list(check_ids))

    async def history(self, task_id: str, since_ms: int = 0, limit: int | None = None) -> list[tuple[int, str]]:
        """``(ts_ms, json)`` samples of a task from ``since_ms``, oldest first (the newest ``limit``)."""
        if limit is None:
            return await self._fetchall(history.ROWS_SQL, (task_id, since_ms))
        return (await self._fetchall(history.NEWEST_ROWS_SQL, (task_id, since_ms, int(limit))))[::-1]

    async def finished_tasks_before(self, before_ms: int) -> list[tuple[str, str, int]]:
        return await self._fetchall(prune.FINISHED_BEFORE_SQL, prune.finished_before_params(before_ms))

    async def delete_tasks(self, task_ids: Iterable[str]) -> int:
        """Delete finished tasks with all their rows (``tasks prune``); returns how many."""
        return await self._write(True, prune.delete_tasks, list(task_ids))


def _init_db(db: sqlite3.Connection, path: Path) -> None:
    """On the worker thread: check the schema version and integrity, set the pragmas, migrate
    forward (each version in its own transaction). Raises StoreError / sqlite3.DatabaseError."""
    db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    (version,) = db.execute("PRAGMA user_version").fetchone()
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"database {path} has schema version {version}, newer than this program's "
            f"{SCHEMA_VERSION}; upgrade the program (the database was not modified)"
        )
    (result,) = db.execute("PRAGMA quick_check").fetchone()
    if result != "ok":
        raise StoreError(f"database {path} failed its integrity check: {result}")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA synchronous=FULL")
    while version < SCHEMA_VERSION:
        db.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the write lock: another process may have migrated this
            # (fresh) file between our first read and now.
            (version,) = db.execute("PRAGMA user_version").fetchone()
            if version < SCHEMA_VERSION:
                for statement in stmt.split_sql(MIGRATIONS[version]):
                    db.execute(statement)
                version += 1
                db.execute(f"PRAGMA user_version={version}")
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise


_SQLITE_MAGIC = b"SQLite format 3\x00"


def _check_header(path: Path) -> None:
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise StoreError(f"cannot read database {path}: {exc.strerror or exc}") from None
    if head != _SQLITE_MAGIC:
        raise StoreError(f"{path} is not an SQLite database (refusing to touch it)")


__all__ = [
    "Store", "StoreError", "LeaseLost", "SCHEMA_VERSION", "MIGRATIONS", "default_db_path", "arb_home",
    "IntentStatus",
]
