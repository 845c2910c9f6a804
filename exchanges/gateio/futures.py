"""Gate.io USDT perpetual venue (``VenueId.GATE_PERP``) behind :class:`exchanges.venue.Venue`.

Quantities are CONTRACTS; base = contracts x ``quanto_multiplier`` (section 1.7). Every REST
request and the WS handshake carry ``X-Gate-Size-Decimal: 1``; sizes are sent as decimal
strings and decoded from str or int (pitfall 8.1).
REST (sections 1.7-1.10): contract ``/futures/usdt/contracts/{c}``, snapshot
``/futures/usdt/order_book?with_id=true``, orders ``/futures/usdt/orders`` (signed ``size``,
``tif`` gtc/ioc/poc/fok, ``reduce_only``, ``text``), trades ``/futures/usdt/my_trades``,
account ``/futures/usdt/accounts`` (unified mode: the pool's USDT, ``/unified/accounts``),
positions, funding ``account_book?type=fund``.
WS (section 2): ``futures.order_book_update`` (+ snapshot), ``futures.book_ticker`` (cross-check);
private ``futures.orders`` / ``futures.usertrades`` / ``futures.positions`` with payload
``[user_id, contract]`` (section 2.6: the user id always comes first, ``[user_id, "!all"]`` for
every contract); ``user_id`` from ``GET /account/detail``, else from ``GET /spot/fee``
(``user_id``). Without a user id nothing is subscribed: ``watch_user`` raises VenueError and
the caller retries (a payload without it is refused by the venue).

Recommended account mode: single (one-way) position mode (section 1.9 note).
"""

from __future__ import annotations

import logging
from decimal import Decimal

import msgspec

from exchanges.book import Level
from exchanges.gateio import constants as C
from exchanges.gateio import parse as P
from exchanges.gateio import schemas as S
from exchanges.gateio.base import GateVenueBase, decode
from exchanges.models import (
    Balance,
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
    PositionEvent,
    Symbol,
    SymbolInfo,
    VenueId,
)
from exchanges.venue import AuthError, NotFound, OrderRejected, VenueError

log = logging.getLogger(__name__)

_BASE = "/futures/" + C.SETTLE
_CONTRACT = msgspec.json.Decoder(S.Contract)
_BOOK = msgspec.json.Decoder(S.FuturesOrderBook)
_ORDER = msgspec.json.Decoder(S.FuturesOrder)
_ORDERS = msgspec.json.Decoder(list[S.FuturesOrder])
_TRADES = msgspec.json.Decoder(list[S.FuturesTrade])
_ACCOUNT = msgspec.json.Decoder(S.FuturesAccount)
_POSITION = msgspec.json.Decoder(S.FuturesPosition)
_POSITIONS = msgspec.json.Decoder(list[S.FuturesPosition])
_ACCOUNT_BOOK = msgspec.json.Decoder(list[S.AccountBookEntry])
_FUNDING_HISTORY = msgspec.json.Decoder(list[S.FundingRecord])
_DETAIL = msgspec.json.Decoder(S.AccountDetail)
_FEE_USER = msgspec.json.Decoder(S.AccountDetail)  # /spot/fee carries user_id too


