"""Group commit of FSM steps on PostgreSQL (used by :meth:`state.pg.store.PgStore.commit_step`).

The same contract as the SQLite committer (:mod:`state.commit`): one FSM step = the checkpoint
UPDATE fenced by the lease + journal row + new intents + intent updates + fills + funding + control
acks; steps submitted while a group is in flight go together as the next group; each step is rolled
back alone when its fence fails (``LeaseLost``) or it breaks a constraint (``IntegrityViolation``);
every caller's await returns after the COMMIT of its group; a write-behind step
(:meth:`PgGroupCommitter.submit_nowait`) joins the group of a step submitted in the same loop turn;
groups are FIFO; a caller cancelled while its step is queued withdraws it.

A group is ONE round trip: the steps travel as one JSON array to the server function
``arb_commit_steps`` (state/pg/schema.py), which applies them in one transaction, each in its own
subtransaction, with ``synchronous_commit`` off unless a step is durable. The steps of a group are
sorted by task id (stable: one task's steps keep their order) so rows are locked in one global order.
A deadlock or serialization failure rolls the whole group back and it is retried (at most
:data:`GROUP_RETRIES` times).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import Any

import msgspec

from exchanges.clock import now_ms
from state.errors import IntegrityViolation, LeaseLost, StoreError
from state.records import FillRecord, FundingRecord, OrderIntent, TaskStatus, TransitionRecord

log = logging.getLogger("state.pg")

GROUP_RETRIES = 3
_encode = msgspec.json.Encoder().encode


class _Journal(msgspec.Struct):
    ts: int
    src: str
    dst: str
    tr: str
    re: str


class _NewIntent(msgspec.Struct):
    c: str
    q: int
    s: str
    d: str


class _IntentUpdate(msgspec.Struct):
    c: str
    s: str
    d: str


class _Fill(msgspec.Struct):
    v: str
    i: str
    c: str
    ts: int
    d: str


class _Funding(msgspec.Struct):
    v: str
    ts: int
    d: str


class PgStep(msgspec.Struct, omit_defaults=True):
    """One FSM step as ``arb_commit_steps`` reads it (short keys: it is sent for every step).

    ``t`` task id, ``o`` owner id (the fence), ``st`` state, ``se`` state_entered_ms, ``cx`` context
    JSON, ``ts`` the step's time (ms); optional ``pn`` PnL JSON, ``su`` status, ``le`` last error,
    ``j`` journal row, ``ni``/``iu`` new and updated intents, ``fi`` fills, ``fu`` funding, ``ak``
    control ids acknowledged."""

    t: str
    o: str
    st: str
    se: int
    cx: str
    ts: int
    pn: str | None = None
    su: str | None = None
    le: str | None = None
    j: _Journal | None = None
    ni: list[_NewIntent] = []
    iu: list[_IntentUpdate] = []
    fi: list[_Fill] = []
    fu: list[_Funding] = []
    ak: list[int] = []


class PendingStep:
    """A :class:`PgStep` with its durability and the future its caller awaits."""

    __slots__ = ("step", "durable", "future")

    def __init__(self, step: PgStep, durable: bool) -> None:
        self.step = step
        self.durable = durable
        self.future: asyncio.Future[int] | None = None


def build_pg_step(
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
) -> PendingStep:
    """The fields of :meth:`state.store.Store.commit_step` as one :class:`PendingStep`."""
    ts = now_ms()
    updates = {i.client_order_id: i for i in intent_updates}  # the last update of an intent wins
    step = PgStep(
        t=task_id, o=owner_id, st=state, se=int(state_entered_ms), cx=context_json, ts=ts, pn=pnl_json,
        su=status.value if status is not None else None,
        le=last_error[-2000:] if last_error is not None else None,
        j=(_Journal(ts=transition.ts_ms or ts, src=transition.src, dst=transition.dst, tr=transition.trigger,
                    re=transition.reason) if transition is not None else None),
        ni=[_NewIntent(c=i.client_order_id, q=i.seq, s=i.status.value, d=_encode(i).decode()) for i in new_intents],
        iu=[_IntentUpdate(c=i.client_order_id, s=i.status.value, d=_encode(i).decode()) for i in updates.values()],
        fi=[_Fill(v=f.venue.value, i=f.trade_id, c=f.client_order_id, ts=f.ts_ms, d=_encode(f).decode())
            for f in fills],
        fu=[_Funding(v=f.venue.value, ts=f.ts_ms, d=_encode(f).decode()) for f in funding],
        ak=[int(c) for c in ack_controls],
    )
    return PendingStep(step, durable)


#: ``run(payload_json, durable) -> results`` : one call of arb_commit_steps on the commit connection
GroupRunner = Callable[[str, bool], Awaitable[list[Any]]]
#: SQLSTATEs after which the whole group is retried (nothing of it was committed)
RETRY_SQLSTATES = frozenset({"40P01", "40001", "55P03"})


def step_outcome(step: PgStep, result: list[Any]) -> int | BaseException:
    """One entry of ``arb_commit_steps``'s answer as the caller's result or exception."""
    kind = result[0]
    if kind == "ok":
        return int(result[1])
    if kind == "fenced":
        return LeaseLost(f"task {step.t}: lease is not held by {step.o}")
    sqlstate, message = (result[1], result[2]) if len(result) >= 3 else ("", str(result))
    if str(sqlstate).startswith("23"):  # integrity constraint violation (23505: duplicate client order id)
        return IntegrityViolation(f"task {step.t}: step not committed: {message}")
    return StoreError(f"task {step.t}: step not committed: {message} (SQLSTATE {sqlstate})")


class PgGroupCommitter:
    """Queues steps and commits them in groups through ``run`` (one group in flight at a time).
    Counters ``groups``, ``steps``, ``max_group`` for benches."""

    def __init__(self, run: GroupRunner, is_retryable: Callable[[BaseException], bool]) -> None:
        self._run = run
        self._is_retryable = is_retryable
        self._queue: list[PendingStep] = []
        self._in_flight = False
        self._dispatch_scheduled = False
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False
        self.groups = 0
        self.steps = 0
        self.max_group = 0

    async def submit(self, pending: PendingStep) -> int:
        """Commit ``pending`` with the next group; returns the task's new version after its COMMIT."""
        fut = self._enqueue(pending)
        try:
            return await fut
        except asyncio.CancelledError:
            if pending in self._queue:  # not sent yet: withdraw it
                self._queue.remove(pending)
            raise

    def submit_nowait(self, pending: PendingStep) -> asyncio.Future[int]:
        """Queue ``pending`` without waiting (write-behind); its future holds the outcome."""
        return self._enqueue(pending)

    def _enqueue(self, pending: PendingStep) -> asyncio.Future[int]:
        loop = asyncio.get_running_loop()
        pending.future = loop.create_future()
        if self._closed:
            pending.future.set_exception(StoreError("store closed"))
            return pending.future
        self._queue.append(pending)
        self._idle.clear()
        if not self._in_flight and not self._dispatch_scheduled:
            # at the end of this loop iteration: every step submitted in it joins the same group
            self._dispatch_scheduled = True
            loop.call_soon(self._dispatch)
        return pending.future

    def _dispatch(self) -> None:
        self._dispatch_scheduled = False
        if self._in_flight:
            return
        group, self._queue = self._queue, []
        if not group:
            self._idle.set()
            return
        self._in_flight = True
        self.groups += 1
        self.steps += len(group)
        self.max_group = max(self.max_group, len(group))
        task = asyncio.get_running_loop().create_task(self._commit(group), name="pg-group-commit")
        task.add_done_callback(partial(self._group_done, group))

    async def _commit(self, group: list[PendingStep]) -> list[int | BaseException]:
        ordered = sorted(range(len(group)), key=lambda i: group[i].step.t)  # stable: lock order by task id
        payload = _encode([group[i].step for i in ordered]).decode()
        durable = any(p.durable for p in group)
        for attempt in range(GROUP_RETRIES + 1):
            try:
                results = await self._run(payload, durable)
                break
            except Exception as exc:
                if attempt < GROUP_RETRIES and self._is_retryable(exc):
                    log.warning("step group of %d rolled back (%s); retrying", len(group), exc)
                    continue
                raise
        out: list[int | BaseException] = [StoreError("no result")] * len(group)
        for pos, i in enumerate(ordered):
            out[i] = step_outcome(group[i].step, results[pos])
        return out

    def _group_done(self, group: list[PendingStep], task: asyncio.Task[list[int | BaseException]]) -> None:
        outcome: Any
        if task.cancelled():
            outcome = StoreError("step group cancelled (store closing)")
        else:
            outcome = task.exception() or task.result()
        for i, pending in enumerate(group):
            fut = pending.future
            if fut is None or fut.done():
                continue
            result = outcome if isinstance(outcome, BaseException) else outcome[i]
            if isinstance(result, BaseException):
                fut.set_exception(result)
            else:
                fut.set_result(result)
        self._in_flight = False
        if self._queue:
            self._dispatch()
        else:
            self._idle.set()

    async def drain(self) -> None:
        """Wait until nothing is queued or in flight."""
        while self._in_flight or self._queue:
            await self._idle.wait()

    def close(self) -> None:
        """Refuse new steps (they fail with StoreError); queued ones still commit on :meth:`drain`."""
        self._closed = True


__all__ = ["GROUP_RETRIES", "PendingStep", "PgGroupCommitter", "PgStep", "RETRY_SQLSTATES", "build_pg_step",
           "step_outcome"]
