"""Shared machinery of the Gate spot and perp venues: listeners, symbol cache, WS frame routing,
book sync, local order checks. :class:`GateSpotVenue` / :class:`GatePerpVenue` add the REST
calls of their market. Not a public API on its own.

Frame handling: hot frames (``*.order_book_update``, ``*.book_ticker``) are decoded in ONE
pass by a tagged-union msgspec decoder built at import; everything else (acks, pongs, errors,
private channels) goes through a generic envelope decoder. A malformed frame is counted in
``malformed_frames`` and logged (rate-limited), never raised.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import msgspec

from exchanges import clock
from exchanges.gateio import constants as C
from exchanges.gateio import schemas as S
from exchanges.gateio.book_sync import BookSync
from exchanges.gateio.parse import cid_to_text
from exchanges.gateio.rest import GateRest
from exchanges.gateio.ws import GateStream
from exchanges.models import (
    Balance,
    BookTop,
    ConnectionEvent,
    MarketType,
    OrderRequest,
    OrderType,
    Side,
    Symbol,
    SymbolInfo,
    VenueEvent,
    VenueId,
)
from exchanges.book import GATE_FIELDS, TEXT_PAIRS, DiffResult, Level, MalformedLevel, text_pairs
from exchanges.venue import OrderRejected, OutcomeUnknown, VenueError, VenueListener

log = logging.getLogger(__name__)

_HOT = (msgspec.DecodeError, msgspec.ValidationError)
_HOT_DECODE = S.HOT_DECODER.decode
_APPLIED = DiffResult.APPLIED
_SPOT_OBU = S.SpotObuMsg
_FUTURES_OBU = S.FuturesObuMsg
_UNIFIED_MODE = msgspec.json.Decoder(S.UnifiedMode)
_NO_SUCH_ENDPOINT = frozenset({"404", "NOT_FOUND"})  # codes of a 404 without / with Gate's label
_UNIFIED_ACCOUNT = msgspec.json.Decoder(S.UnifiedAccount)
PROVISIONAL_INFO_RETRY_S = 30.0  # retry rules built from a fallback (failed fee lookup) this often


def round_down(value: Decimal, step: Decimal) -> Decimal:
    """Largest multiple of ``step`` <= ``value`` (sizes are never rounded up)."""
    return (value / step).to_integral_value(rounding=ROUND_FLOOR) * step


def round_price(price: Decimal, tick: Decimal, side: Side) -> Decimal:
    """Snap a limit price to the tick, never worse for us: buys down, sells up."""
    mode = ROUND_FLOOR if side is Side.BUY else ROUND_CEILING
    return (price / tick).to_integral_value(rounding=mode) * tick


def decode(decoder: msgspec.json.Decoder, raw: bytes, what: str, venue: str, *, after_write: bool = False) -> Any:
    """Decode a 2xx body; a malformed one raises VenueError (OutcomeUnknown after a write, since
    the venue accepted the request but we cannot read what it did)."""
    try:
        return decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        cls = OutcomeUnknown if after_write else VenueError
        raise cls(f"malformed {what} answer: {exc}: {raw[:200]!r}", venue=venue, code="MALFORMED") from exc


class GateVenueBase:
    """Common part of both Gate venues (see module docstring)."""

    #: orders are POSTs with a JSON body: aiohttp writes it from a task of its own (next loop turn)
    order_write_at_once = False

    venue_id: VenueId
    market_type: MarketType
    OBU_CHANNEL = ""
    TICKER_CHANNEL = ""
    PRIVATE_CHANNELS: frozenset[str] = frozenset()

    def __init__(
        self,
        *,
        rest_url: str,
        ws_url: str,
        api_key: str,
        api_secret: str,
        request_timeout_s: float,
        ping_channel: str,
        rest_headers: dict[str, str] | None = None,
        ws_headers: dict[str, str] | None = None,
    ) -> None:
        self.rest = GateRest(self.venue_id.value, rest_url, api_key, api_secret, request_timeout_s, rest_headers)
        self.request_timeout_s = request_timeout_s
        self.stream = GateStream(
            self.venue_id.value, ws_url, ping_channel, api_key, api_secret, self.rest.time,
            self._on_frame, self._on_connected, self._on_disconnected, ws_headers,
        )
        self._note_data = self.stream.client.note_data
        self._listeners: list[VenueListener] = []
        self._books: dict[str, BookSync] = {}
        self._books_by_symbol: dict[Symbol, BookSync] = {}
        self._info: dict[Symbol, SymbolInfo] = {}
        # rules built with a fallback (e.g. the user's fee lookup failed) -> monotonic time fetched:
        # served, but fetched again after PROVISIONAL_INFO_RETRY_S instead of cached for good
        self._info_provisional: dict[Symbol, float] = {}
        self._cid_to_vid: dict[str, str] = {}
        self._account_mode: str | None = None  # Gate account mode, known after account_mode()
        self._started = False
        self.malformed_frames = 0
        self.subscribe_errors = 0
        self.last_error = ""

    # ---- lifecycle / listeners ----------------------------------------------------------------

    async def start(self) -> None:
        """Open the HTTP session, measure the server-time offset (a failure is logged; the
        offset is re-measured before the next signed request) and, with keys, detect the
        account mode (classic or unified; a failure is logged and detection retried on first
        use; refused keys surface as AuthError on the first private call). Idempotent."""
        await self.rest.start()
        if not self._started:
            self._started = True
            await self.rest.ensure_time()
            if self.rest.has_keys:
                try:
                    await self.account_mode()
                except VenueError as exc:
                    log.warning("%s: account mode unknown for now (%s)", self.venue_id.value, exc)

    async def account_mode(self) -> str:
        """The Gate account mode from ``GET /unified/unified_mode`` (docs/venues.md 1.11):
        ``classic``, or ``multi_currency`` / ``single_currency`` / ``portfolio`` (unified:
        one balance pool for spot and futures, spot orders from ``account=unified``). Cached
        once known. An endpoint that does not exist (HTTP 404) means a classic account; any other
        failure raises VenueError (nothing is assumed while the mode cannot be read)."""
        if self._account_mode is None:
            try:
                raw = await self.rest.private("GET", "/unified/unified_mode")
            except VenueError as exc:
                if exc.code not in _NO_SUCH_ENDPOINT:
                    raise
                # the endpoint does not exist there (a venue or simulator without unified accounts)
                log.warning("%s: no account-mode endpoint (%s); classic account", self.venue_id.value, exc)
                self._account_mode = C.CLASSIC_MODE
                return self._account_mode
            self._account_mode = decode(_UNIFIED_MODE, raw, "unified mode", self.venue_id.value).mode or C.CLASSIC_MODE
            log.info("%s: account mode %s", self.venue_id.value, self._account_mode)
        return self._account_mode

    async def is_unified(self) -> bool:
        """True when the account is in a unified mode (see :meth:`account_mode`)."""
        return await self.account_mode() != C.CLASSIC_MODE

    async def unified_balances(self) -> dict[str, Balance]:
        """Balances of the unified pool (``GET /unified/accounts``): free = available,
        locked = freeze."""
        account = decode(_UNIFIED_ACCOUNT, await self.rest.private("GET", "/unified/accounts"), "unified account",
                         self.venue_id.value)
        return {cur: Balance(asset=cur, free=b.available, locked=b.freeze) for cur, b in account.balances.items()}

    async def close(self) -> None:
        for bs in self._books.values():
            await bs.aclose()
        await self.stream.close()
        await self.rest.close()
        self._started = False

    def add_listener(self, listener: VenueListener) -> None:
        if listener not in self._listeners:
            self._listeners.append(listener)

    def remove_listener(self, listener: VenueListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _emit(self, event: VenueEvent) -> None:
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                log.exception("%s: listener failed on %s", self.venue_id.value, type(event).__name__)

    # ---- symbols and books ------------------------------------------------------------------

    async def symbol_info(self, symbol: Symbol) -> SymbolInfo:
        """Trading rules, cached after the first complete fetch (rules built from a fallback, e.g.
        the deprecated pair ``fee`` after ``/spot/fee`` failed, are re-fetched once
        ``PROVISIONAL_INFO_RETRY_S`` has passed).
        Raises NotFound for an unknown symbol."""
        info = self._info.get(symbol)
        fetched_s = self._info_provisional.get(symbol)
        if info is None or (fetched_s is not None and clock.monotonic_s() - fetched_s >= PROVISIONAL_INFO_RETRY_S):
            self._info_provisional.pop(symbol, None)
            info = await self._fetch_symbol_info(symbol)
            self._info[symbol] = info
        return info

    async def _fetch_symbol_info(self, symbol: Symbol) -> SymbolInfo:
        raise NotImplementedError

    def _obu_payload(self, venue_symbol: str) -> list[str]:
        raise NotImplementedError

    def _fetch_snapshot(self, venue_symbol: str) -> Awaitable[tuple[list[Level], list[Level], int]]:
        raise NotImplementedError

    def _on_private(self, channel: str, result: msgspec.Raw) -> None:
        raise NotImplementedError

    async def watch_book(self, symbol: Symbol) -> None:
        """Subscribe ``order_book_update`` (+ ``book_ticker`` as a cross-check) and start the
        snapshot sync. Returns after the subscribe request is sent (or queued for the next
        connect if the socket is not up within ``request_timeout_s``)."""
        vs = self.track_book(symbol).venue_symbol
        await self.stream.start()
        await self.stream.client.wait_connected(self.request_timeout_s)
        await self.stream.subscribe(self.OBU_CHANNEL, self._obu_payload(vs))
        await self.stream.subscribe(self.TICKER_CHANNEL, [vs])

    def track_book(self, symbol: Symbol) -> BookSync:
        """Create (or return) the book state of ``symbol`` without subscribing; frames for it
        are applied from now on (used by ``watch_book`` and by offline replay/benchmarks)."""
        bs = self._books_by_symbol.get(symbol)
        if bs is None:
            vs = symbol.gate
            bs = BookSync(self.venue_id, symbol, vs, self._fetch_snapshot, lambda: self.stream.connected, self._emit)
            self._books[vs] = bs
            self._books_by_symbol[symbol] = bs
        return bs

    def book_top(self, symbol: Symbol) -> BookTop | None:
        """O(1): cached top of the synced L2 book; ``stale`` while unsynced/disconnected."""
        bs = self._books_by_symbol.get(symbol)
        return bs.top() if bs is not None else None

    def book_sync(self, symbol: Symbol) -> BookSync | None:
        """The book state (for diagnostics/tests)."""
        return self._books_by_symbol.get(symbol)

    # ---- frames -------------------------------------------------------------------------------

    def _on_frame(self, frame: str | bytes) -> None:
        try:
            msg = _HOT_DECODE(frame)
        except _HOT:
            self._on_other(frame)
            return
        except Exception as exc:  # pragma: no cover - defensive
            self._malformed(frame, exc)
            return
        self._note_data()  # a real data frame: the connection is healthy
        try:
            r = msg.result
            bs = self._books.get(r.s)
            if bs is None:
                return
            cls = msg.__class__
            if cls is _SPOT_OBU or cls is _FUTURES_OBU:
                if r.full:
                    shape = TEXT_PAIRS if cls is _SPOT_OBU else GATE_FIELDS
                    bids, asks = text_pairs(r.b, shape), text_pairs(r.a, shape)
                    bs.on_full(bs.book.levels_of(bids), bs.book.levels_of(asks), r.u, clock.now_ms(), r.t)
                elif r.U <= 0 or r.u < r.U:
                    self._malformed(frame, ValueError(f"bad update ids U={r.U} u={r.u}"))
                else:  # BookSync.on_diff_text, inline (hot path)
                    try:
                        res = bs.book.apply_diff_text(r.U, r.u, r.b, r.a, clock.now_ms(), r.t,
                                                      GATE_FIELDS if cls is _FUTURES_OBU else TEXT_PAIRS)
                    except MalformedLevel:
                        bs.on_result(DiffResult.GAP)
                        raise
                    if res is _APPLIED:
                        self._emit(bs.event)
                    else:
                        bs.on_result(res)
            else:
                bs.on_ticker(r.u, r.b, r.a)
        except Exception as exc:
            self._malformed(frame, exc)

    def _on_other(self, frame: str | bytes) -> None:
        try:
            env = S.ENVELOPE_DECODER.decode(frame)
        except Exception as exc:
            self._malformed(frame, exc)
            return
        try:
            channel, event = env.channel, env.event
            if env.error is not None:
                self._on_ws_error(channel, event, env.error)
            elif channel.endswith(".pong"):
                now_ms = clock.now_ms()
                for bs in self._books.values():
                    bs.book.touch(now_ms)  # everything sent before the pong has been applied
            elif event == "upgrade" or channel.endswith(".system"):
                self.stream.client.force_reconnect(f"server upgrade notice on {channel}")
            elif event in ("subscribe", "unsubscribe"):
                return
            elif channel in self.PRIVATE_CHANNELS:
                self.stream.client.note_data()
                self._on_private(channel, env.result)
            elif channel in (self.OBU_CHANNEL, self.TICKER_CHANNEL):
                self._malformed(frame, ValueError("book frame failed schema validation"))
        except Exception as exc:
            self._malformed(frame, exc)

    def _on_ws_error(self, channel: str, event: str, error: S.WsError) -> None:
        self.subscribe_errors += 1
        self.last_error = f"{channel} {event}: code {error.code} {error.message}"
        log.error("%s: websocket error %s", self.venue_id.value, self.last_error)
        if error.code in C.WS_AUTH_ERROR_CODES:
            self._emit(ConnectionEvent(self.venue_id, "private", False, f"auth failed: {self.last_error}"))

    def _malformed(self, frame: str | bytes, exc: BaseException) -> None:
        self.malformed_frames += 1
        level = logging.WARNING if self.malformed_frames <= 20 or self.malformed_frames % 1000 == 0 else logging.DEBUG
        log.log(level, "%s: malformed frame #%d (%s: %s): %r", self.venue_id.value, self.malformed_frames,
                type(exc).__name__, exc, frame[:200])

    def _on_connected(self) -> None:
        self._emit(ConnectionEvent(self.venue_id, "ws", True))

    def _on_disconnected(self, reason: str) -> None:
        for bs in self._books.values():
            bs.invalidate(f"disconnected: {reason}")
        self._emit(ConnectionEvent(self.venue_id, "ws", False, reason))

    # ---- orders: local checks -------------------------------------------------------------------

    def _prepare(self, req: OrderRequest, info: SymbolInfo) -> tuple[str, Decimal, Decimal | None]:
        """Validate and round an order locally. Returns ``(text, qty, price)``; qty rounded DOWN
        to the step, price snapped to the tick (buys down, sells up). Raises
        OrderRejected(local=True) for a bad client id, untradable symbol, missing/invalid price,
        qty below the minimum size or notional below the minimum notional."""
        venue = self.venue_id.value

        def reject(msg: str, code: str) -> OrderRejected:
            return OrderRejected(f"{req.symbol} {req.client_order_id}: {msg}", venue=venue, code=code, local=True)

        try:
            text = cid_to_text(req.client_order_id)
        except ValueError as exc:
            raise reject(str(exc), "BAD_CLIENT_ID") from None
        if not info.tradable:
            raise reject("symbol is not tradable on the venue", "NOT_TRADABLE")
        qty = round_down(req.qty, info.size_step)
        if qty <= 0:
            raise reject(f"qty {req.qty} rounds down to 0 at step {info.size_step}", "QTY_TOO_SMALL")
        if info.min_size and qty < info.min_size:
            raise reject(f"qty {qty} below venue minimum {info.min_size}", "QTY_TOO_SMALL")
        price: Decimal | None = None
        if req.order_type is OrderType.LIMIT:
            if req.price is None or req.price <= 0:
                raise reject(f"limit order needs a positive price (got {req.price})", "BAD_PRICE")
            price = round_price(req.price, info.price_tick, req.side)
            if price <= 0:
                raise reject(f"price {req.price} rounds to 0 at tick {info.price_tick}", "BAD_PRICE")
            notional = qty * price * info.contract_multiplier
            if info.min_notional and notional < info.min_notional:
                raise reject(f"notional {notional} below venue minimum {info.min_notional}", "NOTIONAL_TOO_SMALL")
        return text, qty, price

    def _remember(self, client_order_id: str, venue_order_id: str) -> None:
        if client_order_id and venue_order_id:
            self._cid_to_vid[client_order_id] = venue_order_id
            if len(self._cid_to_vid) > 10000:  # bounded: drop the oldest
                self._cid_to_vid.pop(next(iter(self._cid_to_vid)))


__all__ = ["GateVenueBase", "decode", "round_down", "round_price"]
