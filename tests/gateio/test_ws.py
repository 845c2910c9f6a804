"""Gate WS against a local websockets server: sync, staleness on disconnect, reconnect with
resubscribe and re-auth, gap resync, idle timeout, application ping."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from decimal import Decimal as D

import msgspec
import pytest
from websockets.asyncio.server import serve

from exchanges.gateio import GatePerpVenue, GateSpotVenue
from exchanges.models import ConnectionEvent, Symbol
from exchanges.venue import VenueError
from tests.gateio.conftest import KEY, SECRET, FakeGate
from tests.gateio.test_rest import CONTRACT, PAIR

SYM = Symbol("NEIROETH")


async def wait_for(cond: Callable[[], bool], timeout_s: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout_s
    while not cond():
        if loop.time() > end:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


class FakeGateWs:
    """Records every received message per connection; ``on_sub`` decides what to push."""

    def __init__(self) -> None:
        self.connections: list[list[dict]] = []
        self.sockets: list = []
        self.silent = False  # accept but never answer (idle-timeout test)
        self.seq = 100
        self.url = ""

    def diff(self, first: int, last: int, bid: str) -> str:
        return json.dumps({"time": 1, "channel": "spot.order_book_update", "event": "update",
                           "result": {"t": 5, "s": "NEIROETH_USDT", "U": first, "u": last,
                                      "b": [[bid, "3"]], "a": []}})

    async def handler(self, ws) -> None:
        received: list[dict] = []
        self.connections.append(received)
        self.sockets.append(ws)
        async for raw in ws:
            msg = json.loads(raw)
            received.append(msg)
            if self.silent:
                continue
            ch = msg.get("channel", "")
            if ch.endswith(".ping"):
                await ws.send(json.dumps({"time": 1, "channel": ch.replace("ping", "pong"), "event": "", "result": None}))
            elif msg.get("event") == "subscribe":
                await ws.send(json.dumps({"time": 1, "channel": ch, "event": "subscribe", "result": {"status": "success"}}))
                if ch == "spot.order_book_update":
                    await ws.send(self.diff(self.seq + 1, self.seq + 1, "0.049"))


@pytest.fixture
async def fake_ws() -> AsyncIterator[FakeGateWs]:
    fake = FakeGateWs()
    async with serve(fake.handler, "127.0.0.1", 0) as server:
        fake.url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        yield fake


def book_route(fake_ws: FakeGateWs):
    def route(rec):
        return 200, {"id": fake_ws.seq, "current": 1, "update": 1,
                     "bids": [["0.048", "10"]], "asks": [["0.05", "10"], ["0.051", "1"]]}
    return route


def valid_auth(msg: dict) -> bool:
    payload = f"channel={msg['channel']}&event={msg['event']}&time={msg['time']}"
    sign = hmac.new(SECRET.encode(), payload.encode(), hashlib.sha512).hexdigest()
    return msg["auth"] == {"method": "api_key", "KEY": KEY, "SIGN": sign}


async def make_spot(fake_gate: FakeGate, fake_ws: FakeGateWs) -> GateSpotVenue:
    fake_gate.reply("GET", "/spot/currency_pairs/NEIROETH_USDT", 200, PAIR)
    fake_gate.reply("GET", "/spot/fee", 200, {"maker_fee": "0.002", "taker_fee": "0.002"})
    fake_gate.routes[("GET", "/api/v4/spot/order_book")] = book_route(fake_ws)
    v = GateSpotVenue(rest_url=fake_gate.url, ws_url=fake_ws.url, api_key=KEY, api_secret=SECRET, request_timeout_s=2)
    v.stream.client.backoff_initial_s = 0.05
    v.stream.client.backoff_max_s = 0.2
    await v.start()
    return v


async def test_sync_disconnect_stale_reconnect_resubscribe_resync(fake_gate: FakeGate, fake_ws: FakeGateWs) -> None:
    v = await make_spot(fake_gate, fake_ws)
    events: list = []
    v.add_listener(events.append)
    try:
        await v.watch_book(SYM)
        await v.watch_user(SYM)
        await wait_for(lambda: v.book_top(SYM) is not None and not v.book_top(SYM).stale)
        top = v.book_top(SYM)
        assert (top.bid, top.bid_qty, top.ask, top.seq) == (D("0.049"), D(3), D("0.05"), 101)
        first = fake_ws.connections[0]
        subs = {m["channel"]: m for m in first if m.get("event") == "subscribe"}
        assert subs["spot.order_book_update"]["payload"] == ["NEIROETH_USDT", "20ms"]  # 20 levels, docs/venues.md 2.5
        assert subs["spot.book_ticker"]["payload"] == ["NEIROETH_USDT"]
        assert subs["spot.orders"]["payload"] == ["NEIROETH_USDT"] and valid_auth(subs["spot.orders"])
        assert valid_auth(subs["spot.usertrades"]) and valid_auth(subs["spot.balances"])
        assert "payload" not in subs["spot.balances"]

        fake_ws.seq = 200  # the venue moved on while we were away
        await fake_ws.sockets[0].close()
        await wait_for(lambda: any(isinstance(e, ConnectionEvent) and not e.connected for e in events))
        # stale is visible at once (or the book is already resynced on the new socket)
        await wait_for(lambda: len(fake_ws.connections) >= 2)
        await wait_for(lambda: not v.book_top(SYM).stale and v.book_top(SYM).seq == 201)
        second = {m["channel"]: m for m in fake_ws.connections[1] if m.get("event") == "subscribe"}
        assert set(second) == set(subs)
        assert valid_auth(second["spot.orders"])
        assert [e.connected for e in events if isinstance(e, ConnectionEvent)][:3] == [True, False, True]
    finally:
        await v.close()


async def test_stale_while_disconnected(fake_gate: FakeGate, fake_ws: FakeGateWs) -> None:
    v = await make_spot(fake_gate, fake_ws)
    try:
        await v.watch_book(SYM)
        await wait_for(lambda: v.book_top(SYM) is not None and not v.book_top(SYM).stale)
        v.stream.client.backoff_initial_s = 5.0  # stay down long enough to observe
        v.stream.client.backoff_max_s = 5.0
        await fake_ws.sockets[0].close()
        await wait_for(lambda: v.book_top(SYM).stale)
        assert "disconnected" in v.book_sync(SYM).book.stale_reason
    finally:
        await v.close()


async def test_gap_triggers_snapshot_resync(fake_gate: FakeGate, fake_ws: FakeGateWs) -> None:
    v = await make_spot(fake_gate, fake_ws)
    try:
        await v.watch_book(SYM)
        await wait_for(lambda: v.book_top(SYM) is not None and not v.book_top(SYM).stale)
        snapshots_before = v.book_sync(SYM).snapshots
        fake_ws.seq = 300
        await fake_ws.sockets[0].send(fake_ws.diff(150, 151, "0.0485"))  # gap after 101
        await wait_for(lambda: v.book_sync(SYM).book.gap_count == 1)
        await fake_ws.sockets[0].send(fake_ws.diff(301, 302, "0.0487"))
        await wait_for(lambda: not v.book_top(SYM).stale and v.book_top(SYM).seq == 302)
        assert v.book_sync(SYM).snapshots > snapshots_before
        assert v.book_top(SYM).bid == D("0.0487")
    finally:
        await v.close()


async def test_ping_and_idle_timeout_reconnect(fake_gate: FakeGate, fake_ws: FakeGateWs) -> None:
    fake_ws.silent = True
    v = await make_spot(fake_gate, fake_ws)
    v.stream.client.ping_interval_s = 0.05
    v.stream.client.idle_timeout_s = 0.4
    try:
        await v.stream.start()
        await wait_for(lambda: len(fake_ws.connections) >= 2)  # idle -> dropped -> reconnected
        pings = [m for m in fake_ws.connections[0] if m.get("channel") == "spot.ping"]
        assert pings and isinstance(pings[0]["time"], int)
    finally:
        await v.close()


async def test_perp_private_payload_uses_user_id(fake_gate: FakeGate, fake_ws: FakeGateWs) -> None:
    fake_gate.reply("GET", "/futures/usdt/contracts/NEIROETH_USDT", 200, CONTRACT)
    fake_gate.reply("GET", "/account/detail", 200, {"user_id": 12345})
    v = GatePerpVenue(rest_url=fake_gate.url, ws_url=fake_ws.url, api_key=KEY, api_secret=SECRET, request_timeout_s=2)
    try:
        await v.start()
        await v.watch_user(SYM)
        await wait_for(lambda: len([m for m in fake_ws.connections[0] if m.get("event") == "subscribe"]) == 3)
        subs = {m["channel"]: m for m in fake_ws.connections[0] if m.get("event") == "subscribe"}
        for ch in ("futures.orders", "futures.usertrades", "futures.positions"):
            assert subs[ch]["payload"] == ["12345", "NEIROETH_USDT"] and valid_auth(subs[ch])
        # a usertrade frame now converts contracts to base with the cached multiplier (10)
        fills: list = []
        v.add_listener(fills.append)
        v._on_frame(msgspec.json.encode({"time": 1, "channel": "futures.usertrades", "event": "update", "result": [
            {"id": "1", "create_time": 1, "contract": "NEIROETH_USDT", "order_id": "9", "size": "-2",
             "price": "0.05", "role": "taker", "text": "t-x", "fee": "0.0001"}]}))
        assert fills[0].fill.qty_base == D(-2).copy_abs() * 10 and fills[0].fill.client_order_id == "x"
    finally:
        await v.close()


async def test_perp_user_id_from_spot_fee_when_account_detail_fails(fake_gate: FakeGate, fake_ws: FakeGateWs) -> None:
    """Futures private payloads always start with the user id (docs/venues.md 2.6), never ["!all"]."""
    fake_gate.reply("GET", "/futures/usdt/contracts/NEIROETH_USDT", 200, CONTRACT)
    fake_gate.reply("GET", "/account/detail", 500, {"label": "SERVER_ERROR", "message": "x"})
    fake_gate.reply("GET", "/spot/fee", 200, {"user_id": 4242, "taker_fee": "0.002", "maker_fee": "0.002"})
    v = GatePerpVenue(rest_url=fake_gate.url, ws_url=fake_ws.url, api_key=KEY, api_secret=SECRET, request_timeout_s=2)
    try:
        await v.start()
        await v.watch_user(SYM)
        await wait_for(lambda: len([m for m in fake_ws.connections[0] if m.get("event") == "subscribe"]) == 3)
        assert all(m["payload"] == ["4242", "NEIROETH_USDT"]
                   for m in fake_ws.connections[0] if m.get("event") == "subscribe")
    finally:
        await v.close()


async def test_perp_without_user_id_subscribes_nothing_and_raises(fake_gate: FakeGate, fake_ws: FakeGateWs) -> None:
    fake_gate.reply("GET", "/futures/usdt/contracts/NEIROETH_USDT", 200, CONTRACT)
    fake_gate.reply("GET", "/account/detail", 500, {"label": "SERVER_ERROR", "message": "x"})
    fake_gate.reply("GET", "/spot/fee", 503, {"label": "SERVER_ERROR", "message": "y"})
    v = GatePerpVenue(rest_url=fake_gate.url, ws_url=fake_ws.url, api_key=KEY, api_secret=SECRET, request_timeout_s=2)
    try:
        await v.start()
        with pytest.raises(VenueError) as err:
            await v.watch_user(SYM)
        assert err.value.code == "NO_USER_ID"
        assert not [m for conn in fake_ws.connections for m in conn if m.get("event") == "subscribe"]
        fake_gate.reply("GET", "/account/detail", 200, {"user_id": 77})  # the venue answers again: retry works
        await v.watch_user(SYM)
        await wait_for(lambda: fake_ws.connections and len(
            [m for m in fake_ws.connections[-1] if m.get("event") == "subscribe"]) == 3)
        assert all(m["payload"] == ["77", "NEIROETH_USDT"]
                   for m in fake_ws.connections[-1] if m.get("event") == "subscribe")
    finally:
        await v.close()