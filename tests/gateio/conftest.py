"""Local fake Gate v4 REST server (aiohttp, 127.0.0.1, ephemeral port) recording exact requests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from aiohttp import web

from exchanges import clock

KEY, SECRET = "testkey", "testsecret"


class Recorded(msgspec.Struct):
    method: str
    path: str
    query: str
    body: bytes
    headers: dict[str, str]


class FakeGate:
    """Routes: ``routes[(METHOD, path)] = (status, json_obj)`` or a callable(Recorded) returning
    that tuple (may be async). ``/api/v4/spot/time`` answers local time + ``time_skew_ms``."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Any] = {}
        self.requests: list[Recorded] = []
        self.time_skew_ms = 0
        self.url = ""
        self.port = 0

    def reply(self, method: str, path: str, status: int, obj: Any) -> None:
        self.routes[(method, "/api/v4" + path)] = (status, obj)

    def last(self, method: str, path: str) -> Recorded:
        return [r for r in self.requests if r.method == method and r.path == "/api/v4" + path][-1]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        rec = Recorded(request.method, request.path, request.raw_path.partition("?")[2], body, dict(request.headers))
        if request.path == "/api/v4/spot/time":
            return web.json_response({"server_time": clock.now_ms() + self.time_skew_ms})
        if request.path == "/api/v4/unified/unified_mode" and (request.method, request.path) not in self.routes:
            return web.json_response({"mode": "classic", "settings": {}})  # a classic account unless routed
        self.requests.append(rec)
        route = self.routes.get((request.method, request.path))
        if route is None:
            return web.json_response({"label": "NOT_ROUTED", "message": request.path}, status=404)
        if callable(route):
            route = route(rec)
            if asyncio.iscoroutine(route):
                route = await route
        status, obj = route
        return web.Response(status=status, body=msgspec.json.encode(obj), content_type="application/json")


@pytest.fixture
async def fake_gate() -> AsyncIterator[FakeGate]:
    fake = FakeGate()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.port = site._server.sockets[0].getsockname()[1]
    fake.url = f"http://127.0.0.1:{fake.port}/api/v4"
    try:
        yield fake
    finally:
        await runner.cleanup()
