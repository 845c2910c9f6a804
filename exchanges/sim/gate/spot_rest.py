"""Simulated Gate.io v4 REST API: spot endpoints, shared plumbing and route
setup (futures endpoints live in :mod:`exchanges.sim.gate.futures_rest`).

Root ``/api/v4`` (docs/venues.md section 1). Spot endpoints (1.3-1.6):
``GET /spot/time``, ``/spot/currency_pairs[/{pair}]``, ``/spot/order_book``
(``with_id``), ``/spot/tickers``, ``/spot/fee``; private ``POST/GET/DELETE
/spot/orders``, ``GET/DELETE /spot/orders/{id or text}``, ``GET
/spot/open_orders``, ``/spot/my_trades``, ``/spot/accounts``; ``GET
/account/detail``. Errors are ``{"label","message"}``.
"""

from __future__ import annotations

from decimal import Decimal

from aiohttp import web

from exchanges import clock
from exchanges.models import OrderStatus, OrderType, Side, Symbol, TimeInForce, VenueId
from exchanges.sim.context import SimContext
from exchanges.sim.engine.types import SimAccount, SimError
from exchanges.sim.gate.common import decimals_of, fmt
from exchanges.sim.gate.format import spot_order, spot_trade
from exchanges.sim.gate.market import currency_json, currency_names, spot_ticker_json
from exchanges.sim.gate.plumbing import (
    API_ROOT,
    RECV_MS,
    RECV_PERF_NS,
    Handler,
    book_json,
    dec,
    limit_of,
    order_reply,
    pair_of,
    wrap,
)

SPOT = VenueId.GATE_SPOT


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
        return web.json_response(book_json(ctx, SPOT, symbol, limit_of(request, 10, 1000), with_id, False))

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
def account_name(acc: SimAccount) -> str:
    """The ``account`` a spot order of ``acc`` trades from: ``unified`` or ``spot``."""
    return "unified" if acc.gate_unified else "spot"


def check_account(acc: SimAccount, requested: object) -> None:
    """A spot order's ``account`` field against the account mode (docs/venues.md 1.5,
    1.11): omitted means the mode's own account; ``unified`` needs a unified account,
    and a unified account trades only from ``unified`` [?] (the simulator refuses
    ``spot`` there so a connector that ignores the mode is caught)."""
    name = str(requested or account_name(acc)).lower()
    if name != account_name(acc):
        raise SimError("INVALID_PARAM_VALUE", f"account {name} is not available: this is a {acc.gate_mode} account, "
                       f"trade with account={account_name(acc)}")


