"""Live capture of the three venues' public book tops into a recording
(``python run.py record --symbol SYMBOL --minutes N --out FILE``).

Streams (documented public channels, docs/venues.md):

* Gate spot ``spot.book_ticker`` (section 2.5) on ``wss://api.gateio.ws/ws/v4/``;
* Gate USDT perp ``futures.book_ticker`` (section 2.5; sizes in contracts,
  ``X-Gate-Size-Decimal: 1``) on ``wss://fx-ws.gateio.ws/v4/ws/usdt``;
* MEXC ``spot@public.aggre.bookTicker.v3.api.pb@100ms@SYM`` protobuf (section
  4.3) on ``wss://wbs-api.mexc.com/ws``.

Each push becomes one top-of-book snapshot event (N = 1 level per side) of the
``arb-recording/1`` format (:mod:`exchanges.sim.recording.format`); identical
consecutive tops are not repeated. Symbol rules for the header come from REST
(Gate ``/spot/currency_pairs/X`` section 1.3, ``/futures/usdt/contracts/X``
section 1.7, MEXC ``/api/v3/exchangeInfo`` section 3.3); a venue whose rules
cannot be fetched gets conservative defaults, noted in the header ``notes``.

Every URL is injectable (``endpoints`` dict, keys as :data:`DEFAULT_ENDPOINTS`)
so tests run against a local fake server. Streams reconnect after errors;
malformed messages are counted (``LiveFeed.malformed``) and logged, never raised.

API: ``LiveFeed`` (also used by :mod:`exchanges.sim.recording.paper`),
``fetch_rules(session, symbol, endpoints)``, ``async record(symbol, minutes,
out_path, endpoints=None) -> int`` (events written), ``main_record(args) -> int``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path

import aiohttp

from exchanges import clock
from exchanges.mexc.proto import mexc_push_pb2 as pb
from exchanges.models import MarketType, Symbol, SymbolInfo, VenueId
from exchanges.sim.recording.format import RecEvent, RecordingWriter, make_header

log = logging.getLogger(__name__)

DEFAULT_ENDPOINTS: dict[str, str] = {
    "gate_rest": "https://api.gateio.ws/api/v4",
    "gate_spot_ws": "wss://api.gateio.ws/ws/v4/",
    "gate_perp_ws": "wss://fx-ws.gateio.ws/v4/ws/usdt",
    "mexc_rest": "https://api.mexc.com",
    "mexc_ws": "wss://wbs-api.mexc.com/ws",
}
RECONNECT_DELAY_S = 2.0
PING_INTERVAL_S = 10.0
Levels = list[tuple[Decimal, Decimal]]
TopCallback = Callable[[VenueId, Levels, Levels], None]


def _dec(value) -> Decimal:
    result = Decimal(str(value))
    if not result.is_finite():
        raise InvalidOperation(value)
    return result


def _step(decimals) -> Decimal:
    return Decimal(1).scaleb(-int(decimals))


def default_rules(venue: VenueId, symbol: Symbol) -> SymbolInfo:
    """Conservative fallback rules when the venue's REST metadata is unavailable."""
    perp = venue is VenueId.GATE_PERP
    return SymbolInfo(venue=venue, symbol=symbol, venue_symbol=symbol.mexc if venue is VenueId.MEXC_SPOT else symbol.gate,
                      market_type=MarketType.PERP if perp else MarketType.SPOT, price_tick=Decimal("0.000001"),
                      size_step=Decimal(1) if venue is not VenueId.MEXC_SPOT else Decimal("0.01"),
                      min_size=Decimal(1) if venue is not VenueId.MEXC_SPOT else Decimal("0.01"),
                      min_notional=Decimal(0) if perp else Decimal(5), contract_multiplier=Decimal(1),
                      maker_fee_rate=Decimal("0.002"), taker_fee_rate=Decimal("0.002"),
                      funding_interval_s=28800 if perp else 0)


async def _get_json(session: aiohttp.ClientSession, url: str, **kw):
    async with session.get(url, timeout=aiohttp.ClientTimeout(total=10), **kw) as resp:
        resp.raise_for_status()
        return await resp.json(content_type=None)


