"""A deterministic in-memory :class:`~exchanges.venue.Venue` for tests (never used live).

``FakeVenue`` keeps scripted books, matches our orders against the scripted top
(price improvement at the top price, partial fills limited by the top quantity,
which the fill consumes), books fees in a configurable fee asset, keeps spot
balances and a perp position (contracts x ``contract_multiplier`` base), pays
funding, and pushes Book/Order/Fill/Balance/Position events to listeners
(immediately, or queued until :meth:`deliver_events` when ``auto_deliver`` is
False). Faults are scripted per call:

* ``fail_next_place("reject" | "unknown_lost" | "unknown_accepted" | "rate_limited")``:
  ``unknown_lost`` raises OutcomeUnknown and the order never existed;
  ``unknown_accepted`` places (and matches) the order, then raises OutcomeUnknown
  as if the response was lost.
* ``fail_next("get_order" | "cancel_order" | ..., exc)`` raises ``exc`` once.
* ``hold_matching = True`` leaves new orders open (no fills) until
  :meth:`fill_order` / :meth:`expire_order` script their outcome.

Every ``place_order`` call's client order id is appended to ``place_calls``
(even when it raised) so tests can assert nothing was sent twice.
"""

from __future__ import annotations

from collections import Counter, deque
from decimal import Decimal

import msgspec

from exchanges import clock
from exchanges.models import (
    Balance,
    BalanceEvent,
    BookEvent,
    BookTop,
    Fill,
    FillEvent,
    FundingPayment,
    FundingRate,
    MarketType,
    Order,
    OrderEvent,
    OrderRequest,
    OrderStatus,
    OrderType,
    Position,
    PositionEvent,
    Side,
    Symbol,
    SymbolInfo,
    TimeInForce,
    VenueEvent,
    VenueId,
)
from exchanges.venue import NotFound, OrderRejected, OutcomeUnknown, RateLimited, VenueListener

ZERO = Decimal(0)


