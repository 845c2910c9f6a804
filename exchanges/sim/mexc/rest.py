"""Simulated MEXC spot API v3 REST (docs/exchange_apis.md section 3) on top of
:class:`exchanges.sim.engine.SimEngine`; the protobuf WebSocket lives in
:mod:`exchanges.sim.mexc.ws` and is mounted on the same app at ``/ws``.

``build_mexc_app(engine, faults=None) -> aiohttp.web.Application`` serves:

* public: ``GET /api/v3/ping``, ``/time``, ``/exchangeInfo[?symbol=|?symbols=]``,
  ``/depth?symbol=&limit=`` (``lastUpdateId`` = the engine's book update id,
  the same counter as the WS depth ``fromVersion``/``toVersion``),
  ``/defaultSymbols``, ``/ticker/bookTicker``, ``/ticker/24hr`` and
  ``/ticker/price`` (each ``[?symbol=|?symbols=A,B]``: one object for
  ``symbol``, else an array, all symbols without either);
* signed (section 3.2): ``POST|GET|DELETE /api/v3/order``, ``GET|DELETE
  /api/v3/openOrders``, ``GET /api/v3/allOrders``, ``GET /api/v3/account``,
  ``GET /api/v3/myTrades``, ``POST|PUT|DELETE|GET /api/v3/userDataStream``.

Signing (section 3.2): header ``X-MEXC-APIKEY``; ``signature`` =
hex HMAC-SHA256(secret, query string + body, no separator, without the
``signature`` parameter itself), compared on the raw bytes as sent. Unknown
key -> 400 ``{"code":10072,"msg":"Api key info invalid"}``; bad signature ->
400 ``{"code":700002,"msg":"Signature for this request is not valid."}``;
``timestamp`` must satisfy ``timestamp < server+1000`` and
``server - timestamp <= recvWindow`` (default 5000, max 60000) else 400
``{"code":700003,...}``.

Order types (section 3.5): LIMIT (GTC), LIMIT_MAKER (post-only),
IMMEDIATE_OR_CANCEL, FILL_OR_KILL, MARKET (``quantity`` or, for buys,
``quoteOrderQty``). ``orderId`` is a string ``"C02__<n>"``. Status: NEW,
PARTIALLY_FILLED, FILLED, CANCELED, PARTIALLY_CANCELED (canceled after a
partial fill). Error codes used (section 3.5; ``[?]`` = not in our research
doc, chosen from the venue's published table): -1121 invalid symbol, -2011
unknown order (cancel), -2013 order does not exist (query), 30002 below
minimum, 30004 insufficient balance, 33333 parameter error [?], 700004 order
id missing [?], -2010 post-only would take / duplicate client id [?], -1125
unknown listen key [?].

Faults (:mod:`exchanges.sim.faults`): every request first awaits
``faults.before_rest`` (latency, 5xx, 429, order rejects); an accepted order
may be withheld (``order_response_mode == "timeout_after_accept"``).

Client order ids: ``newClientOrderId`` is passed to the engine and returned
exactly as sent; the engine checks its syntax (1..32 chars of
``[0-9A-Za-z_-]``, :func:`exchanges.sim.engine.match.check_client_order_id`;
MEXC code 33333 otherwise). Gate's ``t-`` rule applies to Gate only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from exchanges import clock
from exchanges.models import OrderStatus, OrderType, Side, Symbol, VenueId
from exchanges.sim.engine import SimEngine
from exchanges.sim.engine.match import check_client_order_id
from exchanges.sim.engine.types import SimAccount, SimError, SimOrder
from exchanges.sim.faults import Faults, withhold_response
from exchanges.sim.mexc.format import (
    TYPE_TO_TIF,
    MexcError,
    fmt,
    order_id_text,
    order_json,
    parse_order_id,
    sim_error_to_mexc,
    symbol_json,
    trade_json,
)

log = logging.getLogger(__name__)

VENUE = VenueId.MEXC_SPOT
LISTEN_KEY_TTL_MS = 60 * 60 * 1000  # section 3.6: valid 60 min, extended by PUT
MAX_RECV_WINDOW_MS = 60000

class MexcContext:
    """State shared by the REST handlers and the WS hub of one MEXC app:
    the engine, faults and the listen keys ``{key: (api_key, expires_ms)}``."""

    def __init__(self, engine: SimEngine, faults: Faults | None, push_log: deque | None = None) -> None:
        self.engine = engine
        self.faults = faults or Faults()
        self.listen_keys: dict[str, tuple[str, int]] = {}
        #: aggregated public pushes (SimContext.push_log when run by the server)
        self.push_log: deque = push_log if push_log is not None else deque(maxlen=4000)

    def listen_key_owner(self, key: str) -> str | None:
        """API key owning a valid (unexpired) listen key, else None."""
        entry = self.listen_keys.get(key)
        if entry is None or entry[1] < clock.now_ms():
            return None
        return entry[0]


class Req:
    """Parsed request: merged params (query then body), the account if signed."""

    def __init__(self, request: web.Request, params: dict[str, str], account: SimAccount | None,
                 recv_ms: int = 0, recv_perf_ns: int = 0) -> None:
        self.request, self.params, self.account = request, params, account
        self.recv_ms, self.recv_perf_ns = recv_ms, recv_perf_ns  # arrival, before faults/processing

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self.params.get(name)
        return default if value in (None, "") else value

    def need(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise MexcError(33333, f"Parameter error: mandatory parameter '{name}' was not sent")
        return value

    def decimal(self, name: str) -> Decimal | None:
        value = self.get(name)
        if value is None:
            return None
        try:
            result = Decimal(value)
        except InvalidOperation as exc:
            raise MexcError(33333, f"Parameter error: {name}={value!r} is not a number") from exc
        if not result.is_finite():
            raise MexcError(33333, f"Parameter error: {name}={value!r} is not a number")
        return result


def _strip_signature(text: str) -> tuple[str, str | None]:
    """Remove the ``signature=`` parameter from a raw query/body string;
    returns (signed text, signature or None)."""
    if "signature=" not in text:
        return text, None
    parts = text.split("&")
    kept, sig = [], None
    for part in parts:
        if part.startswith("signature="):
            sig = part[len("signature="):]
        else:
            kept.append(part)
    return "&".join(kept), sig


def _body_params(body: str) -> dict[str, str]:
    stripped = body.strip()
    if not stripped:
        return {}
    if stripped.startswith("{"):
        try:
            obj = json.loads(stripped)
        except ValueError as exc:
            raise MexcError(33333, "Parameter error: body is not valid JSON") from exc
        return {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in obj.items()}
    return dict(parse_qsl(stripped, keep_blank_values=True))


def verify_signature(ctx: MexcContext, request: web.Request, raw_query: str, body: str,
                     params: dict[str, str]) -> SimAccount:
    """Check key, signature and timestamp window (section 3.2); raise MexcError."""
    api_key = request.headers.get("X-MEXC-APIKEY", "")
    account = ctx.engine.account(api_key) if api_key else None
    if account is None:
        raise MexcError(10072, "Api key info invalid")
    query_signed, sig_q = _strip_signature(raw_query)
    body_signed, sig_b = _strip_signature(body)
    signature = sig_q or sig_b
    if not signature:
        raise MexcError(700002, "Signature for this request is not valid.")
    expected = hmac.new(account.api_secret.encode(), (query_signed + body_signed).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.lower()):
        raise MexcError(700002, "Signature for this request is not valid.")
    try:
        timestamp = int(params.get("timestamp", ""))
        recv_window = int(params.get("recvWindow") or 5000)
    except ValueError as exc:
        raise MexcError(700003, "Timestamp for this request is outside of the recvWindow.") from exc
    if recv_window > MAX_RECV_WINDOW_MS or recv_window <= 0:
        raise MexcError(33333, "Parameter error: recvWindow must be in (0, 60000]")
    now = clock.now_ms()
    if not (timestamp < now + 1000 and now - timestamp <= recv_window):
        raise MexcError(700003, "Timestamp for this request is outside of the recvWindow.")
    return account


Handler = Callable[[MexcContext, Req], Awaitable[Any]]
MEXC_CONTEXT = web.AppKey("mexc_context", MexcContext)
MEXC_WS_HUB = web.AppKey("mexc_ws_hub", object)


def endpoint(ctx: MexcContext, handler: Handler, *, signed: bool, is_order: bool = False):
    """Wrap a handler: faults first, params parsed, signature verified, JSON
    out; MexcError/SimError become MEXC error bodies; anything else 500."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        recv_perf_ns = time.perf_counter_ns()  # arrival stamps first: before fault latency and parsing
        recv_ms = clock.now_ms()
        injected = await ctx.faults.before_rest(VENUE, request.path, is_order=is_order)
        if injected is not None:
            return injected
        try:
            raw_query = request.rel_url.raw_query_string
            body = await request.text() if request.can_read_body else ""
            params = dict(parse_qsl(raw_query, keep_blank_values=True))
            params.update(_body_params(body))
            account = verify_signature(ctx, request, raw_query, body, params) if signed else None
            result = await handler(ctx, Req(request, params, account, recv_ms, recv_perf_ns))
        except MexcError as exc:
            return exc.response()
        except SimError as exc:
            return sim_error_to_mexc(exc).response()
        except (ValueError, TypeError) as exc:  # malformed numeric parameter
            return MexcError(33333, f"Parameter error: {exc}").response()
        if isinstance(result, web.StreamResponse):
            return result
        return web.json_response(result)

    return wrapped


