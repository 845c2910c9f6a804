"""MEXC spot: the bulk public answers of one scan round -> a snapshot.

Endpoints (public, no keys; docs/venues.md sections 3.3, 3.4; MEXC spot v3 docs
"Exchange Information", "User API default symbol", "Symbol Order Book Ticker", "24hr Ticker
Price Change Statistics"):

* ``GET /api/v3/exchangeInfo`` -- every symbol with its rules; enabled for spot trading only
  when ``status`` is ``"1"`` (online; ``"2"`` pause, ``"3"`` offline; the doc example says
  ``"ENABLED"``), ``isSpotTradingAllowed`` is not false and ``tradeSideType`` is ``1`` (both
  sides; ``2`` buy only, ``3`` sell only, ``4`` close only);
* ``GET /api/v3/defaultSymbols`` -- the symbols open to API trading; one missing there is not
  tradable by a task (when that request fails the check is skipped and said so);
* ``GET /api/v3/ticker/bookTicker`` -- every symbol's best bid/ask with sizes (base);
* ``GET /api/v3/ticker/24hr`` -- every symbol's ``quoteVolume``.

Rules are parsed by the MEXC connector's :func:`exchanges.mexc.parse.symbol_info_from`
(``baseSizePrecision``/``quoteAmountPrecision`` are the MINIMUM quantity/notional, pitfall 6).
"""

from __future__ import annotations

import msgspec

from exchanges.discovery.decode import Answer, MalformedAnswer, collect, entries, one, symbols_entries
from exchanges.discovery.schemas import MexcBookTicker, MexcDefaultSymbols, MexcTicker24h, dec, quote_of
from exchanges.discovery.types import EndpointFailure, Listing, Market, VenueSnapshot
from exchanges.mexc import parse as mparse
from exchanges.models import Symbol, VenueId

EXCHANGE_INFO = "/api/v3/exchangeInfo"
DEFAULT_SYMBOLS = "/api/v3/defaultSymbols"
BOOK_TICKER = "/api/v3/ticker/bookTicker"
TICKER_24H = "/api/v3/ticker/24hr"
HEADERS = {"Accept": "application/json"}

VENUE = VenueId.MEXC_SPOT
_STATUS_TEXT = {"2": "pause", "3": "offline"}
_SIDE_TEXT = {"2": "buy only", "3": "sell only", "4": "close only"}
_RULES = msgspec.json.Decoder(mparse.SymbolRules)
_BOOK = msgspec.json.Decoder(MexcBookTicker)
_T24 = msgspec.json.Decoder(MexcTicker24h)
_DEFAULT = msgspec.json.Decoder(MexcDefaultSymbols)


def refusal(rules: mparse.SymbolRules) -> str:
    """Why ``rules`` is not enabled for spot trading, in MEXC's words ("" when it is)."""
    status = str(rules.status if rules.status is not None else "").upper()
    if status not in ("1", "ENABLED"):
        return f"status {status or 'missing'}" + (f" ({_STATUS_TEXT[status]})" if status in _STATUS_TEXT else "")
    if rules.isSpotTradingAllowed is False:
        return "isSpotTradingAllowed false"
    side = str(rules.tradeSideType) if rules.tradeSideType is not None else "1"
    if side != "1":
        return f"tradeSideType {side}" + (f" ({_SIDE_TEXT[side]})" if side in _SIDE_TEXT else "")
    return ""


def symbol_of(rules: mparse.SymbolRules) -> Symbol:
    """The symbol by ``baseAsset``/``quoteAsset`` (MEXC names have no separator:
    ``NEIROETHUSDT``); ValueError when either is missing."""
    if not rules.baseAsset or not rules.quoteAsset:
        raise ValueError(f"{rules.symbol}: no baseAsset/quoteAsset")
    return Symbol(rules.baseAsset.upper(), rules.quoteAsset.upper())


def _api_symbols(answer: Answer, snap: VenueSnapshot) -> set[str] | None:
    if isinstance(answer, EndpointFailure):
        snap.failures.append(answer)
        return None
    try:
        return {s.upper() for s in one(answer, _DEFAULT).data}
    except MalformedAnswer as exc:
        snap.failures.append(EndpointFailure(VENUE, DEFAULT_SYMBOLS, f"malformed answer: {exc}"))
        snap.malformed[DEFAULT_SYMBOLS] = snap.malformed.get(DEFAULT_SYMBOLS, 0) + 1
        return None


def snapshot(exchange_info: Answer, default_symbols: Answer, book_tickers: Answer, tickers_24h: Answer) -> VenueSnapshot:
    """MEXC spot's snapshot from the four answers (module doc)."""
    snap = VenueSnapshot(VENUE)
    api_symbols = _api_symbols(default_symbols, snap)
    rules_list = collect(snap, EXCHANGE_INFO, exchange_info, lambda b: symbols_entries(b, _RULES))
    listings: list[Listing] = []
    by_name: dict[str, Market] = {}
    for rules in rules_list or ():
        try:
            symbol = symbol_of(rules)
            info = mparse.symbol_info_from(rules, symbol)
        except (ValueError, ArithmeticError):
            snap.malformed[EXCHANGE_INFO] = snap.malformed.get(EXCHANGE_INFO, 0) + 1
            continue
        reason = refusal(rules)
        if not reason and api_symbols is not None and rules.symbol.upper() not in api_symbols:
            reason = "not in defaultSymbols (API trading off)"
        listings.append(Listing(VENUE, symbol, rules.symbol, not reason, reason))
        by_name[rules.symbol.upper()] = Market(info=info)
    if rules_list is not None:
        snap.listings = listings
    books = {t.symbol.upper(): t for t in collect(snap, BOOK_TICKER, book_tickers, lambda b: entries(b, _BOOK)) or ()}
    volumes = {t.symbol.upper(): t for t in collect(snap, TICKER_24H, tickers_24h, lambda b: entries(b, _T24)) or ()}
    for name, market in by_name.items():
        book, t24 = books.get(name), volumes.get(name)
        snap.markets[market.info.symbol] = msgspec.structs.replace(
            market, quote=quote_of(book.bidPrice, book.bidQty, book.askPrice, book.askQty) if book else None,
            volume_24h_usdt=dec(t24.quoteVolume) if t24 else None)
    return snap
