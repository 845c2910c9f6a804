"""Group commit (state/commit.py): concurrent FSM steps of many tasks share one transaction, each
in its own savepoint; a failing step (lost lease, duplicate client order id) fails alone; the
group's synchronous mode follows the durable flag; queued steps can be withdrawn; close drains."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from decimal import Decimal

import pytest

from exchanges.models import Side, VenueId
from state.records import OrderIntent, State, TaskRecord, TransitionRecord
from state.store import LeaseLost, Store
from strategies.base import StrategyTask
from tests.leases import steal_lease

N = 12


def tid(i: int) -> str:
    return f"gc{i:010d}"


def intent(task_id: str, seq: int) -> OrderIntent:
    return OrderIntent(client_order_id=f"arb{task_id}{seq:06d}", task_id=task_id, seq=seq, venue=VenueId.GATE_SPOT,
                       symbol="NEIROETH_USDT", side=Side.BUY, qty=Decimal("10"), price=Decimal("0.05"),
                       leg="arb_buy")


def commit(store: Store, task_id: str, owner: str = "o1", intents=(), durable=True, trigger="t"):
    return store.commit_step(task_id, owner, state="ANALYZING", state_entered_ms=1, context_json='{"k": 1}',
                             pnl_json="{}", transition=TransitionRecord(task_id=task_id, src="MONITORING",
                                                                        dst="ANALYZING", trigger=trigger),
                             new_intents=list(intents), durable=durable)


@pytest.fixture
async def store(tmp_path):
    s = await Store.open(tmp_path / "db.sqlite")
    for i in range(N):
        await s.create_task(TaskRecord(task_id=tid(i), strategy="x", symbol="NEIROETHUSDT", config="{}"))
        assert await s.acquire_lease(tid(i), "o1", os.getpid(), "h", ttl_s=30)
    yield s
    await s.close()


async def synchronous_mode(store: Store) -> int:
    return (await store._fetchall("PRAGMA synchronous"))[0][0]  # 1 NORMAL, 2 FULL


async def test_lone_commit_goes_at_once_as_a_group_of_one(store):
    assert await commit(store, tid(0), intents=[intent(tid(0), 1)]) == 1
    assert store.commit_stats == {"groups": 1, "steps": 1, "max_group": 1}


class BusyThread:
    """Holds the store worker's lock as if its thread were running a job: groups go to the thread
    (and wait there) instead of committing inline on the loop thread."""

    def __init__(self, store: Store) -> None:
        self.lock = store._worker.lock

    def __enter__(self) -> "BusyThread":
        self.lock.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.lock.release()


async def test_concurrent_commits_of_many_tasks_land_atomically_in_one_group(store):
    results = await asyncio.gather(*(commit(store, tid(i), intents=[intent(tid(i), 1), intent(tid(i), 2)])
                                     for i in range(N)))
    assert results == [1] * N
    # submitted in the same loop iteration: ONE group, committed inline (the SQLite thread was idle)
    assert store.commit_stats == {"groups": 1, "steps": N, "max_group": N}
    for i in range(N):
        rec = await store.get_task(tid(i))
        assert (rec.version, rec.state, rec.context) == (1, State.ANALYZING, '{"k": 1}')
        assert [t.version for t in await store.transitions(tid(i))] == [1]
        assert [x.seq for x in await store.intents(tid(i))] == [1, 2]


async def test_steps_queued_while_a_group_is_on_the_thread_go_as_the_next_group(store):
    with BusyThread(store):
        first = asyncio.ensure_future(commit(store, tid(0), intents=[intent(tid(0), 1)]))
        await asyncio.sleep(0.05)  # dispatched: the group waits on the (busy) SQLite thread
        assert not first.done()
        rest = [asyncio.ensure_future(commit(store, tid(i), intents=[intent(tid(i), 1)])) for i in range(1, N)]
        await asyncio.sleep(0.05)
        assert not any(r.done() for r in rest)
    assert await first == 1 and await asyncio.gather(*rest) == [1] * (N - 1)
    assert store.commit_stats == {"groups": 2, "steps": N, "max_group": N - 1}
    assert [len(await store.intents(tid(i))) for i in range(N)] == [1] * N


async def test_fenced_out_task_in_a_group_fails_alone(store):
    assert await steal_lease(store, tid(5), "thief", 1, "other")
    results = await asyncio.gather(*(commit(store, tid(i), intents=[intent(tid(i), 1)]) for i in range(N)),
                                   return_exceptions=True)
    assert store.commit_stats["max_group"] == N  # tid(5) was inside the group
    assert isinstance(results[5], LeaseLost) and tid(5) in str(results[5])
    assert [r for i, r in enumerate(results) if i != 5] == [1] * (N - 1)
    assert (await store.get_task(tid(5))).version == 0
    assert await store.intents(tid(5)) == [] and await store.transitions(tid(5)) == []
    assert [len(await store.intents(tid(i))) for i in range(N) if i != 5] == [1] * (N - 1)


async def test_duplicate_client_order_id_in_a_group_fails_alone(store):
    assert await commit(store, tid(3), intents=[intent(tid(3), 1)]) == 1
    steps = []
    for i in range(N):
        intents = [intent(tid(i), 2), intent(tid(3), 1)] if i == 7 else [intent(tid(i), 2)]  # 7 reuses 3's id
        steps.append(commit(store, tid(i), intents=intents))
    results = await asyncio.gather(*steps, return_exceptions=True)
    assert isinstance(results[7], sqlite3.IntegrityError)
    assert [r for i, r in enumerate(results) if i != 7] == [2 if i == 3 else 1 for i in range(N) if i != 7]
    # task 7's whole step is gone (checkpoint, journal, its own new intent), the others' are in
    assert (await store.get_task(tid(7))).version == 0
    assert await store.intents(tid(7)) == [] and await store.transitions(tid(7)) == []
    assert [x.seq for x in await store.intents(tid(3))] == [1, 2]
    assert [x.seq for x in await store.intents(tid(8))] == [2]
    assert await commit(store, tid(7), intents=[intent(tid(7), 2)]) == 1  # the connection is fine


async def test_group_is_durable_when_any_step_is(store):
    await asyncio.gather(*(commit(store, tid(i), durable=False) for i in range(N)))
    assert await synchronous_mode(store) == 1  # NORMAL: nothing asked for an fsync
    await asyncio.gather(*(commit(store, tid(i), durable=(i == N - 1)) for i in range(N)))
    assert store.commit_stats["max_group"] == N
    assert await synchronous_mode(store) == 2  # FULL: one durable step makes the group durable
    await commit(store, tid(0), durable=False)
    assert await synchronous_mode(store) == 1


async def test_caller_awaits_the_commit_of_its_own_group(store, tmp_path):
    """Each awaiting caller sees its step committed (visible to another connection) on return."""
    other = sqlite3.connect(tmp_path / "db.sqlite")
    seen = {}

    async def one(i: int) -> None:
        await commit(store, tid(i), intents=[intent(tid(i), 1)])
        seen[i] = other.execute("SELECT version FROM tasks WHERE task_id=?", (tid(i),)).fetchone()[0]

    try:
        await asyncio.gather(*(one(i) for i in range(N)))
    finally:
        other.close()
    assert seen == {i: 1 for i in range(N)}


async def test_cancelled_queued_step_is_withdrawn(store):
    with BusyThread(store):
        first = asyncio.ensure_future(commit(store, tid(0)))
        await asyncio.sleep(0.05)  # the first is on the SQLite thread
        second = asyncio.ensure_future(commit(store, tid(1), intents=[intent(tid(1), 1)]))
        await asyncio.sleep(0)  # the second is queued behind it
        second.cancel()
    assert await first == 1
    with pytest.raises(asyncio.CancelledError):
        await second
    await commit(store, tid(2))
    assert (await store.get_task(tid(1))).version == 0 and await store.intents(tid(1)) == []
    assert store.commit_stats["steps"] == 2


async def test_close_waits_for_queued_steps(tmp_path):
    s = await Store.open(tmp_path / "db.sqlite")
    for i in range(3):
        await s.create_task(TaskRecord(task_id=tid(i), strategy="x", symbol="NEIROETHUSDT", config="{}"))
        assert await s.acquire_lease(tid(i), "o1", os.getpid(), "h", ttl_s=30)
    pending = [asyncio.ensure_future(commit(s, tid(i))) for i in range(3)]
    await asyncio.sleep(0)
    await s.close()
    assert [p.result() for p in pending] == [1, 1, 1]
    s2 = await Store.open(tmp_path / "db.sqlite")
    try:
        assert [(await s2.get_task(tid(i))).version for i in range(3)] == [1, 1, 1]
    finally:
        await s2.close()


class Trader(StrategyTask):
    strategy_name = "gc_trader"

    async def on_analyzing(self):
        self.new_intent(VenueId.GATE_SPOT, "NEIROETH_USDT", Side.BUY, Decimal("1"), Decimal("0.05"), "arb_buy")
        self.new_intent(VenueId.MEXC_SPOT, "NEIROETHUSDT", Side.SELL, Decimal("1"), Decimal("0.06"), "arb_sell")
        return self.go("trade", "edge")


async def test_strategy_tasks_stepping_together_commit_their_intents(store):
    tasks = []
    for i in range(N):
        rec = await store.get_task(tid(i))
        rec.state = State.ANALYZING
        t = Trader(rec, store, {}, "o1")
        await t.load()
        tasks.append(t)
    assert all(await asyncio.gather(*(t.step() for t in tasks)))
    for t in tasks:
        assert t.state is State.MANAGING_ORDERS
        assert all(t.is_committed(cid) for cid in t.intents)  # safe to send: committed
        stored = await store.intents(t.task_id)
        assert [i.leg for i in stored] == ["arb_buy", "arb_sell"]
        assert (await store.get_task(t.task_id)).state is State.MANAGING_ORDERS


def write_behind(store: Store, task_id: str, owner: str = "o1", trigger: str = "signal") -> asyncio.Future:
    return store.commit_step_nowait(task_id, owner, state="ANALYZING", state_entered_ms=1, context_json="{}",
                                    pnl_json="{}", transition=TransitionRecord(task_id=task_id, src="MONITORING",
                                                                               dst="ANALYZING", trigger=trigger),
                                    durable=False)


async def test_write_behind_step_shares_the_next_steps_transaction(store):
    """The reaction path: MONITORING -signal-> ANALYZING queued without waiting, then the trade
    step with the intents in the same loop turn: ONE group (one transaction, one fsync)."""
    fut = write_behind(store, tid(0))
    assert not fut.done() and store.commit_stats["groups"] == 0  # nothing sent yet
    assert await commit(store, tid(0), intents=[intent(tid(0), 1)], trigger="trade") == 2
    assert fut.done() and fut.result() == 1
    assert store.commit_stats == {"groups": 1, "steps": 2, "max_group": 2}
    journal = await store.transitions(tid(0))
    assert [(t.trigger, t.version) for t in journal] == [("signal", 1), ("trade", 2)]
    assert await synchronous_mode(store) == 2  # the group carried an intent: FULL


async def test_write_behind_step_alone_commits_on_the_next_loop_iteration(tmp_path):
    store = await Store.open(tmp_path / "wb.sqlite")
    await store.create_task(TaskRecord(task_id=tid(1), strategy="x", symbol="NEIROETHUSDT", config="{}"))
    assert await store.acquire_lease(tid(1), "o1", os.getpid(), "h", ttl_s=30)
    fut = write_behind(store, tid(1))
    assert await fut == 1  # nobody else committed: it went by itself
    assert store.commit_stats == {"groups": 1, "steps": 1, "max_group": 1}
    assert (await store.get_task(tid(1))).state == State.ANALYZING
    fut = write_behind(store, tid(1))
    await store.close()  # close drains queued write-behind steps
    assert fut.result() == 2
    reopened = await Store.open(tmp_path / "wb.sqlite")
    try:
        assert (await reopened.get_task(tid(1))).version == 2
    finally:
        await reopened.close()


async def test_write_behind_step_of_a_fenced_task_fails_in_its_future(store):
    assert await steal_lease(store, tid(2), "thief", 1, "other")
    fut = write_behind(store, tid(2))
    with pytest.raises(LeaseLost):
        await fut
    assert await store.transitions(tid(2)) == []


class Signaller(Trader):
    strategy_name = "gc_signaller"

    async def on_monitoring(self):
        return self.go("signal", "edge seen", write_behind=True)


async def monitoring_task(store: Store, i: int) -> Signaller:
    rec = await store.get_task(tid(i))
    rec.state = State.MONITORING
    t = Signaller(rec, store, {}, "o1")
    await t.load()
    return t


async def test_task_write_behind_transition_and_trade_commit_as_one_group(store):
    t = await monitoring_task(store, 3)
    assert await t.step() and t.state is State.ANALYZING  # returned without waiting for the COMMIT
    assert await t.step() and t.state is State.MANAGING_ORDERS
    assert all(t.is_committed(cid) for cid in t.intents)
    assert store.commit_stats == {"groups": 1, "steps": 2, "max_group": 2}
    journal = await store.transitions(t.task_id)
    assert [(j.src, j.dst) for j in journal] == [("MONITORING", "ANALYZING"), ("ANALYZING", "MANAGING_ORDERS")]
    assert (await store.get_task(t.task_id)).state is State.MANAGING_ORDERS


async def test_task_write_behind_failure_is_raised_by_the_next_step(store):
    t = await monitoring_task(store, 4)
    assert await steal_lease(store, tid(4), "thief", 1, "other")
    assert await t.step()  # queued; the fence fails on the SQLite thread
    await store._committer.drain()
    with pytest.raises(LeaseLost):
        await t.step()
    assert await store.transitions(t.task_id) == [] and await store.intents(t.task_id) == []


async def test_inline_commits_and_thread_jobs_never_interleave(store):
    """Commits inline on the loop thread while heartbeats, telemetry and reads run on the store worker's
    thread: every transaction stays whole (an interleaving would fail with "cannot start a
    transaction within a transaction" or lose rows)."""
    ids = [tid(i) for i in range(N)]
    for round_ in range(1, 41):
        results = await asyncio.gather(
            *(commit(store, tid(i), intents=[intent(tid(i), round_)]) for i in range(N)),
            store.heartbeat_many(ids, "o1"),
            store.put_live_many([(t, '{"round": %d}' % round_) for t in ids]),
            store.intents(tid(0)),
        )
        assert results[:N] == [round_] * N
        assert results[N] == set(ids)
    assert [len(await store.intents(t)) for t in ids] == [40] * N
    assert [len(await store.transitions(t)) for t in ids] == [40] * N
    groups = store.commit_stats["groups"]
    assert groups <= 40 * 2  # grouped, not one transaction per step


async def test_wal_checkpoint_runs_on_its_own_connection(store):
    for round_ in range(1, 6):
        await asyncio.gather(*(commit(store, tid(i), intents=[intent(tid(i), round_)]) for i in range(N)))
    wal_frames, copied = await store.checkpoint_wal()
    assert wal_frames > 0 and copied == wal_frames  # nothing else reading: everything copied
    assert store._checkpoint_worker is not None and store._checkpoint_worker is not store._worker
    assert (await store._fetchall("PRAGMA wal_autocheckpoint"))[0][0] == 10000  # the commits' backstop
    assert await commit(store, tid(0), intents=[intent(tid(0), 99)]) == 6  # writers carry on


async def test_commit_waits_for_another_writer_off_the_event_loop(store, tmp_path):
    """Another process holds the write lock: the inline attempt gives up at once and the group
    waits on the SQLite thread (busy_timeout) -- the event loop keeps running meanwhile."""
    other = sqlite3.connect(tmp_path / "db.sqlite", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer, e.g. a second runner process
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticking = asyncio.create_task(ticker())
    try:
        pending = asyncio.ensure_future(commit(store, tid(0), intents=[intent(tid(0), 1)]))
        await asyncio.sleep(0.3)
        assert not pending.done()  # still waiting for the other writer
        assert ticks >= 10  # the loop was never blocked in SQLite's busy handler
        other.execute("COMMIT")
        assert await asyncio.wait_for(pending, 5) == 1
    finally:
        ticking.cancel()
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()
    assert [x.seq for x in await store.intents(tid(0))] == [1]
    assert (await store._fetchall("PRAGMA busy_timeout"))[0][0] == 10000  # restored after the attempt
