"""MEXC spot v3 connector behind the :class:`exchanges.venue.Venue` protocol.

Composition: :class:`~exchanges.mexc.rest.MexcRest` (signed REST, limits, errors),
:class:`~exchanges.mexc.ws.MexcWsConnection` (public protobuf stream),
:class:`~exchanges.mexc.books.MexcBooks` (snapshot + diff books) and
:class:`~exchanges.mexc.user.MexcUserStream` (listen key + private stream).
Facts: docs/venues.md sections 3 and 4.

Orders: ``OrderRequest.client_order_id`` is sent as ``newClientOrderId`` and
looked up with ``origClientOrderId``. TIF maps to the MEXC order type (GTC ->
LIMIT, IOC -> IMMEDIATE_OR_CANCEL, FOK -> FILL_OR_KILL, post-only ->
LIMIT_MAKER; section 3.5). Quantities are rounded DOWN to the size step; a
buy price is rounded down and a sell price up to the tick (never a worse
price than asked). Requests below ``min_size``/``min_notional`` or on a
non-tradable symbol are refused locally with ``OrderRejected(local=True)``.
"""

from __future__ import annotations

import logging
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from exchanges import clock
from exchanges.mexc import constants as C
from exchanges.mexc import parse as P
from exchanges.mexc.books import MexcBooks
from exchanges.mexc.proto import mexc_push_pb2 as pb
from exchanges.mexc.push import (
    balance_from_push,
    book_ticker_from,
    fill_from_push,
    order_from_push,
    symbol_of,
)
from exchanges.mexc.rest import MexcRest
from exchanges.mexc.user import MexcUserStream
from exchanges.mexc.ws import MexcWsConnection
from exchanges.models import (
    BalanceEvent,
    Balance,
    BookTop,
    ConnectionEvent,
    Fill,
    FillEvent,
    FundingPayment,
    FundingRate,
    MarketType,
    Order,
    OrderEvent,
    OrderRequest,
    OrderType,
    Position,
    Side,
    Symbol,
    SymbolInfo,
    TimeInForce,
    VenueEvent,
    VenueId,
)
from exchanges.venue import NotFound, OrderRejected, OutcomeUnknown, RateLimited, VenueError, VenueListener

log = logging.getLogger(__name__)

PROVISIONAL_INFO_RETRY_S = 30.0  # rules built without the account's fees are fetched again this often


def round_to_step(value: Decimal, step: Decimal, rounding: str = ROUND_FLOOR) -> Decimal:
    """``value`` rounded to a multiple of ``step`` (down by default)."""
    if step <= 0:
        return value
    return (value / step).to_integral_value(rounding=rounding) * step


