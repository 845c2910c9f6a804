"""Order validation, reservation and matching of the simulator engine.

Taker phase: a new order walks the opposite side of the shown book up to its
limit (market: no limit), taking ``min(level qty, remaining)`` per level at the
level's price; what it takes is remembered as consumed (engine_book). Maker
phase: a resting GTC order fills at ITS limit price against shown levels that
cross it, whenever the book changes. Reservations: spot buys lock quote
(limit x qty, or the quote budget), spot sells lock base, perp orders lock
margin (qty x multiplier x price / leverage; none for reduce-only); released
pro rata as fills happen and in full when the order ends.
"""

from __future__ import annotations

import dataclasses

from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING

from exchanges import clock
from exchanges.models import ZERO, MarketType, OrderStatus, OrderType, Side, Symbol, SymbolInfo, TimeInForce, VenueId
from exchanges.sim.engine.types import FillUpdate, OrderUpdate, SimError, SimFill, SimOrder

if TYPE_CHECKING:
    from exchanges.sim.engine.core import SimEngine

_TEXT_CHARS = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-.")
_MEXC_CID_CHARS = _TEXT_CHARS - {"."}
MEXC_CID_MAX_LEN = 32


def check_client_order_id(venue: VenueId, text: str) -> None:
    """Client order id syntax per venue; SimError INVALID_PARAM_VALUE if bad.

    Gate spot/perp ``text`` (docs/venues.md 1.6): ``t-`` + at most 28
    chars of ``[0-9A-Za-z_.-]``. MEXC ``newClientOrderId`` (section 3.5; the
    venue documents no syntax, we keep a sane limit): 1..32 chars of
    ``[0-9A-Za-z_-]``, stored and returned exactly as sent.
    """
    if venue is VenueId.MEXC_SPOT:
        if not 1 <= len(text) <= MEXC_CID_MAX_LEN or not set(text) <= _MEXC_CID_CHARS:
            raise SimError("INVALID_PARAM_VALUE",
                           f"newClientOrderId must be 1-{MEXC_CID_MAX_LEN} chars of [0-9A-Za-z_-]")
    elif not text.startswith("t-") or len(text) > 30 or not set(text) <= _TEXT_CHARS:
        raise SimError("INVALID_PARAM_VALUE", "text must start with 't-', max 28 chars after it, [0-9A-Za-z_.-]")


def _floor(value: Decimal, step: Decimal) -> Decimal:
    if step <= 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


