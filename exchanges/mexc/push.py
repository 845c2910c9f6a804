"""MEXC binary push frames (protobuf) -> plain values and domain models.

A binary websocket frame is one serialized ``PushDataV3ApiWrapper``
(docs/venues.md section 4.4); text frames are JSON control messages
(section 4.2). Every function here either returns a value or ``None`` for a
frame it cannot use; none raises on malformed input (the caller counts the
``None`` as a malformed message).
"""

from __future__ import annotations

from decimal import Decimal

from google.protobuf.message import DecodeError

from exchanges.mexc.constants import WS_ORDER_STATUS, WS_ORDER_TIF
from exchanges.mexc.parse import to_decimal
from exchanges.mexc.proto import mexc_push_pb2 as pb
from exchanges.models import (
    Balance,
    Fill,
    Order,
    OrderStatus,
    OrderType,
    Side,
    Symbol,
    TimeInForce,
    VenueId,
)

VENUE = VenueId.MEXC_SPOT
Level = tuple[Decimal, Decimal]


_PARSE = pb.PushDataV3ApiWrapper.FromString


def decode_wrapper(frame: bytes) -> pb.PushDataV3ApiWrapper | None:
    """Parse one binary frame; ``None`` if it is not a valid wrapper."""
    try:
        return _PARSE(frame)
    except (DecodeError, ValueError, TypeError, RuntimeError):
        return None


def symbol_of(channel: str, wrapper_symbol: str) -> str:
    """Venue symbol of a push: the wrapper ``symbol`` or, failing that, the channel's last ``@`` part."""
    if wrapper_symbol:
        return wrapper_symbol
    tail = channel.rsplit("@", 1)[-1]
    return tail if tail and not tail.endswith("ms") else ""


_MAX_MAGNITUDE = Decimal("1e40")
_MIN_PRICE = Decimal("1e-40")


def depth_levels(items) -> list[Level]:  # items: repeated PublicAggreDepthV3ApiItem
    """Protobuf depth items -> ``[(price, qty)]``; malformed items skipped, qty 0 kept (= delete).

    Hot path (every depth push): direct ``Decimal`` parsing with range checks instead of
    the generic helpers.
    """
    out: list[Level] = []
    for it in items:
        try:
            price = Decimal(it.price)
            qty = Decimal(it.quantity)
            # infinities fail the upper bound; NaN raises on comparison
            if _MIN_PRICE <= price < _MAX_MAGNITUDE and (qty == 0 or _MIN_PRICE <= qty < _MAX_MAGNITUDE):
                out.append((price, qty))
        except ArithmeticError:  # InvalidOperation: not a number
            continue
    return out


def _version(text: str) -> int:
    """Version string -> int, -1 if not a plain non-negative integer of sane length."""
    if 0 < len(text) <= 30:
        try:
            value = int(text)
        except ValueError:
            return -1
        return value if value >= 0 else -1
    return -1


class DepthDiff:
    """One ``publicAggreDepths`` push: inclusive version range and absolute level quantities."""

    __slots__ = ("venue_symbol", "from_version", "to_version", "bids", "asks", "exch_ts_ms")

    def __init__(self, venue_symbol: str, from_version: int, to_version: int,
                 bids: list[Level], asks: list[Level], exch_ts_ms: int) -> None:
        self.venue_symbol = venue_symbol
        self.from_version = from_version
        self.to_version = to_version
        self.bids = bids
        self.asks = asks
        self.exch_ts_ms = exch_ts_ms


def depth_diff_from(msg: pb.PushDataV3ApiWrapper) -> DepthDiff | None:
    """DepthDiff from a wrapper carrying ``publicAggreDepths`` (section 4.5); None if unusable."""
    body = msg.publicAggreDepths
    from_v = _version(body.fromVersion)
    to_v = _version(body.toVersion)
    if from_v < 0 or to_v < from_v:
        return None
    sym = symbol_of(msg.channel, msg.symbol)
    if not sym:
        return None
    return DepthDiff(sym, from_v, to_v, depth_levels(body.bids), depth_levels(body.asks),
                     msg.sendTime or msg.createTime)


def book_ticker_from(msg: pb.PushDataV3ApiWrapper) -> tuple[str, Decimal, Decimal, Decimal, Decimal] | None:
    """``(venue_symbol, bid, bid_qty, ask, ask_qty)`` from ``publicAggreBookTicker``; None if unusable."""
    body = msg.publicAggreBookTicker
    sym = symbol_of(msg.channel, msg.symbol)
    bid = to_decimal(body.bidPrice)
    ask = to_decimal(body.askPrice)
    if not sym or bid <= 0 or ask <= 0:
        return None
    return sym, bid, to_decimal(body.bidQuantity), ask, to_decimal(body.askQuantity)


def order_from_push(msg: pb.PushDataV3ApiWrapper, symbol: Symbol) -> Order | None:
    """Order from ``privateOrders`` (section 4.4). ``avg_price`` only once something filled."""
    body = msg.privateOrders
    if not body.id and not body.clientId:
        return None
    status = WS_ORDER_STATUS.get(body.status)
    if status is None:
        return None
    filled = to_decimal(body.cumulativeQuantity)
    avg = to_decimal(body.avgPrice)
    price = to_decimal(body.price)
    if filled <= 0 and status in (OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED):
        return None  # inconsistent push: a fill state without a filled quantity
    return Order(
        venue=VENUE,
        client_order_id=body.clientId,
        symbol=symbol,
        side=Side.SELL if body.tradeType == 2 else Side.BUY,
        qty=to_decimal(body.quantity),
        price=price if price > 0 else None,
        status=status,
        venue_order_id=body.id,
        filled_qty=filled,
        avg_price=avg if filled > 0 and avg > 0 else None,
        order_type=OrderType.MARKET if body.orderType == 5 else OrderType.LIMIT,
        tif=WS_ORDER_TIF.get(body.orderType, TimeInForce.GTC),
        created_ms=body.createTime,
        updated_ms=msg.sendTime or msg.createTime or body.createTime,
    )


def fill_from_push(msg: pb.PushDataV3ApiWrapper, symbol: Symbol) -> Fill | None:
    """Fill from ``privateDeals``: execution price, quantity, fee and fee currency."""
    body = msg.privateDeals
    price = to_decimal(body.price)
    qty = to_decimal(body.quantity)
    if not body.tradeId or price <= 0 or qty <= 0:
        return None
    return Fill(
        venue=VENUE,
        symbol=symbol,
        client_order_id=body.clientOrderId,
        trade_id=body.tradeId,
        side=Side.SELL if body.tradeType == 2 else Side.BUY,
        price=price,
        qty=qty,
        qty_base=qty,
        fee=to_decimal(body.feeAmount),
        fee_asset=body.feeCurrency,
        ts_ms=body.time,
        venue_order_id=body.orderId,
        is_maker=body.isMaker,
    )


def balance_from_push(msg: pb.PushDataV3ApiWrapper) -> Balance | None:
    """Balance from ``privateAccount``: free = balanceAmount, locked = frozenAmount."""
    body = msg.privateAccount
    if not body.vcoinName:
        return None
    return Balance(asset=body.vcoinName, free=to_decimal(body.balanceAmount), locked=to_decimal(body.frozenAmount))
