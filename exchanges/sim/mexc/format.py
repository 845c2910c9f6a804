"""Wire formatting of the simulated MEXC spot v3 API (docs/venues.md
section 3): decimal text, order/trade/exchangeInfo JSON objects, order-type and
status names, and the engine-error -> MEXC error-code table. Pure functions.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiohttp import web

from exchanges.models import OrderStatus, OrderType, Side, SymbolInfo, TimeInForce
from exchanges.sim.engine.types import SimError, SimFill, SimOrder

ORDER_ID_PREFIX = "C02__"

TYPE_TO_TIF = {
    "LIMIT": (OrderType.LIMIT, TimeInForce.GTC),
    "LIMIT_MAKER": (OrderType.LIMIT, TimeInForce.POST_ONLY),
    "IMMEDIATE_OR_CANCEL": (OrderType.LIMIT, TimeInForce.IOC),
    "FILL_OR_KILL": (OrderType.LIMIT, TimeInForce.FOK),
    "MARKET": (OrderType.MARKET, TimeInForce.IOC),
}
TIF_TO_TYPE = {TimeInForce.GTC: "LIMIT", TimeInForce.POST_ONLY: "LIMIT_MAKER",
               TimeInForce.IOC: "IMMEDIATE_OR_CANCEL", TimeInForce.FOK: "FILL_OR_KILL"}


class MexcError(Exception):
    """A MEXC error answer ``{"code": code, "msg": msg}`` with HTTP ``status``."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.code, self.msg, self.status = code, msg, status

    def response(self) -> web.Response:
        return web.json_response({"code": self.code, "msg": self.msg}, status=self.status)


def fmt(value: Decimal | None) -> str:
    """Plain decimal text without exponent or trailing zeros ("0.05", "100")."""
    if value is None:
        return ""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def decimals_of(step: Decimal) -> int:
    """Number of decimals of a step (0.01 -> 2, 1 -> 0)."""
    exp = step.normalize().as_tuple().exponent
    return max(0, -int(exp))


def sim_error_to_mexc(exc: SimError) -> MexcError:
    """Translate an engine refusal to the MEXC code table (see module doc)."""
    label, msg = exc.label, exc.message
    if label == "INVALID_PARAM_VALUE" and "below minimum" in msg:
        return MexcError(30002, f"The minimum transaction volume cannot be less than: {msg}")
    table = {
        "BALANCE_NOT_ENOUGH": (30004, "Insufficient position"),
        "INSUFFICIENT_AVAILABLE": (30004, "Insufficient position"),
        "ORDER_NOT_FOUND": (-2011, "Unknown order sent."),
        "ORDER_POC_IMMEDIATE": (-2010, "Order would immediately match and take."),
        "DUPLICATE_TEXT": (-2010, "Duplicate order sent."),
        "INVALID_KEY": (10072, "Api key info invalid"),
        "INVALID_CURRENCY_PAIR": (-1121, "Invalid symbol."),
    }
    code, text = table.get(label, (33333, f"Parameter error: {msg}"))
    return MexcError(code, text)


def order_id_text(order: SimOrder) -> str:
    return f"{ORDER_ID_PREFIX}{order.id}"


def parse_order_id(text: str) -> int:
    raw = text[len(ORDER_ID_PREFIX):] if text.startswith(ORDER_ID_PREFIX) else text
    try:
        return int(raw)
    except ValueError as exc:
        raise MexcError(-2013, "Order does not exist.") from exc


def client_id_out(order: SimOrder) -> str | None:
    return order.client_order_id or None


def order_status_text(order: SimOrder) -> str:
    if order.status is OrderStatus.CANCELED or order.status is OrderStatus.REJECTED:
        return "PARTIALLY_CANCELED" if order.filled_qty > 0 else "CANCELED"
    return {OrderStatus.OPEN: "NEW", OrderStatus.PARTIALLY_FILLED: "PARTIALLY_FILLED",
            OrderStatus.FILLED: "FILLED"}[order.status]


def order_type_text(order: SimOrder) -> str:
    return "MARKET" if order.order_type is OrderType.MARKET else TIF_TO_TYPE.get(order.tif, "LIMIT")


def order_json(order: SimOrder) -> dict[str, Any]:
    """The order object of query/cancel/openOrders (section 3.5)."""
    return {
        "symbol": order.symbol.mexc,
        "orderId": order_id_text(order),
        "orderListId": -1,
        "clientOrderId": client_id_out(order),
        "price": fmt(order.price) if order.price is not None else "0",
        "origQty": fmt(order.qty),
        "executedQty": fmt(order.filled_qty),
        "cummulativeQuoteQty": fmt(order.filled_quote),
        "status": order_status_text(order),
        "timeInForce": None,
        "type": order_type_text(order),
        "side": "BUY" if order.side is Side.BUY else "SELL",
        "stopPrice": None,
        "icebergQty": None,
        "time": order.created_ms,
        "updateTime": order.updated_ms,
        "isWorking": order.is_open,
        "origQuoteOrderQty": fmt(order.quote_qty) if order.quote_qty is not None else "0",
    }


def trade_json(fill: SimFill) -> dict[str, Any]:
    """A myTrades entry (section 3.5)."""
    return {
        "symbol": fill.symbol.mexc,
        "id": str(fill.trade_id),
        "orderId": f"{ORDER_ID_PREFIX}{fill.order_id}",
        "orderListId": -1,
        "price": fmt(fill.price),
        "qty": fmt(fill.qty),
        "quoteQty": fmt(fill.price * fill.qty_base),
        "commission": fmt(fill.fee),
        "commissionAsset": fill.fee_asset,
        "time": fill.ts_ms,
        "isBuyer": fill.side is Side.BUY,
        "isMaker": fill.is_maker,
        "isBestMatch": True,
        "isSelfTrade": False,
        "clientOrderId": fill.client_order_id,
    }


def symbol_json(info: SymbolInfo) -> dict[str, Any]:
    """exchangeInfo entry (section 3.3): precisions are decimal counts;
    baseSizePrecision / quoteAmountPrecision are the MINIMUM qty / notional."""
    sym = info.symbol
    price_dp, size_dp = decimals_of(info.price_tick), decimals_of(info.size_step)
    return {
        "symbol": sym.mexc, "status": "1" if info.tradable else "2", "baseAsset": sym.base, "baseAssetPrecision": size_dp,
        "quoteAsset": sym.quote, "quotePrecision": price_dp, "quoteAssetPrecision": price_dp,
        "baseCommissionPrecision": size_dp, "quoteCommissionPrecision": price_dp,
        "orderTypes": ["LIMIT", "MARKET", "LIMIT_MAKER"], "isSpotTradingAllowed": info.tradable,
        "isMarginTradingAllowed": False, "quoteAmountPrecision": fmt(info.min_notional),
        "baseSizePrecision": fmt(info.min_size), "permissions": ["SPOT"], "filters": [],
        "maxQuoteAmount": "2000000", "makerCommission": fmt(info.maker_fee_rate),
        "takerCommission": fmt(info.taker_fee_rate), "quoteAmountPrecisionMarket": fmt(info.min_notional),
        "maxQuoteAmountMarket": "100000", "fullName": sym.base, "tradeSideType": 1,
    }