class FakeVenue:
    """Scripted venue. ``info`` fixes the one symbol it trades; ``balances`` are free amounts
    by asset (spot: base and quote; perp: the USDT margin account)."""

    def __init__(self, info: SymbolInfo, balances: dict[str, Decimal] | None = None,
                 fee_asset: str | None = None, auto_deliver: bool = True) -> None:
        self.venue_id: VenueId = info.venue
        self.market_type: MarketType = info.market_type
        self.info = info
        self.symbol = info.symbol
        self.fee_asset = fee_asset or info.symbol.quote
        self.auto_deliver = auto_deliver
        self.hold_matching = False
        self.started = False
        self.listeners: list[VenueListener] = []
        self.book: BookTop | None = None
        self.orders: dict[str, Order] = {}
        self.fills: dict[str, list[Fill]] = {}
        self.all_fills: list[Fill] = []
        self.free: dict[str, Decimal] = {k.upper(): Decimal(v) for k, v in (balances or {}).items()}
        self.position_contracts = ZERO
        self.position_entry = ZERO
        self.funding: list[FundingPayment] = []
        self.funding_rate_value: Decimal | None = Decimal("0.0001") if self.is_perp else None
        self.foreign_ids: set[str] = set()
        self.place_calls: list[str] = []
        #: client order ids refused because they arrived after their ``expires_ms``
        self.expired_requests: list[str] = []
        self.cancel_calls: list[str] = []
        self.calls: Counter[str] = Counter()
        self.pending_events: deque[VenueEvent] = deque()
        self._place_faults: deque[str] = deque()
        self._faults: dict[str, deque[Exception]] = {}
        self._fill_caps: deque[Decimal] = deque()
        self._trade_seq = 0
        self._order_seq = 0

    @property
    def is_perp(self) -> bool:
        return self.market_type is MarketType.PERP

    # ---- scripting ----------------------------------------------------------

    def set_book(self, bid: Decimal | str, bid_qty: Decimal | str, ask: Decimal | str, ask_qty: Decimal | str,
                 *, ts_ms: int | None = None, stale: bool = False) -> BookTop:
        """Replace the top of book (ts = now unless given) and emit a BookEvent; resting
        orders of ours are matched against the new top."""
        self.book = BookTop(self.venue_id, self.symbol, Decimal(bid), Decimal(bid_qty), Decimal(ask),
                            Decimal(ask_qty), clock.now_ms() if ts_ms is None else ts_ms, stale=stale)
        self._emit(BookEvent(self.venue_id, self.symbol))
        if not self.hold_matching:
            for o in list(self.orders.values()):
                if o.status in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED) and o.client_order_id not in self.foreign_ids:
                    self._match(o)
        return self.book

    def fail_next_place(self, kind: str) -> None:
        """Script the next place_order: reject | unknown_lost | unknown_accepted | rate_limited."""
        assert kind in ("reject", "unknown_lost", "unknown_accepted", "rate_limited"), kind
        self._place_faults.append(kind)

    def fail_next(self, method: str, exc: Exception) -> None:
        """Raise ``exc`` from the next call of ``method`` (get_order, cancel_order, balances, ...)."""
        self._faults.setdefault(method, deque()).append(exc)

    def cap_next_fill(self, qty: Decimal | str) -> None:
        """Cap the quantity the next matched order fills (a scripted partial fill)."""
        self._fill_caps.append(Decimal(qty))

    def add_foreign_order(self, client_order_id: str, side: Side, qty: Decimal, price: Decimal) -> Order:
        """An open order that is not ours (another bot / the user)."""
        self._order_seq += 1
        o = Order(self.venue_id, client_order_id, self.symbol, side, Decimal(qty), Decimal(price),
                  OrderStatus.OPEN, venue_order_id=str(self._order_seq), tif=TimeInForce.GTC)
        self.orders[client_order_id] = o
        self.foreign_ids.add(client_order_id)
        return o

    def fill_order(self, client_order_id: str, qty: Decimal | str, price: Decimal | str | None = None) -> Fill:
        """Script a fill of an open order (any price; defaults to the limit price)."""
        o = self.orders[client_order_id]
        return self._execute(o, Decimal(qty), Decimal(price) if price is not None else o.price or ZERO)

    def expire_order(self, client_order_id: str) -> Order:
        """End an open order as canceled (IOC remainder / venue expiry) and emit its event."""
        o = self.orders[client_order_id]
        if not o.status.is_final:
            o.status = OrderStatus.CANCELED
            o.updated_ms = clock.now_ms()
            self._emit(OrderEvent(self.venue_id, _copy(o)))
        return o

    def pay_funding(self, rate: Decimal | str, mark_price: Decimal | str, ts_ms: int | None = None) -> FundingPayment:
        """Settle funding on the perp position: amount = -size_base x mark x rate (a short
        receives when rate > 0; docs/venues.md 1.7 funding_rate sign)."""
        rate, mark = Decimal(rate), Decimal(mark_price)
        amount = -self.position_contracts * self.info.contract_multiplier * mark * rate
        p = FundingPayment(self.venue_id, self.symbol, amount, rate, clock.now_ms() if ts_ms is None else ts_ms)
        self.funding.append(p)
        self._credit(self.symbol.quote, amount)
        return p

    def deliver_events(self) -> int:
        """Deliver queued events (when ``auto_deliver`` is False); returns how many."""
        n = 0
        while self.pending_events:
            self._deliver(self.pending_events.popleft())
            n += 1
        return n

    def our_fills(self, prefix: str) -> list[Fill]:
        return [f for f in self.all_fills if f.client_order_id.startswith(prefix)]

    def base_balance(self) -> Decimal:
        return self.free.get(self.symbol.base.upper(), ZERO)

    # ---- Venue protocol -------------------------------------------------------

    async def start(self) -> None:
        self.calls["start"] += 1
        self._maybe_fail("start")
        self.started = True

    async def close(self) -> None:
        self.calls["close"] += 1
        self.started = False

    def add_listener(self, listener: VenueListener) -> None:
        if listener not in self.listeners:
            self.listeners.append(listener)

    def remove_listener(self, listener: VenueListener) -> None:
        if listener in self.listeners:
            self.listeners.remove(listener)

    async def symbol_info(self, symbol: Symbol) -> SymbolInfo:
        self.calls["symbol_info"] += 1
        self._maybe_fail("symbol_info")
        self._check_symbol(symbol)
        return self.info

    async def watch_book(self, symbol: Symbol) -> None:
        self.calls["watch_book"] += 1
        self._check_symbol(symbol)

    def book_top(self, symbol: Symbol) -> BookTop | None:
        return self.book if symbol == self.symbol else None

    async def watch_user(self, symbol: Symbol) -> None:
        self.calls["watch_user"] += 1
        self._check_symbol(symbol)

    async def place_order(self, request: OrderRequest) -> Order:
        self.calls["place_order"] += 1
        self.place_calls.append(request.client_order_id)
        fault = self._place_faults.popleft() if self._place_faults else None
        if fault == "unknown_lost":
            raise OutcomeUnknown("scripted: request lost before the venue", venue=self.venue_id.value)
        if fault == "rate_limited":
            raise RateLimited("scripted 429", venue=self.venue_id.value)
        if fault == "reject":
            raise OrderRejected("scripted reject", venue=self.venue_id.value, code="scripted")
        if request.client_order_id in self.orders:
            raise OrderRejected("duplicate client order id", venue=self.venue_id.value, code="duplicate")
        if request.expires_ms and clock.now_ms() > request.expires_ms:  # as Gate X-Gate-Exptime / MEXC recvWindow
            self.expired_requests.append(request.client_order_id)
            raise OrderRejected("request expired", venue=self.venue_id.value, code="REQUEST_EXPIRED")
        self._check_symbol(request.symbol)
        self._validate(request)
        self._order_seq += 1
        now = clock.now_ms()
        o = Order(self.venue_id, request.client_order_id, request.symbol, request.side, request.qty,
                  request.price, OrderStatus.OPEN, venue_order_id=str(self._order_seq),
                  order_type=request.order_type, tif=request.tif, reduce_only=request.reduce_only,
                  created_ms=now, updated_ms=now)
        self.orders[o.client_order_id] = o
        self.fills[o.client_order_id] = []
        self._emit(OrderEvent(self.venue_id, _copy(o)))
        if not self.hold_matching:
            self._match(o)
            if o.tif in (TimeInForce.IOC, TimeInForce.FOK) or o.order_type is OrderType.MARKET:
                if not o.status.is_final:
                    o.status = OrderStatus.CANCELED
                    o.updated_ms = clock.now_ms()
                    self._emit(OrderEvent(self.venue_id, _copy(o)))
        if fault == "unknown_accepted":
            raise OutcomeUnknown("scripted: accepted but the response was lost", venue=self.venue_id.value)
        return _copy(o)

    async def cancel_order(self, symbol: Symbol, client_order_id: str) -> Order:
        self.calls["cancel_order"] += 1
        self.cancel_calls.append(client_order_id)
        self._maybe_fail("cancel_order")
        o = self.orders.get(client_order_id)
        if o is None or o.status.is_final:
            raise NotFound(f"order {client_order_id} not open", venue=self.venue_id.value)
        o.status = OrderStatus.CANCELED
        o.updated_ms = clock.now_ms()
        self._emit(OrderEvent(self.venue_id, _copy(o)))
        return _copy(o)

    async def get_order(self, symbol: Symbol, client_order_id: str) -> Order:
        self.calls["get_order"] += 1
        self._maybe_fail("get_order")
        o = self.orders.get(client_order_id)
        if o is None:
            raise NotFound(f"order {client_order_id} unknown", venue=self.venue_id.value)
        return _copy(o)

    async def order_fills(self, symbol: Symbol, client_order_id: str) -> list[Fill]:
        self.calls["order_fills"] += 1
        self._maybe_fail("order_fills")
        return list(self.fills.get(client_order_id, []))

    async def open_orders(self, symbol: Symbol) -> list[Order]:
        self.calls["open_orders"] += 1
        self._maybe_fail("open_orders")
        return [_copy(o) for o in self.orders.values()
                if o.symbol == symbol and o.status in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)]

    async def balances(self) -> dict[str, Balance]:
        self.calls["balances"] += 1
        self._maybe_fail("balances")
        return {k: Balance(k, v) for k, v in self.free.items()}

    async def positions(self, symbol: Symbol | None = None) -> list[Position]:
        self.calls["positions"] += 1
        self._maybe_fail("positions")
        if not self.is_perp:
            return []
        return [self._position()]

    async def funding_rate(self, symbol: Symbol) -> FundingRate | None:
        if not self.is_perp or self.funding_rate_value is None:
            return None
        mark = self.book.mid if self.book is not None else ZERO  # the mark price: the book's mid here
        return FundingRate(self.venue_id, self.symbol, self.funding_rate_value, 28800, mark_price=mark)

    async def funding_payments(self, symbol: Symbol, since_ms: int) -> list[FundingPayment]:
        self.calls["funding_payments"] += 1
        return [p for p in self.funding if p.ts_ms >= since_ms]

    # ---- internals --------------------------------------------------------------

    def _check_symbol(self, symbol: Symbol) -> None:
        if symbol != self.symbol:
            raise NotFound(f"unknown symbol {symbol}", venue=self.venue_id.value)

    def _maybe_fail(self, method: str) -> None:
        q = self._faults.get(method)
        if q:
            raise q.popleft()

    def _validate(self, r: OrderRequest) -> None:
        info = self.info
        v = self.venue_id.value
        if r.qty <= 0 or (info.size_step > 0 and r.qty % info.size_step != 0):
            raise OrderRejected(f"qty {r.qty} not a multiple of step {info.size_step}", venue=v, code="step")
        if info.min_size > 0 and r.qty < info.min_size:
            raise OrderRejected(f"qty {r.qty} below min {info.min_size}", venue=v, code="min_size")
        if r.order_type is OrderType.LIMIT:
            if r.price is None or r.price <= 0:
                raise OrderRejected("limit order needs a price", venue=v, code="price")
            if info.price_tick > 0 and r.price % info.price_tick != 0:
                raise OrderRejected(f"price {r.price} off tick {info.price_tick}", venue=v, code="tick")
            notional = r.qty * info.contract_multiplier * r.price
            if info.min_notional > 0 and notional < info.min_notional:
                raise OrderRejected(f"notional {notional} below {info.min_notional}", venue=v, code="min_notional")
        if self.is_perp:
            if r.reduce_only:
                pos = self.position_contracts
                if pos == 0 or (pos > 0) == (r.side is Side.BUY):
                    raise OrderRejected("reduce_only would increase the position", venue=v, code="reduce_only")
            return
        base, quote = self.symbol.base.upper(), self.symbol.quote.upper()
        if r.side is Side.SELL and self.free.get(base, ZERO) < r.qty:
            raise OrderRejected("insufficient base balance", venue=v, code="balance")
        if r.side is Side.BUY:
            px = r.price if r.price is not None else (self.book.ask if self.book else ZERO)
            if self.free.get(quote, ZERO) < r.qty * px * (1 + info.taker_fee_rate):
                raise OrderRejected("insufficient quote balance", venue=v, code="balance")

    def _match(self, o: Order) -> None:
        """Match ``o`` against the scripted top (consuming its quantity)."""
        b = self.book
        if b is None or o.status.is_final:
            return
        if o.side is Side.BUY:
            top_px, top_qty = b.ask, b.ask_qty
            crosses = o.order_type is OrderType.MARKET or (o.price is not None and o.price >= top_px)
        else:
            top_px, top_qty = b.bid, b.bid_qty
            crosses = o.order_type is OrderType.MARKET or (o.price is not None and o.price <= top_px)
        if not crosses or top_qty <= 0 or top_px <= 0:
            return
        qty = min(o.remaining_qty, top_qty)
        if o.reduce_only and self.is_perp:
            qty = min(qty, abs(self.position_contracts))
        if self._fill_caps:
            qty = min(qty, self._fill_caps.popleft())
        if qty <= 0:
            return
        if o.tif is TimeInForce.FOK and qty < o.remaining_qty:
            return
        self._execute(o, qty, top_px)
        if o.side is Side.BUY:
            self.book = msgspec.structs.replace(self.book, ask_qty=top_qty - qty)
        else:
            self.book = msgspec.structs.replace(self.book, bid_qty=top_qty - qty)

    def _execute(self, o: Order, qty: Decimal, price: Decimal) -> Fill:
        info = self.info
        qty_base = qty * info.contract_multiplier
        notional = qty_base * price
        fee_asset = self.fee_asset.upper()
        if fee_asset == self.symbol.base.upper():
            fee = qty_base * info.taker_fee_rate
        else:
            fee = notional * info.taker_fee_rate
        self._trade_seq += 1
        now = clock.now_ms()
        fill = Fill(self.venue_id, self.symbol, o.client_order_id, f"{self.venue_id.value}-t{self._trade_seq}",
                    o.side, price, qty, qty_base, fee, fee_asset, now, o.venue_order_id)
        prev = o.filled_qty
        o.filled_qty = prev + qty
        o.avg_price = price if o.avg_price is None else (o.avg_price * prev + price * qty) / o.filled_qty
        o.fee += fee
        o.fee_asset = fee_asset
        o.status = OrderStatus.FILLED if o.filled_qty >= o.qty else OrderStatus.PARTIALLY_FILLED
        o.updated_ms = now
        self.fills.setdefault(o.client_order_id, []).append(fill)
        self.all_fills.append(fill)
        base, quote = self.symbol.base.upper(), self.symbol.quote.upper()
        touched = {quote}
        if self.is_perp:
            self._perp_trade(qty * o.side.sign, price)
        else:
            self._credit(base, qty_base * o.side.sign)
            self._credit(quote, -notional * o.side.sign)
            touched.add(base)
        self._credit(fee_asset, -fee)
        touched.add(fee_asset)
        self._emit(FillEvent(self.venue_id, fill))
        self._emit(OrderEvent(self.venue_id, _copy(o)))
        for asset in sorted(touched):
            self._emit(BalanceEvent(self.venue_id, Balance(asset, self.free.get(asset, ZERO))))
        if self.is_perp:
            self._emit(PositionEvent(self.venue_id, self._position()))
        return fill

    def _perp_trade(self, signed_contracts: Decimal, price: Decimal) -> None:
        q = self.position_contracts
        new_q = q + signed_contracts
        if q == 0 or (q > 0) == (signed_contracts > 0):
            self.position_entry = (abs(q) * self.position_entry + abs(signed_contracts) * price) / abs(new_q)
        elif new_q != 0 and (new_q > 0) != (q > 0):
            self.position_entry = price
        elif new_q == 0:
            self.position_entry = ZERO
        self.position_contracts = new_q

    def _position(self) -> Position:
        return Position(self.venue_id, self.symbol, self.position_contracts,
                        self.position_contracts * self.info.contract_multiplier, self.position_entry)

    def _credit(self, asset: str, amount: Decimal) -> None:
        asset = asset.upper()
        self.free[asset] = self.free.get(asset, ZERO) + amount

    def _emit(self, event: VenueEvent) -> None:
        if self.auto_deliver:
            self._deliver(event)
        else:
            self.pending_events.append(event)

    def _deliver(self, event: VenueEvent) -> None:
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception:  # listeners must not break the venue (venue.VenueListener contract)
                pass


def _copy(o: Order) -> Order:
    return Order(**{f: getattr(o, f) for f in o.__struct_fields__})


