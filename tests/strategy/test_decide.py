"""Pure next-step decision (strategies/delta_neutral/decide.py): priorities, opportunistic
rebalancing through the cross-spot trade, forced rebalance only after the patience, re-hedge
only beyond the tolerance."""

from decimal import Decimal as D

from exchanges.models import Side
from strategies.delta_neutral import decide as DC
from strategies.delta_neutral import policy as P
from strategies.delta_neutral.config import DeltaNeutralConfig

from .conftest import GP, GS, MS, book, make_infos

INFOS = make_infos()
CFG = DeltaNeutralConfig(position_usdt=D("200"), max_order_usdt=D("100"))  # targets 2000 base per venue at 0.05
QUOTE = {GS: D("1000"), MS: D("1000")}
CALM = {GS: book(GS, "0.04999", "0.05000"), MS: book(MS, "0.04999", "0.05000"), GP: book(GP, "0.04999", "0.05001")}


def _decide(books=CALM, inv=None, delta=D(0), building=False, build_orders=None, now=100_000, last_rebalance=0,
            low_since=0, cfg=CFG):
    return DC.decide(books=books, infos=INFOS, inventory_base=inv or {GS: D(2000), MS: D(2000)},
                     quote_free_usdt=QUOTE, net_delta_base=delta, config=cfg, building=building,
                     build_orders=build_orders, single_leg_order=None, single_leg_expired=False, now_ms=now,
                     last_rebalance_ms=last_rebalance, low_since_ms=low_since)


def test_calm_books_balanced_inventory_nothing_to_do():
    assert _decide() is None


def test_entry_edge_is_an_arb():
    books = dict(CALM, **{GS: book(GS, "0.05100", "0.05110", bid_qty="300")})
    d = _decide(books)
    assert d.action == "arb" and d.arb.sell_venue == GS and d.arb.buy_venue == MS and d.arb.qty_base == D(300)


def test_opportunistic_rebalance_buys_on_the_short_venue_at_a_lower_threshold():
    # MEXC ask below Gate bid by ~20 bps gross: 5 bps net of the 15 bps fees, under the 10 bps entry threshold
    books = dict(CALM, **{GS: book(GS, "0.050100", "0.050110"), MS: book(MS, "0.049990", "0.050000")})
    assert P.best_arb(books, INFOS, {GS: D(2000), MS: D(2000)}, QUOTE, CFG) is None
    assert _decide(books) is None  # balanced: no reason to trade below the entry threshold
    d = _decide(books, inv={GS: D(2800), MS: D(1200)})  # MEXC at 60 % of target
    assert d.action == "arb" and "rebalance" in d.reason
    assert (d.arb.sell_venue, d.arb.buy_venue) == (GS, MS)
    assert d.arb.qty_base <= D(800)  # never beyond the deficit
    # the wrong direction (MEXC is the one short) is never taken as a rebalance
    assert _decide(books, inv={GS: D(1200), MS: D(2800)}) is None


def test_rebalance_threshold_is_respected():
    books = dict(CALM, **{GS: book(GS, "0.050100", "0.050110"), MS: book(MS, "0.049990", "0.050000")})
    strict = DeltaNeutralConfig(position_usdt=D("200"), max_order_usdt=D("100"), rebalance_threshold_bps=D("8"))
    assert _decide(books, inv={GS: D(2800), MS: D(1200)}, cfg=strict) is None


def test_forced_rebalance_only_after_the_patience():
    inv = {GS: D(2900), MS: D(400)}  # MEXC at 20 % of target, below min_inventory_fraction 0.3
    assert DC.low_inventory(inv, CALM, CFG)
    patience_ms = int(CFG.rebalance_patience_s * 1000)
    assert _decide(inv=inv, now=100_000, low_since=100_000 - patience_ms + 1) is None
    d = _decide(inv=inv, now=100_000, low_since=100_000 - patience_ms)
    assert d.action == "rebalance" and d.forced
    # and the forced plan is the paired spot trade
    plan = P.rebalance_plan(CALM, INFOS, inv, QUOTE, D(-330), CFG, building=False, include_pair=True)
    assert {(o.venue, o.side) for o in plan} == {(MS, Side.BUY), (GS, Side.SELL)}
    assert P.rebalance_plan(CALM, INFOS, inv, QUOTE, D(-330), CFG, building=False, include_pair=False) == []
    # not within the cooldown of the last rebalance
    assert _decide(inv=inv, now=100_000, low_since=1, last_rebalance=100_000 - 1000) is None


def test_rehedge_only_beyond_tolerance():
    tol = P.delta_tolerance_base(CFG, INFOS[GP])
    assert tol == D(10)  # one contract
    assert _decide(delta=D(10)) is None
    assert _decide(delta=D(-10)) is None
    d = _decide(delta=D("10.5"))
    assert d.action == "rebalance" and "re-hedge" in d.reason
    assert _decide(delta=D(25), last_rebalance=100_000 - 500) is None  # 1 s spacing between rounds
    bigger = DeltaNeutralConfig(position_usdt=D("200"), delta_tolerance_base=D("50"))
    assert _decide(delta=D(45), cfg=bigger) is None


def test_build_up_priorities():
    order = P.PlannedOrder(GS, Side.BUY, D(100), D("0.05"), "build")
    assert _decide(building=True, build_orders=[order]).action == "rebalance"
    assert _decide(building=True, build_orders=[order], last_rebalance=100_000 - 200) is None
    assert _decide(building=True, build_orders=[]).action == "build_done"


def test_config_refuses_bad_rebalance_and_sync_values():
    import pytest

    from strategies.delta_neutral.config import ConfigError, config_from_dict

    for key, value, text in (("rebalance_threshold_bps", "20", "rebalance_threshold_bps"),
                             ("rebalance_trigger_fraction", "0.1", "rebalance_trigger_fraction"),
                             ("sync_timeout_s", "0", "sync_timeout_s"), ("reanalyze_s", "-1", "reanalyze_s"),
                             ("rebalance_patience_s", "-1", "rebalance_patience_s")):
        with pytest.raises(ConfigError, match=text):
            config_from_dict({key: value})


def test_build_up_takes_an_arb_edge_at_once():
    # the bench's 1.2 s stall: an edge during the build-up cooldown waited for the next build round
    order = P.PlannedOrder(GS, Side.BUY, D(100), D("0.05"), "build")
    books = dict(CALM, **{GS: book(GS, "0.05100", "0.05110", bid_qty="300")})
    for last_rebalance in (100_000 - 200, 0):  # inside the cooldown, and with a build round due
        d = _decide(books, building=True, build_orders=[order], last_rebalance=last_rebalance)
        assert d.action == "arb" and d.arb.sell_venue == GS and d.arb.buy_venue == MS
    assert _decide(building=True, build_orders=[order], last_rebalance=100_000 - 200) is None
