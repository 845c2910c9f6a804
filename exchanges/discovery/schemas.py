"""Wire schemas of the bulk public endpoints the scanner reads that the connectors do not.

Field names are the venues' own (docs/venues.md sections 1.8, 3.4; Gate APIv4 "Spot ->
Retrieve ticker information", "Futures -> List futures tickers"; MEXC spot v3 "24hr Ticker
Price Change Statistics", "Symbol Order Book Ticker", "User API default symbol"). The rules
endpoints (``/spot/currency_pairs``, ``/futures/usdt/contracts``, ``/api/v3/exchangeInfo``)
reuse the connectors' schemas (:mod:`exchanges.gateio.schemas`, :mod:`exchanges.mexc.parse`).

Numbers are kept as the venue sent them (``str | int | float | None``: Gate sends ``""`` for a
missing side, MEXC ``null``; futures sizes are ints, or strings with ``X-Gate-Size-Decimal: 1``)
and converted by :func:`dec` (None for anything that is not a finite number >= 0).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import msgspec

from exchanges.discovery.types import Quote

Num = str | int | float | None
_MAX_EXP = 40


def dec(value: Num) -> Decimal | None:
    """A venue number as Decimal (via its text, never through float arithmetic); None when
    empty, not a number, not finite, negative or absurdly large."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        out = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    if not out.is_finite() or out < 0 or (out and out.adjusted() > _MAX_EXP):
        return None
    return out


def quote_of(bid: Num, bid_qty: Num, ask: Num, ask_qty: Num) -> Quote | None:
    """A :class:`Quote` from four venue numbers; None unless both prices are > 0 and both
    sizes are numbers >= 0 (a missing side means no two-sided book)."""
    b, bq, a, aq = dec(bid), dec(bid_qty), dec(ask), dec(ask_qty)
    if b is None or a is None or bq is None or aq is None or b <= 0 or a <= 0:
        return None
    return Quote(b, bq, a, aq)


class GateSpotTicker(msgspec.Struct):
    """One entry of ``GET /spot/tickers`` (every pair)."""

    currency_pair: str  # "NEIROETH_USDT"
    highest_bid: Num = None  # best bid price
    highest_size: Num = None  # base amount at the best bid
    lowest_ask: Num = None  # best ask price
    lowest_size: Num = None  # base amount at the best ask
    quote_volume: Num = None  # 24 h volume in quote
    last: Num = None


class GateFuturesTicker(msgspec.Struct):
    """One entry of ``GET /futures/usdt/tickers`` (every contract); sizes in contracts."""

    contract: str  # "NEIROETH_USDT"
    highest_bid: Num = None
    highest_size: Num = None  # contracts
    lowest_ask: Num = None
    lowest_size: Num = None  # contracts
    volume_24h_quote: Num = None  # 24 h volume in quote (USDT)
    volume_24h_settle: Num = None  # same, in the settle currency (older field)
    mark_price: Num = None
    funding_rate: Num = None  # ratio per funding interval


class MexcBookTicker(msgspec.Struct):
    """One entry of ``GET /api/v3/ticker/bookTicker`` (no parameter: every symbol)."""

    symbol: str  # "NEIROETHUSDT"
    bidPrice: Num = None
    bidQty: Num = None  # base
    askPrice: Num = None
    askQty: Num = None  # base


class MexcTicker24h(msgspec.Struct):
    """One entry of ``GET /api/v3/ticker/24hr`` (no parameter: every symbol)."""

    symbol: str
    quoteVolume: Num = None  # 24 h volume in quote
    lastPrice: Num = None


class MexcDefaultSymbols(msgspec.Struct):
    """``GET /api/v3/defaultSymbols``: ``{"code": 200, "data": [symbols open to API trading]}``."""

    data: list[str] = []
    code: Num = None
    msg: str | None = None
