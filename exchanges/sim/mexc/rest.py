"""Simulated MEXC spot v3 signed endpoints (docs/venues.md 3.5-3.6; MEXC API docs
"Spot Account/Trade", "Wallet Endpoints", "Websocket User Data Streams"):
``POST|GET|DELETE /api/v3/order``, ``GET|DELETE /api/v3/openOrders``, ``GET
/api/v3/allOrders``, ``/account``, ``/myTrades``, ``/tradeFee`` (the account's own
rates), ``/capital/config/getall`` (currencies and networks), ``POST|PUT|DELETE|GET
/api/v3/userDataStream``.

Order types (section 3.5): LIMIT (GTC), LIMIT_MAKER (post-only),
IMMEDIATE_OR_CANCEL, FILL_OR_KILL, MARKET (``quantity`` or, for buys,
``quoteOrderQty``). ``orderId`` is a string ``"C02__<n>"``. Status: NEW,
PARTIALLY_FILLED, FILLED, CANCELED, PARTIALLY_CANCELED (canceled after a
partial fill). Error codes used (section 3.5; ``[?]`` = chosen from the
venue's published table for a case it does not spell out): -1121 invalid
symbol, -2011 unknown order (cancel), -2013 order does not exist (query),
30002 below minimum, 30004 insufficient balance, 33333 parameter error [?],
700004 order id missing, -2010 post-only would take / duplicate client id [?],
-1125 unknown listen key [?].

Faults (:mod:`exchanges.sim.faults`): every request first awaits
``faults.before_rest`` (latency, 5xx, 429, order rejects); an accepted order
may be withheld (``order_response_mode == "timeout_after_accept"``).

Client order ids: ``newClientOrderId`` is passed to the engine and returned
exactly as sent; the engine checks its syntax (1..32 chars of
``[0-9A-Za-z_-]``, :func:`exchanges.sim.engine.match.check_client_order_id`;
MEXC code 33333 otherwise). Gate's ``t-`` rule applies to Gate only.
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any

from exchanges import clock
from exchanges.models import OrderStatus, OrderType, Side, Symbol
from exchanges.sim.engine.match import check_client_order_id
from exchanges.sim.engine.types import SimError, SimOrder
from exchanges.sim.faults import withhold_response
from exchanges.sim.mexc.context import LISTEN_KEY_TTL_MS, VENUE, MexcContext, Req, symbol_of
from exchanges.sim.mexc.format import (
    TYPE_TO_TIF,
    MexcError,
    fmt,
    order_id_text,
    order_json,
    parse_order_id,
    trade_json,
)

_symbol = symbol_of


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


async def trade_fee(ctx: MexcContext, req: Req) -> Any:
    """The account's own rates for one symbol: ``{"data": {"makerCommission",
    "takerCommission"}, "code": 0, "msg": "success", "timestamp"}`` (ratios as
    JSON numbers, as the venue's example shows)."""
    info = ctx.engine.symbol_info(VENUE, _symbol(ctx, req.need("symbol")))
    return {"data": {"makerCommission": float(info.maker_fee_rate), "takerCommission": float(info.taker_fee_rate)},
            "code": 0, "msg": "success", "timestamp": clock.now_ms()}


async def capital_config(ctx: MexcContext, req: Req) -> Any:
    """Every asset the simulated venue trades with one simulated network each
    (deposits and withdrawals enabled; the simulator moves no money on chains)."""
    assets = sorted({a for info in ctx.engine.symbols(VENUE) for a in (info.symbol.base, info.symbol.quote)})
    return [{"coin": a, "Name": a, "networkList": [{
        "coin": a, "depositDesc": None, "depositEnable": True, "minConfirm": 12, "Name": a, "network": "ERC20",
        "withdrawEnable": True, "withdrawFee": "1", "withdrawIntegerMultiple": None, "withdrawMax": "1000000",
        "withdrawMin": "10", "sameAddress": False, "contract": "", "withdrawTips": None, "depositTips": None,
        "netWork": "ETH"}]} for a in assets]


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
