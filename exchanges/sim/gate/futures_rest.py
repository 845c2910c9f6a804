"""Simulated Gate.io v4 USDT-futures REST endpoints (docs/venues.md
sections 1.7-1.10), mounted by :func:`exchanges.sim.gate.app.setup_gate_rest`.

Public: ``GET /futures/usdt/contracts[/{c}]``, ``/order_book`` (``with_id``),
``/tickers``, ``/funding_rate``. Private: ``POST/GET/DELETE /futures/usdt/orders``,
``GET/DELETE /futures/usdt/orders/{id or text}``, ``/my_trades``,
``/positions[/{c}]``, ``POST /positions/{c}/leverage?leverage=N``,
``/accounts``, ``/account_book`` (``type`` pnl|fee|fund), ``/position_close``, ``/fee``;
``DELETE /orders`` with or without ``contract``.

Sizes are signed contracts (> 0 buy, < 0 sell); ``price "0"`` + ``tif ioc`` is
a market order; ``size 0`` + ``close true`` closes the position. With
``X-Gate-Size-Decimal: 1`` size fields are decimal strings, otherwise ints
(incoming fractional sizes are then truncated toward zero, as Gate does).
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from aiohttp import web

from exchanges import clock
from exchanges.models import OrderStatus, OrderType, Side, Symbol, TimeInForce, VenueId
from exchanges.sim.context import SimContext
from exchanges.sim.engine.types import SimAccount, SimError, SimOrder
from exchanges.sim.gate.plumbing import API_ROOT, RECV_MS, RECV_PERF_NS, book_json, dec, limit_of, order_reply, pair_of, wrap
from exchanges.sim.gate.common import fmt
from exchanges.sim.gate.market import futures_ticker_json
from exchanges.sim.gate.futures_history import BookEntry, account_book_json, replay
from exchanges.sim.gate.format import futures_order, futures_position, futures_trade, size_out

PERP = VenueId.GATE_PERP
TEXT_LOOKUP_TTL_MS = 60_000  # 1.6: a cancelled unfilled order is queryable by text for 60 s
ZERO_FILL_TTL_MS = 600_000  # 1.9: zero-fill cancelled orders disappear after 10 min


def lookup_expired(order: SimOrder, now_ms: int, by_text: bool) -> bool:
    """True when Gate would no longer return this order: a cancelled order with
    no fill, older than 60 s for a ``text`` lookup or 10 min for any lookup
    (docs/venues.md 1.6, 1.9). Ages count from the order's last update."""
    if order.is_open or order.filled_qty > 0 or order.status is not OrderStatus.CANCELED:
        return False
    age_ms = now_ms - order.updated_ms
    return age_ms > ZERO_FILL_TTL_MS or (by_text and age_ms > TEXT_LOOKUP_TTL_MS)


def size_decimal(request: web.Request) -> bool:
    return request.headers.get("X-Gate-Size-Decimal", "0").strip() == "1"


def _contract_json(ctx: SimContext, symbol: Symbol, sd: bool) -> dict:
    eng = ctx.engine
    info = eng.symbol_info(PERP, symbol)
    rate, interval_s, next_ms = eng.funding_info(PERP, symbol)
    mark = eng.mark_price(PERP, symbol)
    return {
        "name": symbol.gate, "type": "direct", "quanto_multiplier": fmt(info.contract_multiplier),
        "order_size_min": size_out(max(info.min_size, info.size_step), sd), "order_size_max": size_out(Decimal(1000000), sd),
        "enable_decimal": info.size_step < 1, "order_price_round": fmt(info.price_tick),
        "mark_price_round": fmt(info.price_tick), "order_price_deviate": "0.5",
        "mark_price": fmt(mark), "index_price": fmt(mark), "last_price": fmt(mark),
        "funding_rate": fmt(rate), "funding_rate_indicative": fmt(rate), "funding_interval": interval_s,
        "funding_next_apply": next_ms // 1000, "funding_rate_limit": "0.003", "funding_cap_ratio": "0.75",
        "interest_rate": "0.0003", "funding_impact_value": "5000", "funding_offset": 0,
        "leverage_min": "1", "leverage_max": "50", "maintenance_rate": "0.01", "risk_limit_base": "1000000",
        "maker_fee_rate": fmt(info.maker_fee_rate), "taker_fee_rate": fmt(info.taker_fee_rate),
        "orders_limit": 100, "in_delisting": False, "status": "trading" if info.tradable else "delisted",
        "market_order_slip_ratio": "0.05", "market_order_size_max": "1000000", "ref_discount_rate": "0",
        "ref_rebate_rate": "0.2", "orderbook_id": eng.book(PERP, symbol, 0)[2], "trade_id": 0, "trade_size": 0,
        "position_size": 0, "config_change_time": 0, "create_time": 0, "launch_time": 0,
    }


