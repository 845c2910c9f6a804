"""Pure rules of issue "Strategy on real markets": leg order and pricing, the inventory floor, the
totals restore, hedgeable-or-refused, pair outcomes and the residual below one contract."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchanges.models import Side, TimeInForce
from strategies.delta_neutral import hedgeable, inventory, legs, policy, report
from strategies.delta_neutral.policy import ArbPlan

from .conftest import GP, GS, MS, book, make_infos, test_config

INFOS = make_infos()
prices = st.decimals(min_value=D("0.01"), max_value=D("0.1"), places=6)
bps = st.decimals(min_value=D(0), max_value=D(200), places=2)


def quote(venue, side, qty="1000", age=0):
    return legs.LegQuote(venue, side, D(qty), age)


# ---- which leg first ---------------------------------------------------------------------------


def test_the_leg_on_the_laggier_book_goes_first():
    assert legs.first_side(quote(GS, Side.SELL, age=90), quote(MS, Side.BUY, age=5)) is Side.SELL
    assert legs.first_side(quote(GS, Side.SELL, age=5), quote(MS, Side.BUY, age=90)) is Side.BUY


def test_equally_laggy_books_send_the_thinner_quote_first_then_the_sell():
    tie = legs.LAG_TIE_MS
    assert legs.first_side(quote(GS, Side.SELL, "5000", 10), quote(MS, Side.BUY, "300", 10 + tie)) is Side.BUY
    assert legs.first_side(quote(GS, Side.SELL, "300", 10 + tie), quote(MS, Side.BUY, "5000", 10)) is Side.SELL
    assert legs.first_side(quote(GS, Side.SELL, "300", 10), quote(MS, Side.BUY, "300", 10)) is Side.SELL


@given(sell_age=st.integers(0, 10_000), buy_age=st.integers(0, 10_000))
def test_first_side_is_the_older_book_whenever_they_differ_beyond_the_tie(sell_age, buy_age):
    side = legs.first_side(quote(GS, Side.SELL, age=sell_age), quote(MS, Side.BUY, age=buy_age))
    if abs(sell_age - buy_age) > legs.LAG_TIE_MS:
        assert side is (Side.SELL if sell_age > buy_age else Side.BUY)


# ---- slippage --------------------------------------------------------------------------------------


@given(edge=st.decimals(min_value=D(-50), max_value=D(500), places=2), wanted=bps, n=st.integers(1, 2))
def test_slippage_never_spends_more_than_half_the_edge(edge, wanted, n):
    slip = legs.slippage_bps(edge, wanted, n)
    assert D(0) <= slip <= wanted
    assert slip * n <= max(edge, D(0)) * legs.MAX_EDGE_SPENT


@given(price=prices, slip=bps, side=st.sampled_from([Side.BUY, Side.SELL]))
def test_through_price_moves_through_the_quote_by_at_most_the_slippage(price, slip, side):
    tick = D("0.000001")
    out = legs.through_price(price, side, slip, tick)
    assert out % tick == 0
    moved_bps = (out - price) / price * policy.BPS * (1 if side is Side.BUY else -1)
    assert D(0) <= moved_bps <= slip  # through the quote, never further (rounded on the passive side)


def _arb(edge="40", qty="300"):
    return ArbPlan(GS, MS, D(qty), D("0.05100"), D("0.05000"), D(edge))


def test_sequential_plan_first_leg_fok_at_its_quote_second_ioc_through_its_quote():
    cfg = test_config(arb_slippage_bps=D(10))
    plan = legs.plan_arb_legs(_arb(), quote(GS, Side.SELL, age=80), quote(MS, Side.BUY, age=2), INFOS, D(1000), cfg)
    assert plan is not None and plan.first is Side.SELL
    assert (plan.sell.tif, plan.sell.price, plan.sell.leg) == (TimeInForce.FOK, D("0.05100"), "arb_sell")
    assert (plan.buy.tif, plan.buy.price, plan.buy.leg) == (TimeInForce.IOC, D("0.050050"), "arb_buy")
    assert plan.ordered == (plan.sell, plan.buy) and plan.sell.qty == plan.buy.qty == D(300)


def test_concurrent_plan_both_ioc_each_half_the_slippage():
    cfg = test_config(arb_legs="concurrent", arb_slippage_bps=D(10))
    plan = legs.plan_arb_legs(_arb(), quote(GS, Side.SELL), quote(MS, Side.BUY), INFOS, D(1000), cfg)
    assert plan is not None and plan.first is None
    assert plan.sell.tif is TimeInForce.IOC and plan.buy.tif is TimeInForce.IOC
    assert plan.sell.price == D("0.050949") and plan.buy.price == D("0.050050")  # 10 bps each, tick-rounded
    legacy = legs.plan_arb_legs(_arb(), quote(GS, Side.SELL), quote(MS, Side.BUY), INFOS, D(1000),
                                test_config(arb_legs="concurrent", arb_slippage_bps=D(0)))
    assert (legacy.sell.price, legacy.buy.price) == (D("0.05100"), D("0.05000"))  # the old behaviour


def test_slipped_buy_is_resized_to_the_free_quote_or_dropped():
    cfg = test_config(arb_slippage_bps=D(10))
    sell_first = (quote(GS, Side.SELL, age=80), quote(MS, Side.BUY, age=0))
    plan = legs.plan_arb_legs(_arb(qty="300"), *sell_first, INFOS, D("10"), cfg)
    assert plan is not None and plan.buy.qty * plan.buy.price * (1 + INFOS[MS].taker_fee_rate) <= D(10)
    assert plan.sell.qty == plan.buy.qty == D(199)
    assert legs.plan_arb_legs(_arb(qty="300"), *sell_first, INFOS, D("2"), cfg) is None  # under Gate's 3 USDT


# ---- inventory floor ---------------------------------------------------------------------------------


def test_floor_is_the_share_of_the_larger_of_target_now_and_at_build_up():
    cfg = test_config(min_inventory_fraction=D("0.3"))
    targets = {GS: D(1900), MS: D(2100)}
    floors = inventory.inventory_floors(cfg, targets, {GS: D(2000), MS: D(2000)})
    assert floors == {GS: D(600), MS: D(630)}
    assert inventory.sellable_base({GS: D(700), MS: D(500)}, floors) == {GS: D(100), MS: D(0)}


@settings(max_examples=200, deadline=None)
@given(inv_gs=st.integers(0, 4000), inv_ms=st.integers(0, 4000), gs_bid=prices, ms_ask=prices,
       depth=st.integers(1, 10_000), frac=st.decimals(min_value=D("0.05"), max_value=D("0.9"), places=2))
def test_an_arb_never_sells_a_venue_below_its_floor(inv_gs, inv_ms, gs_bid, ms_ask, depth, frac):
    cfg = test_config(min_inventory_fraction=frac, rebalance_trigger_fraction=max(frac, D("0.8")),
                      entry_threshold_bps=D(0), max_order_usdt=D(1000))
    books = {GS: book(GS, str(gs_bid), str(gs_bid + D("0.000002")), str(depth), str(depth)),
             MS: book(MS, str(ms_ask - D("0.000002")), str(ms_ask), str(depth), str(depth))}
    inv = {GS: D(inv_gs), MS: D(inv_ms)}
    targets = policy.spot_targets_base(cfg, {v: b.mid for v, b in books.items()})
    floors = inventory.inventory_floors(cfg, targets)
    arb = policy.best_arb(books, INFOS, inventory.sellable_base(inv, floors), {GS: D(10_000), MS: D(10_000)}, cfg)
    if arb is not None:
        assert inv[arb.sell_venue] - arb.qty_base >= floors[arb.sell_venue]


# ---- totals restore ------------------------------------------------------------------------------------


def _books(gs=("0.04999", "0.05000"), ms=("0.04999", "0.05000")):
    return {GS: book(GS, *gs), MS: book(MS, *ms), GP: book(GP, "0.04999", "0.05001")}


def test_within_tolerance_no_restore():
    cfg = test_config(build_tolerance_fraction=D("0.05"))
    inv = {GS: D(2000), MS: D(1850)}  # 3850 of ~4000: 3.8 % short
    assert inventory.totals_restore_order(_books(), INFOS, inv, {}, {GS: D(1000), MS: D(1000)}, cfg) is None


def test_short_total_is_bought_on_the_cheapest_venue_after_fees():
    cfg = test_config(build_tolerance_fraction=D("0.05"))
    inv = {GS: D(2000), MS: D(1500)}  # 500.4 short of 2 x 2000.2 (100 USDT each at mid 0.049995)
    # equal asks: MEXC's 0.05 % taker beats Gate's 0.1 %
    o = inventory.totals_restore_order(_books(), INFOS, inv, {}, {GS: D(1000), MS: D(1000)}, cfg)
    assert (o.venue, o.side, o.leg, o.price) == (MS, Side.BUY, "restore_buy", D("0.05000"))
    assert o.qty == D("500.40")  # MEXC's 0.01 step
    # a cheaper Gate ask wins despite its fee
    o = inventory.totals_restore_order(_books(gs=("0.04980", "0.04990")), INFOS, inv, {},
                                       {GS: D(1000), MS: D(1000)}, cfg)
    assert o.venue is GS and o.qty == D(506)  # 2006.0 (100 USDT at mid 0.04985) + 2000.2 - 3500, step 1


def test_long_total_is_sold_where_the_bid_is_best_and_never_below_the_floor():
    cfg = test_config(build_tolerance_fraction=D("0.05"))
    inv = {GS: D(2600), MS: D(2000)}  # 600 above target
    o = inventory.totals_restore_order(_books(gs=("0.05010", "0.05011")), INFOS, inv, {GS: D(2300), MS: D(0)},
                                       {}, cfg)
    assert (o.venue, o.side, o.leg) == (GS, Side.SELL, "restore_sell") and o.qty == D(300)  # floor 2300 holds


@settings(max_examples=200, deadline=None)
@given(inv_gs=st.integers(0, 6000), inv_ms=st.integers(0, 6000), gs_mid=prices, ms_mid=prices)
def test_restore_moves_the_total_toward_target_without_overshooting(inv_gs, inv_ms, gs_mid, ms_mid):
    cfg = test_config(build_tolerance_fraction=D("0.05"), max_order_usdt=D(1000))
    books = _books(gs=(str(gs_mid), str(gs_mid + D("0.000001"))), ms=(str(ms_mid), str(ms_mid + D("0.000001"))))
    inv = {GS: D(inv_gs), MS: D(inv_ms)}
    targets = policy.spot_targets_base(cfg, {v: books[v].mid for v in (GS, MS)})
    floors = inventory.inventory_floors(cfg, targets)
    deviation = inventory.totals_deviation_base(inv, targets, cfg)
    o = inventory.totals_restore_order(books, INFOS, inv, floors, {GS: D(10_000), MS: D(10_000)}, cfg)
    if deviation == 0:
        assert o is None
        return
    if o is not None:
        signed = o.qty if o.side is Side.BUY else -o.qty
        assert (signed > 0) == (deviation < 0) and abs(signed) <= abs(deviation)
        if o.side is Side.SELL:
            assert inv[o.venue] - o.qty >= floors[o.venue]


# ---- hedgeable or refused --------------------------------------------------------------------------------


@given(mult=st.decimals(min_value=D("0.001"), max_value=D(10_000_000), places=3),
       price=st.decimals(min_value=D("0.0000001"), max_value=D(100_000), places=7),
       frac=st.decimals(min_value=D("0.01"), max_value=D(1), places=2))
def test_smallest_position_is_the_least_whole_usdt_that_carries_one_contract(mult, price, frac):
    least = hedgeable.smallest_position_usdt(mult, price, frac)
    assert least == least.to_integral_value() and least >= 1
    assert mult * price <= frac * least  # it works
    if least > 1:
        assert mult * price > frac * (least - 1)  # one USDT less does not


def test_refusal_names_the_smallest_position_and_acceptance_is_silent():
    small = test_config(position_usdt=D(2), max_unhedged_fraction=D("0.1"))
    line = hedgeable.hedge_refusal(small, D(10), D("0.0495"), "NEIROETH_USDT")
    assert line is not None and "\n" not in line
    assert line.startswith("position_usdt: 2 cannot be hedged") and line.endswith("the smallest position_usdt that works is 5")
    assert hedgeable.hedge_refusal(test_config(position_usdt=D(5)), D(10), D("0.0495"), "NEIROETH_USDT") is None
    assert hedgeable.hedge_refusal(small, D(10), D(0), "NEIROETH_USDT") is None  # no price known: no refusal


# ---- reporting --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sold,bought,kind", [("300", "300", report.PairKind.COMPLETE),
                                              ("300", "0", report.PairKind.SINGLE_LEG),
                                              ("300", "120", report.PairKind.SINGLE_LEG),
                                              ("0", "0", report.PairKind.MISSED)])
def test_pair_kind(sold, bought, kind):
    assert report.pair_kind(D(sold), D(bought)) is kind


def test_residual_below_one_contract_is_marked():
    assert report.residual_below_contract(D("4.5"), D(10)) and report.residual_below_contract(D("-9.99"), D(10))
    assert not report.residual_below_contract(D(0), D(10)) and not report.residual_below_contract(D(10), D(10))
    assert "residual below one perp contract of 10 NEIROETH" in report.delta_text(D(4), D(10), "NEIROETH")
    assert report.delta_text(D(0), D(10), "NEIROETH") == "delta 0 NEIROETH"


def test_totals_are_held_to_the_built_quantity_not_to_todays_notional():
    """A 10 % price drop raises the USDT targets' base quantity, but a hedged inventory is a
    quantity of coins: with the build-up's targets nothing is bought."""
    cfg = test_config(build_tolerance_fraction=D("0.05"))
    books = _books(gs=("0.04499", "0.04500"), ms=("0.04499", "0.04500"))
    inv = {GS: D(2000), MS: D(2000)}
    built = {GS: D(2000), MS: D(2000)}
    targets = inventory.totals_targets_base(cfg, {v: books[v].mid for v in (GS, MS)}, built)
    assert targets == built
    assert inventory.totals_restore_order(books, INFOS, inv, {}, {GS: D(1000), MS: D(1000)}, cfg, targets) is None
    today = inventory.totals_targets_base(cfg, {v: books[v].mid for v in (GS, MS)}, {})
    assert inventory.totals_restore_order(books, INFOS, inv, {}, {GS: D(1000), MS: D(1000)}, cfg, today) is not None
