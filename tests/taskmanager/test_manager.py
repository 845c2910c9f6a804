"""TaskManager in one process: concurrency, failure isolation, stop/duration, stop timeout,
lease loss, control rows, telemetry, hooks and venue closing."""

from __future__ import annotations

import asyncio
import json
import os

import msgspec

from exchanges.models import VenueId
from state.records import State, TaskRecord, TaskStatus
from taskmanager.manager import LeaseBusy, TaskManager
from taskmanager.views import lease_state
from tests.taskmanager.conftest import wait_until
from tests.taskmanager.tm_strategy import FileVenue, TickerConfig, TickerTask
from tests.leases import steal_lease

FAST = dict(heartbeat_s=0.2, control_poll_s=0.05, telemetry_s=0.05, idle_wait_s=0.02)


async def _add(manager: TaskManager, store, tmp_path, task_id: str, **cfg):
    config = msgspec.json.encode(TickerConfig(**cfg)).decode()
    rec = TaskRecord(task_id=task_id, strategy="tm_test", symbol="NEIROETHUSDT", config=config)
    await store.create_task(rec)
    await manager.acquire(await store.get_task(task_id))
    venue = FileVenue(VenueId.GATE_SPOT, tmp_path / f"{task_id}.jsonl")
    task = TickerTask(await store.get_task(task_id), store, {VenueId.GATE_SPOT: venue}, manager.owner_id)
    return task, venue


async def test_failure_isolated_to_one_task(store, tmp_path):
    manager = TaskManager(store, **FAST)
    good, good_venue = await _add(manager, store, tmp_path, "000000000001", interval_s=0.01)
    bad, bad_venue = await _add(manager, store, tmp_path, "000000000002", fail_in_state="MONITORING",
                                max_orders=2)
    manager.add(good, duration_s=0.5)
    manager.add(bad)
    handles = await asyncio.wait_for(manager.run(), timeout=20)
    assert handles["000000000002"].outcome == "failed"
    assert handles["000000000001"].outcome == "finished"
    bad_rec = await store.get_task("000000000002")
    assert bad_rec.status is TaskStatus.FAILED
    assert "injected failure in MONITORING" in bad_rec.last_error
    journal = await store.transitions("000000000002")
    tb = [t for t in journal if t.trigger == "error"]
    assert tb and "Traceback" in tb[0].reason and "RuntimeError: injected failure" in tb[0].reason
    good_rec = await store.get_task("000000000001")
    assert good_rec.status is TaskStatus.COMPLETED and good_rec.state is State.FINALIZING
    assert len(await store.intents("000000000001")) >= 2  # it kept trading after the other failed
    # hooks ran, venues closed, leases released for both
    assert good.shut_down and bad.shut_down and good_venue.closed and bad_venue.closed
    assert good_rec.owner_id is None and bad_rec.owner_id is None


async def test_on_start_failure_fails_the_task(store, tmp_path):
    manager = TaskManager(store, **FAST)
    task, venue = await _add(manager, store, tmp_path, "0000000000aa")

    async def boom(resumed):
        raise ConnectionError("venue unreachable")

    task.on_start = boom
    manager.add(task)
    handles = await asyncio.wait_for(manager.run(), timeout=10)
    assert handles[task.task_id].outcome == "failed"
    rec = await store.get_task(task.task_id)
    assert rec.status is TaskStatus.FAILED and "venue unreachable" in rec.last_error
    assert venue.closed


async def test_signal_stop_all_ends_stopped_and_flattens(store, tmp_path):
    manager = TaskManager(store, **FAST)
    a, _ = await _add(manager, store, tmp_path, "0000000000b1")
    b, _ = await _add(manager, store, tmp_path, "0000000000b2")
    manager.add(a)
    manager.add(b)
    runner = asyncio.create_task(manager.run())
    await wait_until(lambda: len(a.intents) > 0 and len(b.intents) > 0)
    manager.request_stop_all(flatten=True, reason="signal")
    await asyncio.wait_for(runner, timeout=10)
    for tid in ("0000000000b1", "0000000000b2"):
        rec = await store.get_task(tid)
        assert rec.status is TaskStatus.STOPPED
        ctx = json.loads(rec.context)
        assert ctx["stop_reason"] == "signal" and ctx["flatten_requested"] is True


async def test_stop_timeout_leaves_task_stopping(store, tmp_path):
    manager = TaskManager(store, stop_timeout_s=0.3, **FAST)
    task, _ = await _add(manager, store, tmp_path, "0000000000c1", hang_completing=True)
    manager.add(task, duration_s=0.1)
    handles = await asyncio.wait_for(manager.run(), timeout=10)
    assert handles[task.task_id].outcome == "stop_timeout"
    rec = await store.get_task(task.task_id)
    assert rec.status is TaskStatus.STOPPING and rec.state is State.COMPLETING
    assert "could not finish stopping" in rec.last_error
    assert rec.owner_id is None  # released: 'tasks stop' can take it over


