"""Book-ticker streams of many symbols at once, for the scanner's window (public, no keys).

:class:`BookTickerStreams` subscribes the best bid/ask of the given symbols on the three venues
and calls ``on_quote(venue, venue_symbol, quote)`` for every update (sizes in the venue's order
unit: base on spot, contracts on the perp). Subscription limits (documented):

* Gate spot ``spot.book_ticker`` and USDT futures ``futures.book_ticker`` take a list of pairs
  per subscribe (docs/venues.md 2.5). Gate states no limit on subscriptions per
  connection and recommends at most 100 connections per host (gateio/gatews issue 25); we use
  ONE connection per market and subscribe in requests of :data:`GATE_PAIRS_PER_REQUEST`
  pairs. A refused request (one unknown pair refuses the whole list) is retried pair by pair,
  so only the unknown pair is lost; it is reported in ``refused``. Futures connections send
  ``X-Gate-Size-Decimal: 1`` (1.7). Ping ``<spot|futures>.ping`` every 5 s (2.3).
* MEXC ``spot@public.aggre.bookTicker.v3.api.pb@100ms@SYMBOL``: at most 30 subscriptions per
  connection and 100 messages per second (docs/venues.md 3.1, 4.1), so one connection per
  :data:`MEXC_TOPICS_PER_CONNECTION` symbols, each subscribing with ONE message; ``PING`` every
  20 s (4.2). Refusals ("Not Subscribed successfully! [...]") are reported in ``refused``.

Malformed frames are counted (``stats[venue].malformed``) and skipped, never raised.
Connections reconnect and resubscribe by themselves (:class:`exchanges.transport.WsClient`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import msgspec

from exchanges import clock
from exchanges.discovery.endpoints import DiscoveryEndpoints
from exchanges.discovery.types import Quote
from exchanges.gateio import schemas as gschemas
from exchanges.mexc import push as mpush
from exchanges.models import VenueId
from exchanges.transport import WsClient

log = logging.getLogger(__name__)

GATE_PAIRS_PER_REQUEST = 100
MEXC_TOPICS_PER_CONNECTION = 30
MEXC_TOPIC = "spot@public.aggre.bookTicker.v3.api.pb@{interval}@{symbol}"
MEXC_INTERVAL = "100ms"
GATE_PING_S = 5.0
MEXC_PING_S = 20.0
_REFUSED = re.compile(r"Not Subscribed successfully!\s*\[([^\]]*)\]")

QuoteHandler = Callable[[VenueId, str, Quote], None]


@dataclass
class StreamStats:
    """Per venue: ``frames`` received, ``updates`` handed to ``on_quote``, ``malformed`` frames
    skipped, ``refused`` venue symbol -> the venue's message, ``connects`` (re)connections."""

    frames: int = 0
    updates: int = 0
    malformed: int = 0
    refused: dict[str, str] = field(default_factory=dict)
    connects: int = 0


class _GateMarket:
    """One Gate WS connection (spot or futures) carrying ``book_ticker`` for many pairs."""

    def __init__(self, venue: VenueId, url: str, pairs: Sequence[str], on_quote: QuoteHandler,
                 stats: StreamStats) -> None:
        self.venue = venue
        self.prefix = "futures" if venue is VenueId.GATE_PERP else "spot"
        self.channel = f"{self.prefix}.book_ticker"
        self.pairs = [p.upper() for p in pairs]
        self.on_quote = on_quote
        self.stats = stats
        self._requests: dict[int, list[str]] = {}
        self._next_id = 1
        self._retries: set[asyncio.Task[None]] = set()
        headers = {"X-Gate-Size-Decimal": "1"} if venue is VenueId.GATE_PERP else None
        self.client = WsClient(url, venue=venue.value, stream="book_ticker", on_message=self._on_frame,
                               on_connect=self._subscribe_all, ping_message=self._ping, ping_interval_s=GATE_PING_S,
                               idle_timeout_s=4 * GATE_PING_S, headers=headers)

    def _ping(self) -> str:
        return json.dumps({"time": int(clock.now_s()), "channel": f"{self.prefix}.ping"})

    async def _send(self, pairs: list[str]) -> None:
        req_id = self._next_id
        self._next_id += 1
        self._requests[req_id] = pairs
        await self.client.send(json.dumps({"time": int(clock.now_s()), "id": req_id, "channel": self.channel,
                                           "event": "subscribe", "payload": pairs}))

    async def _subscribe_all(self) -> None:
        self.stats.connects += 1
        self._requests.clear()
        wanted = [p for p in self.pairs if p not in self.stats.refused]
        for i in range(0, len(wanted), GATE_PAIRS_PER_REQUEST):
            await self._send(wanted[i:i + GATE_PAIRS_PER_REQUEST])

    def _on_frame(self, frame: str | bytes) -> None:
        self.stats.frames += 1
        try:
            msg = gschemas.HOT_DECODER.decode(frame)
        except (msgspec.DecodeError, msgspec.ValidationError):
            msg = None
        if isinstance(msg, (gschemas.SpotTickerMsg, gschemas.FuturesTickerMsg)) and msg.event == "update":
            r = msg.result
            if r.b > 0 and r.a > 0 and r.B >= 0 and r.A >= 0:
                self.stats.updates += 1
                self.client.note_data()
                self.on_quote(self.venue, r.s.upper(), Quote(r.b, r.B, r.a, r.A))
            else:
                self.stats.malformed += 1
            return
        self._on_control(frame)

    def _on_control(self, frame: str | bytes) -> None:
        try:
            env = gschemas.ENVELOPE_DECODER.decode(frame)
            req_id = msgspec.json.decode(frame, type=dict).get("id")
        except (msgspec.DecodeError, msgspec.ValidationError):
            self.stats.malformed += 1
            return
        if env.error is None or env.channel != self.channel:
            return  # acks, pongs, other channels
        pairs = self._requests.pop(req_id, []) if isinstance(req_id, int) else []
        if len(pairs) > 1:  # one unknown pair refuses the whole request: isolate it
            task = asyncio.get_running_loop().create_task(self._retry_each(pairs))
            self._retries.add(task)
            task.add_done_callback(self._retries.discard)
            return
        for pair in pairs or ["?"]:
            self.stats.refused[pair] = env.error.message or f"error {env.error.code}"

    async def _retry_each(self, pairs: list[str]) -> None:
        for pair in pairs:
            try:
                await self._send([pair])
            except ConnectionError:
                return  # reconnect resubscribes


