"""Gate.io spot venue (``VenueId.GATE_SPOT``) behind :class:`exchanges.venue.Venue`.

REST (docs/venues.md section 1): symbol rules ``/spot/currency_pairs/{pair}`` (+ user fees
``/spot/fee`` when keys exist), snapshot ``/spot/order_book?with_id=true``, orders
``/spot/orders`` (account ``spot``, ``text`` = ``t-`` + client order id), trades
``/spot/my_trades``, balances ``/spot/accounts``.
WS (section 2): ``spot.order_book_update`` (+ REST snapshot) and ``spot.book_ticker`` (cross-check
only); private ``spot.orders``, ``spot.usertrades``, ``spot.balances``.

Account modes (docs/venues.md 1.11): the mode is read at start (``GET /unified/unified_mode``);
in a unified mode orders go out with ``account=unified`` and balances come from
``GET /unified/accounts`` (the pool spot and futures share), in classic mode ``account=spot`` and
``/spot/accounts``. Known limits: ``open_orders`` and the finished-order lookup read the first
page (100 orders).
"""

from __future__ import annotations

import logging

import msgspec

from exchanges import clock
from exchanges.book import Level
from exchanges.gateio import constants as C
from exchanges.gateio import parse as P
from exchanges.gateio import schemas as S
from exchanges.gateio.base import GateVenueBase, decode
from exchanges.models import (
    Balance,
    BalanceEvent,
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
    VenueId,
)
from exchanges.venue import AuthError, NotFound, OrderRejected, VenueError

log = logging.getLogger(__name__)

_PAIR = msgspec.json.Decoder(S.CurrencyPair)
_FEE = msgspec.json.Decoder(S.SpotFee)
_BOOK = msgspec.json.Decoder(S.SpotOrderBook)
_ORDER = msgspec.json.Decoder(S.SpotOrder)
_ORDERS = msgspec.json.Decoder(list[S.SpotOrder])
_TRADES = msgspec.json.Decoder(list[S.SpotTrade])
_ACCOUNTS = msgspec.json.Decoder(list[S.SpotAccount])


