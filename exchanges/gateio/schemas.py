"""Gate.io v4 wire schemas: msgspec Structs mirroring Gate's JSON field names exactly.

Conversion to domain models lives in :mod:`exchanges.gateio.parse`. Numerics are declared
``Decimal``: msgspec decodes a Decimal from a JSON string, int or float (the textual form is
kept), which covers futures sizes sent as int (old) or decimal string (``X-Gate-Size-Decimal``)
and the WS frames that use JSON numbers (docs/venues.md sections 1.7, 2.6, 6 caveat).
Ids that may exceed 2^53 are ``int | str`` (pitfall 8.2). Every field has a default so that
older/newer shapes still decode; decoders are built once at import.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

ZERO = Decimal(0)
Id = int | str


# ---- REST ---------------------------------------------------------------------------------------


class ApiError(msgspec.Struct):
    label: str = ""  # machine error label, e.g. BALANCE_NOT_ENOUGH
    message: str = ""  # human text
    detail: str = ""


class ServerTime(msgspec.Struct):
    server_time: int  # ms (section 1.1)


class AccountDetail(msgspec.Struct):
    user_id: int = 0  # numeric user id for futures private WS payloads (section 1.10)


class CurrencyPair(msgspec.Struct):
    """GET /spot/currency_pairs/{pair} (section 1.3)."""

    id: str
    base: str = ""
    quote: str = ""
    fee: Decimal = Decimal("0.2")  # deprecated fee, PERCENT
    min_base_amount: Decimal | None = None  # min order amount in base
    min_quote_amount: Decimal | None = None  # min notional in quote
    amount_precision: int = 8  # step = 10^-n
    precision: int = 8  # tick = 10^-n
    trade_status: str = "tradable"  # untradable | buyable | sellable | tradable


class SpotFee(msgspec.Struct):
    """GET /spot/fee?currency_pair= (fractions, e.g. "0.002")."""

    maker_fee: Decimal | None = None
    taker_fee: Decimal | None = None


class Contract(msgspec.Struct):
    """GET /futures/usdt/contracts/{contract} (section 1.7)."""

    name: str
    quanto_multiplier: Decimal = Decimal(1)  # base units per contract
    order_size_min: Decimal = Decimal(1)  # contracts
    order_size_max: Decimal | None = None
    enable_decimal: bool = False  # fractional sizes allowed
    order_price_round: Decimal = Decimal("0.0001")  # price tick
    mark_price: Decimal = ZERO
    index_price: Decimal = ZERO
    funding_rate: Decimal = ZERO  # current period rate (fraction)
    funding_interval: int = 28800  # s
    funding_next_apply: Decimal = ZERO  # unix s (float)
    maker_fee_rate: Decimal | None = None
    taker_fee_rate: Decimal | None = None
    in_delisting: bool = False
    status: str = "trading"  # trading | delisting | delisted | prelaunch | circuit_breaker


class SpotOrderBook(msgspec.Struct):
    """GET /spot/order_book?with_id=true (section 1.4): levels [price, amount]."""

    id: int = 0  # update id (only with with_id=true)
    current: int = 0  # ms
    update: int = 0
    asks: list[tuple[Decimal, Decimal]] = []
    bids: list[tuple[Decimal, Decimal]] = []


class FuturesLevel(msgspec.Struct):
    p: Decimal  # price
    s: Decimal  # size in contracts (int or decimal string)


class FuturesOrderBook(msgspec.Struct):
    """GET /futures/usdt/order_book?with_id=true (section 1.8); ``current`` in float seconds."""

    id: int = 0
    current: Decimal = ZERO
    update: Decimal = ZERO
    asks: list[FuturesLevel] = []
    bids: list[FuturesLevel] = []


class SpotOrder(msgspec.Struct):
    """Spot Order (REST section 1.5 and WS spot.orders section 2.6)."""

    id: Id = ""
    text: str = ""  # client id "t-..."
    create_time_ms: Decimal = ZERO
    update_time_ms: Decimal = ZERO
    create_time: Decimal = ZERO
    status: str = ""  # open | closed | cancelled (REST); absent on old WS frames
    event: str = ""  # WS only: put | update | finish
    currency_pair: str = ""
    type: str = "limit"
    side: str = "buy"
    amount: Decimal = ZERO  # base (limit)
    price: Decimal = ZERO
    time_in_force: str = "gtc"
    left: Decimal = ZERO
    filled_amount: Decimal | None = None  # newer field; else amount - left
    filled_total: Decimal = ZERO  # quote
    avg_deal_price: Decimal | None = None
    fee: Decimal = ZERO
    fee_currency: str = ""
    point_fee: Decimal = ZERO
    gt_fee: Decimal = ZERO
    finish_as: str = ""  # open | filled | cancelled | ioc | poc | fok | stp | ...


class SpotTrade(msgspec.Struct):
    """GET /spot/my_trades and WS spot.usertrades."""

    id: Id = ""
    create_time_ms: Decimal = ZERO  # may be "1673425237652.513"
    create_time: Decimal = ZERO
    currency_pair: str = ""
    side: str = "buy"
    role: str = "taker"
    amount: Decimal = ZERO  # base
    price: Decimal = ZERO  # execution price
    order_id: Id = ""
    fee: Decimal = ZERO
    fee_currency: str = ""
    point_fee: Decimal = ZERO
    gt_fee: Decimal = ZERO
    text: str = ""


class SpotAccount(msgspec.Struct):
    """GET /spot/accounts item."""

    currency: str
    available: Decimal = ZERO
    locked: Decimal = ZERO


class UnifiedMode(msgspec.Struct):
    """GET /unified/unified_mode: ``classic`` or a unified mode (docs/venues.md 1.11)."""

    mode: str = "classic"


class UnifiedBalance(msgspec.Struct):
    """One currency of GET /unified/accounts ``balances``."""

    available: Decimal = ZERO
    freeze: Decimal = ZERO


class UnifiedAccount(msgspec.Struct):
    """GET /unified/accounts: the balance pool spot and futures share in unified mode."""

    balances: dict[str, UnifiedBalance] = {}


class SpotBalanceWs(msgspec.Struct):
    """WS spot.balances item; ``freeze`` is absent on old frames (then total - available)."""

    currency: str
    available: Decimal = ZERO
    total: Decimal | None = None
    freeze: Decimal | None = None
    timestamp_ms: Decimal = ZERO


class FuturesOrder(msgspec.Struct):
    """Futures order (REST section 1.9 and WS futures.orders); ``size``/``left`` signed contracts."""

    id: Id = 0
    text: str = ""
    contract: str = ""
    size: Decimal = ZERO
    left: Decimal = ZERO
    price: Decimal = ZERO
    fill_price: Decimal = ZERO  # average execution price
    tif: str = "gtc"
    status: str = ""  # open | finished
    finish_as: str = ""
    is_reduce_only: bool = False
    create_time: Decimal = ZERO  # float s
    create_time_ms: Decimal | None = None
    update_time: Decimal | None = None
    finish_time: Decimal | None = None
    finish_time_ms: Decimal | None = None


class FuturesTrade(msgspec.Struct):
    """GET /futures/usdt/my_trades and WS futures.usertrades; ``size`` signed contracts."""

    id: Id = ""
    create_time: Decimal = ZERO  # float s
    create_time_ms: Decimal | None = None
    contract: str = ""
    order_id: Id = ""
    size: Decimal = ZERO
    price: Decimal = ZERO
    role: str = "taker"
    text: str = ""
    fee: Decimal = ZERO  # USDT
    point_fee: Decimal = ZERO


class FuturesAccount(msgspec.Struct):
    """GET /futures/usdt/accounts (section 1.10)."""

    total: Decimal = ZERO
    available: Decimal = ZERO
    currency: str = "USDT"
    unrealised_pnl: Decimal = ZERO


class FuturesPosition(msgspec.Struct):
    """REST /futures/usdt/positions item and WS futures.positions item."""

    contract: str = ""
    size: Decimal = ZERO  # signed contracts
    entry_price: Decimal = ZERO
    mark_price: Decimal = ZERO
    unrealised_pnl: Decimal = ZERO
    margin: Decimal = ZERO
    leverage: Decimal = ZERO
    mode: str = "single"


class AccountBookEntry(msgspec.Struct):
    """GET /futures/usdt/account_book item (type=fund => funding settlement)."""

    time: Decimal = ZERO  # float s
    change: Decimal = ZERO  # signed USDT
    type: str = ""
    text: str = ""
    contract: str = ""


class FundingRecord(msgspec.Struct):
    """GET /futures/usdt/funding_rate item."""

    t: int = 0  # unix s
    r: Decimal = ZERO


# ---- WebSocket ----------------------------------------------------------------------------------


class SpotObuResult(msgspec.Struct):
    """spot.order_book_update result (section 2.5)."""

    s: str  # pair
    U: int  # first update id covered
    u: int  # last update id covered
    # bids [price, amount], "0" = delete. The price stays the venue's text: the book turns it into
    # its cached Decimal key (exchanges.book.L2Book.apply_diff_text); the amount is a Decimal.
    b: list[tuple[str, Decimal]] = []
    a: list[tuple[str, Decimal]] = []
    t: int = 0  # ms
    full: bool = False  # 2025+: full snapshot, overwrite the book


class FuturesTextLevel(msgspec.Struct):
    """A futures book level with the price as text (see SpotObuResult.b)."""

    p: str  # price
    s: Decimal  # size in contracts (int or decimal string)


class FuturesObuResult(msgspec.Struct):
    """futures.order_book_update result (section 2.5); sizes in contracts."""

    s: str
    U: int
    u: int
    b: list[FuturesTextLevel] = []
    a: list[FuturesTextLevel] = []
    t: int = 0
    full: bool = False


class BookTickerResult(msgspec.Struct):
    """spot/futures.book_ticker result: best bid/ask with update id ``u``."""

    s: str
    b: Decimal
    B: Decimal
    a: Decimal
    A: Decimal
    u: int = 0
    t: int = 0


class SpotObuMsg(msgspec.Struct, tag_field="channel", tag="spot.order_book_update"):
    result: SpotObuResult
    event: str = "update"
    time_ms: int = 0


class FuturesObuMsg(msgspec.Struct, tag_field="channel", tag="futures.order_book_update"):
    result: FuturesObuResult
    event: str = "update"
    time_ms: int = 0


class SpotTickerMsg(msgspec.Struct, tag_field="channel", tag="spot.book_ticker"):
    result: BookTickerResult
    event: str = "update"


class FuturesTickerMsg(msgspec.Struct, tag_field="channel", tag="futures.book_ticker"):
    result: BookTickerResult
    event: str = "update"


HotMsg = SpotObuMsg | FuturesObuMsg | SpotTickerMsg | FuturesTickerMsg


class WsError(msgspec.Struct):
    code: int = 0
    message: str = ""


class Envelope(msgspec.Struct):
    """Any Gate WS frame (section 2.2); ``result`` decoded later per channel."""

    channel: str = ""
    event: str = ""
    time: int = 0
    time_ms: int = 0
    error: WsError | None = None
    result: msgspec.Raw = msgspec.Raw(b"null")


HOT_DECODER = msgspec.json.Decoder(HotMsg)
ENVELOPE_DECODER = msgspec.json.Decoder(Envelope)
SPOT_ORDERS_DECODER = msgspec.json.Decoder(list[SpotOrder])
SPOT_TRADES_DECODER = msgspec.json.Decoder(list[SpotTrade])
SPOT_BALANCES_WS_DECODER = msgspec.json.Decoder(list[SpotBalanceWs])
FUTURES_ORDERS_DECODER = msgspec.json.Decoder(list[FuturesOrder])
FUTURES_TRADES_DECODER = msgspec.json.Decoder(list[FuturesTrade])
FUTURES_POSITIONS_DECODER = msgspec.json.Decoder(list[FuturesPosition])
ANY_DECODER = msgspec.json.Decoder(Any)
ENCODER = msgspec.json.Encoder(decimal_format="string")
