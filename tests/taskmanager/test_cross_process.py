"""Leases and control requests across two REAL processes, and SIGKILL + resume.

The runner processes are ``python -m tests.taskmanager.proc_main`` = the real CLI
(``taskmanager.cli.main``) with the test strategy and the file-backed fake venue; this test
process talks to them only through the store, as ``tasks stop``/``pause`` from another
terminal would. Every process is SIGKILLed in the fixture teardown.
"""

from __future__ import annotations

import collections
import json
import signal
from pathlib import Path

import pytest

from state.records import IntentStatus, State, TaskStatus
from state.store import Store
from taskmanager.views import lease_state
from exchanges.clock import now_ms
from tests.taskmanager.conftest import wait_until

pytestmark = pytest.mark.slow


def _config(tmp_path: Path, **values) -> str:
    path = tmp_path / "ticker.json"
    path.write_text(json.dumps(values))
    return str(path)


async def _running_task(store: Store, proc) -> str:
    """Wait until the subprocess created its task and is trading; return the task id."""

    async def ready():
        assert proc.poll() is None, "runner exited early"
        tasks = await store.list_tasks()
        if tasks and tasks[0].owner_id and len(await store.intents(tasks[0].task_id)) >= 2:
            return tasks[0].task_id
        return None

    return await wait_until(ready, timeout_s=20)


async def test_pause_and_stop_from_another_process_within_1s(procs, tmp_path):
    cfg = _config(tmp_path, interval_s=0.05)
    proc = procs.spawn("start", "--strategy", "tm_test", "--symbol", "NEIROETH", "--config", cfg, name="owner")
    store = await Store.open(procs.db)
    try:
        task_id = await _running_task(store, proc)
        rec = await store.get_task(task_id)
        assert rec.owner_pid == proc.pid and lease_state(rec, now_ms()) == "live"

        # a second process may not resume a task with a live lease
        other = procs.run("tasks", "resume", task_id)
        assert other.returncode == 2 and f"pid {proc.pid}" in other.stdout and "Traceback" not in other.stdout

        # pause through the store: acknowledged within 1 s (ack time from the owner's own commit)
        cid = await store.request_control(task_id, "pause")
        ctl = await wait_until(lambda: _acked(store, cid), timeout_s=10)
        assert ctl.acked_ms - ctl.created_ms <= 1000
        assert proc.wait(timeout=10) == 0  # paused: the owner releases the task and exits cleanly
        rec = await store.get_task(task_id)
        assert (rec.status, rec.state, rec.owner_id) == (TaskStatus.PAUSED, State.IDLE, None)
        assert "paused; resume with" in procs.output(proc)

        # resume in a new process, then stop it from this one
        proc2 = procs.spawn("tasks", "resume", task_id, name="resumer")
        n_before = len(await store.intents(task_id))
        await wait_until(lambda: _more_intents(store, task_id, n_before + 2), timeout_s=20)
        assert (await store.get_task(task_id)).owner_pid == proc2.pid
        cid = await store.request_control(task_id, "stop", flatten=True)
        ctl = await wait_until(lambda: _acked(store, cid), timeout_s=10)
        assert ctl.acked_ms - ctl.created_ms <= 1000
        assert proc2.wait(timeout=15) == 0
        rec = await store.get_task(task_id)
        assert rec.status is TaskStatus.STOPPED and rec.state is State.FINALIZING
        assert json.loads(rec.context)["flatten_requested"] is True
        assert "trades" in procs.output(proc2)  # the PnL summary
    finally:
        await store.close()


async def test_cli_stop_waits_for_live_owner(procs, tmp_path):
    cfg = _config(tmp_path, interval_s=0.05)
    proc = procs.spawn("start", "--strategy", "tm_test", "--symbol", "NEIROETH", "--config", cfg, name="owner")
    store = await Store.open(procs.db)
    try:
        task_id = await _running_task(store, proc)
        result = procs.run("tasks", "stop", task_id)
        assert result.returncode == 0, result.stdout
        assert "acknowledged" in result.stdout and "stopped" in result.stdout
        assert proc.wait(timeout=10) == 0
        assert (await store.get_task(task_id)).status is TaskStatus.STOPPED
    finally:
        await store.close()


async def test_sigkill_in_send_window_then_resume_no_intent_lost_or_duplicated(procs, tmp_path):
    """The runner SIGKILLs itself right after journaling intent #3 and before sending it."""
    cfg = _config(tmp_path, interval_s=0.02, self_kill_at_seq=3, max_orders=6)
    proc = procs.spawn("start", "--strategy", "tm_test", "--symbol", "NEIROETH", "--config", cfg, name="victim")
    assert proc.wait(timeout=20) == -signal.SIGKILL
    store = await Store.open(procs.db)
    try:
        (rec,) = await store.list_tasks()
        assert rec.status is TaskStatus.RUNNING and rec.state is State.MANAGING_ORDERS
        assert lease_state(rec, now_ms()) == "crashed"
        intents = await store.intents(rec.task_id)
        assert [i.seq for i in intents] == [1, 2, 3] and intents[-1].status is IntentStatus.NEW
        listed = procs.run("tasks", "list", "--json")
        assert json.loads(listed.stdout)[0]["lease"] == "crashed"

        resumed = procs.run("tasks", "resume", rec.task_id, "--duration", "1")
        assert resumed.returncode == 0, resumed.stdout
        await _assert_consistent(store, procs.venue_dir, rec.task_id, resumed_from="MANAGING_ORDERS")
        by_seq = {i.seq: i for i in await store.intents(rec.task_id)}
        assert by_seq[3].status is IntentStatus.NOT_SENT  # settled by query, never re-sent
        assert len(by_seq) == 6  # the task went on trading after the resume
    finally:
        await store.close()