class Matcher:
    """Order book of our own orders plus the matching rules (see module doc)."""

    def __init__(self, engine: "SimEngine") -> None:
        self.engine = engine
        self.orders: dict[int, SimOrder] = {}
        self.fills: dict[tuple[int, VenueId], list[SimFill]] = {}
        self._resting: dict[tuple[VenueId, Symbol], dict[int, SimOrder]] = {}
        self._by_text: dict[tuple[int, VenueId, str], int] = {}
        self._next_order_id = 0
        self._next_trade_id = 0

    def load(self, orders: list[SimOrder], fills: list[SimFill]) -> None:
        store = self.engine.store
        self._next_order_id = int(store.meta("next_order_id", "0")) or 100_000_000_001
        self._next_trade_id = int(store.meta("next_trade_id", "0")) or 500_000_001
        if store.meta("mexc_cid_raw", "") != "1":  # before: MEXC ids stored as "t-" + id
            self._unwrap_mexc_ids(orders, fills)
        for order in orders:
            self.orders[order.id] = order
            self._next_order_id = max(self._next_order_id, order.id + 1)
            if order.status is not OrderStatus.REJECTED and order.client_order_id:
                self._by_text[(order.user_id, order.venue, order.client_order_id)] = order.id
            if order.is_open:
                self._resting.setdefault((order.venue, order.symbol), {})[order.id] = order
        for fill in fills:
            self.fills.setdefault((fill.user_id, fill.venue), []).append(fill)
            self._next_trade_id = max(self._next_trade_id, fill.trade_id + 1)

    def _unwrap_mexc_ids(self, orders: list[SimOrder], fills: list[SimFill]) -> None:
        store = self.engine.store
        for order in orders:
            if order.venue is VenueId.MEXC_SPOT and order.client_order_id.startswith("t-"):
                order.client_order_id = order.client_order_id[2:]
                store.put_order(order)
        for i, fill in enumerate(fills):
            if fill.venue is VenueId.MEXC_SPOT and fill.client_order_id.startswith("t-"):
                fills[i] = dataclasses.replace(fill, client_order_id=fill.client_order_id[2:])  # SimFill is frozen
                store.put_fill(fills[i])
        store.set_meta("mexc_cid_raw", "1")
        store.commit()

    def _new_id(self) -> int:
        oid = self._next_order_id
        self._next_order_id += 1
        self.engine.store.set_meta("next_order_id", str(self._next_order_id))
        return oid

    def _new_trade_id(self) -> int:
        tid = self._next_trade_id
        self._next_trade_id += 1
        self.engine.store.set_meta("next_trade_id", str(self._next_trade_id))
        return tid

    # ---- queries --------------------------------------------------------------
    def find(self, user_id: int, venue: VenueId, symbol: Symbol | None, client_order_id: str | None,
             order_id: int | str | None) -> SimOrder | None:
        order = None
        if order_id is not None and str(order_id).isdigit():
            order = self.orders.get(int(order_id))
        elif client_order_id:
            oid = self._by_text.get((user_id, venue, client_order_id))
            order = self.orders.get(oid) if oid is not None else None
        if order is None or order.user_id != user_id or order.venue != venue:
            return None
        if symbol is not None and order.symbol != symbol:
            return None
        return order

    def open_orders(self, user_id: int, venue: VenueId, symbol: Symbol | None) -> list[SimOrder]:
        out = []
        for (v, s), book in self._resting.items():
            if v == venue and (symbol is None or s == symbol):
                out += [o for o in book.values() if o.user_id == user_id]
        return sorted(out, key=lambda o: o.id)

    # ---- placing ----------------------------------------------------------------
    def place(self, user_id: int, venue: VenueId, symbol: Symbol, side: Side, qty: Decimal, price: Decimal | None,
              order_type: OrderType, tif: TimeInForce, text: str, reduce_only: bool, quote_qty: Decimal | None,
              is_close: bool, recv_ms: int, recv_perf_ns: int) -> SimOrder:
        eng = self.engine
        info = eng.symbol_info(venue, symbol)
        perp = info.market_type is MarketType.PERP
        now = clock.now_ms()
        order = SimOrder(id=self._new_id(), user_id=user_id, venue=venue, symbol=symbol, side=side, qty=qty,
                         price=price, order_type=order_type, tif=tif, client_order_id=text, reduce_only=reduce_only,
                         quote_qty=quote_qty, is_close=is_close, created_ms=now, updated_ms=now, recv_ms=recv_ms,
                         recv_perf_ns=recv_perf_ns, multiplier=info.contract_multiplier,
                         fee_asset="USDT" if perp else (symbol.base if side is Side.BUY else symbol.quote))
        self.orders[order.id] = order
        try:
            self._validate(order, info)
            plan = self._plan_taker(order, info)
            self._reserve(order, info, plan)
        except SimError as exc:
            order.status = OrderStatus.REJECTED
            order.finish_as = "rejected"
            order.reject_reason = f"{exc.label}: {exc.message}"
            eng.store.put_order(order)
            raise
        if text:
            self._by_text[(user_id, venue, text)] = order.id
        eng.store.put_order(order)
        eng._emit(user_id, venue, OrderUpdate(order, "put"))
        for price_lvl, take in plan:
            self._fill(order, info, price_lvl, take, is_maker=False)
        eng.books.flush(venue, symbol)
        if order.order_type is OrderType.MARKET and order.quote_qty is not None:
            order.qty = order.filled_qty
        if order.filled_qty >= order.qty and order.qty > 0:
            self._finish(order, OrderStatus.FILLED, "filled")
        elif order.order_type is OrderType.MARKET or order.tif in (TimeInForce.IOC, TimeInForce.FOK):
            self._finish(order, OrderStatus.CANCELED, "fok" if order.tif is TimeInForce.FOK else "ioc")
        else:
            self._resting.setdefault((venue, symbol), {})[order.id] = order
            eng.store.put_order(order)
        return order

    def _validate(self, order: SimOrder, info: SymbolInfo) -> None:
        text = order.client_order_id
        if text:
            check_client_order_id(order.venue, text)
            oid = self._by_text.get((order.user_id, order.venue, text))
            if oid is not None and self.orders[oid].is_open:
                raise SimError("DUPLICATE_TEXT", f"an open order with text {text} already exists")
        perp = info.market_type is MarketType.PERP
        if perp and (order.is_close or order.reduce_only):
            pos = self.engine.ledger.position(order.user_id, order.venue, order.symbol, info.contract_multiplier)
            if order.is_close:
                if pos.size == 0:
                    raise SimError("POSITION_EMPTY", "no position to close")
                order.side = Side.SELL if pos.size > 0 else Side.BUY
                order.qty = abs(pos.size)
                order.reduce_only = True
            if pos.size == 0 or (pos.size > 0) == (order.side is Side.BUY):
                raise SimError("REDUCE_ONLY_FAIL", "reduce-only order would increase the position")
            order.qty = min(order.qty, abs(pos.size))
        if order.order_type is OrderType.MARKET:
            order.price = None
            if order.tif not in (TimeInForce.IOC, TimeInForce.FOK):
                order.tif = TimeInForce.IOC
        else:
            if order.price is None or order.price <= 0:
                raise SimError("INVALID_PARAM_VALUE", "price required for a limit order")
            if order.price % info.price_tick != 0:
                raise SimError("INVALID_PARAM_VALUE", f"price {order.price} not a multiple of tick {info.price_tick}")
        if order.quote_qty is not None:
            if order.order_type is not OrderType.MARKET or order.side is not Side.BUY or order.quote_qty <= 0:
                raise SimError("INVALID_PARAM_VALUE", "quote amount only for market buys, > 0")
            if order.quote_qty < info.min_notional:
                raise SimError("INVALID_PARAM_VALUE", f"order value below minimum {info.min_notional}")
            return
        if order.qty <= 0:
            raise SimError("INVALID_PARAM_VALUE", "amount/size must be > 0")
        if order.qty % info.size_step != 0:
            raise SimError("INVALID_PARAM_VALUE", f"amount {order.qty} not a multiple of step {info.size_step}")
        if order.qty < info.min_size and not order.reduce_only:
            raise SimError("INVALID_PARAM_VALUE", f"amount below minimum {info.min_size}")
        if order.price is not None and not perp and order.qty * order.price < info.min_notional:
            raise SimError("INVALID_PARAM_VALUE", f"order value below minimum {info.min_notional} {order.symbol.quote}")

    def _plan_taker(self, order: SimOrder, info: SymbolInfo) -> list[tuple[Decimal, Decimal]]:
        """Levels the order would take now: [(price, qty)]; post-only/FOK checks."""
        bids, asks, _ = self.engine.books.levels(order.venue, order.symbol)
        opposite = asks if order.side is Side.BUY else bids
        crosses = (lambda p: True) if order.price is None else (
            (lambda p: p <= order.price) if order.side is Side.BUY else (lambda p: p >= order.price))
        if order.tif is TimeInForce.POST_ONLY:
            if opposite and crosses(opposite[0][0]):
                raise SimError("ORDER_POC_IMMEDIATE", "post-only order would be filled immediately")
            return []
        plan: list[tuple[Decimal, Decimal]] = []
        remaining = order.qty
        budget = order.quote_qty
        mult = info.contract_multiplier
        for price, qty in opposite:
            if not crosses(price):
                break
            if budget is not None:
                take = _floor(min(qty, budget / (price * mult)), info.size_step)
                if take <= 0:
                    break
                budget -= take * price * mult
            else:
                take = min(qty, remaining)
                remaining -= take
            plan.append((price, take))
            if budget is None and remaining <= 0:
                break
        if order.tif is TimeInForce.FOK and (budget is None and remaining > 0):
            return []
        return plan

    def _reserve(self, order: SimOrder, info: SymbolInfo, plan: list[tuple[Decimal, Decimal]]) -> None:
        led = self.engine.ledger
        now = order.created_ms
        if info.market_type is MarketType.PERP:
            if order.reduce_only:
                return
            pos = led.position(order.user_id, order.venue, order.symbol, info.contract_multiplier)
            if order.price is not None:
                notional = order.qty * info.contract_multiplier * order.price
            else:
                notional = sum((p * q * info.contract_multiplier for p, q in plan), ZERO)
            order.reserved = notional / pos.leverage
            led.reserve(order.user_id, order.venue, "USDT", order.reserved, now, "INSUFFICIENT_AVAILABLE")
            return
        if order.side is Side.SELL:
            order.reserved = order.qty
            led.reserve(order.user_id, order.venue, order.symbol.base, order.reserved, now, "BALANCE_NOT_ENOUGH")
            return
        if order.quote_qty is not None:
            order.reserved = order.quote_qty
        elif order.price is not None:
            order.reserved = order.qty * order.price
        else:
            order.reserved = sum((p * q for p, q in plan), ZERO)
        led.reserve(order.user_id, order.venue, order.symbol.quote, order.reserved, now, "BALANCE_NOT_ENOUGH")

    # ---- fills ------------------------------------------------------------------
    def _fill(self, order: SimOrder, info: SymbolInfo, price: Decimal, qty: Decimal, is_maker: bool,
              level_price: Decimal | None = None) -> None:
        """Execute ``qty`` at ``price``, consuming the shown level at
        ``level_price`` (default ``price``); books balances/position/fee."""
        eng = self.engine
        led = eng.ledger
        now = clock.now_ms()
        mult = info.contract_multiplier
        rate = info.maker_fee_rate if is_maker else info.taker_fee_rate
        eng.books.consume(order.venue, order.symbol, order.side is Side.SELL,
                          price if level_price is None else level_price, qty)
        # release the reservation of this part (pro rata; quote budget: exact cost)
        if order.quote_qty is not None:
            used = min(order.reserved, price * qty * mult)
        else:
            left_before = order.qty - order.filled_qty
            used = order.reserved if qty >= left_before else order.reserved * qty / left_before
        order.reserved -= used
        quote_amt = price * qty * mult
        if info.market_type is MarketType.PERP:
            fee = quote_amt * rate
            led.release(order.user_id, order.venue, "USDT", used, now, "order-match")
            pos = led.position(order.user_id, order.venue, order.symbol, mult)
            led.apply_perp_fill(pos, qty if order.side is Side.BUY else -qty, price, fee, now)
        elif order.side is Side.BUY:
            fee = qty * rate
            led.adjust(order.user_id, order.venue, order.symbol.quote, used - quote_amt, -used, "order-match", now)
            led.adjust(order.user_id, order.venue, order.symbol.base, qty - fee, ZERO, "order-match", now)
        else:
            fee = quote_amt * rate
            led.adjust(order.user_id, order.venue, order.symbol.base, ZERO, -used, "order-match", now)
            led.adjust(order.user_id, order.venue, order.symbol.quote, quote_amt - fee, ZERO, "order-match", now)
        order.filled_qty += qty
        order.filled_quote += quote_amt
        order.fee += fee
        order.updated_ms = now
        order.status = OrderStatus.PARTIALLY_FILLED
        fill = SimFill(self._new_trade_id(), order.id, order.user_id, order.venue, order.symbol, order.side, price,
                       qty, qty * mult, fee, order.fee_asset, is_maker, now, order.client_order_id)
        self.fills.setdefault((order.user_id, order.venue), []).append(fill)
        eng.store.put_fill(fill)
        eng.store.put_order(order)
        eng._emit(order.user_id, order.venue, FillUpdate(fill))
        eng._emit(order.user_id, order.venue, OrderUpdate(order, "update"))

    def _finish(self, order: SimOrder, status: OrderStatus, finish_as: str) -> None:
        eng = self.engine
        now = clock.now_ms()
        if order.reserved > 0:
            info = eng.symbol_info(order.venue, order.symbol)
            if info.market_type is MarketType.PERP:
                asset = "USDT"
            else:
                asset = order.symbol.quote if order.side is Side.BUY else order.symbol.base
            eng.ledger.release(order.user_id, order.venue, asset, order.reserved, now)
            order.reserved = ZERO
        order.status = status
        order.finish_as = finish_as
        order.updated_ms = order.finished_ms = now
        self._resting.get((order.venue, order.symbol), {}).pop(order.id, None)
        eng.store.put_order(order)
        eng._emit(order.user_id, order.venue, OrderUpdate(order, "finish"))

    def cancel(self, order: SimOrder, finish_as: str) -> None:
        self._finish(order, OrderStatus.CANCELED, finish_as)

    def match_resting(self, venue: VenueId, symbol: Symbol) -> None:
        """Fill resting orders of (venue, symbol) that the shown book now crosses."""
        resting = self._resting.get((venue, symbol))
        if not resting:
            return
        info = self.engine.symbol_info(venue, symbol)
        for order in sorted(resting.values(), key=lambda o: o.id):
            bids, asks, _ = self.engine.books.levels(venue, symbol)
            opposite = asks if order.side is Side.BUY else bids
            for price, qty in opposite:
                if (order.side is Side.BUY and price > order.price) or (order.side is Side.SELL and price < order.price):
                    break
                if info.market_type is MarketType.PERP and order.reduce_only:
                    pos = self.engine.ledger.position(order.user_id, venue, symbol, info.contract_multiplier)
                    if pos.size == 0 or (pos.size > 0) == (order.side is Side.BUY):
                        self._finish(order, OrderStatus.CANCELED, "reduce_only")
                        break
                take = min(qty, order.qty - order.filled_qty)
                # a maker fill executes at our limit price, consuming the crossing level
                self._fill(order, info, order.price, take, is_maker=True, level_price=price)
                if order.filled_qty >= order.qty:
                    self._finish(order, OrderStatus.FILLED, "filled")
                    break
            self.engine.books.flush(venue, symbol)
