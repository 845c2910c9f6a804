"""Per-symbol Gate order-book synchronisation: WS diffs + REST snapshot (section 2.5).

Algorithm (GWS ``local_order_book.py``, GANN 19776), implemented with :class:`L2Book`:
1. diffs arriving before a snapshot are buffered (the buffer restarts on a discontinuity);
2. the first buffered diff (or a gap) starts a snapshot task: ``GET .../order_book?with_id=true``;
3. diffs with ``u <= id`` are dropped, the first applied one satisfies ``U <= id+1 <= u``; if the
   earliest buffered ``U > id+1`` the snapshot is too old and is fetched again;
4. afterwards every diff needs ``U == previous u + 1``; otherwise the book is marked stale and
   resynced from a fresh snapshot. A crossed book (bid >= ask) also forces a resync.
A ``"full": true`` frame overwrites the book. The snapshot is applied only while the stream is
connected (a snapshot with no live diffs behind it would look fresh but not be).

Top of book: the L2 book is the single source of truth. ``book_ticker`` frames are kept only
as a cross-check (``ticker_mismatches``) and never served by ``book_top``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal

from exchanges import clock
from exchanges.book import TEXT_PAIRS, DiffResult, L2Book, Level, MalformedLevel
from exchanges.models import BookEvent, BookTop, Symbol, VenueId
from exchanges.venue import VenueError

log = logging.getLogger(__name__)

SnapshotFetcher = Callable[[str], Awaitable[tuple[list[Level], list[Level], int]]]


class BookSync:
    """Book state of one symbol on one Gate venue (see module docstring)."""

    __slots__ = (
        "venue", "symbol", "venue_symbol", "book", "event", "_fetch", "_is_connected", "_emit",
        "_task", "snapshots", "ticker", "ticker_mismatches",
    )

    def __init__(
        self,
        venue: VenueId,
        symbol: Symbol,
        venue_symbol: str,
        fetch_snapshot: SnapshotFetcher,
        is_connected: Callable[[], bool],
        emit: Callable[[BookEvent], None],
    ) -> None:
        self.venue = venue
        self.symbol = symbol
        self.venue_symbol = venue_symbol
        self.book = L2Book()
        self.event = BookEvent(venue=venue, symbol=symbol)
        self._fetch = fetch_snapshot
        self._is_connected = is_connected
        self._emit = emit
        self._task: asyncio.Task[None] | None = None
        self.snapshots = 0
        self.ticker: tuple[int, Decimal, Decimal] | None = None  # (u, bid, ask) of book_ticker
        self.ticker_mismatches = 0

    def on_diff(self, first_id: int, last_id: int, bids: list[Level], asks: list[Level], ts_ms: int, exch_ts_ms: int) -> None:
        self.on_result(self.book.apply_diff(first_id, last_id, bids, asks, ts_ms, exch_ts_ms))

    def on_result(self, res: DiffResult) -> None:
        """React to a book result: emit on a change, fetch a snapshot when buffering or after a gap."""
        if res is DiffResult.APPLIED:
            self._emit(self.event)
        elif res is DiffResult.BUFFERED:
            self._ensure_snapshot()
        elif res is DiffResult.GAP:
            log.warning("%s %s: %s; resyncing", self.venue.value, self.venue_symbol, self.book.stale_reason)
            self._emit(self.event)
            self._ensure_snapshot()

    def on_diff_text(self, first_id: int, last_id: int, bids: list, asks: list, ts_ms: int,
                     exch_ts_ms: int, shape: int = TEXT_PAIRS) -> None:
        """A diff with prices as text (see L2Book.apply_diff_text; the frame handler inlines this).
        A malformed level raises MalformedLevel after the book was marked for a resync."""
        try:
            res = self.book.apply_diff_text(first_id, last_id, bids, asks, ts_ms, exch_ts_ms, shape)
        except MalformedLevel:
            self._emit(self.event)
            self._ensure_snapshot()
            raise
        if res is DiffResult.APPLIED:
            self._emit(self.event)
        else:
            self.on_result(res)

    def on_full(self, bids: list[Level], asks: list[Level], seq: int, ts_ms: int, exch_ts_ms: int) -> None:
        res = self.book.apply_full(bids, asks, seq, ts_ms, exch_ts_ms)
        self._emit(self.event)
        if res is DiffResult.GAP:
            self._ensure_snapshot()

    def on_ticker(self, u: int, bid: Decimal, ask: Decimal) -> None:
        self.ticker = (u, bid, ask)
        top = self.book.top_tuple()
        if self.book.synced and top is not None and u == self.book.seq and (top[0] != bid or top[2] != ask):
            self.ticker_mismatches += 1

    def invalidate(self, reason: str) -> None:
        self.cancel()
        self.book.invalidate(reason)
        self._emit(self.event)

    def top(self) -> BookTop | None:
        return self.book.book_top(self.venue, self.symbol)

    def cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None

    async def aclose(self) -> None:
        task = self._task
        self.cancel()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _ensure_snapshot(self) -> None:
        if self._task is None or self._task.done():
            try:
                self._task = asyncio.get_running_loop().create_task(self._resync())
            except RuntimeError:  # no running loop (offline parser use): caller syncs manually
                self._task = None

    async def _resync(self) -> None:
        attempt = 0
        while not self.book.synced:
            if not self._is_connected():
                await asyncio.sleep(0.05)
                continue
            try:
                bids, asks, seq = await self._fetch(self.venue_symbol)
            except VenueError as exc:
                log.warning("%s %s: snapshot failed: %s", self.venue.value, self.venue_symbol, exc)
                bids = asks = []
                seq = -1
            if seq >= 0 and self._is_connected() and not self.book.synced:
                self.snapshots += 1
                res = self.book.apply_snapshot(bids, asks, seq, clock.now_ms())
                if res is DiffResult.APPLIED:
                    self._emit(self.event)
                    return
            attempt += 1
            await asyncio.sleep(min(2.0, 0.1 * 2 ** min(attempt, 5)))
