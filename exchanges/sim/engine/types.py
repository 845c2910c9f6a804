"""Value types of the simulator engine (see :mod:`exchanges.sim.engine`).

All money/size fields are :class:`~decimal.Decimal`. ``qty`` is in the
venue's order unit (base on spot, contracts on the perp); ``*_base`` fields
are base units; prices are quote per base unit. Times are epoch ms from
:mod:`exchanges.clock`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from exchanges.models import (
    ZERO,
    Balance,
    Fill,
    Order,
    OrderStatus,
    OrderType,
    Position,
    Side,
    Symbol,
    TimeInForce,
    VenueId,
)

Level = tuple[Decimal, Decimal]


class SimError(Exception):
    """A request the simulated venue refuses. ``label`` is a Gate-style error
    label (``INVALID_PARAM_VALUE``, ``BALANCE_NOT_ENOUGH``, ``ORDER_NOT_FOUND``,
    ``ORDER_POC_IMMEDIATE``, ``INSUFFICIENT_AVAILABLE``, ``REDUCE_ONLY_FAIL``,
    ``INVALID_CURRENCY_PAIR``, ``CONTRACT_NOT_FOUND``, ``DUPLICATE_TEXT``);
    protocol layers translate it to their venue's error format. ``status`` is
    the HTTP status the Gate layer uses."""

    def __init__(self, label: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.label = label
        self.message = message
        self.status = status


@dataclass
class SimAccount:
    """One simulated trading account. ``api_key``/``api_secret`` live only in
    memory and the keys file (never in the SQLite DB). ``gate_mode`` is the
    Gate account mode (``classic`` or a unified mode: ``multi_currency``,
    ``single_currency``, ``portfolio``; docs/venues.md 1.11)."""

    user_id: int
    api_key: str
    api_secret: str
    label: str = "default"
    gate_mode: str = "classic"

    @property
    def gate_unified(self) -> bool:
        """True in any Gate unified-account mode (one balance pool for spot and futures)."""
        return self.gate_mode != "classic"


@dataclass
class SimOrder:
    """An order as the engine holds it (mutable; protocol layers read it).

    ``finish_as`` is a Gate-style reason: ``open``, ``filled``, ``cancelled``,
    ``ioc`` (IOC/market remainder cancelled), ``poc`` (post-only would take),
    ``fok``, ``reduce_only``, ``rejected``. ``quote_qty`` is set for market
    buys given in quote (Gate spot market buy ``amount``). ``filled_quote`` is
    the quote notional executed (price x qty x multiplier). ``reserved`` is the
    balance still locked for it (spot: quote for buys, base for sells; perp:
    USDT margin). ``recv_ms``/``recv_perf_ns`` are the receive timestamps
    (clock.now_ms and time.perf_counter_ns) for the order log.
    """

    id: int
    user_id: int
    venue: VenueId
    symbol: Symbol
    side: Side
    qty: Decimal
    price: Decimal | None
    order_type: OrderType
    tif: TimeInForce
    client_order_id: str
    reduce_only: bool = False
    quote_qty: Decimal | None = None
    is_close: bool = False
    status: OrderStatus = OrderStatus.OPEN
    filled_qty: Decimal = ZERO
    filled_quote: Decimal = ZERO
    fee: Decimal = ZERO
    fee_asset: str = ""
    finish_as: str = "open"
    reject_reason: str = ""
    created_ms: int = 0
    updated_ms: int = 0
    finished_ms: int = 0
    recv_ms: int = 0
    recv_perf_ns: int = 0
    reserved: Decimal = ZERO
    multiplier: Decimal = Decimal(1)

    @property
    def left_qty(self) -> Decimal:
        """Unfilled quantity in order units (never negative)."""
        return max(ZERO, self.qty - self.filled_qty)

    @property
    def avg_price(self) -> Decimal | None:
        if self.filled_qty <= 0:
            return None
        return self.filled_quote / (self.filled_qty * self.multiplier)

    @property
    def is_open(self) -> bool:
        return not self.status.is_final

    def to_order(self) -> Order:
        """The venue-neutral :class:`exchanges.models.Order` view."""
        return Order(
            venue=self.venue,
            client_order_id=self.client_order_id,
            symbol=self.symbol,
            side=self.side,
            qty=self.qty,
            price=self.price,
            status=self.status,
            venue_order_id=str(self.id),
            filled_qty=self.filled_qty,
            avg_price=self.avg_price,
            fee=self.fee,
            fee_asset=self.fee_asset,
            order_type=self.order_type,
            tif=self.tif,
            reduce_only=self.reduce_only,
            created_ms=self.created_ms,
            updated_ms=self.updated_ms,
            reject_reason=self.reject_reason,
        )


@dataclass(frozen=True)
class SimFill:
    """One execution of one of our orders. ``qty`` in order units, ``qty_base``
    in base; ``fee`` positive = paid, in ``fee_asset``."""

    trade_id: int
    order_id: int
    user_id: int
    venue: VenueId
    symbol: Symbol
    side: Side
    price: Decimal
    qty: Decimal
    qty_base: Decimal
    fee: Decimal
    fee_asset: str
    is_maker: bool
    ts_ms: int
    client_order_id: str

    def to_fill(self) -> Fill:
        return Fill(
            venue=self.venue,
            symbol=self.symbol,
            client_order_id=self.client_order_id,
            trade_id=str(self.trade_id),
            side=self.side,
            price=self.price,
            qty=self.qty,
            qty_base=self.qty_base,
            fee=self.fee,
            fee_asset=self.fee_asset,
            ts_ms=self.ts_ms,
            venue_order_id=str(self.order_id),
            is_maker=self.is_maker,
        )


@dataclass
class SimPosition:
    """One-way perp position: ``size`` signed contracts. ``realised_pnl``
    includes trading PnL, minus fees, plus funding (Gate semantics);
    ``pnl_fee``/``pnl_fund`` are the fee and funding parts."""

    user_id: int
    venue: VenueId
    symbol: Symbol
    size: Decimal = ZERO
    entry_price: Decimal = ZERO
    realised_pnl: Decimal = ZERO
    pnl_fee: Decimal = ZERO
    pnl_fund: Decimal = ZERO
    leverage: Decimal = Decimal(10)
    multiplier: Decimal = Decimal(1)
    mark_price: Decimal = ZERO
    update_id: int = 0
    updated_ms: int = 0

    @property
    def margin(self) -> Decimal:
        """Initial margin in USDT: |size| x multiplier x entry / leverage."""
        if self.leverage <= 0:
            return ZERO
        return abs(self.size) * self.multiplier * self.entry_price / self.leverage

    @property
    def unrealised_pnl(self) -> Decimal:
        if self.size == 0 or self.mark_price <= 0:
            return ZERO
        return self.size * self.multiplier * (self.mark_price - self.entry_price)

    def to_position(self) -> Position:
        return Position(
            venue=self.venue,
            symbol=self.symbol,
            size_contracts=self.size,
            size_base=self.size * self.multiplier,
            entry_price=self.entry_price,
            mark_price=self.mark_price,
            unrealized_pnl=self.unrealised_pnl,
            margin=self.margin,
            leverage=self.leverage,
        )


@dataclass(frozen=True)
class SimFunding:
    """A funding settlement: ``amount`` signed USDT (+ received, - paid)."""

    user_id: int
    venue: VenueId
    symbol: Symbol
    amount: Decimal
    rate: Decimal
    ts_ms: int
    size: Decimal = ZERO
    mark_price: Decimal = ZERO


@dataclass(frozen=True)
class BookUpdate:
    """One published book change of ``(venue, symbol)``.

    ``first_id``..``last_id`` is the range of update ids covered (continuous
    across updates: the next update's ``first_id`` is ``last_id + 1``).
    ``bids``/``asks`` are the CHANGED levels (qty 0 = level removed);
    ``top_bids``/``top_asks`` the full displayed book after the change (bids
    descending, asks ascending). ``ts_ms`` is the engine time of the change.
    """

    venue: VenueId
    symbol: Symbol
    first_id: int
    last_id: int
    bids: list[Level]
    asks: list[Level]
    top_bids: list[Level]
    top_asks: list[Level]
    ts_ms: int


@dataclass(frozen=True)
class OrderUpdate:
    """Private push: an order changed. ``event`` is Gate's ``put`` (new),
    ``update`` (filled partially) or ``finish`` (final)."""

    order: SimOrder
    event: str


@dataclass(frozen=True)
class FillUpdate:
    fill: SimFill


@dataclass(frozen=True)
class BalanceUpdate:
    """Private push: ``balance`` of ``venue`` after a change of ``change``
    (total) caused by ``change_type`` (``order-create``, ``order-match``,
    ``order-cancel``, ``fund``, ``admin``)."""

    venue: VenueId
    balance: Balance
    change: Decimal
    change_type: str
    ts_ms: int


@dataclass(frozen=True)
class PositionUpdate:
    position: SimPosition


AccountUpdate = OrderUpdate | FillUpdate | BalanceUpdate | PositionUpdate


@dataclass
class VenueBook:
    """Internal book state of one (venue, symbol): the feed's raw levels, what
    our own taker orders consumed per level (cleared when the feed changes that
    level) and the published update id."""

    raw_bids: dict[Decimal, Decimal] = field(default_factory=dict)
    raw_asks: dict[Decimal, Decimal] = field(default_factory=dict)
    used_bids: dict[Decimal, Decimal] = field(default_factory=dict)
    used_asks: dict[Decimal, Decimal] = field(default_factory=dict)
    shown_bids: dict[Decimal, Decimal] = field(default_factory=dict)
    shown_asks: dict[Decimal, Decimal] = field(default_factory=dict)
    pending_bids: set[Decimal] = field(default_factory=set)
    pending_asks: set[Decimal] = field(default_factory=set)
    update_id: int = 0
    ts_ms: int = 0
