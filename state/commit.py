"""Group commit of FSM steps (used by :meth:`state.store.Store.commit_step`).

One FSM step = one checkpoint UPDATE fenced by the lease + journal row + new order intents + intent
updates + fills + funding + control acks. Steps of many tasks share one SQLite connection; when
N tasks react to the same book update, committing each step in its own transaction costs N serial
fsyncs. The :class:`GroupCommitter` therefore commits steps in groups:

* the first step submitted while no group is in flight goes at once (to the SQLite thread), or
  -- inline mode, below -- at the end of the current loop iteration: a lone task pays exactly
  one transaction;
* steps submitted while a group is in flight queue up and go together as the next group, ONE
  ``BEGIN IMMEDIATE ... COMMIT`` (``synchronous=FULL`` when any step of the group is durable);
* inside the group each step runs in its own ``SAVEPOINT``: a step whose lease fence fails
  (:class:`LeaseLost`) or that violates a constraint (duplicate client order id:
  ``sqlite3.IntegrityError``) is rolled back alone and its exception is raised in its own caller
  only; the others commit;
* each caller's ``await`` returns only after the COMMIT of its group (intent before effect).
  If the COMMIT itself fails (I/O error), every step of the group gets that exception;
* write-behind (:meth:`GroupCommitter.submit_nowait`): a step whose caller need not wait (a bare
  FSM transition that the task's next handler follows at once) is queued and dispatched on the
  next loop iteration, so a step submitted in the same loop turn (the next handler's commit, which
  carries the order intents) joins it in ONE group: one transaction, one fsync, one hop to the
  SQLite thread instead of two. Groups are FIFO, so a later step is never committed before an
  earlier write-behind step of the same connection.

A caller cancelled while its step is still queued withdraws the step (nothing is written); once the
step is on the SQLite thread it commits (or not) regardless.

Thread model (:class:`state.sqlite_worker.SqliteWorker`): the whole group runs in one function, so no
other statement of this connection can interleave with the transaction. With ``inline=True`` (the
store's default) the group runs on the event-loop thread itself whenever the worker thread is idle
(:meth:`SqliteWorker.run_inline`), else it goes to that thread in one hop. Inline groups are
dispatched one loop iteration after the first submission (``call_soon``), so the steps of every
task that reacted to the same event in that iteration still share one transaction; the loop is
blocked for the commit (~0.2-1 ms with its fsync), which the committing task waits for anyway.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

import msgspec

from exchanges.clock import now_ms
from state.records import FillRecord, FundingRecord, OrderIntent, TaskStatus, TransitionRecord
from state.sqlite_worker import SqliteWorker

_encode = msgspec.json.Encoder().encode


class StepFenced(Exception):
    """Internal: the step's ``UPDATE ... WHERE owner_id=?`` matched no row (lease not held)."""


class Step:
    """One prepared FSM step: SQL parameters built on the event loop, applied on the SQLite thread.

    ``sql``/``params``: the fenced checkpoint ``UPDATE ... RETURNING version``; ``journal``: the
    transition row (its version filled in on apply) or None; the row lists are executemany payloads.
    """

    __slots__ = ("task_id", "owner_id", "durable", "sql", "params", "journal", "new_intents", "updates", "fills",
                 "funding", "acks", "future")

    def __init__(self, task_id: str, owner_id: str, durable: bool, sql: str, params: list, journal: list | None,
                 new_intents: list[tuple], updates: list[tuple], fills: list[tuple], funding: list[tuple],
                 acks: list[tuple]) -> None:
        self.task_id = task_id
        self.owner_id = owner_id
        self.durable = durable
        self.sql = sql
        self.params = params
        self.journal = journal
        self.new_intents = new_intents
        self.updates = updates
        self.fills = fills
        self.funding = funding
        self.acks = acks
        self.future: asyncio.Future | None = None


