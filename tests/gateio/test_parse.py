"""Parsers over real/doc Gate WS frames (gate_ws_samples.jsonl, cryptofeed captures) and
hypothesis property tests: malformed or truncated frames never raise out of the connector."""

from __future__ import annotations

from decimal import Decimal as D

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from exchanges.gateio import GatePerpVenue, GateSpotVenue
from exchanges.models import (
    BalanceEvent,
    ConnectionEvent,
    FillEvent,
    OrderEvent,
    OrderStatus,
    PositionEvent,
    Side,
    Symbol,
)
from tests.gateio.captures import ws_received, ws_samples

SAMPLES = ws_samples()


def sample(description_part: str) -> bytes:
    (hit,) = [s for s in SAMPLES if description_part in s["description"]]
    return msgspec.json.encode(hit["message"])


def feed(venue, frame: bytes) -> list:
    events: list = []
    venue.add_listener(events.append)
    venue._on_frame(frame)
    venue.remove_listener(events.append)
    return events


def test_spot_orders_doc_frame() -> None:
    v = GateSpotVenue()
    (ev,) = feed(v, sample("spot.orders update (doc example)"))
    assert isinstance(ev, OrderEvent)
    o = ev.order
    assert (o.client_order_id, o.venue_order_id, o.side, o.qty, o.price, o.status, o.created_ms) == (
        "abc", "30784435", Side.SELL, D(1), D(10001), OrderStatus.OPEN, 1605175506123)


def test_spot_orders_2026_frame() -> None:
    (ev,) = feed(GateSpotVenue(), sample("spot.orders update (2026 shape"))
    assert ev.order.client_order_id == "apiv4" and ev.order.qty == D("0.1") and ev.order.status is OrderStatus.OPEN


def test_spot_balances_frames() -> None:
    (ev,) = feed(GateSpotVenue(), sample("spot.balances update (doc example)"))
    assert isinstance(ev, BalanceEvent)
    assert ev.balance.free == D("1022943.325075926") and ev.balance.locked == D("10008")
    (ev,) = feed(GateSpotVenue(), sample("spot.balances update with freeze"))
    assert ev.balance.locked == D(5)


def test_futures_private_frames() -> None:
    v = GatePerpVenue()
    (ev,) = feed(v, sample("futures.orders update (doc example)"))
    o = ev.order
    assert (o.status, o.qty, o.filled_qty, o.avg_price, o.side, o.tif.value) == (
        OrderStatus.FILLED, D(1), D(1), D("40000.4"), Side.BUY, "gtc")
    (ev,) = feed(v, sample("futures.usertrades update"))
    assert isinstance(ev, FillEvent)
    f = ev.fill
    assert (f.price, f.qty, f.fee, f.fee_asset, f.is_maker, f.trade_id, f.ts_ms) == (
        D("40000.4"), D(1), D("0.0009290592"), "USDT", True, "3335259", 1628736848321)
    (ev,) = feed(v, sample("futures.positions update (2023"))
    assert isinstance(ev, PositionEvent) and ev.position.size_contracts == D(1)
    assert ev.position.symbol == Symbol("XRP") and ev.position.entry_price == D("0.5253")
    assert v.malformed_frames == 0


def test_subscribe_error_counted_not_raised() -> None:
    v = GatePerpVenue()
    events = feed(v, sample("subscribe error"))
    assert v.subscribe_errors == 1 and "unknown contract" in v.last_error and events == []


def test_acks_pongs_and_unrouted_frames_are_quiet() -> None:
    v = GateSpotVenue()
    for s in SAMPLES:
        if s["message"].get("event") in ("subscribe", "update", "") and "error" not in s["message"]:
            v._on_frame(msgspec.json.encode(s["message"]))
    v._on_frame(b'{"time":1,"time_ms":1,"conn_id":"x","channel":"spot.pong","event":"","result":null}')
    assert v.malformed_frames == 0


def test_all_capture_frames_decode_cleanly() -> None:
    for name, cls in (("GATEIO.ws.1.0", GateSpotVenue), ("GATEIO_FUTURES.ws.1.0", GatePerpVenue)):
        v = cls()
        frames = ws_received(name)
        assert len(frames) > 200
        for f in frames:
            v._on_frame(f)
        assert v.malformed_frames == 0


REAL_FRAMES = [f.encode() for f in ws_received("GATEIO_FUTURES.ws.1.0")[:40]] + [
    msgspec.json.encode(s["message"]) for s in SAMPLES]


def _venues():
    spot, perp = GateSpotVenue(), GatePerpVenue()
    for v in (spot, perp):
        for s in ("RDNT", "HAI", "BTC", "XRP", "NEIROETH"):
            v.track_book(Symbol(s))
        v.add_listener(lambda e: None)
    return spot, perp


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(REAL_FRAMES), st.integers(min_value=0, max_value=2000))
def test_truncated_frames_never_raise(frame: bytes, cut: int) -> None:
    for v in _venues():
        v._on_frame(frame[:cut])


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_garbage_never_raises(frame) -> None:
    for v in _venues():
        v._on_frame(frame)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=4),
    max_leaves=20,
)
CHANNELS = ["spot.order_book_update", "futures.order_book_update", "spot.book_ticker", "futures.book_ticker",
            "spot.orders", "spot.usertrades", "spot.balances", "futures.orders", "futures.usertrades",
            "futures.positions", "spot.pong", "futures.system"]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(CHANNELS), st.sampled_from(["update", "subscribe", "all", "upgrade", ""]), json_values)
def test_wrong_shapes_never_raise(channel: str, event: str, result) -> None:
    frame = msgspec.json.encode({"time": 1, "channel": channel, "event": event, "result": result})
    events: list = []
    for v in _venues():
        v.add_listener(events.append)
        v._on_frame(frame)
    assert all(not isinstance(e, ConnectionEvent) for e in events)
