"""Gate.io v4 WebSocket stream: subscriptions, private-channel auth, ping (sections 2.2-2.4).

``GateStream(venue, ws_url, ping_channel, api_key, api_secret, time_offset, on_frame,
on_connected, on_disconnected, headers=None)`` owns one reconnecting :class:`WsClient`.

* ``await subscribe(channel, payload, private=False)`` remembers the subscription and sends it
  now if connected; every (re)connect re-sends all remembered subscriptions, private ones
  re-signed with a fresh ``time`` (``channel=..&event=subscribe&time=..``, section 2.4).
* ``{"time": s, "channel": "<spot|futures>.ping"}`` is sent every PING_INTERVAL_S; with no frame
  for IDLE_TIMEOUT_S the socket is dropped and reconnected (capped backoff, never gives up).
* ``on_frame(frame)`` receives every raw frame; ``on_connected()`` runs after the
  subscriptions are sent; ``on_disconnected(reason)`` on every drop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from exchanges.gateio import constants as C
from exchanges.gateio.auth import ws_auth
from exchanges.gateio.schemas import ENCODER
from exchanges.transport import ServerTimeOffset, WsClient

log = logging.getLogger(__name__)


class GateStream:
    """One Gate WS connection carrying public and private channels (see module docstring)."""

    def __init__(
        self,
        venue: str,
        ws_url: str,
        ping_channel: str,
        api_key: str,
        api_secret: str,
        time_offset: ServerTimeOffset,
        on_frame: Callable[[str | bytes], None],
        on_connected: Callable[[], None],
        on_disconnected: Callable[[str], None],
        headers: dict[str, str] | None = None,
        *,
        ping_interval_s: float = C.PING_INTERVAL_S,
        idle_timeout_s: float = C.IDLE_TIMEOUT_S,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        max_age_s: float | None = C.WS_MAX_AGE_S,
    ) -> None:
        self.venue = venue
        self.ping_channel = ping_channel
        self._key = api_key
        self._secret = api_secret
        self._time = time_offset
        self._on_connected = on_connected
        self._subs: dict[tuple[str, tuple[str, ...] | None], bool] = {}
        self._next_id = 1
        self._sent: set[tuple[str, tuple[str, ...] | None]] = set()  # sent on the current socket
        self.client = WsClient(
            ws_url,
            venue=venue,
            stream="ws",
            on_message=on_frame,
            on_connect=self._resubscribe,
            on_disconnect=on_disconnected,
            ping_message=self._ping,
            ping_interval_s=ping_interval_s,
            idle_timeout_s=idle_timeout_s,
            backoff_initial_s=backoff_initial_s,
            backoff_max_s=backoff_max_s,
            headers=headers,
            max_age_s=max_age_s,
        )

    @property
    def connected(self) -> bool:
        return self.client.connected

    async def start(self) -> None:
        await self.client.start()

    async def close(self) -> None:
        await self.client.close()

    def _ping(self) -> str:
        return ENCODER.encode({"time": self._time.now_s(), "channel": self.ping_channel}).decode()

    def request(self, channel: str, event: str, payload: list[str] | None, private: bool) -> str:
        """JSON text of one (un)subscribe request (section 2.2), signed when ``private``."""
        now_s = self._time.now_s()
        msg: dict[str, object] = {"time": now_s, "id": self._next_id, "channel": channel, "event": event}
        self._next_id += 1
        if payload is not None:
            msg["payload"] = payload
        if private:
            msg["auth"] = ws_auth(self._key, self._secret, channel, event, now_s)
        return ENCODER.encode(msg).decode()

    async def subscribe(self, channel: str, payload: list[str] | None, private: bool = False) -> None:
        key = (channel, tuple(payload) if payload is not None else None)
        if key in self._subs:
            return
        self._subs[key] = private
        await self.client.start()
        if self.client._ws is not None and key not in self._sent:  # socket up (maybe mid-resubscribe)
            self._sent.add(key)
            try:
                await self.client.send(self.request(channel, "subscribe", payload, private))
            except ConnectionError as exc:  # the reconnect path re-sends it
                log.info("%s: subscribe %s deferred to reconnect: %s", self.venue, channel, exc)

    async def _resubscribe(self) -> None:
        # Loop until every remembered subscription went out on THIS socket, including ones added
        # by subscribe() while we were awaiting a send here.
        self._sent = set()
        while pending := [k for k in self._subs if k not in self._sent]:
            for key in pending:
                self._sent.add(key)
                channel, payload = key
                await self.client.send(
                    self.request(channel, "subscribe", list(payload) if payload is not None else None, self._subs[key])
                )
        self._on_connected()
