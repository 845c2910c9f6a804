"""Pure policy maths: edge, sizing/rounding, delta, hedge, rebalance, exit."""

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from exchanges.models import Side
from strategies.delta_neutral import policy as P
from strategies.delta_neutral.config import DeltaNeutralConfig

from .conftest import GP, GS, MS, book, make_infos

CFG = DeltaNeutralConfig()


def test_edge_bps_hand_computed():
    # sell at 1.01 paying 0.1 %, buy at 1.00 paying 0.05 %
    e = P.edge_bps(D("1.01"), D("1.00"), D("0.001"), D("0.0005"))
    assert e == (D("1.01") * D("0.999") - D("1.0005")) / D("1.0005") * 10000
    assert D("84.85") < e < D("84.86")
    assert P.edge_bps(D("1.0"), D("1.0"), D("0.001"), D("0.0005")) < 0  # fees eat a zero spread


def test_edge_exact_below_0_0001():
    e = P.edge_bps(D("0.0000352"), D("0.0000350"), D(0), D(0))
    assert e == D(2) / D(350) * 10000  # exact Decimal, no float
    net = P.edge_bps(D("0.0000352"), D("0.0000350"), D("0.001"), D("0.0005"))
    assert net == (D("0.0000352") * D("0.999") - D("0.0000350") * D("1.0005")) / (D("0.0000350") * D("1.0005")) * 10000
    assert D("42.06") < net < D("42.07")


def test_floor_and_price_rounding():
    assert P.floor_to_step(D("10.57"), D("1")) == D(10)
    assert P.floor_to_step(D("10.579"), D("0.01")) == D("10.57")
    assert P.floor_to_step(D("0.9"), D("1")) == 0
    assert P.round_price(D("0.00003519"), D("0.0000001"), Side.BUY) == D("0.0000351")
    assert P.round_price(D("0.00003511"), D("0.0000001"), Side.SELL) == D("0.0000352")
    assert P.common_floor(D("1.0"), [D("0.3"), D("0.2")]) == D("0.6")


def test_best_arb_uses_current_book_and_configured_threshold():
    """seed 7.2 #5: decisions use the CURRENT executable prices and the configured threshold."""
    infos = make_infos()
    inv = {GS: D(5000), MS: D(5000)}
    quote = {GS: D(1000), MS: D(1000)}
    books = {GS: book(GS, "0.05100", "0.05110"), MS: book(MS, "0.04990", "0.05000")}
    plan = P.best_arb(books, infos, inv, quote, CFG)
    assert plan and plan.sell_venue == GS and plan.buy_venue == MS
    assert plan.sell_price == D("0.05100") and plan.buy_price == D("0.05000")
    # 30 bps threshold from config is honoured (edge here is ~185 bps)
    high = DeltaNeutralConfig(entry_threshold_bps=D("300"))
    assert P.best_arb(books, infos, inv, quote, high) is None
    # the current spread turned negative: no trade, whatever happened before
    books_now = {GS: book(GS, "0.04990", "0.05000"), MS: book(MS, "0.04995", "0.05005")}
    assert P.best_arb(books_now, infos, inv, quote, CFG) is None


def test_best_arb_is_deterministic_value():
    """seed 7.2 #6: the same inputs give an EQUAL plan; different inputs a different one."""
    infos = make_infos()
    inv, quote = {GS: D(5000), MS: D(5000)}, {GS: D(1000), MS: D(1000)}
    b1 = {GS: book(GS, "0.05100", "0.05110"), MS: book(MS, "0.04990", "0.05000")}
    b2 = {GS: book(GS, "0.05200", "0.05210"), MS: book(MS, "0.04990", "0.05000")}
    assert P.best_arb(b1, infos, inv, quote, CFG) == P.best_arb(b1, infos, inv, quote, CFG)
    assert P.best_arb(b1, infos, inv, quote, CFG) != P.best_arb(b2, infos, inv, quote, CFG)


def test_size_arb_limits_and_common_leg():
    infos = make_infos()
    sb, bb = book(GS, "0.05100", "0.05110", bid_qty="300.7"), book(MS, "0.04990", "0.05000", ask_qty="1000")
    # capped by the bid depth 300.7 -> Gate step 1 -> 300, MEXC 300.7 -> common 300
    q = P.size_arb(sb, bb, infos[GS], infos[MS], D(5000), D(1000), D(1000))
    assert q == D(300)
    # capped by the task-owned inventory, never by the wallet
    assert P.size_arb(sb, bb, infos[GS], infos[MS], D("99.99"), D(1000), D(1000)) == D(99)
    # capped by max_order_usdt at the buy price: 10 / 0.05 = 200
    assert P.size_arb(sb, bb, infos[GS], infos[MS], D(5000), D(1000), D(10)) == D(200)
    # free quote including the fee: 5 USDT / (0.05 * 1.0005) = 99.95 -> 99
    assert P.size_arb(sb, bb, infos[GS], infos[MS], D(5000), D(5), D(1000)) == D(99)