async def test_external_sigkill_mid_task_then_resume(procs, tmp_path):
    cfg = _config(tmp_path, interval_s=0.01)
    proc = procs.spawn("start", "--strategy", "tm_test", "--symbol", "NEIROETH", "--config", cfg, name="victim")
    store = await Store.open(procs.db)
    try:
        task_id = await _running_task(store, proc)
        await wait_until(lambda: _more_intents(store, task_id, 10), timeout_s=20)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=5)
        rec = await store.get_task(task_id)
        checkpointed_state, n_before = rec.state.value, len(await store.intents(task_id))
        resumed = procs.run("tasks", "resume", task_id, "--duration", "1")
        assert resumed.returncode == 0, resumed.stdout
        await _assert_consistent(store, procs.venue_dir, task_id, resumed_from=checkpointed_state)
        assert len(await store.intents(task_id)) > n_before
    finally:
        await store.close()


async def _assert_consistent(store: Store, venue_dir: Path, task_id: str, resumed_from: str) -> None:
    rec = await store.get_task(task_id)
    assert rec.status is TaskStatus.COMPLETED and rec.owner_id is None
    ctx = json.loads(rec.context)
    assert ctx["resumed_from"] == resumed_from  # continued from the checkpointed state
    intents = await store.intents(task_id)
    ids = [i.client_order_id for i in intents]
    assert len(ids) == len(set(ids))
    assert [i.seq for i in intents] == list(range(1, len(intents) + 1))
    venue_ids = [json.loads(line)["client_order_id"]
                 for line in (venue_dir / "orders.jsonl").read_text().splitlines() if line.strip()]
    dup = [k for k, v in collections.Counter(venue_ids).items() if v > 1]
    assert not dup, f"order sent twice: {dup}"
    assert set(venue_ids) <= set(ids), "an order exists at the venue without a journaled intent"
    for intent in intents:
        assert intent.status.is_final, intent
        sent = intent.client_order_id in venue_ids
        assert sent == (intent.status is IntentStatus.FILLED), intent  # nothing lost, nothing invented
    fills = await store.fills(task_id)
    assert sorted(f.client_order_id for f in fills) == sorted(venue_ids)


async def _acked(store: Store, control_id: int):
    ctl = await store.control(control_id)
    return ctl if ctl is not None and ctl.acked_ms else None


async def _more_intents(store: Store, task_id: str, n: int) -> bool:
    return len(await store.intents(task_id)) >= n


@pytest.mark.parametrize("sig,status", [(signal.SIGINT, TaskStatus.STOPPED), (signal.SIGTERM, TaskStatus.STOPPED)])
async def test_signal_stops_gracefully(procs, tmp_path, sig, status):
    cfg = _config(tmp_path, interval_s=0.02)
    proc = procs.spawn("start", "--strategy", "tm_test", "--symbol", "NEIROETH", "--config", cfg, name="owner")
    store = await Store.open(procs.db)
    try:
        task_id = await _running_task(store, proc)
        proc.send_signal(sig)
        assert proc.wait(timeout=15) == 0
        rec = await store.get_task(task_id)
        assert (rec.status, rec.state, rec.owner_id) == (status, State.FINALIZING, None)
        assert json.loads(rec.context)["stop_reason"] == "signal"
        out = procs.output(proc)
        assert "stopping gracefully" in out and "realized PnL" in out and "Traceback" not in out
    finally:
        await store.close()


async def test_pause_then_stop_a_task_whose_owner_died(procs, tmp_path):
    cfg = _config(tmp_path, interval_s=0.01)
    proc = procs.spawn("start", "--strategy", "tm_test", "--symbol", "NEIROETH", "--config", cfg, name="victim")
    store = await Store.open(procs.db)
    try:
        task_id = await _running_task(store, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=5)
        paused = procs.run("tasks", "pause", task_id)
        assert paused.returncode == 0, paused.stdout
        assert "taking it over" in paused.stdout
        rec = await store.get_task(task_id)
        assert (rec.status, rec.state, rec.owner_id) == (TaskStatus.PAUSED, State.IDLE, None)
        stopped = procs.run("tasks", "stop", task_id, "--flatten")
        assert stopped.returncode == 0, stopped.stdout
        rec = await store.get_task(task_id)
        assert rec.status is TaskStatus.STOPPED and rec.state is State.FINALIZING
        triggers = [t.trigger for t in await store.transitions(task_id)]
        assert triggers[-3:] == ["stop", "completed", "finish:stopped"]  # driven through COMPLETING, FINALIZING
        await _assert_intents_settled(store, procs.venue_dir, task_id)
    finally:
        await store.close()


async def _assert_intents_settled(store: Store, venue_dir: Path, task_id: str) -> None:
    venue_ids = [json.loads(line)["client_order_id"]
                 for line in (venue_dir / "orders.jsonl").read_text().splitlines() if line.strip()]
    assert len(venue_ids) == len(set(venue_ids))
    for intent in await store.intents(task_id):
        assert intent.status.is_final
        assert (intent.client_order_id in venue_ids) == (intent.status is IntentStatus.FILLED)
