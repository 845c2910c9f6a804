"""Gate.io v4 REST client: signing, server-time offset, rate limits and error mapping.

``GateRest(venue, rest_url, api_key, api_secret, timeout_s, extra_headers=None)``
    ``await start()`` / ``await close()``; ``await sync_time()`` (GET /spot/time, section 1.1);
    ``await public(method, endpoint, params=None, rate_keys=()) -> bytes``;
    ``await private(method, endpoint, params=None, body=None, rate_keys=()) -> bytes``.

``endpoint`` is relative to ``rest_url`` (``/spot/orders``); the signed path is
``urlparse(rest_url).path + endpoint`` (section 1.2). ``params`` is a list of ``(name, value)``
pairs sent in that order; ``body`` is any msgspec-encodable object, encoded ONCE and the same
bytes are hashed and sent. Every signed request uses ``Timestamp`` = server time in seconds
(local clock + the offset measured from ``/spot/time``).

Errors (taxonomy of :mod:`exchanges.venue`; labels in :mod:`exchanges.gateio.constants`, from
the venue's error table, docs/venues.md 1.12): 429 or a rate label -> RateLimited (the
endpoint is held for ``Retry-After`` seconds when the answer has one, any letter case);
5xx, timeout or transport failure -> OutcomeUnknown (for GETs this only means "no answer");
credentials labels (and 401/403) -> AuthError; ``ORDER_NOT_FOUND`` and the labels of an order
that is already final (``ORDER_CLOSED``, ``ORDER_CANCELLED``, ``ORDER_FINISHED``) -> NotFound,
the Venue protocol's "already gone" that callers settle by query; other 4xx
(``BALANCE_NOT_ENOUGH``, ``INVALID_PARAM_VALUE``...) -> OrderRejected.
``REQUEST_EXPIRED`` (the request time was refused) re-syncs the server-time offset; a GET is
then sent once more, any other method raises OrderRejected (a definite refusal: a write is
never sent twice). Private calls without keys raise AuthError before sending.

Rate buckets are per endpoint template: ids in the path (``/spot/orders/123``,
``/futures/usdt/positions/X_USDT/leverage``) become ``{id}`` (:func:`endpoint_template`).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import unquote_plus, urlencode, urlparse

import msgspec

from exchanges import clock
from exchanges.gateio import constants as C
from exchanges.gateio import schemas as S
from exchanges.gateio.auth import rest_headers
from exchanges.transport import HttpTransport, RateLimiter, ServerTimeOffset, raise_for_http, retry_after_s
from exchanges.venue import AuthError, OrderRejected, VenueError

log = logging.getLogger(__name__)

_ERROR_DECODER = msgspec.json.Decoder(S.ApiError)
_TIME_DECODER = msgspec.json.Decoder(S.ServerTime)


def endpoint_template(endpoint: str) -> str:
    """``endpoint`` with every id segment replaced by ``{id}``: the segment after a collection
    name of ``C.ID_COLLECTIONS`` (``/spot/orders/123`` -> ``/spot/orders/{id}``)."""
    parts = endpoint.split("/")
    for i in range(1, len(parts)):
        if parts[i - 1] in C.ID_COLLECTIONS and parts[i]:
            parts[i] = "{id}"
    return "/".join(parts)


class GateRest:
    """Signed/public REST calls for one Gate venue instance (see module docstring)."""

    def __init__(
        self,
        venue: str,
        rest_url: str,
        api_key: str,
        api_secret: str,
        timeout_s: float,
        extra_headers: dict[str, str] | None = None,
    ) -> None:
        self.venue = venue
        self.base_url = rest_url.rstrip("/")
        self.base_path = urlparse(self.base_url).path.rstrip("/")
        self._key = api_key
        self._secret = api_secret
        self.extra_headers = dict(extra_headers or {})
        self.http = HttpTransport(venue, timeout_s=timeout_s)
        self.limiter = RateLimiter(venue)
        self.time = ServerTimeOffset()
        self._time_synced_at_s = -1e18

    @property
    def has_keys(self) -> bool:
        return bool(self._key and self._secret)

    def __repr__(self) -> str:  # never show secrets
        return f"GateRest({self.venue!r}, {self.base_url!r}, keys={'yes' if self.has_keys else 'no'})"

    async def start(self) -> None:
        await self.http.start()

    async def close(self) -> None:
        await self.http.close()

    async def sync_time(self) -> None:
        """Measure the server-time offset from GET /spot/time (ms). Raises VenueError subclasses."""
        sent_ms = clock.now_ms()
        raw = await self.public("GET", "/spot/time")
        recv_ms = clock.now_ms()
        try:
            server_ms = _TIME_DECODER.decode(raw).server_time
        except msgspec.DecodeError as exc:
            raise VenueError(f"malformed /spot/time answer: {raw[:200]!r}", venue=self.venue) from exc
        self.time.update(server_ms, sent_ms, recv_ms)
        self._time_synced_at_s = clock.monotonic_s()
        log.info("%s: server time offset %d ms", self.venue, self.time.offset_ms)

    async def ensure_time(self) -> None:
        """Re-measure the offset when never measured or older than TIME_RESYNC_S; a failure is
        logged and the previous offset (or 0) is kept."""
        if clock.monotonic_s() - self._time_synced_at_s < C.TIME_RESYNC_S:
            return
        try:
            await self.sync_time()
        except VenueError as exc:
            self._time_synced_at_s = clock.monotonic_s() - C.TIME_RESYNC_S + 5.0  # retry in 5 s
            log.warning("%s: server time sync failed (%s); using offset %d ms", self.venue, exc, self.time.offset_ms)

    def _endpoint_key(self, method: str, endpoint: str) -> str:
        key = f"ep:{method} {endpoint}"
        self.limiter.add(key, *C.ENDPOINT_LIMIT)
        return key

    async def public(
        self, method: str, endpoint: str, params: list[tuple[str, str]] | None = None, rate_keys: tuple[str, ...] = ()
    ) -> bytes:
        return await self._send(method, endpoint, params, None, signed=False, rate_keys=rate_keys)

    async def private(
        self,
        method: str,
        endpoint: str,
        params: list[tuple[str, str]] | None = None,
        body: Any = None,
        rate_keys: tuple[str, ...] = (),
        expires_ms: int = 0,
    ) -> bytes:
        """A signed request. ``expires_ms`` (local wall clock, 0 = none): Gate must refuse the
        request if it receives it later (``X-Gate-Exptime``, in server time; docs/venues.md
        "Request deadlines"); already past, it is refused here without sending
        (OrderRejected, local)."""
        if not self.has_keys:
            raise AuthError(f"{method} {endpoint} needs API keys (none configured)", venue=self.venue, code="NO_KEYS")
        await self.ensure_time()
        try:
            return await self._send(method, endpoint, params, body, signed=True, rate_keys=rate_keys,
                                    expires_ms=expires_ms)
        except VenueError as exc:
            if exc.code not in C.TIME_LABELS:
                raise
            log.warning("%s: %s %s: request time refused (%s); re-syncing the server time offset",
                        self.venue, method, endpoint, exc.code)
            try:
                await self.sync_time()
            except VenueError as sync_exc:
                log.warning("%s: time re-sync failed (%s)", self.venue, sync_exc)
            if method != "GET":  # a definite refusal; never send a write twice
                raise OrderRejected(f"{method} {endpoint}: request time refused ({exc.code}); clock re-synced",
                                    venue=self.venue, code=exc.code) from exc
            return await self._send(method, endpoint, params, body, signed=True, rate_keys=rate_keys)

    async def _send(
        self,
        method: str,
        endpoint: str,
        params: list[tuple[str, str]] | None,
        body: Any,
        *,
        signed: bool,
        rate_keys: tuple[str, ...],
        expires_ms: int = 0,
    ) -> bytes:
        # a path template key keeps per-endpoint buckets bounded (ids are not part of the key)
        ep_key = self._endpoint_key(method, endpoint_template(endpoint))
        await self.limiter.acquire(ep_key, *rate_keys, max_wait_s=C.LIMITER_MAX_WAIT_S)
        query = urlencode(params or [])
        body_bytes = S.ENCODER.encode(body) if body is not None else b""
        headers = dict(self.extra_headers)
        if body is not None:
            headers["Content-Type"] = "application/json"
        headers["Accept"] = "application/json"
        if expires_ms:
            if clock.now_ms() >= expires_ms:
                raise OrderRejected(f"{method} {endpoint}: request deadline passed before sending", venue=self.venue,
                                    code="DEADLINE_PASSED", local=True)
            headers["X-Gate-Exptime"] = str(expires_ms + self.time.offset_ms)
        if signed:
            path = self.base_path + endpoint
            ts = str(self.time.now_s())
            # Gate signs the unencoded query (GSDK unquote_plus(urlencode(...))), section 1.2
            headers.update(rest_headers(self._key, self._secret, method, path, unquote_plus(query), body_bytes, ts))
        resp = await self.http.request(
            method, self.base_url + endpoint, query=query, body=body_bytes or None, headers=headers
        )
        if 200 <= resp.status < 300:
            return resp.body
        label, message = "", resp.body[:300].decode(errors="replace")
        try:
            err = _ERROR_DECODER.decode(resp.body)
            label, message = err.label, err.message or err.detail
        except (msgspec.DecodeError, msgspec.ValidationError):
            pass
        if resp.status == 429 or label in C.RATE_LABELS:
            self.limiter.penalize(ep_key, retry_after_s(resp, C.RATE_LIMIT_PENALTY_S))
        raise_for_http(
            self.venue,
            resp.status,
            label,
            f"{method} {endpoint}: {message}",
            auth_codes=C.AUTH_LABELS,
            not_found_codes=C.NOT_FOUND_LABELS | C.ORDER_FINAL_LABELS,
            rate_codes=C.RATE_LABELS,
            unknown_codes=C.UNKNOWN_LABELS,
        )
        raise AssertionError("unreachable")  # raise_for_http always raises
