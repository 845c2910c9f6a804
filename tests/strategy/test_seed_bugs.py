"""One test per money-losing bug of docs/seed_origin_review.md section 7.2 (#5-#18),
each written so that the seed's behaviour would fail it."""

from decimal import Decimal as D

from freezegun import freeze_time

from exchanges.models import Fill, OrderType, Side, TimeInForce
from state.records import IntentStatus, State
from strategies.delta_neutral import policy as P
from strategies.delta_neutral.config import DeltaNeutralConfig
from strategies.delta_neutral.ledger import Ledger

from .conftest import GP, GS, MS, PREFIX, SYM, book, make_infos, set_books
from .helpers import assert_delta_within_tolerance, build, orders_of

T0 = "2026-01-01 00:00:00"
CFG = DeltaNeutralConfig()


def _orders_sent(fakes):
    return sum(len(f.place_calls) for f in fakes.values())


async def test_05_trades_on_current_spread_not_history(harness, fakes):
    """#5: 99 rich ticks then one negative tick must NOT trade on the negative tick."""
    with freeze_time(T0) as ft:
        set_books(fakes)
        await harness.open()
        await build(harness)
        n = _orders_sent(fakes)
        for _ in range(99):  # rich but each immediately replaced before the task looks
            fakes[GS].set_book("0.05300", "1000", "0.05310", "1000")
        ft.tick(0.1)
        fakes[GS].set_book("0.04990", "1000", "0.05000", "1000")  # current: negative spread
        fakes[MS].set_book("0.04995", "1000", "0.05005", "1000")
        for _ in range(4):
            await harness.step()
        assert _orders_sent(fakes) == n


async def test_06_unchanged_ticks_do_not_cancel_or_replace(harness, fakes):
    """#6: the seed cancelled and re-placed on every unchanged tick."""
    with freeze_time(T0) as ft:
        set_books(fakes)
        await harness.open()
        await build(harness)
        n = _orders_sent(fakes)
        for _ in range(20):
            ft.tick(0.1)
            set_books(fakes)
            await harness.step()
        assert _orders_sent(fakes) == n
        assert all(not f.cancel_calls for f in fakes.values())


async def test_07_perp_limit_orders_stay_limit_orders(harness, fakes):
    """#7: Gate futures limits became FOK market orders."""
    with freeze_time(T0):
        set_books(fakes)
        await harness.open()
        await build(harness)
    perp = orders_of(fakes[GP])
    assert perp and all(o.order_type is OrderType.LIMIT and o.tif is TimeInForce.IOC and o.price for o in perp)


async def test_08_no_forced_single_contract_no_ping_pong(harness, fakes):
    """#8: max(round(x), 1) over-hedged sub-contract deltas back and forth."""
    assert P.hedge_contracts(D("4"), make_infos()[GP]) == 0  # 0.4 contract: no order
    with freeze_time(T0) as ft:
        set_books(fakes)
        task = await harness.open()
        await build(harness)
        n = len(fakes[GP].place_calls)
        # a 4-base imbalance (below one 10-base contract) appears via a small arb leg mismatch
        task.ledger.position(GS).qty_base += D(4)
        for _ in range(10):
            ft.tick(0.5)
            set_books(fakes)
            await harness.step()
        assert len(fakes[GP].place_calls) == n


def test_09_fee_deduction_keeps_units_at_high_prices():
    """#9: sizes went negative above ~$1000 at a 0.1 % fee."""
    infos = make_infos(tick="0.01")
    sb, bb = book(GS, "2010", "2011", "5", "5"), book(MS, "1990", "2000", "5", "5")
    q = P.size_arb(sb, bb, infos[GS], infos[MS], D(5), D(1_000_000), D(1_000_000))
    assert q == D(5)


async def test_10_wallet_coins_are_not_the_position(harness, fakes):
    """#10: the seed hedged and traded the whole wallet."""
    fakes[MS].free["NEIROETH"] = D(500_000)
    with freeze_time(T0):
        set_books(fakes)
        task = await harness.open()
        await build(harness)
    assert task.ledger.inventory_base(MS) == D(2000)
    assert fakes[GP].position_contracts == D(-400)  # hedges 4000 bought, not 504000 held


async def test_11_startup_never_cancels_foreign_orders(harness, fakes):
    """#11: _cancel_all() on every start cancelled everything on the symbol."""
    for v in (GS, MS, GP):
        fakes[v].add_foreign_order("someone-else", Side.SELL, D(10), D("0.09"))
    with freeze_time(T0):
        set_books(fakes)
        await harness.open()
        await build(harness)
        await harness.crash_and_restart()
        for _ in range(3):
            await harness.step()
    assert all("someone-else" not in f.cancel_calls for f in fakes.values())


