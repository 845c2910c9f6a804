"""Gate.io wire structs (:mod:`exchanges.gateio.schemas`) -> domain models (:mod:`exchanges.models`).

Pure functions, no I/O. Facts: docs/venues.md sections 1.3-1.10 and 2.6.
"""

from __future__ import annotations

from decimal import Decimal

from exchanges.gateio import constants as C
from exchanges.gateio import schemas as S
from exchanges.models import (
    ZERO,
    Balance,
    Fill,
    FundingRate,
    MarketType,
    Order,
    OrderStatus,
    OrderType,
    Position,
    Side,
    Symbol,
    SymbolInfo,
    TimeInForce,
    VenueId,
)

_ONE = Decimal(1)
_TIF = {t.value: t for t in TimeInForce}


def cid_to_text(client_order_id: str) -> str:
    """Our client order id -> Gate ``text`` (``t-`` + id). Raises ValueError when the id breaks
    Gate's rules (section 1.6: at most 28 bytes after ``t-``, charset ``0-9A-Za-z_-.``)."""
    if not client_order_id:
        raise ValueError("empty client order id")
    if len(client_order_id.encode()) > C.TEXT_MAX_BYTES:
        raise ValueError(f"client order id {client_order_id!r} longer than {C.TEXT_MAX_BYTES} bytes (Gate text rule)")
    if not set(client_order_id) <= C.TEXT_CHARSET:
        raise ValueError(f"client order id {client_order_id!r} has characters outside 0-9A-Za-z_-.")
    return C.TEXT_PREFIX + client_order_id


def text_to_cid(text: str) -> str:
    """Gate ``text`` -> our client order id (strip ``t-``; venue-set texts pass through)."""
    return text[2:] if text.startswith(C.TEXT_PREFIX) else text


def symbol_of(venue_symbol: str) -> Symbol:
    """``NEIROETH_USDT`` -> Symbol. Raises ValueError for malformed names."""
    return Symbol.parse(venue_symbol)


def ms_of(ms: Decimal | None, s: Decimal | None = None) -> int:
    """Integer ms from a ms field (may be "1673425237652.513") or, failing that, float seconds."""
    if ms:
        return int(ms)
    if s:
        return int(s * 1000)
    return 0


def dec_str(value: Decimal) -> str:
    """Plain decimal text for the wire (never exponent notation)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


# ---- symbol rules ---------------------------------------------------------------------------


def spot_symbol_info(pair: S.CurrencyPair, fee: S.SpotFee | None) -> SymbolInfo:
    """Section 1.3: tick = 10^-precision, step = 10^-amount_precision; fee from /spot/fee when
    given (fractions), else the pair's deprecated ``fee`` field (percent)."""
    maker = taker = pair.fee / 100
    if fee is not None:
        maker = fee.maker_fee if fee.maker_fee is not None else maker
        taker = fee.taker_fee if fee.taker_fee is not None else taker
    return SymbolInfo(
        venue=VenueId.GATE_SPOT,
        symbol=symbol_of(pair.id),
        venue_symbol=pair.id,
        market_type=MarketType.SPOT,
        price_tick=Decimal(1).scaleb(-pair.precision),
        size_step=Decimal(1).scaleb(-pair.amount_precision),
        min_size=pair.min_base_amount or ZERO,
        min_notional=pair.min_quote_amount or ZERO,
        maker_fee_rate=maker,
        taker_fee_rate=taker,
        tradable=pair.trade_status == "tradable",
    )


def perp_symbol_info(c: S.Contract) -> SymbolInfo:
    """Section 1.7: multiplier = quanto_multiplier ("0" -> 1), tick = order_price_round, step 1
    contract (``order_size_min`` when ``enable_decimal``), min = order_size_min."""
    multiplier = c.quanto_multiplier if c.quanto_multiplier > 0 else _ONE
    step = c.order_size_min if (c.enable_decimal and c.order_size_min > 0) else _ONE
    return SymbolInfo(
        venue=VenueId.GATE_PERP,
        symbol=symbol_of(c.name),
        venue_symbol=c.name,
        market_type=MarketType.PERP,
        price_tick=c.order_price_round,
        size_step=step,
        min_size=c.order_size_min,
        contract_multiplier=multiplier,
        maker_fee_rate=c.maker_fee_rate if c.maker_fee_rate is not None else Decimal("0.0002"),
        taker_fee_rate=c.taker_fee_rate if c.taker_fee_rate is not None else Decimal("0.0005"),
        tradable=c.status == "trading" and not c.in_delisting,
        funding_interval_s=c.funding_interval,
    )


def funding_rate(c: S.Contract) -> FundingRate:
    return FundingRate(
        venue=VenueId.GATE_PERP,
        symbol=symbol_of(c.name),
        rate=c.funding_rate,
        interval_s=c.funding_interval,
        next_funding_ms=int(c.funding_next_apply * 1000),
        mark_price=c.mark_price,
        index_price=c.index_price,
    )


# ---- orders -----------------------------------------------------------------------------------