async def fetch_rules(session: aiohttp.ClientSession, symbol: Symbol,
                      endpoints: dict[str, str]) -> tuple[dict[VenueId, SymbolInfo], list[str]]:
    """Rules per venue from REST; returns (rules, notes about fallbacks)."""
    rules: dict[VenueId, SymbolInfo] = {}
    notes: list[str] = []
    gate, mexc = endpoints["gate_rest"], endpoints["mexc_rest"]
    try:
        pair = await _get_json(session, f"{gate}/spot/currency_pairs/{symbol.gate}")
        fee = _dec(pair.get("fee") or "0.2") / 100
        rules[VenueId.GATE_SPOT] = SymbolInfo(
            venue=VenueId.GATE_SPOT, symbol=symbol, venue_symbol=symbol.gate, market_type=MarketType.SPOT,
            price_tick=_step(pair["precision"]), size_step=_step(pair["amount_precision"]),
            min_size=_dec(pair.get("min_base_amount") or 0), min_notional=_dec(pair.get("min_quote_amount") or 0),
            maker_fee_rate=fee, taker_fee_rate=fee)
    except (aiohttp.ClientError, asyncio.TimeoutError, KeyError, ValueError, TypeError, InvalidOperation) as exc:
        notes.append(f"gate_spot rules: defaults ({exc!r})")
    try:
        c = await _get_json(session, f"{gate}/futures/usdt/contracts/{symbol.gate}",
                            headers={"X-Gate-Size-Decimal": "1"})
        rules[VenueId.GATE_PERP] = SymbolInfo(
            venue=VenueId.GATE_PERP, symbol=symbol, venue_symbol=symbol.gate, market_type=MarketType.PERP,
            price_tick=_dec(c["order_price_round"]), size_step=Decimal(1), min_size=_dec(c.get("order_size_min") or 1),
            contract_multiplier=_dec(c.get("quanto_multiplier") or 1),
            maker_fee_rate=_dec(c.get("maker_fee_rate") or "0.0002"),
            taker_fee_rate=_dec(c.get("taker_fee_rate") or "0.0005"),
            funding_interval_s=int(c.get("funding_interval") or 28800))
    except (aiohttp.ClientError, asyncio.TimeoutError, KeyError, ValueError, TypeError, InvalidOperation) as exc:
        notes.append(f"gate_perp rules: defaults ({exc!r})")
    try:
        from exchanges.mexc.parse import DEC_EXCHANGE_INFO, symbol_info_from

        async with session.get(f"{mexc}/api/v3/exchangeInfo", params={"symbol": symbol.mexc},
                               timeout=aiohttp.ClientTimeout(total=10)) as resp:
            resp.raise_for_status()
            info = DEC_EXCHANGE_INFO.decode(await resp.read())
        rules[VenueId.MEXC_SPOT] = symbol_info_from(info.symbols[0], symbol)
    except (aiohttp.ClientError, asyncio.TimeoutError, IndexError, ValueError) as exc:
        notes.append(f"mexc_spot rules: defaults ({exc!r})")
    for venue in VenueId:
        rules.setdefault(venue, default_rules(venue, symbol))
    return rules, notes


