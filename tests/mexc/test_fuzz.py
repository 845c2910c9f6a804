"""Property tests: malformed, truncated or hostile frames never raise out of the connector."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchanges.mexc.parse import DEC_DEPTH, DEC_ORDER, levels_from, order_from_info, to_decimal, to_int
from exchanges.mexc.proto import mexc_push_pb2 as pb
from exchanges.mexc.push import decode_wrapper
from exchanges.mexc.spot import MexcSpotVenue
from exchanges.models import Symbol

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "mexc"
VECTOR_FRAMES = [bytes.fromhex(v["hex"]) for v in
                 json.loads((FIXTURES / "mexc_ws_protobuf_vectors.json").read_text())["vectors"]]
NEIRO = Symbol("NEIROETH")
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _wired_venue() -> tuple[MexcSpotVenue, list]:
    """A connector whose public and private frame paths are wired, without any I/O."""
    venue = MexcSpotVenue(rest_url="http://127.0.0.1:9", ws_url="ws://127.0.0.1:9/ws")
    events: list = []
    venue.add_listener(events.append)
    venue.books.track(NEIRO)
    book = venue.books.book(NEIRO)
    assert book is not None
    book.apply_snapshot([(Decimal("0.05"), Decimal(1))], [(Decimal("0.06"), Decimal(1))], 10589632358, 0)
    return venue, events


VENUE, EVENTS = _wired_venue()
PUBLIC = VENUE._public_conn()
from exchanges.mexc.ws import MexcWsConnection  # noqa: E402

PRIVATE = MexcWsConnection("ws://127.0.0.1:9/ws", stream="private", on_push=VENUE._on_private_push,
                           on_state=lambda c, d: None)


def _feed(frame: bytes | str) -> None:
    # The handlers are called directly so that a bug would surface here instead of
    # being caught (and counted) by the connection's safety net.
    if isinstance(frame, bytes):
        msg = decode_wrapper(frame)
        if msg is not None:
            VENUE._on_public_push(msg)
            VENUE._on_private_push(msg)
    else:
        PUBLIC._on_text(frame)
    before = PUBLIC.malformed
    PUBLIC._on_frame(frame)
    PRIVATE._on_frame(frame)
    assert PUBLIC.malformed >= before
    book = VENUE.books.book(NEIRO)
    top = book.top_tuple() if book else None
    assert top is None or top[0] < top[2]  # never a crossed top


@SETTINGS
@given(st.binary(max_size=512))
def test_random_binary(frame: bytes) -> None:
    _feed(frame)


@SETTINGS
@given(st.sampled_from(VECTOR_FRAMES), st.data())
def test_truncated_and_bitflipped_vectors(frame: bytes, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(frame)))
    _feed(frame[:cut])
    pos = data.draw(st.integers(0, len(frame) - 1))
    flipped = bytearray(frame)
    flipped[pos] ^= data.draw(st.integers(1, 255))
    _feed(bytes(flipped))


@SETTINGS
@given(st.text(max_size=300))
def test_random_text(text: str) -> None:
    _feed(text)


@SETTINGS
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                    max_leaves=12))
def test_random_json_control(obj: object) -> None:
    _feed(json.dumps(obj))


hostile = st.one_of(st.text(max_size=12), st.sampled_from(["", "0", "-1", "NaN", "inf", "1e999999999",
                                                             "0E-8", "99999999999999999999999999999999"]))


@SETTINGS
@given(hostile, hostile, hostile, hostile, st.lists(st.tuples(hostile, hostile), max_size=4),
       st.sampled_from(["NEIROETHUSDT", "", "??", "BTCUSDT"]))
def test_hostile_field_values(frm: str, to: str, price: str, qty: str, levels: list, symbol: str) -> None:
    depth = pb.PushDataV3ApiWrapper(channel="spot@public.aggre.depth.v3.api.pb@10ms@" + symbol, symbol=symbol)
    depth.publicAggreDepths.fromVersion, depth.publicAggreDepths.toVersion = frm, to
    for p, q in levels:
        depth.publicAggreDepths.bids.add(price=p, quantity=q)
        depth.publicAggreDepths.asks.add(price=q, quantity=p)
    _feed(depth.SerializeToString())
    tick = pb.PushDataV3ApiWrapper(channel="c", symbol=symbol)
    tick.publicAggreBookTicker.bidPrice, tick.publicAggreBookTicker.askPrice = price, qty
    _feed(tick.SerializeToString())
    order = pb.PushDataV3ApiWrapper(channel="spot@private.orders.v3.api.pb", symbol=symbol)
    o = order.privateOrders
    o.id, o.clientId, o.price, o.quantity, o.avgPrice, o.cumulativeQuantity = frm, to, price, qty, price, qty
    o.status = 2
    _feed(order.SerializeToString())
    deal = pb.PushDataV3ApiWrapper(channel="spot@private.deals.v3.api.pb", symbol=symbol)
    deal.privateDeals.tradeId, deal.privateDeals.price, deal.privateDeals.quantity = frm, price, qty
    deal.privateDeals.feeAmount = to
    _feed(deal.SerializeToString())
    acct = pb.PushDataV3ApiWrapper(channel="spot@private.account.v3.api.pb")
    acct.privateAccount.vcoinName, acct.privateAccount.balanceAmount = symbol, price
    _feed(acct.SerializeToString())


@SETTINGS
@given(st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=30)))
def test_numeric_helpers_total(value: object) -> None:
    d = to_decimal(value)  # type: ignore[arg-type]
    assert d.is_finite()
    assert isinstance(to_int(value), int)  # type: ignore[arg-type]


@SETTINGS
@given(st.binary(max_size=200))
def test_rest_decoders_raise_only_decode_errors(body: bytes) -> None:
    import msgspec

    for decoder in (DEC_DEPTH, DEC_ORDER):
        try:
            parsed = decoder.decode(body)
        except msgspec.DecodeError:
            continue
        if decoder is DEC_DEPTH:
            levels_from(parsed.bids)
        else:
            order_from_info(parsed, NEIRO)
