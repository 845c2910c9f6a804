"""Restart from each of the nine states: a crash (no shutdown) and a new task object
on the same SQLite file resumes correctly: nothing is sent twice, the ledger equals
the venues' record of our fills, delta ends within tolerance."""

from decimal import Decimal as D

import pytest
from freezegun import freeze_time

from state.records import IntentStatus, State, TaskStatus
from strategies.execution.fence import CLOCK_SKEW_MARGIN_MS, SEND_WINDOW_MS

from .conftest import GP, GS, MS, set_books
from .helpers import assert_delta_within_tolerance, assert_ledger_matches_venues, assert_no_duplicate_sends, build

T0 = "2026-01-01 00:00:00"
#: a new owner declares an unsent intent never-placed only after its send deadline (plus the clock
#: skew margin) has passed: a resume this much later settles every intent of the crashed process
RESUME_WAIT_S = (SEND_WINDOW_MS + CLOCK_SKEW_MARGIN_MS) / 1000 + 1


class Crash(BaseException):
    """Simulated process death inside a venue call."""


def crash_on_next_place(fake, after_accept: bool) -> None:
    orig = fake.place_order

    async def place(req):
        fake.place_order = orig
        if after_accept:
            await orig(req)
        else:
            fake.place_calls.append(req.client_order_id)  # it may have left the process
        raise Crash()

    fake.place_order = place


async def _finish_checks(h, fakes, expect_built=True):
    task = h.task
    for _ in range(3):  # at least the reconciling first steps
        await h.step()
    await h.run_until(lambda t: t.state is State.MONITORING and not t.context.building, 40)
    assert_no_duplicate_sends(fakes)
    assert_ledger_matches_venues(task, fakes)
    assert_delta_within_tolerance(task)
    if expect_built:
        assert task.ledger.inventory_base(GS) >= D(1900) and task.ledger.inventory_base(MS) >= D(1900)
    assert not task.unresolved_intents()


@pytest.mark.parametrize("state", ["IDLE", "SYNCING", "ANALYZING", "REBALANCING", "MANAGING_ORDERS",
                                   "WAITING_ORDERS", "MONITORING"])
async def test_restart_from_running_states(harness, fakes, state):
    with freeze_time(T0) as ft:
        set_books(fakes)
        await harness.open()
        if state == "MONITORING":
            await build(harness)
        else:
            await harness.run_until(lambda t: t.state.value == state, 10)
        if state == "WAITING_ORDERS":
            assert harness.task.state is State.WAITING_ORDERS
        stored = await harness.store.get_task(harness.task.task_id)
        assert stored.state.value == state
        await harness.crash_and_restart()
        assert harness.task.state.value == state
        ft.tick(RESUME_WAIT_S)
        set_books(fakes)
        await _finish_checks(harness, fakes)


async def test_restart_in_managing_orders_before_send_never_sends(harness, fakes):
    with freeze_time(T0) as ft:
        set_books(fakes)
        task = await harness.open()
        await harness.run_until(lambda t: t.state is State.MANAGING_ORDERS)
        batch = list(task.context.batch)
        crash_on_next_place(fakes[GS], after_accept=False)
        with pytest.raises(Crash):
            await harness.step()
        task = await harness.crash_and_restart()
        assert task.state is State.MANAGING_ORDERS
        gs_cid = [c for c in batch if task.intents[c].venue is GS][0]
        await harness.step()  # reconcile before the send deadline: "no such order" proves nothing yet
        assert task.intents[gs_cid].status is IntentStatus.NEW and task.state is State.MANAGING_ORDERS
        ft.tick(RESUME_WAIT_S)
        set_books(fakes)
        await harness.step()  # reconcile: both resolved by query, nothing re-sent
        for cid in batch:
            assert task.intents[cid].status.is_final
        assert task.intents[gs_cid].status is IntentStatus.NOT_SENT
        await _finish_checks(harness, fakes)


async def test_restart_after_accept_before_commit_books_the_fill(harness, fakes):
    """Crash between the venue accepting (and filling) an order and our commit."""
    with freeze_time(T0):
        set_books(fakes)
        task = await harness.open()
        await harness.run_until(lambda t: t.state is State.MANAGING_ORDERS)
        batch = list(task.context.batch)
        crash_on_next_place(fakes[MS], after_accept=True)
        with pytest.raises(Crash):
            await harness.step()
        task = await harness.crash_and_restart()
        assert set(batch) <= set(task.open_intent_ids)  # loaded unresolved: the next pass settles them
        await harness.step()
        ms_cid = [c for c in batch if task.intents[c].venue is MS][0]
        assert task.intents[ms_cid].status is IntentStatus.FILLED
        assert fakes[MS].place_calls.count(ms_cid) == 1
        await _finish_checks(harness, fakes)


async def test_restart_after_hedge_journaled_before_send(harness, fakes):
    with freeze_time(T0) as ft:
        set_books(fakes)
        task = await harness.open()
        await harness.run_until(lambda t: t.state is State.WAITING_ORDERS)
        crash_on_next_place(fakes[GP], after_accept=False)
        with pytest.raises(Crash):
            await harness.step()
        stored = await harness.store.intents(task.task_id)
        hedge = [i for i in stored if i.leg == "hedge"]
        assert hedge and hedge[0].status is IntentStatus.NEW  # journaled before the send
        task = await harness.crash_and_restart()
        ft.tick(RESUME_WAIT_S)
        set_books(fakes)
        await _finish_checks(harness, fakes)
        assert task.intents[hedge[0].client_order_id].status is IntentStatus.NOT_SENT


@pytest.mark.parametrize("state", ["COMPLETING", "FINALIZING"])
async def test_restart_while_completing_or_finalizing(harness, fakes, state):
    with freeze_time(T0):
        set_books(fakes)
        task = await harness.open()
        await build(harness)
        task.request_stop(flatten=True, reason="user")
        await harness.run_until(lambda t: t.state.value == state, 10)
        if state == "COMPLETING":
            # the unwind is journaled and sent; crash in the middle of it
            await harness.step()
        task = await harness.crash_and_restart()
        assert task.state.value == state and task.context.stop_requested
        await harness.run_until(lambda t: t.status.is_terminal, 30)
    assert task.status is TaskStatus.STOPPED
    assert_no_duplicate_sends(fakes)
    assert_ledger_matches_venues(task, fakes)
    assert task.ledger.inventory_base(GS) == 0 and task.ledger.inventory_base(GP) == 0
    rec = await harness.store.get_task(task.task_id)
    assert rec.status is TaskStatus.STOPPED and "net" in task.context.summary
