"""One scan round over the public REST endpoints: one bulk request per venue and endpoint.

:class:`DiscoveryClient` keeps one HTTP session per host (Gate serves spot and futures on one
host, MEXC on another; :class:`exchanges.transport.HttpTransport`) and a rate limiter at the
venues' documented public limits: Gate 200 requests per 10 s per endpoint and IP, MEXC 500 per
10 s per endpoint (docs/venues.md section 3.1; Gate APIv4 "Frequency limit rule"). A
round makes eight requests concurrently (four per venue); repeated rounds (``scan --watch``)
are seconds apart, far below either limit, and a local limit that would bind is reported as a
failed endpoint instead of waiting.

``await client.fetch_round() -> dict[VenueId, VenueSnapshot]``: every venue appears, a failed
endpoint is recorded in its venue's ``failures`` (timeout, connection refused, HTTP status with
the venue's error text, malformed answer); nothing raises.
"""

from __future__ import annotations

import asyncio

from exchanges.discovery import gate, mexc
from exchanges.discovery.decode import Answer
from exchanges.discovery.endpoints import DiscoveryEndpoints
from exchanges.discovery.types import EndpointFailure, VenueSnapshot
from exchanges.models import VenueId
from exchanges.transport import HttpResponse, HttpTransport, RateLimiter
from exchanges.venue import VenueError

GATE_LIMIT = (200, 10.0)  # requests per window (s) per public endpoint
MEXC_LIMIT = (500, 10.0)
DEFAULT_TIMEOUT_S = 10.0


def _error_text(resp: HttpResponse) -> str:
    """One line from a non-2xx answer: Gate ``{"label","message"}``, MEXC ``{"code","msg"}``."""
    body = resp.json()
    if isinstance(body, dict):
        label = body.get("label") or body.get("code") or ""
        message = body.get("message") or body.get("msg") or ""
        text = f"{label}: {message}".strip(": ")
    else:
        text = resp.body[:80].decode("utf-8", "replace")
    return " ".join(f"HTTP {resp.status} {text}".split())


class DiscoveryClient:
    """Bulk public requests of one scan round (module doc). ``close()`` when done."""

    def __init__(self, endpoints: DiscoveryEndpoints, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.endpoints = endpoints
        self._gate = HttpTransport("gate", timeout_s=timeout_s)
        self._mexc = HttpTransport(VenueId.MEXC_SPOT.value, timeout_s=timeout_s)
        self._limits = RateLimiter("public")
        for path in (gate.SPOT_PAIRS, gate.SPOT_TICKERS, gate.CONTRACTS, gate.FUTURES_TICKERS):
            self._limits.add("gate" + path, *GATE_LIMIT)
        for path in (mexc.EXCHANGE_INFO, mexc.DEFAULT_SYMBOLS, mexc.BOOK_TICKER, mexc.TICKER_24H):
            self._limits.add("mexc" + path, *MEXC_LIMIT)

    async def close(self) -> None:
        await self._gate.close()
        await self._mexc.close()

    async def _get(self, venue: VenueId, path: str) -> Answer:
        """The body of ``GET path`` on ``venue``'s host, or why there is none."""
        is_gate = venue is not VenueId.MEXC_SPOT
        transport = self._gate if is_gate else self._mexc
        root = self.endpoints.gate_rest if is_gate else self.endpoints.mexc_rest
        headers = (gate.FUTURES_HEADERS if venue is VenueId.GATE_PERP else gate.SPOT_HEADERS) if is_gate else mexc.HEADERS
        key = ("gate" if is_gate else "mexc") + path
        try:
            await self._limits.acquire(key, max_wait_s=0.0)
            resp = await transport.request("GET", root.rstrip("/") + path, headers=headers)
        except VenueError as exc:  # OutcomeUnknown (timeout, transport), RateLimited (local)
            return EndpointFailure(venue, path, " ".join(str(exc).split()))
        if resp.status == 429:
            self._limits.penalize(key, GATE_LIMIT[1] if is_gate else MEXC_LIMIT[1])
        if resp.status != 200:
            return EndpointFailure(venue, path, _error_text(resp))
        return resp.body

    async def fetch_round(self) -> dict[VenueId, VenueSnapshot]:
        """Every venue's snapshot of this round (module doc)."""
        gs, gp, ms = VenueId.GATE_SPOT, VenueId.GATE_PERP, VenueId.MEXC_SPOT
        answers = await asyncio.gather(
            self._get(gs, gate.SPOT_PAIRS), self._get(gs, gate.SPOT_TICKERS),
            self._get(gp, gate.CONTRACTS), self._get(gp, gate.FUTURES_TICKERS),
            self._get(ms, mexc.EXCHANGE_INFO), self._get(ms, mexc.DEFAULT_SYMBOLS),
            self._get(ms, mexc.BOOK_TICKER), self._get(ms, mexc.TICKER_24H))
        return {gs: gate.spot_snapshot(answers[0], answers[1]), gp: gate.perp_snapshot(answers[2], answers[3]),
                ms: mexc.snapshot(answers[4], answers[5], answers[6], answers[7])}