class GateSpotVenue(GateVenueBase):
    """Gate.io spot. Quantities in base units. See module docstring."""

    venue_id = VenueId.GATE_SPOT
    market_type = MarketType.SPOT
    OBU_CHANNEL = "spot.order_book_update"
    TICKER_CHANNEL = "spot.book_ticker"
    PRIVATE_CHANNELS = frozenset({"spot.orders", "spot.usertrades", "spot.balances"})

    def __init__(
        self,
        *,
        rest_url: str = "https://api.gateio.ws/api/v4",
        ws_url: str = "wss://api.gateio.ws/ws/v4/",
        api_key: str = "",
        api_secret: str = "",
        request_timeout_s: float = 5.0,
    ) -> None:
        super().__init__(
            rest_url=rest_url, ws_url=ws_url, api_key=api_key, api_secret=api_secret,
            request_timeout_s=request_timeout_s, ping_channel="spot.ping",
        )

    # ---- public ---------------------------------------------------------------------------------

    async def _fetch_symbol_info(self, symbol: Symbol) -> SymbolInfo:
        pair = symbol.gate
        try:
            raw = await self.rest.public("GET", f"/spot/currency_pairs/{pair}")
        except OrderRejected as exc:  # 4xx INVALID_CURRENCY_PAIR etc.
            raise NotFound(f"unknown Gate spot pair {pair}: {exc}", venue=self.venue_id.value, code=exc.code) from exc
        info = decode(_PAIR, raw, "currency_pair", self.venue_id.value)
        fee = None
        if self.rest.has_keys:
            try:
                fee = decode(_FEE, await self.rest.private("GET", "/spot/fee", [("currency_pair", pair)]),
                             "spot fee", self.venue_id.value)
            except VenueError as exc:
                log.warning("%s: /spot/fee failed (%s); using the pair's fee field for now",
                            self.venue_id.value, exc)
                self._info_provisional[symbol] = clock.monotonic_s()
        return P.spot_symbol_info(info, fee)

    async def _fetch_snapshot(self, venue_symbol: str) -> tuple[list[Level], list[Level], int]:
        raw = await self.rest.public(
            "GET", "/spot/order_book",
            [("currency_pair", venue_symbol), ("limit", str(C.BOOK_SNAPSHOT_LIMIT)), ("with_id", "true")],
        )
        book = decode(_BOOK, raw, "order_book", self.venue_id.value)
        return book.bids, book.asks, book.id

    def _obu_payload(self, venue_symbol: str) -> list[str]:
        return [venue_symbol, C.BOOK_UPDATE_INTERVAL]

    # ---- private streams ----------------------------------------------------------------------

    async def watch_user(self, symbol: Symbol) -> None:
        """Subscribe ``spot.orders`` / ``spot.usertrades`` for the pair and ``spot.balances``.
        Raises AuthError without keys."""
        if not self.rest.has_keys:
            raise AuthError("watch_user needs API keys", venue=self.venue_id.value, code="NO_KEYS")
        await self.symbol_info(symbol)
        await self.stream.start()
        await self.stream.client.wait_connected(self.request_timeout_s)
        pair = symbol.gate
        await self.stream.subscribe("spot.orders", [pair], private=True)
        await self.stream.subscribe("spot.usertrades", [pair], private=True)
        await self.stream.subscribe("spot.balances", None, private=True)

    def _on_private(self, channel: str, result: msgspec.Raw) -> None:
        vid = self.venue_id
        if channel == "spot.orders":
            for o in S.SPOT_ORDERS_DECODER.decode(result):
                order = P.spot_order(o)
                self._remember(order.client_order_id, order.venue_order_id)
                self._emit(OrderEvent(vid, order))
        elif channel == "spot.usertrades":
            for t in S.SPOT_TRADES_DECODER.decode(result):
                self._emit(FillEvent(vid, P.spot_fill(t)))
        elif channel == "spot.balances":
            for b in S.SPOT_BALANCES_WS_DECODER.decode(result):
                self._emit(BalanceEvent(vid, P.spot_balance_ws(b)))

    # ---- orders -------------------------------------------------------------------------------

    async def place_order(self, request: OrderRequest) -> Order:
        """POST /spot/orders (section 1.5). Limit orders only in base qty; a MARKET sell is sent
        as ``type=market, tif=ioc``; a MARKET buy is refused locally (Gate takes a QUOTE amount
        for it). Raises OrderRejected (local=True for local checks), OutcomeUnknown,
        RateLimited, AuthError."""
        info = await self.symbol_info(request.symbol)
        if request.order_type is OrderType.MARKET and request.side is Side.BUY:
            raise OrderRejected(
                f"{request.symbol} {request.client_order_id}: spot market buys take a quote amount on Gate; "
                "use an IOC limit order", venue=self.venue_id.value, code="MARKET_BUY_UNSUPPORTED", local=True,
            )
        text, qty, price = self._prepare(request, info)
        pair = info.venue_symbol
        body: dict[str, str] = {
            "text": text,
            "currency_pair": pair,
            "type": request.order_type.value,
            "account": C.UNIFIED_ACCOUNT if await self.is_unified() else C.SPOT_ACCOUNT,
            "side": request.side.value,
            "amount": P.dec_str(qty),
        }
        if price is not None:
            body["price"] = P.dec_str(price)
        body["time_in_force"] = request.tif.value if request.order_type is OrderType.LIMIT else "ioc"
        key = f"spot.orders:{pair}"
        self.rest.limiter.add(key, *C.SPOT_ORDER_PER_MARKET_LIMIT)
        raw = await self.rest.private("POST", "/spot/orders", body=body, rate_keys=(key,), expires_ms=request.expires_ms)
        order = P.spot_order(decode(_ORDER, raw, "create order", self.venue_id.value, after_write=True))
        if not order.client_order_id:
            order.client_order_id = request.client_order_id
        self._remember(order.client_order_id, order.venue_order_id)
        return order

    def _order_ref(self, client_order_id: str) -> str:
        return self._cid_to_vid.get(client_order_id) or P.cid_to_text(client_order_id)

    async def cancel_order(self, symbol: Symbol, client_order_id: str) -> Order:
        """DELETE /spot/orders/{id|text}?currency_pair=. NotFound when unknown or already final
        (``ORDER_CLOSED`` / ``ORDER_CANCELLED``, docs/venues.md 1.12: the Venue protocol's
        "already gone", which callers settle with ``get_order``)."""
        raw = await self.rest.private(
            "DELETE", f"/spot/orders/{self._order_ref(client_order_id)}", [("currency_pair", symbol.gate)]
        )
        return P.spot_order(decode(_ORDER, raw, "cancel order", self.venue_id.value, after_write=True))

    async def get_order(self, symbol: Symbol, client_order_id: str) -> Order:
        """GET /spot/orders/{id|text}; Gate resolves a custom ``text`` only while the order is
        open (section 1.6), so on NotFound the finished orders of the pair (first page) are
        searched by ``text`` before NotFound is raised."""
        try:
            raw = await self.rest.private(
                "GET", f"/spot/orders/{self._order_ref(client_order_id)}", [("currency_pair", symbol.gate)]
            )
            order = P.spot_order(decode(_ORDER, raw, "order", self.venue_id.value))
        except NotFound:
            raw = await self.rest.private(
                "GET", "/spot/orders", [("currency_pair", symbol.gate), ("status", "finished"), ("limit", "100")]
            )
            text = P.cid_to_text(client_order_id)
            for o in decode(_ORDERS, raw, "orders", self.venue_id.value):
                if o.text == text:
                    order = P.spot_order(o)
                    break
            else:
                raise
        self._remember(order.client_order_id, order.venue_order_id)
        return order

    async def order_fills(self, symbol: Symbol, client_order_id: str) -> list[Fill]:
        """GET /spot/my_trades?currency_pair=&order_id= (execution price, fee, fee currency)."""
        vid = self._cid_to_vid.get(client_order_id) or (await self.get_order(symbol, client_order_id)).venue_order_id
        raw = await self.rest.private("GET", "/spot/my_trades", [("currency_pair", symbol.gate), ("order_id", vid)])
        fills = [P.spot_fill(t) for t in decode(_TRADES, raw, "my_trades", self.venue_id.value)]
        return [f if f.client_order_id else msgspec.structs.replace(f, client_order_id=client_order_id) for f in fills]

    async def open_orders(self, symbol: Symbol) -> list[Order]:
        raw = await self.rest.private(
            "GET", "/spot/orders", [("currency_pair", symbol.gate), ("status", "open"), ("limit", "100")]
        )
        return [P.spot_order(o) for o in decode(_ORDERS, raw, "open orders", self.venue_id.value)]

    async def balances(self) -> dict[str, Balance]:
        """Spot balances by asset: the unified pool in a unified mode, else ``/spot/accounts``."""
        if await self.is_unified():
            return await self.unified_balances()
        raw = await self.rest.private("GET", "/spot/accounts")
        return {
            a.currency: Balance(asset=a.currency, free=a.available, locked=a.locked)
            for a in decode(_ACCOUNTS, raw, "accounts", self.venue_id.value)
        }

    async def positions(self, symbol: Symbol | None = None) -> list[Position]:
        return []

    async def funding_rate(self, symbol: Symbol) -> FundingRate | None:
        return None

    async def funding_payments(self, symbol: Symbol, since_ms: int) -> list[FundingPayment]:
        return []
