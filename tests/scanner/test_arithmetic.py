"""Pure arithmetic of the scanner: edge both ways after fees, tiny prices, contract multipliers
of 10000, depth against minimums and max_order_usdt, hedge and its smallest position, funding,
basis, the streaming window, and the ranking order."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchanges.discovery.types import Market, Quote
from exchanges.models import FundingRate, MarketType, Symbol, SymbolInfo, VenueId
from strategies.scanner.edge import basis_bps, direction, funding_apr_pct, funding_bps, hedge
from strategies.scanner.rank import ScanParams, build_row, rank_rows
from strategies.scanner.window import EdgeWindow, WindowFigures

GS, GP, MS = VenueId.GATE_SPOT, VenueId.GATE_PERP, VenueId.MEXC_SPOT
SYM = Symbol("TINY")


def spot(venue: VenueId, *, fee: str = "0.001", step: str = "1", min_size: str = "0", min_notional: str = "3",
         symbol: Symbol = SYM) -> SymbolInfo:
    return SymbolInfo(venue=venue, symbol=symbol, venue_symbol=symbol.gate if venue is GS else symbol.mexc,
                      market_type=MarketType.SPOT, price_tick=D("0.0000001"), size_step=D(step), min_size=D(min_size),
                      min_notional=D(min_notional), taker_fee_rate=D(fee))


def perp(multiplier: str = "10000", min_size: str = "1", symbol: Symbol = SYM) -> SymbolInfo:
    return SymbolInfo(venue=GP, symbol=symbol, venue_symbol=symbol.gate, market_type=MarketType.PERP,
                      price_tick=D("0.0000001"), size_step=D(1), min_size=D(min_size),
                      contract_multiplier=D(multiplier), taker_fee_rate=D("0.0005"), funding_interval_s=28800)


def market(info: SymbolInfo, bid: str, ask: str, qty: str = "100000000", volume: str | None = None,
           funding: FundingRate | None = None) -> Market:
    return Market(info=info, quote=Quote(D(bid), D(qty), D(ask), D(qty)),
                  volume_24h_usdt=D(volume) if volume is not None else None, funding=funding)


# ---- edge -------------------------------------------------------------------------------------


def test_edge_both_directions_after_both_taker_fees():
    gs = market(spot(GS, fee="0.002"), "1.0100", "1.0101")
    ms = market(spot(MS, fee="0.001"), "0.9990", "1.0000")
    gs_ms = direction(gs, ms, D(25))
    ms_gs = direction(ms, gs, D(25))
    assert gs_ms is not None and ms_gs is not None
    # sell Gate spot at 1.01 less 0.2 %, buy MEXC at 1.00 plus 0.1 %
    assert gs_ms.edge_bps == (D("1.0100") * D("0.998") - D("1.001")) / D("1.001") * 10000
    assert gs_ms.edge_bps.quantize(D("0.0001")) == D("69.7303")
    assert gs_ms.spread_bps == D(100)
    assert gs_ms.fees_bps == D(30)
    assert (gs_ms.sell_venue, gs_ms.buy_venue) == (GS, MS)
    # the reverse loses both the spread and the fees
    assert ms_gs.edge_bps == (D("0.9990") * D("0.999") - D("1.0101") * D("1.002")) / (D("1.0101") * D("1.002")) * 10000
    assert ms_gs.edge_bps.quantize(D("0.01")) == D("-139.50")


def test_tiny_prices_stay_exact_and_size_by_max_order_usdt():
    gs = market(spot(GS), "0.0000352", "0.0000353")
    ms = market(spot(MS), "0.0000349", "0.0000350")
    d = direction(gs, ms, D(25))
    assert d is not None
    assert d.edge_bps == (D("0.0000352") * D("0.999") - D("0.000035") * D("1.001")) / (D("0.000035") * D("1.001")) * 10000
    assert d.edge_bps.quantize(D("0.0001")) == D("37.0487")
    assert d.trade_qty_base == D(714285)  # 25 USDT / 0.000035, rounded DOWN to the step of 1
    assert d.trade_usdt == D("24.999975")
    assert d.depth_ok and d.edge_usdt == d.trade_usdt * d.edge_bps / 10000


def test_depth_below_a_minimum_is_not_executable():
    gs = market(spot(GS, min_notional="3"), "0.05", "0.0501", qty="10")  # 0.5 USDT at the top
    ms = market(spot(MS, min_notional="1"), "0.049", "0.0495", qty="1000")
    d = direction(gs, ms, D(25))
    assert d is not None
    assert d.trade_qty_base == D(10) and d.depth_usdt == D("0.5")
    assert d.min_order_usdt == D(3) and not d.depth_ok and d.edge_usdt == 0


def test_legs_trade_a_quantity_on_both_steps_and_within_both_tops():
    gs = market(spot(GS, step="1", min_size="1", min_notional="0"), "2.00", "2.01", qty="7.9")
    ms = market(spot(MS, step="0.01", min_size="0.01", min_notional="0"), "1.98", "1.99", qty="3.456")
    d = direction(gs, ms, D(1000))
    assert d is not None and d.trade_qty_base == D(3)  # min(7.9, 3.456) -> both steps -> 3
    assert d.depth_usdt == min(D("2.00") * D("7.9"), D("1.99") * D("3.456"))
    assert direction(gs, market(spot(MS), "1", "0"), D(25)) is None  # no ask: no direction


# ---- hedge, funding, basis --------------------------------------------------------------------


def test_hedge_with_a_multiplier_of_10000_at_a_tiny_price():
    h = hedge(D(200), D("0.000035"), perp("10000"), spot(GS, min_notional="3"), spot(MS, min_notional="1"), D("0.5"))
    assert h.contract_usdt == D("0.35")
    assert h.contracts == D(571)  # 200 / 0.000035 = 5,714,285.7 base -> 571 whole contracts (never rounded up)
    assert h.residual_base == D(200) / D("0.000035") - D(5710000)
    assert h.min_position_usdt == D("6.00")  # Gate spot's 3 USDT minimum on half the position dominates
    assert h.hedgeable


def test_a_contract_bigger_than_the_position_is_not_hedgeable_and_says_the_smallest_that_is():
    h = hedge(D(200), D("0.05"), perp("10000"), spot(GS), spot(MS), D("0.5"))
    assert h.contract_usdt == D(500) and h.contracts == 0
    assert not h.hedgeable and h.min_position_usdt == D("500.00")
    assert hedge(D(500), D("0.05"), perp("10000"), spot(GS), spot(MS), D("0.5")).hedgeable
    big_min = hedge(D(2000), D("0.05"), perp("10000", min_size="5"), None, None, D("0.5"))
    assert big_min.min_position_usdt == D("2500.00") and not big_min.hedgeable


def test_smallest_position_rounds_up_to_the_cent_and_spot_minimums_count_per_leg():
    h = hedge(D(10), D("0.0123457"), perp("1"), spot(GS, min_notional="3"), spot(MS, min_notional="5"), D("0.25"))
    # Gate spot gets 25 %: 3 / 0.25 = 12; MEXC gets 75 %: 5 / 0.75 = 6.67; one contract 0.0123 USDT
    assert h.min_position_usdt == D("12.00") and not h.hedgeable
    with pytest.raises(ValueError):
        hedge(D(10), D(0), perp(), None, None, D("0.5"))
    with pytest.raises(ValueError):
        hedge(D(10), D(1), perp(), None, None, D(1))


def test_funding_per_interval_and_annualised_and_basis():
    assert funding_bps(D("0.0001")) == D(1)
    assert funding_apr_pct(D("0.0001"), 28800) == D("10.95")  # 3 intervals a day x 365 x 0.01 %
    assert funding_apr_pct(D("-0.0002"), 3600) == D("-175.2")
    assert funding_apr_pct(D("0.0001"), 0) is None
    assert basis_bps(D("1.001"), D("1.000")) == D(10)
    with pytest.raises(ValueError):
        basis_bps(D(1), D(0))


# ---- window -----------------------------------------------------------------------------------


def test_window_share_openings_and_longest_stretch():
    w = EdgeWindow(start_s=100.0)
    w.observe(101.0, True, D(12))
    w.observe(103.0, False, D(4))
    w.observe(104.0, True, D(15))
    fig = w.figures(end_s=106.0)
    assert fig == WindowFigures(duration_s=6.0, share=4 / 6, openings=2, longest_open_s=2.0, max_edge_bps=D(15),
                                updates=3)


def test_window_without_observations_or_with_late_clock_readings():
    assert EdgeWindow(5.0).figures(10.0) == WindowFigures(5.0, 0.0, 0, 0.0, None, 0)
    w = EdgeWindow(0.0)
    w.observe(2.0, True, None)
    w.observe(1.0, True, D(3))  # an earlier reading is clamped, never negative time
    fig = w.figures(4.0)
    assert fig.share == 0.5 and fig.openings == 1 and fig.longest_open_s == 2.0 and fig.max_edge_bps == D(3)


# ---- rows and ranking --------------------------------------------------------------------------


def _markets(sym: Symbol, gs_bid: str, ms_ask: str, *, volume: str = "1000", multiplier: str = "10") -> dict:
    funding = FundingRate(GP, sym, D("0.0001"), 28800, mark_price=D("1.0005"))
    return {GS: market(spot(GS, symbol=sym), gs_bid, "1.0100", volume=volume),
            MS: market(spot(MS, symbol=sym), "0.9900", ms_ask, volume=volume),
            GP: market(perp(multiplier, symbol=sym), "1.0000", "1.0010", funding=funding)}


def test_row_figures_and_units_of_one_symbol():
    sym = Symbol("AAA")
    row = build_row(sym, _markets(sym, "1.0050", "1.0000"), ScanParams(min_edge_bps=D(10)))
    assert row.symbol == "AAAUSDT" and row.best_direction == "gate_spot>mexc_spot"
    assert row.best_edge_bps == row.edge_gs_ms_bps == D("29.92")  # (1.005 x 0.999 - 1.001) / 1.001
    assert row.clears_threshold and row.depth_ok and row.hedgeable and row.eligible
    assert row.funding_bps == D("1.00") and row.funding_apr_pct == D("10.9500") and row.funding_interval_s == 28800
    assert row.basis_bps == D("-69.48")  # perp mid 1.0005 vs Gate spot mid 1.0075
    assert row.volume_24h_usdt == D("1000.0000")
    assert row.hedge_contracts == D(19)  # 200 / 1.0075 = 198.5 base / 10 -> 19 contracts
    assert row.edge_share is None and row.window_s is None and row.notes == []


def test_row_with_a_venue_missing_keeps_what_can_be_computed():
    sym = Symbol("AAA")
    markets = _markets(sym, "1.0050", "1.0000")
    del markets[MS]
    row = build_row(sym, markets, ScanParams())
    assert row.best_edge_bps is None and row.edge_ms_gs_bps is None and not row.eligible
    assert row.hedgeable and row.basis_bps == D("-69.48")
    assert "no data from mexc_spot" in row.notes


def test_ranking_order_eligible_then_window_share_then_edge_then_volume_then_name():
    params = ScanParams(min_edge_bps=D(10))
    a, b, c, d, e = (Symbol(n) for n in ("AAA", "BBB", "CCC", "DDD", "EEE"))
    rows = [
        build_row(a, _markets(a, "1.0050", "1.0000"), params),  # edge 30 bps, eligible
        build_row(b, _markets(b, "1.0090", "1.0000"), params),  # edge 70 bps, eligible
        build_row(c, _markets(c, "1.0200", "1.0000", multiplier="1000"), params),  # best edge, NOT hedgeable
        build_row(d, _markets(d, "1.0050", "1.0000", volume="5000"), params),  # = AAA's edge, more volume
        build_row(e, _markets(e, "1.0050", "1.0000"), params),  # ties AAA entirely: name decides
    ]
    assert [r.base for r in rank_rows(rows)] == ["BBB", "DDD", "AAA", "EEE", "CCC"]
    windowed = [build_row(a, _markets(a, "1.0050", "1.0000"), params, WindowFigures(10.0, 0.8, 2, 5.0, D(40), 50)),
                build_row(b, _markets(b, "1.0090", "1.0000"), params, WindowFigures(10.0, 0.2, 9, 1.0, D(80), 50)),
                build_row(d, _markets(d, "1.0050", "1.0000"), params, WindowFigures(10.0, 0.8, 3, 4.0, D(40), 50))]
    ranked = rank_rows(windowed)
    assert [r.base for r in ranked] == ["DDD", "AAA", "BBB"]  # share first, then openings
    assert [r.rank for r in ranked] == [1, 2, 3]
    assert ranked[0].edge_share == 0.8 and ranked[0].edge_openings == 3


def test_window_rebased_when_the_streams_are_up_keeps_the_state_seen_while_connecting():
    w = EdgeWindow(0.0)
    w.observe(0.5, True, D(20))  # a ticker that arrived before every connection was up
    w.observe(0.8, False, D(2))
    w.observe(0.9, True, D(25))
    w.rebase(1.0)
    fig = w.figures(3.0)
    assert fig == WindowFigures(duration_s=2.0, share=1.0, openings=1, longest_open_s=2.0, max_edge_bps=D(25),
                                updates=3)
    closed = EdgeWindow(0.0)
    closed.observe(0.5, False, D(1))
    closed.rebase(1.0)
    closed.observe(2.0, True, D(30))
    assert closed.figures(3.0) == WindowFigures(2.0, 0.5, 1, 1.0, D(30), 2)
