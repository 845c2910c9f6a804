"""Venue-neutral domain models: the only vocabulary strategies see.

All prices, sizes and money are :class:`decimal.Decimal` (tiny prices such as
``0.000035`` must be exact). Structs are ``msgspec.Struct`` so they encode to
JSON for the store and the CLI without hand-written converters.

Units
-----
* ``qty`` on spot venues is in **base** units (e.g. NEIROETH).
* ``qty`` on the perpetual venue is in **contracts**; one contract is
  ``SymbolInfo.contract_multiplier`` base units (Gate ``quanto_multiplier``).
  Fills and positions additionally carry the base-unit equivalent
  (``qty_base`` / ``size_base``) so the ledger never has to guess.
* Prices are quote (USDT) per one base unit on every venue.
* Times are integer milliseconds since the epoch, UTC (``*_ms``).
"""

from __future__ import annotations

import re
from decimal import Decimal
from enum import Enum

import msgspec

ZERO = Decimal(0)


class VenueId(str, Enum):
    """The three venues this project trades."""

    GATE_SPOT = "gate_spot"
    GATE_PERP = "gate_perp"
    MEXC_SPOT = "mexc_spot"


class MarketType(str, Enum):
    SPOT = "spot"
    PERP = "perp"


class Side(str, Enum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 for buy, -1 for sell."""
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> "Side":
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(str, Enum):
    LIMIT = "limit"
    MARKET = "market"


class TimeInForce(str, Enum):
    GTC = "gtc"
    IOC = "ioc"
    POST_ONLY = "poc"  # Gate's name for post-only ("pending or cancelled")
    FOK = "fok"


class OrderStatus(str, Enum):
    """Lifecycle of an order at the venue.

    ``CANCELED`` with ``filled_qty > 0`` is how an IOC order that filled
    partially ends. ``REJECTED`` means the venue never accepted it.
    """

    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"

    @property
    def is_final(self) -> bool:
        return self in (OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED)


_SYMBOL_RE = re.compile(r"^[A-Z0-9]{2,20}$")
_KNOWN_QUOTES = ("USDT", "USDC")


class Symbol(msgspec.Struct, frozen=True, order=True):
    """A trading pair, venue-neutral: ``Symbol("NEIROETH", "USDT")``.

    Venue spellings: Gate spot and perp ``NEIROETH_USDT``; MEXC spot
    ``NEIROETHUSDT`` (docs/venues.md section 5).
    """

    base: str
    quote: str = "USDT"

    @classmethod
    def parse(cls, text: str) -> "Symbol":
        """Parse ``NEIROETH``, ``NEIROETHUSDT``, ``NEIROETH_USDT`` or ``NEIROETH/USDT``.

        A bare base name means quote USDT. Raises ``ValueError`` with a
        readable message for anything else, including any control character
        (a newline or escape would otherwise be stripped or reach a terminal).
        """
        if text and not text.isprintable():
            bad = next(c for c in text if not c.isprintable())
            raise ValueError(f"malformed symbol {text!r}: control character {bad!r} is not allowed")
        raw = (text or "").strip().upper()
        for sep in ("_", "/", "-"):
            if sep in raw:
                base, _, quote = raw.partition(sep)
                break
        else:
            base, quote = raw, "USDT"
            for q in _KNOWN_QUOTES:
                if raw.endswith(q) and len(raw) > len(q) + 1:
                    base, quote = raw[: -len(q)], q
                    break
        if not _SYMBOL_RE.match(base) or not _SYMBOL_RE.match(quote):
            raise ValueError(
                f"malformed symbol {text!r}: expected letters/digits like NEIROETH or NEIROETH_USDT"
            )
        return cls(base, quote)

    @property
    def gate(self) -> str:
        """Gate.io spot pair / USDT contract name, e.g. ``NEIROETH_USDT``."""
        return f"{self.base}_{self.quote}"

    @property
    def mexc(self) -> str:
        """MEXC spot symbol, e.g. ``NEIROETHUSDT``."""
        return f"{self.base}{self.quote}"

    def __str__(self) -> str:  # the canonical display form
        return f"{self.base}{self.quote}"


class SymbolInfo(msgspec.Struct, frozen=True):
    """Trading rules of one symbol on one venue.

    ``size_step`` and ``min_size`` are in the venue's order unit (base on spot,
    contracts on perp). ``contract_multiplier`` is base units per contract
    (Gate ``quanto_multiplier``; 1 on spot). ``min_notional`` is in quote.
    Fee rates are fractions (0.001 = 10 bps).
    """

    venue: VenueId
    symbol: Symbol
    venue_symbol: str
    market_type: MarketType
    price_tick: Decimal
    size_step: Decimal
    min_size: Decimal = ZERO
    min_notional: Decimal = ZERO
    contract_multiplier: Decimal = Decimal(1)
    maker_fee_rate: Decimal = Decimal("0.002")
    taker_fee_rate: Decimal = Decimal("0.002")
    tradable: bool = True
    funding_interval_s: int = 0


class BookTop(msgspec.Struct, frozen=True):
    """Best bid/ask of one book, as last confirmed from the venue stream.

    ``bid_qty``/``ask_qty`` are in the venue's order unit. ``ts_ms`` is the
    local time (project clock) the book was last known current; ``age_ms``
    derives staleness from it. ``stale`` is True while the stream is known
    broken (disconnected, resyncing after a sequence gap).
    """

    venue: VenueId
    symbol: Symbol
    bid: Decimal
    bid_qty: Decimal
    ask: Decimal
    ask_qty: Decimal
    ts_ms: int
    exch_ts_ms: int = 0
    seq: int = 0
    stale: bool = False

    def age_ms(self, now_ms: int) -> int:
        return max(0, now_ms - self.ts_ms)

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2


class BookLevel(msgspec.Struct, frozen=True, array_like=True):
    price: Decimal
    qty: Decimal


class OrderBookSnapshot(msgspec.Struct, frozen=True):
    """L2 depth snapshot; bids descending, asks ascending; qty in order units."""

    venue: VenueId
    symbol: Symbol
    bids: list[BookLevel]
    asks: list[BookLevel]
    seq: int = 0
    ts_ms: int = 0


class OrderRequest(msgspec.Struct, frozen=True):
    """What the strategy asks a venue to do.

    ``client_order_id`` is caller-supplied and deterministic (task id +
    sequence); connectors map it to the venue field (Gate ``text`` with the
    ``t-`` prefix, MEXC ``newClientOrderId``). ``qty`` is base on spot,
    contracts on perp. ``price`` is required for LIMIT orders.

    ``expires_ms`` (local wall clock, ms; 0 = none): the venue must refuse the request if it
    receives it later. Connectors send it as Gate's ``X-Gate-Exptime`` header and as MEXC's
    ``recvWindow`` (docs/venues.md, "Request deadlines"), and refuse locally when it has passed.
    """

    client_order_id: str
    symbol: Symbol
    side: Side
    qty: Decimal
    price: Decimal | None = None
    order_type: OrderType = OrderType.LIMIT
    tif: TimeInForce = TimeInForce.IOC
    reduce_only: bool = False
    expires_ms: int = 0


class Order(msgspec.Struct):
    """An order as the venue reports it. ``avg_price`` is the real average
    execution price (None until something fills); ``fee`` is cumulative in
    ``fee_asset``."""

    venue: VenueId
    client_order_id: str
    symbol: Symbol
    side: Side
    qty: Decimal
    price: Decimal | None
    status: OrderStatus
    venue_order_id: str = ""
    filled_qty: Decimal = ZERO
    avg_price: Decimal | None = None
    fee: Decimal = ZERO
    fee_asset: str = ""
    order_type: OrderType = OrderType.LIMIT
    tif: TimeInForce = TimeInForce.IOC
    reduce_only: bool = False
    created_ms: int = 0
    updated_ms: int = 0
    reject_reason: str = ""

    @property
    def remaining_qty(self) -> Decimal:
        return self.qty - self.filled_qty


class Fill(msgspec.Struct, frozen=True):
    """One execution of one of our orders, as reported by the venue.

    ``price`` is the execution price (never the limit price); ``qty`` is in
    order units, ``qty_base`` in base units; ``fee`` is in ``fee_asset``
    (positive = paid). ``trade_id`` is unique per venue and makes booking
    idempotent.
    """

    venue: VenueId
    symbol: Symbol
    client_order_id: str
    trade_id: str
    side: Side
    price: Decimal
    qty: Decimal
    qty_base: Decimal
    fee: Decimal = ZERO
    fee_asset: str = ""
    ts_ms: int = 0
    venue_order_id: str = ""
    is_maker: bool = False


class Balance(msgspec.Struct, frozen=True):
    asset: str
    free: Decimal
    locked: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


class Position(msgspec.Struct, frozen=True):
    """A perpetual position. ``size_contracts`` is signed (+ long, - short);
    ``size_base`` = ``size_contracts`` x multiplier, same sign."""

    venue: VenueId
    symbol: Symbol
    size_contracts: Decimal
    size_base: Decimal
    entry_price: Decimal = ZERO
    mark_price: Decimal = ZERO
    unrealized_pnl: Decimal = ZERO
    margin: Decimal = ZERO
    leverage: Decimal = ZERO


class FundingRate(msgspec.Struct, frozen=True):
    """Current funding of a perpetual. ``rate`` is a fraction per interval;
    positive means longs pay shorts (Gate contract ``funding_rate``)."""

    venue: VenueId
    symbol: Symbol
    rate: Decimal
    interval_s: int
    next_funding_ms: int = 0
    mark_price: Decimal = ZERO
    index_price: Decimal = ZERO


class FundingPayment(msgspec.Struct, frozen=True):
    """A funding settlement booked to our position; ``amount`` signed in
    quote (+ received, - paid)."""

    venue: VenueId
    symbol: Symbol
    amount: Decimal
    rate: Decimal
    ts_ms: int
    asset: str = "USDT"


# ---- stream events (connector -> listeners) ---------------------------------


class BookEvent(msgspec.Struct, frozen=True, tag="book"):
    venue: VenueId
    symbol: Symbol


class OrderEvent(msgspec.Struct, frozen=True, tag="order"):
    venue: VenueId
    order: Order


class FillEvent(msgspec.Struct, frozen=True, tag="fill"):
    venue: VenueId
    fill: Fill


class BalanceEvent(msgspec.Struct, frozen=True, tag="balance"):
    venue: VenueId
    balance: Balance


class PositionEvent(msgspec.Struct, frozen=True, tag="position"):
    venue: VenueId
    position: Position


class ConnectionEvent(msgspec.Struct, frozen=True, tag="connection"):
    """A stream went up (``connected=True``) or down; ``stream`` names it."""

    venue: VenueId
    stream: str
    connected: bool
    detail: str = ""


VenueEvent = BookEvent | OrderEvent | FillEvent | BalanceEvent | PositionEvent | ConnectionEvent
