"""L2Book's hot path with prices as text (``apply_diff_text``): the same book as the Decimal
path for any sequence of diffs, the best levels kept right through inserts and deletes of the
best, malformed numbers refused with a resync, the price-key cache bounded."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchanges import book as book_mod
from exchanges.book import GATE_FIELDS, MEXC_ITEMS, TEXT_PAIRS, DiffResult, L2Book, MalformedLevel

PRICES = [f"0.{n:04d}" for n in range(4990, 5012)]  # bids live below 0.5000, asks above
qty = st.sampled_from(["0", "1", "2.5", "10", "0.000"])
side_levels = st.lists(st.tuples(st.sampled_from(PRICES), qty), max_size=6)


def _snapshot() -> tuple[list, list]:
    return [(D("0.4995"), D(3)), (D("0.4990"), D(1))], [(D("0.5005"), D(2)), (D("0.5010"), D(4))]


class _GateLevel:  # a Gate futures level object: .p text, .s Decimal
    def __init__(self, p: str, s: D) -> None:
        self.p, self.s = p, s


class _MexcItem:  # a MEXC protobuf depth item: .price and .quantity texts
    def __init__(self, price: str, quantity: str) -> None:
        self.price, self.quantity = price, quantity


def _shaped(levels: list[tuple[str, str]], shape: int) -> list:
    if shape is GATE_FIELDS:
        return [_GateLevel(p, D(q)) for p, q in levels]
    if shape is MEXC_ITEMS:
        return [_MexcItem(p, q) for p, q in levels]
    return [(p, D(q)) for p, q in levels]


def _split(levels: list[tuple[str, str]], bid: bool) -> list[tuple[str, str]]:
    return [(p, q) for p, q in levels if (D(p) < D("0.5000")) == bid]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(side_levels, side_levels), min_size=1, max_size=25),
       st.sampled_from([TEXT_PAIRS, GATE_FIELDS, MEXC_ITEMS]))
def test_text_path_builds_the_same_book_as_the_decimal_path(diffs, shape):
    text_book, dec_book = L2Book(), L2Book()
    for b in (text_book, dec_book):
        b.apply_snapshot(*_snapshot(), 10, 0)
    seq = 10
    for raw_bids, raw_asks in diffs:
        bids, asks = _split(raw_bids, True), _split(raw_asks, False)
        seq += 1
        t_bids, t_asks = _shaped(bids, shape), _shaped(asks, shape)
        r1 = text_book.apply_diff_text(seq, seq, t_bids, t_asks, seq, 0, shape)
        r2 = dec_book.apply_diff(seq, seq, [(D(p), D(q)) for p, q in bids], [(D(p), D(q)) for p, q in asks], seq, 0)
        assert r1 == r2 == DiffResult.APPLIED
        assert text_book.depth(100) == dec_book.depth(100)
        assert text_book.top_tuple() == dec_book.top_tuple()
        top = text_book.top_tuple()
        if top is not None:  # the kept best levels are the sides' extremes
            assert top[0] == max(text_book.bids) and top[2] == min(text_book.asks)
        else:
            assert not text_book.bids or not text_book.asks


def test_deleting_the_best_level_moves_the_top_to_the_next():
    book = L2Book()
    book.apply_snapshot(*_snapshot(), 10, 0)
    assert book.apply_diff_text(11, 11, [("0.4995", D(0))], [("0.5005", D(0)), ("0.5003", D(1))], 1) is DiffResult.APPLIED
    assert book.top_tuple() == (D("0.4990"), D(1), D("0.5003"), D(1))
    assert book.apply_diff_text(12, 12, [("0.4990", D(0))], [], 2) is DiffResult.APPLIED
    assert book.top_tuple() is None and not book.bids  # one side empty: no top


@pytest.mark.parametrize("price,quantity", [("abc", D(1)), ("NaN", D(1)), ("-0.5", D(1)), ("Infinity", D(1)),
                                            ("0.4995", D("NaN")), ("0.4995", D(-1)), ("0.4995", D("Infinity"))])
def test_a_malformed_level_marks_the_book_for_a_resync(price, quantity):
    book = L2Book()
    book.apply_snapshot(*_snapshot(), 10, 0)
    with pytest.raises(MalformedLevel):
        book.apply_diff_text(11, 11, [(price, quantity)], [], 1)
    assert not book.synced and book.stale and book.gap_count == 1


def test_mexc_items_with_a_bad_quantity_are_malformed():
    book = L2Book()
    book.apply_snapshot(*_snapshot(), 10, 0)
    with pytest.raises(MalformedLevel):
        book.apply_diff_text(11, 11, [_MexcItem("0.4995", "lots")], [], 1, 0, MEXC_ITEMS)
    assert not book.synced


def test_gaps_and_buffering_keep_text_levels_as_decimals():
    book = L2Book()
    assert book.apply_diff_text(5, 5, [("0.4999", D(1))], [], 1) is DiffResult.BUFFERED
    assert book.apply_snapshot(*_snapshot(), 4, 0) is DiffResult.APPLIED
    assert book.top_tuple()[0] == D("0.4999") and book.seq == 5
    assert book.apply_diff_text(9, 9, [], [("0.5001", D(1))], 2) is DiffResult.GAP


def test_key_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(book_mod, "KEY_CACHE_MAX", 5)
    book = L2Book()
    book.apply_snapshot(*_snapshot(), 10, 0)
    for i, p in enumerate(PRICES[:12]):
        book.apply_diff_text(11 + i, 11 + i, [(p, D(1))], [], i)
    assert len(book._keys) <= 5 and book.synced
    assert book.bids[D(PRICES[0])] == D(1)