def setup_futures_routes(app: web.Application, ctx: SimContext) -> None:  # noqa: C901 - one closure per endpoint
    eng = ctx.engine
    root = f"{API_ROOT}/futures/{{settle}}"

    def settle_ok(request: web.Request) -> None:
        if request.match_info.get("settle", "usdt") != "usdt":
            raise SimError("INVALID_PARAM_VALUE", "only settle=usdt is simulated")

    async def contracts(request: web.Request, _a: SimAccount | None, _d: dict) -> web.Response:
        settle_ok(request)
        return web.json_response([_contract_json(ctx, i.symbol, size_decimal(request)) for i in eng.symbols(PERP)])

    async def contract(request: web.Request, _a: SimAccount | None, _d: dict) -> web.Response:
        settle_ok(request)
        symbol = pair_of(ctx, PERP, request.match_info["contract"])
        return web.json_response(_contract_json(ctx, symbol, size_decimal(request)))

    async def order_book(request: web.Request, _a: SimAccount | None, _d: dict) -> web.Response:
        settle_ok(request)
        symbol = pair_of(ctx, PERP, request.query.get("contract"))
        with_id = request.query.get("with_id", "false").lower() == "true"
        return web.json_response(book_json(ctx, PERP, symbol, limit_of(request, 10, 300), with_id, True,
                                           size_decimal(request)))

    async def tickers(request: web.Request, _a: SimAccount | None, _d: dict) -> web.Response:
        settle_ok(request)
        wanted = request.query.get("contract")
        sd = size_decimal(request)
        if wanted:
            info = eng.symbol_info(PERP, pair_of(ctx, PERP, wanted))
            return web.json_response([futures_ticker_json(eng, info, sd)])
        return web.json_response([futures_ticker_json(eng, info, sd) for info in eng.symbols(PERP)])

    async def funding_rate(request: web.Request, _a: SimAccount | None, _d: dict) -> web.Response:
        settle_ok(request)
        symbol = pair_of(ctx, PERP, request.query.get("contract"))
        history = [{"t": t // 1000, "r": fmt(r)} for t, r in reversed(eng.funding_history(PERP, symbol))]
        return web.json_response(history[: limit_of(request, 100, 1000)])

    async def create(request: web.Request, acc: SimAccount, data: dict) -> web.StreamResponse:
        settle_ok(request)
        if not isinstance(data, dict):
            raise SimError("INVALID_PARAM_VALUE", "body must be a JSON object")
        symbol = pair_of(ctx, PERP, data.get("contract"))
        size = dec(data.get("size", 0), "size")
        if not size_decimal(request):
            size = size.to_integral_value(rounding=ROUND_DOWN)
        price = dec(data.get("price", "0"), "price")
        try:
            tif = TimeInForce(str(data.get("tif", "gtc")).lower())
        except ValueError as exc:
            raise SimError("INVALID_PARAM_VALUE", "invalid tif") from exc
        close = bool(data.get("close", False))
        reduce_only = bool(data.get("reduce_only", False))
        if size == 0 and not close:
            raise SimError("INVALID_PARAM_VALUE", "size must be non-zero (or 0 with close=true)")
        otype = OrderType.MARKET if price == 0 else OrderType.LIMIT
        if otype is OrderType.MARKET and tif not in (TimeInForce.IOC, TimeInForce.FOK):
            raise SimError("INVALID_PARAM_VALUE", "market order (price 0) requires tif ioc or fok")
        side = Side.BUY if size > 0 else Side.SELL
        order = eng.place_order(acc.api_key, PERP, symbol, side, abs(size), None if price == 0 else price, otype, tif,
                                str(data.get("text") or ""), reduce_only=reduce_only, is_close=close,
                                recv_ms=request[RECV_MS], recv_perf_ns=request[RECV_PERF_NS])
        return await order_reply(ctx, request, PERP, futures_order(order, size_decimal(request)))

    def _ref(request: web.Request) -> dict:
        ref = request.match_info["order_id"]
        return {"client_order_id": None, "order_id": ref} if ref.isdigit() else {"client_order_id": ref}

    async def get_one(request: web.Request, acc: SimAccount, _d: dict) -> web.Response:
        settle_ok(request)
        ref = _ref(request)
        order = eng.get_order(acc.api_key, PERP, None, **ref)
        if lookup_expired(order, clock.now_ms(), by_text=ref["client_order_id"] is not None):
            raise SimError("ORDER_NOT_FOUND", "order not found", 404)
        return web.json_response(futures_order(order, size_decimal(request)))

    async def cancel_one(request: web.Request, acc: SimAccount, _d: dict) -> web.Response:
        settle_ok(request)
        ref = _ref(request)
        known = eng.get_order(acc.api_key, PERP, None, **ref)
        if not known.is_open:  # docs/venues.md 1.12
            if lookup_expired(known, clock.now_ms(), by_text=ref["client_order_id"] is not None):
                raise SimError("ORDER_NOT_FOUND", "order not found", 404)
            raise SimError("ORDER_FINISHED", f"order {known.id} is already finished")
        order = eng.cancel_order(acc.api_key, PERP, None, **ref)
        return web.json_response(futures_order(order, size_decimal(request)))

    async def list_orders(request: web.Request, acc: SimAccount, _d: dict) -> web.Response:
        settle_ok(request)
        symbol = pair_of(ctx, PERP, request.query.get("contract"), required=False)
        status = request.query.get("status", "open")
        if status not in ("open", "finished"):
            raise SimError("INVALID_PARAM_VALUE", "status must be open or finished")
        orders = eng.orders(acc.api_key, PERP, symbol, open_only=(status == "open"))
        if status == "finished":
            now = clock.now_ms()
            orders = [o for o in orders if not lookup_expired(o, now, by_text=False)]
        offset = int(request.query.get("offset", "0") or 0)
        orders = orders[offset: offset + limit_of(request, 100, 1000)]
        return web.json_response([futures_order(o, size_decimal(request)) for o in orders])

    async def cancel_all(request: web.Request, acc: SimAccount, _d: dict) -> web.Response:
        """Open orders of the contract, or of every contract without ``contract``
        (docs/venues.md 1.9); ``side`` bid|ask, ``exclude_reduce_only``."""
        settle_ok(request)
        symbol = pair_of(ctx, PERP, request.query.get("contract"), required=False)
        side = {"bid": Side.BUY, "ask": Side.SELL}.get(request.query.get("side", ""))
        if request.query.get("exclude_reduce_only", "false").lower() == "true":
            orders = [eng.cancel_order(acc.api_key, PERP, o.symbol, order_id=o.id)
                      for o in eng.open_orders(acc.api_key, PERP, symbol)
                      if not o.reduce_only and (side is None or o.side is side)]
        else:
            orders = eng.cancel_all(acc.api_key, PERP, symbol, side)
        return web.json_response([futures_order(o, size_decimal(request)) for o in orders])

    async def my_trades(request: web.Request, acc: SimAccount, _d: dict) -> web.Response:
        settle_ok(request)
        symbol = pair_of(ctx, PERP, request.query.get("contract"), required=False)
        order_id = request.query.get("order") or request.query.get("order_id")
        fills = eng.fills(acc.api_key, PERP, symbol, order_id=order_id or None)
        fills = sorted(fills, key=lambda f: f.trade_id, reverse=True)[: limit_of(request, 100, 1000)]
        return web.json_response([futures_trade(f, size_decimal(request)) for f in fills])

    async def positions(request: web.Request, acc: SimAccount, _d: dict) -> web.Response:
        settle_ok(request)
        found = eng.positions(acc.api_key, PERP)
        if request.query.get("holding", "false").lower() == "true":
            found = [p for p in found if p.size != 0]
        return web.json_response([futures_position(p, size_decimal(request)) for p in found])

    async def position(request: web.Request, acc: SimAccount, _d: dict) -> web.Response:
        settle_ok(request)
        symbol = pair_of(ctx, PERP, request.match_info["contract"])
        [pos] = eng.positions(acc.api_key, PERP, symbol)
        return web.json_response(futures_position(pos, size_decimal(request)))

    async def leverage(request: web.Request, acc: SimAccount, _d: dict) -> web.Response:
        settle_ok(request)
        symbol = pair_of(ctx, PERP, request.match_info["contract"])
        pos = eng.set_leverage(acc.api_key, PERP, symbol, dec(request.query.get("leverage"), "leverage"))
        return web.json_response(futures_position(pos, size_decimal(request)))

    async def accounts(request: web.Request, acc: SimAccount, _d: dict) -> web.Response:
        settle_ok(request)
        usdt = eng.balances(acc.api_key, PERP).get("USDT")
        total = usdt.total if usdt else Decimal(0)
        pos_list = eng.positions(acc.api_key, PERP)
        pos_margin = sum((p.margin for p in pos_list), Decimal(0))
        upnl = sum((p.unrealised_pnl for p in pos_list), Decimal(0))
        order_margin = (usdt.locked if usdt else Decimal(0)) - pos_margin
        fund = sum((p.pnl_fund for p in pos_list), Decimal(0))
        fee = sum((p.pnl_fee for p in pos_list), Decimal(0))
        pnl = sum((p.realised_pnl for p in pos_list), Decimal(0)) - fund - fee
        return web.json_response({
            "user": acc.user_id, "currency": "USDT", "total": fmt(total), "unrealised_pnl": fmt(upnl),
            "position_margin": fmt(pos_margin), "order_margin": fmt(order_margin),
            "available": fmt(usdt.free if usdt else Decimal(0)), "point": "0", "bonus": "0",
            "in_dual_mode": False, "position_mode": "single", "enable_credit": False, "margin_mode": 0,
            "enable_evolved_classic": True, "cross_available": fmt(usdt.free if usdt else Decimal(0)),
            "maintenance_margin": fmt(pos_margin / 2),
            "history": {"dnw": fmt(total - pnl - fund - fee), "pnl": fmt(pnl), "fee": fmt(fee), "refr": "0",
                        "fund": fmt(fund), "point_dnw": "0", "point_fee": "0", "point_refr": "0",
                        "bonus_dnw": "0", "bonus_offset": "0"},
        })

    def _history(acc: SimAccount, symbol: Symbol | None) -> tuple[list[BookEntry], list[dict]]:
        fills = eng.fills(acc.api_key, PERP, symbol)
        payments = eng.funding_payments(acc.api_key, PERP, symbol)
        multipliers = {i.symbol: i.contract_multiplier for i in eng.symbols(PERP)}
        return replay(fills, payments, multipliers)

    def _window(request: web.Request, items: list[dict]) -> list[dict]:
        """``from``/``to`` (unix s) on ``time``, then ``offset`` and ``limit``."""
        start = float(request.query.get("from", "0") or 0)
        end = float(request.query.get("to", "0") or 0) or float("inf")
        items = [x for x in items if start <= x["time"] <= end]
        offset = int(request.query.get("offset", "0") or 0)
        return items[offset: offset + limit_of(request, 100, 1000)]

    async def account_book(request: web.Request, acc: SimAccount, _d: dict) -> web.Response:
        settle_ok(request)
        kind = request.query.get("type") or None
        symbol = pair_of(ctx, PERP, request.query.get("contract"), required=False)
        entries, _ = _history(acc, symbol)
        usdt = eng.balances(acc.api_key, PERP).get("USDT")
        book = account_book_json(entries, usdt.total if usdt else Decimal(0))
        return web.json_response(_window(request, [e for e in book if kind is None or e["type"] == kind]))

    async def position_close(request: web.Request, acc: SimAccount, _d: dict) -> web.Response:
        settle_ok(request)
        symbol = pair_of(ctx, PERP, request.query.get("contract"), required=False)
        closes = list(reversed(_history(acc, symbol)[1]))
        side = request.query.get("side")
        if side:
            closes = [c for c in closes if c["side"] == side]
        return web.json_response(_window(request, closes))

    async def fee(request: web.Request, acc: SimAccount, _d: dict) -> web.Response:
        settle_ok(request)
        wanted = request.query.get("contract")
        return web.json_response({i.venue_symbol: {"taker_fee": fmt(i.taker_fee_rate), "maker_fee": fmt(i.maker_fee_rate)}
                                  for i in eng.symbols(PERP) if not wanted or i.venue_symbol == wanted.upper()})

    r = app.router
    r.add_get(f"{root}/contracts", wrap(ctx, contracts, False))
    r.add_get(f"{root}/contracts/{{contract}}", wrap(ctx, contract, False))
    r.add_get(f"{root}/order_book", wrap(ctx, order_book, False))
    r.add_get(f"{root}/tickers", wrap(ctx, tickers, False))
    r.add_get(f"{root}/funding_rate", wrap(ctx, funding_rate, False))
    r.add_post(f"{root}/orders", wrap(ctx, create, True, is_order=True))
    r.add_get(f"{root}/orders", wrap(ctx, list_orders, True))
    r.add_delete(f"{root}/orders", wrap(ctx, cancel_all, True))
    r.add_get(f"{root}/orders/{{order_id}}", wrap(ctx, get_one, True))
    r.add_delete(f"{root}/orders/{{order_id}}", wrap(ctx, cancel_one, True))
    r.add_get(f"{root}/my_trades", wrap(ctx, my_trades, True))
    r.add_get(f"{root}/positions", wrap(ctx, positions, True))
    r.add_get(f"{root}/positions/{{contract}}", wrap(ctx, position, True))
    r.add_post(f"{root}/positions/{{contract}}/leverage", wrap(ctx, leverage, True))
    r.add_get(f"{root}/accounts", wrap(ctx, accounts, True))
    r.add_get(f"{root}/account_book", wrap(ctx, account_book, True))
    r.add_get(f"{root}/position_close", wrap(ctx, position_close, True))
    r.add_get(f"{root}/fee", wrap(ctx, fee, True))
