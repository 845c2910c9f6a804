"""The market view of one task: the venues' top of book minus the liquidity our own orders just
took, freshness (docs/design.md invariant 6: stale data never trades), mids, and since when each
venue's book has been stale.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

import msgspec

from exchanges import clock
from exchanges.models import BookTop, Side, Symbol, VenueId
from exchanges.venue import Venue

ZERO = Decimal(0)


def book_after_taking(book: BookTop, bid_taken: Decimal, ask_taken: Decimal) -> BookTop:
    """``book`` with our own IOC takes subtracted from its top level (venue units, never below
    zero): what is really left at the bid/ask until the venue shows a newer book. Without it a
    venue whose stream lags our fill (MEXC pushes once per 10-100 ms) still shows liquidity we
    consumed, and a second arb sent into it fills on one leg only."""
    if bid_taken <= 0 and ask_taken <= 0:
        return book
    return msgspec.structs.replace(book, bid_qty=max(ZERO, book.bid_qty - bid_taken),
                                   ask_qty=max(ZERO, book.ask_qty - ask_taken))


def book_is_fresh(book: BookTop | None, now_ms: int, max_book_age_ms: int) -> bool:
    """True when ``book`` exists, is not flagged stale, has both sides and is younger
    than ``max_book_age_ms`` (docs/design.md invariant 6)."""
    return (book is not None and not book.stale and book.bid > 0 and book.ask > 0
            and book.age_ms(now_ms) <= max_book_age_ms)


def info_age_ms(book: BookTop, now_ms: int) -> int:
    """How old the information in ``book`` is (ms, >= 0): from the venue's own timestamp of its last
    update where the stream carries one (Gate ``order_book_update`` ``t``, MEXC push time), else
    from our receive time. Unlike :meth:`BookTop.age_ms`, a keep-alive touch does not make a book
    younger: it says the connection lives, not that the venue's book is newer."""
    return max(0, now_ms - (book.exch_ts_ms or book.ts_ms))


def book_version(book: BookTop) -> int:
    """Identity of the venue's book state: its update id; the receive time for a book without ids.
    (A keep-alive "still current" touch moves the time, not the id: it says nothing about whether
    the venue's view already includes our last fill.)"""
    return book.seq if book.seq else book.ts_ms


class MarketView:
    """Books of ``venue_ids`` for ``symbol``; a book older than ``max_book_age_ms`` is not fresh."""

    def __init__(self, venues: Mapping[VenueId, Venue], symbol: Symbol, venue_ids: Iterable[VenueId],
                 max_book_age_ms: int) -> None:
        self.venues = venues
        self.symbol = symbol
        self.venue_ids = tuple(venue_ids)
        self.max_book_age_ms = max_book_age_ms
        #: venue -> (book version, bid qty taken, ask qty taken) by our orders since that version
        self._taken: dict[VenueId, tuple[int, Decimal, Decimal]] = {}
        #: venue -> wall ms since which its book has not been fresh
        self._stale_since_ms: dict[VenueId, int] = {}

    def book(self, venue: VenueId) -> BookTop | None:
        """The venue's current top of book as the venue shows it (None before the first update)."""
        return self.venues[venue].book_top(self.symbol)

    def books(self) -> dict[VenueId, BookTop]:
        """Current top of book per venue, minus what our own orders took from a book the venue
        has not updated since (:func:`book_after_taking`)."""
        out: dict[VenueId, BookTop] = {}
        for v in self.venue_ids:
            book = self.venues[v].book_top(self.symbol)
            if book is None:
                continue
            taken = self._taken.get(v)
            if taken is not None:
                if taken[0] == book_version(book):
                    book = book_after_taking(book, taken[1], taken[2])
                else:
                    del self._taken[v]  # the venue has shown a newer book: it includes our take
            out[v] = book
        return out

    def note_taken(self, venue: VenueId, side: Side, qty: Decimal) -> None:
        """Remember that an order of ours is about to take ``qty`` (venue units) at the top of
        ``venue``'s current book: a sell takes the bid, a buy the ask."""
        book = self.venues[venue].book_top(self.symbol)
        if book is None:
            return
        key = book_version(book)
        prev = self._taken.get(venue)
        bid_taken, ask_taken = (prev[1], prev[2]) if prev is not None and prev[0] == key else (ZERO, ZERO)
        if side is Side.SELL:
            bid_taken += qty
        else:
            ask_taken += qty
        self._taken[venue] = (key, bid_taken, ask_taken)

    def fresh(self, venue: VenueId, now_ms: int | None = None) -> bool:
        """The venue's book may be traded on now."""
        return book_is_fresh(self.venues[venue].book_top(self.symbol), clock.now_ms() if now_ms is None else now_ms,
                             self.max_book_age_ms)

    def all_fresh(self, now_ms: int | None = None) -> bool:
        now = clock.now_ms() if now_ms is None else now_ms
        return all(self.fresh(v, now) for v in self.venue_ids)

    def mids(self) -> dict[VenueId, Decimal]:
        """Mid price per venue with both sides (our takes do not move a mid)."""
        out: dict[VenueId, Decimal] = {}
        for v in self.venue_ids:
            b = self.venues[v].book_top(self.symbol)
            if b is not None and b.bid > 0 and b.ask > 0:
                out[v] = b.mid
        return out

    def track_staleness(self, now_ms: int | None = None) -> tuple[VenueId, int] | None:
        """Update since when each venue's book is stale; returns the venue stale the longest and
        for how long (ms), or None when every book is fresh."""
        now = clock.now_ms() if now_ms is None else now_ms
        worst: tuple[VenueId, int] | None = None
        for v in self.venue_ids:
            if self.fresh(v, now):
                self._stale_since_ms.pop(v, None)
                continue
            since = self._stale_since_ms.setdefault(v, now)
            if worst is None or now - since > worst[1]:
                worst = (v, now - since)
        return worst

    def reset_staleness(self) -> None:
        """Forget stale timers (after a resume: the time spent down does not count twice)."""
        self._stale_since_ms.clear()


__all__ = ["MarketView", "book_after_taking", "book_is_fresh", "book_version", "info_age_ms"]
