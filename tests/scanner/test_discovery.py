"""Discovery rules over the venues' own spellings and statuses (pure: bulk answers as bytes ->
snapshots -> matched symbols), malformed entries and failed endpoints."""

from __future__ import annotations

import json
from decimal import Decimal as D

from exchanges.discovery import mexc
from exchanges.discovery.types import EndpointFailure, Quote
from exchanges.models import Symbol, VenueId
from strategies.scanner.discovery import discover
from tests.scanner.venue_json import Coin, b, gate_pairs, gate_spot_tickers, mexc_book_tickers, mexc_exchange_info
from tests.scanner.venue_json import snapshots_of as snapshots

GS, GP, MS = VenueId.GATE_SPOT, VenueId.GATE_PERP, VenueId.MEXC_SPOT

COINS = [
    Coin("AAA"),
    Coin("BBB", gs_status="sellable"),
    Coin("CCC", gp_in_delisting=True),
    Coin("DDD", gp_status="delisted"),
    Coin("EEE", ms_status="2"),
    Coin("FFF", ms_spot_allowed=False),
    Coin("GGG", ms_side_type=3),
    Coin("HHH", ms_api=False),
    Coin("III", ms_status=None),
    Coin("JJJ", gp_status=None, ms_status=None),
    Coin("KKK", ms_status="ENABLED"),
]


def test_only_symbols_tradable_on_all_three_venues_are_kept_with_each_venues_reason():
    snaps = snapshots(COINS)
    found = discover({v: s.listings for v, s in snaps.items()}, "USDT")
    assert [s.base for s in found.symbols] == ["AAA", "KKK"]
    reasons = {e.symbol.base: e.reasons for e in found.excluded}
    assert reasons == {
        "BBB": ("gate_spot: trade_status sellable",),
        "CCC": ("gate_perp: in_delisting (reduce-only)",),
        "DDD": ("gate_perp: status delisted",),
        "EEE": ("mexc_spot: status 2 (pause)",),
        "FFF": ("mexc_spot: isSpotTradingAllowed false",),
        "GGG": ("mexc_spot: tradeSideType 3 (sell only)",),
        "HHH": ("mexc_spot: not in defaultSymbols (API trading off)",),
        "III": ("not listed on mexc_spot",),
    }  # JJJ is on Gate spot only: counted, not listed among the near misses
    assert found.excluded_counts["not listed on mexc_spot"] == 2
    assert found.excluded_counts["not listed on gate_perp"] == 1
    assert found.unchecked == []


def test_venue_spellings_map_to_one_symbol_and_other_quotes_are_ignored():
    snaps = snapshots([Coin("AAA")])
    assert snaps[GS].listings[0].venue_symbol == "AAA_USDT" and snaps[MS].listings[0].venue_symbol == "AAAUSDT"
    assert {lst.symbol for s in snaps.values() for lst in s.listings} == {Symbol("AAA", "USDT")}
    pairs = gate_pairs([Coin("AAA")]) + [dict(gate_pairs([Coin("ETH")])[0], id="ETH_BTC", quote="BTC")]
    snaps = snapshots([Coin("AAA")], pairs=pairs)
    found = discover({v: s.listings for v, s in snaps.items()}, "usdt")
    assert found.symbols == [Symbol("AAA")] and found.excluded == [] and "not listed on gate_perp" not in str(found)


def test_rules_quotes_and_funding_come_through_in_each_venues_units():
    coin = Coin("AAA", multiplier="10000", contracts="37", gp_bid="0.000035", gp_ask="0.0000351",
                funding_rate="-0.00021", funding_interval=14400)
    snaps = snapshots([coin])
    gs, gp, ms = (snaps[v].markets[Symbol("AAA")] for v in (GS, GP, MS))
    assert gs.info.taker_fee_rate == D("0.002") and gs.info.min_notional == D(3) and gs.info.size_step == D("0.001")
    assert gs.quote == Quote(D("1.0000"), D("100000"), D("1.0010"), D("100000"))
    assert gs.volume_24h_usdt == D(250000)
    assert gp.info.contract_multiplier == D(10000) and gp.quote == Quote(D("0.000035"), D(37), D("0.0000351"), D(37))
    assert gp.funding is not None and gp.funding.rate == D("-0.00021") and gp.funding.interval_s == 14400
    assert gp.info.taker_fee_rate == D("0.00075")
    assert ms.info.taker_fee_rate == D("0.0005") and ms.info.min_notional == D(1) and ms.info.size_step == D("0.01")
    assert ms.quote == Quote(D("0.9990"), D("100000"), D("1.0000"), D("100000"))


def test_malformed_entries_are_counted_and_skipped_never_fatal():
    tickers = gate_spot_tickers(COINS[:2]) + [{"currency_pair": 5}, "junk"]
    pairs = gate_pairs(COINS[:2]) + [{"id": "BAD_USDT", "amount_precision": "many"}]
    book = mexc_book_tickers(COINS[:2])
    book[0]["bidPrice"] = ""  # a missing side: no two-sided book, not malformed
    snaps = snapshots(COINS[:2], spot_tickers=tickers, pairs=pairs, book=book)
    assert snaps[GS].malformed == {"/spot/tickers": 2, "/spot/currency_pairs": 1}
    assert [lst.symbol.base for lst in snaps[GS].listings] == ["AAA", "BBB"]
    assert snaps[GS].markets[Symbol("AAA")].quote is not None
    assert snaps[MS].markets[Symbol("AAA")].quote is None and snaps[MS].malformed == {}


def test_a_failed_or_wholly_malformed_listing_leaves_that_venue_unchecked():
    down = EndpointFailure(MS, "/api/v3/exchangeInfo", "HTTP 503 SERVER_ERROR")
    snaps = snapshots(COINS, info=down, contracts=b"<html>502 Bad Gateway</html>")
    assert snaps[MS].listings is None and snaps[MS].failures == [down]
    assert snaps[GP].listings is None and snaps[GP].failures[0].error.startswith("malformed answer: not a JSON array")
    assert snaps[GP].malformed == {"/futures/usdt/contracts": 1}
    found = discover({v: s.listings for v, s in snaps.items()}, "USDT")
    assert found.unchecked == [GP, MS]
    assert [s.base for s in found.symbols] == [c.base for c in COINS if c.gs_status == "tradable"]
    assert discover({GS: None, GP: None, MS: None}, "USDT").symbols == []


def test_without_default_symbols_the_api_check_is_skipped_and_said():
    down = EndpointFailure(MS, "/api/v3/defaultSymbols", "no answer within 10.0s")
    snaps = snapshots(COINS, default=down)
    found = discover({v: s.listings for v, s in snaps.items()}, "USDT")
    assert [s.base for s in found.symbols] == ["AAA", "HHH", "KKK"]
    assert snaps[MS].failures == [down]
    assert mexc.snapshot(b(mexc_exchange_info(COINS)), b'{"data": 7}', b"[]", b"[]").failures[0].endpoint == (
        "/api/v3/defaultSymbols")
