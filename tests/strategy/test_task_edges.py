"""Every declared FSM edge is taken by the delta-neutral task in some scenario, and
no scenario takes an undeclared one (checked from the stored journal)."""

from decimal import Decimal as D

from freezegun import freeze_time

from state.records import State, TaskStatus
from strategies.base import declared_edges

from .conftest import GS, MS, Harness, set_books, test_config
from .helpers import build

T0 = "2026-01-01 00:00:00"


async def _journal(h):
    return {(t.src, t.trigger, t.dst) for t in await h.store.transitions(h.task.task_id) if t.src != t.dst
            or not t.trigger.startswith("finish")}


async def _run(tmp_path, fakes, name, scenario, **cfg):
    h = Harness(tmp_path / f"{name}.sqlite", fakes, test_config(**cfg))
    try:
        with freeze_time(T0) as ft:
            await scenario(h, fakes, ft)
        edges = {e for e in await _journal(h) if not e[1].startswith("finish")}
        return edges
    finally:
        await h.close()


async def s_normal_then_duration_exit(h, fakes, ft):
    # start, synced, rebalance, orders_planned, orders_sent, orders_settled, idle, signal, trade, exit(MONITORING)
    set_books(fakes)
    await h.open()
    await build(h)
    ft.tick(1)
    fakes[GS].set_book("0.05100", "300", "0.05110", "1000")
    await h.run_until(lambda t: t.state is State.MONITORING and t.ledger.trades == 5, 10)
    ft.tick(60)
    set_books(fakes)
    await h.run_until(lambda t: t.status.is_terminal, 10)
    assert h.task.status is TaskStatus.COMPLETED


async def s_exit_from_analyzing(h, fakes, ft):
    set_books(fakes)
    await h.open()
    await h.run_until(lambda t: t.state is State.WAITING_ORDERS)
    ft.tick(31)
    set_books(fakes)
    await h.run_until(lambda t: t.state is State.ANALYZING)
    await h.step()
    assert h.task.state is State.COMPLETING
    await h.run_until(lambda t: t.status.is_terminal, 10)


async def s_exit_from_syncing(h, fakes, ft):
    await h.open()  # no books at all
    await h.step()
    ft.tick(121)
    await h.run_until(lambda t: t.status.is_terminal, 10)
    assert h.task.status is TaskStatus.HALTED and "fresh books" in h.task.context.halt_reason


async def s_stop_syncing(h, fakes, ft):
    task = await h.open()
    await h.step()
    task.request_stop(reason="user")
    await h.run_until(lambda t: t.status.is_terminal, 10)
    assert task.status is TaskStatus.STOPPED


async def s_stop_analyzing(h, fakes, ft):
    set_books(fakes)
    task = await h.open()
    await h.run_until(lambda t: t.state is State.ANALYZING)
    task.request_stop(reason="user")
    await h.run_until(lambda t: t.status.is_terminal, 10)


async def s_stop_rebalancing_and_nothing_to_do(h, fakes, ft):
    set_books(fakes)
    task = await h.open()
    await h.run_until(lambda t: t.state is State.REBALANCING)
    # books go stale between the decision and the plan: nothing_to_do
    for v in (GS, MS):
        fakes[v].set_book("0.04999", "1000", "0.05000", "1000", stale=True)
    await h.step()
    assert task.state is State.MONITORING
    set_books(fakes)
    await h.run_until(lambda t: t.state is State.REBALANCING)
    task.request_stop(reason="user")
    await h.run_until(lambda t: t.status.is_terminal, 10)


async def s_stop_monitoring(h, fakes, ft):
    set_books(fakes)
    task = await h.open()
    await build(h)
    task.request_stop(reason="duration")
    await h.run_until(lambda t: t.status.is_terminal, 10)
    assert task.status is TaskStatus.COMPLETED


async def s_pauses(h, fakes, ft):
    set_books(fakes)
    task = await h.open()
    await h.step()  # SYNCING
    task.request_pause()
    await h.step()
    assert task.state is State.IDLE and task.status is TaskStatus.PAUSED
    await h.run_until(lambda t: t.state is State.ANALYZING)
    task.request_pause()
    await h.step()
    assert task.state is State.IDLE
    await build(h)
    task.request_pause()
    await h.step()
    assert task.state is State.IDLE


SCENARIOS = {
    "normal": (s_normal_then_duration_exit, {"max_duration_s": 30.0}),
    "exit_analyzing": (s_exit_from_analyzing, {"max_duration_s": 30.0}),
    "exit_syncing": (s_exit_from_syncing, {}),
    "stop_syncing": (s_stop_syncing, {}),
    "stop_analyzing": (s_stop_analyzing, {}),
    "stop_rebalancing": (s_stop_rebalancing_and_nothing_to_do, {}),
    "stop_monitoring": (s_stop_monitoring, {}),
    "pauses": (s_pauses, {}),
}


async def test_every_declared_edge_is_taken_and_nothing_else(tmp_path, infos):
    from tests.fake_venue import FakeVenue

    from .conftest import GP

    taken = set()
    for name, (scenario, cfg) in SCENARIOS.items():
        fakes = {v: FakeVenue(infos[v], {"USDT": D(1000)}) for v in (GS, MS, GP)}
        taken |= await _run(tmp_path, fakes, name, scenario, **cfg)
    declared = declared_edges()
    assert taken <= declared, taken - declared
    assert taken == declared, f"never taken: {sorted(declared - taken)}"
