"""FSM transition tests for strategies/base.py: every declared edge, undeclared edges refused,
the stop/pause guards per state, FINALIZING's finish, and time guards driven by freezegun."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest
from freezegun import freeze_time

from exchanges.models import Side, VenueId
from state.records import State, TaskRecord, TaskStatus
from strategies.base import (
    PAUSE_INTERRUPTIBLE,
    STOP_INTERRUPTIBLE,
    TRANSITIONS,
    InvalidTransition,
    StrategyTask,
    declared_edges,
)
from tests.taskmanager.tm_strategy import FileVenue, TickerTask

ALL_TRIGGERS = sorted({t["trigger"] for t in TRANSITIONS})
OWNER = "owner-test"


class ScriptTask(StrategyTask):
    """Every handler returns the trigger queued in ``self.next_trigger`` (None = stay)."""

    strategy_name = "tm_script"
    next_trigger: str | None = None
    handler_calls: list[str]

    def _next(self):
        self.handler_calls.append(self.state.value)
        trig, self.next_trigger = self.next_trigger, None
        return self.go(trig, f"script {trig}") if trig else None

    async def on_idle(self):
        return self._next()

    on_syncing = on_analyzing = on_rebalancing = on_managing_orders = on_idle
    on_waiting_orders = on_monitoring = on_completing = on_finalizing = on_idle


async def _task(store, cls=ScriptTask, state: State = State.IDLE, task_id: str = "a1b2c3d4e5f6", **kw):
    await store.create_task(TaskRecord(task_id=task_id, strategy=cls.strategy_name, symbol="NEIROETHUSDT",
                                       state=state, **kw))
    assert await store.acquire_lease(task_id, OWNER, os.getpid(), "host", ttl_s=5)
    task = cls(await store.get_task(task_id), store, {}, OWNER)
    task.handler_calls = []
    await task.load()
    return task


@pytest.mark.parametrize("src,trigger,dst", sorted(declared_edges()))
async def test_every_declared_edge_commits_transition(store, src, trigger, dst):
    task = await _task(store, state=State(src))
    task.next_trigger = trigger
    assert await task.step() is True
    assert task.state is State(dst)
    rec = await store.get_task(task.task_id)
    assert rec.state is State(dst)  # checkpointed before step() returned
    journal = await store.transitions(task.task_id)
    assert (journal[-1].src, journal[-1].trigger, journal[-1].dst) == (src, trigger, dst)
    expected_status = {"stop": TaskStatus.STOPPING, "pause": TaskStatus.PAUSED}.get(trigger, TaskStatus.RUNNING)
    assert rec.status is expected_status


UNDECLARED = sorted(
    (s.value, trig) for s in State for trig in ALL_TRIGGERS
    if not any(e[0] == s.value and e[1] == trig for e in declared_edges())
)


@pytest.mark.parametrize("src,trigger", UNDECLARED)
async def test_undeclared_edge_is_refused_and_nothing_committed(store, src, trigger):
    task = await _task(store, state=State(src))
    version = (await store.get_task(task.task_id)).version
    task.next_trigger = trigger
    with pytest.raises(InvalidTransition):
        await task.step()
    assert task.state is State(src)
    rec = await store.get_task(task.task_id)
    assert (rec.state, rec.version) == (State(src), version)


@pytest.mark.parametrize("state", [s for s in State if s not in (State.IDLE, State.FINALIZING)])
async def test_stop_guard_per_state(store, state):
    task = await _task(store, state=state)
    task.request_stop(flatten=True, reason="user")
    progressed = await task.step()
    if state in STOP_INTERRUPTIBLE:
        assert progressed and task.state is State.COMPLETING and task.handler_calls == []
        assert task.status is TaskStatus.STOPPING
    else:  # an order may be in flight (or syncing): the handler runs first
        assert task.handler_calls == [state.value] and task.state is state
        assert (await store.get_task(task.task_id)).status is TaskStatus.STOPPING  # the request is durable
    ctx = (await store.get_task(task.task_id)).context
    assert '"stop_requested":true' in ctx and '"flatten_requested":true' in ctx


@pytest.mark.parametrize("state", [s for s in State if s not in (State.IDLE, State.FINALIZING)])
async def test_pause_guard_per_state(store, state):
    task = await _task(store, state=state)
    task.request_pause()
    await task.step()
    if state in PAUSE_INTERRUPTIBLE:
        assert task.state is State.IDLE and task.status is TaskStatus.PAUSED and task.done
        assert task.handler_calls == []
    else:
        assert task.state is state and task.handler_calls == [state.value]


async def test_stop_wins_over_pause(store):
    task = await _task(store, state=State.MONITORING)
    task.request_pause()
    task.request_stop(reason="user")
    await task.step()
    assert task.state is State.COMPLETING


@pytest.mark.parametrize("reason,halt,expected", [
    ("duration", "", TaskStatus.COMPLETED),
    ("user", "", TaskStatus.STOPPED),
    ("signal", "", TaskStatus.STOPPED),
    ("user", "ledger mismatch", TaskStatus.HALTED),
])
async def test_finalizing_ends_with_planned_status(store, reason, halt, expected):
    task = await _task(store, cls=TickerTask, state=State.MONITORING,
                       config='{"max_orders": 0}')
    task.venues = {VenueId.GATE_SPOT: FileVenue(VenueId.GATE_SPOT, store.path.with_suffix(".orders"))}
    task.request_stop(reason=reason)
    task.context.halt_reason = halt
    for _ in range(3):
        await task.step()
    assert task.status is expected and task.done
    rec = await store.get_task(task.task_id)
    assert rec.status is expected and rec.state is State.FINALIZING
    assert await task.step() is False  # terminal: nothing runs any more


async def test_finish_outside_finalizing_is_refused(store):
    class Bad(ScriptTask):
        strategy_name = "tm_bad"

        async def on_analyzing(self):
            return self.finish(TaskStatus.COMPLETED, "too early")

    task = await _task(store, cls=Bad, state=State.ANALYZING)
    with pytest.raises(InvalidTransition):
        await task.step()
    assert (await store.get_task(task.task_id)).status is TaskStatus.RUNNING


async def test_intent_commits_with_the_transition(store):
    class Trader(ScriptTask):
        strategy_name = "tm_trader"

        async def on_analyzing(self):
            self.new_intent(VenueId.GATE_SPOT, "NEIROETH_USDT", Side.BUY, Decimal("1"), Decimal("0.1"), "arb_buy")
            return self.go("trade", "edge")

    task = await _task(store, cls=Trader, state=State.ANALYZING)
    await task.step()
    intents = await store.intents(task.task_id)
    assert [i.client_order_id for i in intents] == [f"arb{task.task_id}000001"]
    assert task.is_committed(intents[0].client_order_id)


async def test_monitoring_time_guard_fires_only_after_interval():
    """The ticker's MONITORING guard (interval elapsed -> signal) evaluated on step() under freezegun."""
    import tempfile
    from pathlib import Path

    from state.store import Store

    with tempfile.TemporaryDirectory() as tmp, freeze_time("2026-01-01 00:00:00", real_asyncio=True) as frozen:
        store = await Store.open(Path(tmp) / "db.sqlite")
        try:
            task = await _task(store, cls=TickerTask, state=State.MONITORING, config='{"interval_s": 30}')
            assert await task.step() is False
            frozen.tick(29.9)
            assert await task.step() is False and task.state is State.MONITORING
            frozen.tick(0.2)
            assert await task.step() is True and task.state is State.ANALYZING
            journal = await store.transitions(task.task_id)
            assert journal[-1].trigger == "signal"
            assert journal[-1].ts_ms == 1767225600000 + 30100  # the frozen clock stamps the journal
        finally:
            await store.close()


async def test_syncing_wait_guard_under_freezegun(tmp_path):
    from state.store import Store

    with freeze_time("2026-01-01 00:00:00", real_asyncio=True) as frozen:
        store = await Store.open(tmp_path / "db.sqlite")
        try:
            task = await _task(store, cls=TickerTask, state=State.SYNCING, config='{"sync_wait_s": 5}',
                               state_entered_ms=1767225600000)
            task.venues = {VenueId.GATE_SPOT: FileVenue(VenueId.GATE_SPOT, tmp_path / "orders.jsonl")}
            assert await task.step() is False
            frozen.tick(5)
            assert await task.step() is True and task.state is State.ANALYZING
        finally:
            await store.close()
