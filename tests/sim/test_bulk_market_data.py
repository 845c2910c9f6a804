"""Bulk market-data endpoints a symbol scanner calls, over loopback against a
simulator serving several aliased symbols: Gate currencies, spot/futures
tickers (all pairs), contracts with funding fields; MEXC exchangeInfo,
defaultSymbols, bookTicker / 24hr / price tickers (docs/venues.md 1.3, 1.8,
3.3, 3.4). Also the engine's rolling 24 h statistics behind the tickers."""

from __future__ import annotations

from decimal import Decimal as D

import aiohttp
import pytest

from exchanges.models import OrderType, Side, Symbol, TimeInForce, VenueId
from exchanges.sim.engine.stats import BUCKET_MS, WINDOW_MS, MarketStats
from exchanges.sim.recording.format import read_recording
from exchanges.sim.server import SimServer
from tests.sim.conftest import SYM

A1, A2 = Symbol("NEIRO001"), Symbol("NEIRO002")
ALL = (SYM, A1, A2)
# a different top of book per alias: (bid, ask)
TOPS = {SYM: (D("0.0500"), D("0.0501")), A1: (D("0.0600"), D("0.0602")), A2: (D("0.0700"), D("0.0703"))}


@pytest.fixture
async def sim3(tmp_path, tiny_recording):
    server = SimServer(sim_dir=tmp_path / "sim", recording=read_recording(tiny_recording), replay=False,
                       alias_symbols=3)
    await server.start()
    try:
        for venue in VenueId:
            for sym, (bid, ask) in TOPS.items():
                server.engine.set_book(venue, sym, [(bid, D("100"))], [(ask, D("70"))])
        yield server
    finally:
        await server.stop()


async def _get(session: aiohttp.ClientSession, url: str, **params: str) -> tuple[int, object]:
    async with session.get(url, params=params) as resp:
        return resp.status, await resp.json(content_type=None)


async def test_gate_spot_currencies_tickers_and_pairs_cover_every_alias(sim3):
    gate = sim3.endpoints["gate_spot"]["rest_url"]
    async with aiohttp.ClientSession() as s:
        status, currencies = await _get(s, gate + "/spot/currencies")
        assert status == 200
        assert {c["currency"] for c in currencies} == {"NEIROETH", "NEIRO001", "NEIRO002", "USDT"}
        assert all(c["trade_disabled"] is False and c["chains"] for c in currencies)
        status, one = await _get(s, gate + "/spot/currencies/neiro002")
        assert status == 200 and one["currency"] == "NEIRO002"
        status, err = await _get(s, gate + "/spot/currencies/NOPE")
        assert status == 400 and err == {"label": "INVALID_CURRENCY", "message": "unknown currency NOPE"}

        status, tickers = await _get(s, gate + "/spot/tickers")
        assert status == 200
        by_pair = {t["currency_pair"]: t for t in tickers}
        assert set(by_pair) == {"NEIROETH_USDT", "NEIRO001_USDT", "NEIRO002_USDT"}
        for sym, (bid, ask) in TOPS.items():
            t = by_pair[sym.gate]
            assert (D(t["highest_bid"]), D(t["lowest_ask"]), D(t["highest_size"]), D(t["lowest_size"])) == (
                bid, ask, D(100), D(70))
            assert D(t["last"]) == (bid + ask) / 2
            assert {"change_percentage", "base_volume", "quote_volume", "high_24h", "low_24h"} <= set(t)
        status, single = await _get(s, gate + "/spot/tickers", currency_pair="NEIRO001_USDT")
        assert status == 200 and [t["currency_pair"] for t in single] == ["NEIRO001_USDT"]
        status, err = await _get(s, gate + "/spot/tickers", currency_pair="NOPE_USDT")
        assert status == 400 and err["label"] == "INVALID_CURRENCY_PAIR"


async def test_gate_futures_contracts_and_tickers_carry_funding_for_every_alias(sim3):
    gate = sim3.endpoints["gate_perp"]["rest_url"]
    sim3.engine.set_funding_rate(VenueId.GATE_PERP, A2, D("0.00031"))
    async with aiohttp.ClientSession() as s:
        status, contracts = await _get(s, gate + "/futures/usdt/contracts")
        assert status == 200
        by_name = {c["name"]: c for c in contracts}
        assert set(by_name) == {"NEIROETH_USDT", "NEIRO001_USDT", "NEIRO002_USDT"}
        assert by_name["NEIRO002_USDT"]["funding_rate"] == "0.00031"
        for c in contracts:
            assert c["funding_interval"] == 28800 and c["funding_next_apply"] > 0
            assert {"funding_rate_indicative", "mark_price", "quanto_multiplier"} <= set(c)
        status, tickers = await _get(s, gate + "/futures/usdt/tickers")
        assert status == 200
        by_contract = {t["contract"]: t for t in tickers}
        assert set(by_contract) == set(by_name)
        assert by_contract["NEIRO002_USDT"]["funding_rate"] == "0.00031"
        bid, ask = TOPS[A1]
        t1 = by_contract["NEIRO001_USDT"]
        assert (D(t1["highest_bid"]), D(t1["lowest_ask"]), t1["highest_size"], t1["lowest_size"]) == (bid, ask, 100, 70)
        assert D(t1["mark_price"]) == (bid + ask) / 2
        assert {"volume_24h", "volume_24h_base", "volume_24h_quote", "total_size", "change_percentage"} <= set(t1)
        async with s.get(gate + "/futures/usdt/tickers", headers={"X-Gate-Size-Decimal": "1"}) as resp:
            decimal_sizes = {t["contract"]: t for t in await resp.json()}
        assert decimal_sizes["NEIRO001_USDT"]["highest_size"] == "100"
        status, err = await _get(s, gate + "/futures/usdt/tickers", contract="NOPE_USDT")
        assert status == 400 and err["label"] == "CONTRACT_NOT_FOUND"


