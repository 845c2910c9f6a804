"""MEXC v3 REST of the simulator over real loopback sockets."""

from __future__ import annotations

import time
from decimal import Decimal as D

from tests.sim.edge_fixtures import MEXC, SYM, mexc  # noqa: F401


async def test_public_endpoints(mexc):
    assert await mexc.public("/api/v3/ping") == (200, {})
    status, body = await mexc.public("/api/v3/time")
    assert status == 200 and abs(body["serverTime"] - time.time() * 1000) < 5000
    status, info = await mexc.public("/api/v3/exchangeInfo", {"symbol": "NEIROETHUSDT"})
    entry = info["symbols"][0]
    assert entry["symbol"] == "NEIROETHUSDT" and entry["status"] == "1"
    assert entry["quoteAssetPrecision"] == 6 and entry["baseAssetPrecision"] == 2
    assert entry["baseSizePrecision"] == "0.01" and entry["quoteAmountPrecision"] == "1"
    assert entry["makerCommission"] == "0" and entry["takerCommission"] == "0.0005"
    status, body = await mexc.public("/api/v3/exchangeInfo", {"symbol": "NOPEUSDT"})
    assert status == 400 and body["code"] == -1121
    status, depth = await mexc.public("/api/v3/depth", {"symbol": "NEIROETHUSDT", "limit": "5"})
    assert depth["bids"][0] == ["0.05", "1000"] and depth["asks"][1] == ["0.05002", "3000"]
    assert depth["lastUpdateId"] == mexc.engine.book(MEXC, SYM)[2]
    status, bt = await mexc.public("/api/v3/ticker/bookTicker", {"symbol": "NEIROETHUSDT"})
    assert bt == {"symbol": "NEIROETHUSDT", "bidPrice": "0.05", "bidQty": "1000", "askPrice": "0.05001",
                  "askQty": "1000"}


async def test_signature_key_and_timestamp_checks(mexc):
    status, body = await mexc.signed("GET", "/api/v3/account")
    assert status == 200 and {b["asset"]: b["free"] for b in body["balances"]}["USDT"] == "10000"
    status, body = await mexc.signed("GET", "/api/v3/account", secret="0" * 64)
    assert (status, body) == (400, {"code": 700002, "msg": "Signature for this request is not valid."})
    status, body = await mexc.signed("GET", "/api/v3/account", api_key="unknown")
    assert status == 400 and body["code"] == 10072
    status, body = await mexc.signed("GET", "/api/v3/account", timestamp=int(time.time() * 1000) - 60_000)
    assert status == 400 and body["code"] == 700003
    # unsigned private call
    async with mexc.session.get(f"{mexc.rest_url}/api/v3/account", headers={"X-MEXC-APIKEY": mexc.api_key}) as r:
        assert r.status == 400 and (await r.json())["code"] == 700002


async def test_signature_over_query_plus_body(mexc):
    """Section 3.2: totalParams = query string + body, no separator."""
    import hashlib
    import hmac
    ts = str(int(time.time() * 1000))
    query = "symbol=NEIROETHUSDT&side=BUY&type=LIMIT"
    body = f"quantity=100&price=0.04&newClientOrderId=mixed1&timestamp={ts}"
    sig = hmac.new(mexc.api_secret.encode(), (query + body).encode(), hashlib.sha256).hexdigest()
    async with mexc.session.post(f"{mexc.rest_url}/api/v3/order?{query}", data=f"{body}&signature={sig}",
                                 headers={"X-MEXC-APIKEY": mexc.api_key,
                                          "Content-Type": "application/x-www-form-urlencoded"}) as r:
        ack = await r.json()
        assert r.status == 200, ack
    assert ack["orderId"].startswith("C02__") and ack["type"] == "LIMIT"


async def test_limit_partial_fill_then_cancel(mexc):
    status, ack = await mexc.signed("POST", "/api/v3/order", {
        "symbol": "NEIROETHUSDT", "side": "BUY", "type": "LIMIT", "quantity": "1500", "price": "0.05001",
        "newClientOrderId": "cid-1"})
    assert status == 200, ack
    status, order = await mexc.signed("GET", "/api/v3/order", {"symbol": "NEIROETHUSDT", "origClientOrderId": "cid-1"})
    assert order["status"] == "PARTIALLY_FILLED" and order["executedQty"] == "1000"
    assert order["clientOrderId"] == "cid-1" and order["orderId"] == ack["orderId"]
    assert D(order["cummulativeQuoteQty"]) == D("50.01")
    status, opened = await mexc.signed("GET", "/api/v3/openOrders", {"symbol": "NEIROETHUSDT"})
    assert [o["clientOrderId"] for o in opened] == ["cid-1"]
    status, trades = await mexc.signed("GET", "/api/v3/myTrades", {"symbol": "NEIROETHUSDT", "orderId": ack["orderId"]})
    assert len(trades) == 1 and trades[0]["price"] == "0.05001" and trades[0]["qty"] == "1000"
    assert trades[0]["commissionAsset"] == "NEIROETH" and D(trades[0]["commission"]) == D("0.5")  # taker 5 bps in base
    status, cancelled = await mexc.signed("DELETE", "/api/v3/order", {"symbol": "NEIROETHUSDT",
                                                                      "origClientOrderId": "cid-1"})
    assert status == 200 and cancelled["status"] == "PARTIALLY_CANCELED"
    status, body = await mexc.signed("DELETE", "/api/v3/order", {"symbol": "NEIROETHUSDT", "origClientOrderId": "cid-1"})
    assert status == 400 and body["code"] == -2011
    status, body = await mexc.signed("GET", "/api/v3/order", {"symbol": "NEIROETHUSDT", "origClientOrderId": "nope"})
    assert status == 400 and body["code"] == -2013


