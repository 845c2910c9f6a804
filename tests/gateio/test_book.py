"""L2Book / BookSync sequence handling: snapshot+diff sync, gaps, duplicates, out-of-order,
crossed books, full snapshots, and a replay of the real cryptofeed captures."""

from __future__ import annotations

import re
from decimal import Decimal as D

import msgspec
import pytest

from exchanges.book import DiffResult, L2Book
from exchanges.gateio import GatePerpVenue, GateSpotVenue
from exchanges.gateio import schemas as S
from exchanges.models import BookEvent, Symbol, VenueId
from tests.gateio.captures import FIXTURES

SYM = Symbol("NEIROETH")


def lv(*pairs: tuple[str, str]) -> list[tuple[D, D]]:
    return [(D(p), D(q)) for p, q in pairs]


def synced_book(seq: int = 100) -> L2Book:
    book = L2Book()
    assert book.apply_snapshot(lv(("1.0", "5"), ("0.9", "1")), lv(("1.1", "2"), ("1.2", "3")), seq, 1) == DiffResult.APPLIED
    return book


def test_top_none_before_sync_and_o1_after() -> None:
    book = L2Book()
    assert book.book_top(VenueId.GATE_SPOT, SYM) is None
    book = synced_book()
    top = book.book_top(VenueId.GATE_SPOT, SYM)
    assert (top.bid, top.bid_qty, top.ask, top.ask_qty, top.seq, top.stale) == (D("1.0"), D(5), D("1.1"), D(2), 100, False)
    assert book.book_top(VenueId.GATE_SPOT, SYM) is top  # cached object, no recomputation


def test_contiguous_diff_applies_and_zero_deletes() -> None:
    book = synced_book()
    assert book.apply_diff(101, 102, lv(("1.0", "0"), ("1.05", "7")), lv(("1.1", "0")), 5, 4) == DiffResult.APPLIED
    assert book.top_tuple() == (D("1.05"), D(7), D("1.2"), D(3))
    assert book.seq == 102 and book.ts_ms == 5 and book.exch_ts_ms == 4


def test_duplicate_and_old_diffs_dropped() -> None:
    book = synced_book()
    book.apply_diff(101, 101, lv(("1.0", "6")), [], 2)
    assert book.apply_diff(101, 101, lv(("1.0", "99")), [], 3) == DiffResult.DROPPED
    assert book.apply_diff(90, 95, lv(("1.0", "99")), [], 3) == DiffResult.DROPPED
    assert book.top_tuple()[1] == D(6) and book.synced


def test_gap_marks_stale_and_resync_uses_buffer() -> None:
    book = synced_book()
    assert book.apply_diff(103, 104, lv(("1.0", "8")), [], 2) == DiffResult.GAP
    assert not book.synced and book.stale and book.gap_count == 1
    assert book.book_top(VenueId.GATE_SPOT, SYM).stale is True
    assert book.apply_diff(105, 105, [], lv(("1.1", "9")), 3) == DiffResult.BUFFERED
    # snapshot older than the buffered diffs: refused, fetch again
    assert book.apply_snapshot(lv(("1.0", "1")), lv(("1.1", "1")), 100, 4) == DiffResult.GAP
    # fresh snapshot at id 103: diff 103..104 straddles id+1, 105 follows
    assert book.apply_snapshot(lv(("1.0", "1")), lv(("1.1", "1")), 103, 4) == DiffResult.APPLIED
    assert book.synced and not book.stale and book.seq == 105
    assert book.top_tuple() == (D("1.0"), D(8), D("1.1"), D(9))


def test_out_of_order_diff_is_a_gap() -> None:
    book = synced_book()
    assert book.apply_diff(102, 102, lv(("1.0", "1")), [], 2) == DiffResult.GAP
    assert book.stale


def test_buffer_restarts_on_discontinuity_before_snapshot() -> None:
    book = L2Book()
    assert book.apply_diff(10, 11, lv(("1", "1")), [], 1) == DiffResult.BUFFERED
    assert book.apply_diff(20, 21, lv(("1", "2")), lv(("2", "1")), 1) == DiffResult.BUFFERED
    assert book.buffered == 1
    assert book.apply_snapshot(lv(("1", "3")), lv(("2", "3")), 19, 1) == DiffResult.APPLIED
    assert book.seq == 21 and book.top_tuple() == (D(1), D(2), D(2), D(1))


def test_crossed_book_forces_resync() -> None:
    book = synced_book()
    assert book.apply_diff(101, 101, lv(("1.15", "1")), [], 2) == DiffResult.GAP
    assert not book.synced and "crossed" in book.stale_reason


def test_full_snapshot_overwrites() -> None:
    book = synced_book()
    book.apply_diff(105, 106, [], [], 2)  # gap
    assert book.apply_full(lv(("2", "1")), lv(("3", "1")), 500, 3) == DiffResult.APPLIED
    assert book.synced and book.seq == 500 and book.top_tuple() == (D(2), D(1), D(3), D(1))