class MexcSpotVenue:
    """MEXC spot (venue_id ``MEXC_SPOT``). Public use needs no keys; private
    calls without keys raise AuthError. See the module docstring."""

    venue_id = VenueId.MEXC_SPOT
    market_type = MarketType.SPOT
    order_write_at_once = True  # POST /api/v3/order carries everything in the signed query

    def __init__(
        self,
        *,
        rest_url: str = "https://api.mexc.com",
        ws_url: str = "wss://wbs-api.mexc.com/ws",
        api_key: str = "",
        api_secret: str = "",
        request_timeout_s: float = 5.0,
        recv_window_ms: int = 5000,
        book_interval: str = C.DEFAULT_BOOK_INTERVAL,
        ws_max_age_s: float = C.WS_ROTATE_AFTER_S,
    ) -> None:
        if book_interval not in C.BOOK_INTERVALS:
            raise ValueError(f"book_interval must be one of {C.BOOK_INTERVALS}, got {book_interval!r}")
        self.ws_url = ws_url
        self.book_interval = book_interval
        self.rest = MexcRest(rest_url=rest_url, api_key=api_key, api_secret=api_secret,
                             request_timeout_s=request_timeout_s, recv_window_ms=recv_window_ms)
        self.rest.on_ban = self._on_ip_ban
        self.ws_max_age_s = ws_max_age_s  # connections are replaced before the venue's 24 h limit
        self._listeners: tuple[VenueListener, ...] = ()  # replaced, never mutated: emit iterates it as is
        self._infos: dict[str, SymbolInfo] = {}
        self._info_provisional: dict[str, float] = {}  # venue symbol -> monotonic time of a fee fallback
        self._symbols: dict[str, Symbol] = {}
        self.books = MexcBooks(self.rest, self._emit)
        self._public: MexcWsConnection | None = None
        self.user: MexcUserStream | None = None
        self._started = False
        self.malformed = 0

    def __repr__(self) -> str:
        return f"MexcSpotVenue({self.rest.base_url!r}, {self.ws_url!r})"

    # ---- lifecycle / listeners ------------------------------------------------------

    async def start(self) -> None:
        """Open the HTTP session and measure the server-time offset (idempotent)."""
        if self._started:
            return
        await self.rest.start()
        await self.rest.sync_time()
        self._started = True

    async def close(self) -> None:
        """Close streams and session (idempotent)."""
        if self.user is not None:
            await self.user.close()
            self.user = None
        if self._public is not None:
            await self._public.close()
            self._public = None
        await self.books.close()
        await self.rest.close()
        self._started = False

    def add_listener(self, listener: VenueListener) -> None:
        if listener not in self._listeners:
            self._listeners = (*self._listeners, listener)

    def remove_listener(self, listener: VenueListener) -> None:
        if listener in self._listeners:
            self._listeners = tuple(x for x in self._listeners if x != listener)

    def _emit(self, event: VenueEvent) -> None:
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                log.exception("MEXC listener failed on %s", type(event).__name__)

    # ---- market data ----------------------------------------------------------------

    async def symbol_info(self, symbol: Symbol) -> SymbolInfo:
        """Rules from ``GET /api/v3/exchangeInfo?symbol=`` (section 3.3) with, when keys
        exist, the account's own fee rates from ``GET /api/v3/tradeFee`` (section 3.5;
        exchangeInfo's commissions are the venue's defaults). Cached; rules whose fee lookup
        failed use exchangeInfo's rates and are fetched again after
        ``PROVISIONAL_INFO_RETRY_S``. Raises NotFound for an unknown symbol."""
        info = self._infos.get(symbol.mexc)
        fetched_s = self._info_provisional.get(symbol.mexc)
        if info is not None and (fetched_s is None or clock.monotonic_s() - fetched_s < PROVISIONAL_INFO_RETRY_S):
            return info
        data = await self.rest.exchange_info(symbol.mexc)
        for rules in data.symbols:
            if rules.symbol == symbol.mexc:
                info = P.symbol_info_from(rules, symbol)
                self._info_provisional.pop(symbol.mexc, None)
                if self.rest.has_keys:
                    try:
                        info = P.with_account_fees(info, await self.rest.trade_fee(symbol.mexc))
                    except VenueError as exc:
                        log.warning("MEXC %s: /api/v3/tradeFee failed (%s); using exchangeInfo rates for now",
                                    symbol.mexc, exc)
                        self._info_provisional[symbol.mexc] = clock.monotonic_s()
                self._infos[symbol.mexc] = info
                self._symbols[symbol.mexc] = symbol
                return info
        raise NotFound(f"MEXC does not list {symbol.mexc}", venue=C.VENUE_NAME, code="-1121")

    async def watch_book(self, symbol: Symbol) -> None:
        """Subscribe ``aggre.depth`` and ``aggre.bookTicker`` at ``book_interval`` for ``symbol`` (section 4.3)
        and keep a sequence-checked book (section 4.5). Returns once subscribed."""
        self._symbols[symbol.mexc] = symbol
        self.books.track(symbol)
        conn = self._public_conn()
        await conn.subscribe(C.TOPIC_DEPTH.format(interval=self.book_interval, symbol=symbol.mexc))
        await conn.subscribe(C.TOPIC_BOOK_TICKER.format(interval=self.book_interval, symbol=symbol.mexc))

    def book_top(self, symbol: Symbol) -> BookTop | None:
        """O(1) best bid/ask; ``stale`` while disconnected or resyncing. No I/O."""
        return self.books.book_top(symbol)

    def _public_conn(self) -> MexcWsConnection:
        if self._public is None:
            self._public = MexcWsConnection(self.ws_url, stream="public", on_push=self._on_public_push,
                                            on_state=self._on_public_state, on_alive=self.books.on_alive,
                                            max_age_s=self.ws_max_age_s,
                                            handlers={"publicAggreDepths": self.books.on_depth_push})
        return self._public

    def _on_ip_ban(self, until_ms: int, detail: str) -> None:
        """HTTP 418: report the ban (every request is held by the REST layer until ``until_ms``)."""
        self._emit(ConnectionEvent(venue=self.venue_id, stream="rest", connected=False,
                                   detail=f"{detail} (until {until_ms} ms)"))

    def _on_public_state(self, connected: bool, detail: str) -> None:
        self.books.on_connection(connected, detail)
        self._emit(ConnectionEvent(venue=self.venue_id, stream="public", connected=connected, detail=detail))

    def _on_public_push(self, msg: pb.PushDataV3ApiWrapper) -> None:
        """Public pushes other than depth (which MexcWsConnection hands to the books directly)."""
        kind = msg.WhichOneof("body")
        if kind == "publicAggreDepths":
            if not self.books.on_depth_push(msg):
                self.malformed += 1
        elif kind == "publicAggreBookTicker":
            top = book_ticker_from(msg)
            if top is None:
                self.malformed += 1
                return
            self.books.on_ticker(*top)

    # ---- private stream -------------------------------------------------------------

    async def watch_user(self, symbol: Symbol) -> None:
        """Subscribe private orders/deals/account via a listen key (section 3.6).
        The stream is account-wide; ``symbol`` is remembered for decoding. Raises AuthError without keys."""
        self._symbols[symbol.mexc] = symbol
        if self.user is None:
            self.user = MexcUserStream(self.rest, self.ws_url, on_push=self._on_private_push,
                                       on_state=self._on_private_state, ws_max_age_s=self.ws_max_age_s)
        try:
            await self.user.start()
        except VenueError:
            self.user = None
            raise

    def _on_private_state(self, connected: bool, detail: str) -> None:
        self._emit(ConnectionEvent(venue=self.venue_id, stream="private", connected=connected, detail=detail))

    def _symbol_from(self, msg: pb.PushDataV3ApiWrapper) -> Symbol | None:
        venue_symbol = symbol_of(msg.channel, msg.symbol)
        known = self._symbols.get(venue_symbol)
        if known is not None:
            return known
        try:
            return Symbol.parse(venue_symbol)
        except ValueError:
            return None

    def _on_private_push(self, msg: pb.PushDataV3ApiWrapper) -> None:
        kind = msg.WhichOneof("body")
        event: VenueEvent | None = None
        if kind == "privateAccount":
            balance = balance_from_push(msg)
            event = BalanceEvent(venue=self.venue_id, balance=balance) if balance else None
        elif kind in ("privateOrders", "privateDeals"):
            symbol = self._symbol_from(msg)
            if symbol is not None and kind == "privateOrders":
                order = order_from_push(msg, symbol)
                event = OrderEvent(venue=self.venue_id, order=order) if order else None
            elif symbol is not None:
                fill = fill_from_push(msg, symbol)
                event = FillEvent(venue=self.venue_id, fill=fill) if fill else None
        else:
            return  # not a private body we use
        if event is None:
            self.malformed += 1
            log.debug("MEXC private push unusable: %s", kind)
            return
        self._emit(event)

    # ---- orders ---------------------------------------------------------------------

    async def place_order(self, request: OrderRequest) -> Order:
        """``POST /api/v3/order`` (section 3.5). For IOC/FOK the final state is fetched
        once right after the acknowledgement (best effort). Raises OrderRejected
        (``local=True`` when refused before sending), OutcomeUnknown, RateLimited, AuthError."""
        try:
            info = await self.symbol_info(request.symbol)
        except (OutcomeUnknown, RateLimited) as exc:  # nothing was sent yet: a local refusal
            raise OrderRejected(f"MEXC {request.symbol.mexc}: symbol rules unavailable ({exc}); order not sent",
                                venue=C.VENUE_NAME, code="NO_RULES", local=True) from exc
        params, qty, price = self._order_params(request, info)
        order_type = OrderType.MARKET if request.order_type is OrderType.MARKET else OrderType.LIMIT
        ack = await self.rest.new_order(params, expires_ms=request.expires_ms)
        order = P.order_from_ack(ack, request.symbol, request.client_order_id, request.tif, order_type)
        if not order.venue_order_id and not ack.symbol:
            log.warning("MEXC order %s: acknowledgement without orderId", request.client_order_id)
        order.qty = order.qty or qty
        order.price = order.price or price
        order.side = request.side
        if request.tif in (TimeInForce.IOC, TimeInForce.FOK):
            try:
                return await self.get_order(request.symbol, request.client_order_id)
            except VenueError as exc:  # the order exists; its final state comes later
                log.info("MEXC order %s: state query after placement failed: %s", request.client_order_id, exc)
        return order

    def _order_params(self, request: OrderRequest, info: SymbolInfo) -> tuple[list[tuple[str, str]], Decimal, Decimal | None]:
        def refuse(reason: str) -> OrderRejected:
            return OrderRejected(f"MEXC {request.symbol.mexc} {request.client_order_id}: {reason}",
                                 venue=C.VENUE_NAME, code="LOCAL", local=True)

        if not info.tradable:
            raise refuse("symbol is not tradable (status/side restrictions)")
        if not request.client_order_id:
            raise refuse("client_order_id is required")
        qty = round_to_step(request.qty, info.size_step)
        if qty <= 0 or qty < info.min_size:
            raise refuse(f"qty {request.qty} -> {qty} below minimum {info.min_size} (step {info.size_step})")
        params: list[tuple[str, str]] = [("symbol", request.symbol.mexc),
                                         ("side", "BUY" if request.side is Side.BUY else "SELL")]
        if request.order_type is OrderType.MARKET:
            params += [("type", "MARKET"), ("quantity", P.fmt_decimal(qty))]
            price = None
        else:
            if request.price is None or request.price <= 0:
                raise refuse("limit order needs a positive price")
            rounding = ROUND_FLOOR if request.side is Side.BUY else ROUND_CEILING
            price = round_to_step(request.price, info.price_tick, rounding)
            if price <= 0:
                raise refuse(f"price {request.price} rounds to zero at tick {info.price_tick}")
            if qty * price < info.min_notional:
                raise refuse(f"notional {qty * price} below minimum {info.min_notional} USDT")
            params += [("type", C.ORDER_TYPE_BY_TIF[request.tif]), ("quantity", P.fmt_decimal(qty)),
                       ("price", P.fmt_decimal(price))]
        params.append(("newClientOrderId", request.client_order_id))
        return params, qty, price

    async def cancel_order(self, symbol: Symbol, client_order_id: str) -> Order:
        """``DELETE /api/v3/order?origClientOrderId=`` -> final order. Raises NotFound
        for an unknown order (codes -2011/-2013)."""
        info = await self.rest.cancel_order(symbol.mexc, client_order_id)
        return P.order_from_info(info, symbol, client_order_id)

    async def get_order(self, symbol: Symbol, client_order_id: str) -> Order:
        """``GET /api/v3/order?origClientOrderId=``. Raises NotFound if never seen."""
        info = await self.rest.query_order(symbol.mexc, client_order_id)
        return P.order_from_info(info, symbol, client_order_id)

    async def order_fills(self, symbol: Symbol, client_order_id: str) -> list[Fill]:
        """Executions of one order: its ``orderId`` from ``GET /api/v3/order``, then
        ``GET /api/v3/myTrades?orderId=`` (real price, commission, commissionAsset)."""
        order = await self.get_order(symbol, client_order_id)
        if order.filled_qty <= 0 or not order.venue_order_id:
            return []
        trades = await self.rest.my_trades(symbol.mexc, order.venue_order_id)
        fills = [P.fill_from_trade(t, symbol, client_order_id) for t in trades
                 if t.orderId is None or str(t.orderId) == order.venue_order_id]
        return sorted(fills, key=lambda f: (f.ts_ms, f.trade_id))

    async def open_orders(self, symbol: Symbol) -> list[Order]:
        """``GET /api/v3/openOrders?symbol=`` (all of the account's open orders on it)."""
        return [P.order_from_info(o, symbol) for o in await self.rest.open_orders(symbol.mexc)]

    async def balances(self) -> dict[str, Balance]:
        """``GET /api/v3/account`` balances by asset."""
        return P.balances_from(await self.rest.account())

    async def positions(self, symbol: Symbol | None = None) -> list[Position]:
        return []

    async def funding_rate(self, symbol: Symbol) -> FundingRate | None:
        return None

    async def funding_payments(self, symbol: Symbol, since_ms: int) -> list[FundingPayment]:
        return []

    # ---- diagnostics ------------------------------------------------------------------

    def server_time_ms(self) -> int:
        """Local estimate of the venue clock (project clock + measured offset)."""
        return self.rest.time.now_ms() if self.rest.time.synced else clock.now_ms()
