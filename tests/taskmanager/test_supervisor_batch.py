"""The supervisor's store work is batched per tick (one heartbeat UPDATE ... RETURNING for all our
tasks, one control query, one telemetry transaction) and keeps its per-task semantics: a lost
lease stops only that task at once, a control row reaches only its task."""

from __future__ import annotations

import asyncio
import json
import os

from state.records import TaskRecord, TaskStatus
from taskmanager.manager import TaskManager
from tests.taskmanager.conftest import wait_until
from tests.taskmanager.test_manager import FAST, _add
from tests.leases import steal_lease


async def test_store_batch_calls(store):
    ids = [f"00000000b{i:03d}" for i in range(5)]
    for task_id in ids:
        await store.create_task(TaskRecord(task_id=task_id, strategy="tm_test", symbol="NEIROETHUSDT"))
        assert await store.acquire_lease(task_id, "me", os.getpid(), "h", ttl_s=5)
    assert await steal_lease(store, ids[2], "thief", 1, "other")
    before = {t: (await store.get_task(t)).heartbeat_ms for t in ids}
    held = await store.heartbeat_many(ids + ["unknown00000"], "me")
    assert held == set(ids) - {ids[2]}
    assert (await store.get_task(ids[2])).heartbeat_ms == before[ids[2]]  # not ours: untouched
    assert await store.heartbeat_many([], "me") == set()

    c1 = await store.request_control(ids[0], "stop")
    c2 = await store.request_control(ids[3], "pause")
    await store.request_control(ids[4], "stop")  # not asked for
    await store.ack_control(c1)
    pending = await store.pending_controls_many(ids[:4])
    assert [(p.id, p.task_id, p.action) for p in pending] == [(c2, ids[3], "pause")]

    await store.put_live_many([(t, json.dumps({"n": i})) for i, t in enumerate(ids)])
    await store.put_live_many([(ids[1], json.dumps({"n": 10}))])
    live = await store.get_live()
    assert {t: json.loads(v)["n"] for t, v in live.items()} == {ids[0]: 0, ids[1]: 10, ids[2]: 2, ids[3]: 3, ids[4]: 4}


async def test_lost_lease_stops_only_that_task_at_once(store, tmp_path):
    manager = TaskManager(store, **FAST)
    tasks = [(await _add(manager, store, tmp_path, f"0000000001a{i}", interval_s=0.01))[0] for i in range(3)]
    for task in tasks:
        manager.add(task, duration_s=None if task is tasks[1] else 1.5)
    runner = asyncio.create_task(manager.run())
    await wait_until(lambda: all(len(t.intents) >= 2 for t in tasks))
    assert await steal_lease(store, tasks[1].task_id, "thief", 1, "otherhost")
    await wait_until(lambda: manager.handles[tasks[1].task_id].driver.done(), timeout_s=5)
    assert manager.handles[tasks[1].task_id].outcome == "lease_lost"
    assert not manager.handles[tasks[0].task_id].driver.done()  # the others keep running
    handles = await asyncio.wait_for(runner, timeout=10)
    assert [handles[t.task_id].outcome for t in tasks] == ["finished", "lease_lost", "finished"]
    assert (await store.get_task(tasks[1].task_id)).owner_id == "thief"
    for t in (tasks[0], tasks[2]):
        rec = await store.get_task(t.task_id)
        assert rec.status is TaskStatus.COMPLETED and rec.owner_id is None


async def test_control_row_reaches_only_its_task_and_telemetry_covers_all(store, tmp_path):
    manager = TaskManager(store, **FAST)
    tasks = [(await _add(manager, store, tmp_path, f"0000000002a{i}", interval_s=0.01))[0] for i in range(3)]
    for task in tasks:
        manager.add(task, duration_s=None if task is tasks[2] else 1.5)
    runner = asyncio.create_task(manager.run())
    live = await wait_until(lambda: _live_for(store, tasks))
    assert all(json.loads(live[t.task_id])["status"] == "running" for t in tasks)
    await wait_until(lambda: len(tasks[2].intents) >= 1)  # trading (a stop is taken at its next safe step)
    cid = await store.request_control(tasks[2].task_id, "stop")
    await wait_until(lambda: manager.handles[tasks[2].task_id].driver.done(), timeout_s=5)
    assert (await store.control(cid)).acked_ms > 0
    assert (await store.get_task(tasks[2].task_id)).status is TaskStatus.STOPPED
    assert tasks[2].context.stop_reason == "user"
    assert "user" not in (tasks[0].context.stop_reason, tasks[1].context.stop_reason)  # only the addressed task
    await asyncio.wait_for(runner, timeout=10)
    assert [(await store.get_task(t.task_id)).status for t in tasks[:2]] == [TaskStatus.COMPLETED] * 2
    assert [t.context.stop_reason for t in tasks[:2]] == ["duration", "duration"]


async def _live_for(store, tasks):
    live = await store.get_live()
    return live if all(t.task_id in live for t in tasks) else None


async def test_batches_larger_than_one_statement_chunk(store):
    ids = [f"0000000c{i:04d}" for i in range(260)]  # > 250 rows: two multi-row statements
    for task_id in ids:
        await store.create_task(TaskRecord(task_id=task_id, strategy="tm_test", symbol="NEIROETHUSDT"))
        assert await store.acquire_lease(task_id, "me", os.getpid(), "h", ttl_s=5)
    assert await steal_lease(store, ids[255], "thief", 1, "other")
    assert await store.heartbeat_many(ids, "me") == set(ids) - {ids[255]}
    await store.put_live_many([(t, json.dumps({"i": i})) for i, t in enumerate(ids)])
    live = await store.get_live()
    assert {t: json.loads(v)["i"] for t, v in live.items()} == {t: i for i, t in enumerate(ids)}


async def test_heartbeats_confirm_each_fence_and_a_lost_lease_closes_it(store, tmp_path):
    """The runner proves each task's lease to its fence: confirmed before the first step and by
    every heartbeat that finds the lease still ours; a heartbeat that finds another owner closes
    the fence at once (no send even before the driver is cancelled)."""
    manager = TaskManager(store, **FAST)
    tasks = [(await _add(manager, store, tmp_path, f"0000000003f{i}", interval_s=0.01))[0] for i in range(2)]
    assert all(t.fence.refusal() is not None for t in tasks)  # nothing proved yet: every send refused
    for task in tasks:
        manager.add(task, duration_s=None)
    runner = asyncio.create_task(manager.run())
    await wait_until(lambda: all(len(t.intents) >= 1 for t in tasks))
    assert all(t.fence.refusal() is None for t in tasks)
    assert tasks[0].fence.ttl_s == manager.lease_ttl_s
    assert await steal_lease(store, tasks[1].task_id, "thief", 1, "otherhost")
    await wait_until(lambda: tasks[1].fence.refusal() is not None, timeout_s=5)
    assert "lease lost" in tasks[1].fence.refusal()
    assert tasks[0].fence.refusal() is None
    manager.request_stop_all(reason="signal")
    await asyncio.wait_for(runner, timeout=10)
