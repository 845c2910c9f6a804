"""Every fault mode, observed from a client over loopback, plus the admin API."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest

from tests.sim.conftest import wait_for

ORDER = {"currency_pair": "NEIROETH_USDT", "side": "buy", "amount": "20", "price": "0.0501", "time_in_force": "ioc"}


async def admin(sim, method: str, path: str, body=None):
    async with aiohttp.ClientSession() as s:
        async with s.request(method, sim.endpoints["admin_url"] + path, json=body) as resp:
            return resp.status, await resp.json()


async def test_5xx_429_and_reject(sim, gate):
    status, snap = await admin(sim, "POST", "/_sim/faults", {"venue": "gate_spot", "error_5xx": 1, "rate_limit_429": 1})
    assert status == 200 and snap["gate_spot"]["error_5xx"] == 1
    status, body = await gate.call("GET", "/spot/accounts")
    assert status == 503 and body["label"] == "SERVER_ERROR"
    status, body = await gate.call("GET", "/spot/accounts")
    assert status == 429 and body["label"] == "TOO_MANY_REQUESTS"
    status, _ = await gate.call("GET", "/spot/accounts")
    assert status == 200
    await admin(sim, "POST", "/_sim/faults", {"venue": "gate_spot", "reject_orders": 1})
    status, body = await gate.call("POST", "/spot/orders", body={**ORDER, "text": "t-rej"})
    assert status == 400 and body["label"] == "BALANCE_NOT_ENOUGH"
    status, body = await gate.call("GET", "/spot/orders/t-rej", "currency_pair=NEIROETH_USDT")
    assert status == 404  # nothing was created
    _, snap = await admin(sim, "GET", "/_sim/faults")
    assert snap["gate_spot"]["injected"] == {"error_5xx": 1, "rate_limit_429": 1, "reject_orders": 1}
    status, bad = await admin(sim, "POST", "/_sim/faults", {"venue": "gate_spot", "nonsense": 1})
    assert status == 400


async def test_latency_and_timeout_after_accept(sim, gate):
    await admin(sim, "POST", "/_sim/faults", {"venue": "gate_perp", "latency_ms": 150})
    t0 = time.monotonic()
    status, _ = await gate.call("GET", "/futures/usdt/contracts/NEIROETH_USDT", signed=False)
    assert status == 200 and time.monotonic() - t0 >= 0.15
    await admin(sim, "DELETE", "/_sim/faults")
    await admin(sim, "POST", "/_sim/faults", {"venue": "gate_spot", "timeout_after_accept": 1, "timeout_hold_s": 2})
    with pytest.raises((asyncio.TimeoutError, aiohttp.ClientError)):
        await gate.call("POST", "/spot/orders", body={**ORDER, "text": "t-lost"}, timeout_s=0.5)
    # the order exists and was matched even though the client never got an answer
    # (a finished order no longer resolves by text on Gate: find it in the finished list)
    status, finished = await gate.call("GET", "/spot/orders", "currency_pair=NEIROETH_USDT&status=finished")
    order = next(o for o in finished if o["text"] == "t-lost")
    assert status == 200 and order["filled_amount"] == "20"
    _, log = await admin(sim, "GET", "/_sim/orders")
    lost = next(o for o in log if o["client_order_id"] == "t-lost")
    assert lost["recv_ms"] > 0 and lost["recv_perf_ns"] > 0


async def _ws(sim, session):
    ws = await session.ws_connect(sim.endpoints["gate_spot"]["ws_url"])
    await ws.send_str(json.dumps({"time": int(time.time()), "id": 1, "channel": "spot.order_book_update",
                                  "event": "subscribe", "payload": ["NEIROETH_USDT", "20ms"]}))
    ack = json.loads((await ws.receive(timeout=3)).data)
    assert ack["result"]["status"] == "success"
    return ws


async def test_sequence_gap_frozen_and_dropped(sim):
    async with aiohttp.ClientSession() as session:
        ws = await _ws(sim, session)
        await admin(sim, "POST", "/_sim/book", {"venue": "gate_spot", "bid": "0.0490", "ask": "0.0510"})
        first = json.loads((await ws.receive(timeout=3)).data)["result"]
        await admin(sim, "POST", "/_sim/faults", {"venue": "gate_spot", "sequence_gap": 1})
        merger = sim.gate_hubs[0].obu
        for bid in ("0.0491", "0.0492"):
            await admin(sim, "POST", "/_sim/book", {"venue": "gate_spot", "bid": bid, "ask": "0.0510"})
            await wait_for(lambda: not any(g.scheduled for g in merger.groups.values()))  # its frame went (or was lost)
        second = json.loads((await ws.receive(timeout=3)).data)["result"]
        assert second["U"] == first["u"] + 2  # one update was skipped: a visible gap
        # frozen: connection stays open, nothing arrives, not even pongs
        await admin(sim, "POST", "/_sim/faults", {"venue": "gate_spot", "ws": "frozen"})
        await admin(sim, "POST", "/_sim/book", {"venue": "gate_spot", "bid": "0.0493", "ask": "0.0510"})
        await ws.send_str(json.dumps({"time": int(time.time()), "channel": "spot.ping"}))
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive(timeout=0.3)
        # dropped: the connection is closed and reconnects are refused
        await admin(sim, "POST", "/_sim/faults", {"venue": "gate_spot", "ws": "dropped"})
        msg = await ws.receive(timeout=3)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await session.ws_connect(sim.endpoints["gate_spot"]["ws_url"])
        assert err.value.status == 503
        await admin(sim, "DELETE", "/_sim/faults")
        ws2 = await _ws(sim, session)
        await ws2.close()


async def test_admin_health_accounts_book_and_funding(sim, gate):
    status, h = await admin(sim, "GET", "/_sim/health")
    assert status == 200 and h["ok"] and h["books"]["gate_spot"]["NEIROETHUSDT"]["bid"] == "0.05"
    _, book = await admin(sim, "POST", "/_sim/book", {"venue": "gate_perp", "bids": [["0.0600", "5"]],
                                                       "asks": [["0.0602", "5"]]})
    _, rest_book = await gate.call("GET", "/futures/usdt/order_book", "contract=NEIROETH_USDT&with_id=true",
                                   signed=False)
    assert rest_book["id"] == book["update_id"] and rest_book["bids"][0]["p"] == "0.06"
    _, accounts = await admin(sim, "GET", "/_sim/accounts")
    assert accounts[0]["balances"]["gate_perp"]["USDT"]["free"] == "10000"
    _, created = await admin(sim, "POST", "/_sim/accounts", {"create": True, "label": "second"})
    status, body = await gate.call("GET", "/spot/accounts", key=created["api_key"], secret=created["api_secret"])
    assert status == 200 and body[0]["available"] == "10000"
    status, placed = await gate.call("POST", "/futures/usdt/orders", body={"contract": "NEIROETH_USDT", "size": 5,
                                                                           "price": "0", "tif": "ioc"})
    assert status == 201 and placed["finish_as"] == "filled", placed
    _, payments = await admin(sim, "POST", "/_sim/funding", {"venue": "gate_perp", "rate": "0.001"})
    assert len(payments) == 1 and payments[0]["amount"].startswith("-")  # longs pay
