"""Helpers for the connector <-> simulator interop tests: a tiny recording, an
in-process simulator on ephemeral loopback ports, the three real connectors
pointed at it (exactly as :func:`exchanges.factory.venues_from_endpoints`
does), an admin-API client and an event recorder."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import aiohttp

from exchanges.models import Symbol, VenueEvent, VenueId
from exchanges.sim.recording.format import RecEvent, RecordingWriter, make_header

SYM = Symbol("NEIROETH", "USDT")

# Synthetic rules (clearly not venue facts): distinct fees per venue so a mix-up shows.
RULES: dict[str, dict[str, Any]] = {
    "gate_spot": {"price_tick": "0.0001", "size_step": "1", "min_size": "1", "min_notional": "1",
                  "contract_multiplier": "1", "maker_fee_rate": "0.001", "taker_fee_rate": "0.002"},
    "gate_perp": {"price_tick": "0.0001", "size_step": "1", "min_size": "1", "min_notional": "0",
                  "contract_multiplier": "10", "maker_fee_rate": "0.0002", "taker_fee_rate": "0.0005",
                  "funding_interval_s": 28800, "funding_rates": [[0, "0.0001"]]},
    "mexc_spot": {"price_tick": "0.0001", "size_step": "1", "min_size": "1", "min_notional": "1",
                  "contract_multiplier": "1", "maker_fee_rate": "0", "taker_fee_rate": "0.0005"},
}

EVENT_STEP_MS = 20


def write_recording(path: Path, snapshots: int = 500) -> Path:
    """``snapshots`` book snapshots per venue, EVENT_STEP_MS apart: the top moves by one tick
    on a 5-step cycle and level quantities change every time, so every replayed event
    produces an order-book update."""
    header = make_header(SYM, int(time.time() * 1000), RULES, source="tests/interop", notes="synthetic")
    with RecordingWriter(path, header) as writer:
        for i in range(snapshots):
            bump = D(i % 5) * D("0.0001")
            for venue in VenueId:
                writer.write(RecEvent(
                    i * EVENT_STEP_MS, venue,
                    [(D("0.0500") - bump, D(1000 + i)), (D("0.0490"), D(2000 + i % 7))],
                    [(D("0.0510") + bump, D(1000 + i)), (D("0.0520"), D(3000 + i % 11))],
                ))
    return path


class Admin:
    """The simulator's admin API (``/_sim/...``) over HTTP."""

    def __init__(self, session: aiohttp.ClientSession, admin_url: str) -> None:
        self.session = session
        self.url = admin_url

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        async with self.session.request(method, self.url + path, json=body) as resp:
            data = await resp.json(content_type=None)
            assert resp.status == 200, (path, resp.status, data)
            return data

    async def faults(self, venue: str, **values: Any) -> Any:
        return await self._call("POST", "/_sim/faults", {"venue": venue, **values})

    async def clear_faults(self) -> Any:
        return await self._call("DELETE", "/_sim/faults")

    async def book(self, venue: VenueId, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> Any:
        """Set the venue's book at once (pauses its replay)."""
        return await self._call("POST", "/_sim/book", {"venue": venue.value, "bids": bids, "asks": asks})

    async def funding(self, venue: VenueId, rate: str | None = None) -> Any:
        return await self._call("POST", "/_sim/funding", {"venue": venue.value, "rate": rate})

    async def set_balance(self, venue: VenueId, asset: str, free: str) -> Any:
        return await self._call("POST", "/_sim/accounts", {"venue": venue.value, "asset": asset, "free": free})

    async def orders(self, venue: VenueId) -> list[dict]:
        return await self._call("GET", f"/_sim/orders?venue={venue.value}")


class Recorder:
    """Listener keeping every venue event (thread: the event loop)."""

    def __init__(self) -> None:
        self.events: list[VenueEvent] = []

    def __call__(self, event: VenueEvent) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]


async def wait_for(predicate: Callable[[], Any], timeout_s: float = 5.0, interval_s: float = 0.01,
                   what: str = "condition") -> Any:
    """Poll ``predicate`` until truthy; returns its value or fails with ``what``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout_s}s")
        await asyncio.sleep(interval_s)
