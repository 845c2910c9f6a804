"""A tiny in-process MEXC v3 stand-in for connector tests (loopback, ephemeral port).

REST: time, exchangeInfo, depth, order (POST/GET/DELETE), openOrders, account,
myTrades, userDataStream (POST/PUT/DELETE). Signed endpoints verify the
HMAC over the raw query (minus ``&signature=``) exactly as received.
WS at ``/ws``: JSON SUBSCRIPTION/PING control, binary pushes sent by the test,
``listenKey`` checked against the valid keys. Scripted error answers via
``fail_next[(method, path)]``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from decimal import Decimal
from typing import Any

from aiohttp import WSMsgType, web

from exchanges import clock

API_KEY = "test-key"
API_SECRET = "test-secret"

DEFAULT_RULES = {
    "symbol": "NEIROETHUSDT", "status": "1", "baseAsset": "NEIROETH", "quoteAsset": "USDT",
    "baseAssetPrecision": 2, "quotePrecision": 5, "quoteAssetPrecision": 5,
    "baseSizePrecision": "1", "quoteAmountPrecision": "5", "makerCommission": "0",
    "takerCommission": "0.0005", "isSpotTradingAllowed": True, "tradeSideType": "1",
    "orderTypes": ["LIMIT", "LIMIT_MAKER"],
}


class FakeMexc:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.time_offset_ms = 0
        self.rules = [dict(DEFAULT_RULES)]
        self.depth_version = 100
        self.depth_bids = [["0.05000", "1000"], ["0.04990", "500"]]
        self.depth_asks = [["0.05010", "800"], ["0.05020", "300"]]
        self.depth_calls = 0
        self.fail_next: dict[tuple[str, str], list[tuple[int, Any]]] = {}
        self.delay_next: dict[tuple[str, str], float] = {}
        self.orders: dict[str, dict[str, Any]] = {}
        self.trades: list[dict[str, Any]] = []
        self.listen_keys: set[str] = set()
        self.created_keys: list[str] = []
        self.keepalives: list[str] = []
        self.ws_conns: list[tuple[web.WebSocketResponse, dict[str, Any]]] = []
        self.ws_connects: list[str] = []  # listenKey ('' for public) of each accepted connect
        self.subscriptions: list[str] = []
        self.refuse_topics: set[str] = set()
        self.answer_ping = True
        self.reply_headers: dict[str, str] = {}  # extra headers on scripted (fail_next) answers
        self.trade_fee = {"makerCommission": 0.0001, "takerCommission": 0.0004}  # the account's own rates
        self.ack_subscriptions = True
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ---- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/v3/{name}", self._rest)
        app.router.add_get("/ws", self._ws)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        for ws, _ in list(self.ws_conns):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    # ---- test controls ----------------------------------------------------------------

    async def push(self, frame: bytes | str, *, private: bool | None = None) -> int:
        """Send a frame to every open connection (filter public/private); returns count."""
        sent = 0
        for ws, meta in list(self.ws_conns):
            if private is not None and bool(meta["listen_key"]) != private:
                continue
            if ws.closed:
                continue
            if isinstance(frame, bytes):
                await ws.send_bytes(frame)
            else:
                await ws.send_str(frame)
            sent += 1
        return sent

    async def drop_connections(self) -> None:
        for ws, _ in list(self.ws_conns):
            await ws.close()

    def last(self, path: str, method: str | None = None) -> dict[str, Any]:
        return [r for r in self.requests if r["path"] == path and (method is None or r["method"] == method)][-1]

    # ---- REST -------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.Response:
        path = request.path
        method = request.method
        raw_query = request.raw_path.split("?", 1)[1] if "?" in request.raw_path else ""
        self.requests.append({"method": method, "path": path, "query": raw_query,
                              "headers": dict(request.headers), "ts_ms": clock.now_ms()})
        delay = self.delay_next.pop((method, path), None)
        if delay:
            await asyncio.sleep(delay)
        scripted = self.fail_next.get((method, path))
        if scripted:
            status, body = scripted.pop(0)
            return web.Response(status=status, text=body if isinstance(body, str) else json.dumps(body),
                                content_type="application/json", headers=self.reply_headers)
        params = dict(request.query)
        signed = path not in ("/api/v3/time", "/api/v3/exchangeInfo", "/api/v3/depth", "/api/v3/ping")
        if signed:
            err = self._check_signature(request, raw_query)
            if err is not None:
                return err
        handler = getattr(self, f"_h_{method.lower()}_{path.rsplit('/', 1)[1]}", None)
        if handler is None:
            return _json({"code": 404, "msg": "no such endpoint"}, 404)
        return handler(params)

    def _check_signature(self, request: web.Request, raw_query: str) -> web.Response | None:
        if request.headers.get("X-MEXC-APIKEY") != API_KEY:
            return _json({"code": 10072, "msg": "Api key info invalid"}, 400)
        payload, sep, sig = raw_query.rpartition("&signature=")
        expected = hmac.new(API_SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not sep or sig != expected:
            return _json({"code": 700002, "msg": "Signature for this request is not valid."}, 400)
        params = dict(request.query)
        server_ms = clock.now_ms() + self.time_offset_ms
        ts = int(params.get("timestamp", "0"))
        if ts >= server_ms + 1000 or server_ms - ts > int(params.get("recvWindow", "5000")):
            return _json({"code": 700003, "msg": "Timestamp for this request is outside of the recvWindow."}, 400)
        return None

    def _h_get_time(self, params: dict[str, str]) -> web.Response:
        return _json({"serverTime": clock.now_ms() + self.time_offset_ms})

    def _h_get_exchangeInfo(self, params: dict[str, str]) -> web.Response:
        sym = params.get("symbol")
        rows = [r for r in self.rules if sym is None or r["symbol"] == sym]
        if sym and not rows:
            return _json({"code": -1121, "msg": "Invalid symbol."}, 400)
        return _json({"timezone": "CST", "serverTime": clock.now_ms(), "symbols": rows})

    def _h_get_tradeFee(self, params: dict[str, str]) -> web.Response:
        return _json({"data": self.trade_fee, "code": 0, "msg": "success", "timestamp": clock.now_ms()})

    def _h_get_depth(self, params: dict[str, str]) -> web.Response:
        self.depth_calls += 1
        return _json({"lastUpdateId": self.depth_version, "bids": self.depth_bids, "asks": self.depth_asks,
                      "timestamp": clock.now_ms()})

    def _h_post_order(self, p: dict[str, str]) -> web.Response:
        cid = p.get("newClientOrderId") or f"auto{len(self.orders)}"
        if cid in self.orders:
            return _json({"code": 30001, "msg": "duplicate client order id"}, 400)
        oid = f"C02__{len(self.orders) + 1000}"
        qty = Decimal(p["quantity"])
        ioc = p["type"] == "IMMEDIATE_OR_CANCEL"
        filled = qty if ioc else Decimal(0)
        self.orders[cid] = {
            "symbol": p["symbol"], "orderId": oid, "orderListId": -1, "clientOrderId": cid,
            "price": p.get("price", "0"), "origQty": p["quantity"], "executedQty": str(filled),
            "cummulativeQuoteQty": str(filled * Decimal(p.get("price", "0"))),
            "status": "FILLED" if ioc else "NEW", "timeInForce": None, "type": p["type"], "side": p["side"],
            "time": clock.now_ms(), "updateTime": clock.now_ms(),
        }
        if ioc:
            half = filled / 2
            for i, part in enumerate((half, filled - half)):
                self.trades.append({
                    "symbol": p["symbol"], "id": f"t{oid}-{i}", "orderId": oid, "orderListId": -1,
                    "price": str(Decimal(p["price"]) - Decimal("0.00001") * i), "qty": str(part),
                    "quoteQty": "0", "commission": "0.01", "commissionAsset": "USDT", "time": 1700000000000 + i,
                    "isBuyer": p["side"] == "BUY", "isMaker": False, "isBestMatch": True, "isSelfTrade": False,
                    "clientOrderId": None,
                })
        return _json({"symbol": p["symbol"], "orderId": oid, "orderListId": -1, "price": p.get("price"),
                      "origQty": p["quantity"], "type": p["type"], "side": p["side"],
                      "transactTime": clock.now_ms()})

    def _order_or_404(self, p: dict[str, str]) -> dict[str, Any] | web.Response:
        order = self.orders.get(p.get("origClientOrderId", ""))
        if order is None:
            return _json({"code": -2013, "msg": "Order does not exist."}, 400)
        return order

    def _h_get_order(self, p: dict[str, str]) -> web.Response:
        order = self._order_or_404(p)
        return order if isinstance(order, web.Response) else _json(order)

    def _h_delete_order(self, p: dict[str, str]) -> web.Response:
        order = self._order_or_404(p)
        if isinstance(order, web.Response):
            return order
        if order["status"] != "NEW":
            return _json({"code": -2011, "msg": "Unknown order sent."}, 400)
        order["status"] = "CANCELED"
        return _json(order)

    def _h_get_openOrders(self, p: dict[str, str]) -> web.Response:
        return _json([o for o in self.orders.values() if o["status"] == "NEW" and o["symbol"] == p["symbol"]])

    def _h_get_account(self, p: dict[str, str]) -> web.Response:
        return _json({"canTrade": True, "accountType": "SPOT", "permissions": ["SPOT"], "balances": [
            {"asset": "USDT", "free": "1000.5", "locked": "10"}, {"asset": "NEIROETH", "free": "5000", "locked": "0"}]})

    def _h_get_myTrades(self, p: dict[str, str]) -> web.Response:
        return _json([t for t in self.trades if t["orderId"] == p.get("orderId", t["orderId"])])

    def _h_post_userDataStream(self, p: dict[str, str]) -> web.Response:
        key = f"lk{len(self.created_keys) + 1}"
        self.created_keys.append(key)
        self.listen_keys.add(key)
        return _json({"listenKey": key})

    def _h_put_userDataStream(self, p: dict[str, str]) -> web.Response:
        self.keepalives.append(p.get("listenKey", ""))
        if p.get("listenKey") not in self.listen_keys:
            return _json({"code": 730707, "msg": "listenKey does not exist"}, 400)
        return _json({"listenKey": p["listenKey"]})

    def _h_delete_userDataStream(self, p: dict[str, str]) -> web.Response:
        self.listen_keys.discard(p.get("listenKey", ""))
        return _json({"listenKey": p.get("listenKey", "")})

    # ---- WS ---------------------------------------------------------------------------

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        key = request.query.get("listenKey", "")
        if key and key not in self.listen_keys:
            return web.Response(status=401, text="invalid listen key")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        meta = {"listen_key": key}
        self.ws_conns.append((ws, meta))
        self.ws_connects.append(key)
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    req = json.loads(msg.data)
                except ValueError:
                    continue
                if req.get("method") == "PING" and self.answer_ping:
                    await ws.send_str(json.dumps({"id": 0, "code": 0, "msg": "PONG"}))
                elif req.get("method") == "SUBSCRIPTION":
                    for topic in req.get("params", []):
                        self.subscriptions.append(topic)
                        if topic in self.refuse_topics:
                            await ws.send_str(json.dumps({"id": 0, "code": 0,
                                                          "msg": f"Not Subscribed successfully! [{topic}].  Reason： Blocked!"}))
                        elif self.ack_subscriptions:
                            await ws.send_str(json.dumps({"id": 0, "code": 0, "msg": topic}))
        finally:
            self.ws_conns.remove((ws, meta))
        return ws


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")
