"""The simulated MEXC spot application: REST under ``/api/v3``
(:mod:`.market`, :mod:`.rest`) and the protobuf WebSocket at ``/ws``
(:mod:`.ws`). Unrouted requests answer MEXC's ``{"code","msg"}`` JSON (404 for
an unknown path, 405 for a known path with another method) rather than
aiohttp's text page (docs/venues.md 3.1).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable

from aiohttp import web

from exchanges.sim.engine import SimEngine
from exchanges.sim.faults import Faults
from exchanges.sim.mexc import market, rest
from exchanges.sim.mexc.context import MEXC_CONTEXT, MEXC_WS_HUB, MexcContext, endpoint
from exchanges.sim.mexc.ws import MexcWsHub

RouteHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def mexc_json_errors(request: web.Request, handler: RouteHandler) -> web.StreamResponse:
    """aiohttp's unrouted 404/405 as MEXC error bodies [?] (the venue's body for
    an unknown path is not documented; the shape is its general error format)."""
    try:
        return await handler(request)
    except web.HTTPMethodNotAllowed:
        return web.json_response({"code": 405, "msg": f"{request.method} is not allowed on {request.path}"},
                                 status=405)
    except web.HTTPNotFound:
        return web.json_response({"code": 404, "msg": f"no such endpoint: {request.path}"}, status=404)


def build_mexc_app(engine: SimEngine, faults: Faults | None = None, push_log: deque | None = None
                   ) -> web.Application:
    """The MEXC spot app: REST under ``/api/v3`` and the protobuf WS at ``/ws``.
    ``app[MEXC_CONTEXT]`` is the :class:`MexcContext`; ``app[MEXC_WS_HUB]`` the
    :class:`exchanges.sim.mexc.ws.MexcWsHub`."""
    ctx = MexcContext(engine, faults, push_log)
    app = web.Application(middlewares=[mexc_json_errors])
    app[MEXC_CONTEXT] = ctx
    routes = [
        ("GET", "/api/v3/ping", market.ping, False, False),
        ("GET", "/api/v3/time", market.server_time, False, False),
        ("GET", "/api/v3/exchangeInfo", market.exchange_info, False, False),
        ("GET", "/api/v3/depth", market.depth, False, False),
        ("GET", "/api/v3/defaultSymbols", market.default_symbols, False, False),
        ("GET", "/api/v3/ticker/bookTicker", market.book_ticker, False, False),
        ("GET", "/api/v3/ticker/24hr", market.ticker_24h, False, False),
        ("GET", "/api/v3/ticker/price", market.ticker_price, False, False),
        ("POST", "/api/v3/order", rest.new_order, True, True),
        ("GET", "/api/v3/order", rest.query_order, True, False),
        ("DELETE", "/api/v3/order", rest.cancel_order, True, False),
        ("GET", "/api/v3/openOrders", rest.open_orders, True, False),
        ("DELETE", "/api/v3/openOrders", rest.cancel_open_orders, True, False),
        ("GET", "/api/v3/allOrders", rest.all_orders, True, False),
        ("GET", "/api/v3/account", rest.account_info, True, False),
        ("GET", "/api/v3/myTrades", rest.my_trades, True, False),
        ("GET", "/api/v3/tradeFee", rest.trade_fee, True, False),
        ("GET", "/api/v3/capital/config/getall", rest.capital_config, True, False),
        ("POST", "/api/v3/userDataStream", rest.create_listen_key, True, False),
        ("PUT", "/api/v3/userDataStream", rest.keepalive_listen_key, True, False),
        ("DELETE", "/api/v3/userDataStream", rest.delete_listen_key, True, False),
        ("GET", "/api/v3/userDataStream", rest.list_listen_keys, True, False),
    ]
    for method, path, handler, signed, is_order in routes:
        app.router.add_route(method, path, endpoint(ctx, handler, signed=signed, is_order=is_order))
    hub = MexcWsHub(ctx)
    app[MEXC_WS_HUB] = hub
    app.router.add_get("/ws", hub.handle)
    app.on_startup.append(hub.on_startup)
    app.on_shutdown.append(hub.on_shutdown)
    return app
