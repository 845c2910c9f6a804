"""Store.commit_step runs its transaction in one call on the SQLite thread (the hot path's two
commits per reaction): a failed step (duplicate client order id, lost lease) leaves nothing
behind and the connection usable; NORMAL and FULL commits alternate correctly."""

from __future__ import annotations

import os
import sqlite3
from decimal import Decimal

import pytest

from exchanges.models import Side, VenueId
from state.records import OrderIntent, TaskRecord, TransitionRecord
from state.store import LeaseLost, Store

TID = "abcabcabcabc"


def _intent(seq: int) -> OrderIntent:
    return OrderIntent(client_order_id=f"arb{TID}{seq:06d}", task_id=TID, seq=seq, venue=VenueId.GATE_SPOT,
                       symbol="NEIROETH_USDT", side=Side.BUY, qty=Decimal("10"), price=Decimal("0.05"), leg="arb_buy")


async def _commit(store, owner="o1", intents=(), durable=True, trigger="t"):
    return await store.commit_step(TID, owner, state="ANALYZING", state_entered_ms=1, context_json="{}",
                                   pnl_json="{}", transition=TransitionRecord(task_id=TID, src="MONITORING",
                                                                              dst="ANALYZING", trigger=trigger),
                                   new_intents=list(intents), durable=durable)


@pytest.fixture
async def store(tmp_path):
    s = await Store.open(tmp_path / "db.sqlite")
    await s.create_task(TaskRecord(task_id=TID, strategy="delta_neutral", symbol="NEIROETHUSDT", config="{}"))
    assert await s.acquire_lease(TID, "o1", os.getpid(), "h", ttl_s=30)
    yield s
    await s.close()


async def test_duplicate_intent_rolls_back_everything(store):
    v1 = await _commit(store, intents=[_intent(1)])
    with pytest.raises(sqlite3.IntegrityError):
        await _commit(store, intents=[_intent(2), _intent(1)], trigger="dup")
    rec = await store.get_task(TID)
    assert rec.version == v1
    assert [t.trigger for t in await store.transitions(TID)] == ["t"]
    assert [i.seq for i in await store.intents(TID)] == [1]
    assert await _commit(store, intents=[_intent(2)], durable=False) == v1 + 1  # connection still usable


async def test_lost_lease_writes_nothing(store):
    v1 = await _commit(store)
    with pytest.raises(LeaseLost):
        await _commit(store, owner="someone-else", intents=[_intent(1)])
    assert (await store.get_task(TID)).version == v1
    assert await store.intents(TID) == []
    assert len(await store.transitions(TID)) == 1


async def test_normal_and_full_commits_alternate(store):
    versions = [await _commit(store, durable=i % 2 == 0, trigger=f"t{i}") for i in range(6)]
    assert versions == list(range(versions[0], versions[0] + 6))
    assert store._sync_full is False  # the last one was NORMAL
    assert [t.trigger for t in await store.transitions(TID)] == [f"t{i}" for i in range(6)]
