"""Book sync rules (docs section 4.5): buffering, snapshot replay, duplicates, gaps, out-of-order, staleness."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from exchanges import clock
from exchanges.mexc.books import MexcBooks
from exchanges.mexc.parse import DepthSnapshot
from exchanges.mexc.push import DepthDiff
from exchanges.models import BookEvent, Symbol
from exchanges.venue import OutcomeUnknown
from tests.mexc.conftest import wait_until

NEIRO = Symbol("NEIROETH")
D = Decimal


class StubRest:
    """Serves depth snapshots from a list (last one repeats); can fail first calls."""

    def __init__(self, *snapshots: DepthSnapshot, fail_first: int = 0) -> None:
        self.snapshots = list(snapshots)
        self.calls = 0
        self.fail_first = fail_first

    async def depth(self, venue_symbol: str, limit: int = 1000) -> DepthSnapshot:
        self.calls += 1
        if self.calls <= self.fail_first:
            raise OutcomeUnknown("no answer", venue="mexc_spot")
        return self.snapshots[min(self.calls - self.fail_first - 1, len(self.snapshots) - 1)]


def snap(version: int, bid: str = "0.05000", ask: str = "0.05010") -> DepthSnapshot:
    return DepthSnapshot(lastUpdateId=str(version), bids=[[bid, "100"], ["0.04990", "50"]],
                         asks=[[ask, "80"], ["0.05020", "30"]])


def diff(frm: int, to: int, bids=(), asks=()) -> DepthDiff:
    return DepthDiff("NEIROETHUSDT", frm, to, [(D(p), D(q)) for p, q in bids], [(D(p), D(q)) for p, q in asks], 0)


def make(rest: StubRest) -> tuple[MexcBooks, list]:
    events: list = []
    books = MexcBooks(rest, events.append, snapshot_wait_s=0.05, resync_backoff_max_s=0.05)  # type: ignore[arg-type]
    books.track(NEIRO)
    books.on_connection(True, "test")
    return books, events


def synced(books: MexcBooks) -> bool:
    book = books.book(NEIRO)
    return book is not None and book.synced


async def test_buffered_diffs_replayed_over_snapshot() -> None:
    books, events = make(StubRest(snap(101)))
    assert books.book_top(NEIRO) is None
    books.on_depth(diff(98, 100, bids=[("0.05000", "1")]))  # older than snapshot: dropped at replay
    books.on_depth(diff(101, 102, bids=[("0.05005", "7")]))  # covers 102 = lastUpdateId + 1
    books.on_depth(diff(103, 103, asks=[("0.05010", "0")]))  # delete best ask
    await wait_until(lambda: synced(books))
    top = books.book_top(NEIRO)
    assert top is not None and not top.stale and top.seq == 103
    assert (top.bid, top.bid_qty, top.ask, top.ask_qty) == (D("0.05005"), D(7), D("0.05020"), D(30))
    assert any(isinstance(e, BookEvent) for e in events)
    await books.close()


async def test_duplicates_and_old_pushes_dropped_after_sync() -> None:
    books, _ = make(StubRest(snap(200)))
    await wait_until(lambda: synced(books))  # quiet market: snapshot without any diff
    books.on_depth(diff(201, 202, bids=[("0.05001", "5")]))
    books.on_depth(diff(201, 202, bids=[("0.05001", "999")]))  # duplicate
    books.on_depth(diff(150, 199, bids=[("0.05009", "1")]))  # toVersion < lastUpdateId
    top = books.book_top(NEIRO)
    assert top is not None and top.bid == D("0.05001") and top.bid_qty == D(5) and top.seq == 202
    assert books.diffs_dropped == 2 and not top.stale
    await books.close()


async def test_gap_marks_stale_then_resyncs() -> None:
    rest = StubRest(snap(300), snap(400, bid="0.04995"))
    books, events = make(rest)
    await wait_until(lambda: synced(books))
    books.on_depth(diff(301, 301))
    n_events = len(events)
    books.on_depth(diff(303, 305, bids=[("0.05004", "1")]))  # 302 missing
    top = books.book_top(NEIRO)
    assert top is not None and top.stale  # last known top, flagged
    assert len(events) > n_events  # staleness change announced
    await wait_until(lambda: synced(books))
    top = books.book_top(NEIRO)
    assert top is not None and not top.stale and top.seq == 400 and top.bid == D("0.04995")
    assert rest.calls == 2
    await books.close()


async def test_out_of_order_push_is_a_gap() -> None:
    rest = StubRest(snap(10), snap(20))
    books, _ = make(rest)
    await wait_until(lambda: synced(books))
    books.on_depth(diff(13, 14))  # arrives before 11..12
    assert books.book(NEIRO).stale  # type: ignore[union-attr]
    books.on_depth(diff(11, 12))  # late one does not "heal" the book
    await wait_until(lambda: synced(books))
    assert books.book(NEIRO).seq == 20  # type: ignore[union-attr]
    await books.close()


async def test_snapshot_older_than_buffer_is_refetched() -> None:
    rest = StubRest(snap(50), snap(60))  # first snapshot predates the first buffered push
    books, _ = make(rest)
    books.on_depth(diff(58, 61, bids=[("0.05003", "2")]))
    await wait_until(lambda: synced(books))
    assert rest.calls == 2
    top = books.book_top(NEIRO)
    assert top is not None and top.seq == 61 and top.bid == D("0.05003")
    await books.close()


async def test_snapshot_failures_retry_until_synced() -> None:
    rest = StubRest(snap(5), fail_first=2)
    books, _ = make(rest)
    await wait_until(lambda: synced(books))
    assert rest.calls == 3
    await books.close()


async def test_disconnect_marks_stale_and_reconnect_resyncs() -> None:
    rest = StubRest(snap(7), snap(70))
    books, events = make(rest)
    await wait_until(lambda: synced(books))
    books.on_connection(False, "socket closed")
    top = books.book_top(NEIRO)
    assert top is not None and top.stale
    await asyncio.sleep(0)  # nothing may resync while disconnected
    assert rest.calls == 1
    books.on_connection(True, "reconnected")
    await wait_until(lambda: synced(books))
    assert books.book(NEIRO).seq == 70  # type: ignore[union-attr]
    await books.close()


async def test_ts_ms_from_project_clock_and_liveness_touch(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1_000_000]
    monkeypatch.setattr(clock, "now_ms", lambda: now[0])
    books, _ = make(StubRest(snap(1)))
    await wait_until(lambda: synced(books))
    books.on_depth(diff(2, 2, bids=[("0.05001", "3")]))
    assert books.book_top(NEIRO).ts_ms == 1_000_000  # type: ignore[union-attr]
    now[0] = 1_005_000
    books.on_ticker("NEIROETHUSDT", D("0.05001"), D(3), D("0.05010"), D(80))  # agrees with book: current
    assert books.book_top(NEIRO).ts_ms == 1_005_000  # type: ignore[union-attr]
    now[0] = 1_009_000
    books.on_ticker("NEIROETHUSDT", D("0.04000"), D(3), D("0.05010"), D(80))  # disagrees: no touch
    assert books.book_top(NEIRO).age_ms(now[0]) == 4_000  # type: ignore[union-attr]
    books.on_alive()
    assert books.book_top(NEIRO).ts_ms == 1_009_000  # type: ignore[union-attr]
    await books.close()


async def test_crossed_book_triggers_resync() -> None:
    rest = StubRest(snap(1), snap(9))
    books, _ = make(rest)
    await wait_until(lambda: synced(books))
    books.on_depth(diff(2, 2, bids=[("0.06000", "1")]))  # bid above best ask
    assert books.book(NEIRO).stale  # type: ignore[union-attr]
    await wait_until(lambda: synced(books))
    assert books.book(NEIRO).seq == 9  # type: ignore[union-attr]
    await books.close()
