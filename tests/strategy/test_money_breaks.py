"""Regression tests for the money bugs found on review (issue "Execution core", breaks 3-6):
funding settled near the end, attribution by the position at settlement, a filled but unbooked
hedge sent again, base-coin fees valued inconsistently, halts that hang."""

from __future__ import annotations

from decimal import Decimal as D

from freezegun import freeze_time

from exchanges import clock
from exchanges.models import Fill, FundingPayment, Side
from exchanges.venue import OutcomeUnknown, RateLimited
from state.records import FillRecord, IntentStatus, State, TaskStatus
from strategies.delta_neutral.ledger import Ledger
from strategies.execution.reconcile import attribute_funding

from .conftest import GP, GS, MS, SYM, set_books, test_config
from .helpers import assert_delta_within_tolerance, build

T0 = "2026-01-01 00:00:00"


# ---- break 5: base-coin fees ---------------------------------------------------------------


def test_base_fee_is_valued_at_the_cost_that_leaves_the_position():
    """Buy 1000 at 1.0 and 1000 at 2.0, 1 base coin fee each, marked at 2.0: cash flows say
    -3000 USDT + 1998 coins x 2.0 = 996; the ledger must say the same (was 995.5003)."""
    led = Ledger(base="NEIROETH")
    for tid, price in (("1", "1.0"), ("2", "2.0")):
        led.apply_fill(Fill(GS, SYM, "arbX", tid, Side.BUY, D(price), D(1000), D(1000), D(1), "NEIROETH"))
    assert led.inventory_base(GS) == D(1998)
    assert abs(led.net_pnl_usdt({GS: D("2.0")}) - D(996)) < D("1e-20")


# ---- break 3: funding booked up to the end, by the position at settlement ------------------


def _rec(ts_ms: int, side: Side, qty_base: str, trade_id: str) -> FillRecord:
    return FillRecord(task_id="t", venue=GP, trade_id=trade_id, client_order_id="arbt1", side=side,
                      price=D("0.05"), qty=D(qty_base) / 10, qty_base=D(qty_base), ts_ms=ts_ms)


def test_funding_is_attributed_by_the_position_at_the_settlement():
    """The account also holds a foreign short of 1000 base. At the settlement (t=100) the task was
    short 2000 of the venue's 3000; by the poll it is short 3000 of 4000. Its share is 2/3, not 3/4."""
    fills = [_rec(50, Side.SELL, "2000", "a"), _rec(150, Side.SELL, "1000", "b")]
    pay = FundingPayment(GP, SYM, D("0.3"), D("0.0001"), 100)
    (rec,) = attribute_funding("t", GP, [pay], fills, venue_position_base_now=D(-4000))
    assert rec.amount_usdt == D("0.3") * D(2) / D(3)
    # a settlement before the task held anything is not the task's
    (early,) = attribute_funding("t", GP, [FundingPayment(GP, SYM, D("0.3"), D("0.0001"), 10)], fills, D(-4000))
    assert early.amount_usdt == 0


async def test_funding_settled_just_before_the_stop_is_booked(harness, fakes):
    """A settlement paid after the last periodic poll and just before the stop is in the final
    PnL: FINALIZING polls once more (it used to poll only in MONITORING, every 60 s)."""
    with freeze_time(T0) as ft:
        set_books(fakes)
        task = await harness.open()
        await build(harness)
        ft.tick(30)
        set_books(fakes)
        await harness.run_until(lambda t: t.state is State.MONITORING)
        first = fakes[GP].pay_funding("0.0001", "0.05")
        ft.tick(31)  # past the periodic poll
        set_books(fakes)
        await harness.run_until(lambda t: t.funding, 20)
        ft.tick(10)
        set_books(fakes)
        last = fakes[GP].pay_funding("0.0002", "0.05")  # 10 s before the end: no periodic poll
        task.request_stop(reason="duration")
        await harness.run_until(lambda t: t.status.is_terminal, 30)
    assert task.status is TaskStatus.COMPLETED
    paid = first.amount + last.amount
    assert paid > 0 and task.ledger.funding_usdt == paid
    assert sorted(f.ts_ms for f in task.funding) == sorted([first.ts_ms, last.ts_ms])
    stored = await harness.store.get_task(task.task_id)
    assert D(msgspec_pnl(stored)["funding_usdt"]) == paid


def msgspec_pnl(record) -> dict:
    import json

    return json.loads(record.pnl)


# ---- break 4: a filled but unbooked hedge is not sent again --------------------------------


