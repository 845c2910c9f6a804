"""Shared transport for every venue connector: HTTP, WebSocket, rate limits, server time.

Venue packages (``exchanges/gateio``, ``exchanges/mexc``) build on these pieces and keep
only venue facts (paths, signing, schemas) themselves. Public API (stable; additive changes only):

Rate limiting
    ``TokenBucket(capacity, refill_per_s)``
        ``try_acquire(n=1) -> bool`` (never waits); ``wait_time_s(n=1) -> float``.
    ``RateLimiter(venue)``
        ``add(key, capacity, window_s)`` registers a bucket allowing ``capacity`` requests per
        ``window_s`` seconds (e.g. Gate spot orders ``add("spot.orders:NEIROETH_USDT", 10, 1.0)``).
        ``await acquire(*keys, max_wait_s=1.0)`` takes one token from every named bucket
        (unknown keys are ignored), sleeping up to ``max_wait_s``; if the wait would be longer it
        raises :class:`~exchanges.venue.RateLimited` and takes nothing.
        ``penalize(key, seconds)`` empties a bucket for ``seconds`` after a venue 429;
        ``has(key)``, ``keys()`` list the registered buckets.

Server time
    ``ServerTimeOffset()``: ``offset_ms`` (server minus local, int), ``update(server_ms,
    sent_local_ms, recv_local_ms)`` (midpoint estimate), ``now_ms()`` / ``now_s()`` = local
    project clock + offset (use for every signed timestamp).

HTTP
    ``HttpResponse(status, body: bytes, headers: dict[str, str])`` with ``json()`` and
    ``header(name, default="")`` (case-insensitive lookup) helpers; ``retry_after_s(response,
    default_s)`` reads a ``Retry-After`` header in seconds (any letter case).
    ``HttpTransport(venue, *, timeout_s=5.0, default_headers=None)``
        ``await start()`` / ``await close()`` (idempotent, one aiohttp session per venue);
        ``await request(method, url, *, query="", body=None, headers=None) -> HttpResponse``.
        ``query`` is the exact query string sent after ``?`` (not re-encoded by aiohttp), ``body``
        the exact bytes sent: sign these same values. Non-2xx statuses are RETURNED, not raised;
        venue code maps them (see ``raise_for_http``). Raises :class:`OutcomeUnknown` on timeout,
        connection reset or any transport failure (the request may have reached the venue).
        NOTE: for GET requests OutcomeUnknown simply means "no answer"; callers may retry reads.

Error mapping
    ``raise_for_http(venue, status, code, message, *, auth_codes=(), not_found_codes=(),
    rate_codes=(), unknown_codes=())`` raises the taxonomy error for a non-2xx answer:
    429 or ``code in rate_codes`` -> RateLimited; 5xx or ``code in unknown_codes`` ->
    OutcomeUnknown; 401/403 or ``code in auth_codes`` -> AuthError; ``code in not_found_codes``
    or (404 without a code) -> NotFound; any other 4xx -> OrderRejected (venue refusal).

WebSocket
    ``WsClient(url, *, venue, stream, on_message, on_connect=None, on_disconnect=None,
    ping_message=None, ping_interval_s=5.0, idle_timeout_s=30.0, backoff_initial_s=0.5,
    backoff_max_s=30.0, open_timeout_s=10.0, headers=None)``
        ``on_message(frame: str | bytes) -> None`` is called for every received frame (sync; any
        exception is counted in ``errors`` and logged, never raised). ``on_connect()`` is an
        async callback run after every (re)connect, before frames are delivered -- subscribe
        and re-authenticate there. ``on_disconnect(reason: str)`` is sync. ``ping_message()``
        returns the application ping text (Gate ``spot.ping``); sent every ``ping_interval_s``.
        If nothing is received for ``idle_timeout_s`` the socket is considered dead and is
        reconnected. Reconnects use capped exponential backoff with jitter and NEVER give up
        until ``close()``. The backoff is reset only once a connection proved healthy: it
        stayed up for ``stable_after_s`` (default 10 s) or the owner reported a real data
        frame on it with ``note_data()`` (acks/pongs do not count), so a server that accepts
        and then drops at once is retried with growing delays, not every 0.5 s.
        ``await start()``; ``await close()``; ``await send(text)`` (raises ConnectionError when
        not connected); ``await wait_connected(timeout_s) -> bool``; ``force_reconnect(reason)``;
        ``note_data()`` (call from ``on_message`` for a data frame: book update, private push);
        properties ``connected``, ``connect_count``, ``last_recv_ms``, ``errors``,
        ``reconnect_attempt`` (consecutive unhealthy connects), ``last_backoff_s``, ``rotations``.
        ``max_age_s`` (default None = never): a connection that reaches this age is replaced
        before the venue's own connection limit ends it (MEXC: 24 h). The successor is opened and
        ``on_connect`` runs on it (subscriptions go out on the new socket) while the old socket
        is still open; frames the old one already received are delivered, then it is closed and
        reading continues on the successor. No ``on_disconnect`` is reported for a rotation: the
        stream never stops, so books stay current (their sequence checks absorb the overlap).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import msgspec
import websockets
from websockets.asyncio.client import connect as ws_connect
from yarl import URL

from exchanges import clock
from exchanges.venue import AuthError, NotFound, OrderRejected, OutcomeUnknown, RateLimited

log = logging.getLogger(__name__)

ROTATION_DRAIN_S = 0.1  # a replaced socket's frames are still delivered for this long

# ---------------------------------------------------------------------------------------------
# rate limiting


class TokenBucket:
    """Classic token bucket on the project monotonic clock.

    ``capacity`` tokens max, refilled continuously at ``refill_per_s`` tokens/second.
    """

    __slots__ = ("capacity", "refill_per_s", "_tokens", "_last_s")

    def __init__(self, capacity: float, refill_per_s: float) -> None:
        if capacity <= 0 or refill_per_s <= 0:
            raise ValueError("capacity and refill_per_s must be positive")
        self.capacity = float(capacity)
        self.refill_per_s = float(refill_per_s)
        self._tokens = float(capacity)
        self._last_s = clock.monotonic_s()

    def _refill(self) -> None:
        now = clock.monotonic_s()
        elapsed = now - self._last_s
        if elapsed > 0:
            self._tokens = min(self.capacity, self._tokens + elapsed * self.refill_per_s)
        self._last_s = now

    def wait_time_s(self, n: float = 1.0) -> float:
        """Seconds until ``n`` tokens are available (0 if available now)."""
        self._refill()
        missing = n - self._tokens
        return 0.0 if missing <= 0 else missing / self.refill_per_s

    def try_acquire(self, n: float = 1.0) -> bool:
        """Take ``n`` tokens if available now; never waits."""
        self._refill()
        if self._tokens >= n:
            self._tokens -= n
            return True
        return False

    def drain_for(self, seconds: float) -> None:
        """Empty the bucket so that it is empty for about ``seconds`` (after a venue 429)."""
        self._refill()
        self._tokens = -seconds * self.refill_per_s


class RateLimiter:
    """Named token buckets of one venue; see module docstring."""

    def __init__(self, venue: str) -> None:
        self.venue = venue
        self._buckets: dict[str, TokenBucket] = {}

    def add(self, key: str, capacity: int, window_s: float) -> None:
        """Allow ``capacity`` requests per ``window_s`` seconds under ``key`` (idempotent)."""
        if key not in self._buckets:
            self._buckets[key] = TokenBucket(capacity, capacity / window_s)

    def has(self, key: str) -> bool:
        return key in self._buckets

    def keys(self) -> list[str]:
        """The registered bucket keys (one per endpoint template, market, ...)."""
        return list(self._buckets)

    async def acquire(self, *keys: str, max_wait_s: float = 1.0) -> None:
        """Take one token from each known bucket in ``keys``; wait at most ``max_wait_s``.

        Raises RateLimited (nothing taken) when the wait would exceed ``max_wait_s``.
        """
        buckets = [self._buckets[k] for k in keys if k in self._buckets]
        while True:
            wait_s = max((b.wait_time_s() for b in buckets), default=0.0)
            if wait_s <= 0:
                for b in buckets:
                    b.try_acquire()
                return
            if wait_s > max_wait_s:
                raise RateLimited(
                    f"local rate limit on {', '.join(keys)}: next slot in {wait_s:.2f}s",
                    venue=self.venue,
                    code="LOCAL_RATE_LIMIT",
                    retry_after_s=wait_s,
                )
            max_wait_s -= wait_s
            await asyncio.sleep(wait_s)

    def penalize(self, key: str, seconds: float) -> None:
        """Block ``key`` for ``seconds`` (used after a venue 429)."""
        bucket = self._buckets.get(key)
        if bucket is not None:
            bucket.drain_for(seconds)


# ---------------------------------------------------------------------------------------------
# server time


class ServerTimeOffset:
    """Server clock estimate: ``offset_ms`` = server time - local project clock."""

    def __init__(self) -> None:
        self.offset_ms = 0
        self.synced = False

    def update(self, server_ms: int, sent_local_ms: int, recv_local_ms: int) -> None:
        """Record one time-endpoint answer; assumes the server read its clock at the midpoint."""
        midpoint_ms = (sent_local_ms + recv_local_ms) // 2
        self.offset_ms = int(server_ms) - midpoint_ms
        self.synced = True

    def now_ms(self) -> int:
        return clock.now_ms() + self.offset_ms

    def now_s(self) -> int:
        """Integer seconds of server time (Gate ``Timestamp`` header, WS ``time``)."""
        return self.now_ms() // 1000


# ---------------------------------------------------------------------------------------------
# HTTP


class HttpResponse(msgspec.Struct):
    status: int
    body: bytes
    headers: dict[str, str] = {}

    def json(self) -> Any:
        """Decode the body as JSON; ``None`` for an empty or malformed body."""
        if not self.body:
            return None
        try:
            return msgspec.json.decode(self.body)
        except msgspec.DecodeError:
            return None

    def header(self, name: str, default: str = "") -> str:
        """A response header by name, whatever its letter case (HTTP names are case-insensitive)."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), default)


