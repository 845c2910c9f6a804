"""Unknown outcomes, rejects, timeouts, single-leg policies and ledger/venue mismatch halts."""

from decimal import Decimal as D

import pytest
from freezegun import freeze_time

from exchanges.venue import OutcomeUnknown
from state.records import IntentStatus, State, TaskStatus
from strategies.alerts import AlertKind

from .conftest import GP, GS, MS, Harness, set_books, test_config
from .helpers import assert_delta_within_tolerance, assert_ledger_matches_venues, assert_no_duplicate_sends, build

T0 = "2026-01-01 00:00:00"
RICH_GATE = ("0.05100", "300", "0.05110", "1000")
#: both arb legs at once at their quotes (the single-leg policies are scripted by failing one of two
#: concurrent legs; sequential legs: tests/strategy/test_task_legs.py)
LEGACY_LEGS = {"arb_legs": "concurrent", "arb_slippage_bps": D(0)}
CONCURRENT = test_config(**LEGACY_LEGS)


async def _to_arb_send(h, fakes, ft):
    set_books(fakes)
    task = await h.open()
    await build(h)
    ft.tick(1)
    fakes[GS].set_book(*RICH_GATE)
    await h.run_until(lambda t: t.state is State.MANAGING_ORDERS)
    return task


async def test_accepted_but_response_lost_is_resolved_by_query(harness, fakes):
    with freeze_time(T0) as ft:
        fakes_gs = fakes[GS]
        task = await _to_arb_send(harness, fakes, ft)
        fakes_gs.fail_next_place("unknown_accepted")
        fakes_gs.auto_deliver = False  # the private stream is down too: only a query can tell
        await harness.step()  # MANAGING_ORDERS -> WAITING_ORDERS
        sell_cid = task.context.arb.sell_cid
        assert task.intents[sell_cid].status is IntentStatus.UNKNOWN
        await harness.run_until(lambda t: t.state is State.MONITORING, 10)
        assert task.intents[sell_cid].status is IntentStatus.FILLED
        assert fakes_gs.place_calls.count(sell_cid) == 1  # never re-sent
        assert fakes_gs.calls["get_order"] >= 1 and fakes_gs.calls["order_fills"] >= 1
        assert_ledger_matches_venues(task, fakes)
        assert_delta_within_tolerance(task)


async def test_lost_request_times_out_unresolved_and_is_never_resent(harness, fakes):
    with freeze_time(T0) as ft:
        task = await _to_arb_send(harness, fakes, ft)
        fakes[GS].fail_next_place("unknown_lost")
        await harness.step()
        sell_cid = task.context.arb.sell_cid
        for _ in range(3):  # the venue does not know it yet: still unknown, still waiting
            await harness.step()
        assert task.state is State.WAITING_ORDERS
        assert task.intents[sell_cid].status is IntentStatus.UNKNOWN
        ft.tick(6)  # past order_timeout_s: declared never placed
        await harness.run_until(lambda t: t.state is State.MONITORING, 10)
        assert task.intents[sell_cid].status is IntentStatus.NOT_SENT
        assert fakes[GS].place_calls.count(sell_cid) == 1
        assert_no_duplicate_sends(fakes)
        assert_delta_within_tolerance(task)  # the bought leg was hedged
        stored = {i.client_order_id: i for i in await harness.store.intents(task.task_id)}
        assert stored[sell_cid].status is IntentStatus.NOT_SENT


async def test_open_order_times_out_is_canceled_then_queried_never_resent(harness, fakes):
    harness.config = CONCURRENT  # both legs left open by the venues
    with freeze_time(T0) as ft:
        task = await _to_arb_send(harness, fakes, ft)
        fakes[GS].hold_matching = True
        fakes[MS].hold_matching = True
        await harness.step()
        for _ in range(2):
            await harness.step()
        assert task.state is State.WAITING_ORDERS
        ft.tick(5)
        fakes[GS].fail_next("cancel_order", OutcomeUnknown("timeout"))
        await harness.step()  # Gate cancel times out: still open, retried next step
        await harness.run_until(lambda t: t.state is State.MONITORING, 10)
        for cid in (task.context.batch or []):
            assert task.intents[cid].status.is_final
        arb_cids = [c for c, i in task.intents.items() if i.leg.startswith("arb")]
        assert all(task.intents[c].status is IntentStatus.CANCELED for c in arb_cids)
        assert_no_duplicate_sends(fakes)
        assert sum(fakes[v].cancel_calls.count(c) for v in (GS, MS) for c in arb_cids) >= 2