class LiveFeed:
    """Public top-of-book streams of the three venues. ``on_top(venue, bids,
    asks)`` is called per push (one level per side, qty in order units)."""

    def __init__(self, symbol: Symbol, on_top: TopCallback, endpoints: dict[str, str] | None = None,
                 session: aiohttp.ClientSession | None = None) -> None:
        self.symbol = symbol
        self.on_top = on_top
        self.endpoints = {**DEFAULT_ENDPOINTS, **(endpoints or {})}
        self._session = session
        self._own_session = session is None
        self._tasks: list[asyncio.Task] = []
        self.malformed = 0
        self.pushes: dict[VenueId, int] = {v: 0 for v in VenueId}
        self.connected: dict[VenueId, bool] = {v: False for v in VenueId}
        #: the last stream error per venue ("" once a stream is up again)
        self.last_error: dict[VenueId, str] = {v: "" for v in VenueId}

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._run(v)) for v in VenueId]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def _run(self, venue: VenueId) -> None:
        while True:
            try:
                await self._stream(venue)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # network errors: log and reconnect
                log.warning("%s public stream: %r; reconnecting in %.0f s", venue.value, exc, RECONNECT_DELAY_S)
                self.last_error[venue] = f"{type(exc).__name__}: {exc}"[:300]
            self.connected[venue] = False
            await asyncio.sleep(RECONNECT_DELAY_S)

    async def _stream(self, venue: VenueId) -> None:
        sym = self.symbol
        if venue is VenueId.MEXC_SPOT:
            url, headers = self.endpoints["mexc_ws"], {}
            subscribe = {"method": "SUBSCRIPTION", "params": [f"spot@public.aggre.bookTicker.v3.api.pb@100ms@{sym.mexc}"]}
            ping = {"method": "PING"}
        else:
            spot = venue is VenueId.GATE_SPOT
            url = self.endpoints["gate_spot_ws" if spot else "gate_perp_ws"]
            headers = {} if spot else {"X-Gate-Size-Decimal": "1"}
            channel = "spot.book_ticker" if spot else "futures.book_ticker"
            subscribe = {"time": int(clock.now_s()), "channel": channel, "event": "subscribe", "payload": [sym.gate]}
            ping = {"time": int(clock.now_s()), "channel": "spot.ping" if spot else "futures.ping"}
        async with self._session.ws_connect(url, headers=headers, heartbeat=None, autoping=True) as ws:
            await ws.send_str(json.dumps(subscribe))
            self.connected[venue] = True
            self.last_error[venue] = ""
            next_ping = time.monotonic() + PING_INTERVAL_S
            while True:
                try:
                    msg = await ws.receive(timeout=max(0.1, next_ping - time.monotonic()))
                except asyncio.TimeoutError:
                    await ws.send_str(json.dumps(ping))
                    next_ping = time.monotonic() + PING_INTERVAL_S
                    continue
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                    raise ConnectionError(f"websocket closed ({msg.type.name})")
                self._on_message(venue, msg)

    def _on_message(self, venue: VenueId, msg: aiohttp.WSMessage) -> None:
        try:
            if venue is VenueId.MEXC_SPOT:
                if msg.type is not aiohttp.WSMsgType.BINARY:
                    return  # JSON acks / PONG
                wrapper = pb.PushDataV3ApiWrapper.FromString(msg.data)
                if wrapper.WhichOneof("body") != "publicAggreBookTicker":
                    return
                t = wrapper.publicAggreBookTicker
                bid, bid_qty, ask, ask_qty = t.bidPrice, t.bidQuantity, t.askPrice, t.askQuantity
            else:
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    return
                data = json.loads(msg.data)
                if data.get("event") != "update" or not str(data.get("channel", "")).endswith("book_ticker"):
                    return
                r = data["result"]
                bid, bid_qty, ask, ask_qty = r.get("b"), r.get("B"), r.get("a"), r.get("A")
            bids = [(_dec(bid), _dec(bid_qty))] if bid not in (None, "") and _dec(bid_qty) > 0 else []
            asks = [(_dec(ask), _dec(ask_qty))] if ask not in (None, "") and _dec(ask_qty) > 0 else []
        except (ValueError, KeyError, TypeError, InvalidOperation, AttributeError) as exc:
            self.malformed += 1
            log.warning("%s: malformed public message (%r), skipped", venue.value, exc)
            return
        except Exception as exc:  # protobuf DecodeError and friends
            self.malformed += 1
            log.warning("%s: undecodable public message (%r), skipped", venue.value, exc)
            return
        self.pushes[venue] += 1
        try:
            self.on_top(venue, bids, asks)
        except Exception:
            log.exception("book-top consumer failed")


async def record(symbol: str | Symbol, minutes: float, out_path: str | Path,
                 endpoints: dict[str, str] | None = None) -> int:
    """Record ``minutes`` of live book tops of ``symbol`` from the three venues
    into ``out_path`` (*.jsonl.gz). Returns the number of events written."""
    sym = symbol if isinstance(symbol, Symbol) else Symbol.parse(symbol)
    eps = {**DEFAULT_ENDPOINTS, **(endpoints or {})}
    async with aiohttp.ClientSession() as session:
        rules, notes = await fetch_rules(session, sym, eps)
        start_ms = clock.now_ms()
        header = make_header(sym, start_ms, rules, source=f"live capture of public book tickers ({', '.join(eps.values())})",
                             notes="; ".join(notes) or "rules from the venues' REST metadata")
        last: dict[VenueId, tuple] = {}
        with RecordingWriter(out_path, header) as writer:
            def on_top(venue: VenueId, bids: Levels, asks: Levels) -> None:
                if last.get(venue) == (bids, asks):
                    return
                last[venue] = (bids, asks)
                writer.write(RecEvent(max(0, clock.now_ms() - start_ms), venue, bids, asks))

            feed = LiveFeed(sym, on_top, eps, session=session)
            await feed.start()
            try:
                await asyncio.sleep(max(0.0, float(minutes) * 60.0))
            finally:
                await feed.stop()
            count = writer.count
    log.info("recorded %d events of %s to %s (malformed %d)", count, sym, out_path, feed.malformed)
    return count


def main_record(args) -> int:
    """CLI entry (``args.symbol``, ``args.minutes``, ``args.out``, optional
    ``args.endpoints`` dict): 0 if anything was recorded, 1 if nothing, 2 on a bad symbol."""
    try:
        sym = Symbol.parse(args.symbol)
    except ValueError as exc:
        print(f"error: {exc}")
        return 2
    count = asyncio.run(record(sym, args.minutes, args.out, getattr(args, "endpoints", None)))
    print(f"recorded {count} book snapshots of {sym} into {args.out}")
    return 0 if count > 0 else 1


record_main = main_record  # the name exchanges.sim.cli looks for
