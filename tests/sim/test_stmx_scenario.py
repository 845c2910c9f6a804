"""The bundled ``stmx`` scenario: two independent real books on the spot venues, real STMX_USDT rules."""

from __future__ import annotations

import bisect
import json
import math
from decimal import Decimal as D

import pytest

from exchanges.models import MarketType, VenueId
from exchanges.sim import scenarios
from exchanges.sim.recording import scenario_build_stmx as build

GS, GP, MS = VenueId.GATE_SPOT, VenueId.GATE_PERP, VenueId.MEXC_SPOT


@pytest.fixture(scope="module")
def rec():
    return scenarios.load("stmx")


def test_registered_by_name_and_symbol_default_unchanged():
    assert scenarios.symbols()["stmx"] == "STMX"
    assert scenarios.scenario_for_symbol("STMX_USDT") == "stmx"
    assert scenarios.DEFAULT_SCENARIO == "neiroeth"


def test_sources_and_licences_inside_the_project():
    folder = scenarios.available()["stmx"].parent
    for name in (*build.LICENCES, "README.md"):
        assert (folder / name).is_file(), name
    for name in (build.SPOT_STREAM, build.PERP_STREAM, build.GATE_RULES, build.FUNDING_CSV, *build.LICENCES):
        assert (folder / "source" / name).is_file(), name
    assert build.SOURCE_DIR == folder / "source"
    assert scenarios.available()["stmx"].stat().st_size < 5_000_000


def test_rules_are_the_captured_gate_stmx_rules(rec):
    captured = json.loads((build.SOURCE_DIR / build.GATE_RULES).read_text())
    assert captured["spot_currency_pair"]["id"] == captured["futures_contract"]["name"] == "STMX_USDT"
    gs, gp, ms = (rec.symbol_info(v) for v in (GS, GP, MS))
    assert rec.symbol.base == "STMX"
    assert gs.price_tick == D("0.000001") and gs.size_step == D("0.001") and gs.min_notional == D(1)
    assert gp.market_type is MarketType.PERP and gp.contract_multiplier == D(100) and gp.min_size == D(1)
    assert (gs.taker_fee_rate, gp.taker_fee_rate, ms.taker_fee_rate, ms.maker_fee_rate) == (
        D("0.001"), D("0.0005"), D("0.0005"), D(0))
    assert ms.venue_symbol == "STMXUSDT" and gp.funding_interval_s == 60
    assert len(rec.funding_rates[GP]) == 12


def test_stretch_maps_the_reference_to_the_price_level_and_multiplies_log_moves():
    ref = D("61837.635")
    (p0, q0), (p1, _) = build.stretch_levels([(ref, D(2)), (ref * D("1.0001"), D(1))], ref)
    assert p0 == build.PRICE_LEVEL and q0 == 2
    assert math.log(p1 / p0) == pytest.approx(build.STRETCH * math.log(1.0001), rel=1e-9)


def _mid_series(events, venue):
    ts, xs = [], []
    for e in events:
        if e.venue is venue and e.bids and e.asks:
            ts.append(e.t_ms)
            xs.append(math.log(float((e.bids[0][0] + e.asks[0][0]) / 2)))
    return ts, xs


def test_two_spot_books_move_independently_in_real_time(rec):
    events = rec.load()
    assert rec.malformed_lines == 0 and rec.duration_ms() > 300_000
    g, m = _mid_series(events, GS), _mid_series(events, MS)
    grid = range(1000, rec.duration_ms() - 1000, 50)

    def at(series, t):
        return series[1][max(0, bisect.bisect_right(series[0], t) - 1)]

    dg = [at(g, b) - at(g, a) for a, b in zip(grid, grid[1:])]
    dm = [at(m, b) - at(m, a) for a, b in zip(grid, grid[1:])]
    mg, mm = sum(dg) / len(dg), sum(dm) / len(dm)
    cov = sum((x - mg) * (y - mm) for x, y in zip(dg, dm))
    corr = cov / math.sqrt(sum((x - mg) ** 2 for x in dg) * sum((y - mm) ** 2 for y in dm))
    assert 0.2 < corr < 0.9  # related markets, not one book copied
    gaps = [at(g, t) - at(m, t) for t in grid]
    assert max(abs(x) for x in gaps) * 1e4 > 40  # the books part by more than both taker fees
    # no venue's updates are bunched: real-time replay, at most one snapshot per 20 ms bucket
    for venue in (GS, MS, GP):
        ts = [e.t_ms for e in events if e.venue is venue]
        assert len({t // build.MIN_GAP_MS for t in ts}) == len(ts)
