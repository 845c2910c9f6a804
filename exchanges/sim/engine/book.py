"""Replayed order books of the simulator, with our own consumption remembered.

Each (venue, symbol) book keeps three layers:

* ``raw``: the levels the feed (replay / paper / admin) last set;
* ``used``: what our own orders consumed at a price level, remembered until the
  feed changes that level (so repeated IOCs cannot fill the same displayed
  quantity again and again);
* ``shown`` = raw - used (levels <= 0 removed): what clients see over REST and
  WS and what orders match against.

Every change of ``shown`` is published once as a :class:`BookUpdate` with a
continuous update id (``first_id == previous last_id + 1``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from decimal import Decimal

from exchanges import clock
from exchanges.models import Symbol, VenueId
from exchanges.sim.engine.types import BookUpdate, Level, VenueBook

log = logging.getLogger(__name__)

BookCallback = Callable[[BookUpdate], None]
BookKey = tuple[VenueId, Symbol]


_ZERO = Decimal(0)


def _as_levels(levels: Iterable[Level] | dict[Decimal, Decimal]) -> dict[Decimal, Decimal]:
    """{price: qty} of the levels with qty > 0 (values converted to Decimal if needed).
    A dict is taken as already converted ({Decimal price: Decimal qty > 0}) and returned as is."""
    if type(levels) is dict:
        return levels
    out: dict[Decimal, Decimal] = {}
    for price, qty in levels:
        if type(price) is not Decimal:
            price = Decimal(price)
        if type(qty) is not Decimal:
            qty = Decimal(qty)
        if qty > 0:
            out[price] = qty
    return out


def level_map(levels: Iterable[Level]) -> dict[Decimal, Decimal]:
    """Levels as the ``{price: qty > 0}`` dict :meth:`BookSet.set_levels` takes without
    converting: feeding the same levels many times (replay aliases) converts them once."""
    return _as_levels(list(levels))


def _recompute(raw: dict[Decimal, Decimal], used: dict[Decimal, Decimal], shown: dict[Decimal, Decimal],
               prices: Iterable[Decimal], changed: dict[Decimal, Decimal]) -> None:
    for price in prices:
        qty = raw.get(price, Decimal(0)) - used.get(price, Decimal(0))
        old = shown.get(price)
        if qty > 0:
            if old != qty:
                shown[price] = qty
                changed[price] = qty
        elif old is not None:
            del shown[price]
            changed[price] = Decimal(0)


class BookSet:
    """All books of one engine plus their subscribers."""

    def __init__(self) -> None:
        self._books: dict[BookKey, VenueBook] = {}
        self._subs: dict[BookKey, list[BookCallback]] = {}
        self._venue_subs: dict[VenueId, list[BookCallback]] = {}
        self._all_subs: list[BookCallback] = []

    def get(self, venue: VenueId, symbol: Symbol) -> VenueBook:
        key = (venue, symbol)
        book = self._books.get(key)
        if book is None:
            book = self._books[key] = VenueBook()
        return book

    def subscribe(self, venue: VenueId | None, symbol: Symbol | None, callback: BookCallback) -> Callable[[], None]:
        """Call ``callback(update)`` after every change of that book (of every book
        of ``venue`` when symbol is None; of every book when venue is None).
        Returns an unsubscribe function."""
        if venue is None:
            subs = self._all_subs
        elif symbol is None:
            subs = self._venue_subs.setdefault(venue, [])
        else:
            subs = self._subs.setdefault((venue, symbol), [])
        subs.append(callback)

        def unsubscribe() -> None:
            if callback in subs:
                subs.remove(callback)

        return unsubscribe

    def set_levels(self, venue: VenueId, symbol: Symbol, bids: Iterable[Level], asks: Iterable[Level],
                   ts_ms: int | None = None) -> BookUpdate | None:
        """Replace the feed levels; forget our consumption at every level whose
        feed quantity changed; publish the shown-book change (None if none)."""
        book = self.get(venue, symbol)
        changed_b: dict[Decimal, Decimal] = {}
        changed_a: dict[Decimal, Decimal] = {}
        for levels, raw, used, shown, changed in (
            (bids, book.raw_bids, book.used_bids, book.shown_bids, changed_b),
            (asks, book.raw_asks, book.used_asks, book.shown_asks, changed_a),
        ):
            new = _as_levels(levels)
            if not used:  # fast path (nothing of ours consumed): shown == raw
                for price, qty in new.items():
                    if raw.get(price) != qty:
                        changed[price] = qty
                for price in raw:
                    if price not in new:
                        changed[price] = _ZERO
                raw.clear()
                raw.update(new)
                shown.clear()
                shown.update(new)
                continue
            prices = set(raw) | set(new)
            for price in prices:
                if raw.get(price) != new.get(price):
                    used.pop(price, None)
            raw.clear()
            raw.update(new)
            for price in list(used):
                if price not in raw:
                    del used[price]
            _recompute(raw, used, shown, prices | set(shown), changed)
        return self._publish(venue, symbol, book, changed_b, changed_a, ts_ms)

    def consume(self, venue: VenueId, symbol: Symbol, is_bid_side: bool, price: Decimal, qty: Decimal) -> None:
        """Record that our order took ``qty`` at ``price`` on the bid (True) or
        ask side; call :meth:`flush` afterwards to publish."""
        book = self.get(venue, symbol)
        used = book.used_bids if is_bid_side else book.used_asks
        used[price] = used.get(price, Decimal(0)) + qty
        (book.pending_bids if is_bid_side else book.pending_asks).add(price)

    def flush(self, venue: VenueId, symbol: Symbol, ts_ms: int | None = None) -> BookUpdate | None:
        """Publish changes recorded by :meth:`consume` (None if nothing changed)."""
        book = self.get(venue, symbol)
        if not book.pending_bids and not book.pending_asks:
            return None
        changed_b: dict[Decimal, Decimal] = {}
        changed_a: dict[Decimal, Decimal] = {}
        _recompute(book.raw_bids, book.used_bids, book.shown_bids, book.pending_bids, changed_b)
        _recompute(book.raw_asks, book.used_asks, book.shown_asks, book.pending_asks, changed_a)
        book.pending_bids.clear()
        book.pending_asks.clear()
        return self._publish(venue, symbol, book, changed_b, changed_a, ts_ms)

    def levels(self, venue: VenueId, symbol: Symbol, depth: int | None = None) -> tuple[list[Level], list[Level], int]:
        """Shown book: (bids descending, asks ascending, last update id)."""
        book = self.get(venue, symbol)
        bids = sorted(book.shown_bids.items(), reverse=True)  # prices are unique: tuples sort by price
        asks = sorted(book.shown_asks.items())
        if depth is not None:
            bids, asks = bids[:depth], asks[:depth]
        return bids, asks, book.update_id

    def _publish(self, venue: VenueId, symbol: Symbol, book: VenueBook, changed_b: dict[Decimal, Decimal],
                 changed_a: dict[Decimal, Decimal], ts_ms: int | None) -> BookUpdate | None:
        if not changed_b and not changed_a:
            return None
        book.update_id += 1
        book.ts_ms = ts_ms if ts_ms is not None else clock.now_ms()
        top_bids, top_asks, _ = self.levels(venue, symbol)
        update = BookUpdate(
            venue=venue,
            symbol=symbol,
            first_id=book.update_id,
            last_id=book.update_id,
            bids=sorted(changed_b.items(), reverse=True),
            asks=sorted(changed_a.items()),
            top_bids=top_bids,
            top_asks=top_asks,
            ts_ms=book.ts_ms,
        )
        for callback in [*self._subs.get((venue, symbol), ()), *self._venue_subs.get(venue, ()), *self._all_subs]:
            try:
                callback(update)
            except Exception:  # a subscriber must never break the feed
                log.exception("book subscriber failed")
        return update
