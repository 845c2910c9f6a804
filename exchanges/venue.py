"""The ``Venue`` protocol every connector, the simulator client and the test
fake satisfy, and the error taxonomy (docs/design.md section 4).

Error semantics (the strategy relies on them):

* :class:`OrderRejected` -- the venue definitively said no (or the request was
  refused locally before sending, ``local=True``). Nothing exists at the venue.
* :class:`OutcomeUnknown` -- timeout, disconnect, 5xx: the order *may* exist.
  Resolve with :meth:`Venue.get_order` by client order id; **never re-send**.
* :class:`RateLimited` -- 429 or local limiter refusal; nothing was sent/created.
* :class:`AuthError` -- bad key or signature; fatal for the task.
* :class:`NotFound` -- the venue does not know this order / symbol.
* :class:`StaleData` -- a book is too old or out of sync to trade on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from exchanges.models import (
    Balance,
    BookTop,
    Fill,
    FundingPayment,
    FundingRate,
    MarketType,
    Order,
    OrderRequest,
    Position,
    Symbol,
    SymbolInfo,
    VenueEvent,
    VenueId,
)


class VenueError(Exception):
    """Base class of every venue error. ``venue`` names the venue."""

    def __init__(self, message: str = "", *, venue: str = "", code: str = "") -> None:
        super().__init__(message)
        self.venue = venue
        self.code = code


class OrderRejected(VenueError):
    """Definitive refusal. ``local`` is True when refused before sending
    (below minimum size/notional, bad price)."""

    def __init__(self, message: str = "", *, venue: str = "", code: str = "", local: bool = False) -> None:
        super().__init__(message, venue=venue, code=code)
        self.local = local


class OutcomeUnknown(VenueError):
    """The request may or may not have taken effect (timeout, disconnect, 5xx)."""


class RateLimited(VenueError):
    """Refused for rate (HTTP 429 or the local limiter). ``retry_after_s`` hints a wait."""

    def __init__(self, message: str = "", *, venue: str = "", code: str = "", retry_after_s: float = 1.0) -> None:
        super().__init__(message, venue=venue, code=code)
        self.retry_after_s = retry_after_s


class AuthError(VenueError):
    """Bad API key, signature or expired timestamp."""


class NotFound(VenueError):
    """Unknown order id / symbol at the venue."""


class StaleData(VenueError):
    """A book is older than allowed or out of sync."""


VenueListener = Callable[[VenueEvent], None]
"""Synchronous, non-blocking callback for stream events. Called on the event
loop thread; must not raise (exceptions are logged and swallowed)."""


@runtime_checkable
class Venue(Protocol):
    """One market type on one exchange (Gate spot, Gate USDT perp, MEXC spot).

    Quantities are in the venue's order unit: base on spot, contracts on perp
    (see :mod:`exchanges.models`). Every method that sends a request raises
    only :class:`VenueError` subclasses.
    """

    venue_id: VenueId
    market_type: MarketType
    # Optional attribute (not part of the runtime check): ``order_write_at_once`` True when
    # ``place_order`` writes its request to the socket before its first suspension (MEXC: the
    # order is a body-less POST), False/absent when the bytes leave one loop turn later (Gate:
    # aiohttp writes a request body from a separate task on Python < 3.12). Callers sending
    # several orders at once start those first.

    async def start(self) -> None:
        """Open transports and sync the server-time offset. Idempotent."""

    async def close(self) -> None:
        """Close sockets and sessions. Idempotent."""

    def add_listener(self, listener: VenueListener) -> None:
        """Register a callback for book, order, fill, balance, position and
        connection events of this venue."""

    def remove_listener(self, listener: VenueListener) -> None: ...

    async def symbol_info(self, symbol: Symbol) -> SymbolInfo:
        """Trading rules (tick, step, minimums, multiplier, fees). Cached.
        Raises NotFound for an unknown symbol."""

    async def watch_book(self, symbol: Symbol) -> None:
        """Subscribe the public book stream (snapshot + diffs, sequence
        checked). Returns once subscribed; the book fills asynchronously."""

    def book_top(self, symbol: Symbol) -> BookTop | None:
        """Latest best bid/ask, or None before the first synced update.
        O(1); never performs I/O. Check ``stale`` and ``age_ms``."""

    async def watch_user(self, symbol: Symbol) -> None:
        """Subscribe private streams (orders, fills, balances, positions)."""

    async def place_order(self, request: OrderRequest) -> Order:
        """Place an order under ``request.client_order_id``.
        Raises OrderRejected, OutcomeUnknown, RateLimited, AuthError."""

    async def cancel_order(self, symbol: Symbol, client_order_id: str) -> Order:
        """Cancel by client order id; returns the final order state.
        Raises NotFound if the venue does not know it (or it is already
        gone), OutcomeUnknown on timeout."""

    async def get_order(self, symbol: Symbol, client_order_id: str) -> Order:
        """Query by client order id. Raises NotFound if the venue never saw it."""

    async def order_fills(self, symbol: Symbol, client_order_id: str) -> list[Fill]:
        """Our executions for one order (REST trade history)."""

    async def open_orders(self, symbol: Symbol) -> list[Order]:
        """All open orders of the account on this symbol (ours and others';
        callers filter by client order id prefix)."""

    async def balances(self) -> dict[str, Balance]:
        """Balances by asset. On the perp venue: the futures account's quote."""

    async def positions(self, symbol: Symbol | None = None) -> list[Position]:
        """Perp positions (empty list on spot venues)."""

    async def funding_rate(self, symbol: Symbol) -> FundingRate | None:
        """Current funding (None on spot venues)."""

    async def funding_payments(self, symbol: Symbol, since_ms: int) -> list[FundingPayment]:
        """Funding settlements booked to our position since ``since_ms``
        (empty on spot venues)."""
