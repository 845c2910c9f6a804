"""Fixtures for the SIM-EDGE tests: an engine on the bundled scenario's rules
and the MEXC app served on 127.0.0.1 (ephemeral port)."""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from decimal import Decimal as D
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web

from exchanges.models import Symbol, VenueId
from exchanges.sim import scenarios
from exchanges.sim.engine import SimEngine
from exchanges.sim.faults import Faults
from exchanges.sim.mexc.app import build_mexc_app

SYM = Symbol("NEIROETH", "USDT")
MEXC = VenueId.MEXC_SPOT


def make_engine(tmp_path) -> SimEngine:
    rec = scenarios.load()
    return SimEngine(rec.rules.values(), db_path=tmp_path / "sim.sqlite", keys_path=tmp_path / "keys.json")


@dataclass
class MexcServer:
    engine: SimEngine
    faults: Faults
    app: web.Application
    rest_url: str
    ws_url: str
    api_key: str
    api_secret: str
    session: aiohttp.ClientSession

    def sign(self, params: dict | list, secret: str | None = None) -> str:
        query = urlencode(params if isinstance(params, list) else list(params.items()))
        sig = hmac.new((secret or self.api_secret).encode(), query.encode(), hashlib.sha256).hexdigest()
        return f"{query}&signature={sig}"

    async def signed(self, method: str, path: str, params: dict | None = None, *, secret: str | None = None,
                     api_key: str | None = None, timestamp: int | None = None):
        items = list((params or {}).items())
        items.append(("timestamp", str(timestamp if timestamp is not None else int(time.time() * 1000))))
        items.append(("recvWindow", "5000"))
        url = f"{self.rest_url}{path}?{self.sign(items, secret)}"
        async with self.session.request(method, url, headers={"X-MEXC-APIKEY": api_key or self.api_key}) as resp:
            return resp.status, await resp.json(content_type=None)

    async def public(self, path: str, params: dict | None = None):
        async with self.session.get(f"{self.rest_url}{path}", params=params or {}) as resp:
            return resp.status, await resp.json(content_type=None)

    def set_book(self, bids, asks):
        return self.engine.set_book(MEXC, SYM, [(D(p), D(q)) for p, q in bids], [(D(p), D(q)) for p, q in asks])


async def start_app(app: web.Application) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    return runner, port


@pytest.fixture
async def mexc(tmp_path):
    engine = make_engine(tmp_path)
    faults = Faults()
    app = build_mexc_app(engine, faults)
    runner, port = await start_app(app)
    session = aiohttp.ClientSession()
    acc = engine.default_account
    server = MexcServer(engine, faults, app, f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws",
                        acc.api_key, acc.api_secret, session)
    server.set_book([("0.050000", "1000"), ("0.049990", "2000")], [("0.050010", "1000"), ("0.050020", "3000")])
    try:
        yield server
    finally:
        await session.close()
        await runner.cleanup()
        engine.close()


# ---- a fake of the three venues' PUBLIC live endpoints (record / paper tests) ----


def build_fake_live_app(pushes: int = 1000, interval_s: float = 0.01) -> web.Application:
    """Gate REST metadata, Gate spot/futures book_ticker WS and MEXC exchangeInfo +
    aggre bookTicker protobuf WS, pushing a slowly rising top of book."""
    import asyncio
    import json

    from exchanges.mexc.proto import mexc_push_pb2 as pb

    async def pair(request):
        return web.json_response({"id": request.match_info["pair"], "precision": 6, "amount_precision": 0,
                                  "min_base_amount": "10", "min_quote_amount": "3", "fee": "0.1",
                                  "trade_status": "tradable"})

    async def contract(request):
        return web.json_response({"name": request.match_info["c"], "quanto_multiplier": "10",
                                  "order_price_round": "0.000001", "order_size_min": "1", "maker_fee_rate": "0.0002",
                                  "taker_fee_rate": "0.0005", "funding_interval": 28800})

    async def exchange_info(request):
        return web.json_response({"symbols": [{"symbol": request.query["symbol"], "status": "1",
                                               "baseAsset": "NEIROETH", "quoteAsset": "USDT",
                                               "baseAssetPrecision": 2, "quoteAssetPrecision": 6,
                                               "baseSizePrecision": "0.01", "quoteAmountPrecision": "1",
                                               "makerCommission": "0", "takerCommission": "0.0005"}]})

    async def gate_ws(request, channel, base):
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        sub = json.loads((await ws.receive()).data)
        assert sub["channel"] == channel and sub["event"] == "subscribe"
        await ws.send_str(json.dumps({"channel": channel, "event": "subscribe", "result": {"status": "success"}}))
        await ws.send_str("not json")  # malformed: must be skipped
        for i in range(pushes):
            await ws.send_str(json.dumps({"time": 1, "channel": channel, "event": "update", "result": {
                "t": 1, "u": i, "s": sub["payload"][0], "b": f"{base + i / 1e6:.6f}", "B": "100",
                "a": f"{base + (i + 5) / 1e6:.6f}", "A": 200}}))
            await asyncio.sleep(interval_s)
        await ws.close()
        return ws

    async def mexc_ws(request):
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        sub = json.loads((await ws.receive()).data)
        topic = sub["params"][0]
        await ws.send_str(json.dumps({"id": 0, "code": 0, "msg": topic}))
        for i in range(pushes):
            w = pb.PushDataV3ApiWrapper(channel=topic, symbol=topic.split("@")[-1])
            t = w.publicAggreBookTicker
            t.bidPrice, t.bidQuantity = f"{0.049 + i / 1e6:.6f}", "12.5"
            t.askPrice, t.askQuantity = f"{0.049 + (i + 3) / 1e6:.6f}", "7"
            await ws.send_bytes(w.SerializeToString())
            await asyncio.sleep(interval_s)
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/api/v4/spot/currency_pairs/{pair}", pair)
    app.router.add_get("/api/v4/futures/usdt/contracts/{c}", contract)
    app.router.add_get("/api/v3/exchangeInfo", exchange_info)
    async def gate_spot_ws(request):
        return await gate_ws(request, "spot.book_ticker", 0.05)

    async def gate_perp_ws(request):
        return await gate_ws(request, "futures.book_ticker", 0.051)

    app.router.add_get("/ws/v4/", gate_spot_ws)
    app.router.add_get("/v4/ws/usdt", gate_perp_ws)
    app.router.add_get("/ws", mexc_ws)
    return app


@pytest.fixture
async def fake_live():
    runner, port = await start_app(build_fake_live_app())
    base = f"127.0.0.1:{port}"
    try:
        yield {"gate_rest": f"http://{base}/api/v4", "gate_spot_ws": f"ws://{base}/ws/v4/",
               "gate_perp_ws": f"ws://{base}/v4/ws/usdt", "mexc_rest": f"http://{base}",
               "mexc_ws": f"ws://{base}/ws"}
    finally:
        await runner.cleanup()
