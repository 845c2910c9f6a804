"""The PostgreSQL store (:class:`state.api.TaskStore`): the tasks of several hosts in one database.

Connections (asyncpg, public API only): one for step groups and heartbeats (serialized, so the
rows of this process's tasks are never locked by two of its own transactions), a small pool for
reads and the other writes, and, once someone subscribes, one that LISTENs for control requests
and runnable tasks (``NOTIFY`` is sent in the same transaction as the row it announces, so it
arrives after that row is visible). Time: leases and heartbeats use the server's clock
(``arb_now_ms()``); the other ``*_ms`` columns keep the writing host's clock, as on SQLite.

The password (URL, ``$PGPASSWORD`` or ``~/.pgpass``, read by asyncpg) is never kept in a message:
errors are one line with the URL's password removed (:func:`state.opener.redact_url`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import msgspec

from exchanges.clock import now_ms
from state.api import RUNNABLE_STATUSES, Backend, Claim, Notice
from state.errors import IntegrityViolation, LeaseLost, StoreError, StoreUnavailable
from state.opener import redact_url
from state.pg import history
from state.pg.commit import RETRY_SQLSTATES, PgGroupCommitter, build_pg_step
from state.pg.schema import PG_MIGRATIONS, PG_SCHEMA_VERSION
from state.records import ControlRequest, FillRecord, FundingRecord, OrderIntent, State, TaskRecord, TaskStatus, \
    TransitionRecord

log = logging.getLogger("state.pg")

_TASK_COLUMNS = ("task_id, strategy, symbol, mode, config, status, state, created_ms, updated_ms, state_entered_ms, "
                 "owner_id, owner_pid, owner_host, heartbeat_ms, version, context, pnl, last_error, duration_s, "
                 "started_ms")
_T_COLUMNS = ", ".join("t." + c.strip() for c in _TASK_COLUMNS.split(","))
_CHANNELS = {Notice.CONTROL: "arb_control", Notice.TASK: "arb_task"}
#: pg_advisory_xact_lock key held while migrating (two processes opening a fresh database at once)
_MIGRATION_LOCK = 0x6172625F736368  # "arb_sch"
CONNECT_TIMEOUT_S = 10.0
POOL_MAX = 4
_intent_decoder = msgspec.json.Decoder(OrderIntent)
_fill_decoder = msgspec.json.Decoder(FillRecord)
_funding_decoder = msgspec.json.Decoder(FundingRecord)
_results_decoder = msgspec.json.Decoder(list[list[Any]])
_DB_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, asyncio.TimeoutError)
#: the server cannot be reached or is going away (as opposed to a refused statement)
_GONE = (asyncpg.PostgresConnectionError, asyncpg.exceptions.OperatorInterventionError, asyncpg.InterfaceError,
         OSError, asyncio.TimeoutError)


def _task(row: Any) -> TaskRecord:
    return TaskRecord(
        task_id=row["task_id"], strategy=row["strategy"], symbol=row["symbol"], mode=row["mode"], config=row["config"],
        status=TaskStatus(row["status"]), state=State(row["state"]), created_ms=row["created_ms"],
        updated_ms=row["updated_ms"], state_entered_ms=row["state_entered_ms"], owner_id=row["owner_id"],
        owner_pid=row["owner_pid"], owner_host=row["owner_host"], heartbeat_ms=row["heartbeat_ms"],
        version=row["version"], context=row["context"], pnl=row["pnl"], last_error=row["last_error"],
        duration_s=float(row["duration_s"]), started_ms=row["started_ms"],
    )


def _control(row: Any) -> ControlRequest:
    return ControlRequest(id=row["id"], task_id=row["task_id"], action=row["action"], flatten=bool(row["flatten"]),
                          created_ms=row["created_ms"], acked_ms=row["acked_ms"])


def db_error(exc: BaseException, url: str, what: str) -> StoreError:
    """A driver or connection error as StoreUnavailable (server unreachable) or StoreError (one line)."""
    text = f"PostgreSQL {redact_url(url)}: {what}{one_line(exc, url)}"
    return StoreUnavailable(text) if isinstance(exc, _GONE) else StoreError(text)


def one_line(exc: BaseException, url: str) -> str:
    """``exc`` as one line without the URL's password."""
    text = " ".join((str(exc) or type(exc).__name__).split())
    password = urlsplit(url).password
    return text.replace(password, "***") if password else text


