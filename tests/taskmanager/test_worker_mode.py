"""Worker mode in one process (SQLite; the PostgreSQL processes are in test_workers.py): a worker
claims up to its capacity, drives the tasks, drains on stop (leases released, status unchanged) and a
second worker takes them over; a database that becomes unreachable stops the task without failing it."""

from __future__ import annotations

import asyncio
import json

from state.errors import StoreUnavailable
from state.records import TaskRecord, TaskStatus
from taskmanager.manager import TaskManager
from taskmanager.worker import Worker
from tests.taskmanager.conftest import wait_until
from tests.taskmanager.tm_strategy import fake_venue_factory

FAST = dict(heartbeat_s=0.2, control_poll_s=0.05, telemetry_s=0.05, idle_wait_s=0.02)


async def _create(store, n: int, **config) -> list[str]:
    ids = [f"task{i:08d}" for i in range(n)]
    for tid in ids:
        await store.create_task(TaskRecord(task_id=tid, strategy="tm_test", symbol="NEIROETHUSDT",
                                           config=json.dumps({"interval_s": 0.02, **config})))
    return ids


async def _trading(store, ids: list[str], n: int = 2) -> bool:
    for tid in ids:
        if len(await store.intents(tid)) < n:
            return False
    return True


async def test_worker_claims_up_to_its_capacity_drains_and_another_takes_over(store, tmp_path, monkeypatch):
    monkeypatch.setenv("TM_FAKE_VENUE_DIR", str(tmp_path))
    ids = await _create(store, 3)
    first = Worker(store, TaskManager(store, host="host-a", **FAST), fake_venue_factory, max_tasks=2)
    stop = asyncio.Event()
    run = asyncio.create_task(first.run(stop))
    await wait_until(lambda: _trading(store, ids[:2]), timeout_s=20)
    assert [r.owner_host for r in await store.list_tasks()] == ["host-a", "host-a", None]  # its capacity: 2
    stop.set()
    await asyncio.wait_for(run, 20)
    assert {h.outcome for h in first.manager.handles.values()} == {"released"}
    assert {(r.owner_id, r.status) for r in await store.list_tasks()} == {(None, TaskStatus.RUNNING)}

    second = Worker(store, TaskManager(store, host="host-b", **FAST), fake_venue_factory, max_tasks=5)
    counts = {tid: len(await store.intents(tid)) for tid in ids}
    assert sorted(await second.claim_once()) == ids
    stop2 = asyncio.Event()
    run2 = asyncio.create_task(second.run(stop2))
    try:
        async def all_moved_on() -> bool:
            for tid in ids:
                if len(await store.intents(tid)) <= counts[tid] + 1:
                    return False
            return True

        await wait_until(all_moved_on, timeout_s=20)
        assert {r.owner_host for r in await store.list_tasks()} == {"host-b"}
        assert all(second.manager.handles[t].resumed == (t in ids[:2]) for t in ids)  # driven before: resumed
    finally:
        stop2.set()
        await asyncio.wait_for(run2, 20)


class FlakyStore:
    """Delegates to a real store; the ``fail_at``-th commit raises StoreUnavailable (the database is away)."""

    def __init__(self, store, fail_at: int) -> None:
        self._store = store
        self._left = fail_at

    def __getattr__(self, name):
        return getattr(self._store, name)

    async def commit_step(self, *args, **kwargs):
        self._left -= 1
        if self._left == 0:
            raise StoreUnavailable("PostgreSQL postgresql://arb@db/arb: connection was closed")
        return await self._store.commit_step(*args, **kwargs)


async def test_an_unreachable_database_stops_the_task_without_failing_it(store, tmp_path, monkeypatch):
    monkeypatch.setenv("TM_FAKE_VENUE_DIR", str(tmp_path))
    (tid,) = await _create(store, 1)
    flaky = FlakyStore(store, fail_at=6)
    manager = TaskManager(flaky, host="host-a", **FAST)
    worker = Worker(flaky, manager, fake_venue_factory)
    assert await worker.claim_once() == [tid]
    await asyncio.wait_for(manager.run(), 20)
    assert manager.handles[tid].outcome == "store_lost"
    rec = await store.get_task(tid)
    assert rec.status is TaskStatus.RUNNING and rec.last_error == ""  # not failed: whoever drives it next goes on
    assert not [t for t in await store.transitions(tid) if t.trigger == "error"]
