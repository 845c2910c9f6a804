"""A local aiohttp server standing in for Gate's and MEXC's PUBLIC endpoints (paper/live mode
tests; never the internet): the eight bulk REST endpoints and the three book-ticker WebSockets.

The coins it serves are :class:`tests.scanner.venue_json.Coin`; ``rounds`` lets a test serve a
different list from the N-th REST round on (a round starts with ``/spot/currency_pairs``).
``status[path] = 503`` answers a path with an error, ``raw[path] = b"..."`` with a given body;
``requests`` counts the requests per path. The WebSockets answer each subscribe with an ack,
ONE malformed frame, then the current book ticker of every known symbol (an unknown one, or a
base in ``ws_refuse``, is refused in the venue's words: Gate refuses the whole request).
"""

from __future__ import annotations

import json
from collections import Counter

from aiohttp import WSMsgType, web

from exchanges.discovery.endpoints import DiscoveryEndpoints
from exchanges.mexc.proto import mexc_push_pb2 as pb
from tests.scanner import venue_json as vj

GATE = "/api/v4"


class FakePublic:
    def __init__(self, coins: list[vj.Coin]) -> None:
        self.rounds: list[list[vj.Coin]] = [coins]
        self.status: dict[str, int] = {}
        self.raw: dict[str, bytes] = {}
        self.requests: Counter[str] = Counter()
        self.ws_refuse: set[str] = set()  # bases the WebSockets do not know (delisted since the REST round)
        self.ws_subscribed = 0  # subscribe requests answered on the WebSockets
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def coins(self) -> list[vj.Coin]:
        index = max(self.requests[GATE + "/spot/currency_pairs"] - 1, 0)
        return self.rounds[min(index, len(self.rounds) - 1)]

    def endpoints(self, *, mexc_port: int | None = None, gate_port: int | None = None) -> DiscoveryEndpoints:
        g, m = gate_port or self.port, mexc_port or self.port
        return DiscoveryEndpoints(gate_rest=f"http://127.0.0.1:{g}{GATE}", gate_spot_ws=f"ws://127.0.0.1:{g}/ws/v4/",
                                  gate_perp_ws=f"ws://127.0.0.1:{g}/v4/ws/usdt", mexc_rest=f"http://127.0.0.1:{m}",
                                  mexc_ws=f"ws://127.0.0.1:{m}/ws")

    def endpoints_json(self, **kw: int) -> str:
        eps = self.endpoints(**kw)
        return json.dumps({name: getattr(eps, name) for name in eps.__struct_fields__})

    async def start(self) -> DiscoveryEndpoints:
        app = web.Application()
        rest = {
            GATE + "/spot/currency_pairs": vj.gate_pairs, GATE + "/spot/tickers": vj.gate_spot_tickers,
            GATE + "/futures/usdt/contracts": vj.gate_contracts, GATE + "/futures/usdt/tickers": vj.gate_futures_tickers,
            "/api/v3/exchangeInfo": vj.mexc_exchange_info, "/api/v3/defaultSymbols": vj.mexc_default_symbols,
            "/api/v3/ticker/bookTicker": vj.mexc_book_tickers, "/api/v3/ticker/24hr": vj.mexc_tickers_24h,
        }
        for path, render in rest.items():
            app.router.add_get(path, self._rest(path, render))
        app.router.add_get("/ws/v4/", self._gate_spot_ws)
        app.router.add_get("/v4/ws/usdt", self._gate_futures_ws)
        app.router.add_get("/ws", self._mexc_ws)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self.endpoints()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _rest(self, path: str, render):  # noqa: ANN001, ANN202 - aiohttp handler factory
        async def handler(request: web.Request) -> web.Response:
            self.requests[path] += 1
            if path in self.status:
                return web.json_response({"label": "SERVER_ERROR", "message": "simulated outage"},
                                         status=self.status[path])
            if path in self.raw:
                return web.Response(body=self.raw[path], content_type="application/json")
            return web.json_response(render(self.coins))

        return handler

    @staticmethod
    async def _serve_ws(request: web.Request, on_request) -> web.WebSocketResponse:  # noqa: ANN001
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                await on_request(ws, json.loads(msg.data))
        return ws

    async def _gate_spot_ws(self, request: web.Request) -> web.WebSocketResponse:
        return await self._serve_ws(request, lambda ws, req: self._gate_request(ws, req, "spot"))

    async def _gate_futures_ws(self, request: web.Request) -> web.WebSocketResponse:
        return await self._serve_ws(request, lambda ws, req: self._gate_request(ws, req, "futures"))

    async def _mexc_ws(self, request: web.Request) -> web.WebSocketResponse:
        return await self._serve_ws(request, self._mexc_request)

    async def _gate_request(self, ws: web.WebSocketResponse, req: dict, prefix: str) -> None:
        channel = req.get("channel", "")
        if channel.endswith(".ping"):
            await ws.send_str(json.dumps({"time": 0, "channel": f"{prefix}.pong", "event": "", "result": None}))
            return
        known = {f"{c.base}_USDT": c for c in self.coins if c.base not in self.ws_refuse}
        unknown = [p for p in req.get("payload", []) if p not in known]
        if unknown:
            await ws.send_str(json.dumps({"time": 0, "id": req.get("id"), "channel": channel, "event": "subscribe",
                                          "error": {"code": 2, "message": f"unknown currency pair {unknown[0]}"},
                                          "result": {"status": "fail"}}))
            return
        await ws.send_str(json.dumps({"time": 0, "id": req.get("id"), "channel": channel, "event": "subscribe",
                                      "error": None, "result": {"status": "success"}}))
        self.ws_subscribed += 1
        await ws.send_str("{malformed")
        for pair in req.get("payload", []):
            c = known[pair]
            if prefix == "spot":
                result = {"t": 1, "u": 1, "s": pair, "b": c.gs_bid, "B": c.qty, "a": c.gs_ask, "A": c.qty}
            else:
                result = {"t": 1, "u": 1, "s": pair, "b": c.gp_bid, "B": c.contracts, "a": c.gp_ask, "A": c.contracts}
            await ws.send_str(json.dumps({"time": 1, "time_ms": 1, "channel": channel, "event": "update",
                                          "result": result}))

    async def _mexc_request(self, ws: web.WebSocketResponse, req: dict) -> None:
        if req.get("method") == "PING":
            await ws.send_str('{"id":0,"code":0,"msg":"PONG"}')
            return
        known = {f"{c.base}USDT": c for c in self.coins if c.base not in self.ws_refuse}
        topics = req.get("params", [])
        bad = [t for t in topics if t.rsplit("@", 1)[-1] not in known]
        good = [t for t in topics if t not in bad]
        if good:
            await ws.send_str(json.dumps({"id": 0, "code": 0, "msg": ",".join(good)}))
            self.ws_subscribed += 1
        if bad:
            await ws.send_str(json.dumps({"id": 0, "code": 0, "msg": f"Not Subscribed successfully! "
                                          f"[{','.join(bad)}].  Reason： Blocked! "}))
        await ws.send_bytes(b"\xff\x01garbage")
        for topic in good:
            symbol = topic.rsplit("@", 1)[-1]
            c = known[symbol]
            wrapper = pb.PushDataV3ApiWrapper(channel=topic, symbol=symbol)
            body = wrapper.publicAggreBookTicker
            body.bidPrice, body.bidQuantity, body.askPrice, body.askQuantity = c.ms_bid, c.qty, c.ms_ask, c.qty
            await ws.send_bytes(wrapper.SerializeToString())
