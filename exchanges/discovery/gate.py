"""Gate.io spot and USDT perpetual: the bulk public answers of one scan round -> snapshots.

Endpoints (public, no keys; docs/venues.md sections 1.3, 1.7, 1.8):

* ``GET /spot/currency_pairs`` -- every spot pair with its rules; tradable only when
  ``trade_status == "tradable"`` (``buyable``/``sellable``/``untradable`` are not);
* ``GET /spot/tickers`` -- every pair's best bid/ask with sizes (base) and ``quote_volume``;
* ``GET /futures/usdt/contracts`` -- every USDT perpetual with ``quanto_multiplier``,
  ``order_size_min``, funding; trading only when ``status == "trading"`` and not
  ``in_delisting`` (reduce-only);
* ``GET /futures/usdt/tickers`` -- every contract's best bid/ask (sizes in contracts) and
  ``volume_24h_quote``.

Futures requests carry ``X-Gate-Size-Decimal: 1`` (section 1.7). Rules are parsed by the Gate
connector's own functions (:func:`exchanges.gateio.parse.spot_symbol_info`,
:func:`~exchanges.gateio.parse.perp_symbol_info`); taker fees are the public ones (the pair's
``fee`` percent, the contract's ``taker_fee_rate``), not an account's.
"""

from __future__ import annotations

import msgspec

from exchanges.discovery.decode import Answer, collect, entries
from exchanges.discovery.schemas import GateFuturesTicker, GateSpotTicker, dec, quote_of
from exchanges.discovery.types import Listing, Market, VenueSnapshot
from exchanges.gateio import parse as gparse
from exchanges.gateio import schemas as gschemas
from exchanges.models import FundingRate, SymbolInfo, VenueId

SPOT_PAIRS = "/spot/currency_pairs"
SPOT_TICKERS = "/spot/tickers"
CONTRACTS = "/futures/usdt/contracts"
FUTURES_TICKERS = "/futures/usdt/tickers"
FUTURES_HEADERS = {"X-Gate-Size-Decimal": "1", "Accept": "application/json"}
SPOT_HEADERS = {"Accept": "application/json"}

_PAIR = msgspec.json.Decoder(gschemas.CurrencyPair)
_CONTRACT = msgspec.json.Decoder(gschemas.Contract)
_SPOT_TICKER = msgspec.json.Decoder(GateSpotTicker)
_FUTURES_TICKER = msgspec.json.Decoder(GateFuturesTicker)


def spot_listing(pair: gschemas.CurrencyPair) -> tuple[Listing, SymbolInfo]:
    """Listing and rules of one spot pair; ValueError for a name the project cannot spell."""
    info = gparse.spot_symbol_info(pair, None)
    reason = "" if info.tradable else f"trade_status {pair.trade_status}"
    return Listing(VenueId.GATE_SPOT, info.symbol, pair.id, info.tradable, reason), info


def perp_listing(contract: gschemas.Contract) -> tuple[Listing, SymbolInfo, FundingRate]:
    """Listing, rules and funding of one USDT contract; ValueError for an unusable name."""
    info = gparse.perp_symbol_info(contract)
    if contract.in_delisting and contract.status == "trading":
        reason = "in_delisting (reduce-only)"
    else:
        reason = "" if info.tradable else f"status {contract.status}"
    return (Listing(VenueId.GATE_PERP, info.symbol, contract.name, info.tradable, reason), info,
            gparse.funding_rate(contract))


def spot_snapshot(pairs: Answer, tickers: Answer) -> VenueSnapshot:
    """Gate spot's snapshot from the answers of ``/spot/currency_pairs`` and ``/spot/tickers``."""
    snap = VenueSnapshot(VenueId.GATE_SPOT)
    listings: list[Listing] = []
    infos: dict[str, SymbolInfo] = {}
    pair_entries = collect(snap, SPOT_PAIRS, pairs, lambda b: entries(b, _PAIR))
    for pair in pair_entries or ():
        try:
            listing, info = spot_listing(pair)
        except (ValueError, ArithmeticError):
            snap.malformed[SPOT_PAIRS] = snap.malformed.get(SPOT_PAIRS, 0) + 1
            continue
        listings.append(listing)
        infos[pair.id.upper()] = info
    if pair_entries is not None:
        snap.listings = listings
    quotes: dict[str, GateSpotTicker] = {
        t.currency_pair.upper(): t for t in collect(snap, SPOT_TICKERS, tickers,
                                                    lambda b: entries(b, _SPOT_TICKER)) or ()}
    for name, info in infos.items():
        t = quotes.get(name)
        snap.markets[info.symbol] = Market(
            info=info, quote=quote_of(t.highest_bid, t.highest_size, t.lowest_ask, t.lowest_size) if t else None,
            volume_24h_usdt=dec(t.quote_volume) if t else None)
    return snap


def perp_snapshot(contracts: Answer, tickers: Answer) -> VenueSnapshot:
    """The Gate USDT perpetual's snapshot from ``/futures/usdt/contracts`` and ``/futures/usdt/tickers``.

    Book sizes stay in contracts (the perp's order unit)."""
    snap = VenueSnapshot(VenueId.GATE_PERP)
    listings: list[Listing] = []
    rules: dict[str, tuple[SymbolInfo, FundingRate]] = {}
    contract_entries = collect(snap, CONTRACTS, contracts, lambda b: entries(b, _CONTRACT))
    for contract in contract_entries or ():
        try:
            listing, info, funding = perp_listing(contract)
        except (ValueError, ArithmeticError):
            snap.malformed[CONTRACTS] = snap.malformed.get(CONTRACTS, 0) + 1
            continue
        listings.append(listing)
        rules[contract.name.upper()] = (info, funding)
    if contract_entries is not None:
        snap.listings = listings
    quotes: dict[str, GateFuturesTicker] = {
        t.contract.upper(): t for t in collect(snap, FUTURES_TICKERS, tickers,
                                               lambda b: entries(b, _FUTURES_TICKER)) or ()}
    for name, (info, funding) in rules.items():
        t = quotes.get(name)
        volume = None
        if t is not None:
            volume = dec(t.volume_24h_quote)
            if volume is None:
                volume = dec(t.volume_24h_settle)
        snap.markets[info.symbol] = Market(
            info=info, quote=quote_of(t.highest_bid, t.highest_size, t.lowest_ask, t.lowest_size) if t else None,
            volume_24h_usdt=volume, funding=funding)
    return snap