class PgStore:
    """Async PostgreSQL store. Create with :meth:`open`; close with :meth:`close`."""

    backend = Backend.POSTGRESQL

    def __init__(self, url: str, conn: Any, pool: Any) -> None:
        self._url = url
        self.display = redact_url(url)
        self._conn = conn
        self._conn_lock = asyncio.Lock()
        self._pool = pool
        self._committer = PgGroupCommitter(self._run_group, _retryable)
        self._listener: Any = None
        self._listener_task: asyncio.Task[None] | None = None
        self._subscribers: dict[Notice, list[Callable[[str], None]]] = {}
        self._listen_lock = asyncio.Lock()
        self._closing = False

    # ---- lifecycle ------------------------------------------------------------------------------

    @classmethod
    async def open(cls, url: str) -> "PgStore":
        """Connect, refuse a newer schema (untouched), migrate forward. Raises StoreError (one line)."""
        conn = await _connect(url)
        try:
            await _migrate(conn, redact_url(url))
            # min_size 0: connections are made on demand, so an outage surfaces in the caller (as
            # StoreUnavailable) instead of in a background reconnect loop
            pool = await asyncpg.create_pool(url, min_size=0, max_size=POOL_MAX, timeout=CONNECT_TIMEOUT_S,
                                             server_settings={"application_name": "arb-runner"})
        except StoreError:
            await conn.close()
            raise
        except _DB_ERRORS as exc:
            await conn.close()
            raise StoreError(f"PostgreSQL database {redact_url(url)} is not usable: {one_line(exc, url)}") from None
        return cls(url, conn, pool)

    async def close(self) -> None:
        """Wait for queued step commits, then close every connection."""
        await self._committer.drain()
        self._committer.close()
        self._closing = True
        if self._listener_task is not None:
            self._listener_task.cancel()
            with contextlib.suppress(BaseException):
                await self._listener_task
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close(timeout=5)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._pool.close(), timeout=5)
        with contextlib.suppress(Exception):
            await self._conn.close(timeout=5)

    async def checkpoint_wal(self) -> tuple[int, int]:
        """Nothing to do: the server manages its WAL. Returns (-1, -1)."""
        return (-1, -1)

    @property
    def commit_stats(self) -> dict[str, int]:
        c = self._committer
        return {"groups": c.groups, "steps": c.steps, "max_group": c.max_group}

    async def now_ms(self) -> int:
        """The server's clock (epoch ms)."""
        return int(await self._q("fetchval", "SELECT arb_now_ms()"))

    # ---- statements -----------------------------------------------------------------------------

    async def _q(self, method: str, sql: str, *args: Any) -> Any:
        """``pool.<method>(sql, *args)``; driver and connection errors -> StoreError (one line)."""
        try:
            return await getattr(self._pool, method)(sql, *args)
        except asyncpg.UniqueViolationError as exc:
            raise IntegrityViolation(one_line(exc, self._url)) from None
        except _DB_ERRORS as exc:
            raise db_error(exc, self._url, "") from None

    async def _on_commit_conn(self, method: str, sql: str, *args: Any) -> Any:
        """Run one statement on the commit connection (reconnecting once if it was lost)."""
        async with self._conn_lock:
            if self._conn.is_closed():
                self._conn = await _connect(self._url)
            return await getattr(self._conn, method)(sql, *args)

    async def _run_group(self, payload: str, durable: bool) -> list[Any]:
        try:
            text = await self._on_commit_conn("fetchval", "SELECT arb_commit_steps($1::jsonb, $2)", payload, durable)
        except _DB_ERRORS as exc:
            if _retryable(exc):
                raise
            raise db_error(exc, self._url, "step group failed: ") from None
        return _results_decoder.decode(text)

    # ---- tasks ----------------------------------------------------------------------------------

    async def create_task(self, rec: TaskRecord) -> None:
        """Insert a new task (its id must be new) and announce it to workers (Notice.TASK)."""
        ts = now_ms()
        rec.created_ms = rec.created_ms or ts
        rec.updated_ms = ts
        await self._q(
            "execute",
            f"WITH ins AS (INSERT INTO tasks ({_TASK_COLUMNS}) VALUES "
            "($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20) RETURNING task_id) "
            "SELECT pg_notify('arb_task', task_id) FROM ins",
            rec.task_id, rec.strategy, rec.symbol, rec.mode, rec.config, rec.status.value, State(rec.state).value,
            rec.created_ms, rec.updated_ms, rec.state_entered_ms, rec.owner_id, rec.owner_pid, rec.owner_host,
            rec.heartbeat_ms, rec.version, rec.context, rec.pnl, rec.last_error, float(rec.duration_s),
            rec.started_ms)

    async def get_task(self, task_id: str) -> TaskRecord | None:
        row = await self._q("fetchrow", f"SELECT {_TASK_COLUMNS} FROM tasks WHERE task_id=$1", task_id)
        return _task(row) if row is not None else None

    async def list_tasks(self) -> list[TaskRecord]:
        rows = await self._q("fetch", f"SELECT {_TASK_COLUMNS} FROM tasks ORDER BY created_ms, task_id")
        return [_task(r) for r in rows]

    async def set_status(self, task_id: str, status: TaskStatus, reason: str = "",
                         owner_id: str | None = None) -> None:
        """Set a task's status and journal it (src == dst == current state); fenced by ``owner_id``."""
        row = await self._q(
            "fetchrow",
            "WITH u AS (UPDATE tasks SET status=$2, updated_ms=$3 WHERE task_id=$1 AND ($4::text IS NULL "
            "OR owner_id=$4) RETURNING task_id, state, version) INSERT INTO transitions (task_id, version, ts_ms, "
            "src, dst, trigger, reason) SELECT task_id, version, $3, state, state, $5, $6 FROM u RETURNING id",
            task_id, status.value, now_ms(), owner_id, f"status:{status.value}", reason)
        if row is None:
            raise LeaseLost(f"task {task_id}: not updated (lease lost or unknown task)")

    async def set_error(self, task_id: str, text: str) -> None:
        await self._q("execute", "UPDATE tasks SET last_error=$1, updated_ms=$2 WHERE task_id=$3",
                      text[-2000:], now_ms(), task_id)

    async def journal(self, task_id: str, trigger: str, reason: str) -> None:
        await self._q("execute", "INSERT INTO transitions (task_id, version, ts_ms, src, dst, trigger, reason) "
                      "SELECT task_id, version, $1, state, state, $2, $3 FROM tasks WHERE task_id=$4",
                      now_ms(), trigger, reason, task_id)

    # ---- the FSM commit -------------------------------------------------------------------------

    async def commit_step(self, task_id: str, owner_id: str, **fields: Any) -> int:
        """One FSM step, group-committed (state/pg/commit.py); same fields and errors as
        :meth:`state.store.Store.commit_step` (a duplicate client order id raises IntegrityViolation)."""
        return await self._committer.submit(build_pg_step(task_id, owner_id, **fields))

    def commit_step_nowait(self, task_id: str, owner_id: str, **fields: Any) -> asyncio.Future[int]:
        """Write-behind :meth:`commit_step`; the caller must consume the future's exception."""
        return self._committer.submit_nowait(build_pg_step(task_id, owner_id, **fields))

    # ---- reads ----------------------------------------------------------------------------------

    async def intents(self, task_id: str, unresolved_only: bool = False) -> list[OrderIntent]:
        rows = await self._q("fetch", "SELECT data FROM order_intents WHERE task_id=$1 ORDER BY seq", task_id)
        out = [_intent_decoder.decode(r["data"]) for r in rows]
        return [i for i in out if not i.status.is_final] if unresolved_only else out

    async def fills(self, task_id: str) -> list[FillRecord]:
        """In booking order."""
        rows = await self._q("fetch", "SELECT data FROM fills WHERE task_id=$1 ORDER BY id", task_id)
        return [_fill_decoder.decode(r["data"]) for r in rows]

    async def funding(self, task_id: str) -> list[FundingRecord]:
        rows = await self._q("fetch", "SELECT data FROM funding WHERE task_id=$1 ORDER BY ts_ms", task_id)
        return [_funding_decoder.decode(r["data"]) for r in rows]

    async def transitions(self, task_id: str, limit: int | None = None) -> list[TransitionRecord]:
        cols = "task_id, version, ts_ms, src, dst, trigger, reason"
        if limit is not None:
            rows = await self._q("fetch", f"SELECT * FROM (SELECT id, {cols} FROM transitions WHERE task_id=$1 "
                                 "ORDER BY id DESC LIMIT $2) t ORDER BY ts_ms, id", task_id, int(limit))
        else:
            rows = await self._q("fetch", f"SELECT {cols} FROM transitions WHERE task_id=$1 ORDER BY id", task_id)
        return [_transition(r) for r in rows]

    async def recent_transitions(self, limit: int = 10) -> list[TransitionRecord]:
        rows = await self._q("fetch", "SELECT task_id, version, ts_ms, src, dst, trigger, reason FROM transitions "
                             "ORDER BY id DESC LIMIT $1", int(limit))
        return [_transition(r) for r in reversed(rows)]

    # ---- leases ---------------------------------------------------------------------------------

    async def acquire_lease(self, task_id: str, owner_id: str, pid: int, host: str, ttl_s: float,
                            take_from: tuple[str | None, int] | None = None) -> bool:
        """Take the lease (see :meth:`state.store.Store.acquire_lease`); expiry on the server's clock."""
        sql = ("UPDATE tasks SET owner_id=$2, owner_pid=$3, owner_host=$4, heartbeat_ms=arb_now_ms(), updated_ms=$5, "
               "started_ms=CASE WHEN started_ms=0 THEN arb_now_ms() ELSE started_ms END WHERE task_id=$1 ")
        args: list[Any] = [task_id, owner_id, pid, host, now_ms()]
        if take_from is None:
            sql += "AND (owner_id IS NULL OR owner_id=$2 OR heartbeat_ms < arb_now_ms() - $6)"
            args.append(int(ttl_s * 1000))
        else:
            sql += "AND owner_id IS NOT DISTINCT FROM $6 AND heartbeat_ms=$7"
            args += [take_from[0], int(take_from[1])]
        return bool(await self._q("fetchval", sql + " RETURNING true", *args))

    async def heartbeat(self, task_id: str, owner_id: str) -> bool:
        return task_id in await self.heartbeat_many([task_id], owner_id)

    async def heartbeat_many(self, task_ids: Iterable[str], owner_id: str) -> set[str]:
        """Refresh leases in ONE statement (server clock, not flushed); returns the ids still ours."""
        ids = list(task_ids)
        if not ids:
            return set()
        try:
            rows = await self._on_commit_conn("fetch", "SELECT arb_heartbeat($1, $2::text[]) AS task_id", owner_id, ids)
        except _DB_ERRORS as exc:
            raise db_error(exc, self._url, "heartbeat failed: ") from None
        return {r["task_id"] for r in rows}

    async def release_lease(self, task_id: str, owner_id: str) -> None:
        """Give the lease up and announce the task as runnable (Notice.TASK)."""
        await self._q("execute", "WITH r AS (UPDATE tasks SET owner_id=NULL, owner_pid=NULL, owner_host=NULL, "
                      "heartbeat_ms=0 WHERE task_id=$1 AND owner_id=$2 RETURNING task_id) "
                      "SELECT pg_notify('arb_task', task_id) FROM r", task_id, owner_id)

    async def claim_tasks(self, owner_id: str, pid: int, host: str, ttl_s: float, limit: int,
                          modes: Iterable[str]) -> list[Claim]:
        """Up to ``limit`` runnable tasks without a live lease, oldest first, in ONE statement:
        ``SELECT ... FOR UPDATE SKIP LOCKED`` (rows another transaction holds are skipped, never
        waited for) then the UPDATE that takes them, expiry judged on the server's clock."""
        mode_list = list(modes)
        if limit <= 0 or not mode_list:
            return []
        rows = await self._q(
            "fetch",
            "WITH c AS (SELECT task_id, owner_id AS prev_owner, owner_host AS prev_host FROM tasks "
            "WHERE status = ANY($5::text[]) AND mode = ANY($6::text[]) "
            "AND (owner_id IS NULL OR heartbeat_ms < arb_now_ms() - $7) "
            "ORDER BY created_ms, task_id LIMIT $8 FOR UPDATE SKIP LOCKED) "
            "UPDATE tasks t SET owner_id=$1, owner_pid=$2, owner_host=$3, heartbeat_ms=arb_now_ms(), updated_ms=$4, "
            "started_ms=CASE WHEN t.started_ms=0 THEN arb_now_ms() ELSE t.started_ms END FROM c "
            f"WHERE t.task_id=c.task_id RETURNING {_T_COLUMNS}, c.prev_owner, c.prev_host",
            owner_id, pid, host, now_ms(), [s.value for s in RUNNABLE_STATUSES], mode_list, int(ttl_s * 1000),
            int(limit))
        claims = [Claim(record=_task(r), previous_owner=r["prev_owner"], previous_host=r["prev_host"]) for r in rows]
        return sorted(claims, key=lambda c: (c.record.created_ms, c.record.task_id))

    # ---- control requests -----------------------------------------------------------------------

    async def request_control(self, task_id: str, action: str, flatten: bool = False) -> int:
        """Queue a ``stop``/``pause`` request and wake the owner (NOTIFY, sent at commit)."""
        if action not in ("stop", "pause"):
            raise ValueError(f"unknown control action {action!r}")
        row = await self._q("fetchrow", "WITH ins AS (INSERT INTO control (task_id, action, flatten, created_ms) "
                            "VALUES ($1,$2,$3,$4) RETURNING id, task_id) "
                            "SELECT id, pg_notify('arb_control', task_id) FROM ins",
                            task_id, action, int(flatten), now_ms())
        return int(row["id"])

    async def pending_controls(self, task_id: str) -> list[ControlRequest]:
        return await self.pending_controls_many([task_id])

    async def pending_controls_many(self, task_ids: Iterable[str]) -> list[ControlRequest]:
        ids = list(task_ids)
        if not ids:
            return []
        rows = await self._q("fetch", "SELECT id, task_id, action, flatten, created_ms, acked_ms FROM control "
                             "WHERE task_id = ANY($1::text[]) AND acked_ms=0 ORDER BY id", ids)
        return [_control(r) for r in rows]

    async def ack_control(self, control_id: int) -> None:
        await self._q("execute", "UPDATE control SET acked_ms=$1 WHERE id=$2", now_ms(), int(control_id))

    async def control(self, control_id: int) -> ControlRequest | None:
        row = await self._q("fetchrow", "SELECT id, task_id, action, flatten, created_ms, acked_ms FROM control "
                            "WHERE id=$1", int(control_id))
        return _control(row) if row is not None else None

    async def subscribe(self, notice: Notice, callback: Callable[[str], None]) -> bool:
        """LISTEN for ``notice``: ``callback(task_id)`` runs on this loop for each one. After the
        listening connection was lost and re-established, every callback gets ``""`` once (anything
        may have been missed meanwhile: poll)."""
        self._subscribers.setdefault(notice, []).append(callback)
        async with self._listen_lock:
            if self._listener is None and self._listener_task is None:
                self._listener = await self._listen()
        return True

    async def _listen(self) -> Any:
        conn = await _connect(self._url)
        for notice, channel in _CHANNELS.items():
            await conn.add_listener(channel, self._on_notification)
        conn.add_termination_listener(self._on_listener_lost)
        return conn

    def _on_notification(self, _conn: Any, _pid: int, channel: str, payload: str) -> None:
        for notice, name in _CHANNELS.items():
            if name == channel:
                self._notify(notice, payload)

    def _notify(self, notice: Notice, payload: str) -> None:
        for callback in list(self._subscribers.get(notice, ())):
            try:
                callback(payload)
            except Exception:  # a subscriber's bug must not stop the others
                log.exception("notification callback failed")

    def _on_listener_lost(self, _conn: Any) -> None:
        self._listener = None
        if not self._closing and self._listener_task is None:
            self._listener_task = asyncio.get_running_loop().create_task(self._relisten(), name="pg-relisten")

    async def _relisten(self) -> None:
        delay_s = 0.5
        try:
            while not self._closing:
                try:
                    async with self._listen_lock:
                        self._listener = await self._listen()
                except StoreError as exc:
                    log.warning("notifications: %s; retrying in %.1f s", exc, delay_s)
                    await asyncio.sleep(delay_s)
                    delay_s = min(delay_s * 2, 10.0)
                    continue
                log.info("notifications: listening again")
                for notice in list(self._subscribers):
                    self._notify(notice, "")
                return
        finally:
            self._listener_task = None

    # ---- telemetry ------------------------------------------------------------------------------

    async def put_live(self, task_id: str, json_text: str) -> None:
        await self.put_live_many([(task_id, json_text)])

    async def put_live_many(self, items: Iterable[tuple[str, str]]) -> None:
        """Upsert ``(task_id, json_text)`` telemetry rows in ONE statement (not flushed)."""
        rows = list(items)
        if rows:
            await self._q("execute", "SELECT arb_put_live($1::text[], $2, $3::text[])", [r[0] for r in rows],
                          now_ms(), [r[1] for r in rows])

    async def get_live(self) -> dict[str, str]:
        rows = await self._q("fetch", "SELECT task_id, data FROM task_live")
        return {r["task_id"]: r["data"] for r in rows}


    # ---- history and pruning (state/pg/history.py) -------------------------------------------------

    async def _tx(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(connection, *args)`` on a pooled connection; driver errors -> StoreError (one line)."""
        try:
            async with self._pool.acquire() as conn:
                return await fn(conn, *args)
        except _DB_ERRORS as exc:
            raise db_error(exc, self._url, "") from None

    async def append_history(self, rows: Iterable[tuple[str, int, str]], check_ids: Iterable[str] = ()) -> int:
        """Append ``(task_id, ts_ms, json)`` samples; retention: :func:`state.pg.history.append`."""
        return int(await self._tx(history.append, list(rows), list(check_ids)))

    async def history(self, task_id: str, since_ms: int = 0, limit: int | None = None) -> list[tuple[int, str]]:
        """``(ts_ms, json)`` samples of a task from ``since_ms``, oldest first (the newest ``limit``)."""
        if limit is None:
            rows = await self._q("fetch", history.ROWS_SQL, task_id, since_ms)
        else:
            rows = (await self._q("fetch", history.NEWEST_ROWS_SQL, task_id, since_ms, int(limit)))[::-1]
        return [(int(r["ts_ms"]), r["data"]) for r in rows]

    async def finished_tasks_before(self, before_ms: int) -> list[tuple[str, str, int]]:
        sql, terminal = history.finished_before_sql()
        rows = await self._q("fetch", sql, *terminal, before_ms)
        return [(r["task_id"], r["status"], int(r["updated_ms"])) for r in rows]

    async def delete_tasks(self, task_ids: Iterable[str]) -> int:
        """Delete finished tasks with all their rows (``tasks prune``); returns how many."""
        return int(await self._tx(history.delete_tasks, list(task_ids)))


def _transition(r: Any) -> TransitionRecord:
    return TransitionRecord(task_id=r["task_id"], version=r["version"], ts_ms=r["ts_ms"], src=r["src"], dst=r["dst"],
                            trigger=r["trigger"], reason=r["reason"])


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, asyncpg.PostgresError) and getattr(exc, "sqlstate", "") in RETRY_SQLSTATES


async def _connect(url: str) -> Any:
    """One connection; every failure is a StoreError naming the server (never the password)."""
    where = redact_url(url)
    try:
        return await asyncpg.connect(url, timeout=CONNECT_TIMEOUT_S,
                                     server_settings={"application_name": "arb-runner"})
    except ValueError as exc:
        raise StoreError(f"invalid PostgreSQL URL {where}: {one_line(exc, url)}") from None
    except _DB_ERRORS as exc:
        error = StoreUnavailable if isinstance(exc, _GONE) else StoreError
        raise error(f"cannot connect to PostgreSQL {where}: {one_line(exc, url)}") from None


async def _migrate(conn: Any, where: str) -> None:
    """Refuse a newer schema before touching anything; run the missing migrations, each in its own
    transaction under an advisory lock (re-reading the version under it)."""
    version = await _schema_version(conn)
    while True:
        if version > PG_SCHEMA_VERSION:
            raise StoreError(f"database {where} has schema version {version}, newer than this program's "
                             f"{PG_SCHEMA_VERSION}; upgrade the program (the database was not modified)")
        if version == PG_SCHEMA_VERSION:
            return
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            await conn.execute("CREATE TABLE IF NOT EXISTS arb_schema (version INTEGER NOT NULL)")
            current = await conn.fetchval("SELECT version FROM arb_schema")
            if current is None:
                await conn.execute("INSERT INTO arb_schema (version) VALUES (0)")
                current = 0
            if current < PG_SCHEMA_VERSION:
                await conn.execute(PG_MIGRATIONS[current])
                await conn.execute("UPDATE arb_schema SET version=$1", current + 1)
                current += 1
        version = current


async def _schema_version(conn: Any) -> int:
    if await conn.fetchval("SELECT to_regclass('arb_schema') IS NOT NULL"):
        value = await conn.fetchval("SELECT version FROM arb_schema")
        return int(value or 0)
    return 0


__all__ = ["PgStore", "one_line"]