async def test_lease_lost_stops_driving(store, tmp_path):
    manager = TaskManager(store, **FAST)
    task, _ = await _add(manager, store, tmp_path, "0000000000d1", interval_s=0.01)
    manager.add(task)
    runner = asyncio.create_task(manager.run())
    await wait_until(lambda: len(task.intents) >= 2)
    # another process forcibly takes the lease (as resume does for a crashed owner)
    assert await steal_lease(store, task.task_id, "thief", 1, "otherhost")
    handles = await asyncio.wait_for(runner, timeout=5)
    assert handles[task.task_id].outcome == "lease_lost"
    rec = await store.get_task(task.task_id)
    assert rec.owner_id == "thief"  # never released by the loser
    version = rec.version
    await asyncio.sleep(0)  # no further commits from the old owner are possible (fenced)
    assert (await store.get_task(task.task_id)).version == version


async def test_acquire_refuses_live_lease_and_takes_crashed(store, tmp_path):
    await store.create_task(TaskRecord(task_id="0000000000e1", strategy="tm_test", symbol="NEIROETHUSDT"))
    from taskmanager.views import this_host

    # a live owner: this very process under another owner id
    assert await store.acquire_lease("0000000000e1", "other", os.getpid(), this_host(), ttl_s=5)
    manager = TaskManager(store, **FAST)
    try:
        await manager.acquire(await store.get_task("0000000000e1"))
        raise AssertionError("acquired a live lease")
    except LeaseBusy as exc:
        assert "lease live" in str(exc)
    # a dead pid on this host counts as expired at once (no waiting for the TTL)
    assert await steal_lease(store, "0000000000e1", "dead", 2**22 + 12345, this_host())
    rec = await store.get_task("0000000000e1")
    assert lease_state(rec, rec.heartbeat_ms) == "crashed"
    await manager.acquire(rec)
    assert (await store.get_task("0000000000e1")).owner_id == manager.owner_id


async def test_control_rows_pause_then_stop_in_process(store, tmp_path):
    manager = TaskManager(store, **FAST)
    task, _ = await _add(manager, store, tmp_path, "0000000000f1", max_orders=3, interval_s=0.01)
    manager.add(task)
    runner = asyncio.create_task(manager.run())
    await wait_until(lambda: task.state is State.MONITORING)
    cid = await store.request_control(task.task_id, "pause")
    await asyncio.wait_for(runner, timeout=5)
    ctl = await store.control(cid)
    assert ctl.acked_ms > 0
    rec = await store.get_task(task.task_id)
    assert (rec.status, rec.state, rec.owner_id) == (TaskStatus.PAUSED, State.IDLE, None)
    assert manager.handles[task.task_id].outcome == "paused"


async def test_telemetry_written_for_dashboard(store, tmp_path):
    manager = TaskManager(store, **FAST)
    task, _ = await _add(manager, store, tmp_path, "0000000000a7", interval_s=0.01)
    manager.add(task, duration_s=0.4)
    runner = asyncio.create_task(manager.run())
    live = await wait_until(store.get_live)
    view = json.loads(live[task.task_id])
    assert view["status"] == "running" and view["state"] in {s.value for s in State}
    assert view["spreads_bps"] == {"gate_spot>mexc_spot": "1.5"} and "pnl" in view
    await asyncio.wait_for(runner, timeout=10)
    final = json.loads((await store.get_live())[task.task_id])
    assert final["status"] == "completed"


async def test_takeover_discards_requests_left_for_a_dead_owner(store, tmp_path):
    await store.create_task(TaskRecord(task_id="0000000000c9", strategy="tm_test", symbol="NEIROETHUSDT"))
    from taskmanager.views import this_host

    assert await store.acquire_lease("0000000000c9", "dead", 2**22 + 12345, this_host(), ttl_s=5)  # crashed
    stale_id = await store.request_control("0000000000c9", "stop")
    rec = await store.get_task("0000000000c9")
    manager = TaskManager(store, **FAST)
    await manager.acquire(rec)
    assert (await store.control(stale_id)).acked_ms > 0
    assert await store.pending_controls("0000000000c9") == []


async def test_supervisor_checkpoints_the_wal_and_freezes_the_gc_after_warm_up(store, tmp_path):
    import gc

    checkpoints: list[tuple[int, int]] = []
    original = store.checkpoint_wal

    async def counted():
        checkpoints.append(await original())
        return checkpoints[-1]

    store.checkpoint_wal = counted
    manager = TaskManager(store, wal_checkpoint_s=0.05, **FAST)
    task, _ = await _add(manager, store, tmp_path, "0000000000c1", interval_s=0.01)
    manager.add(task, duration_s=1.5)
    runner = asyncio.create_task(manager.run())
    await wait_until(lambda: gc.get_freeze_count() > 0 or None)  # frozen once the task is past SYNCING
    assert manager._gc_frozen
    await asyncio.wait_for(runner, timeout=10)
    # frames a concurrent read still needs are copied by a later checkpoint: some were copied
    assert len(checkpoints) >= 3 and any(copied > 0 for _, copied in checkpoints)
    assert all(0 <= copied <= frames for frames, copied in checkpoints)
    assert gc.get_freeze_count() == 0  # unfrozen when the run ended
