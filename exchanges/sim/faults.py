"""Fault injection for the simulator, set through the admin API (``/_sim/faults``).

Per venue (``gate_spot``, ``gate_perp``, ``mexc_spot``) a :class:`VenueFaults`:

* ``latency_ms``: added delay before every REST response and every WS push;
* ``ws``: ``"normal"`` | ``"dropped"`` (open connections are closed, new ones
  refused with HTTP 503) | ``"frozen"`` (connections stay open, nothing is sent,
  pings unanswered);
* ``error_5xx`` (count) + ``error_status`` (default 503): the next N REST
  requests (optionally only paths starting with ``path_prefix``) fail;
* ``rate_limit_429`` (count): the next N REST requests get HTTP 429;
* ``reject_orders`` (count) + ``reject_label``: the next N order placements
  are refused with HTTP 400 and that label (nothing is created);
* ``timeout_after_accept`` (count) + ``timeout_hold_s``: the next N order
  placements are accepted and matched, but the response is withheld for
  ``timeout_hold_s`` and the connection then closed without a response;
* ``sequence_gap`` (count): the next N order-book update messages are not
  sent (clients see ``U != last_u + 1``).

Counts decrement as faults fire; ``injected`` counts what fired, per venue.
Protocol layers call :meth:`Faults.before_rest`, :meth:`Faults.order_response_mode`,
:meth:`Faults.ws_state`, :meth:`Faults.sequence_gap`, :meth:`Faults.latency_s`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields

from aiohttp import web

from exchanges.models import VenueId

log = logging.getLogger(__name__)

WS_STATES = ("normal", "dropped", "frozen")


@dataclass
class VenueFaults:
    latency_ms: int = 0
    ws: str = "normal"
    error_5xx: int = 0
    error_status: int = 503
    rate_limit_429: int = 0
    path_prefix: str = ""
    reject_orders: int = 0
    reject_label: str = "BALANCE_NOT_ENOUGH"
    timeout_after_accept: int = 0
    timeout_hold_s: float = 30.0
    sequence_gap: int = 0


_FIELD_TYPES = {f.name: f.type for f in fields(VenueFaults)}


def error_response(venue: VenueId, status: int, label: str, message: str) -> web.Response:
    """The venue's error body: Gate ``{"label","message"}``; MEXC ``{"code","msg"}``."""
    if venue is VenueId.MEXC_SPOT:
        code = {429: 429, 503: 503}.get(status, -1 if status >= 500 else 400)
        return web.json_response({"code": code, "msg": message}, status=status)
    return web.json_response({"label": label, "message": message}, status=status)


class Faults:
    """Current faults of all venues (see module doc)."""

    def __init__(self) -> None:
        self._venues: dict[VenueId, VenueFaults] = {v: VenueFaults() for v in VenueId}
        self.injected: dict[VenueId, dict[str, int]] = {v: {} for v in VenueId}
        self._listeners: list[Callable[[VenueId, VenueFaults], None]] = []

    # ---- configuration (admin) ------------------------------------------------
    def on_change(self, callback: Callable[[VenueId, VenueFaults], None]) -> None:
        """Call ``callback(venue, faults)`` after each change (WS hubs use it to drop connections)."""
        self._listeners.append(callback)

    def update(self, venue: str, values: dict) -> VenueFaults | list[VenueFaults]:
        """Merge ``values`` into the faults of ``venue`` (or every venue for ``"*"``).
        Raises ValueError on an unknown venue/field or a bad value."""
        targets = list(VenueId) if venue in ("*", "all") else [VenueId(venue)]
        clean: dict = {}
        for name, value in values.items():
            if name not in _FIELD_TYPES:
                raise ValueError(f"unknown fault field {name!r}; known: {sorted(_FIELD_TYPES)}")
            kind = _FIELD_TYPES[name]
            clean[name] = {"int": int, "float": float, "str": str}[kind](value)
        if "ws" in clean and clean["ws"] not in WS_STATES:
            raise ValueError(f"ws must be one of {WS_STATES}")
        for target in targets:
            current = self._venues[target]
            for name, value in clean.items():
                setattr(current, name, value)
            self._notify(target)
        return self._venues[targets[0]] if len(targets) == 1 else [self._venues[t] for t in targets]

    def clear(self, venue: str | None = None) -> None:
        targets = list(VenueId) if venue in (None, "*", "all") else [VenueId(venue)]
        for target in targets:
            self._venues[target] = VenueFaults()
            self._notify(target)

    def snapshot(self) -> dict:
        return {v.value: {**asdict(f), "injected": dict(self.injected[v])} for v, f in self._venues.items()}

    def get(self, venue: VenueId) -> VenueFaults:
        return self._venues[venue]

    def _notify(self, venue: VenueId) -> None:
        for callback in list(self._listeners):
            try:
                callback(venue, self._venues[venue])
            except Exception:
                log.exception("fault listener failed")

    def _count(self, venue: VenueId, name: str) -> None:
        self.injected[venue][name] = self.injected[venue].get(name, 0) + 1

    # ---- checks (protocol layers) ------------------------------------------------
    def latency_s(self, venue: VenueId) -> float:
        return self._venues[venue].latency_ms / 1000.0

    async def before_rest(self, venue: VenueId, path: str, is_order: bool = False) -> web.Response | None:
        """Apply latency; return an injected error response (5xx, 429, order
        reject) or None to proceed normally."""
        f = self._venues[venue]
        if f.latency_ms > 0:
            self._count(venue, "latency")
            await asyncio.sleep(f.latency_ms / 1000.0)
        matches = not f.path_prefix or path.startswith(f.path_prefix)
        if f.error_5xx > 0 and matches:
            f.error_5xx -= 1
            self._count(venue, "error_5xx")
            return error_response(venue, f.error_status, "SERVER_ERROR", "simulated server error")
        if f.rate_limit_429 > 0 and matches:
            f.rate_limit_429 -= 1
            self._count(venue, "rate_limit_429")
            resp = error_response(venue, 429, "TOO_MANY_REQUESTS", "simulated rate limit")
            resp.headers["Retry-After"] = "1"
            return resp
        if is_order and f.reject_orders > 0:
            f.reject_orders -= 1
            self._count(venue, "reject_orders")
            return error_response(venue, 400, f.reject_label, "simulated order rejection")
        return None

    def order_response_mode(self, venue: VenueId) -> str:
        """``"timeout_after_accept"`` (consumes one count) or ``"normal"``."""
        f = self._venues[venue]
        if f.timeout_after_accept > 0:
            f.timeout_after_accept -= 1
            self._count(venue, "timeout_after_accept")
            return "timeout_after_accept"
        return "normal"

    def timeout_hold_s(self, venue: VenueId) -> float:
        return self._venues[venue].timeout_hold_s

    def ws_state(self, venue: VenueId) -> str:
        return self._venues[venue].ws

    def sequence_gap(self, venue: VenueId) -> bool:
        """True (consuming one count) if the next book update must be skipped."""
        f = self._venues[venue]
        if f.sequence_gap > 0:
            f.sequence_gap -= 1
            self._count(venue, "sequence_gap")
            return True
        return False


async def withhold_response(request: web.Request, hold_s: float) -> web.StreamResponse:
    """Hold the request ``hold_s`` seconds, then close the connection without
    a response (accept-then-time-out fault). Returns only if the transport
    is already gone; raising keeps aiohttp from writing anything."""
    await asyncio.sleep(hold_s)
    transport = request.transport
    if transport is not None:
        transport.close()
    raise asyncio.CancelledError()
