"""Simulated Gate.io v4 REST API: spot endpoints, shared plumbing and route
setup (futures endpoints live in :mod:`exchanges.sim.gate.futures_rest`).

Root ``/api/v4`` (docs/exchange_apis.md section 1). Spot endpoints (1.3-1.6):
``GET /spot/time``, ``/spot/currency_pairs[/{pair}]``, ``/spot/order_book``
(``with_id``), ``/spot/tickers``, ``/spot/fee``; private ``POST/GET/DELETE
/spot/orders``, ``GET/DELETE /spot/orders/{id or text}``, ``GET
/spot/open_orders``, ``/spot/my_trades``, ``/spot/accounts``; ``GET
/account/detail``. Errors are ``{"label","message"}``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation

from aiohttp import web

from exchanges import clock
from exchanges.models import OrderType, Side, Symbol, TimeInForce, VenueId
from exchanges.sim.context import SimContext
from exchanges.sim.engine.types import SimAccount, SimError
from exchanges.sim.faults import withhold_response
from exchanges.sim.gate.common import authenticate, decimals_of, fmt, gate_error, sim_error_response
from exchanges.sim.gate.format import spot_order, spot_trade
from exchanges.sim.gate.market import currency_json, currency_names, spot_ticker_json

log = logging.getLogger(__name__)

API_ROOT = "/api/v4"
SPOT = VenueId.GATE_SPOT
RECV_MS = web.RequestKey("recv_ms", int) if hasattr(web, "RequestKey") else "recv_ms"
RECV_PERF_NS = web.RequestKey("recv_perf_ns", int) if hasattr(web, "RequestKey") else "recv_perf_ns"
Handler = Callable[[web.Request, SimAccount | None, dict], Awaitable[web.StreamResponse]]


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


def wrap(ctx: SimContext, fn: Handler, private: bool, is_order: bool = False) -> Callable:
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
            raise SimError("INVALID_PARAM_VALUE" if venue is SPOT else "CONTRACT_NOT_FOUND",
                           "currency_pair / contract is required")
        return None
    symbol = ctx.engine.find_symbol(venue, str(name))
    if symbol is None:
        label = "INVALID_CURRENCY_PAIR" if venue is SPOT else "CONTRACT_NOT_FOUND"
        raise SimError(label, f"unknown {'currency pair' if venue is SPOT else 'contract'} {name}")
    return symbol


def _limit(request: web.Request, default: int = 100, maximum: int = 1000) -> int:
    try:
        return max(1, min(maximum, int(request.query.get("limit", default))))
    except ValueError as exc:
        raise SimError("INVALID_PARAM_VALUE", "invalid limit") from exc


# ---- public spot ------------------------------------------------------------------
def _pair_json(ctx: SimContext, symbol: Symbol) -> dict:
    info = ctx.engine.symbol_info(SPOT, symbol)
    return {
        "id": symbol.gate, "base": symbol.base, "base_name": symbol.base, "quote": symbol.quote,
        "quote_name": symbol.quote, "fee": fmt(info.taker_fee_rate * 100),
        "min_base_amount": fmt(info.min_size) if info.min_size else None,
        "min_quote_amount": fmt(info.min_notional) if info.min_notional else None,
        "max_base_amount": None, "max_quote_amount": "5000000",
        "amount_precision": decimals_of(info.size_step), "precision": decimals_of(info.price_tick),
        "trade_status": "tradable" if info.tradable else "untradable",
        "sell_start": 0, "buy_start": 0, "delisting_time": 0, "type": "normal", "trade_url": "",
    }


def book_json(ctx: SimContext, venue: VenueId, symbol: Symbol, limit: int, with_id: bool, futures: bool,
              size_decimal: bool = True) -> dict:
    from exchanges.sim.gate.format import size_out

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


async def spot_time(request: web.Request, _acc: SimAccount | None, _d: dict) -> web.Response:
    return web.json_response({"server_time": clock.now_ms()})


def make_public_spot(ctx: SimContext) -> dict[str, Handler]:
    async def pairs(request: web.Request, _a: SimAccount | None, _d: dict) -> web.Response:
        return web.json_response([_pair_json(ctx, i.symbol) for i in ctx.engine.symbols(SPOT)])

    async def pair(request: web.Request, _a: SimAccount | None, _d: dict) -> web.Response:
        return web.json_response(_pair_json(ctx, pair_of(ctx, SPOT, request.match_info["pair"])))

    async def order_book(request: web.Request, _a: SimAccount | None, _d: dict) -> web.Response:
        symbol = pair_of(ctx, SPOT, request.query.get("currency_pair"))
        with_id = request.query.get("with_id", "false").lower() == "true"
        return web.json_response(book_json(ctx, SPOT, symbol, _limit(request, 10, 1000), with_id, False))

    async def tickers(request: web.Request, _a: SimAccount | None, _d: dict) -> web.Response:
        wanted = request.query.get("currency_pair")
        if wanted:
            symbol = pair_of(ctx, SPOT, wanted)
            return web.json_response([spot_ticker_json(ctx.engine, ctx.engine.symbol_info(SPOT, symbol))])
        return web.json_response([spot_ticker_json(ctx.engine, info) for info in ctx.engine.symbols(SPOT)])

    async def currencies(request: web.Request, _a: SimAccount | None, _d: dict) -> web.Response:
        return web.json_response([currency_json(name) for name in currency_names(ctx.engine)])

    async def currency(request: web.Request, _a: SimAccount | None, _d: dict) -> web.Response:
        name = request.match_info["currency"].upper()
        if name not in currency_names(ctx.engine):
            raise SimError("INVALID_CURRENCY", f"unknown currency {name}")
        return web.json_response(currency_json(name))

    return {"pairs": pairs, "pair": pair, "order_book": order_book, "tickers": tickers, "currencies": currencies,
            "currency": currency}


# ---- private spot -----------------------------------------------------------------
def make_private_spot(ctx: SimContext) -> dict[str, Handler]:
    eng = ctx.engine

    async def create(request: web.Request, acc: SimAccount, data: dict) -> web.StreamResponse:
        if not isinstance(data, dict):
            raise SimError("INVALID_PARAM_VALUE", "body must be a JSON object")
        symbol = pair_of(ctx, SPOT, data.get("currency_pair"))
        try:
            side = Side(str(data.get("side", "")).lower())
            otype = OrderType(str(data.get("type", "limit")).lower())
        except ValueError as exc:
            raise SimError("INVALID_PARAM_VALUE", f"invalid side/type: {exc}") from exc
        default_tif = "ioc" if otype is OrderType.MARKET else "gtc"
        try:
            tif = TimeInForce(str(data.get("time_in_force", default_tif)).lower())
        except ValueError as exc:
            raise SimError("INVALID_PARAM_VALUE", "invalid time_in_force") from exc
        if otype is OrderType.MARKET and tif not in (TimeInForce.IOC, TimeInForce.FOK):
            raise SimError("INVALID_PARAM_VALUE", "market orders support only ioc/fok")
        amount = dec(data.get("amount"), "amount")
        price = None if otype is OrderType.MARKET else dec(data.get("price"), "price")
        quote_qty = amount if (otype is OrderType.MARKET and side is Side.BUY) else None
        order = eng.place_order(acc.api_key, SPOT, symbol, side, Decimal(0) if quote_qty is not None else amount,
                                price, otype, tif, str(data.get("text") or ""), quote_qty=quote_qty,
                                recv_ms=request[RECV_MS], recv_perf_ns=request[RECV_PERF_NS])
        return await order_reply(ctx, request, SPOT, spot_order(order))

    async def list_orders(request: web.Request, acc: SimAccount, _d: dict) -> web.Response:
        symbol = pair_of(ctx, SPOT, request.query.get("currency_pair"))
        status = request.query.get("status", "open")
        if status not in ("open", "finished"):
            raise SimError("INVALID_PARAM_VALUE", "status must be open or finished")
        orders = eng.orders(acc.api_key, SPOT, symbol, open_only=(status == "open"))
        side = request.query.get("side")
        if side:
            orders = [o for o in orders if o.side.value == side]
        limit = _limit(request, 100, 1000)
        page = max(1, int(request.query.get("page", "1") or 1))
        return web.json_response([spot_order(o) for o in orders[(page - 1) * limit: page * limit]])

    async def get_one(request: web.Request, acc: SimAccount, _d: dict) -> web.Response:
        symbol = pair_of(ctx, SPOT, request.query.get("currency_pair"))
        ref = request.match_info["order_id"]
        order = eng.get_order(acc.api_key, SPOT, symbol, client_order_id=None if ref.isdigit() else ref,
                              order_id=ref if ref.isdigit() else None)
        if not ref.isdigit() and not order.is_open:  # 1.5/1.6: a custom id works only while the order is open
            raise SimError("ORDER_NOT_FOUND", "order not found", 404)
        return web.json_response(spot_order(order))

    async def cancel_one(request: web.Request, acc: SimAccount, _d: dict) -> web.Response:
        symbol = pair_of(ctx, SPOT, request.query.get("currency_pair"))
        ref = request.match_info["order_id"]
        order = eng.cancel_order(acc.api_key, SPOT, symbol, client_order_id=None if ref.isdigit() else ref,
                                 order_id=ref if ref.isdigit() else None)
        return web.json_response(spot_order(order))

    async def cancel_all(request: web.Request, acc: SimAccount, _d: dict) -> web.Response:
        symbol = pair_of(ctx, SPOT, request.query.get("currency_pair"))
        side = request.query.get("side")
        orders = eng.cancel_all(acc.api_key, SPOT, symbol, Side(side) if side else None)
        return web.json_response([spot_order(o) for o in orders])

    async def open_orders(request: web.Request, acc: SimAccount, _d: dict) -> web.Response:
        groups: dict[str, list] = {}
        for order in eng.open_orders(acc.api_key, SPOT):
            groups.setdefault(order.symbol.gate, []).append(spot_order(order))
        return web.json_response([{"currency_pair": k, "total": len(v), "orders": v} for k, v in groups.items()])

    async def my_trades(request: web.Request, acc: SimAccount, _d: dict) -> web.Response:
        symbol = pair_of(ctx, SPOT, request.query.get("currency_pair"), required=False)
        order_id = request.query.get("order_id")
        if order_id and not order_id.isdigit():
            order_id = str(eng.get_order(acc.api_key, SPOT, symbol, client_order_id=order_id).id)
        fills = eng.fills(acc.api_key, SPOT, symbol, order_id=order_id or None)
        fills = sorted(fills, key=lambda f: f.trade_id, reverse=True)[: _limit(request, 100, 1000)]
        return web.json_response([spot_trade(f) for f in fills])

    async def accounts(request: web.Request, acc: SimAccount, _d: dict) -> web.Response:
        wanted = request.query.get("currency")
        out = [{"currency": b.asset, "available": fmt(b.free), "locked": fmt(b.locked), "update_id": 1}
               for b in eng.balances(acc.api_key, SPOT).values() if not wanted or b.asset == wanted.upper()]
        return web.json_response(out)

    async def fee(request: web.Request, acc: SimAccount, _d: dict) -> web.Response:
        wanted = request.query.get("currency_pair")
        infos = eng.symbols(SPOT)
        info = next((i for i in infos if i.venue_symbol == (wanted or "").upper()), infos[0] if infos else None)
        perp = eng.symbols(VenueId.GATE_PERP)
        return web.json_response({
            "user_id": acc.user_id,
            "taker_fee": fmt(info.taker_fee_rate) if info else "0.002",
            "maker_fee": fmt(info.maker_fee_rate) if info else "0.002",
            "gt_discount": False, "gt_taker_fee": "0", "gt_maker_fee": "0", "loan_fee": "0.18", "point_type": "1",
            "futures_taker_fee": fmt(perp[0].taker_fee_rate) if perp else "0.0005",
            "futures_maker_fee": fmt(perp[0].maker_fee_rate) if perp else "0.0002",
            "delivery_taker_fee": "0", "delivery_maker_fee": "0", "debit_fee": 3,
        })

    async def account_detail(request: web.Request, acc: SimAccount, _d: dict) -> web.Response:
        return web.json_response({"user_id": acc.user_id, "ip_whitelist": [], "currency_pairs": [],
                                  "key": {"mode": 1}, "tier": 0})

    return {"create": create, "list": list_orders, "get": get_one, "cancel": cancel_one, "cancel_all": cancel_all,
            "open_orders": open_orders, "my_trades": my_trades, "accounts": accounts, "fee": fee,
            "account_detail": account_detail}


def setup_gate_rest(app: web.Application, ctx: SimContext) -> None:
    """Mount every Gate v4 REST route (spot + USDT futures) under ``/api/v4``."""
    from exchanges.sim.gate.futures_rest import setup_futures_routes

    pub = make_public_spot(ctx)
    prv = make_private_spot(ctx)
    r = app.router
    root = API_ROOT
    r.add_get(f"{root}/spot/time", wrap(ctx, spot_time, False))
    r.add_get(f"{root}/spot/currencies", wrap(ctx, pub["currencies"], False))
    r.add_get(f"{root}/spot/currencies/{{currency}}", wrap(ctx, pub["currency"], False))
    r.add_get(f"{root}/spot/currency_pairs", wrap(ctx, pub["pairs"], False))
    r.add_get(f"{root}/spot/currency_pairs/{{pair}}", wrap(ctx, pub["pair"], False))
    r.add_get(f"{root}/spot/order_book", wrap(ctx, pub["order_book"], False))
    r.add_get(f"{root}/spot/tickers", wrap(ctx, pub["tickers"], False))
    r.add_get(f"{root}/spot/fee", wrap(ctx, prv["fee"], True))
    r.add_post(f"{root}/spot/orders", wrap(ctx, prv["create"], True, is_order=True))
    r.add_get(f"{root}/spot/orders", wrap(ctx, prv["list"], True))
    r.add_delete(f"{root}/spot/orders", wrap(ctx, prv["cancel_all"], True))
    r.add_get(f"{root}/spot/orders/{{order_id}}", wrap(ctx, prv["get"], True))
    r.add_delete(f"{root}/spot/orders/{{order_id}}", wrap(ctx, prv["cancel"], True))
    r.add_get(f"{root}/spot/open_orders", wrap(ctx, prv["open_orders"], True))
    r.add_get(f"{root}/spot/my_trades", wrap(ctx, prv["my_trades"], True))
    r.add_get(f"{root}/spot/accounts", wrap(ctx, prv["accounts"], True))
    r.add_get(f"{root}/account/detail", wrap(ctx, prv["account_detail"], True))
    setup_futures_routes(app, ctx)
