"""The bundled NEIROETH scenario: registry, documented rules, trade-worthy spreads."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest

from exchanges.models import MarketType, VenueId
from exchanges.sim import scenarios


@pytest.fixture(scope="module")
def rec():
    return scenarios.load()


def test_registry_lists_default_and_refuses_unknown():
    assert "neiroeth" in scenarios.available()
    assert scenarios.symbols()["neiroeth"] == "NEIROETH"
    assert scenarios.scenario_for_symbol("NEIROETH_USDT") == "neiroeth"
    with pytest.raises(scenarios.UnknownScenario, match="neiroeth"):
        scenarios.load("no-such-scenario")
    with pytest.raises(scenarios.UnknownScenario, match="available scenarios: neiroeth"):
        scenarios.scenario_for_symbol("BTCUSDT")


def test_licences_and_readme_beside_data():
    folder = scenarios.available()["neiroeth"].parent
    for name in ("LICENSE-hftbacktest.txt", "LICENSE-historical-funding-rates-fetcher.txt", "README.md"):
        assert (folder / name).is_file(), name
    assert "MIT" in (folder / "LICENSE-hftbacktest.txt").read_text() or \
        "Permission is hereby granted" in (folder / "LICENSE-hftbacktest.txt").read_text()
    assert scenarios.available()["neiroeth"].stat().st_size < 5_000_000


def test_documented_rules(rec):
    assert rec.symbol.base == "NEIROETH"
    assert set(rec.venues) == {VenueId.GATE_SPOT, VenueId.GATE_PERP, VenueId.MEXC_SPOT}
    gs, gp, mx = (rec.symbol_info(v) for v in (VenueId.GATE_SPOT, VenueId.GATE_PERP, VenueId.MEXC_SPOT))
    assert gs.price_tick == D("0.000001") and gs.size_step == D(1) and gs.min_notional == D(3)
    assert gs.taker_fee_rate == D("0.001")
    assert gp.market_type is MarketType.PERP and gp.contract_multiplier == D(10)
    assert gp.taker_fee_rate == D("0.0005") and gp.funding_interval_s == 60
    assert mx.venue_symbol == "NEIROETHUSDT" and mx.maker_fee_rate == 0 and mx.taker_fee_rate == D("0.0005")
    rates = rec.funding_rates[VenueId.GATE_PERP]
    assert len(rates) == 12 and rates[1] == (60_000, D("0.000408"))


def test_books_valid_and_trade_worthy_spreads_occur(rec):
    events = rec.load()
    assert rec.malformed_lines == 0 and len(events) > 10_000
    fee = {v: float(rec.symbol_info(v).taker_fee_rate) for v in rec.venues}
    tops: dict[VenueId, tuple[float, float]] = {}
    time_above, episodes, in_episode, last_t = 0, 0, False, 0
    for e in events:
        ticks = {rec.symbol_info(e.venue).price_tick}
        assert all(p % t == 0 for p, _ in e.bids + e.asks for t in ticks)
        assert [p for p, _ in e.bids] == sorted((p for p, _ in e.bids), reverse=True)
        assert [p for p, _ in e.asks] == sorted(p for p, _ in e.asks)
        if e.bids and e.asks:
            assert e.bids[0][0] < e.asks[0][0]
            tops[e.venue] = (float(e.bids[0][0]), float(e.asks[0][0]))
        if in_episode:
            time_above += e.t_ms - last_t
        last_t = e.t_ms
        if len(tops) < 3:
            continue
        best_bps = max(
            (tops[sell][0] / tops[buy][1] - 1 - fee[buy] - fee[sell]) * 1e4
            for buy in tops for sell in tops if buy != sell and VenueId.MEXC_SPOT in (buy, sell)
        )
        now = best_bps >= 5.0
        episodes += now and not in_episode
        in_episode = now
    duration_s = rec.duration_ms() / 1000
    assert duration_s > 300
    assert episodes / duration_s > 0.2  # an episode every few seconds
    assert 0.02 < time_above / rec.duration_ms() < 0.5  # ... but most of the time nothing to do


def test_user_recording_path_resolves(tmp_path: Path):
    path = scenarios.resolve(str(scenarios.available()["neiroeth"]))
    assert path.is_file()