# ---- public ------------------------------------------------------------------


def _symbol(ctx: MexcContext, text: str | None) -> Symbol:
    sym = ctx.engine.find_symbol(VENUE, text or "")
    if sym is None:
        raise MexcError(-1121, "Invalid symbol.")
    return sym


async def ping(ctx: MexcContext, req: Req) -> Any:
    return {}


async def server_time(ctx: MexcContext, req: Req) -> Any:
    return {"serverTime": clock.now_ms()}


async def exchange_info(ctx: MexcContext, req: Req) -> Any:
    if req.get("symbol"):
        wanted = [_symbol(ctx, req.get("symbol"))]
    elif req.get("symbols"):
        wanted = [_symbol(ctx, s) for s in req.need("symbols").split(",")]
    else:
        wanted = [info.symbol for info in ctx.engine.symbols(VENUE)]
    return {"timezone": "CST", "serverTime": clock.now_ms(), "rateLimits": [], "exchangeFilters": [],
            "symbols": [symbol_json(ctx.engine.symbol_info(VENUE, s)) for s in wanted]}


async def depth(ctx: MexcContext, req: Req) -> Any:
    sym = _symbol(ctx, req.need("symbol"))
    try:
        limit = max(1, min(5000, int(req.get("limit", "100"))))
    except ValueError as exc:
        raise MexcError(33333, "Parameter error: limit") from exc
    bids, asks, update_id = ctx.engine.book(VENUE, sym, limit)
    return {"lastUpdateId": update_id, "bids": [[fmt(p), fmt(q)] for p, q in bids],
            "asks": [[fmt(p), fmt(q)] for p, q in asks], "timestamp": clock.now_ms()}


