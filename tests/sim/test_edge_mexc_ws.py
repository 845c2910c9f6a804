"""MEXC protobuf WebSocket of the simulator over real loopback sockets."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal as D

import aiohttp
import pytest

from exchanges.mexc.proto import mexc_push_pb2 as pb
from tests.sim.edge_fixtures import MEXC, SYM, mexc  # noqa: F401

BT = "spot@public.aggre.bookTicker.v3.api.pb@10ms@NEIROETHUSDT"
DEPTH = "spot@public.aggre.depth.v3.api.pb@10ms@NEIROETHUSDT"


async def _recv_json(ws, timeout=2.0):
    while True:
        msg = await asyncio.wait_for(ws.receive(), timeout)
        if msg.type is aiohttp.WSMsgType.TEXT:
            return json.loads(msg.data)
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
            raise ConnectionError("closed")


async def _recv_push(ws, field=None, timeout=2.0):
    while True:
        msg = await asyncio.wait_for(ws.receive(), timeout)
        if msg.type is aiohttp.WSMsgType.BINARY:
            wrapper = pb.PushDataV3ApiWrapper.FromString(msg.data)
            if field is None or wrapper.WhichOneof("body") == field:
                return wrapper
        elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
            raise ConnectionError("closed")


async def _subscribe(ws, *topics):
    await ws.send_str(json.dumps({"method": "SUBSCRIPTION", "params": list(topics)}))
    return await _recv_json(ws)


async def test_control_frames(mexc):
    async with mexc.session.ws_connect(mexc.ws_url) as ws:
        assert await _subscribe(ws, BT) == {"id": 0, "code": 0, "msg": BT}
        await ws.send_str(json.dumps({"method": "PING"}))
        assert await _recv_json(ws) == {"id": 0, "code": 0, "msg": "PONG"}
        ack = await _subscribe(ws, "spot@public.bookTicker.v3.api@NEIROETHUSDT")
        assert ack["msg"].startswith("Not Subscribed successfully!")
        ack = await _subscribe(ws, "spot@private.orders.v3.api.pb")  # no listen key
        assert ack["msg"].startswith("Not Subscribed successfully!")


async def test_book_ticker_and_depth_versions_continuous(mexc):
    async with mexc.session.ws_connect(mexc.ws_url) as ws:
        await _subscribe(ws, BT, DEPTH)
        _, snap = await mexc.public("/api/v3/depth", {"symbol": "NEIROETHUSDT"})
        last = snap["lastUpdateId"]
        tickers = []
        for i in range(1, 6):
            mexc.set_book([("0.050000", str(1000 + i)), ("0.049990", "2000")],
                          [("0.05001", "1000"), ("0.050030", str(10 * i))])
            while True:
                push = await _recv_push(ws)
                if push.WhichOneof("body") == "publicAggreDepths":
                    break
                tickers.append(push)
            depth = push.publicAggreDepths
            assert int(depth.fromVersion) == last + 1
            last = int(depth.toVersion)
            assert last >= int(depth.fromVersion)
            assert [(b.price, b.quantity) for b in depth.bids] == [("0.05", str(1000 + i))]
        assert last == mexc.engine.book(MEXC, SYM)[2]
        ticker = tickers[-1] if tickers else await _recv_push(ws, "publicAggreBookTicker")
        assert ticker.channel == BT and ticker.symbol == "NEIROETHUSDT"
        assert ticker.publicAggreBookTicker.askPrice == "0.05001"


async def test_sequence_gap_fault_visible(mexc):
    async with mexc.session.ws_connect(mexc.ws_url) as ws:
        await _subscribe(ws, DEPTH)
        mexc.set_book([("0.05", "1")], [("0.06", "1")])
        first = (await _recv_push(ws, "publicAggreDepths")).publicAggreDepths
        mexc.faults.update("mexc_spot", {"sequence_gap": 1})
        mexc.set_book([("0.05", "2")], [("0.06", "1")])
        await asyncio.sleep(0)  # the skipped push is flushed on its own timer; wait for it below
        for _ in range(100):
            if mexc.faults.get(MEXC).sequence_gap == 0:
                break
            await asyncio.sleep(0.01)
        mexc.set_book([("0.05", "3")], [("0.06", "1")])
        nxt = (await _recv_push(ws, "publicAggreDepths")).publicAggreDepths
        assert int(nxt.fromVersion) > int(first.toVersion) + 1


async def test_private_pushes_and_listen_key(mexc):
    status, body = await mexc.signed("POST", "/api/v3/userDataStream")
    url = f"{mexc.ws_url}?listenKey={body['listenKey']}"
    async with mexc.session.ws_connect(url) as ws:
        ack = await _subscribe(ws, "spot@private.orders.v3.api.pb", "spot@private.deals.v3.api.pb",
                               "spot@private.account.v3.api.pb")
        assert ack["code"] == 0 and "spot@private.deals.v3.api.pb" in ack["msg"]
        status, _ = await mexc.signed("POST", "/api/v3/order", {
            "symbol": "NEIROETHUSDT", "side": "BUY", "type": "IMMEDIATE_OR_CANCEL", "quantity": "1500",
            "price": "0.05001", "newClientOrderId": "ws-1"})
        assert status == 200
        seen = {}
        while "privateOrders" not in seen or seen["privateOrders"].privateOrders.status not in (2, 5):
            w = await _recv_push(ws)
            seen.setdefault(w.WhichOneof("body") + "_all", []).append(w)
            seen[w.WhichOneof("body")] = w
        order = seen["privateOrders"].privateOrders
        assert order.clientId == "ws-1" and order.status == 5  # partially canceled (IOC remainder)
        assert order.cumulativeQuantity == "1000" and order.tradeType == 1 and order.orderType == 3
        deal = seen["privateDeals"].privateDeals
        assert deal.price == "0.05001" and deal.quantity == "1000" and deal.clientOrderId == "ws-1"
        assert deal.feeCurrency == "NEIROETH" and D(deal.feeAmount) == D("0.5")
        assert seen["privateDeals"].symbol == "NEIROETHUSDT"
        assets = {w.privateAccount.vcoinName for w in seen.get("privateAccount_all", [])}
        assert "USDT" in assets
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await s.ws_connect(f"{mexc.ws_url}?listenKey=bogus")


async def test_dropped_and_frozen_faults(mexc):
    async with mexc.session.ws_connect(mexc.ws_url) as ws:
        await _subscribe(ws, BT)
        mexc.faults.update("mexc_spot", {"ws": "frozen"})
        await ws.send_str(json.dumps({"method": "PING"}))
        mexc.set_book([("0.05", "7")], [("0.06", "1")])
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(ws.receive(), 0.3)
        mexc.faults.update("mexc_spot", {"ws": "dropped"})
        msg = await asyncio.wait_for(ws.receive(), 2)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await mexc.session.ws_connect(mexc.ws_url)
    assert err.value.status == 503
