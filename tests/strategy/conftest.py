"""Shared fixtures for the delta-neutral strategy tests: synthetic (clearly made-up)
symbol rules at a NEIROETH-like price, and FakeVenues for the three venues."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchanges.fake import FakeVenue
from exchanges.models import BookTop, MarketType, Symbol, SymbolInfo, VenueId

SYM = Symbol("NEIROETH", "USDT")
GS, MS, GP = VenueId.GATE_SPOT, VenueId.MEXC_SPOT, VenueId.GATE_PERP


def make_infos(tick: str = "0.000001", mult: str = "10") -> dict[VenueId, SymbolInfo]:
    """Synthetic rules: Gate spot step 1 / min notional 3 / taker 0.1 %; MEXC step 0.01 /
    min notional 1 / taker 0.05 %; Gate perp 1 contract = ``mult`` base, taker 0.05 %."""
    return {
        GS: SymbolInfo(GS, SYM, SYM.gate, MarketType.SPOT, D(tick), D("1"), D("1"), D("3"),
                       maker_fee_rate=D("0.001"), taker_fee_rate=D("0.001")),
        MS: SymbolInfo(MS, SYM, SYM.mexc, MarketType.SPOT, D(tick), D("0.01"), D("0"), D("1"),
                       maker_fee_rate=D("0"), taker_fee_rate=D("0.0005")),
        GP: SymbolInfo(GP, SYM, SYM.gate, MarketType.PERP, D(tick), D("1"), D("1"), D("0"),
                       contract_multiplier=D(mult), maker_fee_rate=D("0.0002"),
                       taker_fee_rate=D("0.0005"), funding_interval_s=28800),
    }


def book(venue: VenueId, bid: str, ask: str, bid_qty: str = "100000", ask_qty: str = "100000",
         ts_ms: int = 0, stale: bool = False) -> BookTop:
    return BookTop(venue, SYM, D(bid), D(bid_qty), D(ask), D(ask_qty), ts_ms, stale=stale)


@pytest.fixture
def infos() -> dict[VenueId, SymbolInfo]:
    return make_infos()


@pytest.fixture
def fakes(infos) -> dict[VenueId, FakeVenue]:
    return {
        GS: FakeVenue(infos[GS], {"USDT": D("1000"), "NEIROETH": D("0")}),
        MS: FakeVenue(infos[MS], {"USDT": D("1000"), "NEIROETH": D("0")}),
        GP: FakeVenue(infos[GP], {"USDT": D("1000")}),
    }