def _book_ticker(ctx: MexcContext, sym: Symbol) -> dict[str, Any]:
    bids, asks, _ = ctx.engine.book(VENUE, sym, 1)
    bid, ask = (bids[0] if bids else (None, None)), (asks[0] if asks else (None, None))
    return {"symbol": sym.mexc, "bidPrice": fmt(bid[0]) or None, "bidQty": fmt(bid[1]) or None,
            "askPrice": fmt(ask[0]) or None, "askQty": fmt(ask[1]) or None}


def _selected(ctx: MexcContext, req: Req) -> tuple[list[Symbol], bool]:
    """Symbols a ticker request names (``symbol`` or ``symbols=A,B``), and
    whether the answer is one object (``symbol``) rather than an array."""
    if req.get("symbol"):
        return [_symbol(ctx, req.get("symbol"))], True
    if req.get("symbols"):
        return [_symbol(ctx, s) for s in req.need("symbols").split(",")], False
    return [info.symbol for info in ctx.engine.symbols(VENUE)], False


async def book_ticker(ctx: MexcContext, req: Req) -> Any:
    symbols, single = _selected(ctx, req)
    out = [_book_ticker(ctx, sym) for sym in symbols]
    return out[0] if single else out


def _ticker_24h(ctx: MexcContext, sym: Symbol, now_ms: int) -> dict[str, Any]:
    """One ``/api/v3/ticker/24hr`` object (docs/venues.md 3.4): prices from the
    engine's 24 h statistics, ``priceChangePercent`` a ratio (0.01 = 1 %)."""
    stats = ctx.engine.stats_24h(VENUE, sym, now_ms)
    top = _book_ticker(ctx, sym)
    return {"symbol": sym.mexc, "priceChange": fmt(stats.change),
            "priceChangePercent": fmt(stats.change_ratio.quantize(Decimal("0.00000001"))),
            "prevClosePrice": fmt(stats.open), "lastPrice": fmt(stats.last),
            "bidPrice": top["bidPrice"] or "", "bidQty": top["bidQty"] or "",
            "askPrice": top["askPrice"] or "", "askQty": top["askQty"] or "",
            "openPrice": fmt(stats.open), "highPrice": fmt(stats.high), "lowPrice": fmt(stats.low),
            "volume": fmt(stats.base_volume), "quoteVolume": fmt(stats.quote_volume),
            "openTime": stats.open_ms, "closeTime": now_ms, "count": stats.trade_count}