def build_step(
    task_id: str,
    owner_id: str,
    *,
    state: str,
    state_entered_ms: int,
    context_json: str,
    pnl_json: str | None,
    status: TaskStatus | None = None,
    transition: TransitionRecord | None = None,
    new_intents: Iterable[OrderIntent] = (),
    intent_updates: Iterable[OrderIntent] = (),
    fills: Iterable[FillRecord] = (),
    funding: Iterable[FundingRecord] = (),
    durable: bool = True,
    last_error: str | None = None,
    ack_controls: Iterable[int] = (),
) -> Step:
    """One FSM step's statements and rows (see :meth:`state.store.Store.commit_step` for the
    fields), prepared on the event loop; ``pnl_json`` None leaves the stored PnL."""
    ts = now_ms()
    sql = "UPDATE tasks SET state=?, state_entered_ms=?, context=?, updated_ms=?, version=version+1"
    params: list = [state, state_entered_ms, context_json, ts]
    if pnl_json is not None:
        sql += ", pnl=?"
        params.append(pnl_json)
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
    return Step(
        task_id, owner_id, durable, sql, params, journal,
        new_intents=[(i.client_order_id, task_id, i.seq, i.status.value, ts, _encode(i).decode())
                     for i in new_intents],
        updates=[(i.status.value, ts, _encode(i).decode(), i.client_order_id, task_id) for i in intent_updates],
        fills=[(task_id, f.venue.value, f.trade_id, f.client_order_id, f.ts_ms, _encode(f).decode())
               for f in fills],
        funding=[(task_id, f.venue.value, f.ts_ms, _encode(f).decode()) for f in funding],
        acks=[(ts, int(cid), task_id) for cid in ack_controls],
    )


def apply_step(db: sqlite3.Connection, step: Step) -> int:
    """Run one step's statements inside the caller's open transaction; returns the new version.
    Raises StepFenced when the lease is not held, sqlite3 errors unchanged."""
    row = db.execute(step.sql, step.params).fetchone()
    if row is None:
        raise StepFenced(step.task_id)
    (version,) = row
    if step.journal is not None:
        journal = list(step.journal)
        journal[1] = version
        db.execute("INSERT INTO transitions (task_id, version, ts_ms, src, dst, trigger, reason) "
                   "VALUES (?,?,?,?,?,?,?)", journal)
    if step.new_intents:
        db.executemany("INSERT INTO order_intents (client_order_id, task_id, seq, status, updated_ms, data) "
                       "VALUES (?,?,?,?,?,?)", step.new_intents)
    if step.updates:
        db.executemany("UPDATE order_intents SET status=?, updated_ms=?, data=? "
                       "WHERE client_order_id=? AND task_id=?", step.updates)
    if step.fills:
        db.executemany("INSERT OR IGNORE INTO fills (task_id, venue, trade_id, client_order_id, ts_ms, data) "
                       "VALUES (?,?,?,?,?,?)", step.fills)
    if step.funding:
        db.executemany("INSERT OR IGNORE INTO funding (task_id, venue, ts_ms, data) VALUES (?,?,?,?)", step.funding)
    if step.acks:
        db.executemany("UPDATE control SET acked_ms=? WHERE id=? AND task_id=?", step.acks)
    return version


class WriteLockBusy(Exception):
    """Internal: another connection (another process) holds the write lock right now."""


def begin_without_waiting(db: sqlite3.Connection, busy_timeout_ms: int) -> None:
    """``BEGIN IMMEDIATE`` that never waits: raises WriteLockBusy at once when another connection
    is writing (the event loop must not sleep in SQLite's busy handler), then restores
    ``busy_timeout_ms`` for everything else on this connection."""
    db.execute("PRAGMA busy_timeout=0")
    try:
        db.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if exc.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            raise WriteLockBusy(str(exc)) from None
        raise
    finally:
        db.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")


def commit_group(db: sqlite3.Connection, steps: list[Step], set_sync: Callable[[sqlite3.Connection, bool], None],
                 begin: Callable[[sqlite3.Connection], None] | None = None) -> list[int | BaseException]:
    """Commit ``steps`` in one transaction, each in its own savepoint.

    Returns one entry per step: its new version, or the exception that rolled back that step alone.
    Raises when the transaction as a whole fails (BEGIN or COMMIT): then nothing was committed.
    ``begin`` replaces the plain ``BEGIN IMMEDIATE`` (the inline path: :func:`begin_without_waiting`).
    """
    set_sync(db, any(s.durable for s in steps))
    if begin is None:
        db.execute("BEGIN IMMEDIATE")
    else:
        begin(db)
    results: list[int | BaseException] = []
    try:
        for step in steps:
            db.execute("SAVEPOINT step")
            try:
                results.append(apply_step(db, step))
            except Exception as exc:  # noqa: BLE001 - handed to that step's caller
                if not db.in_transaction:  # SQLite rolled back the whole transaction (I/O, full, ...)
                    raise
                db.execute("ROLLBACK TO step")
                results.append(exc)
            db.execute("RELEASE step")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return results



