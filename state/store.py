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
from collections.abc import Iterable
from pathlib import Path

import aiosqlite
import msgspec

from exchanges.clock import now_ms
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


class StoreError(Exception):
    """The database cannot be used (newer schema, corrupt, unreadable). One-line message."""


class LeaseLost(StoreError):
    """A commit was attempted by a process that no longer owns the task's lease."""


MIGRATIONS: list[str] = [
    # v1
    """
    CREATE TABLE tasks (
        task_id TEXT PRIMARY KEY,
        strategy TEXT NOT NULL,
        symbol TEXT NOT NULL,
        mode TEXT NOT NULL,
        config TEXT NOT NULL,
        status TEXT NOT NULL,
        state TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        state_entered_ms INTEGER NOT NULL DEFAULT 0,
        owner_id TEXT,
        owner_pid INTEGER,
        owner_host TEXT,
        heartbeat_ms INTEGER NOT NULL DEFAULT 0,
        version INTEGER NOT NULL DEFAULT 0,
        context TEXT NOT NULL DEFAULT '{}',
        pnl TEXT NOT NULL DEFAULT '{}',
        last_error TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE transitions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        task_id TEXT NOT NULL REFERENCES tasks(task_id),
        version INTEGER NOT NULL,
        ts_ms INTEGER NOT NULL,
        src TEXT NOT NULL,
        dst TEXT NOT NULL,
        trigger TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX transitions_task ON transitions(task_id, id);
    CREATE TABLE order_intents (
        client_order_id TEXT PRIMARY KEY,
        task_id TEXT NOT NULL REFERENCES tasks(task_id),
        seq INTEGER NOT NULL,
        status TEXT NOT NULL,
        updated_ms INTEGER NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX order_intents_task ON order_intents(task_id, seq);
    CREATE TABLE fills (
        task_id TEXT NOT NULL REFERENCES tasks(task_id),
        venue TEXT NOT NULL,
        trade_id TEXT NOT NULL,
        client_order_id TEXT NOT NULL,
        ts_ms INTEGER NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (task_id, venue, trade_id)
    );
    CREATE TABLE funding (
        task_id TEXT NOT NULL REFERENCES tasks(task_id),
        venue TEXT NOT NULL,
        ts_ms INTEGER NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (task_id, venue, ts_ms)
    );
    CREATE TABLE control (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        task_id TEXT NOT NULL REFERENCES tasks(task_id),
        action TEXT NOT NULL,
        flatten INTEGER NOT NULL DEFAULT 0,
        created_ms INTEGER NOT NULL,
        acked_ms INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX control_pending ON control(task_id, acked_ms);
    CREATE TABLE task_live (
        task_id TEXT PRIMARY KEY,
        updated_ms INTEGER NOT NULL,
        data TEXT NOT NULL
    );
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)

_TASK_COLUMNS = (
    "task_id, strategy, symbol, mode, config, status, state, created_ms, updated_ms, state_entered_ms, "
    "owner_id, owner_pid, owner_host, heartbeat_ms, version, context, pnl, last_error"
)
_encode = msgspec.json.Encoder().encode
_intent_decoder = msgspec.json.Decoder(OrderIntent)
_fill_decoder = msgspec.json.Decoder(FillRecord)
_funding_decoder = msgspec.json.Decoder(FundingRecord)


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


def _locked(fn):
    """Run a write method under the store's write lock."""
    import functools

    @functools.wraps(fn)
    async def wrapper(self: "Store", *args, **kwargs):
        async with self.write_lock:
            return await fn(self, *args, **kwargs)

    return wrapper


def _task_from_row(row: sqlite3.Row | tuple) -> TaskRecord:
    (task_id, strategy, symbol, mode, config, status, state, created_ms, updated_ms, state_entered_ms,
     owner_id, owner_pid, owner_host, heartbeat_ms, version, context, pnl, last_error) = row
    return TaskRecord(
        task_id=task_id, strategy=strategy, symbol=symbol, mode=mode, config=config,
        status=TaskStatus(status), state=State(state), created_ms=created_ms, updated_ms=updated_ms,
        state_entered_ms=state_entered_ms, owner_id=owner_id, owner_pid=owner_pid, owner_host=owner_host,
        heartbeat_ms=heartbeat_ms, version=version, context=context, pnl=pnl, last_error=last_error,
    )


class Store:
    """Async SQLite store. Create with :meth:`open`; close with :meth:`close`."""

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self._sync_full: bool | None = None
        # One aiosqlite connection serialises statements, but a transaction spans
        # several awaits: this lock keeps two coroutines' transactions apart.
        self.write_lock = asyncio.Lock()

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
            conn = await aiosqlite.connect(str(db_path), isolation_level=None)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open database {db_path}: {exc}") from None
        store = cls(conn, db_path)
        try:
            await store._init()
        except sqlite3.DatabaseError as exc:
            await conn.close()
            raise StoreError(f"database {db_path} is not usable: {exc}") from None
        except StoreError:
            await conn.close()
            raise
        return store

    async def _init(self) -> None:
        c = self._conn
        await c.execute("PRAGMA busy_timeout=10000")
        async with c.execute("PRAGMA user_version") as cur:
            (version,) = await cur.fetchone()
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"database {self.path} has schema version {version}, newer than this program's "
                f"{SCHEMA_VERSION}; upgrade the program (the database was not modified)"
            )
        async with c.execute("PRAGMA quick_check") as cur:
            (result,) = await cur.fetchone()
        if result != "ok":
            raise StoreError(f"database {self.path} failed its integrity check: {result}")
        await c.execute("PRAGMA journal_mode=WAL")
        await c.execute("PRAGMA foreign_keys=ON")
        await self._set_sync(True)
        while version < SCHEMA_VERSION:
            await c.execute("BEGIN IMMEDIATE")
            try:
                # Re-read under the write lock: another process may have migrated this
                # (fresh) file between our first read and now.
                async with c.execute("PRAGMA user_version") as cur:
                    (version,) = await cur.fetchone()
                if version < SCHEMA_VERSION:
                    for statement in _split_sql(MIGRATIONS[version]):
                        await c.execute(statement)
                    version += 1
                    await c.execute(f"PRAGMA user_version={version}")
                await c.execute("COMMIT")
            except BaseException:
                await c.execute("ROLLBACK")
                raise

    async def close(self) -> None:
        await self._conn.close()

    async def _set_sync(self, full: bool) -> None:
        if self._sync_full is not full:
            await self._conn.execute("PRAGMA synchronous=FULL" if full else "PRAGMA synchronous=NORMAL")
            self._sync_full = full

    async def _fetchall(self, sql: str, params: Iterable = ()) -> list[tuple]:
        async with self._conn.execute(sql, tuple(params)) as cur:
            return list(await cur.fetchall())

    # ---- tasks -------------------------------------------------------------

    @_locked
    async def create_task(self, rec: TaskRecord) -> None:
        """Insert a new task (its id must be new)."""
        ts = now_ms()
        rec.created_ms = rec.created_ms or ts
        rec.updated_ms = ts
        await self._set_sync(True)
        await self._conn.execute(
            f"INSERT INTO tasks ({_TASK_COLUMNS}) VALUES ({','.join('?' * 18)})",
            (rec.task_id, rec.strategy, rec.symbol, rec.mode, rec.config, rec.status.value, State(rec.state).value, rec.created_ms, rec.updated_ms, rec.state_entered_ms,
             rec.owner_id, rec.owner_pid, rec.owner_host, rec.heartbeat_ms, rec.version, rec.context, rec.pnl,
             rec.last_error),
        )

    async def get_task(self, task_id: str) -> TaskRecord | None:
        rows = await self._fetchall(f"SELECT {_TASK_COLUMNS} FROM tasks WHERE task_id=?", (task_id,))
        return _task_from_row(rows[0]) if rows else None

    async def list_tasks(self) -> list[TaskRecord]:
        rows = await self._fetchall(f"SELECT {_TASK_COLUMNS} FROM tasks ORDER BY created_ms, task_id")
        return [_task_from_row(r) for r in rows]

    @_locked
    async def set_status(self, task_id: str, status: TaskStatus, reason: str = "",
                         owner_id: str | None = None) -> None:
        """Set a task's status and journal it (src == dst == current state).

        With ``owner_id`` the update is fenced by the lease (raises LeaseLost).
        """
        ts = now_ms()
        await self._set_sync(True)
        await self._conn.execute("BEGIN IMMEDIATE")
        try:
            sql = "UPDATE tasks SET status=?, updated_ms=? WHERE task_id=?"
            params: list = [status.value, ts, task_id]
            if owner_id is not None:
                sql += " AND owner_id=?"
                params.append(owner_id)
            cur = await self._conn.execute(sql, params)
            if cur.rowcount != 1:
                raise LeaseLost(f"task {task_id}: not updated (lease lost or unknown task)")
            rows = await self._fetchall("SELECT state, version FROM tasks WHERE task_id=?", (task_id,))
            state, version = rows[0]
            await self._conn.execute(
                "INSERT INTO transitions (task_id, version, ts_ms, src, dst, trigger, reason) VALUES (?,?,?,?,?,?,?)",
                (task_id, version, ts, state, state, f"status:{status.value}", reason),
            )
            await self._conn.execute("COMMIT")
        except BaseException:
            await self._conn.execute("ROLLBACK")
            raise

    @_locked
    async def set_error(self, task_id: str, text: str) -> None:
        """Record the last error shown in listings (not fenced; informational)."""
        await self._conn.execute("UPDATE tasks SET last_error=?, updated_ms=? WHERE task_id=?",
                                 (text[-2000:], now_ms(), task_id))

    @_locked
    async def journal(self, task_id: str, trigger: str, reason: str) -> None:
        """Append a free-form journal row (e.g. a traceback) at the current state."""
        rows = await self._fetchall("SELECT state, version FROM tasks WHERE task_id=?", (task_id,))
        if not rows:
            return
        state, version = rows[0]
        await self._conn.execute(
            "INSERT INTO transitions (task_id, version, ts_ms, src, dst, trigger, reason) VALUES (?,?,?,?,?,?,?)",
            (task_id, version, now_ms(), state, state, trigger, reason),
        )

    # ---- the FSM commit ----------------------------------------------------

    @_locked
    async def commit_step(
        self,
        task_id: str,
        owner_id: str,
        *,
        state: str,
        state_entered_ms: int,
        context_json: str,
        pnl_json: str,
        status: TaskStatus | None = None,
        transition: TransitionRecord | None = None,
        new_intents: Iterable[OrderIntent] = (),
        intent_updates: Iterable[OrderIntent] = (),
        fills: Iterable[FillRecord] = (),
        funding: Iterable[FundingRecord] = (),
        durable: bool = True,
        last_error: str | None = None,
        ack_controls: Iterable[int] = (),
    ) -> int:
        """Commit one FSM step atomically; returns the task's new version.

        Writes the checkpoint (state, context, PnL, status), the journal row,
        new intents (a duplicate client order id raises ``sqlite3.IntegrityError``
        and nothing is committed), intent updates, fills and funding (both
        idempotent), and acknowledges the control requests ``ack_controls``
        whose effect this step makes durable. Raises LeaseLost when
        ``owner_id`` does not hold the lease.
        """
        ts = now_ms()
        sql = ("UPDATE tasks SET state=?, state_entered_ms=?, context=?, pnl=?, updated_ms=?, "
               "version=version+1")
        params: list = [state, state_entered_ms, context_json, pnl_json, ts]
        if status is not None:
            sql += ", status=?"
            params.append(status.value)
        if last_error is not None:
            sql += ", last_error=?"
            params.append(last_error[-2000:])
        sql += " WHERE task_id=? AND owner_id=? RETURNING version"
        params += [task_id, owner_id]
        journal = None
        if transition is not None:
            journal = [task_id, None, transition.ts_ms or ts, transition.src, transition.dst, transition.trigger,
                       transition.reason]
        rows = _StepRows(
            new_intents=[(i.client_order_id, task_id, i.seq, i.status.value, ts, _encode(i).decode())
                         for i in new_intents],
            updates=[(i.status.value, ts, _encode(i).decode(), i.client_order_id, task_id) for i in intent_updates],
            fills=[(task_id, f.venue.value, f.trade_id, f.client_order_id, f.ts_ms, _encode(f).decode())
                   for f in fills],
            funding=[(task_id, f.venue.value, f.ts_ms, _encode(f).decode()) for f in funding],
            acks=[(ts, int(cid), task_id) for cid in ack_controls],
        )
        # The whole transaction runs in ONE call on the connection's thread: a step costs one
        # thread hop instead of one per statement (the hot path commits twice per reaction).
        version = await self._conn._execute(self._commit_step_sync, durable, sql, params, journal, rows)
        if version is None:
            raise LeaseLost(f"task {task_id}: lease is not held by {owner_id}")
        return version

    def _commit_step_sync(self, durable: bool, sql: str, params: list, journal: list | None,
                          rows: "_StepRows") -> int | None:
        """Body of :meth:`commit_step`, run on the aiosqlite thread (plain sqlite3 calls).
        Returns the new version, or None (rolled back) when the lease is not held."""
        db = self._conn._conn
        if self._sync_full is not durable:
            db.execute("PRAGMA synchronous=FULL" if durable else "PRAGMA synchronous=NORMAL")
            self._sync_full = durable
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute(sql, params).fetchone()
            if row is None:
                db.execute("ROLLBACK")
                return None
            (version,) = row
            if journal is not None:
                journal[1] = version
                db.execute("INSERT INTO transitions (task_id, version, ts_ms, src, dst, trigger, reason) "
                           "VALUES (?,?,?,?,?,?,?)", journal)
            if rows.new_intents:
                db.executemany("INSERT INTO order_intents (client_order_id, task_id, seq, status, updated_ms, data) "
                               "VALUES (?,?,?,?,?,?)", rows.new_intents)
            if rows.updates:
                db.executemany("UPDATE order_intents SET status=?, updated_ms=?, data=? "
                               "WHERE client_order_id=? AND task_id=?", rows.updates)
            if rows.fills:
                db.executemany("INSERT OR IGNORE INTO fills (task_id, venue, trade_id, client_order_id, ts_ms, data) "
                               "VALUES (?,?,?,?,?,?)", rows.fills)
            if rows.funding:
                db.executemany("INSERT OR IGNORE INTO funding (task_id, venue, ts_ms, data) VALUES (?,?,?,?)",
                               rows.funding)
            if rows.acks:
                db.executemany("UPDATE control SET acked_ms=? WHERE id=? AND task_id=?", rows.acks)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return version

    # ---- reads -------------------------------------------------------------

    async def intents(self, task_id: str, unresolved_only: bool = False) -> list[OrderIntent]:
        """Order intents of a task by sequence; ``unresolved_only`` skips final ones."""
        rows = await self._fetchall("SELECT data FROM order_intents WHERE task_id=? ORDER BY seq", (task_id,))
        out = [_intent_decoder.decode(r[0]) for r in rows]
        if unresolved_only:
            out = [i for i in out if not i.status.is_final]
        return out

    async def fills(self, task_id: str) -> list[FillRecord]:
        rows = await self._fetchall("SELECT data FROM fills WHERE task_id=? ORDER BY ts_ms, trade_id", (task_id,))
        return [_fill_decoder.decode(r[0]) for r in rows]

    async def funding(self, task_id: str) -> list[FundingRecord]:
        rows = await self._fetchall("SELECT data FROM funding WHERE task_id=? ORDER BY ts_ms", (task_id,))
        return [_funding_decoder.decode(r[0]) for r in rows]

    async def transitions(self, task_id: str, limit: int | None = None) -> list[TransitionRecord]:
        """Journal rows of a task, oldest first (the newest ``limit`` when given)."""
        sql = "SELECT task_id, version, ts_ms, src, dst, trigger, reason FROM transitions WHERE task_id=?"
        if limit is not None:
            sql = f"SELECT * FROM ({sql} ORDER BY id DESC LIMIT {int(limit)}) ORDER BY ts_ms"
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

    @_locked
    async def acquire_lease(self, task_id: str, owner_id: str, pid: int, host: str, ttl_s: float,
                            force: bool = False) -> bool:
        """Take the task's lease if free, already ours, expired, or ``force``.

        Returns True when ``owner_id`` now holds it.
        """
        ts = now_ms()
        expired_before = ts - int(ttl_s * 1000)
        await self._set_sync(True)
        sql = ("UPDATE tasks SET owner_id=?, owner_pid=?, owner_host=?, heartbeat_ms=?, updated_ms=? "
               "WHERE task_id=?")
        params: list = [owner_id, pid, host, ts, ts, task_id]
        if not force:
            sql += " AND (owner_id IS NULL OR owner_id=? OR heartbeat_ms < ?)"
            params += [owner_id, expired_before]
        cur = await self._conn.execute(sql, params)
        return cur.rowcount == 1

    @_locked
    async def heartbeat(self, task_id: str, owner_id: str) -> bool:
        """Refresh the lease; False when it is no longer ours."""
        await self._set_sync(False)
        cur = await self._conn.execute(
            "UPDATE tasks SET heartbeat_ms=? WHERE task_id=? AND owner_id=?", (now_ms(), task_id, owner_id))
        return cur.rowcount == 1

    @_locked
    async def release_lease(self, task_id: str, owner_id: str) -> None:
        await self._set_sync(True)
        await self._conn.execute(
            "UPDATE tasks SET owner_id=NULL, owner_pid=NULL, owner_host=NULL, heartbeat_ms=0 "
            "WHERE task_id=? AND owner_id=?", (task_id, owner_id))

    # ---- control requests --------------------------------------------------

    @_locked
    async def request_control(self, task_id: str, action: str, flatten: bool = False) -> int:
        """Queue a ``stop``/``pause`` request for the task's owner; returns its id."""
        if action not in ("stop", "pause"):
            raise ValueError(f"unknown control action {action!r}")
        await self._set_sync(True)
        cur = await self._conn.execute(
            "INSERT INTO control (task_id, action, flatten, created_ms) VALUES (?,?,?,?)",
            (task_id, action, int(flatten), now_ms()))
        return int(cur.lastrowid)

    async def pending_controls(self, task_id: str) -> list[ControlRequest]:
        rows = await self._fetchall(
            "SELECT id, task_id, action, flatten, created_ms, acked_ms FROM control "
            "WHERE task_id=? AND acked_ms=0 ORDER BY id", (task_id,))
        return [ControlRequest(id=r[0], task_id=r[1], action=r[2], flatten=bool(r[3]), created_ms=r[4],
                               acked_ms=r[5]) for r in rows]

    @_locked
    async def ack_control(self, control_id: int) -> None:
        await self._conn.execute("UPDATE control SET acked_ms=? WHERE id=?", (now_ms(), control_id))

    async def control(self, control_id: int) -> ControlRequest | None:
        rows = await self._fetchall(
            "SELECT id, task_id, action, flatten, created_ms, acked_ms FROM control WHERE id=?", (control_id,))
        if not rows:
            return None
        r = rows[0]
        return ControlRequest(id=r[0], task_id=r[1], action=r[2], flatten=bool(r[3]), created_ms=r[4],
                              acked_ms=r[5])

    # ---- live telemetry (dashboard) ----------------------------------------

    @_locked
    async def put_live(self, task_id: str, json_text: str) -> None:
        """Upsert the task's dashboard telemetry (not fsynced: it is derivable)."""
        await self._set_sync(False)
        await self._conn.execute(
            "INSERT INTO task_live (task_id, updated_ms, data) VALUES (?,?,?) "
            "ON CONFLICT(task_id) DO UPDATE SET updated_ms=excluded.updated_ms, data=excluded.data",
            (task_id, now_ms(), json_text))

    async def get_live(self) -> dict[str, str]:
        rows = await self._fetchall("SELECT task_id, data FROM task_live")
        return {r[0]: r[1] for r in rows}


class _StepRows(msgspec.Struct):
    """Rows of one FSM step, prepared on the event loop for :meth:`Store._commit_step_sync`."""

    new_intents: list[tuple]
    updates: list[tuple]
    fills: list[tuple]
    funding: list[tuple]
    acks: list[tuple]


def _split_sql(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


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
