"""Simulated Gate.io v4 WebSocket: spot ``/ws/v4/`` and USDT futures ``/v4/ws/usdt``
(docs/venues.md section 2).

Envelope (2.2): requests ``{"time","id"?,"channel","event","payload","auth"?}``;
acks ``{"time","time_ms","id"?,"conn_id","trace_id","channel","event":"subscribe",
"error":null,"result":{"status":"success"}}``; errors carry ``{"code","message"}``
(1 invalid request, 2 invalid argument, 4 auth failure) and ``result
{"status":"fail"}``. Pings (2.3): ``<spot|futures>.ping`` -> ``.pong``.

Public (2.5): ``spot.book_ticker`` and ``futures.book_ticker`` push every change
of the best levels at once (a fresh subscription gets the current top right
after the ack); ``spot.order_book_update`` (``[pair, "20ms"|"100ms"]``) and
``futures.order_book_update`` (``[contract, "20ms"|"100ms", level]``) push one
merged update per interval for the subscribed level, with continuous
``U``/``u`` ids that match the REST ``with_id`` snapshot
(:mod:`exchanges.sim.gate.obu`). When a merged frame leaves, ``(venue, symbol,
u, perf_counter_ns)`` is appended to ``SimContext.push_log``.

Private (2.4, 2.6; signed ``channel=..&event=..&time=..``): ``spot.orders``,
``spot.usertrades``, ``spot.balances``, ``futures.orders``, ``futures.usertrades``,
``futures.positions``, ``futures.balances`` (futures payloads start with the user id).

Faults: latency delays each push; ``frozen`` sends nothing (not even pongs);
``dropped`` closes connections and refuses new ones (HTTP 503); ``sequence_gap``
skips order-book update messages.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Callable

from aiohttp import WSMsgType, web

from exchanges import clock
from exchanges.models import Symbol, VenueId
from exchanges.sim.context import SimContext
from exchanges.sim.engine.types import (
    AccountUpdate,
    BalanceUpdate,
    BookUpdate,
    FillUpdate,
    OrderUpdate,
    PositionUpdate,
    SimAccount,
)
from exchanges.sim.faults import VenueFaults
from exchanges.sim.gate.common import fmt, verify_ws_auth
from exchanges.sim.gate.obu import ObuArgumentError, ObuGroup, ObuMerger, parse_payload
from exchanges.sim.gate.format import futures_order, futures_position, futures_trade, size_out, spot_order_ws, spot_usertrade_ws

log = logging.getLogger(__name__)

SPOT_WS_PATH = "/ws/v4/"
FUTURES_WS_PATH = "/v4/ws/usdt"
_PRIVATE = {"orders", "usertrades", "balances", "positions"}


class GateWsConn:
    """One client connection: its subscriptions and an ordered, latency-aware send queue."""

    def __init__(self, hub: "GateWsHub", ws: web.WebSocketResponse, size_decimal: bool) -> None:
        self.hub = hub
        self.ws = ws
        self.size_decimal = size_decimal
        self.conn_id = secrets.token_hex(8)
        self.subs: dict[str, set[str]] = {}
        self.obu_groups: set[ObuGroup] = set()
        self.account: SimAccount | None = None
        self._unsub_account: Callable[[], None] | None = None
        self.queue: asyncio.Queue[tuple[float, str]] = asyncio.Queue()
        self.sender = asyncio.get_running_loop().create_task(self._send_loop())

    def push(self, text: str) -> None:
        self.queue.put_nowait((clock.monotonic_s(), text))

    async def _send_loop(self) -> None:
        faults = self.hub.ctx.faults
        venue = self.hub.venue
        try:
            while True:
                enqueued, text = await self.queue.get()
                delay = enqueued + faults.latency_s(venue) - clock.monotonic_s()
                if delay > 0:
                    await asyncio.sleep(delay)
                if faults.ws_state(venue) != "normal":
                    continue
                await self.ws.send_str(text)
        except (ConnectionError, RuntimeError, asyncio.CancelledError):
            pass

    def subscribed(self, channel: str, key: str) -> bool:
        keys = self.subs.get(channel)
        return bool(keys) and (key in keys or "!all" in keys)

    def close(self) -> None:
        self.sender.cancel()
        if self._unsub_account is not None:
            self._unsub_account()
            self._unsub_account = None


class GateWsHub:
    """All WS connections of one Gate market (spot or USDT futures)."""

    def __init__(self, ctx: SimContext, futures: bool) -> None:
        self.ctx = ctx
        self.futures = futures
        self.venue = VenueId.GATE_PERP if futures else VenueId.GATE_SPOT
        self.prefix = "futures" if futures else "spot"
        self._obu_channel = f"{self.prefix}.order_book_update"
        self._bt_channel = f"{self.prefix}.book_ticker"
        self.conns: set[GateWsConn] = set()
        self.malformed = 0
        self._last_top: dict[Symbol, tuple] = {}
        # public channel -> key (venue symbol or "!all") -> subscribed connections: a book
        # update touches only its symbol's subscribers, however many connections there are
        self._public_index: dict[str, dict[str, set[GateWsConn]]] = {}
        self.obu = ObuMerger(ctx.engine, self.venue, self._send_obu, lambda: ctx.faults.sequence_gap(self.venue))
        ctx.engine.subscribe_book(self.venue, None, self._on_book)
        ctx.faults.on_change(self._on_fault)

    # ---- connection lifecycle -------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self.ctx.faults.ws_state(self.venue) == "dropped":
            return web.json_response({"label": "SERVER_ERROR", "message": "simulated WS outage"}, status=503)
        ws = web.WebSocketResponse(autoping=True, heartbeat=None, max_msg_size=1 << 20)
        await ws.prepare(request)
        conn = GateWsConn(self, ws, request.headers.get("X-Gate-Size-Decimal", "0").strip() == "1")
        self.conns.add(conn)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._on_text(conn, msg.data)
                elif msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        finally:
            self.conns.discard(conn)
            self._unindex(conn)
            conn.close()
        return ws

    def _on_fault(self, venue: VenueId, faults: VenueFaults) -> None:
        if venue is self.venue and faults.ws == "dropped":
            for conn in list(self.conns):
                asyncio.get_running_loop().create_task(conn.ws.close(code=1011, message=b"simulated drop"))

    async def close_all(self) -> None:
        for conn in list(self.conns):
            conn.close()
            await conn.ws.close(code=1001, message=b"server shutdown")

    # ---- frames -----------------------------------------------------------------------
    def _frame(self, channel: str, event: str, result: object, req_id: object = None, error: object = None,
               conn: GateWsConn | None = None) -> str:
        now = clock.now_ms()
        frame: dict = {"time": now // 1000, "time_ms": now}
        if req_id is not None:
            frame["id"] = req_id
        if conn is not None:
            frame["conn_id"] = conn.conn_id
            frame["trace_id"] = secrets.token_hex(16)
        frame.update({"channel": channel, "event": event, "error": error, "result": result})
        return json.dumps(frame, separators=(",", ":"))

    def _on_text(self, conn: GateWsConn, text: str) -> None:
        try:
            req = json.loads(text)
            if not isinstance(req, dict):
                raise ValueError("not an object")
            channel = str(req.get("channel", ""))
        except ValueError:
            self.malformed += 1
            log.warning("gate ws: malformed client message (%d so far)", self.malformed)
            conn.push(self._frame("", "", None, error={"code": 1, "message": "invalid request"}, conn=conn))
            return
        req_id = req.get("id")
        if channel == f"{self.prefix}.ping":
            if self.ctx.faults.ws_state(self.venue) == "normal":
                conn.push(self._frame(f"{self.prefix}.pong", "", None, req_id, conn=conn))
            return
        event = str(req.get("event", ""))
        if event not in ("subscribe", "unsubscribe"):
            conn.push(self._frame(channel, event, {"status": "fail"}, req_id,
                                  {"code": 1, "message": f"unknown event {event!r}"}, conn))
            return
        error = self._subscription(conn, req, channel, event)
        if error is not None:
            conn.push(self._frame(channel, event, {"status": "fail"}, req_id, error, conn))
            return
        conn.push(self._frame(channel, event, {"status": "success"}, req_id, None, conn))
        if event == "subscribe" and channel.endswith(".book_ticker"):
            for key in conn.subs.get(channel, ()):
                symbol = self.ctx.engine.find_symbol(self.venue, key)
                if symbol is not None:
                    bids, asks, uid = self.ctx.engine.book(self.venue, symbol, 1)
                    if bids and asks:
                        conn.push(self._ticker_frame(symbol, bids[0], asks[0], uid, conn.size_decimal))

    def _subscription(self, conn: GateWsConn, req: dict, channel: str, event: str) -> dict | None:
        """Apply a (un)subscribe; return a Gate error object or None."""
        prefix, _, name = channel.partition(".")
        if prefix != self.prefix or name not in ("book_ticker", "order_book_update") and name not in _PRIVATE:
            return {"code": 1, "message": f"unknown channel {channel}"}
        if name == "positions" and not self.futures:
            return {"code": 1, "message": f"unknown channel {channel}"}
        payload = req.get("payload") or []
        if not isinstance(payload, list):
            return {"code": 2, "message": "payload must be a list"}
        payload = [str(p) for p in payload]
        if name in _PRIVATE:
            account = verify_ws_auth(self.ctx.engine, req.get("auth"), channel, event, req.get("time"))
            if account is None:
                return {"code": 4, "message": "invalid auth (KEY/SIGN/time)"}
            if self.futures:
                if not payload or payload[0] != str(account.user_id):
                    return {"code": 2, "message": "first payload item must be your user id"}
                payload = payload[1:] or ["!all"]
            elif name == "balances" or not payload:
                payload = ["!all"]
            if conn.account is None:
                conn.account = account
                conn._unsub_account = self.ctx.engine.subscribe_account(
                    account.api_key, self.venue, lambda upd, c=conn: self._on_account(c, upd))
            elif conn.account.user_id != account.user_id:
                return {"code": 4, "message": "one account per connection"}
            keys = payload
        elif name == "order_book_update":
            return self._obu_subscription(conn, payload, event)
        else:
            keys = payload
        for key in keys:
            if key != "!all" and self.ctx.engine.find_symbol(self.venue, key) is None:
                what = "contract" if self.futures else "currency pair"
                return {"code": 2, "message": f"unknown {what} {key}"}
        current = conn.subs.setdefault(channel, set())
        keys = [k.upper() if k != "!all" else k for k in keys]
        index = self._public_index.setdefault(channel, {}) if name not in _PRIVATE else None
        if event == "subscribe":
            current.update(keys)
            if index is not None:
                for key in keys:
                    index.setdefault(key, set()).add(conn)
        else:
            current.difference_update(keys)
            if index is not None:
                for key in keys:
                    index.get(key, set()).discard(conn)
        return None

    def _obu_subscription(self, conn: GateWsConn, payload: list[str], event: str) -> dict | None:
        if event == "unsubscribe":
            wanted = payload[0].upper() if payload else ""
            for group in [g for g in conn.obu_groups if not wanted or g.spec.venue_symbol == wanted]:
                conn.obu_groups.discard(group)
                self.obu.leave(group, conn)
            return None
        try:
            spec = parse_payload(payload, self.futures)
        except ObuArgumentError as exc:
            return {"code": 2, "message": str(exc)}
        symbol = self.ctx.engine.find_symbol(self.venue, spec.venue_symbol)
        if symbol is None:
            return {"code": 2, "message": f"unknown {'contract' if self.futures else 'currency pair'} {payload[0]}"}
        conn.obu_groups.add(self.obu.join(symbol, spec, conn))
        return None

    def _unindex(self, conn: GateWsConn) -> None:
        for group in list(conn.obu_groups):
            self.obu.leave(group, conn)
        conn.obu_groups.clear()
        for channel, keys in conn.subs.items():
            index = self._public_index.get(channel)
            if index is not None:
                for key in keys:
                    index.get(key, set()).discard(conn)

    def _subscribers(self, channel: str, key: str) -> list[GateWsConn]:
        index = self._public_index.get(channel)
        if not index:
            return []
        found = index.get(key)
        every = index.get("!all")
        if not every:
            return list(found) if found else []
        return list((found or set()) | every)

    # ---- public pushes -------------------------------------------------------------------
    def _ticker_frame(self, symbol: Symbol, bid: tuple, ask: tuple, update_id: int, sd: bool) -> str:
        result = {"t": clock.now_ms(), "u": update_id, "s": symbol.gate, "b": fmt(bid[0]), "a": fmt(ask[0])}
        if self.futures:
            result.update({"B": size_out(bid[1], sd), "A": size_out(ask[1], sd)})
        else:
            result.update({"B": fmt(bid[1]), "A": fmt(ask[1])})
        return self._frame(f"{self.prefix}.book_ticker", "update", result)

    def _on_book(self, update: BookUpdate) -> None:
        if update.venue is not self.venue or not self.conns:
            return
        self.obu.on_book(update)
        top = (update.top_bids[:1], update.top_asks[:1])
        if top != self._last_top.get(update.symbol) and update.top_bids and update.top_asks:
            self._last_top[update.symbol] = top
            tickers: dict[bool, str] = {}
            for conn in self._subscribers(self._bt_channel, update.symbol.gate):
                sd = conn.size_decimal
                if sd not in tickers:
                    tickers[sd] = self._ticker_frame(update.symbol, update.top_bids[0], update.top_asks[0],
                                                     update.last_id, sd)
                conn.push(tickers[sd])

    def _send_obu(self, group: ObuGroup, first_id: int, last_id: int, bids: list, asks: list, ts_ms: int) -> None:
        frames: dict[bool, str] = {}
        for conn in list(group.subscribers):
            sd = conn.size_decimal
            if sd not in frames:
                frames[sd] = self._obu_frame(group, first_id, last_id, bids, asks, ts_ms, sd)
            conn.push(frames[sd])
        self.ctx.push_log.append((self.venue.value, str(group.symbol), last_id, time.perf_counter_ns()))

    def _obu_frame(self, group: ObuGroup, first_id: int, last_id: int, bids: list, asks: list, ts_ms: int,
                   sd: bool) -> str:
        name, level = group.symbol.gate, str(group.spec.level)
        if self.futures:
            result: dict = {"t": ts_ms, "s": name, "U": first_id, "u": last_id,
                            "b": [{"p": fmt(p), "s": size_out(q, sd)} for p, q in bids],
                            "a": [{"p": fmt(p), "s": size_out(q, sd)} for p, q in asks], "l": level}
        else:
            result = {"t": ts_ms, "e": "depthUpdate", "E": ts_ms // 1000, "s": name, "U": first_id, "u": last_id,
                      "b": [[fmt(p), fmt(q)] for p, q in bids], "a": [[fmt(p), fmt(q)] for p, q in asks], "l": level}
        return self._frame(self._obu_channel, "update", result)

    # ---- private pushes ------------------------------------------------------------------
    def _on_account(self, conn: GateWsConn, update: AccountUpdate) -> None:
        p = self.prefix
        sd = conn.size_decimal
        if isinstance(update, OrderUpdate):
            order = update.order
            if conn.subscribed(f"{p}.orders", order.symbol.gate):
                if self.futures:
                    item = futures_order(order, sd, ws=True)
                else:
                    unified = conn.account is not None and conn.account.gate_unified
                    item = spot_order_ws(order, update.event, "unified" if unified else "spot")
                conn.push(self._frame(f"{p}.orders", "update", [item]))
        elif isinstance(update, FillUpdate):
            fill = update.fill
            if conn.subscribed(f"{p}.usertrades", fill.symbol.gate):
                item = futures_trade(fill, sd, ws=True) if self.futures else spot_usertrade_ws(fill)
                conn.push(self._frame(f"{p}.usertrades", "update", [item]))
        elif isinstance(update, BalanceUpdate):
            if conn.subscribed(f"{p}.balances", "!all"):
                conn.push(self._frame(f"{p}.balances", "update", [self._balance_item(conn, update)]))
        elif isinstance(update, PositionUpdate) and self.futures:
            pos = update.position
            pos.mark_price = self.ctx.engine.mark_price(self.venue, pos.symbol) or pos.mark_price
            if conn.subscribed(f"{p}.positions", pos.symbol.gate):
                conn.push(self._frame(f"{p}.positions", "update", [futures_position(pos, sd, ws=True)]))

    def _balance_item(self, conn: GateWsConn, update: BalanceUpdate) -> dict:
        bal = update.balance
        user = str(conn.account.user_id) if conn.account else ""
        if self.futures:
            kind = {"fund": "fund", "order-match": "pnl"}.get(update.change_type, "dnw")
            return {"balance": float(bal.total), "change": float(update.change), "text": update.change_type,
                    "time": update.ts_ms // 1000, "time_ms": update.ts_ms, "type": kind, "user": user,
                    "currency": bal.asset}
        return {"timestamp": str(update.ts_ms // 1000), "timestamp_ms": str(update.ts_ms), "user": user,
                "currency": bal.asset, "change": fmt(update.change), "total": fmt(bal.total),
                "available": fmt(bal.free), "freeze": fmt(bal.locked), "freeze_change": "0",
                "change_type": update.change_type}


def setup_gate_ws(app: web.Application, ctx: SimContext) -> tuple[GateWsHub, GateWsHub]:
    """Mount the spot and futures WS endpoints; returns (spot hub, futures hub)."""
    spot = GateWsHub(ctx, futures=False)
    futures = GateWsHub(ctx, futures=True)
    app.router.add_get(SPOT_WS_PATH, spot.handle)
    app.router.add_get(SPOT_WS_PATH.rstrip("/"), spot.handle)
    app.router.add_get(FUTURES_WS_PATH, futures.handle)
    return spot, futures