def test_size_never_rounds_up_to_a_minimum():
    infos = make_infos()
    sb, bb = book(GS, "0.05100", "0.05110"), book(MS, "0.04990", "0.05000")
    # 0.9 base: below Gate min size 1 -> nothing (not 1)
    assert P.size_arb(sb, bb, infos[GS], infos[MS], D("0.9"), D(1000), D(1000)) == 0
    # 50 base * 0.051 = 2.55 USDT < Gate min notional 3 -> nothing
    assert P.size_arb(sb, bb, infos[GS], infos[MS], D(50), D(1000), D(1000)) == 0


def test_fee_units_at_high_price():
    """seed 7.2 #9: fee deduction mixed units so sizes went negative above ~$1000."""
    infos = make_infos(tick="0.01")
    sb, bb = book(GS, "5010", "5011", "1", "1"), book(MS, "4990", "5000", "1", "1")
    q = P.size_arb(sb, bb, infos[GS], infos[MS], D(1), D(100000), D(100000))
    assert q == D(1)
    plan = P.best_arb({GS: sb, MS: bb}, infos, {GS: D(1), MS: D(1)}, {GS: D(1e5), MS: D(1e5)}, DeltaNeutralConfig(max_order_usdt=D(10000), entry_threshold_bps=D(2)))
    assert plan and plan.qty_base == 1


@settings(max_examples=200, deadline=None)
@given(
    price=st.decimals(min_value=D("0.00001"), max_value=D("5000"), places=6),
    depth=st.decimals(min_value=D(0), max_value=D("1e7"), places=3),
    inv=st.decimals(min_value=D(0), max_value=D("1e7"), places=4),
    quote=st.decimals(min_value=D(0), max_value=D("1e5"), places=4),
    max_usdt=st.decimals(min_value=D("0.01"), max_value=D("1e4"), places=2),
    mexc_step=st.sampled_from([D("0.01"), D("1"), D("0.3"), D("100")]),
)
def test_size_property_never_exceeds_balances(price, depth, inv, quote, max_usdt, mexc_step):
    infos = make_infos(tick="0.000001")
    import msgspec
    infos[MS] = msgspec.structs.replace(infos[MS], size_step=mexc_step)
    sb = book(GS, str(price * D("1.01")), str(price * D("1.02")), str(depth), str(depth))
    bb = book(MS, str(price * D("0.99")), str(price), str(depth), str(depth))
    q = P.size_arb(sb, bb, infos[GS], infos[MS], inv, quote, max_usdt)
    assert q >= 0
    if q > 0:
        assert q <= inv and q <= depth
        assert q * bb.ask * (1 + infos[MS].taker_fee_rate) <= quote
        assert q * bb.ask <= max_usdt
        assert q % infos[GS].size_step == 0 and q % mexc_step == 0
        assert P.meets_minimums(infos[GS], q, sb.bid) and P.meets_minimums(infos[MS], q, bb.ask)


def test_net_delta_uses_position_sign():
    """seed 7.2 #13: a LONG perp adds to delta; a short subtracts."""
    assert P.net_delta_base({GS: D(100), MS: D(50)}, D(-15), D(10)) == 0
    assert P.net_delta_base({GS: D(100), MS: D(50)}, D(2), D(10)) == D(170)


def test_hedge_contracts_toward_zero_never_up():
    """seed 7.2 #8: max(round(x), 1) over-hedged small deltas."""
    perp = make_infos()[GP]
    assert P.hedge_contracts(D(15), perp) == D(-1)
    assert P.hedge_contracts(D("9.99"), perp) == 0
    assert P.hedge_contracts(D(-25), perp) == D(2)
    assert P.hedge_contracts(D(0), perp) == 0
    assert P.delta_tolerance_base(CFG, perp) == D(10)  # one contract
    assert P.delta_tolerance_base(DeltaNeutralConfig(delta_tolerance_base=D(25)), perp) == D(25)


