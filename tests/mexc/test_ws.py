"""Websocket behaviour against the loopback fake: subscribe/ack, book flow, reconnect + resync,
staleness, malformed frames, private events and listen-key keepalive/re-creation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from exchanges.mexc.proto import mexc_push_pb2 as pb
from exchanges.mexc.rest import MexcRest
from exchanges.mexc.spot import MexcSpotVenue
from exchanges.mexc.user import MexcUserStream
from exchanges.mexc.ws import MexcWsConnection
from exchanges.models import BalanceEvent, BookEvent, ConnectionEvent, FillEvent, OrderEvent, OrderStatus, Side, Symbol
from exchanges.venue import VenueError
from tests.mexc.conftest import wait_until
from tests.mexc.fake_mexc import API_KEY, API_SECRET, FakeMexc

NEIRO = Symbol("NEIROETH")
DEPTH_TOPIC = "spot@public.aggre.depth.v3.api.pb@10ms@NEIROETHUSDT"
TICKER_TOPIC = "spot@public.aggre.bookTicker.v3.api.pb@10ms@NEIROETHUSDT"


def depth_frame(frm: int, to: int, bids=(), asks=()) -> bytes:
    msg = pb.PushDataV3ApiWrapper(channel=DEPTH_TOPIC, symbol="NEIROETHUSDT", sendTime=1736411507002)
    body = msg.publicAggreDepths
    body.fromVersion, body.toVersion = str(frm), str(to)
    body.eventType = "spot@public.aggre.depth.v3.api.pb@10ms"
    for p, q in bids:
        body.bids.add(price=p, quantity=q)
    for p, q in asks:
        body.asks.add(price=p, quantity=q)
    return msg.SerializeToString()


def private_frames() -> list[bytes]:
    order = pb.PushDataV3ApiWrapper(channel="spot@private.orders.v3.api.pb", symbol="NEIROETHUSDT", sendTime=5)
    o = order.privateOrders
    o.id, o.clientId, o.price, o.quantity, o.avgPrice = "C02__1", "t1-0001", "0.05", "200", "0.04999"
    o.orderType, o.tradeType, o.status, o.cumulativeQuantity, o.createTime = 3, 2, 2, "200", 4
    deal = pb.PushDataV3ApiWrapper(channel="spot@private.deals.v3.api.pb", symbol="NEIROETHUSDT", sendTime=6)
    d = deal.privateDeals
    d.price, d.quantity, d.tradeType, d.tradeId, d.clientOrderId = "0.04999", "200", 2, "T9", "t1-0001"
    d.orderId, d.feeAmount, d.feeCurrency, d.time = "C02__1", "0.005", "USDT", 6
    acct = pb.PushDataV3ApiWrapper(channel="spot@private.account.v3.api.pb", sendTime=7)
    acct.privateAccount.vcoinName, acct.privateAccount.balanceAmount = "USDT", "1009.99"
    acct.privateAccount.frozenAmount = "0"
    return [order.SerializeToString(), deal.SerializeToString(), acct.SerializeToString()]


async def test_watch_book_sync_reconnect_resubscribe_resync(venue: MexcSpotVenue, fake: FakeMexc) -> None:
    events: list = []
    venue.add_listener(events.append)
    await venue.start()
    await venue.watch_book(NEIRO)
    assert fake.subscriptions == [DEPTH_TOPIC, TICKER_TOPIC]  # acked before returning
    await fake.push(depth_frame(100, 101, bids=[("0.05005", "12")]))
    await wait_until(lambda: (t := venue.book_top(NEIRO)) is not None and not t.stale and t.seq == 101, what="sync")
    top = venue.book_top(NEIRO)
    assert top.bid == Decimal("0.05005") and top.bid_qty == Decimal(12) and top.ask == Decimal("0.05010")
    assert any(isinstance(e, BookEvent) for e in events)

    # disconnect: stale + connection event; reconnect: resubscribe and re-snapshot
    fake.depth_version = 500
    depth_calls = fake.depth_calls
    await fake.drop_connections()
    await wait_until(lambda: venue.book_top(NEIRO).stale, what="stale after drop")  # type: ignore[union-attr]
    await wait_until(lambda: any(isinstance(e, ConnectionEvent) and not e.connected for e in events))
    await wait_until(lambda: fake.subscriptions.count(DEPTH_TOPIC) == 2, what="resubscribe")
    await fake.push(depth_frame(501, 501, asks=[("0.05011", "5")]))
    await wait_until(lambda: not venue.book_top(NEIRO).stale, what="resync")  # type: ignore[union-attr]
    assert fake.depth_calls > depth_calls and venue.book_top(NEIRO).seq >= 500  # type: ignore[union-attr]
    assert [e.connected for e in events if isinstance(e, ConnectionEvent)][-2:] == [False, True]


async def test_gap_on_stream_resyncs(venue: MexcSpotVenue, fake: FakeMexc) -> None:
    stale_seen: list[bool] = []
    venue.add_listener(lambda e: stale_seen.append(t.stale) if (t := venue.book_top(NEIRO)) else None)
    await venue.watch_book(NEIRO)
    await fake.push(depth_frame(101, 101))
    await wait_until(lambda: (t := venue.book_top(NEIRO)) is not None and not t.stale)
    assert True not in stale_seen
    fake.depth_version = 200
    calls = fake.depth_calls
    await fake.push(depth_frame(150, 151))  # gap: 102..149 missing
    await wait_until(lambda: True in stale_seen, what="stale announced")
    await fake.push(depth_frame(152, 201))
    await wait_until(lambda: not venue.book_top(NEIRO).stale and venue.book_top(NEIRO).seq == 201)  # type: ignore[union-attr]
    assert fake.depth_calls == calls + 1


async def test_malformed_frames_counted_not_raised(venue: MexcSpotVenue, fake: FakeMexc) -> None:
    await venue.watch_book(NEIRO)
    good = depth_frame(101, 101, bids=[("0.05006", "1")])
    conn = venue._public
    assert conn is not None
    for junk in (b"\xff\xfe\x00", good[:7], "not json", '{"id":0,"code":0}', "[1,2]",
                 pb.PushDataV3ApiWrapper(channel="x").SerializeToString()):
        await fake.push(junk)
    await fake.push(good)
    await wait_until(lambda: (t := venue.book_top(NEIRO)) is not None and t.bid == Decimal("0.05006"))
    assert conn.malformed >= 4 and conn.connected


async def test_refused_subscription_raises(public_venue: MexcSpotVenue, fake: FakeMexc) -> None:
    fake.refuse_topics.add(DEPTH_TOPIC)
    with pytest.raises(VenueError):
        await public_venue.watch_book(NEIRO)


async def test_ping_pong_keeps_alive(fake: FakeMexc) -> None:
    alive: list[int] = []
    conn = MexcWsConnection(fake.ws_url, stream="public", on_push=lambda m: None, on_state=lambda c, d: None,
                            on_alive=lambda: alive.append(1), ping_interval_s=0.05)
    try:
        await conn.start()
        await wait_until(lambda: len(alive) >= 2, what="two PONGs")
    finally:
        await conn.close()


async def test_private_events(venue: MexcSpotVenue, fake: FakeMexc) -> None:
    events: list = []
    venue.add_listener(events.append)
    await venue.watch_user(NEIRO)
    assert fake.ws_connects[-1] == "lk1"
    assert set(fake.subscriptions) >= {"spot@private.orders.v3.api.pb", "spot@private.deals.v3.api.pb",
                                       "spot@private.account.v3.api.pb"}
    for frame in private_frames():
        await fake.push(frame, private=True)
    await wait_until(lambda: any(isinstance(e, BalanceEvent) for e in events))
    order = next(e.order for e in events if isinstance(e, OrderEvent))
    fill = next(e.fill for e in events if isinstance(e, FillEvent))
    bal = next(e.balance for e in events if isinstance(e, BalanceEvent))
    assert order.client_order_id == "t1-0001" and order.status is OrderStatus.FILLED and order.side is Side.SELL
    assert order.avg_price == Decimal("0.04999") and order.symbol == NEIRO
    assert fill.price == Decimal("0.04999") and fill.fee == Decimal("0.005") and fill.fee_asset == "USDT"
    assert bal.asset == "USDT" and bal.free == Decimal("1009.99")


async def test_listen_key_recreated_after_expiry_and_drop(venue: MexcSpotVenue, fake: FakeMexc) -> None:
    await venue.watch_user(NEIRO)
    assert fake.created_keys == ["lk1"]
    fake.listen_keys.clear()  # key expired at the venue
    await fake.drop_connections()
    await wait_until(lambda: "lk2" in fake.ws_connects, timeout_s=8.0, what="reconnect on new key")
    assert "lk1" in fake.keepalives  # the old key was checked first
    assert venue.user is not None and venue.user.listen_key == "lk2"


async def test_keepalive_put_and_recreate_on_refusal(fake: FakeMexc) -> None:
    rest = MexcRest(rest_url=fake.rest_url, api_key=API_KEY, api_secret=API_SECRET)
    states: list[bool] = []
    user = MexcUserStream(rest, fake.ws_url, on_push=lambda m: None, on_state=lambda c, d: states.append(c),
                          keepalive_s=0.05)
    try:
        await user.start()
        await wait_until(lambda: fake.keepalives.count("lk1") >= 2, what="periodic keepalive")
        fake.listen_keys.discard("lk1")  # next PUT is refused -> new key, reconnect on it
        await wait_until(lambda: "lk2" in fake.ws_connects, timeout_s=8.0, what="recreated key in use")
        assert user.listen_key == "lk2" and user.keys_created == 2
    finally:
        await user.close()
        await rest.close()
    assert "lk2" not in fake.listen_keys  # closed key deleted at the venue


async def test_refused_private_subscription_cleans_up(venue: MexcSpotVenue, fake: FakeMexc) -> None:
    fake.refuse_topics.add("spot@private.deals.v3.api.pb")
    with pytest.raises(VenueError):
        await venue.watch_user(NEIRO)
    assert venue.user is None
    await wait_until(lambda: not fake.ws_conns, what="private socket closed")
    assert "lk1" not in fake.listen_keys  # key released


async def test_book_interval_is_configurable_and_validated(fake: FakeMexc) -> None:
    """Default 10ms aggre topics (section 4.3); 100ms on request; anything else refused at construction."""
    assert MexcSpotVenue(rest_url=fake.rest_url, ws_url=fake.ws_url).book_interval == "10ms"
    slow = MexcSpotVenue(rest_url=fake.rest_url, ws_url=fake.ws_url, book_interval="100ms")
    try:
        await slow.start()
        await slow.watch_book(NEIRO)
        assert fake.subscriptions == [DEPTH_TOPIC.replace("@10ms@", "@100ms@"),
                                      TICKER_TOPIC.replace("@10ms@", "@100ms@")]
    finally:
        await slow.close()
    with pytest.raises(ValueError, match="book_interval"):
        MexcSpotVenue(rest_url=fake.rest_url, ws_url=fake.ws_url, book_interval="1s")
