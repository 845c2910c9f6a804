"""Control requests on both backends, and on PostgreSQL the push that wakes their owner
(LISTEN/NOTIFY): a runner whose control polling is effectively off still acts on a stop within a
second, and workers hear of new and released tasks."""

from __future__ import annotations

import asyncio
import json
import os

import pytest

from state.api import Backend, Notice
from state.opener import open_store
from state.records import TaskRecord, TaskStatus
from taskmanager.manager import TaskManager
from tests.state.test_store_contract import new_task, step
from tests.taskmanager.tm_strategy import TickerTask, fake_venue_factory


async def test_control_request_round_trip(store):
    await new_task(store)
    await new_task(store, "other0000000")
    cid = await store.request_control("abcabcabcabc", "stop", flatten=True)
    other = await store.request_control("other0000000", "pause")
    pending = await store.pending_controls_many(["abcabcabcabc", "other0000000"])
    assert [(c.id, c.action, c.flatten) for c in pending] == [(cid, "stop", True), (other, "pause", False)]
    await step(store, ack_controls=[cid])  # acknowledged by the step that makes it durable
    assert (await store.control(cid)).acked_ms > 0
    assert [c.id for c in await store.pending_controls("abcabcabcabc")] == []
    await store.ack_control(other)
    assert await store.pending_controls_many(["other0000000"]) == [] and await store.control(999) is None
    with pytest.raises(ValueError):
        await store.request_control("abcabcabcabc", "explode")


async def test_notifications_reach_other_connections(db, store):
    listener = await db.open()
    try:
        heard: dict[Notice, asyncio.Queue[str]] = {n: asyncio.Queue() for n in Notice}
        pushed = [await listener.subscribe(n, heard[n].put_nowait) for n in Notice]
        if db.backend is Backend.SQLITE:
            assert pushed == [False, False]  # SQLite owners poll
            return
        assert pushed == [True, True]
        await new_task(store, owner=None)
        assert await asyncio.wait_for(heard[Notice.TASK].get(), 5) == "abcabcabcabc"
        assert await store.acquire_lease("abcabcabcabc", "o1", os.getpid(), "h", ttl_s=30)
        await store.request_control("abcabcabcabc", "pause")
        assert await asyncio.wait_for(heard[Notice.CONTROL].get(), 5) == "abcabcabcabc"
        await store.release_lease("abcabcabcabc", "o1")
        assert await asyncio.wait_for(heard[Notice.TASK].get(), 5) == "abcabcabcabc"
    finally:
        await listener.close()


async def test_postgresql_owner_is_woken_by_a_stop_request_not_by_polling(pg_url, tmp_path, monkeypatch):
    monkeypatch.setenv("TM_FAKE_VENUE_DIR", str(tmp_path))  # (SQLite owners poll the control table)
    owner_store, other = await open_store(pg_url), await open_store(pg_url)
    try:
        # polls the control table once at start, then only every 60 s: a request must arrive by push
        manager = TaskManager(owner_store, control_poll_s=60.0, control_backstop_s=60.0)
        rec = TaskRecord(task_id="tick00000001", strategy="tm_test", symbol="NEIROETHUSDT",
                         config=json.dumps({"interval_s": 0.05}))
        await owner_store.create_task(rec)
        await manager.acquire(await owner_store.get_task(rec.task_id))
        task = TickerTask(await owner_store.get_task(rec.task_id), owner_store,
                          fake_venue_factory("sim", None, tmp_path, live_confirmed=False), manager.owner_id)
        manager.add(task)
        run = asyncio.create_task(manager.run())

        async def trading() -> None:
            while len(await other.intents(rec.task_id)) < 2:
                await asyncio.sleep(0.02)

        await asyncio.wait_for(trading(), 20)
        cid = await other.request_control(rec.task_id, "stop")
        asked = await other.now_ms()
        await asyncio.wait_for(run, 10)
        ctl = await other.control(cid)
        assert ctl.acked_ms and ctl.acked_ms - asked < 2000
        assert (await other.get_task(rec.task_id)).status is TaskStatus.STOPPED
    finally:
        await owner_store.close()
        await other.close()