def test_hedge_order_uses_perp_rules_and_reduce_only_cap():
    """seed 7.2 #15: the perp leg is priced and sized with PERP values."""
    infos = make_infos()
    pb = book(GP, "0.05000", "0.05010")
    h = P.hedge_order(D(35), pb, infos[GP], D(20))
    assert h and h.venue == GP and h.side is Side.SELL and h.qty == D(3)
    assert h.price == P.round_price(D("0.05") * D("0.998"), infos[GP].price_tick, Side.SELL)
    u = P.hedge_order(D(-200), pb, infos[GP], D(20), perp_contracts=D(-5), reduce_only=True)
    assert u and u.side is Side.BUY and u.qty == D(5) and u.reduce_only
    assert P.hedge_order(D(-200), pb, infos[GP], D(20), perp_contracts=D(0), reduce_only=True) is None


def test_rebalance_initial_build_and_restore():
    infos = make_infos()
    books = {GS: book(GS, "0.04999", "0.05000"), MS: book(MS, "0.04999", "0.05000"), GP: book(GP, "0.04999", "0.05001")}
    quote = {GS: D(1000), MS: D(1000)}
    plan = P.rebalance_plan(books, infos, {GS: D(0), MS: D(0)}, quote, D(0), CFG, building=True)
    buys = {o.venue: o for o in plan}
    assert set(buys) == {GS, MS}
    assert buys[GS].qty == D(500) and buys[GS].side is Side.BUY  # max_order_usdt 25 / 0.05
    # built: nothing to do
    built = {GS: D(2000), MS: D(2000)}
    assert P.rebalance_plan(books, infos, built, quote, D(-400), CFG, building=False) == []
    # delta off by 35 base -> hedge 3 contracts
    plan = P.rebalance_plan(books, infos, {GS: D(2035), MS: D(2000)}, quote, D(-400), CFG, building=False)
    assert [(o.venue, o.side, o.qty) for o in plan] == [(GP, Side.SELL, D(3))]
    # MEXC drained below 30 %: buy it back paired with a sell on Gate (which is above target)
    plan = P.rebalance_plan(books, infos, {GS: D(3500), MS: D(500)}, quote, D(-400), CFG, building=False)
    sides = {(o.venue, o.side) for o in plan}
    assert sides == {(MS, Side.BUY), (GS, Side.SELL)}
    assert len({o.qty for o in plan}) == 1


def test_exit_reasons():
    kw = dict(stop_requested=False, elapsed_s=10, net_pnl_usdt=D(0), funding_rate=D("0.0001"),
              spot_mid=D("0.05"), perp_mid=D("0.05"))
    assert P.exit_reason(CFG, **kw) is None
    assert P.exit_reason(CFG, **{**kw, "stop_requested": True}) == "stop"
    assert P.exit_reason(DeltaNeutralConfig(max_duration_s=5), **kw) == "max_duration"
    assert P.exit_reason(CFG, **{**kw, "net_pnl_usdt": D(-20)}) == "max_loss"
    f = DeltaNeutralConfig(exit_funding_rate_bps=D(5))
    assert P.exit_reason(f, **{**kw, "funding_rate": D("-0.0006")}) == "funding"
    assert P.exit_reason(f, **{**kw, "funding_rate": D("-0.0004")}) is None
    b = DeltaNeutralConfig(exit_basis_bps=D(50))
    assert P.exit_reason(b, **{**kw, "perp_mid": D("0.0503")}) == "basis"


def test_book_freshness():
    assert P.book_is_fresh(book(GS, "1", "2", ts_ms=1000), 1500, 500)
    assert not P.book_is_fresh(book(GS, "1", "2", ts_ms=1000), 1501, 500)
    assert not P.book_is_fresh(book(GS, "1", "2", ts_ms=1000, stale=True), 1000, 500)
    assert not P.book_is_fresh(None, 1000, 500)


def test_book_after_taking_subtracts_our_take_from_the_top_level():
    b = book(GS, "0.05100", "0.05110", bid_qty="300", ask_qty="300")
    assert P.book_after_taking(b, D(0), D(0)) is b
    after = P.book_after_taking(b, D(120), D(0))  # we sold 120 into the bid
    assert (after.bid, after.bid_qty, after.ask, after.ask_qty) == (D("0.05100"), D(180), D("0.05110"), D(300))
    gone = P.book_after_taking(b, D(500), D(300))  # never below zero
    assert (gone.bid_qty, gone.ask_qty) == (D(0), D(0))
    infos = make_infos()
    other = book(MS, "0.04990", "0.05000")
    cfg = DeltaNeutralConfig(symbol="NEIROETH")
    assert P.best_arb({GS: b, MS: other}, infos, {GS: D(5000), MS: D(5000)}, {GS: D(10**6), MS: D(10**6)}, cfg)
    assert P.best_arb({GS: gone, MS: other}, infos, {GS: D(5000), MS: D(5000)}, {GS: D(10**6), MS: D(10**6)},
                      cfg) is None  # nothing left at the rich bid: no arb