async def ticker_24h(ctx: MexcContext, req: Req) -> Any:
    symbols, single = _selected(ctx, req)
    now_ms = clock.now_ms()
    out = [_ticker_24h(ctx, sym, now_ms) for sym in symbols]
    return out[0] if single else out


async def ticker_price(ctx: MexcContext, req: Req) -> Any:
    symbols, single = _selected(ctx, req)
    out = [{"symbol": sym.mexc, "price": fmt(ctx.engine.mark_price(VENUE, sym))} for sym in symbols]
    return out[0] if single else out


async def default_symbols(ctx: MexcContext, req: Req) -> Any:
    """Symbols open to API trading: ``{"code": 200, "data": [...], "msg": null}``."""
    return {"code": 200, "data": [info.venue_symbol for info in ctx.engine.symbols(VENUE) if info.tradable],
            "msg": None}


# ---- orders --------------------------------------------------------------------


def _client_id_in(text: str | None) -> str:
    if text is None:
        return ""
    try:
        check_client_order_id(VENUE, text)
    except SimError as exc:
        raise MexcError(33333, f"Parameter error: {exc.message}") from exc
    return text


async def new_order(ctx: MexcContext, req: Req) -> Any:
    sym = _symbol(ctx, req.need("symbol"))
    side_text = req.need("side").upper()
    if side_text not in ("BUY", "SELL"):
        raise MexcError(33333, "Parameter error: side must be BUY or SELL")
    type_text = req.need("type").upper()
    if type_text not in TYPE_TO_TIF:
        raise MexcError(33333, f"Parameter error: unsupported order type {type_text}")
    order_type, tif = TYPE_TO_TIF[type_text]
    qty, price, quote_qty = req.decimal("quantity"), req.decimal("price"), req.decimal("quoteOrderQty")
    side = Side.BUY if side_text == "BUY" else Side.SELL
    if order_type is OrderType.LIMIT and (qty is None or price is None):
        raise MexcError(33333, "Parameter error: LIMIT orders need quantity and price")
    if order_type is OrderType.MARKET:
        price = None
        if qty is None and quote_qty is None:
            raise MexcError(33333, "Parameter error: MARKET orders need quantity or quoteOrderQty")
        if qty is not None:
            quote_qty = None
    cid = _client_id_in(req.get("newClientOrderId"))
    order = ctx.engine.place_order(req.account.api_key, VENUE, sym, side, qty or Decimal(0), price, order_type, tif,
                                   client_order_id=cid, quote_qty=quote_qty, recv_ms=req.recv_ms or None,
                                   recv_perf_ns=req.recv_perf_ns or None)
    if ctx.faults.order_response_mode(VENUE) == "timeout_after_accept":
        return await withhold_response(req.request, ctx.faults.timeout_hold_s(VENUE))
    return {"symbol": sym.mexc, "orderId": order_id_text(order), "orderListId": -1,
            "price": fmt(order.price) if order.price is not None else "0", "origQty": fmt(order.qty),
            "type": type_text, "side": side_text, "transactTime": order.created_ms}


