"""MEXC spot v3 REST client: signing, rate limits, server time, error mapping.

One method per endpoint used by the connector (docs/venues.md section 3);
each returns the venue's wire struct from :mod:`exchanges.mexc.parse`.
Every parameter travels in the query string with an empty body, and the exact
query string that is signed is the one sent (section 3.2).

Errors (docs/venues.md 3.1 and 3.7, :func:`exchanges.transport.raise_for_http`):

* 429 -> RateLimited; the endpoint's bucket is drained for ``Retry-After``
  seconds (header name in any letter case).
* 418 (IP ban) -> RateLimited ``code="418"``, and EVERY later request to the
  venue is held (refused locally with RateLimited ``code="IP_BANNED"``, nothing
  sent) until the ban's ``Retry-After`` has passed; the ban is logged and
  reported to ``on_ban(until_ms, detail)``.
* 403 (WAF limit) -> RateLimited ``code="403"`` for the endpoint, not an
  authentication error (unless the body carries a credentials code).
* 5xx, timeout, transport failure, unreadable 2xx body -> OutcomeUnknown (never
  re-sent).
* credentials codes (602, 700002, 10072, ...; ``C.AUTH_ERROR_CODES``) or 401 ->
  AuthError; -2011/-2013 (unknown order) and bad-symbol codes -> NotFound; any
  other 4xx -> OrderRejected.
* 700003 / 10073 (request time refused) re-sync the server-time offset; a GET
  is then sent once more with a fresh timestamp, any other method is a
  definite refusal (OrderRejected with that code: nothing was executed, and a
  write is never sent twice by this layer).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import msgspec

from exchanges import clock
from exchanges.mexc import constants as C
from exchanges.mexc import parse as P
from exchanges.mexc.auth import encode_query, signed_query
from exchanges.transport import HttpResponse, HttpTransport, RateLimiter, ServerTimeOffset, raise_for_http, retry_after_s
from exchanges.venue import OrderRejected, OutcomeUnknown, RateLimited, VenueError
from exchanges.venue import AuthError

log = logging.getLogger(__name__)

_AUTH_CODES = frozenset(str(c) for c in C.AUTH_ERROR_CODES)
_NOT_FOUND_CODES = frozenset(str(c) for c in C.NOT_FOUND_ERROR_CODES | C.BAD_SYMBOL_ERROR_CODES)
_RATE_CODES = frozenset(str(c) for c in C.RATE_ERROR_CODES)
_UNKNOWN_CODES = frozenset(str(c) for c in C.UNKNOWN_ERROR_CODES)
_TIME_CODES = frozenset(str(c) for c in C.TIME_ERROR_CODES)
_TIME_SYNC_MAX_AGE_S = 600.0


class MexcRest:
    """REST endpoints of MEXC spot v3 (section 3). Keys are optional for public calls;
    signed calls without keys raise AuthError before sending anything."""

    def __init__(
        self,
        *,
        rest_url: str = C.DEFAULT_REST_URL,
        api_key: str = "",
        api_secret: str = "",
        request_timeout_s: float = 5.0,
        recv_window_ms: int = C.DEFAULT_RECV_WINDOW_MS,
    ) -> None:
        self.base_url = rest_url.rstrip("/")
        self._api_key = api_key
        self._api_secret = api_secret
        self.recv_window_ms = max(1, min(int(recv_window_ms), C.MAX_RECV_WINDOW_MS))
        self.http = HttpTransport(C.VENUE_NAME, timeout_s=request_timeout_s,
                                  default_headers={"Content-Type": "application/json"})
        self.time = ServerTimeOffset()
        self._time_synced_s = -1e18
        # One bucket per endpoint (method + path), sized RATE_LIMIT_WEIGHT / weight per window.
        self.limiter = RateLimiter(C.VENUE_NAME)
        self.limiter.add("account/s", C.ACCOUNT_MAX_PER_S, 1.0)
        #: monotonic time until which the venue has banned our IP (HTTP 418); 0 = none
        self.banned_until_s = 0.0
        #: called as ``on_ban(until_ms, detail)`` when a 418 arrives (the venue reports it)
        self.on_ban: Callable[[int, str], None] | None = None

    def __repr__(self) -> str:  # never show secrets
        return f"MexcRest({self.base_url!r}, keys={'yes' if self.has_keys else 'no'})"

    @property
    def has_keys(self) -> bool:
        return bool(self._api_key and self._api_secret)

    async def start(self) -> None:
        await self.http.start()

    async def close(self) -> None:
        await self.http.close()

    # ---- core ---------------------------------------------------------------------------

    async def sync_time(self) -> int:
        """Measure the server-time offset from ``GET /api/v3/time``; returns offset ms."""
        sent_ms = clock.now_ms()
        body = await self._send("GET", C.PATH_TIME, "", signed=False)
        recv_ms = clock.now_ms()
        server_ms = P.to_int(_decode(P.DEC_TIME, body, "GET", C.PATH_TIME).serverTime)
        if server_ms <= 0:
            raise OutcomeUnknown("MEXC /api/v3/time: no serverTime in answer", venue=C.VENUE_NAME, code="MALFORMED")
        self.time.update(server_ms, sent_ms, recv_ms)
        self._time_synced_s = clock.monotonic_s()
        return self.time.offset_ms

    async def public(self, method: str, path: str, params: list[tuple[str, str]] | None = None) -> bytes:
        """Unsigned request; returns the 2xx body bytes or raises the taxonomy error."""
        return await self._send(method, path, encode_query(params or []), signed=False)

    async def signed(self, method: str, path: str, params: list[tuple[str, str]] | None = None,
                     expires_ms: int = 0) -> bytes:
        """Signed request (timestamp from the server-time offset); see module docstring. With
        ``expires_ms`` (an order) the request carries that deadline as its ``recvWindow`` and is
        never retried; past the deadline it is refused here (OrderRejected, local)."""
        if not self.has_keys:
            raise AuthError(f"MEXC {path} needs API key and secret", venue=C.VENUE_NAME, code="NO_KEYS")
        if clock.monotonic_s() - self._time_synced_s > _TIME_SYNC_MAX_AGE_S:
            try:
                await self.sync_time()
            except OutcomeUnknown as exc:
                log.warning("MEXC time sync failed (%s); using last offset %d ms", exc, self.time.offset_ms)
        window = 0
        if expires_ms:
            window = expires_ms - clock.now_ms()
            if window <= 0:
                raise OrderRejected(f"MEXC {method} {path}: request deadline passed before sending",
                                    venue=C.VENUE_NAME, code="DEADLINE_PASSED", local=True)
        try:
            return await self._send(method, path, self._sign(params, min(window, C.MAX_RECV_WINDOW_MS)), signed=True)
        except VenueError as exc:
            if exc.code not in _TIME_CODES:
                raise
            await self._resync_after_time_refusal(method, path, exc)
            if method != "GET":  # a definite refusal; never send a write twice
                raise OrderRejected(f"MEXC {method} {path}: request time refused ({exc.code}); clock re-synced",
                                    venue=C.VENUE_NAME, code=exc.code) from exc
            return await self._send(method, path, self._sign(params), signed=True)

    async def _resync_after_time_refusal(self, method: str, path: str, exc: VenueError) -> None:
        log.warning("MEXC %s %s: request time refused (%s); re-syncing the server time offset", method, path,
                    exc.code)
        try:
            await self.sync_time()
        except VenueError as sync_exc:
            log.warning("MEXC time re-sync failed (%s); offset stays %d ms", sync_exc, self.time.offset_ms)

    def signed_query(self, params: list[tuple[str, str]] | None = None) -> str:
        """The exact signed query string a signed request would send now (for tests/diagnostics)."""
        return self._sign(params)

    def _sign(self, params: list[tuple[str, str]] | None, recv_window_ms: int = 0) -> str:
        query, _payload = signed_query(params or [], api_secret=self._api_secret,
                                       timestamp_ms=self.time.now_ms(),
                                       recv_window_ms=recv_window_ms or self.recv_window_ms)
        return query

    async def _send(self, method: str, path: str, query: str, *, signed: bool) -> bytes:
        ban_left_s = self.banned_until_s - clock.monotonic_s()
        if ban_left_s > 0:
            raise RateLimited(f"MEXC {method} {path}: IP banned by the venue for {ban_left_s:.0f} s more; not sent",
                              venue=C.VENUE_NAME, code="IP_BANNED", retry_after_s=ban_left_s)
        key = f"{method} {path}"
        if not self.limiter.has(key):
            weight = C.ENDPOINT_WEIGHTS.get(path, 1)
            self.limiter.add(key, max(1, C.RATE_LIMIT_WEIGHT // weight), C.RATE_LIMIT_WINDOW_S)
        await self.limiter.acquire(key, *(["account/s"] if path == C.PATH_ACCOUNT else []))
        headers = {C.HEADER_API_KEY: self._api_key} if signed else None
        resp = await self.http.request(method, self.base_url + path, query=query, headers=headers)
        return self._check(resp, method, path)

    def _check(self, resp: HttpResponse, method: str, path: str) -> bytes:
        code, msg = _error_of(resp.body)
        if 200 <= resp.status < 300 and not code:
            return resp.body
        status = resp.status if resp.status >= 300 else 400  # error object inside a 200
        key = f"{method} {path}"
        if status == C.IP_BAN_STATUS:
            wait_s = retry_after_s(resp, C.IP_BAN_DEFAULT_S)
            self.banned_until_s = clock.monotonic_s() + wait_s
            until_ms = clock.now_ms() + int(wait_s * 1000)
            detail = f"MEXC banned this IP (HTTP 418) for {wait_s:.0f} s: every request is held until then"
            log.error("%s (%s %s: %s)", detail, method, path, msg)
            if self.on_ban is not None:
                self.on_ban(until_ms, detail)
            raise RateLimited(f"{key}: HTTP 418 {msg}", venue=C.VENUE_NAME, code="418", retry_after_s=wait_s)
        if status == 429 or code in _RATE_CODES:
            wait_s = retry_after_s(resp, C.RATE_LIMIT_WINDOW_S)
            self.limiter.penalize(key, wait_s)
            raise RateLimited(f"{key}: HTTP {status} {code} {msg}".strip(), venue=C.VENUE_NAME, code=code or "429",
                              retry_after_s=wait_s)
        if status == C.WAF_STATUS and code not in _AUTH_CODES:
            wait_s = retry_after_s(resp, C.WAF_BACKOFF_S)
            self.limiter.penalize(key, wait_s)
            raise RateLimited(f"{key}: HTTP 403 (WAF limit) {msg}", venue=C.VENUE_NAME, code="403",
                              retry_after_s=wait_s)
        raise_for_http(C.VENUE_NAME, status, code, f"{key}: {msg}",
                       auth_codes=_AUTH_CODES, not_found_codes=_NOT_FOUND_CODES, unknown_codes=_UNKNOWN_CODES)
        raise AssertionError("unreachable")  # raise_for_http always raises

    # ---- endpoints ----------------------------------------------------------------------

    async def exchange_info(self, venue_symbol: str) -> P.ExchangeInfo:
        body = await self.public("GET", C.PATH_EXCHANGE_INFO, [("symbol", venue_symbol)])
        return _decode(P.DEC_EXCHANGE_INFO, body, "GET", C.PATH_EXCHANGE_INFO)

    async def depth(self, venue_symbol: str, limit: int = C.DEPTH_SNAPSHOT_LIMIT) -> P.DepthSnapshot:
        body = await self.public("GET", C.PATH_DEPTH, [("symbol", venue_symbol), ("limit", str(limit))])
        return _decode(P.DEC_DEPTH, body, "GET", C.PATH_DEPTH)

    async def new_order(self, params: list[tuple[str, str]], expires_ms: int = 0) -> P.NewOrderAck:
        """``POST /api/v3/order``. ``expires_ms`` (local wall clock, 0 = none): MEXC must refuse
        the order if it receives it later: ``recvWindow`` is set so that timestamp + recvWindow is
        that instant (docs/venues.md "Request deadlines"). A write is never retried."""
        body = await self.signed("POST", C.PATH_ORDER, params, expires_ms=expires_ms)
        return _decode(P.DEC_NEW_ORDER, body, "POST", C.PATH_ORDER)

    async def cancel_order(self, venue_symbol: str, client_order_id: str) -> P.OrderInfo:
        body = await self.signed("DELETE", C.PATH_ORDER, [("symbol", venue_symbol),
                                                          ("origClientOrderId", client_order_id)])
        return _decode(P.DEC_ORDER, body, "DELETE", C.PATH_ORDER)

    async def query_order(self, venue_symbol: str, client_order_id: str) -> P.OrderInfo:
        body = await self.signed("GET", C.PATH_ORDER, [("symbol", venue_symbol),
                                                       ("origClientOrderId", client_order_id)])
        return _decode(P.DEC_ORDER, body, "GET", C.PATH_ORDER)

    async def open_orders(self, venue_symbol: str) -> list[P.OrderInfo]:
        body = await self.signed("GET", C.PATH_OPEN_ORDERS, [("symbol", venue_symbol)])
        return _decode(P.DEC_ORDERS, body, "GET", C.PATH_OPEN_ORDERS)

    async def account(self) -> P.Account:
        body = await self.signed("GET", C.PATH_ACCOUNT)
        return _decode(P.DEC_ACCOUNT, body, "GET", C.PATH_ACCOUNT)

    async def my_trades(self, venue_symbol: str, venue_order_id: str) -> list[P.MyTrade]:
        body = await self.signed("GET", C.PATH_MY_TRADES, [("symbol", venue_symbol), ("orderId", venue_order_id)])
        return _decode(P.DEC_TRADES, body, "GET", C.PATH_MY_TRADES)

    async def trade_fee(self, venue_symbol: str) -> P.TradeFeeRates:
        """The account's own maker/taker rates for one symbol (``GET /api/v3/tradeFee``)."""
        body = await self.signed("GET", C.PATH_TRADE_FEE, [("symbol", venue_symbol)])
        return _decode(P.DEC_TRADE_FEE, body, "GET", C.PATH_TRADE_FEE).data

    async def create_listen_key(self) -> str:
        body = await self.signed("POST", C.PATH_USER_DATA_STREAM)
        key = _decode(P.DEC_LISTEN_KEY, body, "POST", C.PATH_USER_DATA_STREAM).listenKey
        if not key:
            raise OutcomeUnknown("MEXC userDataStream: no listenKey in answer", venue=C.VENUE_NAME, code="MALFORMED")
        return key

    async def keepalive_listen_key(self, listen_key: str) -> None:
        await self.signed("PUT", C.PATH_USER_DATA_STREAM, [("listenKey", listen_key)])

    async def delete_listen_key(self, listen_key: str) -> None:
        await self.signed("DELETE", C.PATH_USER_DATA_STREAM, [("listenKey", listen_key)])


def _error_of(body: bytes) -> tuple[str, str]:
    """``(code, msg)`` of a MEXC error object, ``("", text)`` for anything else.

    Codes 0 and 200 mean success on some MEXC endpoints and are not errors.
    """
    if not body or body[:1] != b"{":
        return "", body[:200].decode("utf-8", "replace")
    try:
        err = P.DEC_ERROR.decode(body)
    except msgspec.DecodeError:
        return "", body[:200].decode("utf-8", "replace")
    if err.code is None or err.msg is None:
        return "", ""
    code = str(P.to_int(err.code, 0)) if not isinstance(err.code, str) or err.code.lstrip("-").isdigit() else err.code
    if code in ("0", "200"):
        return "", err.msg
    return code, err.msg


def _decode(decoder: msgspec.json.Decoder, body: bytes, method: str, path: str) -> Any:
    """Decode a 2xx body; an unreadable one means we cannot know what happened."""
    try:
        return decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise OutcomeUnknown(f"MEXC {method} {path}: unreadable answer: {exc}", venue=C.VENUE_NAME,
                             code="MALFORMED") from exc
