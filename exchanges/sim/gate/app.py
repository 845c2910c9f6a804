"""The simulated Gate v4 REST application: every route under ``/api/v4`` (spot,
USDT futures, unified account) and Gate-style JSON for anything unrouted.

An unknown path answers 404 and a known path with another method 405, both
with Gate's error body ``{"label", "message"}`` (docs/venues.md 1.2) instead of
aiohttp's text page, so a client can always decode the error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from exchanges.sim.context import SimContext
from exchanges.sim.gate.common import gate_error
from exchanges.sim.gate.futures_rest import setup_futures_routes
from exchanges.sim.gate.spot_rest import setup_spot_routes
from exchanges.sim.gate.unified import setup_unified_routes

RouteHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def gate_json_errors(request: web.Request, handler: RouteHandler) -> web.StreamResponse:
    """Turn aiohttp's unrouted 404/405 into Gate error bodies."""
    try:
        return await handler(request)
    except web.HTTPMethodNotAllowed:
        return gate_error(405, "METHOD_NOT_ALLOWED", f"{request.method} is not allowed on {request.path}")
    except web.HTTPNotFound:
        return gate_error(404, "NOT_FOUND", f"no such endpoint: {request.method} {request.path}")


def setup_gate_rest(app: web.Application, ctx: SimContext) -> None:
    """Mount every Gate v4 REST route and the JSON error middleware on ``app``."""
    app.middlewares.append(gate_json_errors)
    setup_spot_routes(app, ctx)
    setup_futures_routes(app, ctx)
    setup_unified_routes(app, ctx)