class GatePerpVenue(GateVenueBase):
    """Gate.io USDT perpetuals. Quantities in contracts. See module docstring."""

    venue_id = VenueId.GATE_PERP
    market_type = MarketType.PERP
    OBU_CHANNEL = "futures.order_book_update"
    TICKER_CHANNEL = "futures.book_ticker"
    PRIVATE_CHANNELS = frozenset({"futures.orders", "futures.usertrades", "futures.positions"})

    def __init__(
        self,
        *,
        rest_url: str = "https://api.gateio.ws/api/v4",
        ws_url: str = "wss://fx-ws.gateio.ws/v4/ws/usdt",
        api_key: str = "",
        api_secret: str = "",
        request_timeout_s: float = 5.0,
    ) -> None:
        super().__init__(
            rest_url=rest_url, ws_url=ws_url, api_key=api_key, api_secret=api_secret,
            request_timeout_s=request_timeout_s, ping_channel="futures.ping",
            rest_headers=dict(C.SIZE_DECIMAL_HEADER), ws_headers=dict(C.SIZE_DECIMAL_HEADER),
        )
        self._user_id: str | None = None

    # ---- public ---------------------------------------------------------------------------------

    async def _contract(self, contract: str) -> S.Contract:
        try:
            raw = await self.rest.public("GET", f"{_BASE}/contracts/{contract}")
        except OrderRejected as exc:  # 4xx CONTRACT_NOT_FOUND etc.
            raise NotFound(f"unknown Gate contract {contract}: {exc}", venue=self.venue_id.value, code=exc.code) from exc
        return decode(_CONTRACT, raw, "contract", self.venue_id.value)

    async def _fetch_symbol_info(self, symbol: Symbol) -> SymbolInfo:
        return P.perp_symbol_info(await self._contract(symbol.gate))

    async def _fetch_snapshot(self, venue_symbol: str) -> tuple[list[Level], list[Level], int]:
        raw = await self.rest.public(
            "GET", f"{_BASE}/order_book",
            [("contract", venue_symbol), ("limit", str(C.BOOK_SNAPSHOT_LIMIT)), ("with_id", "true")],
        )
        book = decode(_BOOK, raw, "order_book", self.venue_id.value)
        return [(lv.p, lv.s) for lv in book.bids], [(lv.p, lv.s) for lv in book.asks], book.id

    def _obu_payload(self, venue_symbol: str) -> list[str]:
        return [venue_symbol, C.BOOK_UPDATE_INTERVAL, C.PERP_BOOK_LEVEL]

    async def funding_rate(self, symbol: Symbol) -> FundingRate | None:
        """Current rate and next settlement from the contract endpoint (never cached)."""
        return P.funding_rate(await self._contract(symbol.gate))

    def _multiplier(self, contract: str) -> Decimal:
        try:
            info = self._info.get(P.symbol_of(contract))
        except ValueError:
            info = None
        if info is None:
            log.warning("%s: no contract info cached for %s; multiplier 1 assumed", self.venue_id.value, contract)
            return Decimal(1)
        return info.contract_multiplier

    # ---- private streams ----------------------------------------------------------------------

    async def user_id(self) -> str:
        """Numeric user id (cached): ``GET /account/detail``, else ``GET /spot/fee``'s
        ``user_id``. Raises AuthError on bad credentials, VenueError when neither answers."""
        if self._user_id:
            return self._user_id
        errors: list[str] = []
        for endpoint, decoder in (("/account/detail", _DETAIL), ("/spot/fee", _FEE_USER)):
            try:
                found = decode(decoder, await self.rest.private("GET", endpoint), endpoint, self.venue_id.value)
            except AuthError:
                raise
            except VenueError as exc:
                errors.append(f"{endpoint}: {exc}")
                continue
            if found.user_id:
                self._user_id = str(found.user_id)
                return self._user_id
            errors.append(f"{endpoint}: no user_id in the answer")
        raise VenueError(f"futures private channels need the user id; {'; '.join(errors)}",
                         venue=self.venue_id.value, code="NO_USER_ID")

    async def watch_user(self, symbol: Symbol) -> None:
        """Subscribe ``futures.orders`` / ``usertrades`` / ``positions`` with ``[user_id,
        contract]``. Raises AuthError without keys, VenueError when the user id is unknown
        (nothing subscribed; call again)."""
        if not self.rest.has_keys:
            raise AuthError("watch_user needs API keys", venue=self.venue_id.value, code="NO_KEYS")
        await self.symbol_info(symbol)  # multiplier for fills/positions
        payload = [await self.user_id(), symbol.gate]
        await self.stream.start()
        await self.stream.client.wait_connected(self.request_timeout_s)
        for channel in ("futures.orders", "futures.usertrades", "futures.positions"):
            await self.stream.subscribe(channel, payload, private=True)

    def _on_private(self, channel: str, result: msgspec.Raw) -> None:
        vid = self.venue_id
        if channel == "futures.orders":
            for o in S.FUTURES_ORDERS_DECODER.decode(result):
                order = P.perp_order(o)
                self._remember(order.client_order_id, order.venue_order_id)
                self._emit(OrderEvent(vid, order))
        elif channel == "futures.usertrades":
            for t in S.FUTURES_TRADES_DECODER.decode(result):
                self._emit(FillEvent(vid, P.perp_fill(t, self._multiplier(t.contract))))
        elif channel == "futures.positions":
            for p in S.FUTURES_POSITIONS_DECODER.decode(result):
                self._emit(PositionEvent(vid, P.perp_position(p, self._multiplier(p.contract))))

    # ---- orders -------------------------------------------------------------------------------

    async def place_order(self, request: OrderRequest) -> Order:
        """POST /futures/usdt/orders with signed contract ``size`` (buy > 0, sell < 0) as a
        decimal string; MARKET = ``price "0"`` + ``tif ioc``. Raises OrderRejected (local=True
        for local checks), OutcomeUnknown, RateLimited, AuthError."""
        info = await self.symbol_info(request.symbol)
        text, qty, price = self._prepare(request, info)
        contract = info.venue_symbol
        body: dict[str, object] = {
            "contract": contract,
            "size": P.dec_str(qty * request.side.sign),
            "price": P.dec_str(price) if price is not None else "0",
            "tif": request.tif.value if request.order_type is OrderType.LIMIT else "ioc",
            "text": text,
            "reduce_only": request.reduce_only,
        }
        key = f"perp.orders:{contract}"
        self.rest.limiter.add(key, *C.PERP_ORDER_PER_CONTRACT_LIMIT)
        raw = await self.rest.private("POST", f"{_BASE}/orders", body=body, rate_keys=(key,), expires_ms=request.expires_ms)
        order = P.perp_order(decode(_ORDER, raw, "create order", self.venue_id.value, after_write=True))
        if not order.client_order_id:
            order.client_order_id = request.client_order_id
        self._remember(order.client_order_id, order.venue_order_id)
        return order

    def _order_ref(self, client_order_id: str) -> str:
        return self._cid_to_vid.get(client_order_id) or P.cid_to_text(client_order_id)

    async def cancel_order(self, symbol: Symbol, client_order_id: str) -> Order:
        """DELETE /futures/usdt/orders/{id|text}. NotFound when unknown or already final
        (``ORDER_FINISHED``, docs/venues.md 1.12: "already gone", settled with ``get_order``)."""
        raw = await self.rest.private("DELETE", f"{_BASE}/orders/{self._order_ref(client_order_id)}")
        return P.perp_order(decode(_ORDER, raw, "cancel order", self.venue_id.value, after_write=True))

    async def get_order(self, symbol: Symbol, client_order_id: str) -> Order:
        """GET /futures/usdt/orders/{id|text}; an unfilled cancelled order is queryable by text
        only for 60 s (section 1.6), so on NotFound the contract's finished orders (first page)
        are searched by ``text`` before NotFound is raised."""
        try:
            raw = await self.rest.private("GET", f"{_BASE}/orders/{self._order_ref(client_order_id)}")
            order = P.perp_order(decode(_ORDER, raw, "order", self.venue_id.value))
        except NotFound:
            raw = await self.rest.private(
                "GET", f"{_BASE}/orders", [("contract", symbol.gate), ("status", "finished"), ("limit", "100")]
            )
            text = P.cid_to_text(client_order_id)
            for o in decode(_ORDERS, raw, "orders", self.venue_id.value):
                if o.text == text:
                    order = P.perp_order(o)
                    break
            else:
                raise
        self._remember(order.client_order_id, order.venue_order_id)
        return order

    async def order_fills(self, symbol: Symbol, client_order_id: str) -> list[Fill]:
        """GET /futures/usdt/my_trades?contract=&order= ; qty_base = contracts x multiplier,
        fee from the trade's ``fee`` (USDT)."""
        info = await self.symbol_info(symbol)
        vid = self._cid_to_vid.get(client_order_id) or (await self.get_order(symbol, client_order_id)).venue_order_id
        raw = await self.rest.private("GET", f"{_BASE}/my_trades", [("contract", symbol.gate), ("order", vid)])
        fills = [P.perp_fill(t, info.contract_multiplier) for t in decode(_TRADES, raw, "my_trades", self.venue_id.value)]
        return [f if f.client_order_id else msgspec.structs.replace(f, client_order_id=client_order_id) for f in fills]

    async def open_orders(self, symbol: Symbol) -> list[Order]:
        raw = await self.rest.private("GET", f"{_BASE}/orders", [("contract", symbol.gate), ("status", "open")])
        return [P.perp_order(o) for o in decode(_ORDERS, raw, "open orders", self.venue_id.value)]

    async def balances(self) -> dict[str, Balance]:
        """The futures account as one Balance (USDT): free = available, locked = total - available;
        in a unified mode the pool's USDT from ``/unified/accounts`` (docs/venues.md 1.11)."""
        if await self.is_unified():
            pool = await self.unified_balances()
            return {"USDT": pool.get("USDT") or Balance(asset="USDT", free=Decimal(0), locked=Decimal(0))}
        account = decode(_ACCOUNT, await self.rest.private("GET", f"{_BASE}/accounts"), "account", self.venue_id.value)
        bal = P.perp_balance(account)
        return {bal.asset: bal}

    async def positions(self, symbol: Symbol | None = None) -> list[Position]:
        """Non-zero positions (one contract or all). Single-mode position endpoint."""
        if symbol is not None:
            info = await self.symbol_info(symbol)
            try:
                raw = await self.rest.private("GET", f"{_BASE}/positions/{symbol.gate}")
            except NotFound:
                return []
            p = decode(_POSITION, raw, "position", self.venue_id.value)
            return [P.perp_position(p, info.contract_multiplier)] if p.size else []
        raw = await self.rest.private("GET", f"{_BASE}/positions", [("holding", "true")])
        out = []
        for p in decode(_POSITIONS, raw, "positions", self.venue_id.value):
            if p.size:
                info = await self.symbol_info(P.symbol_of(p.contract))
                out.append(P.perp_position(p, info.contract_multiplier))
        return out

    async def funding_payments(self, symbol: Symbol, since_ms: int) -> list[FundingPayment]:
        """GET /futures/usdt/account_book?type=fund&from=<s> filtered to the contract (entry
        ``contract`` field, else ``text`` containing the contract name). ``rate`` is matched from
        the public funding history (same settlement second, +-60 s); 0 when unavailable."""
        contract = symbol.gate
        raw = await self.rest.private(
            "GET", f"{_BASE}/account_book", [("type", "fund"), ("from", str(since_ms // 1000)), ("limit", "1000")]
        )
        entries = [
            e for e in decode(_ACCOUNT_BOOK, raw, "account_book", self.venue_id.value)
            if e.type == "fund" and (e.contract == contract or (not e.contract and contract in e.text))
            and int(e.time * 1000) >= since_ms
        ]
        if not entries:
            return []
        rates: dict[int, Decimal] = {}
        try:
            hist = await self.rest.public("GET", f"{_BASE}/funding_rate", [("contract", contract), ("limit", "1000")])
            rates = {r.t: r.r for r in decode(_FUNDING_HISTORY, hist, "funding_rate", self.venue_id.value)}
        except VenueError as exc:
            log.warning("%s: funding history unavailable (%s); rates reported as 0", self.venue_id.value, exc)
        out = []
        for e in entries:
            ts_s = int(e.time)
            rate = next((rates[t] for t in sorted(rates, key=lambda t: abs(t - ts_s)) if abs(t - ts_s) <= 60), Decimal(0))
            out.append(FundingPayment(
                venue=self.venue_id, symbol=symbol, amount=e.change, rate=rate, ts_ms=int(e.time * 1000), asset="USDT",
            ))
        return out