def _find(ctx: MexcContext, req: Req, missing_code: int) -> tuple[Symbol, SimOrder]:
    sym = _symbol(ctx, req.need("symbol"))
    oid, cid = req.get("orderId"), req.get("origClientOrderId")
    if oid is None and cid is None:
        raise MexcError(700004, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
    try:
        order = ctx.engine.get_order(req.account.api_key, VENUE, sym,
                                     client_order_id=cid,
                                     order_id=None if oid is None else parse_order_id(oid))
    except SimError as exc:
        raise MexcError(missing_code, "Unknown order sent." if missing_code == -2011 else
                        "Order does not exist.") from exc
    if order.status is OrderStatus.REJECTED:
        raise MexcError(missing_code, "Order does not exist.")
    return sym, order


async def query_order(ctx: MexcContext, req: Req) -> Any:
    return order_json(_find(ctx, req, -2013)[1])


async def cancel_order(ctx: MexcContext, req: Req) -> Any:
    sym, order = _find(ctx, req, -2011)
    if not order.is_open:
        raise MexcError(-2011, "Unknown order sent.")
    ctx.engine.cancel_order(req.account.api_key, VENUE, sym, order_id=order.id)
    return order_json(order)


async def open_orders(ctx: MexcContext, req: Req) -> Any:
    sym = _symbol(ctx, req.get("symbol")) if req.get("symbol") else None
    orders = ctx.engine.open_orders(req.account.api_key, VENUE, sym)
    return [order_json(o) for o in sorted(orders, key=lambda o: o.id)]


async def cancel_open_orders(ctx: MexcContext, req: Req) -> Any:
    out = []
    for text in req.need("symbol").split(",")[:5]:
        out += [order_json(o) for o in ctx.engine.cancel_all(req.account.api_key, VENUE, _symbol(ctx, text))]
    return out


async def all_orders(ctx: MexcContext, req: Req) -> Any:
    sym = _symbol(ctx, req.need("symbol"))
    limit = int(req.get("limit", "500") or 500)
    orders = sorted(ctx.engine.orders(req.account.api_key, VENUE, sym), key=lambda o: o.id)
    return [order_json(o) for o in orders[-min(limit, 1000):]]


async def account_info(ctx: MexcContext, req: Req) -> Any:
    balances = ctx.engine.balances(req.account.api_key, VENUE)
    info = ctx.engine.symbols(VENUE)
    maker = info[0].maker_fee_rate if info else Decimal(0)
    taker = info[0].taker_fee_rate if info else Decimal(0)
    return {"makerCommission": fmt(maker), "takerCommission": fmt(taker), "buyerCommission": 0,
            "sellerCommission": 0, "canTrade": True, "canWithdraw": True, "canDeposit": True,
            "updateTime": None, "accountType": "SPOT",
            "balances": [{"asset": a, "free": fmt(b.free), "locked": fmt(b.locked)}
                         for a, b in sorted(balances.items()) if b.free != 0 or b.locked != 0],
            "permissions": ["SPOT"]}


async def my_trades(ctx: MexcContext, req: Req) -> Any:
    sym = _symbol(ctx, req.need("symbol"))
    oid = req.get("orderId")
    fills = ctx.engine.fills(req.account.api_key, VENUE, sym, None if oid is None else parse_order_id(oid))
    start, end = int(req.get("startTime", "0")), int(req.get("endTime", str(2**62)))
    limit = max(1, min(1000, int(req.get("limit", "100"))))
    fills = [f for f in fills if start <= f.ts_ms <= end]
    return [trade_json(f) for f in sorted(fills, key=lambda f: (f.ts_ms, f.trade_id))[-limit:]]


# ---- listen keys (section 3.6) --------------------------------------------------


async def create_listen_key(ctx: MexcContext, req: Req) -> Any:
    key = secrets.token_hex(32)
    ctx.listen_keys[key] = (req.account.api_key, clock.now_ms() + LISTEN_KEY_TTL_MS)
    return {"listenKey": key}


def _own_key(ctx: MexcContext, req: Req) -> str:
    key = req.need("listenKey")
    if ctx.listen_key_owner(key) != req.account.api_key:
        raise MexcError(-1125, "This listenKey does not exist.")
    return key


async def keepalive_listen_key(ctx: MexcContext, req: Req) -> Any:
    key = _own_key(ctx, req)
    ctx.listen_keys[key] = (req.account.api_key, clock.now_ms() + LISTEN_KEY_TTL_MS)
    return {"listenKey": key}


async def delete_listen_key(ctx: MexcContext, req: Req) -> Any:
    key = _own_key(ctx, req)
    del ctx.listen_keys[key]
    return {"listenKey": key}


async def list_listen_keys(ctx: MexcContext, req: Req) -> Any:
    return {"listenKey": [k for k in ctx.listen_keys if ctx.listen_key_owner(k) == req.account.api_key]}


def build_mexc_app(engine: SimEngine, faults: Faults | None = None, push_log: deque | None = None
                   ) -> web.Application:
    """The MEXC spot app: REST under ``/api/v3`` and the protobuf WS at ``/ws``.
    ``app[MEXC_CONTEXT]`` is the :class:`MexcContext`; ``app[MEXC_WS_HUB]`` the
    :class:`exchanges.sim.mexc.ws.MexcWsHub`."""
    from exchanges.sim.mexc.ws import MexcWsHub  # local: mexc_ws imports this module

    ctx = MexcContext(engine, faults, push_log)
    app = web.Application()
    app[MEXC_CONTEXT] = ctx
    routes = [
        ("GET", "/api/v3/ping", ping, False, False),
        ("GET", "/api/v3/time", server_time, False, False),
        ("GET", "/api/v3/exchangeInfo", exchange_info, False, False),
        ("GET", "/api/v3/depth", depth, False, False),
        ("GET", "/api/v3/defaultSymbols", default_symbols, False, False),
        ("GET", "/api/v3/ticker/bookTicker", book_ticker, False, False),
        ("GET", "/api/v3/ticker/24hr", ticker_24h, False, False),
        ("GET", "/api/v3/ticker/price", ticker_price, False, False),
        ("POST", "/api/v3/order", new_order, True, True),
        ("GET", "/api/v3/order", query_order, True, False),
        ("DELETE", "/api/v3/order", cancel_order, True, False),
        ("GET", "/api/v3/openOrders", open_orders, True, False),
        ("DELETE", "/api/v3/openOrders", cancel_open_orders, True, False),
        ("GET", "/api/v3/allOrders", all_orders, True, False),
        ("GET", "/api/v3/account", account_info, True, False),
        ("GET", "/api/v3/myTrades", my_trades, True, False),
        ("POST", "/api/v3/userDataStream", create_listen_key, True, False),
        ("PUT", "/api/v3/userDataStream", keepalive_listen_key, True, False),
        ("DELETE", "/api/v3/userDataStream", delete_listen_key, True, False),
        ("GET", "/api/v3/userDataStream", list_listen_keys, True, False),
    ]
    for method, path, handler, signed, is_order in routes:
        app.router.add_route(method, path, endpoint(ctx, handler, signed=signed, is_order=is_order))
    hub = MexcWsHub(ctx)
    app[MEXC_WS_HUB] = hub
    app.router.add_get("/ws", hub.handle)
    app.on_startup.append(hub.on_startup)
    app.on_shutdown.append(hub.on_shutdown)
    return app
