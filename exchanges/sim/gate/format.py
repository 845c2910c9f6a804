"""Gate v4 JSON shapes of engine objects (REST and WS), per
docs/venues.md sections 1.5 (spot Order), 1.9 (FuturesOrder),
1.10 (Position, FuturesAccount), 2.6 (private WS payloads).

Futures size fields are signed contracts: JSON ints by default, decimal
strings when the client sent ``X-Gate-Size-Decimal: 1`` (section 1.7).
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from exchanges.models import OrderStatus, OrderType, Side
from exchanges.sim.engine.types import SimFill, SimOrder, SimPosition
from exchanges.sim.gate.common import fmt


def size_out(value: Decimal, size_decimal: bool) -> int | str:
    """A futures size as Gate sends it: decimal string with the header, else int (truncated)."""
    if size_decimal:
        return fmt(value)
    return int(value.to_integral_value(rounding=ROUND_DOWN))


def _s(ms: int) -> str:
    return str(ms // 1000)


def _fs(ms: int) -> float:
    return round(ms / 1000.0, 3)


def spot_status(order: SimOrder) -> str:
    if order.is_open:
        return "open"
    return "closed" if order.status is OrderStatus.FILLED else "cancelled"


def spot_order(order: SimOrder, user_id: int | None = None, account: str = "spot") -> dict:
    """Spot ``Order`` object (REST response and spot.orders item); ``account``
    is ``spot`` for classic accounts, ``unified`` for unified ones."""
    by_quote = order.order_type is OrderType.MARKET and order.quote_qty is not None
    amount = order.quote_qty if by_quote else order.qty
    left = (order.quote_qty - order.filled_quote) if by_quote and order.is_open else order.left_qty
    if by_quote and not order.is_open:
        left = order.quote_qty - order.filled_quote
    out = {
        "id": str(order.id),
        "text": order.client_order_id or "apiv4",
        "amend_text": "-",
        "create_time": _s(order.created_ms),
        "update_time": _s(order.updated_ms),
        "create_time_ms": order.created_ms,
        "update_time_ms": order.updated_ms,
        "status": spot_status(order),
        "currency_pair": order.symbol.gate,
        "type": order.order_type.value,
        "account": account,
        "side": order.side.value,
        "amount": fmt(amount),
        "price": fmt(order.price),
        "time_in_force": order.tif.value,
        "iceberg": "0",
        "left": fmt(left),
        "filled_amount": fmt(order.filled_qty),
        "fill_price": fmt(order.filled_quote),
        "filled_total": fmt(order.filled_quote),
        "avg_deal_price": fmt(order.avg_price),
        "fee": fmt(order.fee),
        "fee_currency": order.fee_asset,
        "point_fee": "0",
        "gt_fee": "0",
        "gt_maker_fee": "0",
        "gt_taker_fee": "0",
        "gt_discount": False,
        "rebated_fee": "0",
        "rebated_fee_currency": order.symbol.quote,
        "stp_id": 0,
        "stp_act": "-",
        "finish_as": order.finish_as if order.finish_as != "rejected" else "cancelled",
    }
    if user_id is not None:
        out["user"] = user_id
    return out


def spot_trade(fill: SimFill, text: str = "") -> dict:
    """Spot ``Trade`` of ``GET /spot/my_trades``."""
    return {
        "id": str(fill.trade_id),
        "create_time": _s(fill.ts_ms),
        "create_time_ms": f"{fill.ts_ms}.000",
        "currency_pair": fill.symbol.gate,
        "side": fill.side.value,
        "role": "maker" if fill.is_maker else "taker",
        "amount": fmt(fill.qty),
        "price": fmt(fill.price),
        "order_id": str(fill.order_id),
        "fee": fmt(fill.fee),
        "fee_currency": fill.fee_asset,
        "point_fee": "0",
        "gt_fee": "0",
        "amend_text": "-",
        "sequence_id": str(fill.trade_id),
        "text": text or fill.client_order_id or "apiv4",
    }


def spot_order_ws(order: SimOrder, event: str, account: str = "spot") -> dict:
    """spot.orders item: the ``Order`` object with ``user``, ``event`` and the
    four times as strings (section 2.6 example: ``"create_time_ms":"1605175506123"``)."""
    out = spot_order(order, order.user_id, account)
    out["create_time_ms"] = str(order.created_ms)
    out["update_time_ms"] = str(order.updated_ms)
    out["event"] = event
    return out


def spot_usertrade_ws(fill: SimFill) -> dict:
    """spot.usertrades item."""
    return {
        "id": fill.trade_id,
        "user_id": fill.user_id,
        "order_id": str(fill.order_id),
        "currency_pair": fill.symbol.gate,
        "create_time": fill.ts_ms // 1000,
        "create_time_ms": f"{fill.ts_ms}.000",
        "side": fill.side.value,
        "amount": fmt(fill.qty),
        "role": "maker" if fill.is_maker else "taker",
        "price": fmt(fill.price),
        "fee": fmt(fill.fee),
        "fee_currency": fill.fee_asset,
        "point_fee": "0",
        "gt_fee": "0",
        "text": fill.client_order_id or "apiv4",
        "amend_text": "-",
        "biz_info": "-",
    }


def futures_finish_as(order: SimOrder) -> str:
    if order.finish_as in ("fok", "poc"):
        return "ioc" if order.finish_as == "fok" else "cancelled"
    if order.finish_as == "rejected":
        return "cancelled"
    return "_new" if order.is_open else order.finish_as


def futures_order(order: SimOrder, size_decimal: bool, ws: bool = False) -> dict:
    """``FuturesOrder`` (REST; with ``ws`` numbers as the futures.orders doc shows)."""
    sign = 1 if order.side is Side.BUY else -1
    size = order.qty * sign
    left = order.left_qty * sign if order.is_open else (order.qty - order.filled_qty) * sign
    price = order.price if order.price is not None else Decimal(0)
    avg = order.avg_price or Decimal(0)
    out = {
        "id": order.id,
        "user": order.user_id,
        "create_time": _fs(order.created_ms),
        "update_time": _fs(order.updated_ms),
        "status": "open" if order.is_open else "finished",
        "contract": order.symbol.gate,
        "size": size_out(size, size_decimal),
        "left": size_out(left, size_decimal),
        "price": float(price) if ws else fmt(price),
        "fill_price": float(avg) if ws else fmt(avg),
        "tif": order.tif.value,
        "is_reduce_only": order.reduce_only,
        "is_close": order.is_close,
        "is_liq": False,
        "iceberg": 0,
        "text": order.client_order_id or "api",
        "tkfr": "0.0005",
        "mkfr": "0.0002",
        "refu": 0,
        "refr": 0,
        "stp_id": 0,
        "stp_act": "-",
        "amend_text": "-",
        "biz_info": "-",
        "update_id": 1,
    }
    if not order.is_open:
        out["finish_as"] = futures_finish_as(order)
        out["finish_time"] = _fs(order.finished_ms or order.updated_ms)
    if ws:  # futures.orders: numbers, the user id as a string, no update_time (section 2.6 example)
        out["user"] = str(order.user_id)
        out["tkfr"], out["mkfr"] = 0.0005, 0.0002
        out["create_time"] = order.created_ms // 1000
        out["create_time_ms"] = order.created_ms
        del out["update_time"]
        if not order.is_open:
            out["finish_time"] = (order.finished_ms or order.updated_ms) // 1000
            out["finish_time_ms"] = order.finished_ms or order.updated_ms
    return out


def futures_trade(fill: SimFill, size_decimal: bool, ws: bool = False) -> dict:
    """``MyFuturesTrade`` (REST) / futures.usertrades item (ws)."""
    signed = fill.qty if fill.side is Side.BUY else -fill.qty
    out = {
        "id": str(fill.trade_id) if ws else fill.trade_id,
        "create_time": fill.ts_ms // 1000 if ws else _fs(fill.ts_ms),
        "contract": fill.symbol.gate,
        "order_id": str(fill.order_id),
        "size": size_out(signed, size_decimal),
        "close_size": 0,
        "price": fmt(fill.price),
        "role": "maker" if fill.is_maker else "taker",
        "text": fill.client_order_id or "api",
        "fee": float(fill.fee) if ws else fmt(fill.fee),
        "point_fee": 0 if ws else "0",
    }
    if ws:
        out["create_time_ms"] = fill.ts_ms
    return out


def futures_position(pos: SimPosition, size_decimal: bool, ws: bool = False) -> dict:
    """``Position`` (REST strings; ws numbers as the futures.positions doc shows)."""
    def num(v: Decimal) -> float | str:
        return float(v) if ws else fmt(v)

    out = {
        "user": pos.user_id,
        "contract": pos.symbol.gate,
        "size": size_out(pos.size, size_decimal),
        "leverage": num(pos.leverage),
        "risk_limit": num(Decimal(1000000)),
        "leverage_max": num(Decimal(50)),
        "maintenance_rate": num(Decimal("0.01")),
        "value": num(abs(pos.size) * pos.multiplier * (pos.mark_price or pos.entry_price)),
        "margin": num(pos.margin),
        "entry_price": num(pos.entry_price),
        "liq_price": num(Decimal(0)),
        "mark_price": num(pos.mark_price),
        "unrealised_pnl": num(pos.unrealised_pnl),
        "realised_pnl": num(pos.realised_pnl),
        "pnl_pnl": num(pos.realised_pnl - pos.pnl_fee - pos.pnl_fund),
        "pnl_fund": num(pos.pnl_fund),
        "pnl_fee": num(pos.pnl_fee),
        "history_pnl": num(Decimal(0)),
        "last_close_pnl": num(Decimal(0)),
        "realised_point": num(Decimal(0)),
        "history_point": num(Decimal(0)),
        "adl_ranking": 5,
        "pending_orders": 0,
        "mode": "single",
        "cross_leverage_limit": num(Decimal(0)),
        "update_time": pos.updated_ms // 1000,
        "update_id": pos.update_id,
    }
    if ws:
        out["time"] = pos.updated_ms // 1000
        out["time_ms"] = pos.updated_ms
    return out
