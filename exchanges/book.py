"""Local L2 order book kept in sync from a REST snapshot plus sequenced WS diffs.

Venue-neutral: works for Gate (``U``/``u`` first/last update id, snapshot ``id``;
docs/venues.md section 2.5) and MEXC (``fromVersion``/``toVersion``, snapshot
``lastUpdateId``; section 4.5) because both describe a diff by the inclusive range of update
ids it covers, with absolute level quantities (0 = delete).

Public API (stable; additive changes only)
-------------------------------------------
``DiffResult`` (IntEnum): ``APPLIED`` | ``BUFFERED`` (no snapshot yet, kept for replay) |
``DROPPED`` (duplicate / older than the book) | ``GAP`` (sequence broken or book crossed:
the book is now unsynced and stale; fetch a fresh snapshot and call ``apply_snapshot``).

``L2Book(max_buffer=5000)``
    ``apply_snapshot(bids, asks, seq, ts_ms, exch_ts_ms=0) -> DiffResult``
        Replace the book with a snapshot whose last update id is ``seq`` and replay buffered
        diffs: drop those with ``last_id <= seq``; the first applied must satisfy
        ``first_id <= seq + 1 <= last_id``. Returns ``APPLIED`` when synced, ``GAP`` when the
        earliest buffered diff starts after ``seq + 1`` (snapshot too old: fetch again; the
        buffer is kept).
    ``apply_diff(first_id, last_id, bids, asks, ts_ms, exch_ts_ms=0) -> DiffResult``
        Sequence rule once synced: a diff is applied when ``first_id <= seq + 1 <= last_id``
        (normally ``first_id == seq + 1``; an overlap is safe because quantities are absolute);
        ``last_id <= seq`` is a duplicate -> ``DROPPED``; ``first_id > seq + 1`` is a gap ->
        ``GAP`` (the diff is buffered so a later snapshot can start from it).
    ``apply_diff_text(first_id, last_id, bids, asks, ts_ms, exch_ts_ms=0) -> DiffResult``
        (``shape``: ``TEXT_PAIRS`` (default), ``GATE_FIELDS`` objects with ``.p`` text and ``.s``
        Decimal, ``MEXC_ITEMS`` protobuf items with ``.price``/``.quantity`` texts.) The same with
        each level's PRICE as the venue's text (``("0.3013", Decimal("5310"))``;
        the hot path of the connectors): a price text becomes its ``Decimal`` key once and is
        looked up in a per-book cache afterwards (a Decimal's hash is cached on the object, a
        fresh one's costs ~1 us). A price that is not a positive finite number or a quantity that
        is not a finite number >= 0 makes the diff malformed: the book is marked unsynced (GAP)
        and :class:`MalformedLevel` (a ValueError) is raised, nothing of that diff is trusted.
    ``apply_full(bids, asks, seq, ts_ms, exch_ts_ms=0)``
        Overwrite with a venue-pushed full book (Gate ``"full": true``) and mark synced.
    ``invalidate(reason)``: mark unsynced + stale and clear the buffer (disconnect, resubscribe).
    ``touch(ts_ms)``: record that the (synced) stream is known alive at ``ts_ms`` without a change.
    ``top_tuple() -> (bid, bid_qty, ask, ask_qty) | None`` and
    ``book_top(venue, symbol) -> BookTop | None``: O(1) (cached best levels; no I/O).
        ``None`` until the first sync or while a side is empty; ``BookTop.stale`` is True while
        unsynced/invalidated. ``ts_ms`` is the local receive time (project clock) of the last
        applied update or ``touch``.
    ``depth(n) -> (bids, asks)``: up to ``n`` levels per side as ``(price, qty)`` lists,
        bids descending, asks ascending (O(n)).
    Attributes: ``seq``, ``synced``, ``stale``, ``ts_ms``, ``exch_ts_ms``, ``gap_count``,
    ``stale_reason``, ``bids`` / ``asks`` (``SortedDict`` price -> qty, both ascending).

Levels are iterables of ``(price, qty)`` pairs of :class:`~decimal.Decimal` in the venue's
order unit (base on spot, contracts on Gate perp). Best bid/ask are kept up to date while levels
are applied (re-read from the sorted side only when the best level itself is deleted), so reading
the top is O(1); inserts/deletes are O(log n) (``sortedcontainers``, public API only).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from decimal import Decimal
from enum import IntEnum

from sortedcontainers import SortedDict

from exchanges.models import BookTop, Symbol, VenueId

Level = tuple[Decimal, Decimal]
TextLevel = tuple[str, Decimal]  # (price as the venue's text, quantity)
_DICT_SET = dict.__setitem__
_ZERO = Decimal(0)
_MAX_NUMBER = Decimal("1e40")  # beyond any real price or quantity (and keeps infinities out)
_MIN_PRICE = Decimal("1e-40")
# level shapes of L2Book._apply / apply_diff_text
DECIMAL_PAIRS, TEXT_PAIRS, GATE_FIELDS, MEXC_ITEMS = 0, 1, 2, 3
KEY_CACHE_MAX = 50_000  # distinct price texts remembered per book before the cache restarts


class MalformedLevel(ValueError):
    """A level whose price or quantity is not a usable number."""


class DiffResult(IntEnum):
    APPLIED = 0
    BUFFERED = 1
    DROPPED = 2
    GAP = 3


class _Diff:
    __slots__ = ("first_id", "last_id", "bids", "asks", "ts_ms", "exch_ts_ms")

    def __init__(self, first_id: int, last_id: int, bids: list[Level], asks: list[Level], ts_ms: int, exch_ts_ms: int):
        self.first_id = first_id
        self.last_id = last_id
        self.bids = bids
        self.asks = asks
        self.ts_ms = ts_ms
        self.exch_ts_ms = exch_ts_ms


class L2Book:
    """Sequence-checked L2 book; see the module docstring for the contract."""

    __slots__ = (
        "bids", "asks", "seq", "synced", "stale", "stale_reason", "ts_ms", "exch_ts_ms",
        "gap_count", "_buffer", "_top", "_top_obj", "ever_synced", "_bid", "_ask", "_keys",
    )

    def __init__(self, max_buffer: int = 5000) -> None:
        self.bids: SortedDict = SortedDict()
        self.asks: SortedDict = SortedDict()
        self.seq = 0
        self.synced = False
        self.ever_synced = False
        self.stale = True
        self.stale_reason = "no snapshot yet"
        self.ts_ms = 0
        self.exch_ts_ms = 0
        self.gap_count = 0
        self._buffer: deque[_Diff] = deque(maxlen=max_buffer)
        self._top: tuple[Decimal, Decimal, Decimal, Decimal] | None = None
        self._top_obj: BookTop | None = None
        self._bid: Decimal | None = None  # best bid price (None: side empty)
        self._ask: Decimal | None = None
        self._keys: dict[str, Decimal] = {}  # price text -> its Decimal key (apply_diff_text)

    # ---- updates ----------------------------------------------------------------------------

    def apply_snapshot(
        self, bids: Iterable[Level], asks: Iterable[Level], seq: int, ts_ms: int, exch_ts_ms: int = 0
    ) -> DiffResult:
        buffered = [d for d in self._buffer if d.last_id > seq]
        if buffered and buffered[0].first_id > seq + 1:
            return DiffResult.GAP  # snapshot older than the first diff we hold: fetch again
        self._load(bids, asks, seq, ts_ms, exch_ts_ms)
        self._buffer.clear()
        for d in buffered:
            if d.first_id > self.seq + 1:
                return self._gap(f"buffered diff {d.first_id}..{d.last_id} after {self.seq}", d)
            if d.last_id <= self.seq:
                continue
            self._apply_levels(d.bids, d.asks)
            self.seq = d.last_id
            self.ts_ms = max(self.ts_ms, d.ts_ms)
            self.exch_ts_ms = d.exch_ts_ms or self.exch_ts_ms
        return self._after_change()

    def apply_full(
        self, bids: Iterable[Level], asks: Iterable[Level], seq: int, ts_ms: int, exch_ts_ms: int = 0
    ) -> DiffResult:
        self._buffer.clear()
        self._load(bids, asks, seq, ts_ms, exch_ts_ms)
        return self._after_change()

    def apply_diff(
        self,
        first_id: int,
        last_id: int,
        bids: list[Level],
        asks: list[Level],
        ts_ms: int,
        exch_ts_ms: int = 0,
    ) -> DiffResult:
        if not self.synced:
            buf = self._buffer
            if buf and first_id != buf[-1].last_id + 1:
                if last_id <= buf[-1].last_id:
                    return DiffResult.DROPPED  # duplicate while buffering
                buf.clear()  # discontinuity in the buffer: restart it from this diff
            buf.append(_Diff(first_id, last_id, bids, asks, ts_ms, exch_ts_ms))
            return DiffResult.BUFFERED
        seq = self.seq
        if last_id <= seq:
            return DiffResult.DROPPED
        if first_id > seq + 1:
            return self._gap(f"gap: diff {first_id}..{last_id} after {seq}",
                             _Diff(first_id, last_id, bids, asks, ts_ms, exch_ts_ms))
        self._apply_levels(bids, asks)
        self.seq = last_id
        self.ts_ms = ts_ms
        if exch_ts_ms:
            self.exch_ts_ms = exch_ts_ms
        return self._after_change()

    def apply_diff_text(
        self,
        first_id: int,
        last_id: int,
        bids: list,
        asks: list,
        ts_ms: int,
        exch_ts_ms: int = 0,
        shape: int = TEXT_PAIRS,
    ) -> DiffResult:
        if shape is not TEXT_PAIRS and (not self.synced or first_id > self.seq + 1):  # rare paths: pairs
            bids, asks = text_pairs(bids, shape), text_pairs(asks, shape)
            shape = TEXT_PAIRS
        if not self.synced:
            return self.apply_diff(first_id, last_id, self.levels_of(bids), self.levels_of(asks), ts_ms, exch_ts_ms)
        seq = self.seq
        if last_id <= seq:
            return DiffResult.DROPPED
        if first_id > seq + 1:
            return self._gap(f"gap: diff {first_id}..{last_id} after {seq}",
                             _Diff(first_id, last_id, self.levels_of(bids), self.levels_of(asks), ts_ms, exch_ts_ms))
        try:  # a side without levels is left as it is (most pushes change one side)
            if bids:
                self._bid = self._apply(self.bids, bids, self._bid, True, shape)
            if asks:
                self._ask = self._apply(self.asks, asks, self._ask, False, shape)
        except (ArithmeticError, ValueError, TypeError) as exc:
            self._gap(f"malformed level in diff {first_id}..{last_id}: {exc}", None)
            raise MalformedLevel(str(exc)) from exc
        self.seq = last_id
        self.ts_ms = ts_ms
        if exch_ts_ms:
            self.exch_ts_ms = exch_ts_ms
        return self._after_change()

    def _key(self, text: str) -> Decimal:
        """The Decimal key of a price text (cached; MalformedLevel when not a usable price)."""
        key = Decimal(text)
        if not _MIN_PRICE <= key < _MAX_NUMBER:
            raise MalformedLevel(f"price {text!r}")
        keys = self._keys
        if len(keys) >= KEY_CACHE_MAX:
            keys.clear()
        keys[text] = key
        return key

    def levels_of(self, levels: list[TextLevel]) -> list[Level]:
        """Text levels as Decimal levels (the rare paths: buffering, gaps, full books);
        MalformedLevel for a price that is not a usable number."""
        get = self._keys.get
        return [(get(p) or self._key(p), q) for p, q in levels]

    def _apply(self, side: SortedDict, levels: Iterable, best: Decimal | None, bid: bool, mode: int) -> Decimal | None:
        """Apply absolute levels (0 = delete) to one side; returns the side's new best price.

        ``mode``: a level shape (``DECIMAL_PAIRS``, ``TEXT_PAIRS``, ``GATE_FIELDS``,
        ``MEXC_ITEMS``; see apply_diff_text). Text prices
        go through the key cache and text-path quantities are checked (MalformedLevel).
        A quantity change at an existing price only touches the dict part of the SortedDict
        (``dict.__setitem__`` skips the sorted key list); inserts and deletes go through the
        SortedDict API so the key order stays right. The best price follows inserts and is read
        again from the sorted side only when the best level itself was deleted.
        """
        get = self._keys.get
        make_key = self._key
        dset = _DICT_SET
        zero, top, dec = _ZERO, _MAX_NUMBER, Decimal  # locals: read once, not per level
        fields = mode is GATE_FIELDS
        items = mode is MEXC_ITEMS
        checked = mode is not DECIMAL_PAIRS
        best_gone = False
        for lv in levels:
            if fields:
                p = lv.p
                q = lv.s
            elif items:
                p = lv.price
                q = dec(lv.quantity)
            else:
                p, q = lv
            if checked:
                k = get(p) or make_key(p)  # keys are >= _MIN_PRICE: never falsy
                if not zero <= q < top:  # NaN raises InvalidOperation; negatives, inf fail
                    raise MalformedLevel(f"quantity {q!r} at {p}")
            else:
                k = p
            if q:
                if k in side:
                    dset(side, k, q)
                else:
                    side[k] = q
                    if best is None or (k > best if bid else k < best):
                        best = k
            elif k in side:
                del side[k]
                if k == best:
                    best_gone = True
        if best_gone:
            return (side.peekitem(-1 if bid else 0)[0]) if side else None
        return best

    def invalidate(self, reason: str) -> None:
        self.synced = False
        self.stale = True
        self.stale_reason = reason
        self._buffer.clear()
        self._top_obj = None

    def touch(self, ts_ms: int) -> None:
        if self.synced and ts_ms > self.ts_ms:
            self.ts_ms = ts_ms
            self._top_obj = None

    # ---- reads ------------------------------------------------------------------------------

    def top_tuple(self) -> tuple[Decimal, Decimal, Decimal, Decimal] | None:
        return self._top

    def book_top(self, venue: VenueId, symbol: Symbol) -> BookTop | None:
        obj = self._top_obj
        if obj is not None:
            return obj
        top = self._top
        if top is None or not self.ever_synced:
            return None
        obj = BookTop(
            venue=venue, symbol=symbol, bid=top[0], bid_qty=top[1], ask=top[2], ask_qty=top[3],
            ts_ms=self.ts_ms, exch_ts_ms=self.exch_ts_ms, seq=self.seq, stale=self.stale,
        )
        self._top_obj = obj
        return obj

    def depth(self, n: int) -> tuple[list[Level], list[Level]]:
        bids = self.bids
        asks = self.asks
        nb = min(n, len(bids))
        na = min(n, len(asks))
        return (
            [bids.peekitem(-1 - i) for i in range(nb)],
            [asks.peekitem(i) for i in range(na)],
        )

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    # ---- internals --------------------------------------------------------------------------

    def _load(self, bids: Iterable[Level], asks: Iterable[Level], seq: int, ts_ms: int, exch_ts_ms: int) -> None:
        self.bids = SortedDict({p: q for p, q in bids if q})
        self.asks = SortedDict({p: q for p, q in asks if q})
        self._bid = self.bids.peekitem(-1)[0] if self.bids else None
        self._ask = self.asks.peekitem(0)[0] if self.asks else None
        self.seq = seq
        self.ts_ms = ts_ms
        self.exch_ts_ms = exch_ts_ms
        self.synced = True
        self.ever_synced = True
        self.stale = False
        self.stale_reason = ""

    def _apply_levels(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        self._bid = self._apply(self.bids, bids, self._bid, True, DECIMAL_PAIRS)
        self._ask = self._apply(self.asks, asks, self._ask, False, DECIMAL_PAIRS)

    def _after_change(self) -> DiffResult:
        self._top_obj = None
        bp = self._bid
        ap = self._ask
        if bp is not None and ap is not None:
            if bp >= ap:
                return self._gap(f"crossed book: bid {bp} >= ask {ap}", None)
            self._top = (bp, self.bids[bp], ap, self.asks[ap])
        else:
            self._top = None
        return DiffResult.APPLIED

    def _gap(self, reason: str, keep: _Diff | None) -> DiffResult:
        self.synced = False
        self.stale = True
        self.stale_reason = reason
        self.gap_count += 1
        self._top_obj = None
        self._buffer.clear()
        if keep is not None:
            self._buffer.append(keep)
        return DiffResult.GAP


def text_pairs(levels: Iterable, shape: int) -> list[TextLevel]:
    """Levels of any text shape as ``(price text, Decimal)`` pairs (InvalidOperation for a
    quantity that is not a number)."""
    if shape is GATE_FIELDS:
        return [(lv.p, lv.s) for lv in levels]
    if shape is MEXC_ITEMS:
        return [(lv.price, Decimal(lv.quantity)) for lv in levels]
    return list(levels)
