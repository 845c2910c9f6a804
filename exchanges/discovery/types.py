"""Plain data the discovery clients produce and the scanner's pure functions read.

No I/O here (no aiohttp, no websockets), so :mod:`strategies.scanner` can import it.

* :class:`Quote` -- top of one book: best bid/ask and their sizes in the venue's ORDER unit
  (base units on spot, contracts on the perp, as :class:`exchanges.models.BookTop`).
* :class:`Listing` -- one symbol as one venue lists it: tradable or not, and why not, in the
  venue's own spelling (``trade_status sellable``, ``status delisted``, ``status 2``).
* :class:`Market` -- everything one venue says about one symbol in a scan round: its trading
  rules (:class:`exchanges.models.SymbolInfo`, with the venue's public taker fee), the top of
  book, the 24 h quote volume (USDT) and, on the perp, the funding rate.
* :class:`VenueSnapshot` -- one venue's answer to a round of bulk requests, with the endpoints
  that failed and the number of malformed entries skipped.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from exchanges.models import FundingRate, Symbol, SymbolInfo, VenueId


class Quote(msgspec.Struct, frozen=True):
    """Best bid/ask (quote per base unit) and sizes in the venue's order unit."""

    bid: Decimal
    bid_qty: Decimal
    ask: Decimal
    ask_qty: Decimal

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2


class Listing(msgspec.Struct, frozen=True):
    """``symbol`` as ``venue`` lists it (``venue_symbol`` in the venue's spelling).

    ``reason`` says why it is not tradable ("" when it is)."""

    venue: VenueId
    symbol: Symbol
    venue_symbol: str
    tradable: bool
    reason: str = ""


class Market(msgspec.Struct, frozen=True):
    """One venue's view of one symbol (see module doc); ``quote`` None when the venue
    showed no two-sided book, ``volume_24h_usdt`` None when it did not say."""

    info: SymbolInfo
    quote: Quote | None = None
    volume_24h_usdt: Decimal | None = None
    funding: FundingRate | None = None


class EndpointFailure(msgspec.Struct, frozen=True):
    """A bulk request that got no usable answer: ``endpoint`` (path), ``error`` (one line)."""

    venue: VenueId
    endpoint: str
    error: str


class VenueSnapshot(msgspec.Struct):
    """One venue's answers in one round.

    ``listings`` is None when the venue's listing endpoint failed (nothing can be said about
    what it lists); ``markets`` maps every listed symbol to its rules and figures;
    ``failures`` names each endpoint that failed; ``malformed`` counts entries skipped
    because they did not decode (never fatal)."""

    venue: VenueId
    listings: list[Listing] | None = None
    markets: dict[Symbol, Market] = {}
    failures: list[EndpointFailure] = []
    malformed: dict[str, int] = {}

    @property
    def answered(self) -> bool:
        """True when at least the listing endpoint answered."""
        return self.listings is not None