async def test_filled_hedge_whose_fills_are_not_booked_is_not_sent_again(harness, fakes):
    """The venue answers "filled" for the hedge, but its fills arrive late (private stream down,
    trade history rate-limited): the hedge is in neither the ledger nor the old in-flight total,
    and each WAITING_ORDERS step sent another one."""
    with freeze_time(T0) as ft:
        set_books(fakes)
        fakes[GP].auto_deliver = False
        for _ in range(30):
            fakes[GP].fail_next("order_fills", RateLimited("429", venue="gate_perp"))
        task = await harness.open()
        await harness.run_until(lambda t: any(i.venue is GP for i in t.intents.values()), 30)
        hedge = next(i for i in task.intents.values() if i.venue is GP)
        assert hedge.status is IntentStatus.FILLED and task.ledger.inventory_base(GP) == 0
        for _ in range(12):  # WAITING_ORDERS keeps asking for the fills meanwhile
            await harness.step()
        assert [c for c in fakes[GP].place_calls] == [hedge.client_order_id]
        fakes[GP].auto_deliver = True
        fakes[GP].deliver_events()
        fakes[GP]._faults.clear()
        ft.tick(1)
        set_books(fakes)
        await build(harness)
    assert_delta_within_tolerance(task)


# ---- break 6: halts never hang ---------------------------------------------------------------


def _unreachable(fake) -> None:
    """The venue is gone (process killed): every call fails, its book goes stale."""

    async def down(*_args, **_kwargs):
        raise OutcomeUnknown("connection refused", venue=fake.venue_id.value)

    for name in ("place_order", "cancel_order", "get_order", "order_fills", "open_orders", "balances",
                 "positions", "funding_rate", "funding_payments", "symbol_info"):
        setattr(fake, name, down)
    if fake.book is not None:
        fake.set_book(fake.book.bid, fake.book.bid_qty, fake.book.ask, fake.book.ask_qty, stale=True)


async def test_stale_books_halt_names_the_venue_and_ends_within_the_budget(harness, fakes):
    cfg = test_config(stale_halt_s=10.0)
    harness.config = cfg
    with freeze_time(T0) as ft:
        set_books(fakes)
        task = await harness.open()
        await build(harness)
        halted_at = None
        for _ in range(40):
            ft.tick(1)
            fakes[GS].set_book("0.04999", "100000", "0.05000", "100000")
            fakes[GP].set_book("0.04999", "100000", "0.05001", "100000")  # MEXC's stream froze
            for _ in range(3):
                await harness.step()
            if task.context.halt_reason and halted_at is None:
                halted_at = clock.now_ms()
            if task.status.is_terminal:
                break
        assert task.status is TaskStatus.HALTED
        assert task.context.halt_reason.startswith("books stale on mexc_spot for 1")
        assert clock.now_ms() - halted_at <= max(cfg.order_timeout_s, 30) * 1000
    assert (await harness.store.get_task(task.task_id)).last_error == task.context.halt_reason


async def test_stop_with_the_venues_gone_ends_halted_leaving_intents_to_the_resume(harness, fakes):
    """The simulator is killed while an order of ours is open; a stop must not hang in COMPLETING
    (it waited forever and was left 'stopping'): it ends halted, the reason is the first one, the
    open intent is left for the resume, and a resume settles it and keeps the reason."""
    with freeze_time(T0) as ft:
        set_books(fakes)
        task = await harness.open()
        await build(harness)
        fakes[GS].hold_matching = True  # the next order rests at the venue
        ft.tick(1)
        fakes[GS].set_book("0.05100", "300", "0.05110", "1000")
        await harness.run_until(lambda t: t.state is State.WAITING_ORDERS, 20)
        resting = [i for i in task.unresolved_intents() if i.venue is GS]
        assert resting
        saved = {v: {n: getattr(f, n) for n in ("cancel_order", "get_order", "order_fills", "open_orders",
                                                 "balances", "positions", "funding_rate", "funding_payments",
                                                 "symbol_info", "place_order")} for v, f in fakes.items()}
        for f in fakes.values():
            _unreachable(f)
        task.request_stop(reason="duration")
        stop_ms = clock.now_ms()
        for _ in range(80):
            ft.tick(1)
            await harness.step()
            if task.status.is_terminal:
                break
        assert task.status is TaskStatus.HALTED, (task.state, task.status, task.last_error)
        assert clock.now_ms() - stop_ms <= (task.stop_budget_s() + 1) * 1000
        reason = task.context.halt_reason
        assert reason and "order(s)" in reason or "cannot reach" in reason
        assert resting[0].client_order_id in {i.client_order_id for i in task.unresolved_intents()}
        # the venues come back; the resume settles what the halt left and keeps its reason
        for v, f in fakes.items():
            for name, fn in saved[v].items():
                setattr(f, name, fn)
        fakes[GS].hold_matching = False
        await harness.store.set_status(task.task_id, TaskStatus.STOPPING, "resumed", owner_id="owner-1")
        task = await harness.crash_and_restart()
        ft.tick(1)
        set_books(fakes)
        await harness.run_until(lambda t: t.status.is_terminal, 20)
    assert task.status is TaskStatus.HALTED and task.context.halt_reason == reason
    assert not task.unresolved_intents()
    assert (await harness.store.get_task(task.task_id)).last_error == reason
