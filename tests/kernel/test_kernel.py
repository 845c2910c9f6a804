"""Kernel sanity: store round-trip, FSM commit atomicity, lease fencing, intents."""

from __future__ import annotations

import os
import sqlite3
from decimal import Decimal

import pytest
from freezegun import freeze_time

from exchanges.models import Side, VenueId
from state.records import FillRecord, IntentStatus, State, TaskRecord, TaskStatus
from state.store import LeaseLost, Store, StoreError, SCHEMA_VERSION
from strategies.base import InvalidTransition, StrategyTask, declared_edges, mermaid
from tests.leases import steal_lease


class ScriptTask(StrategyTask):
    strategy_name = "script"

    script: list = []

    async def on_syncing(self):
        return self.go("synced", "ok")

    async def on_analyzing(self):
        intent = self.new_intent(VenueId.GATE_SPOT, "NEIROETH_USDT", Side.BUY, Decimal("10"), Decimal("0.05"), "test")
        self.script.append(intent.client_order_id)
        return self.go("trade", "edge")


async def make(tmp_path, task_id="abcdef012345"):
    store = await Store.open(tmp_path / "db.sqlite")
    await store.create_task(TaskRecord(task_id=task_id, strategy="script", symbol="NEIROETHUSDT"))
    assert await store.acquire_lease(task_id, "owner-1", os.getpid(), "h", ttl_s=5)
    rec = await store.get_task(task_id)
    task = ScriptTask(rec, store, {}, "owner-1")
    await task.load()
    return store, task


async def test_db_created_0600_and_schema(tmp_path):
    store = await Store.open(tmp_path / "db.sqlite")
    await store.close()
    assert (os.stat(tmp_path / "db.sqlite").st_mode & 0o777) == 0o600
    con = sqlite3.connect(tmp_path / "db.sqlite")
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    con.close()


async def test_newer_schema_refused_untouched(tmp_path):
    p = tmp_path / "db.sqlite"
    con = sqlite3.connect(p)
    con.execute("PRAGMA user_version=99")
    con.commit()
    con.close()
    before = p.read_bytes()
    with pytest.raises(StoreError, match="newer"):
        await Store.open(p)
    assert p.read_bytes() == before


async def test_corrupt_file_refused_untouched(tmp_path):
    p = tmp_path / "db.sqlite"
    p.write_bytes(b"this is not a database" * 100)
    before = p.read_bytes()
    with pytest.raises(StoreError, match="not an SQLite"):
        await Store.open(p)
    assert p.read_bytes() == before


async def test_steps_commit_transition_and_intent_atomically(tmp_path):
    store, task = await make(tmp_path)
    with freeze_time("2026-01-01 00:00:00"):
        assert await task.step()  # IDLE -> SYNCING
        assert await task.step()  # SYNCING -> ANALYZING
        assert await task.step()  # ANALYZING -> MANAGING_ORDERS with an intent
    assert task.state is State.MANAGING_ORDERS
    rec = await store.get_task(task.task_id)
    assert rec.state is State.MANAGING_ORDERS and rec.version == 3
    intents = await store.intents(task.task_id)
    assert [i.client_order_id for i in intents] == ["arbabcdef012345000001"]
    assert intents[0].status is IntentStatus.NEW
    journal = await store.transitions(task.task_id)
    assert [(t.src, t.dst) for t in journal] == [("IDLE", "SYNCING"), ("SYNCING", "ANALYZING"),
                                                ("ANALYZING", "MANAGING_ORDERS")]
    # resume: a new instance continues the sequence and never reuses an id
    task2 = ScriptTask(rec, store, {}, "owner-1")
    await task2.load()
    assert task2.journal.next_client_order_id()[0] == "arbabcdef012345000002"
    await store.close()


async def test_undeclared_edge_raises_and_nothing_committed(tmp_path):
    store, task = await make(tmp_path)
    await task.step()
    before = (await store.get_task(task.task_id)).version
    with pytest.raises(InvalidTransition):
        await task._take(task.go("completed", "bogus"))
    assert task.state is State.SYNCING
    assert (await store.get_task(task.task_id)).version == before
    await store.close()


async def test_lease_fencing(tmp_path):
    store, task = await make(tmp_path)
    assert not await store.acquire_lease(task.task_id, "owner-2", 1, "h", ttl_s=5)
    assert await steal_lease(store, task.task_id, "owner-2", 1, "h")
    with pytest.raises(LeaseLost):
        await task.step()
    assert task.state is State.IDLE  # in-memory state rolled back
    await store.close()


async def test_fill_idempotent_and_stop_control_acked(tmp_path):
    store, task = await make(tmp_path)
    fill = FillRecord(task_id=task.task_id, venue=VenueId.MEXC_SPOT, trade_id="t1", client_order_id="x",
                      side=Side.BUY, price=Decimal("0.00003512"), qty=Decimal("5"), qty_base=Decimal("5"))
    assert task.record_fill(fill)
    assert not task.record_fill(fill)
    cid = await store.request_control(task.task_id, "stop")
    task.request_stop(control_id=cid)
    await task.step()  # IDLE -> SYNCING, with status stopping
    assert (await store.control(cid)).acked_ms > 0
    assert task.status is TaskStatus.STOPPING
    assert [f.price for f in await store.fills(task.task_id)] == [Decimal("0.00003512")]
    await store.close()


def test_graph_has_all_states_and_edges():
    g = mermaid()
    for s in State:
        assert s.value in g
    assert ("ANALYZING", "trade", "MANAGING_ORDERS") in declared_edges()
