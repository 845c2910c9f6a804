"""MEXC local order books: REST snapshot + ``aggre.depth`` diffs, resync on gaps.

Sync rules (docs/venues.md section 4.5): buffer pushes, fetch
``GET /api/v3/depth`` (``lastUpdateId``), drop pushes with ``toVersion <=
lastUpdateId``, start at the push covering ``lastUpdateId + 1``, then require
``fromVersion == previous toVersion + 1``; anything else is a gap: the book is
marked stale and a fresh snapshot is fetched (capped backoff, never gives up).
The sequence logic itself lives in :class:`exchanges.book.L2Book`.

Freshness: ``BookTop.ts_ms`` is the local time the book was last known
current: the last applied diff, or any later sign of life on the same
connection (PONG, ack, a bookTicker push agreeing with the book's top) while
the book stays in sequence. A disconnect invalidates every book (stale) until
it is re-synced after the reconnect.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from decimal import Decimal

from exchanges import clock
from exchanges.book import MEXC_ITEMS, DiffResult, L2Book
from exchanges.mexc.parse import levels_from, to_int
from exchanges.mexc.proto import mexc_push_pb2 as pb
from exchanges.mexc.push import DepthDiff, symbol_of
from exchanges.mexc.rest import MexcRest
from exchanges.models import BookEvent, BookTop, Symbol, VenueEvent, VenueId
from exchanges.venue import RateLimited, VenueError

log = logging.getLogger(__name__)
VENUE = VenueId.MEXC_SPOT
_MAX_VERSION = 10**30  # versions are ~1e11; anything this large is garbage


class _Tracked:
    __slots__ = ("symbol", "book", "first_diff", "task", "ticker", "event")

    def __init__(self, symbol: Symbol) -> None:
        self.symbol = symbol
        self.event = BookEvent(venue=VENUE, symbol=symbol)  # the same (immutable) event for every change
        self.book = L2Book()
        self.first_diff = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.ticker: tuple[Decimal, Decimal, Decimal, Decimal] | None = None


class MexcBooks:
    """Per-symbol L2 books of one connector; feed it decoded pushes.

    ``emit`` receives a :class:`BookEvent` after every change of a book's top
    or staleness. ``snapshot_wait_s``: how long to wait for the first diff
    before fetching the snapshot anyway (a quiet market pushes nothing).
    """

    def __init__(self, rest: MexcRest, emit: Callable[[VenueEvent], None], *,
                 snapshot_wait_s: float = 1.0, resync_backoff_max_s: float = 5.0) -> None:
        self._rest = rest
        self._emit = emit
        self._tracked: dict[str, _Tracked] = {}
        self._connected = asyncio.Event()
        self.snapshot_wait_s = snapshot_wait_s
        self.resync_backoff_max_s = resync_backoff_max_s
        self.snapshots_fetched = 0
        self.diffs_applied = 0
        self.diffs_dropped = 0

    # ---- registration / reads -------------------------------------------------------

    def track(self, symbol: Symbol) -> None:
        """Start keeping a book for ``symbol`` (idempotent); syncs once connected."""
        if symbol.mexc not in self._tracked:
            self._tracked[symbol.mexc] = _Tracked(symbol)
            self._schedule_resync(symbol.mexc)

    def book(self, symbol: Symbol) -> L2Book | None:
        t = self._tracked.get(symbol.mexc)
        return t.book if t else None

    def book_top(self, symbol: Symbol) -> BookTop | None:
        """O(1) top of book; None before the first sync. See module docstring for ``ts_ms``/``stale``."""
        t = self._tracked.get(symbol.mexc)
        return t.book.book_top(VENUE, symbol) if t else None

    async def close(self) -> None:
        for t in self._tracked.values():
            if t.task is not None:
                t.task.cancel()
        for t in self._tracked.values():
            if t.task is not None:
                try:
                    await t.task
                except (asyncio.CancelledError, Exception):
                    pass
                t.task = None

    # ---- stream inputs --------------------------------------------------------------

    def on_connection(self, connected: bool, detail: str) -> None:
        """Connection state of the public stream; a disconnect invalidates every book."""
        if connected:
            self._connected.set()
            for sym in self._tracked:
                self._schedule_resync(sym)
            return
        self._connected.clear()
        for t in self._tracked.values():
            t.first_diff.clear()
            t.book.invalidate(f"disconnected: {detail}")
            self._emit(t.event)

    def on_depth(self, diff: DepthDiff) -> None:
        """Apply one ``aggre.depth`` push already converted to a :class:`DepthDiff` (section 4.5)."""
        t = self._tracked.get(diff.venue_symbol)
        if t is None:
            return
        self._result(t, diff.venue_symbol, t.book.apply_diff(
            diff.from_version, diff.to_version, diff.bids, diff.asks, clock.now_ms(), diff.exch_ts_ms))

    def on_depth_push(self, msg: pb.PushDataV3ApiWrapper) -> bool:
        """Apply one ``publicAggreDepths`` wrapper straight from the wire (the hot path: prices
        stay text for the book's key cache, L2Book.apply_diff_text). Returns False when the
        push is unusable (bad versions or numbers; a malformed level also marks the book for a
        resync); a push for an untracked symbol is ignored (True)."""
        venue_symbol = msg.symbol or symbol_of(msg.channel, "")
        t = self._tracked.get(venue_symbol)
        if t is None:
            return bool(venue_symbol)
        body = msg.publicAggreDepths
        try:
            first = int(body.fromVersion)
            last = int(body.toVersion)
        except ValueError:  # empty or not a number
            return False
        if first < 0 or last < first or last > _MAX_VERSION:
            return False
        try:
            result = t.book.apply_diff_text(first, last, body.bids, body.asks, clock.now_ms(),
                                            msg.sendTime or msg.createTime, MEXC_ITEMS)
        except (ArithmeticError, ValueError):  # InvalidOperation, MalformedLevel
            self._result(t, venue_symbol, DiffResult.GAP if not t.book.synced else DiffResult.DROPPED)
            return False
        if result is DiffResult.APPLIED:  # the common case, inline
            self.diffs_applied += 1
            self._emit(t.event)
        else:
            self._result(t, venue_symbol, result)
        return True

    def _result(self, t: _Tracked, venue_symbol: str, result: DiffResult) -> None:
        if result is DiffResult.APPLIED:
            self.diffs_applied += 1
            self._emit(t.event)
        elif result is DiffResult.BUFFERED:
            t.first_diff.set()
            self._schedule_resync(venue_symbol)
        elif result is DiffResult.DROPPED:
            self.diffs_dropped += 1
        else:  # GAP: stale until the fresh snapshot is in
            log.warning("MEXC book %s: %s; resyncing", venue_symbol, t.book.stale_reason)
            t.first_diff.set()
            self._emit(t.event)
            self._schedule_resync(venue_symbol)

    def on_ticker(self, venue_symbol: str, bid: Decimal, bid_qty: Decimal, ask: Decimal, ask_qty: Decimal) -> None:
        """bookTicker push: if it agrees with the in-sequence book, the book is current now."""
        t = self._tracked.get(venue_symbol)
        if t is None:
            return
        t.ticker = (bid, bid_qty, ask, ask_qty)
        top = t.book.top_tuple()
        if t.book.synced and top is not None and top[0] == bid and top[2] == ask:
            t.book.touch(clock.now_ms())

    def on_alive(self) -> None:
        """Any control frame (PONG/ack): the connection is alive, in-sequence books are current."""
        now_ms = clock.now_ms()
        for t in self._tracked.values():
            t.book.touch(now_ms)

    # ---- resync -----------------------------------------------------------------------

    def _schedule_resync(self, venue_symbol: str) -> None:
        t = self._tracked[venue_symbol]
        if t.book.synced or (t.task is not None and not t.task.done()):
            return
        try:
            t.task = asyncio.get_running_loop().create_task(self._resync(t), name=f"mexc-resync:{venue_symbol}")
        except RuntimeError:  # no running loop (sync tests): resync when the loop runs
            t.task = None

    async def _resync(self, t: _Tracked) -> None:
        delay_s = 0.2
        while not t.book.synced:
            await self._connected.wait()
            try:
                await asyncio.wait_for(t.first_diff.wait(), self.snapshot_wait_s)
            except asyncio.TimeoutError:
                pass  # quiet market: take the snapshot anyway
            if not self._connected.is_set():
                continue
            try:
                snap = await self._rest.depth(t.symbol.mexc)
                self.snapshots_fetched += 1
                seq = to_int(snap.lastUpdateId, -1)
                if seq < 0:
                    raise VenueError("depth snapshot without lastUpdateId", venue="mexc_spot", code="MALFORMED")
                result = t.book.apply_snapshot(levels_from(snap.bids), levels_from(snap.asks), seq, clock.now_ms(),
                                               to_int(snap.timestamp))
            except asyncio.CancelledError:
                raise
            except RateLimited as exc:
                result = DiffResult.GAP
                delay_s = max(delay_s, exc.retry_after_s)
            except VenueError as exc:
                log.warning("MEXC book %s: snapshot failed: %s", t.symbol.mexc, exc)
                result = DiffResult.GAP
            if result is DiffResult.APPLIED and t.book.synced:
                self._emit(t.event)
                return
            await asyncio.sleep(delay_s)
            delay_s = min(self.resync_backoff_max_s, delay_s * 2)
