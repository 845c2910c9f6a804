"""MEXC spot v3 REST JSON: wire schemas (venue field names) and conversion to models.

Schemas mirror docs/venues.md section 3 field for field. Numerics are
decoded leniently (``str | int | float``; section 6: recorders and versions
disagree on JSON types) and turned into :class:`~decimal.Decimal` via their
string form, never via binary float arithmetic. Order ids stay strings
(section 3.5: ``orderId`` is a string such as ``"C02__385413065019117569043"``).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import msgspec

from exchanges.mexc.constants import ORDER_STATUS, TIF_BY_ORDER_TYPE
from exchanges.models import (
    ZERO,
    Balance,
    Fill,
    MarketType,
    Order,
    OrderStatus,
    OrderType,
    Side,
    Symbol,
    SymbolInfo,
    TimeInForce,
    VenueId,
)

Num = str | int | float | None
# Plausible magnitude of any venue number (prices ~1e-12..1e9, versions ~1e11, ms ~1e12).
_MIN_EXP, _MAX_EXP = -40, 40
_MAX_INT_DIGITS = 30
VENUE = VenueId.MEXC_SPOT


def to_decimal(value: Num | Decimal, default: Decimal = ZERO) -> Decimal:
    """Decimal from a venue numeric (string, int, float or None); ``default`` if empty/invalid."""
    if value is None or value == "":
        return default
    if isinstance(value, Decimal):
        return value
    try:
        result = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return default
    if not result.is_finite() or not _MIN_EXP <= result.adjusted() <= _MAX_EXP:
        return default if result else result  # exact zero ("0E-8") is fine
    return result


def to_int(value: Num, default: int = 0) -> int:
    """int from a venue numeric (``"1707671871000"``, 1707671871000, None); ``default`` if
    empty, invalid or absurdly large (a hostile ``"1e999999999"`` must not allocate a huge int)."""
    if value is None or value == "":
        return default
    if isinstance(value, int):
        return value if abs(value) < 10**_MAX_INT_DIGITS else default
    try:
        result = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return default
    if not result.is_finite() or result.adjusted() >= _MAX_INT_DIGITS:
        return default
    return int(result)


def fmt_decimal(value: Decimal) -> str:
    """Plain decimal text for a request parameter: no exponent, no trailing zeros (``1E+2`` -> ``100``)."""
    text = format(value.normalize(), "f")
    return text


# ---- wire schemas ---------------------------------------------------------------------------


class ApiError(msgspec.Struct):
    """Error body ``{"code": int, "msg": str}`` (section 3.5)."""

    code: Num = None  # venue error code, e.g. 700002
    msg: str | None = None  # human text


class ServerTime(msgspec.Struct):
    serverTime: Num = None  # ms


class SymbolRules(msgspec.Struct):
    """One entry of ``exchangeInfo.symbols`` (section 3.3)."""

    symbol: str  # "NEIROETHUSDT"
    status: Num = None  # "1" online ("ENABLED" in the doc example), "2" pause, "3" offline
    baseAsset: str = ""
    quoteAsset: str = ""
    baseAssetPrecision: Num = None  # amount decimals -> size step
    quotePrecision: Num = None  # deprecated price decimals
    quoteAssetPrecision: Num = None  # price decimals -> price tick
    baseSizePrecision: Num = None  # MINIMUM order quantity despite the name (pitfall 6)
    quoteAmountPrecision: Num = None  # MINIMUM order notional in quote (pitfall 6)
    makerCommission: Num = None  # fraction
    takerCommission: Num = None  # fraction
    isSpotTradingAllowed: bool | None = None
    tradeSideType: Num = None  # "1" all, "2" buy-only, "3" sell-only, "4" close
    orderTypes: list[str] | None = None


class ExchangeInfo(msgspec.Struct):
    symbols: list[SymbolRules] = []


class DepthSnapshot(msgspec.Struct):
    """``GET /api/v3/depth`` (section 3.4); levels ``[price, qty]``."""

    lastUpdateId: Num = None  # version the snapshot is at
    bids: list[list[Num]] = []
    asks: list[list[Num]] = []
    timestamp: Num = None


class NewOrderAck(msgspec.Struct):
    """``POST /api/v3/order`` answer (section 3.5)."""

    symbol: str = ""
    orderId: Num = None  # string id, never parse as int
    price: Num = None
    origQty: Num = None
    type: str = ""
    side: str = ""
    transactTime: Num = None  # ms


class OrderInfo(msgspec.Struct):
    """Order object of query/cancel/openOrders (section 3.5)."""

    symbol: str = ""
    orderId: Num = None
    clientOrderId: str | None = None
    price: Num = None
    origQty: Num = None
    executedQty: Num = None
    cummulativeQuoteQty: Num = None  # (sic) quote filled
    status: str = ""  # NEW, PARTIALLY_FILLED, FILLED, CANCELED, PARTIALLY_CANCELED
    type: str = ""  # LIMIT, IMMEDIATE_OR_CANCEL, ...
    side: str = ""  # BUY / SELL
    time: Num = None  # ms
    updateTime: Num = None  # ms


class MyTrade(msgspec.Struct):
    """``GET /api/v3/myTrades`` entry (section 3.5)."""

    id: Num = None  # trade id
    orderId: Num = None
    symbol: str = ""
    price: Num = None  # execution price
    qty: Num = None  # base
    quoteQty: Num = None
    commission: Num = None
    commissionAsset: str | None = None
    time: Num = None  # ms
    isBuyer: bool | None = None
    isMaker: bool | None = None
    clientOrderId: str | None = None


class AccountBalance(msgspec.Struct):
    asset: str
    free: Num = None
    locked: Num = None


class Account(msgspec.Struct):
    balances: list[AccountBalance] = []


class ListenKey(msgspec.Struct):
    listenKey: str = ""


class TradeFeeRates(msgspec.Struct):
    """The account's own rates as ratios (JSON numbers in the venue's example, decoded
    straight to Decimal, never through float)."""

    makerCommission: Decimal | None = None
    takerCommission: Decimal | None = None


class TradeFee(msgspec.Struct):
    """``GET /api/v3/tradeFee`` answer: ``{"data": {...}, "code": 0, "msg": "success"}``."""

    data: TradeFeeRates = msgspec.field(default_factory=TradeFeeRates)


# ---- conversions ----------------------------------------------------------------------------


def _step_from_decimals(decimals: Num) -> Decimal | None:
    if decimals is None or decimals == "":
        return None
    n = to_int(decimals, -1)
    if n < 0 or n > 30:
        return None
    return Decimal(1).scaleb(-n)


def symbol_info_from(rules: SymbolRules, symbol: Symbol) -> SymbolInfo:
    """SymbolInfo from an exchangeInfo entry (section 3.3, pitfall 6).

    tick = 10^-quoteAssetPrecision (else quotePrecision), step = 10^-baseAssetPrecision;
    ``baseSizePrecision``/``quoteAmountPrecision`` are the MINIMUM quantity/notional.
    ``tradable`` needs status "1" (or "ENABLED" as in the doc example), spot
    trading allowed (when stated) and tradeSideType "1"/absent (both sides).
    Fees default to 0.2 % when the venue does not state them.
    """
    tick = _step_from_decimals(rules.quoteAssetPrecision)
    if tick is None:
        tick = _step_from_decimals(rules.quotePrecision) or Decimal("0.00000001")
    step = _step_from_decimals(rules.baseAssetPrecision) or Decimal("0.00000001")
    status = str(rules.status if rules.status is not None else "").upper()
    side_type = str(rules.tradeSideType) if rules.tradeSideType is not None else "1"
    tradable = status in ("1", "ENABLED") and rules.isSpotTradingAllowed is not False and side_type == "1"
    default_fee = Decimal("0.002")
    return SymbolInfo(
        venue=VENUE,
        symbol=symbol,
        venue_symbol=rules.symbol,
        market_type=MarketType.SPOT,
        price_tick=tick,
        size_step=step,
        min_size=to_decimal(rules.baseSizePrecision),
        min_notional=to_decimal(rules.quoteAmountPrecision),
        maker_fee_rate=to_decimal(rules.makerCommission, default_fee),
        taker_fee_rate=to_decimal(rules.takerCommission, default_fee),
        tradable=tradable,
    )


def with_account_fees(info: SymbolInfo, fee: TradeFeeRates) -> SymbolInfo:
    """``info`` with the account's own maker/taker rates (``GET /api/v3/tradeFee``);
    a rate the answer lacks keeps the exchangeInfo value."""
    maker = fee.makerCommission if fee.makerCommission is not None else info.maker_fee_rate
    taker = fee.takerCommission if fee.takerCommission is not None else info.taker_fee_rate
    return msgspec.structs.replace(info, maker_fee_rate=maker, taker_fee_rate=taker)


def levels_from(rows: list[list[Num]]) -> list[tuple[Decimal, Decimal]]:
    """``[["price","qty"], ...]`` -> ``[(Decimal, Decimal), ...]``; malformed rows skipped."""
    out: list[tuple[Decimal, Decimal]] = []
    for row in rows:
        if len(row) >= 2:
            price = to_decimal(row[0], Decimal(-1))
            qty = to_decimal(row[1], Decimal(-1))
            if price > 0 and qty >= 0:
                out.append((price, qty))
    return out


def _side(text: str) -> Side:
    return Side.SELL if text.upper() == "SELL" else Side.BUY


def order_from_info(info: OrderInfo, symbol: Symbol, client_order_id: str = "") -> Order:
    """Order from a query/cancel/openOrders object; ``avg_price`` = quote filled / base filled."""
    filled = to_decimal(info.executedQty)
    quote_filled = to_decimal(info.cummulativeQuoteQty)
    type_text = info.type.upper()
    status = ORDER_STATUS.get(info.status.upper(), OrderStatus.OPEN)
    price = to_decimal(info.price)
    return Order(
        venue=VENUE,
        client_order_id=info.clientOrderId or client_order_id,
        symbol=symbol,
        side=_side(info.side),
        qty=to_decimal(info.origQty),
        price=price if price > 0 else None,
        status=status,
        venue_order_id=str(info.orderId) if info.orderId is not None else "",
        filled_qty=filled,
        avg_price=(quote_filled / filled) if filled > 0 and quote_filled > 0 else None,
        order_type=OrderType.MARKET if type_text == "MARKET" else OrderType.LIMIT,
        tif=TIF_BY_ORDER_TYPE.get(type_text, TimeInForce.GTC),
        created_ms=to_int(info.time),
        updated_ms=to_int(info.updateTime) or to_int(info.time),
    )


def order_from_ack(ack: NewOrderAck, request_symbol: Symbol, client_order_id: str, tif: TimeInForce,
                   order_type: OrderType) -> Order:
    """Order (status OPEN, nothing filled yet as far as the ack says) from a POST /order answer."""
    price = to_decimal(ack.price)
    ts_ms = to_int(ack.transactTime)
    return Order(
        venue=VENUE,
        client_order_id=client_order_id,
        symbol=request_symbol,
        side=_side(ack.side),
        qty=to_decimal(ack.origQty),
        price=price if price > 0 else None,
        status=OrderStatus.OPEN,
        venue_order_id=str(ack.orderId) if ack.orderId is not None else "",
        order_type=order_type,
        tif=tif,
        created_ms=ts_ms,
        updated_ms=ts_ms,
    )


def fill_from_trade(trade: MyTrade, symbol: Symbol, client_order_id: str) -> Fill:
    """Fill from a myTrades entry: real execution price, commission and its asset."""
    qty = to_decimal(trade.qty)
    return Fill(
        venue=VENUE,
        symbol=symbol,
        client_order_id=trade.clientOrderId or client_order_id,
        trade_id=str(trade.id) if trade.id is not None else "",
        side=Side.BUY if trade.isBuyer else Side.SELL,
        price=to_decimal(trade.price),
        qty=qty,
        qty_base=qty,
        fee=to_decimal(trade.commission),
        fee_asset=trade.commissionAsset or "",
        ts_ms=to_int(trade.time),
        venue_order_id=str(trade.orderId) if trade.orderId is not None else "",
        is_maker=bool(trade.isMaker),
    )


def balances_from(account: Account) -> dict[str, Balance]:
    return {
        b.asset: Balance(asset=b.asset, free=to_decimal(b.free), locked=to_decimal(b.locked))
        for b in account.balances
    }


# Decoders built once (STYLE.md).
DEC_ERROR = msgspec.json.Decoder(ApiError)
DEC_TRADE_FEE = msgspec.json.Decoder(TradeFee)
DEC_TIME = msgspec.json.Decoder(ServerTime)
DEC_EXCHANGE_INFO = msgspec.json.Decoder(ExchangeInfo)
DEC_DEPTH = msgspec.json.Decoder(DepthSnapshot)
DEC_NEW_ORDER = msgspec.json.Decoder(NewOrderAck)
DEC_ORDER = msgspec.json.Decoder(OrderInfo)
DEC_ORDERS = msgspec.json.Decoder(list[OrderInfo])
DEC_TRADES = msgspec.json.Decoder(list[MyTrade])
DEC_ACCOUNT = msgspec.json.Decoder(Account)
DEC_LISTEN_KEY = msgspec.json.Decoder(ListenKey)
