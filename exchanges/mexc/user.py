"""MEXC private websocket: listen key lifecycle + orders/deals/account subscriptions.

Listen key (docs/venues.md section 3.6): ``POST /api/v3/userDataStream``
creates it (valid 60 min), ``PUT ...?listenKey=`` extends it (sent every
``keepalive_s``, default 30 min), the socket connects to ``ws_url?listenKey=KEY``
and subscribes ``spot@private.{orders,deals,account}.v3.api.pb`` (section 4.3).

Re-creation: when a keepalive is refused (any definite venue answer: unknown
or expired key, auth error) or when the socket drops and a keepalive check then
fails, a new key is created, the socket URL switched to it and the socket
reconnected. Transient failures (timeout, 5xx, rate limit) are retried with a
capped backoff; this never gives up until :meth:`close`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from exchanges.mexc import constants as C
from exchanges.mexc.proto import mexc_push_pb2 as pb
from exchanges.mexc.rest import MexcRest
from exchanges.mexc.ws import MexcWsConnection
from exchanges.venue import AuthError, OutcomeUnknown, RateLimited, VenueError

log = logging.getLogger(__name__)


def listen_url(ws_url: str, listen_key: str) -> str:
    """``ws_url`` with ``listenKey=<key>`` appended as a query parameter."""
    return f"{ws_url}{'&' if '?' in ws_url else '?'}listenKey={listen_key}"


class MexcUserStream:
    """Private stream of one account. ``on_push`` gets decoded private frames,
    ``on_state(connected, detail)`` the connection changes."""

    def __init__(
        self,
        rest: MexcRest,
        ws_url: str,
        *,
        on_push: Callable[[pb.PushDataV3ApiWrapper], None],
        on_state: Callable[[bool, str], None],
        keepalive_s: float = C.LISTEN_KEY_KEEPALIVE_S,
        retry_backoff_max_s: float = 30.0,
        ws_backoff_initial_s: float = 0.5,
        ws_backoff_max_s: float = 30.0,
        ws_max_age_s: float | None = C.WS_ROTATE_AFTER_S,
    ) -> None:
        self._rest = rest
        self._ws_max_age_s = ws_max_age_s
        self._ws_url = ws_url
        self._on_push = on_push
        self._on_state = on_state
        self.keepalive_s = keepalive_s
        self.retry_backoff_max_s = retry_backoff_max_s
        self._ws_backoff = (ws_backoff_initial_s, ws_backoff_max_s)
        self.listen_key = ""
        self.conn: MexcWsConnection | None = None
        self._keepalive_task: asyncio.Task[None] | None = None
        self._check_task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._closing = False
        self.keys_created = 0

    @property
    def connected(self) -> bool:
        return self.conn is not None and self.conn.connected

    async def start(self) -> None:
        """Create the listen key, connect and subscribe the private topics (idempotent).

        Raises AuthError without keys; other VenueErrors if the key cannot be created.
        """
        if self.conn is not None:
            return
        self._closing = False
        self.listen_key = await self._rest.create_listen_key()
        self.keys_created += 1
        self.conn = MexcWsConnection(
            listen_url(self._ws_url, self.listen_key), stream="private", on_push=self._on_push,
            on_state=self._state, backoff_initial_s=self._ws_backoff[0], backoff_max_s=self._ws_backoff[1],
            max_age_s=self._ws_max_age_s,
        )
        try:
            for topic in C.PRIVATE_TOPICS:
                await self.conn.subscribe(topic)
        except BaseException:
            await self.close()  # do not leak a half-started socket
            raise
        self._keepalive_task = asyncio.create_task(self._keepalive_loop(), name="mexc-listen-key")

    async def close(self) -> None:
        self._closing = True
        for task in (self._keepalive_task, self._check_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._keepalive_task = self._check_task = None
        if self.conn is not None:
            await self.conn.close()
            self.conn = None
        if self.listen_key and self._rest.has_keys:
            with contextlib.suppress(VenueError):
                await self._rest.delete_listen_key(self.listen_key)
        self.listen_key = ""

    # ---- internals ----------------------------------------------------------------------

    def _state(self, connected: bool, detail: str) -> None:
        self._on_state(connected, detail)
        if not connected and not self._closing and (self._check_task is None or self._check_task.done()):
            self._check_task = asyncio.create_task(self._ensure_key_valid(), name="mexc-listen-key-check")

    async def _keepalive_loop(self) -> None:
        while True:
            await asyncio.sleep(self.keepalive_s)
            await self._ensure_key_valid()

    async def _ensure_key_valid(self) -> None:
        """Extend the key; on a definite refusal create a new one and reconnect on it."""
        delay_s = 1.0
        while not self._closing:
            async with self._lock:
                try:
                    await self._rest.keepalive_listen_key(self.listen_key)
                    return
                except (OutcomeUnknown, RateLimited) as exc:
                    log.warning("MEXC listen key keepalive: transient failure (%s); retrying", exc)
                except VenueError as exc:
                    log.warning("MEXC listen key refused (%s: %s); creating a new one", type(exc).__name__, exc)
                    if await self._recreate():
                        return
            await asyncio.sleep(delay_s)
            delay_s = min(self.retry_backoff_max_s, delay_s * 2)

    async def _recreate(self) -> bool:
        try:
            key = await self._rest.create_listen_key()
        except AuthError:
            log.error("MEXC listen key: cannot create a new key (auth error); will keep retrying")
            return False
        except VenueError as exc:
            log.warning("MEXC listen key: create failed (%s); will retry", exc)
            return False
        self.listen_key = key
        self.keys_created += 1
        if self.conn is not None:
            self.conn.url = listen_url(self._ws_url, key)
            self.conn.force_reconnect("listen key renewed")
        return True