def spot_order(o: S.SpotOrder) -> Order:
    """Spot order (REST or WS) -> Order. Status: REST ``open|closed|cancelled``; WS frames
    without ``status`` use ``event`` (``finish`` = final). A final order with nothing left is
    FILLED, otherwise CANCELED (IOC remainder, post-only refusal, user cancel)."""
    filled = o.filled_amount if o.filled_amount is not None else o.amount - o.left
    final = o.status in ("closed", "cancelled") or o.event == "finish" or (
        o.finish_as not in ("", "open") and o.status != "open"
    )
    if final:
        status = OrderStatus.FILLED if o.left == 0 and filled > 0 else OrderStatus.CANCELED
    else:
        status = OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.OPEN
    avg: Decimal | None = None
    if filled > 0:
        avg = o.avg_deal_price if o.avg_deal_price else (o.filled_total / filled)
    fee, fee_asset = o.fee, o.fee_currency
    if not fee and o.gt_fee:
        fee, fee_asset = o.gt_fee, "GT"
    elif not fee and o.point_fee:
        fee, fee_asset = o.point_fee, "POINT"
    return Order(
        venue=VenueId.GATE_SPOT,
        client_order_id=text_to_cid(o.text),
        symbol=symbol_of(o.currency_pair),
        side=Side(o.side),
        qty=o.amount,
        price=o.price if o.type == "limit" else None,
        status=status,
        venue_order_id=str(o.id),
        filled_qty=filled,
        avg_price=avg,
        fee=fee,
        fee_asset=fee_asset,
        order_type=OrderType.MARKET if o.type == "market" else OrderType.LIMIT,
        tif=_TIF.get(o.time_in_force, TimeInForce.GTC),
        created_ms=ms_of(o.create_time_ms, o.create_time),
        updated_ms=ms_of(o.update_time_ms) or ms_of(o.create_time_ms, o.create_time),
        reject_reason=o.finish_as if final and filled == 0 and o.finish_as not in ("cancelled", "") else "",
    )


def perp_order(o: S.FuturesOrder) -> Order:
    """Futures order -> Order; qty in contracts (abs of signed ``size``), side from the sign,
    ``fill_price`` is the average execution price. Fees are only on trades (fee 0 here)."""
    qty = abs(o.size)
    filled = qty - abs(o.left)
    final = o.status == "finished"
    if final:
        status = OrderStatus.FILLED if filled >= qty and qty > 0 else OrderStatus.CANCELED
    else:
        status = OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.OPEN
    price = o.price if o.price else None
    return Order(
        venue=VenueId.GATE_PERP,
        client_order_id=text_to_cid(o.text),
        symbol=symbol_of(o.contract),
        side=Side.BUY if o.size > 0 else Side.SELL,
        qty=qty,
        price=price,
        status=status,
        venue_order_id=str(o.id),
        filled_qty=filled,
        avg_price=o.fill_price if filled > 0 and o.fill_price else None,
        fee_asset="USDT",
        order_type=OrderType.LIMIT if price is not None else OrderType.MARKET,
        tif=_TIF.get(o.tif, TimeInForce.GTC),
        reduce_only=o.is_reduce_only,
        created_ms=ms_of(o.create_time_ms, o.create_time),
        updated_ms=ms_of(o.finish_time_ms, o.finish_time or o.update_time) or ms_of(o.create_time_ms, o.create_time),
        reject_reason=o.finish_as if final and filled == 0 and o.finish_as not in ("cancelled", "") else "",
    )


# ---- fills, balances, positions -----------------------------------------------------------------


def spot_fill(t: S.SpotTrade) -> Fill:
    """Spot trade -> Fill; ``amount`` is base; fee in ``fee_currency`` (GT/points when paid so)."""
    fee, fee_asset = t.fee, t.fee_currency
    if not fee and t.gt_fee:
        fee, fee_asset = t.gt_fee, "GT"
    elif not fee and t.point_fee:
        fee, fee_asset = t.point_fee, "POINT"
    return Fill(
        venue=VenueId.GATE_SPOT,
        symbol=symbol_of(t.currency_pair),
        client_order_id=text_to_cid(t.text),
        trade_id=str(t.id),
        side=Side(t.side),
        price=t.price,
        qty=t.amount,
        qty_base=t.amount,
        fee=fee,
        fee_asset=fee_asset,
        ts_ms=ms_of(t.create_time_ms, t.create_time),
        venue_order_id=str(t.order_id),
        is_maker=t.role == "maker",
    )


def perp_fill(t: S.FuturesTrade, multiplier: Decimal) -> Fill:
    """Futures trade -> Fill; qty contracts = abs(size), qty_base = qty x multiplier; fee is the
    trade's ``fee`` in USDT (point fees reported as POINT when the USDT fee is 0)."""
    qty = abs(t.size)
    fee, fee_asset = t.fee, "USDT"
    if not fee and t.point_fee:
        fee, fee_asset = t.point_fee, "POINT"
    return Fill(
        venue=VenueId.GATE_PERP,
        symbol=symbol_of(t.contract),
        client_order_id=text_to_cid(t.text),
        trade_id=str(t.id),
        side=Side.BUY if t.size > 0 else Side.SELL,
        price=t.price,
        qty=qty,
        qty_base=qty * multiplier,
        fee=fee,
        fee_asset=fee_asset,
        ts_ms=ms_of(t.create_time_ms, t.create_time),
        venue_order_id=str(t.order_id),
        is_maker=t.role == "maker",
    )


def spot_balance_ws(b: S.SpotBalanceWs) -> Balance:
    locked = b.freeze if b.freeze is not None else (b.total - b.available if b.total is not None else ZERO)
    return Balance(asset=b.currency, free=b.available, locked=max(locked, ZERO))


def perp_balance(a: S.FuturesAccount) -> Balance:
    """Futures account -> Balance of its currency; locked = total - available (margins)."""
    return Balance(asset=a.currency or "USDT", free=a.available, locked=max(a.total - a.available, ZERO))


def perp_position(p: S.FuturesPosition, multiplier: Decimal) -> Position:
    return Position(
        venue=VenueId.GATE_PERP,
        symbol=symbol_of(p.contract),
        size_contracts=p.size,
        size_base=p.size * multiplier,
        entry_price=p.entry_price,
        mark_price=p.mark_price,
        unrealized_pnl=p.unrealised_pnl,
        margin=p.margin,
        leverage=p.leverage,
    )
