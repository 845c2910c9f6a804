"""One MEXC spot websocket connection: subscriptions, acks, PING, protobuf decoding.

Protocol (docs/venues.md sections 4.1-4.3): JSON text frames for control
(``{"method":"SUBSCRIPTION","params":[topic]}`` -> ``{"id":0,"code":0,"msg":topic}``;
``{"method":"PING"}`` -> ``{"id":0,"code":0,"msg":"PONG"}``; refusals carry
"Not Subscribed successfully!"), binary frames are serialized
``PushDataV3ApiWrapper``. At most 30 topics per connection.

Reconnect, backoff and idle detection come from :class:`exchanges.transport.WsClient`;
every (re)connect re-sends all subscriptions. A connection is replaced after
``max_age_s`` (default ``C.WS_ROTATE_AFTER_S``, ten minutes before the venue's
24 h limit, section 4.1), the successor subscribed before the old one closes. Malformed frames are counted in
``malformed`` and logged at debug level, never raised.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import msgspec
from google.protobuf.message import DecodeError

from exchanges.mexc import constants as C
from exchanges.mexc.proto import mexc_push_pb2 as pb
from exchanges.transport import WsClient
from exchanges.venue import VenueError

log = logging.getLogger(__name__)
_PARSE = pb.PushDataV3ApiWrapper.FromString

_PING_TEXT = '{"method":"PING"}'
_REFUSED_MARK = "Not Subscribed successfully"


class _Control(msgspec.Struct):
    """Text control frame: ack/pong (``id``, ``code``, ``msg``) or refusal (``msg``/``error_text``)."""

    id: int | str | None = None
    code: int | str | None = None
    msg: str | None = None
    error_text: str | None = None


_DEC_CONTROL = msgspec.json.Decoder(_Control)


class MexcWsConnection:
    """A reconnecting MEXC websocket carrying up to 30 topics.

    ``on_push(wrapper)`` gets every decoded binary frame whose body kind has no entry in
    ``handlers`` (``{kind: handler}``, e.g. ``"publicAggreDepths"``: the hot path, one call from
    the frame; a handler returning False counts the push as malformed); ``on_alive()`` is called
    for each valid control frame (PONG/ack: the connection is alive);
    ``on_state(connected, detail)`` on every connect and disconnect.
    ``url`` may be changed (listen key renewal) and takes effect on the next connect.
    """

    def __init__(
        self,
        url: str,
        *,
        stream: str,
        on_push: Callable[[pb.PushDataV3ApiWrapper], None],
        on_state: Callable[[bool, str], None],
        on_alive: Callable[[], None] | None = None,
        ping_interval_s: float = C.WS_PING_INTERVAL_S,
        idle_timeout_s: float = 45.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        max_age_s: float | None = C.WS_ROTATE_AFTER_S,
        handlers: dict[str, Callable[[pb.PushDataV3ApiWrapper], bool]] | None = None,
    ) -> None:
        self.stream = stream
        self._on_push = on_push
        # body kind -> fast handler (returns False for an unusable push, counted as malformed);
        # every other kind goes to on_push
        self._handlers = dict(handlers or {})
        self._on_state = on_state
        self._on_alive = on_alive
        self.topics: list[str] = []
        self._acks: dict[str, asyncio.Event] = {}
        self.refused: dict[str, str] = {}
        self.malformed = 0
        self.pushes = 0
        self.client = WsClient(
            url, venue=C.VENUE_NAME, stream=stream, on_message=self._on_frame,
            on_connect=self._on_connect, on_disconnect=self._on_disconnect,
            ping_message=lambda: _PING_TEXT, ping_interval_s=ping_interval_s,
            idle_timeout_s=idle_timeout_s, backoff_initial_s=backoff_initial_s, backoff_max_s=backoff_max_s,
            max_age_s=max_age_s,
        )
        self._note_data = self.client.note_data

    @property
    def url(self) -> str:
        return self.client.url

    @url.setter
    def url(self, value: str) -> None:
        self.client.url = value

    @property
    def connected(self) -> bool:
        return self.client.connected

    async def start(self) -> None:
        await self.client.start()

    async def close(self) -> None:
        await self.client.close()

    async def subscribe(self, topic: str, *, ack_timeout_s: float = 5.0) -> bool:
        """Add ``topic`` (kept across reconnects) and wait up to ``ack_timeout_s`` for its ack.

        Returns True when acknowledged, False on timeout (the subscription stays
        registered; data may still arrive). Raises VenueError when the venue
        refuses it or the connection already holds 30 topics.
        """
        if topic not in self.topics:
            if len(self.topics) >= C.WS_MAX_SUBSCRIPTIONS:
                raise VenueError(f"MEXC websocket {self.stream}: more than {C.WS_MAX_SUBSCRIPTIONS} topics",
                                 venue=C.VENUE_NAME, code="TOO_MANY_TOPICS")
            self.topics.append(topic)
        event = self._acks.setdefault(topic, asyncio.Event())
        self.refused.pop(topic, None)
        await self.client.start()
        if self.client.connected:
            try:
                await self._send_subscription(topic)
            except ConnectionError:
                pass  # the reconnect's on_connect sends it
        try:
            await asyncio.wait_for(event.wait(), ack_timeout_s)
        except asyncio.TimeoutError:
            log.warning("MEXC %s: no ack for %s within %.1fs", self.stream, topic, ack_timeout_s)
            return False
        if topic in self.refused:
            reason = self.refused[topic]
            self.topics.remove(topic)
            raise VenueError(f"MEXC refused subscription {topic}: {reason}", venue=C.VENUE_NAME, code="SUB_REFUSED")
        return True

    def force_reconnect(self, reason: str) -> None:
        self.client.force_reconnect(reason)

    # ---- WsClient callbacks -----------------------------------------------------------

    async def _send_subscription(self, topic: str) -> None:
        await self.client.send(msgspec.json.encode({"method": "SUBSCRIPTION", "params": [topic]}).decode())

    async def _on_connect(self) -> None:
        for topic in list(self.topics):
            self._acks.setdefault(topic, asyncio.Event()).clear()
            await self._send_subscription(topic)
        self._on_state(True, "connected")

    def _on_disconnect(self, reason: str) -> None:
        for event in self._acks.values():
            event.clear()
        self._on_state(False, reason)

    def _on_frame(self, frame: str | bytes) -> None:
        if frame.__class__ is bytes or isinstance(frame, (bytearray, memoryview)):
            try:
                msg = _PARSE(frame if frame.__class__ is bytes else bytes(frame))
                kind = msg.WhichOneof("body")
            except (DecodeError, ValueError, TypeError, RuntimeError):
                kind = None
            if kind is None:
                self._malformed("undecodable or empty binary frame", frame)
                return
            self.pushes += 1
            self._note_data()  # a real data frame: the connection is healthy
            try:
                handler = self._handlers.get(kind)
                if handler is None:
                    self._on_push(msg)
                elif handler(msg) is False:
                    self._malformed(f"unusable {kind} push", frame)
            except Exception:  # a handler bug must not kill the receive loop
                self.malformed += 1
                log.exception("MEXC %s: push handler failed on %s", self.stream, msg.channel)
            return
        self._on_text(frame)

    def _on_text(self, text: str) -> None:
        try:
            ctl = _DEC_CONTROL.decode(text)
        except (msgspec.DecodeError, UnicodeDecodeError):
            self._malformed("non-JSON text frame", text)
            return
        message = ctl.msg or ctl.error_text or ""
        if _REFUSED_MARK in message:
            for topic in self.topics:
                if topic in message:
                    self.refused[topic] = message
                    self._acks.setdefault(topic, asyncio.Event()).set()
            log.warning("MEXC %s: subscription refused: %s", self.stream, message[:200])
            return
        if message in self._acks and str(ctl.code) in ("0", "None"):
            self._acks[message].set()
        elif message != "PONG" and ctl.code is not None and str(ctl.code) != "0":
            log.warning("MEXC %s: control error %s: %s", self.stream, ctl.code, message[:200])
        if self._on_alive is not None and message:
            self._on_alive()

    def _malformed(self, what: str, frame: str | bytes) -> None:
        self.malformed += 1
        log.debug("MEXC %s: malformed frame (%s): %r", self.stream, what, frame[:64])