def test_invalidate_then_touch() -> None:
    book = synced_book()
    book.invalidate("disconnected")
    top = book.book_top(VenueId.GATE_SPOT, SYM)
    assert top.stale and book.stale_reason == "disconnected"
    book.touch(999)  # not synced: no effect
    assert book.ts_ms == 1
    book = synced_book()
    book.touch(999)
    assert book.book_top(VenueId.GATE_SPOT, SYM).ts_ms == 999


def test_depth_sorted() -> None:
    bids, asks = synced_book().depth(5)
    assert [p for p, _ in bids] == [D("1.0"), D("0.9")] and [p for p, _ in asks] == [D("1.1"), D("1.2")]


def frame(channel: str, result: dict) -> bytes:
    return msgspec.json.encode({"time": 1, "channel": channel, "event": "update", "result": result})


def test_venue_frames_drive_booksync_and_emit_events() -> None:
    venue = GateSpotVenue()
    events: list = []
    venue.add_listener(events.append)
    bs = venue.track_book(SYM)
    venue._on_frame(frame("spot.order_book_update", {"t": 5, "s": "NEIROETH_USDT", "U": 11, "u": 12,
                                                     "b": [["0.05", "10"]], "a": [["0.06", "3"]]}))
    assert bs.book.buffered == 1 and venue.book_top(SYM) is None
    assert bs.book.apply_snapshot(lv(("0.04", "1")), lv(("0.07", "1")), 10, 1) == DiffResult.APPLIED
    venue._on_frame(frame("spot.order_book_update", {"t": 6, "s": "NEIROETH_USDT", "U": 13, "u": 13,
                                                     "b": [["0.05", "0"]], "a": []}))
    top = venue.book_top(SYM)
    assert top.bid == D("0.04") and top.ask == D("0.06") and top.seq == 13 and top.exch_ts_ms == 6
    assert events == [BookEvent(VenueId.GATE_SPOT, SYM)]
    venue._on_frame(frame("spot.order_book_update", {"t": 7, "s": "NEIROETH_USDT", "U": 20, "u": 21, "b": [], "a": []}))
    assert venue.book_top(SYM).stale and len(events) == 2
    # full frame repairs the book
    venue._on_frame(frame("spot.order_book_update", {"t": 8, "s": "NEIROETH_USDT", "U": 0, "u": 30, "full": True,
                                                     "b": [["0.05", "1"]], "a": [["0.055", "1"]]}))
    assert not venue.book_top(SYM).stale and venue.book_top(SYM).seq == 30
    assert venue.malformed_frames == 0


def test_perp_frames_sizes_int_or_string() -> None:
    venue = GatePerpVenue()
    bs = venue.track_book(SYM)
    bs.book.apply_snapshot(lv(("1", "5")), lv(("2", "5")), 1, 0)
    venue._on_frame(frame("futures.order_book_update", {"t": 1, "s": "NEIROETH_USDT", "U": 2, "u": 2,
                                                        "b": [{"p": "1.5", "s": 7}], "a": [{"p": "1.9", "s": "2.5"}]}))
    assert bs.book.top_tuple() == (D("1.5"), D(7), D("1.9"), D("2.5"))


def _events(prefix: str) -> list[tuple[float, str, str]]:
    out = []
    for line in (FIXTURES / f"{prefix}.ws.1.0").read_text().splitlines():
        m = re.match(r"^(\d+(?:\.\d+)?): (.*)$", line)
        if m:
            out.append((float(m.group(1)), "ws", m.group(2)))
    for line in (FIXTURES / f"{prefix}.http.0.0").read_text().splitlines():
        m = re.match(r"^(\S+) -> (\d+(?:\.\d+)?): (.*)$", line)
        if m:
            key = re.search(r"(?:currency_pair|contract)=([A-Z0-9_]+)", m.group(1)).group(1)
            out.append((float(m.group(2)), key, m.group(3)))
    return sorted(out, key=lambda e: e[0])


@pytest.mark.parametrize("prefix,cls,book_type", [
    ("GATEIO", GateSpotVenue, S.SpotOrderBook),
    ("GATEIO_FUTURES", GatePerpVenue, S.FuturesOrderBook),
])
def test_replay_real_captures_sync_without_gaps(prefix: str, cls: type, book_type: type) -> None:
    """Interleave the real WS frames and REST snapshots by receive time, as the connector would."""
    venue = cls()
    events = _events(prefix)
    pairs = {k for _, k, _ in events if k != "ws"}
    assert len(pairs) == 10
    for p in pairs:
        venue.track_book(Symbol.parse(p))
    for _, kind, data in events:
        if kind == "ws":
            venue._on_frame(data)
            continue
        b = msgspec.json.decode(data, type=book_type)
        conv = (lambda x: (x.p, x.s)) if book_type is S.FuturesOrderBook else (lambda x: (x[0], x[1]))
        res = venue._books[kind].book.apply_snapshot([conv(x) for x in b.bids], [conv(x) for x in b.asks], b.id, 0)
        assert res == DiffResult.APPLIED
    assert venue.malformed_frames == 0
    for p in pairs:
        bs = venue._books[p]
        assert bs.book.synced and bs.book.gap_count == 0
        bid, _, ask, _ = bs.book.top_tuple()
        assert bid < ask
        assert bs.ticker_mismatches == 0
