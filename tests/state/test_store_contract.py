"""The store contract, run against BOTH backends (SQLite file, real PostgreSQL server): records
survive a reopen exactly, every FSM step is one transaction fenced by the lease, a group of steps
commits together with failing steps rolled back alone, write-behind steps join the next group, and
closing the store drains what is queued."""

from __future__ import annotations

import asyncio
import os
from decimal import Decimal

import pytest

from exchanges.models import Side, VenueId
from state.errors import LeaseLost
from state.records import FillRecord, FundingRecord, IntentStatus, OrderIntent, State, TaskRecord, TaskStatus, \
    TransitionRecord
from tests.leases import steal_lease

TID = "abcabcabcabc"


def intent(task_id: str, seq: int, **kw) -> OrderIntent:
    return OrderIntent(client_order_id=f"arb{task_id}{seq:06d}", task_id=task_id, seq=seq, venue=VenueId.MEXC_SPOT,
                       symbol="NEIROETH_USDT", side=Side.SELL, qty=Decimal("123"), price=Decimal("0.000035"),
                       leg="arb_sell", **kw)


def fill(task_id: str, trade_id: str, coid: str) -> FillRecord:
    return FillRecord(task_id=task_id, venue=VenueId.MEXC_SPOT, trade_id=trade_id, client_order_id=coid,
                      side=Side.SELL, price=Decimal("0.000035"), qty=Decimal("41"), qty_base=Decimal("41"),
                      fee=Decimal("0.0000043"), fee_usdt=Decimal("0.0000043"))


def step(store, task_id: str = TID, owner: str = "o1", *, trigger: str = "t", nowait: bool = False, **fields):
    fields.setdefault("pnl_json", "{}")
    args = dict(state="ANALYZING", state_entered_ms=7, context_json='{"next_seq": 2}',
                transition=TransitionRecord(task_id=task_id, src="MONITORING", dst="ANALYZING", trigger=trigger),
                **fields)
    if nowait:
        return store.commit_step_nowait(task_id, owner, **args)
    return store.commit_step(task_id, owner, **args)


async def new_task(store, task_id: str = TID, owner: str | None = "o1", **kw) -> None:
    await store.create_task(TaskRecord(task_id=task_id, strategy="tm_test", symbol="NEIROETHUSDT",
                                       config='{"interval_s": 1}', **kw))
    if owner:
        assert await store.acquire_lease(task_id, owner, os.getpid(), "h", ttl_s=30)


async def test_round_trip_survives_reopen(db):
    store = await db.open()
    try:
        await new_task(store, duration_s=60.0)
        first = intent(TID, 1)
        fills = [fill(TID, t, first.client_order_id) for t in ("t3", "t1", "t2")]  # booking order, not key order
        funding = FundingRecord(task_id=TID, venue=VenueId.GATE_PERP, ts_ms=5, amount_usdt=Decimal("-0.01"))
        v1 = await step(store, pnl_json='{"realized_pnl_usdt":"1.5"}', status=TaskStatus.RUNNING, new_intents=[first],
                        fills=[fills[0], fills[0]], funding=[funding])
        filled = intent(TID, 1, status=IntentStatus.FILLED, filled_qty=Decimal("123"))
        v2 = await step(store, pnl_json=None, intent_updates=[filled], fills=fills[1:], trigger="t2",
                        last_error="boom")
        await store.journal(TID, "note", "free text")
        await store.set_status(TID, TaskStatus.PAUSED, "paused by test", owner_id="o1")
        await store.put_live_many([(TID, '{"x": 1}')])
    finally:
        await store.close()

    store = await db.open()
    try:
        rec = await store.get_task(TID)
        assert (rec.state, rec.version, rec.status, rec.state_entered_ms) == (State.ANALYZING, v2, TaskStatus.PAUSED, 7)
        assert v2 == v1 + 1 and rec.pnl == '{"realized_pnl_usdt":"1.5"}' and rec.config == '{"interval_s": 1}'
        assert rec.last_error == "boom" and rec.duration_s == 60.0 and rec.started_ms > 0
        assert await store.intents(TID) == [filled] and await store.intents(TID, unresolved_only=True) == []
        assert [f.trade_id for f in await store.fills(TID)] == ["t3", "t1", "t2"]  # once each, in booking order
        assert await store.funding(TID) == [funding]
        trs = await store.transitions(TID)
        assert [(t.trigger, t.version) for t in trs] == [("t", v1), ("t2", v2), ("note", v2), ("status:paused", v2)]
        assert [t.trigger for t in await store.transitions(TID, limit=2)] == ["note", "status:paused"]
        assert [t.trigger for t in await store.recent_transitions(1)] == ["status:paused"]
        assert await store.get_live() == {TID: '{"x": 1}'}
        assert [r.task_id for r in await store.list_tasks()] == [TID]
        assert await store.get_task("nope") is None
    finally:
        await store.close()