async def test_ioc_market_and_maker_types(mexc):
    status, ack = await mexc.signed("POST", "/api/v3/order", {
        "symbol": "NEIROETHUSDT", "side": "SELL", "type": "IMMEDIATE_OR_CANCEL", "quantity": "5000",
        "price": "0.04999", "newClientOrderId": "ioc-1"})
    assert status == 400 and ack["code"] == 30004  # no NEIROETH yet
    status, ack = await mexc.signed("POST", "/api/v3/order", {
        "symbol": "NEIROETHUSDT", "side": "BUY", "type": "MARKET", "quoteOrderQty": "20",
        "newClientOrderId": "mkt-1"})
    assert status == 200, ack
    status, order = await mexc.signed("GET", "/api/v3/order", {"symbol": "NEIROETHUSDT", "orderId": ack["orderId"]})
    assert order["status"] == "FILLED" and order["type"] == "MARKET" and D(order["executedQty"]) > 0
    status, ack = await mexc.signed("POST", "/api/v3/order", {
        "symbol": "NEIROETHUSDT", "side": "SELL", "type": "IMMEDIATE_OR_CANCEL", "quantity": "300",
        "price": "0.049", "newClientOrderId": "ioc-2"})
    assert status == 200, ack
    status, order = await mexc.signed("GET", "/api/v3/order", {"symbol": "NEIROETHUSDT", "origClientOrderId": "ioc-2"})
    assert order["status"] in ("FILLED", "PARTIALLY_CANCELED") and order["type"] == "IMMEDIATE_OR_CANCEL"
    status, body = await mexc.signed("POST", "/api/v3/order", {
        "symbol": "NEIROETHUSDT", "side": "BUY", "type": "LIMIT_MAKER", "quantity": "100", "price": "0.06"})
    assert status == 400 and body["code"] == -2010
    status, body = await mexc.signed("POST", "/api/v3/order", {
        "symbol": "NEIROETHUSDT", "side": "BUY", "type": "LIMIT", "quantity": "1", "price": "0.04"})
    assert status == 400 and body["code"] == 30002  # 0.04 USDT < 1 USDT minimum


async def test_listen_key_lifecycle(mexc):
    status, body = await mexc.signed("POST", "/api/v3/userDataStream")
    key = body["listenKey"]
    assert status == 200 and len(key) == 64
    assert (await mexc.signed("PUT", "/api/v3/userDataStream", {"listenKey": key}))[1] == {"listenKey": key}
    assert key in (await mexc.signed("GET", "/api/v3/userDataStream"))[1]["listenKey"]
    assert (await mexc.signed("DELETE", "/api/v3/userDataStream", {"listenKey": key}))[0] == 200
    status, body = await mexc.signed("PUT", "/api/v3/userDataStream", {"listenKey": key})
    assert status == 400


async def test_faults_5xx_429_reject_and_timeout(mexc):
    mexc.faults.update("mexc_spot", {"error_5xx": 1, "rate_limit_429": 1})
    assert (await mexc.public("/api/v3/ping"))[0] == 503
    assert (await mexc.public("/api/v3/ping"))[0] == 429
    assert (await mexc.public("/api/v3/ping"))[0] == 200
    mexc.faults.update("mexc_spot", {"reject_orders": 1})
    status, _ = await mexc.signed("POST", "/api/v3/order", {
        "symbol": "NEIROETHUSDT", "side": "BUY", "type": "LIMIT", "quantity": "100", "price": "0.04",
        "newClientOrderId": "rej-1"})
    assert status == 400
    assert mexc.engine.open_orders(mexc.api_key, MEXC) == []
    mexc.faults.update("mexc_spot", {"timeout_after_accept": 1, "timeout_hold_s": 0.05})
    import aiohttp
    try:
        status, body = await mexc.signed("POST", "/api/v3/order", {
            "symbol": "NEIROETHUSDT", "side": "BUY", "type": "LIMIT", "quantity": "100", "price": "0.04",
            "newClientOrderId": "acc-1"})
        raise AssertionError(f"expected no response, got {status} {body}")
    except (aiohttp.ClientError, ValueError):
        pass
    status, order = await mexc.signed("GET", "/api/v3/order", {"symbol": "NEIROETHUSDT", "origClientOrderId": "acc-1"})
    assert status == 200 and order["status"] == "NEW"