class GroupCommitter:
    """Queues :class:`Step` objects and commits them in groups on a :class:`SqliteWorker`'s connection.

    ``set_sync(db, full)`` is called on the SQLite thread before each group to select
    ``synchronous=FULL`` (any durable step) or ``NORMAL``. ``on_fenced(step)`` builds the exception
    raised for a step whose lease fence failed. Counters ``groups``, ``steps``, ``max_group`` for benches.
    """

    def __init__(self, worker: SqliteWorker, set_sync: Callable[[sqlite3.Connection, bool], None],
                 on_fenced: Callable[[Step], BaseException], inline: bool = True,
                 busy_timeout_ms: int = 10000) -> None:
        self._worker = worker
        self._begin_inline = partial(begin_without_waiting, busy_timeout_ms=busy_timeout_ms)
        self._set_sync = set_sync
        self._on_fenced = on_fenced
        self._inline = inline
        self._queue: list[Step] = []
        self._in_flight = False
        self._dispatch_scheduled = False
        self._idle = asyncio.Event()
        self._idle.set()
        self.groups = 0
        self.steps = 0
        self.max_group = 0

    async def submit(self, step: Step) -> int:
        """Commit ``step`` (in the next group); returns the task's new version once its group committed."""
        loop = asyncio.get_running_loop()
        step.future = loop.create_future()
        self._queue.append(step)
        if not self._in_flight:
            if not self._inline:
                self._send_group(loop)
            else:
                self._schedule_dispatch(loop)
        try:
            return await step.future
        except asyncio.CancelledError:
            if step in self._queue:  # not on the SQLite thread yet: withdraw it
                self._queue.remove(step)
            raise

    def submit_nowait(self, step: Step) -> asyncio.Future:
        """Queue ``step`` without waiting (write-behind); returns its future (the new version, or the
        step's exception). The step is dispatched with the next group: at once when a waiting
        :meth:`submit` follows before the loop turns, else on the next loop iteration. The caller
        must consume the future's exception (a done-callback)."""
        loop = asyncio.get_running_loop()
        step.future = loop.create_future()
        self._queue.append(step)
        if not self._in_flight:
            self._schedule_dispatch(loop)
        return step.future

    def _schedule_dispatch(self, loop: asyncio.AbstractEventLoop) -> None:
        self._idle.clear()
        if not self._dispatch_scheduled:
            self._dispatch_scheduled = True
            loop.call_soon(self._dispatch_soon, loop)

    def _dispatch_soon(self, loop: asyncio.AbstractEventLoop) -> None:
        self._dispatch_scheduled = False
        if not self._in_flight:
            self._send_group(loop)

    async def drain(self) -> None:
        """Wait until no group is in flight and nothing is queued."""
        while self._in_flight or self._queue:
            await self._idle.wait()

    def _send_group(self, loop: asyncio.AbstractEventLoop) -> None:
        group, self._queue = self._queue, []
        if not group:
            self._in_flight = False
            self._idle.set()
            return
        self._in_flight = True
        self._idle.clear()
        self.groups += 1
        self.steps += len(group)
        self.max_group = max(self.max_group, len(group))
        done: asyncio.Future[Any] = loop.create_future()
        done.add_done_callback(partial(self._group_done, group))
        worker = self._worker
        if not worker.running:
            done.set_exception(ValueError("Connection closed"))
            return
        if self._inline:
            # The worker thread is idle: commit right here. Two thread hand-offs less, each a
            # wake-up of a sleeping thread. If another process holds the write lock, the group
            # goes to the thread, which waits for it there (busy_timeout) instead of stalling
            # the event loop.
            try:
                ran, outcome = worker.run_inline(partial(commit_group, steps=group, set_sync=self._set_sync,
                                                         begin=self._begin_inline))
            except WriteLockBusy:
                ran, outcome = False, None
            except BaseException as exc:  # noqa: BLE001 - handed to the steps' callers
                done.set_exception(exc)
                return
            if ran:
                done.set_result(outcome)
                return
        worker.submit(partial(commit_group, steps=group, set_sync=self._set_sync), done)

    def _group_done(self, group: list[Step], done: asyncio.Future) -> None:
        if done.cancelled():
            outcome: Any = asyncio.CancelledError()
        else:
            outcome = done.exception() or done.result()
        for i, step in enumerate(group):
            fut = step.future
            if fut is None or fut.done():
                continue
            if isinstance(outcome, BaseException):
                fut.set_exception(outcome)
                continue
            result = outcome[i]
            if isinstance(result, StepFenced):
                fut.set_exception(self._on_fenced(step))
            elif isinstance(result, BaseException):
                fut.set_exception(result)
            else:
                fut.set_result(result)
        self._send_group(done.get_loop())


__all__ = ["Step", "StepFenced", "GroupCommitter", "WriteLockBusy", "apply_step", "begin_without_waiting",
           "build_step", "commit_group"]
