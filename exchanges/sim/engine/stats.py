"""Rolling 24 h market statistics of the simulated books, for the venues'
ticker endpoints (Gate ``GET /spot/tickers``, ``/futures/usdt/tickers``; MEXC
``GET /api/v3/ticker/24hr``; docs/venues.md sections 1.3, 1.8 and 3.4).

The replayed recordings carry book tops, not trades, so the price statistics
(open, high, low) come from the mark price (mid of the shown book) sampled by
the engine's tick, and the volumes from the fills the simulator itself made
(every account's). Both are kept in one-minute buckets for 24 h, so memory is
bounded (at most 1,440 buckets per symbol and venue).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import Decimal

from exchanges.models import ZERO, Symbol, VenueId

WINDOW_MS = 24 * 60 * 60 * 1000
BUCKET_MS = 60_000

Key = tuple[VenueId, Symbol]


@dataclass(frozen=True)
class Stats24h:
    """Statistics over the last 24 h of one symbol on one venue. Prices in
    quote per base unit; ``base_volume`` in base units, ``quote_volume`` in
    quote; ``trade_count`` fills; ``open_ms`` the start of the window's first
    bucket (epoch ms). All zero before the first observation."""

    open: Decimal
    high: Decimal
    low: Decimal
    last: Decimal
    base_volume: Decimal
    quote_volume: Decimal
    trade_count: int
    open_ms: int

    @property
    def change(self) -> Decimal:
        """``last - open`` (quote)."""
        return self.last - self.open if self.open else ZERO

    @property
    def change_ratio(self) -> Decimal:
        """``(last - open) / open`` as a ratio (0.01 = 1 %); zero without an open."""
        return (self.last - self.open) / self.open if self.open else ZERO


class _Bucket:
    __slots__ = ("minute_ms", "open", "high", "low", "close", "base_volume", "quote_volume", "count")

    def __init__(self, minute_ms: int, price: Decimal) -> None:
        self.minute_ms = minute_ms
        self.open = self.high = self.low = self.close = price
        self.base_volume = ZERO
        self.quote_volume = ZERO
        self.count = 0

    def price(self, price: Decimal) -> None:
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price


class MarketStats:
    """One-minute buckets per (venue, symbol), trimmed to 24 h."""

    def __init__(self) -> None:
        self._buckets: dict[Key, deque[_Bucket]] = {}

    def _bucket(self, key: Key, ts_ms: int, price: Decimal) -> _Bucket:
        minute_ms = ts_ms - ts_ms % BUCKET_MS
        buckets = self._buckets.setdefault(key, deque())
        if buckets and buckets[-1].minute_ms >= minute_ms:
            return buckets[-1]
        buckets.append(_Bucket(minute_ms, price))
        while buckets and buckets[0].minute_ms <= minute_ms - WINDOW_MS:
            buckets.popleft()
        return buckets[-1]

    def observe_price(self, venue: VenueId, symbol: Symbol, price: Decimal, ts_ms: int) -> None:
        """Record a mark price (ignored when zero: no two-sided book yet)."""
        if price > 0:
            self._bucket((venue, symbol), ts_ms, price).price(price)

    def observe_trade(self, venue: VenueId, symbol: Symbol, price: Decimal, qty_base: Decimal, ts_ms: int) -> None:
        """Record one fill of ``qty_base`` base units at ``price``."""
        bucket = self._bucket((venue, symbol), ts_ms, price)
        bucket.price(price)
        bucket.base_volume += qty_base
        bucket.quote_volume += qty_base * price
        bucket.count += 1

    def window(self, venue: VenueId, symbol: Symbol, now_ms: int, last: Decimal) -> Stats24h:
        """The 24 h statistics ending at ``now_ms``; ``last`` is the current
        price (it also bounds high/low, so they always contain it)."""
        since = now_ms - WINDOW_MS
        live = [b for b in self._buckets.get((venue, symbol), ()) if b.minute_ms > since - BUCKET_MS]
        if not live:
            return Stats24h(last, last, last, last, ZERO, ZERO, 0, now_ms)
        prices = [p for p in (last,) if p > 0]
        high = max([b.high for b in live] + prices)
        low = min([b.low for b in live] + prices)
        return Stats24h(open=live[0].open, high=high, low=low, last=last if last > 0 else live[-1].close,
                        base_volume=sum((b.base_volume for b in live), ZERO),
                        quote_volume=sum((b.quote_volume for b in live), ZERO),
                        trade_count=sum(b.count for b in live), open_ms=max(live[0].minute_ms, since))
