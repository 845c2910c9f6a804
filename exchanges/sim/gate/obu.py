"""Gate ``spot.order_book_update`` / ``futures.order_book_update`` subscriptions:
validated interval and level, one merged update per interval (docs/venues.md
section 2.5; Gate APIv4 WebSocket "Spot" -> "Changed order book levels",
"Futures" -> "Order book update").

Payloads: spot ``[pair, interval]`` with interval ``"20ms"`` (20 levels) or
``"100ms"`` (100 levels); futures ``[contract, frequency, level]`` with
frequency ``"20ms"`` (level ``"20"`` only) or ``"100ms"`` (level ``"100"``,
``"50"`` or ``"20"``; default ``"100"``). Anything else is refused with error
code 2.

A subscription group is one (symbol, interval, level). Book changes only
mark the group dirty; ``interval`` after its first change the group sends
one frame: ``U`` = the previous frame's ``u`` + 1, ``u`` = the book's current
update id, ``l`` = the level, and the levels of the top-``level`` window that
differ from what the previous frame left the client with: every price
changed during the interval (its final quantity, ``0`` if gone or pushed
out of the window), prices that entered the window and prices that left it
(``0``). A client that applies the frames to a ``limit=level`` REST snapshot
(``with_id=true``) therefore holds the venue's top-``level`` book. No frame
goes out when the window did not change; the ids stay continuous because the
next ``U`` still starts after the last ``u`` sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from exchanges.models import Symbol, VenueId
from exchanges.sim.engine import SimEngine
from exchanges.sim.engine.types import BookUpdate, Level

SPOT_INTERVALS = {"20ms": 20, "100ms": 100}  # interval -> levels
FUTURES_LEVELS = {"20ms": ("20",), "100ms": ("100", "50", "20")}
_ZERO = Decimal(0)


class ObuArgumentError(ValueError):
    """An order_book_update payload the venue refuses (WS error code 2)."""


@dataclass(frozen=True)
class ObuSpec:
    """A validated subscription: venue symbol, interval in ms, level count."""

    venue_symbol: str
    interval_ms: int
    level: int


def parse_payload(payload: list[str], futures: bool) -> ObuSpec:
    """Validate an order_book_update payload (see module doc). Raises
    :class:`ObuArgumentError` with the venue-style message."""
    if not payload:
        raise ObuArgumentError("payload needs the currency pair / contract and the interval")
    name = payload[0].upper()
    interval = payload[1] if len(payload) > 1 else "100ms"
    if futures:
        allowed = FUTURES_LEVELS.get(interval)
        if allowed is None:
            raise ObuArgumentError(f"invalid frequency {interval!r}: use 20ms or 100ms")
        level = payload[2] if len(payload) > 2 else allowed[0]
        if level not in allowed:
            raise ObuArgumentError(f"invalid level {level!r} for {interval}: use {', '.join(allowed)}")
        return ObuSpec(name, int(interval[:-2]), int(level))
    levels = SPOT_INTERVALS.get(interval)
    if levels is None:
        raise ObuArgumentError(f"invalid interval {interval!r}: use 20ms or 100ms")
    if len(payload) > 2 and payload[2] != str(levels):
        raise ObuArgumentError(f"invalid level {payload[2]!r}: {interval} pushes {levels} levels")
    return ObuSpec(name, int(interval[:-2]), levels)


# frame builder: (group, U, u, bids, asks, ts_ms) -> None; sends to the group's subscribers
Sender = Callable[["ObuGroup", int, int, list[Level], list[Level], int], None]


@dataclass(eq=False)
class ObuGroup:
    """Merge state of one (symbol, interval, level) and its subscribers (any objects)."""

    symbol: Symbol
    spec: ObuSpec
    last_u: int
    view_bids: dict[Decimal, Decimal]
    view_asks: dict[Decimal, Decimal]
    subscribers: set = field(default_factory=set)
    touched_bids: set[Decimal] = field(default_factory=set)
    touched_asks: set[Decimal] = field(default_factory=set)
    scheduled: bool = False
    ts_ms: int = 0


class ObuMerger:
    """All order_book_update groups of one Gate venue (spot or futures)."""

    def __init__(self, engine: SimEngine, venue: VenueId, send: Sender, skip_frame: Callable[[], bool]) -> None:
        self.engine = engine
        self.venue = venue
        self._send = send
        self._skip_frame = skip_frame  # the sequence-gap fault: True = lose this frame
        self.groups: dict[tuple[str, int, int], ObuGroup] = {}
        self._by_symbol: dict[Symbol, list[ObuGroup]] = {}

    def join(self, symbol: Symbol, spec: ObuSpec, subscriber: object) -> ObuGroup:
        key = (spec.venue_symbol, spec.interval_ms, spec.level)
        group = self.groups.get(key)
        if group is None:
            bids, asks, update_id = self.engine.book(self.venue, symbol, spec.level)
            group = ObuGroup(symbol, spec, update_id, dict(bids), dict(asks))
            self.groups[key] = group
            self._by_symbol.setdefault(symbol, []).append(group)
        group.subscribers.add(subscriber)
        return group

    def leave(self, group: ObuGroup, subscriber: object) -> None:
        group.subscribers.discard(subscriber)
        if not group.subscribers:
            spec = group.spec
            self.groups.pop((spec.venue_symbol, spec.interval_ms, spec.level), None)
            same = self._by_symbol.get(group.symbol, [])
            if group in same:
                same.remove(group)

    def on_book(self, update: BookUpdate) -> None:
        """Engine book callback: remember what changed, schedule the group's frame."""
        groups = self._by_symbol.get(update.symbol)
        if not groups:
            return
        loop: asyncio.AbstractEventLoop | None = None
        for group in groups:
            n = group.spec.level
            top_b, top_a = update.top_bids, update.top_asks
            bound_b = top_b[n - 1][0] if len(top_b) >= n else None  # worst bid inside the window
            bound_a = top_a[n - 1][0] if len(top_a) >= n else None
            for price, _ in update.bids:
                if bound_b is None or price >= bound_b or price in group.view_bids:
                    group.touched_bids.add(price)
            for price, _ in update.asks:
                if bound_a is None or price <= bound_a or price in group.view_asks:
                    group.touched_asks.add(price)
            group.ts_ms = update.ts_ms
            if not group.scheduled:
                group.scheduled = True
                loop = loop or asyncio.get_running_loop()
                loop.call_later(group.spec.interval_ms / 1000, self.flush, group)

    def flush(self, group: ObuGroup) -> None:
        """Send the group's merged frame now (normally called by the timer)."""
        group.scheduled = False
        if not group.subscribers:
            return
        bids, asks, update_id = self.engine.book(self.venue, group.symbol, group.spec.level)
        new_b, new_a = dict(bids), dict(asks)
        out_b = _changes(group.view_bids, new_b, group.touched_bids)
        out_a = _changes(group.view_asks, new_a, group.touched_asks)
        group.touched_bids.clear()
        group.touched_asks.clear()
        if not out_b and not out_a:
            return
        first_id = group.last_u + 1
        group.view_bids, group.view_asks, group.last_u = new_b, new_a, update_id
        if self._skip_frame():
            return  # lost: the next frame's U jumps past this one
        self._send(group, first_id, update_id, sorted(out_b.items(), reverse=True), sorted(out_a.items()),
                   group.ts_ms)


def _changes(old: dict[Decimal, Decimal], new: dict[Decimal, Decimal], touched: set[Decimal]) -> dict[Decimal, Decimal]:
    out = {price: new.get(price, _ZERO) for price in touched}
    for price, qty in new.items():
        if old.get(price) != qty:
            out[price] = qty
    for price in old:
        if price not in new:
            out[price] = _ZERO
    return out