async def test_a_step_of_a_process_without_the_lease_is_refused_by_the_database(store):
    await new_task(store)
    v1 = await step(store)
    assert await steal_lease(store, TID, "o2", os.getpid(), "other-host")
    with pytest.raises(LeaseLost):
        await step(store, new_intents=[intent(TID, 1)], trigger="zombie")
    with pytest.raises(LeaseLost):
        await store.set_status(TID, TaskStatus.FAILED, "zombie", owner_id="o1")
    rec = await store.get_task(TID)
    assert (rec.version, rec.status) == (v1, TaskStatus.RUNNING)
    assert await store.intents(TID) == [] and [t.trigger for t in await store.transitions(TID)] == ["t"]
    assert await step(store, owner="o2", trigger="new owner") == v1 + 1


async def test_one_group_commits_together_and_failing_steps_fail_alone(db, store):
    ids = [f"gc{i:010d}" for i in range(8)]
    for tid in ids:
        await new_task(store, tid)
    await step(store, ids[3], new_intents=[intent(ids[3], 1)])
    assert await steal_lease(store, ids[5], "thief", os.getpid(), "h2")
    before = store.commit_stats["groups"]
    results = await asyncio.gather(
        *(step(store, tid, new_intents=[intent(tid, 2), intent(tid, 1) if tid == ids[3] else intent(tid, 3)])
          for tid in ids), return_exceptions=True)
    assert store.commit_stats["groups"] == before + 1  # submitted in one loop turn: ONE transaction
    assert isinstance(results[3], db.integrity_error) and isinstance(results[5], LeaseLost)
    for i, tid in enumerate(ids):
        seqs = [x.seq for x in await store.intents(tid)]
        if i == 3:
            assert seqs == [1]  # the step with the duplicate client order id wrote nothing
        elif i == 5:
            assert seqs == []
        else:
            assert results[i] == 1 and seqs == [2, 3]


async def test_write_behind_step_joins_the_next_group_in_order(store):
    await new_task(store)
    before = store.commit_stats["groups"]
    behind = step(store, trigger="signal", nowait=True, durable=False)
    version = await step(store, trigger="trade", new_intents=[intent(TID, 1)])
    assert await behind == version - 1
    assert store.commit_stats["groups"] == before + 1
    assert [t.trigger for t in await store.transitions(TID)] == ["signal", "trade"]


async def test_close_commits_what_is_queued(db):
    store = await db.open()
    await new_task(store)
    pending = step(store, nowait=True, new_intents=[intent(TID, 1)])
    await store.close()
    assert pending.done() and pending.result() == 1
    store = await db.open()
    try:
        assert [i.seq for i in await store.intents(TID)] == [1]
    finally:
        await store.close()


async def test_the_newest_journal_rows_keep_their_order_within_one_millisecond(store, monkeypatch):
    await new_task(store)
    import state.pg.store
    import state.store

    for module in (state.store, state.pg.store):
        monkeypatch.setattr(module, "now_ms", lambda: 1_000)  # every row in the same millisecond
    for n in range(5):
        await store.journal(TID, f"note{n}", "")
    assert [t.trigger for t in await store.transitions(TID, limit=3)] == ["note2", "note3", "note4"]