async def test_repeated_unknown_outcomes_halt(harness, fakes):
    with freeze_time(T0) as ft:
        set_books(fakes)
        task = await harness.open()
        for v in (GS, MS):
            for _ in range(3):
                fakes[v].fail_next_place("unknown_lost")
        for _ in range(8):
            for _ in range(8):
                await harness.step()
            if task.status.is_terminal:
                break
            ft.tick(6)  # unknown sends time out as never placed
            set_books(fakes)
    assert task.status is TaskStatus.HALTED
    assert "unknown outcome" in task.context.halt_reason
    assert_no_duplicate_sends(fakes)


@pytest.mark.parametrize("policy", ["hedge", "complete", "reverse"])
async def test_single_leg_under_each_policy_keeps_delta_in_tolerance(tmp_path, fakes, policy):
    h = Harness(tmp_path / "db.sqlite", fakes, test_config(single_leg_policy=policy, **LEGACY_LEGS))
    try:
        with freeze_time(T0) as ft:
            task = await _to_arb_send(h, fakes, ft)
            alerts = []
            task.alert_sink = lambda kind, message, **fields: alerts.append((kind, message, fields))
            fakes[MS].fail_next_place("reject")  # the buy leg is refused: single leg
            await h.step()
            await h.run_until(lambda t: t.state is State.ANALYZING, 5)
            assert_delta_within_tolerance(task)  # hedged at once, whatever the policy
            assert [(k, f["sell_venue"], f["imbalance_base"]) for k, _m, f in alerts] == [
                (AlertKind.SINGLE_LEG, "gate_spot", "-300")]
            await h.run_until(lambda t: t.state is State.MONITORING and t.context.single_leg is None, 20)
            assert_delta_within_tolerance(task)
            total = task.ledger.inventory_base(GS) + task.ledger.inventory_base(MS)
            if policy == "hedge":
                assert total == D(3700)  # the sale stands, hedged on the perp
                assert task.ledger.inventory_base(GP) == D(-3700)
            elif policy == "complete":  # bought the missing 300 on MEXC
                assert task.ledger.spot_inventory() == {GS: D(1700), MS: D(2300)}
                assert task.ledger.inventory_base(GP) == D(-4000)
            else:  # bought the 300 back on Gate
                assert task.ledger.spot_inventory() == {GS: D(2000), MS: D(2000)}
                assert task.ledger.inventory_base(GP) == D(-4000)
            assert_ledger_matches_venues(task, fakes)
            assert_no_duplicate_sends(fakes)
    finally:
        await h.close()


async def test_single_leg_gives_up_after_timeout_and_stays_hedged(tmp_path, fakes):
    h = Harness(tmp_path / "db.sqlite", fakes, test_config(single_leg_policy="complete", single_leg_timeout_s=5.0,
                                                                 **LEGACY_LEGS))
    try:
        with freeze_time(T0) as ft:
            task = await _to_arb_send(h, fakes, ft)
            fakes[MS].fail_next_place("reject")
            await h.step()
            await h.run_until(lambda t: t.state is State.ANALYZING, 5)
            # MEXC runs away beyond the 30 bps price limit: no completion possible
            fakes[MS].set_book("0.05200", "1000", "0.05300", "1000")
            await h.run_until(lambda t: t.state is State.MONITORING, 5)
            assert task.context.single_leg is not None
            ft.tick(6)
            set_books(fakes, gs=("0.05300", "0.05310"), ms=("0.05200", "0.05300"), gp=("0.05250", "0.05260"))
            await h.run_until(lambda t: t.context.single_leg is None and t.state is State.MONITORING, 10)
            assert_delta_within_tolerance(task)
            assert "single leg" in task.last_error
    finally:
        await h.close()


async def test_venue_balance_below_ledger_halts_with_reason(harness, fakes):
    with freeze_time(T0):
        set_books(fakes)
        task = await harness.open()
        await build(harness)
        fakes[MS].free["NEIROETH"] = D(100)  # someone withdrew our coins
        task = await harness.crash_and_restart()
        await harness.run_until(lambda t: t.status.is_terminal, 10)
    assert task.status is TaskStatus.HALTED
    assert "mexc_spot: venue holds 100" in task.context.halt_reason
    rec = await harness.store.get_task(task.task_id)
    assert rec.status is TaskStatus.HALTED
    journal = await harness.store.transitions(task.task_id)
    assert any("mexc_spot" in t.reason for t in journal)


async def test_perp_position_smaller_than_ledger_halts(harness, fakes):
    with freeze_time(T0):
        set_books(fakes)
        task = await harness.open()
        await build(harness)
        fakes[GP].position_contracts = D(-100)  # liquidated / closed by hand
        task = await harness.crash_and_restart()
        await harness.run_until(lambda t: t.status.is_terminal, 10)
    assert task.status is TaskStatus.HALTED and "gate_perp" in task.context.halt_reason
