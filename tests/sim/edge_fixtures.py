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
from exchanges.sim.mexc_api import build_mexc_app

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