async def test_12_fills_booked_at_execution_price(harness, fakes):
    """#12: fills were booked at the limit price."""
    with freeze_time(T0):
        set_books(fakes)
        task = await harness.open()
        await build(harness)
    hedge = [o for o in orders_of(fakes[GP])][0]
    assert hedge.price < D("0.04999")  # the limit was priced through the bid...
    fills = [f for f in task.fills if f.client_order_id == hedge.client_order_id]
    assert fills and all(f.price == D("0.04999") for f in fills)  # ...the fill at the bid is what is booked
    assert task.ledger.position(GP).avg_price == D("0.04999")


async def test_13_hedge_side_read_from_the_position_sign(harness, fakes):
    """#13: delta assumed the hedge was short; a long perp was hedged the wrong way."""
    assert P.net_delta_base({GS: D(0), MS: D(0)}, D(5), D(10)) == D(50)
    with freeze_time(T0):
        set_books(fakes)
        task = await harness.open()
        await build(harness)
        # the task's perp ends LONG 20 contracts beyond its spot (e.g. a stray fill)
        task.ledger.apply_fill(Fill(GP, SYM, PREFIX + "900000", "manual-long", Side.BUY, D("0.05"), D(420),
                                    D(4200)))
        assert task.ledger.net_delta_base() == D(4200)
        set_books(fakes)
        await harness.run_until(lambda t: abs(t.ledger.net_delta_base()) <= 10, 10)
    last = fakes[GP].orders[fakes[GP].place_calls[-1]]
    assert last.side is Side.SELL  # long delta is reduced by SELLING the perp


def test_14_weighted_average_arguments_right_way_round():
    """#14: weighted-average arguments were swapped and qty_usdt = qty/price."""
    led = Ledger(base="NEIROETH")
    led.apply_fill(Fill(GS, SYM, "c", "1", Side.BUY, D("0.04"), D(100), D(100)))
    led.apply_fill(Fill(GS, SYM, "c", "2", Side.BUY, D("0.06"), D(300), D(300)))
    assert led.position(GS).avg_price == D("0.055")
    assert led.volume_usdt == D(4) + D(18)


def test_15_perp_leg_uses_perp_price_and_size_rules():
    """#15: the futures leg was priced and rounded with spot values."""
    infos = make_infos()
    pb = book(GP, "0.06000", "0.06010")
    h = P.hedge_order(D(-125), pb, infos[GP], D(0))
    assert h.venue == GP and h.qty == D(12) and h.price == D("0.06010")  # contracts, perp ask


async def test_16_hedged_while_orders_are_in_flight(harness, fakes):
    """#16: no hedging while something was in transit."""
    with freeze_time(T0):
        fakes[MS].hold_matching = True  # MEXC build order stays open
        set_books(fakes)
        task = await harness.open()
        await harness.run_until(lambda t: t.state is State.WAITING_ORDERS)
        await harness.step()
        assert any(i.status is IntentStatus.OPEN for i in task.intents.values())
        assert_delta_within_tolerance(task)  # Gate's filled build already hedged


async def test_17_funding_booked_and_reduce_only_close(harness, fakes):
    """#17: funding ignored, no reduce_only."""
    with freeze_time(T0) as ft:
        set_books(fakes)
        task = await harness.open()
        await build(harness)
        fakes[GP].pay_funding("-0.0002", "0.05")  # the short pays 4000 x 0.05 x 0.0002 = 0.04
        ft.tick(61)
        set_books(fakes)
        await harness.run_until(lambda t: t.ledger.funding_usdt != 0, 5)
        assert task.ledger.funding_usdt == D("-0.04")
        task.request_stop(flatten=True)
        await harness.run_until(lambda t: t.status.is_terminal, 30)
    assert all(o.reduce_only for o in orders_of(fakes[GP]) if o.side is Side.BUY)


async def test_18_timeouts_follow_the_project_clock(harness, fakes):
    """#18 (clock): time-based decisions use exchanges.clock, so a skewed/frozen clock is
    controlled in one place; an open order is only timed out when that clock says so."""
    with freeze_time(T0) as ft:
        fakes[MS].hold_matching = True
        set_books(fakes)
        await harness.open()
        await harness.run_until(lambda t: t.state is State.WAITING_ORDERS)
        for _ in range(3):
            await harness.step()
        assert not fakes[MS].cancel_calls
        ft.tick(5)
        await harness.step()
        assert fakes[MS].cancel_calls
