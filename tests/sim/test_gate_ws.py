"""Gate v4 WebSocket over loopback: ping, acks, book sequence continuity vs the REST snapshot, private pushes."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal as D

import aiohttp

from exchanges.models import VenueId
from tests.sim.conftest import SYM, wait_for, ws_sign


class WsReader:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.frames: list[dict] = []
        self.task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                self.frames.append(json.loads(msg.data))

    def of(self, channel: str, event: str = "update") -> list[dict]:
        return [f for f in self.frames if f.get("channel") == channel and f.get("event") == event]

    async def send(self, channel: str, event: str = "subscribe", payload=None, auth_secret: str | None = None,
                   key: str | None = None, req_id: int = 1) -> dict:
        t = int(time.time())
        msg = {"time": t, "id": req_id, "channel": channel, "event": event, "payload": payload or []}
        if auth_secret:
            msg["auth"] = {"method": "api_key", "KEY": key, "SIGN": ws_sign(auth_secret, channel, event, t)}
        await self.ws.send_str(json.dumps(msg))
        return await wait_for(lambda: next((f for f in self.frames if f.get("id") == req_id
                                            and f.get("channel") == channel and f.get("event") == event), None))


async def test_ping_and_book_sequence_matches_snapshot(sim, gate):
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(sim.endpoints["gate_spot"]["ws_url"]) as ws:
            r = WsReader(ws)
            await ws.send_str(json.dumps({"time": int(time.time()), "channel": "spot.ping"}))
            await wait_for(lambda: r.of("spot.pong", ""))
            ack = await r.send("spot.order_book_update", payload=["NEIROETH_USDT", "100ms"])
            assert ack["result"] == {"status": "success"} and ack["error"] is None
            ack = await r.send("spot.book_ticker", payload=["NEIROETH_USDT"], req_id=2)
            await wait_for(lambda: r.of("spot.book_ticker"))
            _, snap = await gate.call("GET", "/spot/order_book", "currency_pair=NEIROETH_USDT&with_id=true",
                                      signed=False)
            for i in range(5):  # five changes inside one 100 ms interval: one merged frame
                sim.engine.set_book(VenueId.GATE_SPOT, SYM, [(D("0.0500") - D(i) * D("0.0001"), D("100"))],
                                    [(D("0.0501"), D(100 + i))])
            last_id = sim.engine.book(VenueId.GATE_SPOT, SYM)[2]
            updates = await wait_for(lambda: r.of("spot.order_book_update"))
            assert len(updates) == 1
            result = updates[0]["result"]
            assert (result["U"], result["u"], result["l"]) == (snap["id"] + 1, last_id, "100")
            assert result["a"] == [["0.0501", "104"], ["0.0502", "0"]]  # final quantities, 0 = gone
            assert result["b"] == [["0.05", "0"], ["0.0499", "0"], ["0.0498", "0"], ["0.0497", "0"], ["0.0496", "100"]]
            ticker = r.of("spot.book_ticker")[-1]["result"]
            assert ticker["b"] == "0.0496" and ticker["s"] == "NEIROETH_USDT"
            bad = await r.send("spot.book_ticker", payload=["NOPE_USDT"], req_id=3)
            assert bad["error"]["code"] == 2


async def test_private_spot_pushes_and_auth(sim, gate):
    ep = sim.endpoints["gate_spot"]
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(ep["ws_url"]) as ws:
            r = WsReader(ws)
            denied = await r.send("spot.orders", payload=["NEIROETH_USDT"], auth_secret="0" * 64, key=ep["api_key"])
            assert denied["error"]["code"] == 4
            for i, ch in enumerate(("spot.orders", "spot.usertrades", "spot.balances"), start=10):
                ack = await r.send(ch, payload=["!all"] if ch != "spot.balances" else [], auth_secret=ep["api_secret"],
                                   key=ep["api_key"], req_id=i)
                assert ack["result"]["status"] == "success"
            status, placed = await gate.call("POST", "/spot/orders", body={
                "currency_pair": "NEIROETH_USDT", "side": "buy", "amount": "40", "price": "0.0501",
                "time_in_force": "ioc", "text": "t-ws1"})
            assert status == 201
            orders = await wait_for(lambda: len(r.of("spot.orders")) >= 3 and r.of("spot.orders"))
            events = [f["result"][0]["event"] for f in orders]
            assert events[0] == "put" and events[-1] == "finish"
            assert orders[-1]["result"][0]["text"] == "t-ws1" and orders[-1]["result"][0]["left"] == "0"
            trades = await wait_for(lambda: r.of("spot.usertrades"))
            assert trades[0]["result"][0]["amount"] == "40" and trades[0]["result"][0]["role"] == "taker"
            balances = await wait_for(lambda: r.of("spot.balances"))
            assert {b["result"][0]["currency"] for b in balances} >= {"USDT", "NEIROETH"}


async def test_futures_book_and_private_pushes(sim, gate):
    ep = sim.endpoints["gate_perp"]
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(ep["ws_url"], headers={"X-Gate-Size-Decimal": "1"}) as ws:
            r = WsReader(ws)
            await r.send("futures.order_book_update", payload=["NEIROETH_USDT", "100ms", "20"])
            uid = str(ep["user_id"])
            for i, ch in enumerate(("futures.orders", "futures.usertrades", "futures.positions"), start=10):
                ack = await r.send(ch, payload=[uid, "NEIROETH_USDT"], auth_secret=ep["api_secret"],
                                   key=ep["api_key"], req_id=i)
                assert ack["result"]["status"] == "success", ack
            wrong = await r.send("futures.orders", payload=["123", "!all"], auth_secret=ep["api_secret"],
                                 key=ep["api_key"], req_id=20)
            assert wrong["error"]["code"] == 2
            status, placed = await gate.call("POST", "/futures/usdt/orders",
                                             body={"contract": "NEIROETH_USDT", "size": 20, "price": "0.0501",
                                                   "tif": "ioc", "text": "t-fws"})
            assert status == 201
            book = await wait_for(lambda: r.of("futures.order_book_update"))
            assert book[-1]["result"]["a"][0] == {"p": "0.0501", "s": "80"}
            pos = await wait_for(lambda: r.of("futures.positions"))
            assert pos[-1]["result"][0]["size"] == "20"
            trade = await wait_for(lambda: r.of("futures.usertrades"))
            assert trade[0]["result"][0]["size"] == "20" and trade[0]["result"][0]["text"] == "t-fws"
            orders = await wait_for(lambda: [f for f in r.of("futures.orders")
                                             if f["result"][0]["status"] == "finished"])
            assert orders[-1]["result"][0]["finish_as"] == "filled"
