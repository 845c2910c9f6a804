"""Request plumbing shared by the simulated Gate v4 REST endpoints: the ``/api/v4``
root, the handler wrapper (faults -> signature -> JSON body -> handler; SimError ->
Gate ``{"label","message"}`` body), parameter parsing and the order-book shape.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation

from aiohttp import web

from exchanges import clock
from exchanges.models import Symbol, VenueId
from exchanges.sim.context import SimContext
from exchanges.sim.engine.types import SimAccount, SimError
from exchanges.sim.faults import withhold_response
from exchanges.sim.gate.common import authenticate, fmt, gate_error, sim_error_response
from exchanges.sim.gate.format import size_out

log = logging.getLogger(__name__)

API_ROOT = "/api/v4"
RECV_MS = web.RequestKey("recv_ms", int) if hasattr(web, "RequestKey") else "recv_ms"
RECV_PERF_NS = web.RequestKey("recv_perf_ns", int) if hasattr(web, "RequestKey") else "recv_perf_ns"
# (request, account or None when public, JSON body) -> response; private handlers declare SimAccount
Handler = Callable[..., Awaitable[web.StreamResponse]]


def venue_of_path(path: str) -> VenueId:
    return VenueId.GATE_PERP if path.startswith(API_ROOT + "/futures") else VenueId.GATE_SPOT


def dec(value: object, name: str) -> Decimal:
    """Parse a decimal request field; SimError INVALID_PARAM_VALUE otherwise."""
    try:
        out = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError) as exc:
        raise SimError("INVALID_PARAM_VALUE", f"invalid {name}: {value!r}") from exc
    if not out.is_finite():
        raise SimError("INVALID_PARAM_VALUE", f"invalid {name}: {value!r}")
    return out


def wrap(ctx: SimContext, fn: Handler, private: bool, is_order: bool = False
         ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """aiohttp handler: faults -> auth -> JSON body -> ``fn``; SimError -> Gate error."""

    async def handler(request: web.Request) -> web.StreamResponse:
        recv_perf_ns = time.perf_counter_ns()
        recv_ms = clock.now_ms()
        venue = venue_of_path(request.path)
        body = await request.read()
        try:
            account = authenticate(ctx.engine, request, body) if private else None
        except SimError as exc:
            return sim_error_response(exc)
        injected = await ctx.faults.before_rest(venue, request.path, is_order=is_order)
        if injected is not None:
            return injected
        try:
            data = json.loads(body) if body.strip() else {}
        except ValueError:
            return gate_error(400, "INVALID_PARAM_VALUE", "request body is not valid JSON")
        request[RECV_MS] = recv_ms
        request[RECV_PERF_NS] = recv_perf_ns
        try:
            return await fn(request, account, data)
        except SimError as exc:
            return sim_error_response(exc)
        except Exception:  # never let a handler bug kill the connection silently
            log.exception("gate handler failed: %s %s", request.method, request.path)
            return gate_error(500, "SERVER_ERROR", "internal simulator error")

    return handler


async def order_reply(ctx: SimContext, request: web.Request, venue: VenueId, payload: object,
                      status: int = 201) -> web.StreamResponse:
    """Reply to an order placement, honouring the accept-then-time-out fault."""
    if ctx.faults.order_response_mode(venue) == "timeout_after_accept":
        return await withhold_response(request, ctx.faults.timeout_hold_s(venue))
    return web.json_response(payload, status=status)


def pair_of(ctx: SimContext, venue: VenueId, name: object, required: bool = True) -> Symbol | None:
    if not name:
        if required:
            raise SimError("INVALID_PARAM_VALUE" if venue is VenueId.GATE_SPOT else "CONTRACT_NOT_FOUND",
                           "currency_pair / contract is required")
        return None
    symbol = ctx.engine.find_symbol(venue, str(name))
    if symbol is None:
        label = "INVALID_CURRENCY_PAIR" if venue is VenueId.GATE_SPOT else "CONTRACT_NOT_FOUND"
        raise SimError(label, f"unknown {'currency pair' if venue is VenueId.GATE_SPOT else 'contract'} {name}")
    return symbol


def limit_of(request: web.Request, default: int = 100, maximum: int = 1000) -> int:
    try:
        return max(1, min(maximum, int(request.query.get("limit", default))))
    except ValueError as exc:
        raise SimError("INVALID_PARAM_VALUE", "invalid limit") from exc



def book_json(ctx: SimContext, venue: VenueId, symbol: Symbol, limit: int, with_id: bool, futures: bool,
              size_decimal: bool = True) -> dict:
    bids, asks, update_id = ctx.engine.book(venue, symbol, limit)
    now = clock.now_ms()
    if futures:
        out: dict = {"current": round(now / 1000, 3), "update": round(now / 1000, 3),
                     "asks": [{"p": fmt(p), "s": size_out(q, size_decimal)} for p, q in asks],
                     "bids": [{"p": fmt(p), "s": size_out(q, size_decimal)} for p, q in bids]}
    else:
        out = {"current": now, "update": now, "asks": [[fmt(p), fmt(q)] for p, q in asks],
               "bids": [[fmt(p), fmt(q)] for p, q in bids]}
    if with_id:
        out = {"id": update_id, **out}
    return out