async def test_mexc_bulk_endpoints_cover_every_alias(sim3):
    mexc = sim3.endpoints["mexc_spot"]["rest_url"]
    names = {"NEIROETHUSDT", "NEIRO001USDT", "NEIRO002USDT"}
    async with aiohttp.ClientSession() as s:
        status, info = await _get(s, mexc + "/api/v3/exchangeInfo")
        assert status == 200 and {x["symbol"] for x in info["symbols"]} == names
        status, default = await _get(s, mexc + "/api/v3/defaultSymbols")
        assert status == 200 and default["code"] == 200 and default["msg"] is None and set(default["data"]) == names
        status, books = await _get(s, mexc + "/api/v3/ticker/bookTicker")
        assert status == 200 and isinstance(books, list)
        by_sym = {b["symbol"]: b for b in books}
        assert set(by_sym) == names
        bid, ask = TOPS[A2]
        assert (D(by_sym["NEIRO002USDT"]["bidPrice"]), D(by_sym["NEIRO002USDT"]["askPrice"])) == (bid, ask)
        status, one = await _get(s, mexc + "/api/v3/ticker/bookTicker", symbol="NEIRO001USDT")
        assert status == 200 and isinstance(one, dict) and one["symbol"] == "NEIRO001USDT"

        status, day = await _get(s, mexc + "/api/v3/ticker/24hr")
        assert status == 200 and {t["symbol"] for t in day} == names
        t2 = next(t for t in day if t["symbol"] == "NEIRO002USDT")
        assert D(t2["lastPrice"]) == (bid + ask) / 2 and D(t2["bidPrice"]) == bid and D(t2["askPrice"]) == ask
        assert t2["closeTime"] >= t2["openTime"] and isinstance(t2["count"], int)
        for key in ("priceChange", "priceChangePercent", "prevClosePrice", "openPrice", "highPrice", "lowPrice",
                    "volume", "quoteVolume"):
            assert isinstance(t2[key], str), key
        status, pair = await _get(s, mexc + "/api/v3/ticker/24hr", symbols="NEIRO001USDT,NEIROETHUSDT")
        assert status == 200 and [t["symbol"] for t in pair] == ["NEIRO001USDT", "NEIROETHUSDT"]

        status, prices = await _get(s, mexc + "/api/v3/ticker/price")
        assert status == 200
        assert {p["symbol"]: D(p["price"]) for p in prices} == {s.mexc: (b + a) / 2 for s, (b, a) in TOPS.items()}
        status, one_price = await _get(s, mexc + "/api/v3/ticker/price", symbol="NEIROETHUSDT")
        assert status == 200 and one_price == {"symbol": "NEIROETHUSDT", "price": "0.05005"}
        status, err = await _get(s, mexc + "/api/v3/ticker/price", symbol="NOPEUSDT")
        assert status == 400 and err["code"] == -1121


async def test_tickers_report_24h_range_and_volume_from_marks_and_fills(sim3):
    eng = sim3.engine
    eng.tick()  # samples every mark: 0.05005 on NEIROETH
    eng.set_book(VenueId.MEXC_SPOT, SYM, [(D("0.0520"), D("100"))], [(D("0.0522"), D("70"))])
    eng.tick()
    eng.place_order(eng.default_account.api_key, VenueId.MEXC_SPOT, SYM, Side.BUY, D(50), D("0.0522"),
                    OrderType.LIMIT, TimeInForce.IOC)
    mexc = sim3.endpoints["mexc_spot"]["rest_url"]
    async with aiohttp.ClientSession() as s:
        _, t = await _get(s, mexc + "/api/v3/ticker/24hr", symbol="NEIROETHUSDT")
    assert D(t["openPrice"]) == D("0.05005") and D(t["highPrice"]) == D("0.0522")
    assert D(t["lowPrice"]) == D("0.05005") and D(t["lastPrice"]) == D("0.0521")
    assert D(t["volume"]) == 50 and D(t["quoteVolume"]) == D("2.61") and t["count"] == 1
    assert D(t["priceChange"]) == D("0.0521") - D("0.05005")
    assert D(t["priceChangePercent"]) == ((D("0.0521") - D("0.05005")) / D("0.05005")).quantize(D("0.00000001"))


def test_market_stats_forget_buckets_older_than_24h():
    stats = MarketStats()
    t0 = 1_700_000_000_000
    stats.observe_price(VenueId.GATE_SPOT, SYM, D("2"), t0)
    stats.observe_trade(VenueId.GATE_SPOT, SYM, D("3"), D("5"), t0 + 1000)
    day = stats.window(VenueId.GATE_SPOT, SYM, t0 + 2000, D("2.5"))
    assert (day.open, day.high, day.low, day.last, day.base_volume, day.quote_volume, day.trade_count) == (
        D(2), D(3), D(2), D("2.5"), D(5), D(15), 1)
    later = t0 + WINDOW_MS + 2 * BUCKET_MS
    stats.observe_price(VenueId.GATE_SPOT, SYM, D("4"), later)
    day = stats.window(VenueId.GATE_SPOT, SYM, later, D("4"))
    assert (day.open, day.high, day.low, day.base_volume, day.trade_count) == (D(4), D(4), D(4), 0, 0)
    assert stats.window(VenueId.GATE_PERP, SYM, later, D("1")).open == D(1)  # nothing observed: flat at last