class _MexcConnection:
    """One MEXC WS connection with at most 30 book-ticker topics."""

    def __init__(self, url: str, symbols: Sequence[str], interval: str, on_quote: QuoteHandler,
                 stats: StreamStats, index: int) -> None:
        self.topics = [MEXC_TOPIC.format(interval=interval, symbol=s.upper()) for s in symbols]
        self.on_quote = on_quote
        self.stats = stats
        self.client = WsClient(url, venue=VenueId.MEXC_SPOT.value, stream=f"bookTicker#{index}",
                               on_message=self._on_frame, on_connect=self._subscribe,
                               ping_message=lambda: '{"method":"PING"}', ping_interval_s=MEXC_PING_S,
                               idle_timeout_s=3 * MEXC_PING_S)

    async def _subscribe(self) -> None:
        self.stats.connects += 1
        await self.client.send(json.dumps({"method": "SUBSCRIPTION", "params": self.topics}))

    def _on_frame(self, frame: str | bytes) -> None:
        self.stats.frames += 1
        if isinstance(frame, bytes):
            msg = mpush.decode_wrapper(frame)
            top = mpush.book_ticker_from(msg) if msg is not None and msg.HasField("publicAggreBookTicker") else None
            if top is None:
                self.stats.malformed += 1
                return
            symbol, bid, bid_qty, ask, ask_qty = top
            self.stats.updates += 1
            self.client.note_data()
            self.on_quote(VenueId.MEXC_SPOT, symbol.upper(), Quote(bid, bid_qty, ask, ask_qty))
            return
        try:
            text = str(json.loads(frame).get("msg", ""))
        except (ValueError, AttributeError):
            self.stats.malformed += 1
            return
        refused = _REFUSED.search(text)
        if refused:
            for topic in filter(None, (t.strip() for t in refused.group(1).split(","))):
                self.stats.refused[topic.rsplit("@", 1)[-1]] = " ".join(text.split())


class BookTickerStreams:
    """Book tickers of ``symbols`` (venue -> venue symbols) on the three venues (module doc).

    ``await start()`` connects in the background; ``await close()`` stops everything.
    ``stats`` holds a :class:`StreamStats` per venue that has symbols to stream."""

    def __init__(self, endpoints: DiscoveryEndpoints, symbols: Mapping[VenueId, Sequence[str]],
                 on_quote: QuoteHandler, *, mexc_interval: str = MEXC_INTERVAL) -> None:
        self.stats = {venue: StreamStats() for venue in VenueId if symbols.get(venue)}
        self._clients: list[WsClient] = []
        for venue, url in ((VenueId.GATE_SPOT, endpoints.gate_spot_ws), (VenueId.GATE_PERP, endpoints.gate_perp_ws)):
            if symbols.get(venue):
                self._clients.append(_GateMarket(venue, url, symbols[venue], on_quote, self.stats[venue]).client)
        mexc = list(symbols.get(VenueId.MEXC_SPOT, ()))
        for i in range(0, len(mexc), MEXC_TOPICS_PER_CONNECTION):
            conn = _MexcConnection(endpoints.mexc_ws, mexc[i:i + MEXC_TOPICS_PER_CONNECTION], mexc_interval, on_quote,
                                   self.stats[VenueId.MEXC_SPOT], i // MEXC_TOPICS_PER_CONNECTION)
            self._clients.append(conn.client)

    @property
    def connections(self) -> int:
        """Number of WebSocket connections (1 per Gate market, 1 per 30 MEXC symbols)."""
        return len(self._clients)

    async def start(self) -> None:
        for client in self._clients:
            await client.start()

    async def wait_connected(self, timeout_s: float) -> bool:
        """True once every connection is up (subscriptions sent), False after ``timeout_s``."""
        for client in self._clients:
            if not await client.wait_connected(timeout_s):
                return False
        return True

    async def close(self) -> None:
        for client in self._clients:
            await client.close()
