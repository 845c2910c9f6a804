"""Market data through the real connectors against the in-process simulator: symbol rules,
book sync over many replayed updates, sequence-gap resync, dropped/frozen streams."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchanges import clock
from exchanges.book import L2Book
from exchanges.gateio.constants import BOOK_LEVELS as GATE_BOOK_LEVELS
from exchanges.models import BookEvent, MarketType, VenueId
from tests.interop.helpers import RULES, SYM, Admin, Recorder, wait_for

ALL = list(VenueId)


def l2(venue) -> L2Book:
    """The connector's local L2 book of SYM."""
    if venue.venue_id is VenueId.MEXC_SPOT:
        return venue.books.book(SYM)
    return venue.book_sync(SYM).book


def synced_top(venue):
    top = venue.book_top(SYM)
    return top if top is not None and not top.stale else None


def sim_levels(sim, vid: VenueId, depth: int = 2):
    bids, asks, uid = sim.engine.book(vid, SYM, depth)
    return [(D(p), D(q)) for p, q in bids], [(D(p), D(q)) for p, q in asks], uid


@pytest.mark.parametrize("vid", ALL, ids=lambda v: v.value)
async def test_symbol_info_matches_scenario_rules(venues, vid):
    info = await venues[vid].symbol_info(SYM)
    rules = RULES[vid.value]
    assert info.venue is vid and info.symbol == SYM
    assert info.price_tick == D(rules["price_tick"])
    assert info.size_step == D(rules["size_step"])
    assert info.min_size == D(rules["min_size"])
    assert info.min_notional == D(rules["min_notional"])
    assert info.contract_multiplier == D(rules["contract_multiplier"])
    assert info.maker_fee_rate == D(rules["maker_fee_rate"])
    assert info.taker_fee_rate == D(rules["taker_fee_rate"])
    assert info.tradable
    if vid is VenueId.GATE_PERP:
        assert info.market_type is MarketType.PERP and info.funding_interval_s == rules["funding_interval_s"]
    else:
        assert info.market_type is MarketType.SPOT


@pytest.mark.parametrize("vid", ALL, ids=lambda v: v.value)
async def test_watch_book_follows_many_replayed_updates_in_sequence(sim, venues, admin: Admin, vid):
    venue = venues[vid]
    rec = Recorder()
    venue.add_listener(rec)
    await venue.watch_book(SYM)
    top = await wait_for(lambda: synced_top(venue), what="first synced book top")
    assert top.venue is vid and top.bid < top.ask
    assert top.age_ms(clock.now_ms()) < 2000
    book = l2(venue)
    first_seq = book.seq
    # many replayed diffs applied in sequence, none lost
    await wait_for(lambda: book.seq >= first_seq + 60, timeout_s=10, what="60 replayed updates")
    assert book.gap_count == 0 and book.synced and not book.stale
    assert len(rec.of(BookEvent)) >= 10  # MEXC aggregates 100 ms of changes per push
    # freeze the venue's replay: the local book must equal the simulator's book exactly
    await admin._call("POST", "/_sim/replay", {"pause": [vid.value]})
    _, _, uid = sim_levels(sim, vid)
    await wait_for(lambda: book.seq >= uid, what="local book caught up with the simulator")
    bids, asks, uid = sim_levels(sim, vid, depth=50)
    assert book.seq == uid
    assert book.depth(50) == (bids, asks)
    top = venue.book_top(SYM)
    assert (top.bid, top.bid_qty, top.ask, top.ask_qty) == (bids[0][0], bids[0][1], asks[0][0], asks[0][1])
    assert not top.stale and top.age_ms(clock.now_ms()) < 2000


@pytest.mark.parametrize("vid", ALL, ids=lambda v: v.value)
async def test_sequence_gap_marks_stale_and_resyncs(sim, venues, admin: Admin, vid):
    venue = venues[vid]
    stale_seen: list[bool] = []
    venue.add_listener(lambda e: isinstance(e, BookEvent) and stale_seen.append(venue.book_top(SYM) is None
                                                                               or venue.book_top(SYM).stale))
    await venue.watch_book(SYM)
    await wait_for(lambda: synced_top(venue), what="first synced book top")
    book = l2(venue)
    assert book.gap_count == 0
    stale_seen.clear()
    await admin.faults(vid.value, sequence_gap=1)
    await wait_for(lambda: book.gap_count >= 1, what="gap detected")
    assert any(stale_seen), "the book was never reported stale after the gap"
    await wait_for(lambda: synced_top(venue), what="resynced after the gap")
    # resynced on the simulator's true book
    await admin._call("POST", "/_sim/replay", {"pause": [vid.value]})
    _, _, uid = sim_levels(sim, vid)
    await wait_for(lambda: book.seq >= uid and book.synced, what="caught up after resync")
    depth = 50 if vid is VenueId.MEXC_SPOT else GATE_BOOK_LEVELS  # Gate streams the subscribed level only
    bids, asks, uid = sim_levels(sim, vid, depth=depth)
    assert book.depth(depth) == (bids, asks)


def _shorten_idle(venue, idle_s: float = 1.0) -> None:
    """Test speed only: detect a silent socket after ``idle_s`` instead of the production
    20-45 s (the same knob the connector uses; nothing else changes)."""
    if venue.venue_id is VenueId.MEXC_SPOT:
        venue._public_conn().client.idle_timeout_s = idle_s
    else:
        venue.stream.client.idle_timeout_s = idle_s
        venue.stream.client.ping_interval_s = 0.2


@pytest.mark.parametrize("mode", ["dropped", "frozen"])
@pytest.mark.parametrize("vid", ALL, ids=lambda v: v.value)
async def test_broken_stream_goes_stale_then_recovers(sim, venues, admin: Admin, vid, mode):
    venue = venues[vid]
    _shorten_idle(venue)
    await venue.watch_book(SYM)
    await wait_for(lambda: synced_top(venue), what="first synced book top")
    await admin.faults(vid.value, ws=mode)
    top = await wait_for(lambda: (t := venue.book_top(SYM)) is not None and t.stale and t, timeout_s=5,
                         what=f"book stale after ws={mode}")
    assert top.stale
    await admin.clear_faults()
    await wait_for(lambda: synced_top(venue), timeout_s=8, what=f"book recovered after ws={mode} cleared")
    book = l2(venue)
    seq = book.seq
    await wait_for(lambda: book.seq > seq, what="updates flowing again")
    assert not venue.book_top(SYM).stale
