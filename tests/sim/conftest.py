"""Shared simulator test fixtures: a tiny recording, an in-process simulator
on ephemeral loopback ports, and a signing Gate v4 client."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from decimal import Decimal as D
from pathlib import Path

import aiohttp
import pytest

from exchanges.models import Symbol
from exchanges.sim.recording.format import RecEvent, RecordingWriter, make_header, read_recording
from exchanges.sim.server import SimServer

SYM = Symbol("NEIROETH", "USDT")
RULES = {
    "gate_spot": {"price_tick": "0.0001", "size_step": "1", "min_size": "1", "min_notional": "1",
                  "contract_multiplier": "1", "maker_fee_rate": "0.001", "taker_fee_rate": "0.002"},
    "gate_perp": {"price_tick": "0.0001", "size_step": "1", "min_size": "1", "min_notional": "0",
                  "contract_multiplier": "10", "maker_fee_rate": "0.0002", "taker_fee_rate": "0.0005",
                  "funding_interval_s": 28800, "funding_rates": [[0, "0.0001"]]},
    "mexc_spot": {"price_tick": "0.0001", "size_step": "1", "min_size": "1", "min_notional": "1",
                  "contract_multiplier": "1", "maker_fee_rate": "0", "taker_fee_rate": "0.0005"},
}


def write_tiny_recording(path: Path, events: int = 6) -> Path:
    """A small recording: a few snapshots per venue 100 ms apart."""
    from exchanges.models import VenueId

    header = make_header(SYM, int(time.time() * 1000), RULES, source="test", notes="synthetic")
    with RecordingWriter(path, header) as writer:
        for i in range(events):
            for venue in (VenueId.GATE_SPOT, VenueId.GATE_PERP, VenueId.MEXC_SPOT):
                bump = D(i % 3) * D("0.0001")
                writer.write(RecEvent(i * 100, venue, [(D("0.0500") - bump, D("100")), (D("0.0499"), D("200"))],
                                      [(D("0.0501") + bump, D("100")), (D("0.0502"), D("300"))]))
    return path


@pytest.fixture
def tiny_recording(tmp_path) -> Path:
    return write_tiny_recording(tmp_path / "tiny.jsonl.gz")


@pytest.fixture
async def sim(tmp_path, tiny_recording):
    """Simulator without replay (books primed from the recording's first
    snapshots; tests drive books through the admin API or the engine)."""
    server = SimServer(sim_dir=tmp_path / "sim", recording=read_recording(tiny_recording), replay=False)
    await server.start()
    server.engine.set_book  # noqa: B018 - engine exists
    for venue in server.recording.rules:
        server.engine.set_book(venue, SYM, [(D("0.0500"), D("100")), (D("0.0499"), D("200"))],
                               [(D("0.0501"), D("100")), (D("0.0502"), D("300"))])
    try:
        yield server
    finally:
        await server.stop()


def gate_sign(secret: str, method: str, path: str, query: str, body: str, ts: str) -> str:
    payload = "\n".join([method, path, query, hashlib.sha512(body.encode()).hexdigest(), ts])
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha512).hexdigest()


def ws_sign(secret: str, channel: str, event: str, t: int) -> str:
    return hmac.new(secret.encode(), f"channel={channel}&event={event}&time={t}".encode(), hashlib.sha512).hexdigest()


class GateClient:
    """Minimal signed Gate v4 REST client for tests."""

    def __init__(self, session: aiohttp.ClientSession, endpoints: dict) -> None:
        self.session = session
        self.base = endpoints["gate_spot"]["rest_url"]
        self.key = endpoints["gate_spot"]["api_key"]
        self.secret = endpoints["gate_spot"]["api_secret"]
        self.user_id = endpoints["gate_spot"]["user_id"]

    async def call(self, method: str, path: str, query: str = "", body: object = None, *, signed: bool = True,
                   secret: str | None = None, key: str | None = None, ts: str | None = None,
                   headers: dict | None = None, timeout_s: float = 5.0) -> tuple[int, object]:
        text = json.dumps(body) if body is not None else ""
        hdrs = {"Content-Type": "application/json", "Accept": "application/json", **(headers or {})}
        full = "/api/v4" + path
        if signed:
            ts = ts or str(int(time.time()))
            hdrs.update({"KEY": key or self.key, "Timestamp": ts,
                         "SIGN": gate_sign(secret or self.secret, method, full, query, text, ts)})
        url = self.base + path + (f"?{query}" if query else "")
        async with self.session.request(method, url, data=text or None, headers=hdrs,
                                        timeout=aiohttp.ClientTimeout(total=timeout_s)) as resp:
            return resp.status, await resp.json(content_type=None)


@pytest.fixture
async def gate(sim):
    async with aiohttp.ClientSession() as session:
        yield GateClient(session, sim.endpoints)


async def wait_for(predicate, timeout_s: float = 3.0, interval_s: float = 0.01):
    """Poll ``predicate`` until truthy; returns its value or fails the test."""
    import asyncio

    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval_s)