def retry_after_s(response: HttpResponse, default_s: float) -> float:
    """Seconds from a ``Retry-After`` header (any letter case; RFC 9110 delay-seconds),
    ``default_s`` when absent or not a number (an HTTP-date is not used by the venues)."""
    text = response.header("Retry-After").strip()
    try:
        value = float(text)
    except ValueError:
        return default_s
    return value if value >= 0 else default_s


class HttpTransport:
    """One aiohttp session per venue with a total timeout; see module docstring."""

    def __init__(self, venue: str, *, timeout_s: float = 5.0, default_headers: dict[str, str] | None = None) -> None:
        self.venue = venue
        self.timeout_s = timeout_s
        self.default_headers = dict(default_headers or {})
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                headers=self.default_headers,
                # the venues' signed APIs are stateless: no cookie jar to consult on every request
                cookie_jar=aiohttp.DummyCookieJar(),
            )

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def request(
        self,
        method: str,
        url: str,
        *,
        query: str = "",
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> HttpResponse:
        """Send exactly ``method url?query`` with ``body``; return status, bytes and headers.

        Raises OutcomeUnknown on timeout or any transport error.
        """
        await self.start()
        assert self._session is not None
        full = f"{url}?{query}" if query else url
        try:
            async with self._session.request(
                method, URL(full, encoded=True), data=body, headers=headers
            ) as resp:
                raw = await resp.read()
                return HttpResponse(resp.status, raw, {k: v for k, v in resp.headers.items()})
        except asyncio.TimeoutError as exc:
            raise OutcomeUnknown(
                f"{method} {url}: no answer within {self.timeout_s}s", venue=self.venue, code="TIMEOUT"
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise OutcomeUnknown(
                f"{method} {url}: transport error {type(exc).__name__}: {exc}", venue=self.venue, code="TRANSPORT"
            ) from exc


def raise_for_http(
    venue: str,
    status: int,
    code: str,
    message: str,
    *,
    auth_codes: tuple[str, ...] | frozenset[str] = (),
    not_found_codes: tuple[str, ...] | frozenset[str] = (),
    rate_codes: tuple[str, ...] | frozenset[str] = (),
    unknown_codes: tuple[str, ...] | frozenset[str] = (),
) -> None:
    """Raise the taxonomy error for a non-2xx answer (mapping in the module docstring)."""
    text = f"HTTP {status} {code}: {message}".strip()
    if status == 429 or code in rate_codes:
        raise RateLimited(text, venue=venue, code=code or "429")
    if status >= 500 or code in unknown_codes:
        raise OutcomeUnknown(text, venue=venue, code=code or str(status))
    if status in (401, 403) or code in auth_codes:
        raise AuthError(text, venue=venue, code=code or str(status))
    if code in not_found_codes or (status == 404 and not code):
        raise NotFound(text, venue=venue, code=code or "404")
    raise OrderRejected(text, venue=venue, code=code or str(status))


# ---------------------------------------------------------------------------------------------
# WebSocket


class WsClient:
    """Reconnecting WebSocket client on ``websockets``; see module docstring."""

    def __init__(
        self,
        url: str,
        *,
        venue: str,
        stream: str,
        on_message: Callable[[str | bytes], None],
        on_connect: Callable[[], Awaitable[None]] | None = None,
        on_disconnect: Callable[[str], None] | None = None,
        ping_message: Callable[[], str] | None = None,
        ping_interval_s: float = 5.0,
        idle_timeout_s: float = 30.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        open_timeout_s: float = 10.0,
        headers: dict[str, str] | None = None,
        stable_after_s: float = 10.0,
        max_age_s: float | None = None,
    ) -> None:
        self.url = url
        self.venue = venue
        self.stream = stream
        self._on_message = on_message
        self._on_connect = on_connect
        self._on_disconnect = on_disconnect
        self._ping_message = ping_message
        self.ping_interval_s = ping_interval_s
        self.idle_timeout_s = idle_timeout_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.open_timeout_s = open_timeout_s
        self.headers = dict(headers or {})
        self.stable_after_s = stable_after_s
        self.max_age_s = max_age_s
        self.rotations = 0
        self._ws: Any = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._connected = asyncio.Event()
        self.connect_count = 0
        self.last_recv_ms = 0
        self.errors = 0
        self.reconnect_attempt = 0
        self.last_backoff_s = 0.0
        self._got_data = False

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def start(self) -> None:
        """Start the connect/receive loop in the background (idempotent)."""
        if self._task is None or self._task.done():
            self._closing = False
            self._task = asyncio.create_task(self._run(), name=f"ws:{self.venue}:{self.stream}")

    async def close(self) -> None:
        """Stop reconnecting and close the socket (idempotent)."""
        self._closing = True
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self._task = None
        self._connected.clear()

    async def wait_connected(self, timeout_s: float) -> bool:
        try:
            await asyncio.wait_for(self._connected.wait(), timeout_s)
            return True
        except asyncio.TimeoutError:
            return False

    async def send(self, text: str) -> None:
        ws = self._ws
        if ws is None:
            raise ConnectionError(f"{self.venue}/{self.stream}: websocket not connected")
        try:
            await ws.send(text)
        except websockets.ConnectionClosed as exc:
            raise ConnectionError(f"{self.venue}/{self.stream}: websocket closed: {exc}") from exc

    def note_data(self) -> None:
        """The current connection delivered a real data frame: it is healthy, so the next
        reconnect starts from the initial backoff again."""
        self._got_data = True

    def force_reconnect(self, reason: str) -> None:
        """Drop the current socket; the loop reconnects with backoff."""
        ws = self._ws
        if ws is not None:
            log.info("%s/%s: forcing reconnect: %s", self.venue, self.stream, reason)
            asyncio.ensure_future(ws.close(code=1000, reason=reason[:100]))

    def _connect(self) -> Any:
        return ws_connect(
            self.url,
            additional_headers=self.headers or None,
            open_timeout=self.open_timeout_s,
            ping_interval=20,
            ping_timeout=20,
            close_timeout=2,
            compression=None,
            max_size=2**24,
        )

    async def _run(self) -> None:
        while not self._closing:
            reason = "closed"
            up_since_s: float | None = None
            self._got_data = False
            ws: Any = None
            try:
                ws = await self._connect()
                self._ws = ws
                self.connect_count += 1
                self.last_recv_ms = clock.now_ms()
                up_since_s = clock.monotonic_s()
                if self._on_connect is not None:
                    await self._on_connect()
                self._connected.set()
                while True:
                    reason, ws = await self._receive(ws, clock.monotonic_s())
                    if ws is None:
                        break
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: log, back off, reconnect
                reason = f"{type(exc).__name__}: {exc}"
            finally:
                was_connected = self._connected.is_set()
                self._connected.clear()
                current = self._ws
                self._ws = None
                for sock in {id(x): x for x in (ws, current) if x is not None}.values():
                    with contextlib.suppress(Exception):
                        await sock.close()
            healthy = self._got_data or (
                up_since_s is not None and clock.monotonic_s() - up_since_s >= self.stable_after_s
            )
            if healthy:
                self.reconnect_attempt = 0
            if self._on_disconnect is not None and not self._closing:
                try:
                    self._on_disconnect(reason)
                except Exception:
                    self.errors += 1
                    log.exception("%s/%s: on_disconnect failed", self.venue, self.stream)
            if self._closing:
                break
            delay_s = self.backoff_delay_s(self.reconnect_attempt)
            self.reconnect_attempt += 1
            self.last_backoff_s = delay_s
            log.warning(
                "%s/%s: disconnected (%s, was_connected=%s); reconnect in %.2fs",
                self.venue, self.stream, reason, was_connected, delay_s,
            )
            await asyncio.sleep(delay_s)

    async def _rotate(self, old: Any) -> Any:
        """Open the successor of ``old`` and subscribe on it (``on_connect``) while ``old`` is
        still open; deliver what ``old`` already received, close it; returns the successor.
        If the successor cannot be set up, ``old`` is kept and the rotation retried later."""
        try:
            new = await self._connect()
        except Exception as exc:
            log.warning("%s/%s: rotation failed to connect (%s); keeping the current socket", self.venue,
                        self.stream, exc)
            return old
        self._ws = new  # sends (subscriptions in on_connect) go to the successor from now on
        try:
            if self._on_connect is not None:
                await self._on_connect()
        except Exception as exc:
            log.warning("%s/%s: rotation failed to subscribe (%s); keeping the current socket", self.venue,
                        self.stream, exc)
            self._ws = old
            with contextlib.suppress(Exception):
                await new.close()
            return old
        drain_until_s = clock.monotonic_s() + ROTATION_DRAIN_S
        with contextlib.suppress(TimeoutError, websockets.ConnectionClosed):
            # what the old socket already holds or is still receiving: deliver it, for at most
            # ROTATION_DRAIN_S (the successor carries the same stream from its subscription on)
            while (left_s := drain_until_s - clock.monotonic_s()) > 0:
                async with asyncio.timeout(min(left_s, 0.02)):
                    frame = await old.recv()
                self._deliver(frame)
        with contextlib.suppress(Exception):
            await old.close()
        self.connect_count += 1
        self.rotations += 1
        log.info("%s/%s: connection replaced at its %.0f s age limit (rotation %d)", self.venue, self.stream,
                 self.max_age_s or 0, self.rotations)
        return new

    def backoff_delay_s(self, attempt: int) -> float:
        """Delay before reconnect number ``attempt`` (0-based): capped exponential, +-20 % jitter."""
        delay_s = min(self.backoff_max_s, self.backoff_initial_s * (2 ** min(attempt, 20)))
        return delay_s * (0.8 + 0.4 * random.random())

    def _deliver(self, frame: str | bytes) -> None:
        self.last_recv_ms = clock.now_ms()
        try:
            self._on_message(frame)
        except Exception:
            self.errors += 1
            log.exception("%s/%s: message handler failed", self.venue, self.stream)

    async def _receive(self, ws: Any, since_s: float) -> tuple[str, Any]:
        """Read ``ws`` until it fails (returns ``(reason, None)``) or reaches ``max_age_s``
        (returns ``("rotated", successor)``)."""
        pinger = asyncio.create_task(self._ping_loop(ws)) if self._ping_message else None
        deadline_s = since_s + self.max_age_s if self.max_age_s else None
        try:
            while True:
                wait_s = self.idle_timeout_s
                if deadline_s is not None:
                    left_s = deadline_s - clock.monotonic_s()
                    if left_s <= 0:
                        successor = await self._rotate(ws)
                        if successor is not ws:
                            return "rotated", successor
                        deadline_s = clock.monotonic_s() + min(60.0, self.max_age_s or 60.0)  # retry later
                        continue
                    wait_s = min(wait_s, left_s)
                try:
                    # a timeout scope, not wait_for: no extra task (and loop turn) per frame
                    async with asyncio.timeout(wait_s):
                        frame = await ws.recv()
                except TimeoutError:
                    if deadline_s is not None and clock.monotonic_s() >= deadline_s:
                        continue  # the age limit, not silence: rotate at the top of the loop
                    return f"idle for {self.idle_timeout_s}s", None
                except websockets.ConnectionClosed as exc:
                    return f"connection closed ({exc.rcvd.code if exc.rcvd else 'no close frame'})", None
                self._deliver(frame)
        finally:
            if pinger is not None:
                pinger.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await pinger

    async def _ping_loop(self, ws: Any) -> None:
        assert self._ping_message is not None
        while True:
            await asyncio.sleep(self.ping_interval_s)
            try:
                await ws.send(self._ping_message())
            except websockets.ConnectionClosed:
                return