def make_private_spot(ctx: SimContext) -> dict[str, Handler]:
    eng = ctx.engine

    async def create(request: web.Request, acc: SimAccount, data: dict) -> web.StreamResponse:
        if not isinstance(data, dict):
            raise SimError("INVALID_PARAM_VALUE", "body must be a JSON object")
        symbol = pair_of(ctx, SPOT, data.get("currency_pair"))
        check_account(acc, data.get("account"))
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
        return await order_reply(ctx, request, SPOT, spot_order(order, account=account_name(acc)))

    async def list_orders(request: web.Request, acc: SimAccount, _d: dict) -> web.Response:
        symbol = pair_of(ctx, SPOT, request.query.get("currency_pair"))
        status = request.query.get("status", "open")
        if status not in ("open", "finished"):
            raise SimError("INVALID_PARAM_VALUE", "status must be open or finished")
        orders = eng.orders(acc.api_key, SPOT, symbol, open_only=(status == "open"))
        side = request.query.get("side")
        if side:
            orders = [o for o in orders if o.side.value == side]
        limit = limit_of(request, 100, 1000)
        page = max(1, int(request.query.get("page", "1") or 1))
        return web.json_response([spot_order(o, account=account_name(acc)) for o in orders[(page - 1) * limit: page * limit]])

    async def get_one(request: web.Request, acc: SimAccount, _d: dict) -> web.Response:
        symbol = pair_of(ctx, SPOT, request.query.get("currency_pair"))
        ref = request.match_info["order_id"]
        order = eng.get_order(acc.api_key, SPOT, symbol, client_order_id=None if ref.isdigit() else ref,
                              order_id=ref if ref.isdigit() else None)
        if not ref.isdigit() and not order.is_open:  # 1.5/1.6: a custom id works only while the order is open
            raise SimError("ORDER_NOT_FOUND", "order not found", 404)
        return web.json_response(spot_order(order, account=account_name(acc)))

    async def cancel_one(request: web.Request, acc: SimAccount, _d: dict) -> web.Response:
        symbol = pair_of(ctx, SPOT, request.query.get("currency_pair"))
        ref = request.match_info["order_id"]
        known = eng.get_order(acc.api_key, SPOT, symbol, client_order_id=None if ref.isdigit() else ref,
                              order_id=ref if ref.isdigit() else None)
        if not known.is_open:  # docs/venues.md 1.12: a finished order answers its final state's label
            if not ref.isdigit():  # a custom id resolves only while the order is open (1.6)
                raise SimError("ORDER_NOT_FOUND", "order not found", 404)
            label = "ORDER_CLOSED" if known.status is OrderStatus.FILLED else "ORDER_CANCELLED"
            raise SimError(label, f"order {known.id} is already {'filled' if label == 'ORDER_CLOSED' else 'cancelled'}")
        order = eng.cancel_order(acc.api_key, SPOT, symbol, client_order_id=None if ref.isdigit() else ref,
                                 order_id=ref if ref.isdigit() else None)
        return web.json_response(spot_order(order, account=account_name(acc)))

    async def cancel_all(request: web.Request, acc: SimAccount, _d: dict) -> web.Response:
        """Every open order of the pair, or of every pair without ``currency_pair``
        (docs/venues.md 1.5); each answered as an ``OrderCancel`` (``succeeded``)."""
        symbol = pair_of(ctx, SPOT, request.query.get("currency_pair"), required=False)
        side = request.query.get("side")
        try:
            wanted_side = Side(side) if side else None
        except ValueError as exc:
            raise SimError("INVALID_PARAM_VALUE", "side must be buy or sell") from exc
        orders = eng.cancel_all(acc.api_key, SPOT, symbol, wanted_side)
        return web.json_response([{**spot_order(o, account=account_name(acc)), "succeeded": True, "label": "",
                                   "message": ""} for o in orders])

    async def open_orders(request: web.Request, acc: SimAccount, _d: dict) -> web.Response:
        groups: dict[str, list] = {}
        for order in eng.open_orders(acc.api_key, SPOT):
            groups.setdefault(order.symbol.gate, []).append(spot_order(order, account=account_name(acc)))
        return web.json_response([{"currency_pair": k, "total": len(v), "orders": v} for k, v in groups.items()])

    async def my_trades(request: web.Request, acc: SimAccount, _d: dict) -> web.Response:
        symbol = pair_of(ctx, SPOT, request.query.get("currency_pair"), required=False)
        order_id = request.query.get("order_id")
        if order_id and not order_id.isdigit():
            order_id = str(eng.get_order(acc.api_key, SPOT, symbol, client_order_id=order_id).id)
        fills = eng.fills(acc.api_key, SPOT, symbol, order_id=order_id or None)
        fills = sorted(fills, key=lambda f: f.trade_id, reverse=True)[: limit_of(request, 100, 1000)]
        return web.json_response([spot_trade(f) for f in fills])

    async def accounts(request: web.Request, acc: SimAccount, _d: dict) -> web.Response:
        if acc.gate_unified:  # [?] a unified account's money is in /unified/accounts (docs/venues.md 1.11)
            return web.json_response([])
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


def setup_spot_routes(app: web.Application, ctx: SimContext) -> None:
    """Mount the spot routes under ``/api/v4``."""
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
