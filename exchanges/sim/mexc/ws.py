"""Simulated MEXC spot WebSocket (docs/venues.md section 4) at ``/ws``.

Control frames are JSON text (section 4.2): ``{"method":"SUBSCRIPTION",
"params":[topics]}`` -> ``{"id":<id or 0>,"code":0,"msg":"<topics, comma
joined>"}``; a refused topic -> ``msg`` starting ``"Not Subscribed
successfully! [...]"``; ``UNSUBSCRIPTION`` likewise; ``{"method":"PING"}`` ->
``{"id":0,"code":0,"msg":"PONG"}``. Data are binary ``PushDataV3ApiWrapper``
frames encoded with :mod:`exchanges.mexc.proto.mexc_push_pb2`.

Topics served (section 4.3):

* ``spot@public.aggre.bookTicker.v3.api.pb@(100ms|10ms)@SYM`` -> field 315,
  the top of book (with ``version`` = book update id) at most once per interval
  when it changed;
* ``spot@public.aggre.depth.v3.api.pb@(100ms|10ms)@SYM`` -> field 313: the
  levels changed during the interval (absolute qty, "0" = delete) with
  ``fromVersion``/``toVersion`` continuous across pushes
  (``fromVersion == previous toVersion + 1``) and on the same counter as REST
  ``/api/v3/depth`` ``lastUpdateId`` (section 4.5);
* on ``/ws?listenKey=KEY`` only: ``spot@private.orders.v3.api.pb`` (304),
  ``spot@private.deals.v3.api.pb`` (306), ``spot@private.account.v3.api.pb``
  (307), pushed as the engine reports changes. Order pushes follow the
  venue's status order (docs/venues.md 4.4): NEW (1), then PARTIALLY_FILLED
  (3) for each match that leaves a remainder, then one final FILLED (2),
  CANCELED (4) or PARTIALLY_CANCELED (5); a match that fills the order is
  reported by that final FILLED push alone. An unknown/expired listen key
  refuses the handshake (HTTP 401).

Faults: ``ws == "dropped"`` closes open connections and refuses new ones
(503); ``"frozen"`` keeps connections open but sends nothing (PING
unanswered); ``latency_ms`` delays each frame; ``sequence_gap`` skips the next
depth push(es) so clients see a version gap.

Not simulated: the 30 s "no subscription" and 60 s idle disconnects, the
30-topic limit, deals/kline/limit-depth topics.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from decimal import Decimal

from aiohttp import WSMsgType, web

from exchanges import clock
from exchanges.mexc.proto import mexc_push_pb2 as pb
from exchanges.models import OrderStatus, OrderType, Side, Symbol, TimeInForce
from exchanges.sim.engine.types import AccountUpdate, BalanceUpdate, BookUpdate, FillUpdate, OrderUpdate, SimOrder
from exchanges.sim.mexc.context import VENUE, MexcContext
from exchanges.sim.mexc.format import ORDER_ID_PREFIX, client_id_out, fmt, order_id_text

log = logging.getLogger(__name__)

TOPIC_ORDERS = "spot@private.orders.v3.api.pb"
TOPIC_DEALS = "spot@private.deals.v3.api.pb"
TOPIC_ACCOUNT = "spot@private.account.v3.api.pb"
PRIVATE_TOPICS = (TOPIC_ORDERS, TOPIC_DEALS, TOPIC_ACCOUNT)
BOOK_TICKER = "spot@public.aggre.bookTicker.v3.api.pb"
DEPTH = "spot@public.aggre.depth.v3.api.pb"
INTERVALS_S = {"100ms": 0.1, "10ms": 0.01}
MAX_OUTBOX = 20000
_ORDER_TYPE = {TimeInForce.GTC: 1, TimeInForce.POST_ONLY: 2, TimeInForce.IOC: 3, TimeInForce.FOK: 4}
_CHANGE_TYPE = {"order-create": "ENTRUST_PLACE", "order-match": "ENTRUST", "order-cancel": "ENTRUST_CANCEL",
                "fund": "DEPOSIT", "admin": "DEPOSIT"}


@dataclass(eq=False)
class _Conn:
    ws: web.WebSocketResponse
    api_key: str | None
    outbox: asyncio.Queue = field(default_factory=asyncio.Queue)
    topics: set[str] = field(default_factory=set)
    unsubscribe_account: object = None
    balances: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    last_deal: dict[int, Decimal] = field(default_factory=dict)
    closing: bool = False

    def send(self, frame: bytes | str) -> None:
        if self.closing:
            return
        if self.outbox.qsize() >= MAX_OUTBOX:  # a client this slow is disconnected, like the venue does
            self.closing = True
            asyncio.get_running_loop().create_task(self.ws.close(code=1008, message=b"slow consumer"))
            return
        self.outbox.put_nowait(frame)


@dataclass(eq=False)
class _Topic:
    """Aggregation state of one public topic, shared by its subscribers."""

    name: str
    kind: str  # BOOK_TICKER or DEPTH
    symbol: Symbol
    interval_s: float
    subscribers: set = field(default_factory=set)
    bids: dict[Decimal, Decimal] = field(default_factory=dict)
    asks: dict[Decimal, Decimal] = field(default_factory=dict)
    first_id: int = 0
    last_id: int = 0
    dirty: bool = False
    scheduled: bool = False


def _wrapper(channel: str, symbol: str | None = None) -> pb.PushDataV3ApiWrapper:
    msg = pb.PushDataV3ApiWrapper(channel=channel, sendTime=clock.now_ms())
    if symbol:
        msg.symbol = symbol
    return msg


def encode_order(order: SimOrder, last_deal: Decimal | None) -> bytes:
    """PrivateOrdersV3Api push (field 304) for one order state."""
    msg = _wrapper(TOPIC_ORDERS, order.symbol.mexc)
    body = msg.privateOrders
    price = order.price or Decimal(0)
    body.id = order_id_text(order)
    body.clientId = client_id_out(order) or ""
    body.price = fmt(price)
    body.quantity = fmt(order.qty)
    body.amount = fmt(order.quote_qty if order.quote_qty is not None else price * order.qty)
    body.avgPrice = fmt(order.avg_price or Decimal(0))
    body.orderType = 5 if order.order_type is OrderType.MARKET else _ORDER_TYPE.get(order.tif, 1)
    body.tradeType = 1 if order.side is Side.BUY else 2
    body.isMaker = order.tif is TimeInForce.POST_ONLY
    body.remainQuantity = fmt(order.left_qty)
    body.remainAmount = fmt(price * order.left_qty)
    if last_deal is not None:
        body.lastDealQuantity = fmt(last_deal)
    body.cumulativeQuantity = fmt(order.filled_qty)
    body.cumulativeAmount = fmt(order.filled_quote)
    if order.status in (OrderStatus.CANCELED, OrderStatus.REJECTED):
        body.status = 5 if order.filled_qty > 0 else 4
    else:
        body.status = {OrderStatus.OPEN: 1, OrderStatus.PARTIALLY_FILLED: 3, OrderStatus.FILLED: 2}[order.status]
    body.createTime = order.created_ms
    return msg.SerializeToString()


class MexcWsHub:
    """Connections, public topic aggregation and private push fan-out."""

    def __init__(self, ctx: MexcContext) -> None:
        self.ctx = ctx
        self.conns: set[_Conn] = set()
        self.topics: dict[str, _Topic] = {}
        self._by_symbol: dict[Symbol, list[_Topic]] = {}  # a book update touches only its symbol's topics
        self.malformed = 0
        self.pushes_sent = 0
        self._unsub_book = None

    # ---- app lifecycle ---------------------------------------------------------
    async def on_startup(self, app: web.Application) -> None:
        self._unsub_book = self.ctx.engine.subscribe_book(VENUE, None, self._on_book)
        self.ctx.faults.on_change(self._on_faults)

    async def on_shutdown(self, app: web.Application) -> None:
        if self._unsub_book:
            self._unsub_book()
            self._unsub_book = None
        for conn in list(self.conns):
            conn.closing = True
            await conn.ws.close(code=1001, message=b"server shutdown")

    def _on_faults(self, venue, faults) -> None:
        if venue is VENUE and faults.ws == "dropped":
            for conn in list(self.conns):
                conn.closing = True
                asyncio.get_running_loop().create_task(conn.ws.close(code=1006, message=b"dropped"))

    # ---- connection ---------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self.ctx.faults.ws_state(VENUE) == "dropped":
            return web.json_response({"code": 503, "msg": "service unavailable"}, status=503)
        api_key = None
        listen_key = request.query.get("listenKey")
        if listen_key is not None:
            api_key = self.ctx.listen_key_owner(listen_key)
            if api_key is None:
                return web.json_response({"code": -1125, "msg": "This listenKey does not exist."}, status=401)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = _Conn(ws, api_key)
        self.conns.add(conn)
        writer = asyncio.get_running_loop().create_task(self._writer(conn))
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    self._on_text(conn, msg.data)
                elif msg.type is WSMsgType.BINARY:
                    self.malformed += 1
                elif msg.type is WSMsgType.ERROR:
                    break
        finally:
            conn.closing = True
            self.conns.discard(conn)
            for topic in list(conn.topics):
                self._drop_topic(conn, topic)
            if conn.unsubscribe_account:
                conn.unsubscribe_account()
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
        return ws

    async def _writer(self, conn: _Conn) -> None:
        faults = self.ctx.faults
        while True:
            frame = await conn.outbox.get()
            delay = faults.latency_s(VENUE)
            if delay > 0:
                await asyncio.sleep(delay)
            if faults.ws_state(VENUE) != "normal" or conn.ws.closed:
                continue
            try:
                if isinstance(frame, bytes):
                    await conn.ws.send_bytes(frame)
                    self.pushes_sent += 1
                else:
                    await conn.ws.send_str(frame)
            except (ConnectionError, RuntimeError):
                return

    def _on_text(self, conn: _Conn, data: str) -> None:
        try:
            msg = json.loads(data)
            method = str(msg.get("method", "")).upper()
            req_id = msg.get("id", 0)
            params = msg.get("params") or []
            if not isinstance(params, list):
                raise ValueError("params must be a list")
        except (ValueError, AttributeError):
            self.malformed += 1
            conn.send(json.dumps({"id": 0, "code": 0, "msg": "Invalid request"}))
            return
        if method == "PING":
            conn.send(json.dumps({"id": req_id, "code": 0, "msg": "PONG"}))
        elif method == "SUBSCRIPTION":
            ok, bad = [], []
            for topic in params:
                (ok if self._subscribe(conn, str(topic)) else bad).append(str(topic))
            if ok:
                conn.send(json.dumps({"id": req_id, "code": 0, "msg": ",".join(ok)}))
            if bad:
                conn.send(json.dumps({"id": req_id, "code": 0,
                                      "msg": f"Not Subscribed successfully! [{','.join(bad)}].  Reason： Blocked! "}))
        elif method == "UNSUBSCRIPTION":
            for topic in params:
                self._drop_topic(conn, str(topic))
            conn.send(json.dumps({"id": req_id, "code": 0, "msg": ",".join(str(t) for t in params)}))
        else:
            self.malformed += 1
            conn.send(json.dumps({"id": req_id, "code": 0, "msg": "Invalid request"}))

    # ---- subscriptions --------------------------------------------------------------
    def _subscribe(self, conn: _Conn, topic: str) -> bool:
        if topic in PRIVATE_TOPICS:
            if conn.api_key is None:
                return False
            if conn.unsubscribe_account is None:
                for asset, bal in self.ctx.engine.balances(conn.api_key, VENUE).items():
                    conn.balances[asset] = (bal.free, bal.locked)
                conn.unsubscribe_account = self.ctx.engine.subscribe_account(
                    conn.api_key, VENUE, lambda update, c=conn: self._on_account(c, update))
            conn.topics.add(topic)
            return True
        parts = topic.split("@")
        if len(parts) != 4 or parts[0] != "spot" or parts[2] not in INTERVALS_S:
            return False
        kind = f"{parts[0]}@{parts[1]}"
        if kind not in (BOOK_TICKER, DEPTH):
            return False
        symbol = self.ctx.engine.find_symbol(VENUE, parts[3])
        if symbol is None or parts[3] != parts[3].upper():
            return False
        state = self.topics.get(topic)
        if state is None:
            state = self.topics[topic] = _Topic(topic, kind, symbol, INTERVALS_S[parts[2]])
            self._by_symbol.setdefault(symbol, []).append(state)
        state.subscribers.add(conn)
        conn.topics.add(topic)
        return True

    def _drop_topic(self, conn: _Conn, topic: str) -> None:
        conn.topics.discard(topic)
        state = self.topics.get(topic)
        if state is not None:
            state.subscribers.discard(conn)
            if not state.subscribers:
                del self.topics[topic]
                same = self._by_symbol.get(state.symbol, [])
                if state in same:
                    same.remove(state)

    # ---- public pushes -------------------------------------------------------------
    def _on_book(self, update: BookUpdate) -> None:
        if update.venue is not VENUE:
            return
        loop = None
        for state in self._by_symbol.get(update.symbol, ()):
            if not state.subscribers:
                continue
            if state.kind == DEPTH:
                if not state.dirty:
                    state.first_id = update.first_id
                state.bids.update(update.bids)
                state.asks.update(update.asks)
            state.last_id = update.last_id
            state.dirty = True
            if not state.scheduled:
                state.scheduled = True
                loop = loop or asyncio.get_running_loop()
                loop.call_later(state.interval_s, self._flush, state.name)

    def _flush(self, name: str) -> None:
        state = self.topics.get(name)
        if state is None:
            return
        state.scheduled = False
        if not state.dirty:
            return
        state.dirty = False
        msg = _wrapper(name, state.symbol.mexc)
        if state.kind == DEPTH:
            bids, asks = state.bids, state.asks
            state.bids, state.asks = {}, {}
            if self.ctx.faults.sequence_gap(VENUE):
                return  # this push is lost: the next one's fromVersion jumps
            body = msg.publicAggreDepths
            for price in sorted(asks):
                body.asks.add(price=fmt(price), quantity=fmt(asks[price]))
            for price in sorted(bids, reverse=True):
                body.bids.add(price=fmt(price), quantity=fmt(bids[price]))
            body.eventType = f"{DEPTH}@{name.split('@')[2]}"
            body.fromVersion = str(state.first_id)
            body.toVersion = str(state.last_id)
        else:
            top_bids, top_asks, version = self.ctx.engine.book(VENUE, state.symbol, 1)
            body = msg.publicAggreBookTicker
            if top_bids:
                body.bidPrice, body.bidQuantity = fmt(top_bids[0][0]), fmt(top_bids[0][1])
            if top_asks:
                body.askPrice, body.askQuantity = fmt(top_asks[0][0]), fmt(top_asks[0][1])
            body.version = str(version)
        frame = msg.SerializeToString()
        for conn in list(state.subscribers):
            conn.send(frame)
        self.ctx.push_log.append((VENUE.value, str(state.symbol), state.last_id, time.perf_counter_ns()))

    # ---- private pushes -------------------------------------------------------------
    def _on_account(self, conn: _Conn, update: AccountUpdate) -> None:
        try:
            if isinstance(update, OrderUpdate):
                order = update.order
                if update.event == "update" and order.qty > 0 and order.filled_qty >= order.qty:
                    return  # filled by this match: the venue's next (and only) push says FILLED (2)
                if TOPIC_ORDERS in conn.topics:
                    last = conn.last_deal.pop(order.id, None) if update.event != "put" else None
                    conn.send(encode_order(order, last))
            elif isinstance(update, FillUpdate):
                conn.last_deal[update.fill.order_id] = update.fill.qty
                if TOPIC_DEALS in conn.topics:
                    conn.send(self._encode_deal(update))
            elif isinstance(update, BalanceUpdate):
                frame = self._encode_account(conn, update)
                if TOPIC_ACCOUNT in conn.topics:
                    conn.send(frame)
        except Exception:  # a push must never break the engine's call chain
            self.malformed += 1
            log.exception("MEXC private push encoding failed")

    @staticmethod
    def _encode_deal(update: FillUpdate) -> bytes:
        fill = update.fill
        msg = _wrapper(TOPIC_DEALS, fill.symbol.mexc)
        body = msg.privateDeals
        body.price, body.quantity = fmt(fill.price), fmt(fill.qty)
        body.amount = fmt(fill.price * fill.qty_base)
        body.tradeType = 1 if fill.side is Side.BUY else 2
        body.isMaker, body.isSelfTrade = fill.is_maker, False
        body.tradeId = str(fill.trade_id)
        body.clientOrderId = fill.client_order_id
        body.orderId = f"{ORDER_ID_PREFIX}{fill.order_id}"
        body.feeAmount, body.feeCurrency = fmt(fill.fee), fill.fee_asset
        body.time = fill.ts_ms
        return msg.SerializeToString()

    @staticmethod
    def _encode_account(conn: _Conn, update: BalanceUpdate) -> bytes:
        bal = update.balance
        prev_free, prev_locked = conn.balances.get(bal.asset, (Decimal(0), Decimal(0)))
        conn.balances[bal.asset] = (bal.free, bal.locked)
        msg = _wrapper(TOPIC_ACCOUNT)
        body = msg.privateAccount
        body.vcoinName = body.coinId = bal.asset
        body.balanceAmount, body.balanceAmountChange = fmt(bal.free), fmt(bal.free - prev_free)
        body.frozenAmount, body.frozenAmountChange = fmt(bal.locked), fmt(bal.locked - prev_locked)
        body.type = _CHANGE_TYPE.get(update.change_type, update.change_type.upper())
        body.time = update.ts_ms
        return msg.SerializeToString()
