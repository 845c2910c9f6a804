"""Admin API of the simulator (its own loopback port), JSON in and out.

* ``GET /_sim/health`` -> ``{"ok": true, "pid", "scenario", "uptime_s", "replay", "paper", "books"}``
  (``paper``: the paper feed's status in paper mode, else null)
* ``GET /_sim/faults`` -> faults per venue (+ ``injected`` counters);
  ``POST /_sim/faults`` body ``{"venue": "gate_spot"|"gate_perp"|"mexc_spot"|"*", <field>: value, ...}``
  (fields in :mod:`exchanges.sim.faults`), e.g. ``{"venue": "gate_spot", "error_5xx": 2}``,
  ``{"venue": "gate_perp", "timeout_after_accept": 1, "timeout_hold_s": 5}``,
  ``{"venue": "*", "ws": "frozen"}``; ``DELETE /_sim/faults[?venue=]`` clears.
* ``GET /_sim/orders[?limit=&venue=&since_perf_ns=]`` -> order log (all accounts, incl. rejected; only
  orders received after ``since_perf_ns`` when given) with
  ``recv_ms``/``recv_perf_ns`` receive timestamps, taken when the request handler starts,
  before fault latency, body parsing, signature checks and matching.
* ``GET /_sim/accounts`` -> accounts (user id, api key, balances per venue, positions);
  ``POST /_sim/accounts`` ``{"api_key"?, "venue", "asset", "free"}`` sets a balance,
  ``{"create": true, "label"?}`` creates an account and returns its key and secret.
* ``POST /_sim/book`` ``{"venue", "symbol"?, "bids": [[p, q], ...], "asks": [...]}`` (or
  ``"bid","bid_qty","ask","ask_qty"``; optional ``"tag"`` echoed in the log) sets that book at
  once and publishes it; by default pauses replay of that book (that venue and symbol only;
  ``"pause_replay": false`` to keep it). ``symbol`` may be any symbol the simulator serves
  (aliases included, e.g. ``"NEIRO001"``); default: the first. Response (also appended to ``GET /_sim/book_log[?limit=]``, the last 1000):
  ``{"venue", "symbol", "update_id", "changed", "publish_perf_ns", "fanout_done_perf_ns",
  "publish_ms", "tag"}`` -- ``publish_perf_ns`` = ``time.perf_counter_ns()`` just before the
  engine publishes the update (CLOCK_MONOTONIC on Linux: comparable across processes of the
  machine), ``fanout_done_perf_ns`` once every WS connection has its frame queued (written
  to the sockets in the next loop iteration). With an order's ``recv_perf_ns`` from
  ``GET /_sim/orders`` a benchmark gets publish -> order-received latency. ``book_log`` entries
  also carry ``pushed_perf_ns``: when the change was handed to the venue's public stream (its
  frames queued to every connection): the first merged push that carried it or a later state
  of that book (Gate ``order_book_update`` and MEXC ``aggre`` topics are sent once per
  subscribed interval, 20/100 ms on Gate, 10/100 ms on MEXC); null if not pushed yet.
* ``POST /_sim/replay`` ``{"resume": true}`` / ``{"pause": ["gate_spot"]}``; with
  ``"symbols": ["NEIRO001", ...]`` only those symbols' books are paused/resumed (``"pause"``
  venues, or every venue when resuming; ``"resume_venues": [...]`` narrows a resume). Unknown
  venues/symbols -> 400. Response: the replay status (``paused`` venues, ``paused_books``).
* ``POST /_sim/funding`` ``{"venue": "gate_perp", "symbol"?, "rate"?}`` settles funding now.
* ``POST /_sim/shutdown`` stops the simulator process.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import deque
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from aiohttp import web

from exchanges import clock
from exchanges.models import Symbol, VenueId
from exchanges.sim.context import SimContext
from exchanges.sim.engine.types import SimError, SimOrder
from exchanges.sim.gate.common import fmt

BOOK_LOG_SIZE = 1000


def _pushes_by_book(push_log: deque) -> dict[tuple[str, str], list[tuple[int, int]]]:
    """The push log grouped per (venue, symbol), in push order: ``[(last_id, pushed_perf_ns)]``."""
    out: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for venue, symbol, last_id, ns in push_log:
        out.setdefault((venue, symbol), []).append((last_id, ns))
    return out


def _with_push_time(entry: dict, pushes: dict[tuple[str, str], list[tuple[int, int]]]) -> dict:
    """``entry`` + ``pushed_perf_ns``: the first push of its book that carried its update (see the
    module doc); ``pushes`` from :func:`_pushes_by_book`."""
    pushed = next((ns for last_id, ns in pushes.get((entry["venue"], entry["symbol"]), ())
                   if last_id >= entry["update_id"] and ns >= entry["publish_perf_ns"]), None)
    return dict(entry, pushed_perf_ns=pushed)


def _order_json(o: SimOrder) -> dict:
    return {"id": o.id, "user_id": o.user_id, "venue": o.venue.value, "symbol": str(o.symbol),
            "client_order_id": o.client_order_id, "side": o.side.value, "type": o.order_type.value,
            "tif": o.tif.value, "qty": fmt(o.qty), "price": fmt(o.price) if o.price is not None else None,
            "quote_qty": fmt(o.quote_qty) if o.quote_qty is not None else None, "reduce_only": o.reduce_only,
            "status": o.status.value, "finish_as": o.finish_as, "filled_qty": fmt(o.filled_qty),
            "avg_price": fmt(o.avg_price) if o.avg_price is not None else None, "fee": fmt(o.fee),
            "fee_asset": o.fee_asset, "created_ms": o.created_ms, "updated_ms": o.updated_ms,
            "recv_ms": o.recv_ms, "recv_perf_ns": o.recv_perf_ns, "reject_reason": o.reject_reason}


def _bad(message: str, status: int = 400) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _levels(raw: object) -> list[tuple[Decimal, Decimal]]:
    if not isinstance(raw, list):
        raise ValueError("levels must be a list of [price, qty]")
    return [(Decimal(str(p)), Decimal(str(q))) for p, q in raw]


def build_admin_app(ctx: SimContext, on_shutdown: Callable[[], None] | None = None) -> web.Application:
    """The admin app; ``on_shutdown`` is called by ``POST /_sim/shutdown``."""
    eng = ctx.engine
    book_log: deque[dict] = deque(maxlen=BOOK_LOG_SIZE)

    def symbol_of(venue: VenueId, text: object) -> Symbol:
        if text:
            sym = Symbol.parse(str(text))
            eng.symbol_info(venue, sym)
            return sym
        infos = eng.symbols(venue)
        if not infos:
            raise SimError("INVALID_PARAM_VALUE", f"no symbols on {venue.value}")
        return infos[0].symbol

    async def health(request: web.Request) -> web.Response:
        books = {}
        for venue in VenueId:
            for info in eng.symbols(venue):
                bids, asks, uid = eng.book(venue, info.symbol, 1)
                books.setdefault(venue.value, {})[str(info.symbol)] = {
                    "bid": fmt(bids[0][0]) if bids else None, "ask": fmt(asks[0][0]) if asks else None,
                    "update_id": uid}
        replayer = getattr(ctx, "replayer", None)
        paper = getattr(ctx, "paper_feed", None)
        return web.json_response({"ok": True, "pid": os.getpid(), "scenario": ctx.scenario,
                                  "uptime_s": round((clock.now_ms() - ctx.started_ms) / 1000, 3),
                                  "replay": replayer.status() if replayer else None,
                                  "paper": paper.status() if paper else None, "books": books})

    async def faults_get(request: web.Request) -> web.Response:
        return web.json_response(ctx.faults.snapshot())

    async def faults_post(request: web.Request) -> web.Response:
        try:
            body = await request.json()
            venue = str(body.pop("venue", "*"))
            ctx.faults.update(venue, body)
        except (ValueError, TypeError, AttributeError) as exc:
            return _bad(str(exc))
        return web.json_response(ctx.faults.snapshot())

    async def faults_delete(request: web.Request) -> web.Response:
        try:
            ctx.faults.clear(request.query.get("venue"))
        except ValueError as exc:
            return _bad(str(exc))
        return web.json_response(ctx.faults.snapshot())

    async def orders(request: web.Request) -> web.Response:
        try:
            limit = int(request.query.get("limit", "1000"))
            venue = VenueId(request.query["venue"]) if request.query.get("venue") else None
            since_perf_ns = int(request.query.get("since_perf_ns", "0"))
        except ValueError as exc:
            return _bad(f"bad query: {exc}")
        log = eng.order_log(limit, venue, since_perf_ns)
        return web.json_response([_order_json(o) for o in log])

    async def accounts_get(request: web.Request) -> web.Response:
        out = []
        for acc in eng.accounts():
            balances = {v.value: {a: {"free": fmt(b.free), "locked": fmt(b.locked)}
                                  for a, b in eng.balances(acc.api_key, v).items()} for v in VenueId}
            positions = [{"venue": p.venue.value, "symbol": str(p.symbol), "size": fmt(p.size),
                          "entry_price": fmt(p.entry_price), "realised_pnl": fmt(p.realised_pnl),
                          "margin": fmt(p.margin)} for p in eng.positions(acc.api_key)]
            out.append({"user_id": acc.user_id, "label": acc.label, "api_key": acc.api_key,
                        "balances": balances, "positions": positions})
        return web.json_response(out)

    async def accounts_post(request: web.Request) -> web.Response:
        try:
            body = await request.json()
            if body.get("create"):
                acc = eng.create_account(str(body.get("label", "extra")))
                return web.json_response({"user_id": acc.user_id, "api_key": acc.api_key, "api_secret": acc.api_secret})
            api_key = body.get("api_key") or eng.default_account.api_key
            bal = eng.set_balance(api_key, VenueId(body["venue"]), str(body["asset"]).upper(), Decimal(str(body["free"])))
            return web.json_response({"asset": bal.asset, "free": fmt(bal.free), "locked": fmt(bal.locked)})
        except SimError as exc:
            return _bad(exc.message)
        except (KeyError, ValueError, TypeError, InvalidOperation) as exc:
            return _bad(f"bad request: {exc!r}")

    async def book_post(request: web.Request) -> web.Response:
        try:
            body = await request.json()
            venue = VenueId(body["venue"])
            symbol = symbol_of(venue, body.get("symbol"))
            if "bids" in body or "asks" in body:
                bids, asks = _levels(body.get("bids", [])), _levels(body.get("asks", []))
            else:
                bids = [(Decimal(str(body["bid"])), Decimal(str(body.get("bid_qty", "1000000"))))]
                asks = [(Decimal(str(body["ask"])), Decimal(str(body.get("ask_qty", "1000000"))))]
        except SimError as exc:
            return _bad(exc.message)
        except (KeyError, ValueError, TypeError, InvalidOperation) as exc:
            return _bad(f"bad request: {exc!r}")
        replayer = getattr(ctx, "replayer", None)
        if replayer is not None and body.get("pause_replay", True):
            replayer.pause_book(venue, [symbol])
        publish_perf_ns = time.perf_counter_ns()
        publish_ms = clock.now_ms()
        update = eng.set_book(venue, symbol, bids, asks)
        fanout_done_perf_ns = time.perf_counter_ns()
        await asyncio.sleep(0)  # let the WS senders write the frames before this reply is built
        _, _, uid = eng.book(venue, symbol)
        entry = {"venue": venue.value, "symbol": str(symbol), "update_id": uid, "changed": update is not None,
                 "publish_perf_ns": publish_perf_ns, "fanout_done_perf_ns": fanout_done_perf_ns,
                 "publish_ms": publish_ms, "tag": body.get("tag")}
        book_log.append(entry)
        return web.json_response(entry)

    async def book_log_get(request: web.Request) -> web.Response:
        try:
            limit = max(1, int(request.query.get("limit", str(BOOK_LOG_SIZE))))
        except ValueError:
            return _bad("limit must be an integer")
        pushes = _pushes_by_book(ctx.push_log)
        return web.json_response([_with_push_time(e, pushes) for e in list(book_log)[-limit:]])

    async def replay_post(request: web.Request) -> web.Response:
        replayer = getattr(ctx, "replayer", None)
        if replayer is None:
            return _bad("no replay running", 409)
        try:
            body = await request.json()
            symbols = None
            if body.get("symbols") is not None:
                symbols = [Symbol.parse(str(text)) for text in body["symbols"]]
                for sym in symbols:
                    if sym not in replayer.symbols:
                        raise ValueError(f"unknown symbol {sym.base}; served: "
                                         f"{', '.join(s.base for s in replayer.symbols)}")
            pause = [VenueId(name) for name in body.get("pause", [])]
            if body.get("resume"):
                venues = [VenueId(n) for n in body["resume_venues"]] if body.get("resume_venues") else None
                replayer.resume(venues, symbols)
            for venue in pause:
                replayer.pause_book(venue, symbols)
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            return _bad(str(exc))
        return web.json_response(replayer.status())

    async def funding_post(request: web.Request) -> web.Response:
        try:
            body = await request.json()
            venue = VenueId(body.get("venue", VenueId.GATE_PERP.value))
            symbol = symbol_of(venue, body.get("symbol"))
            rate = Decimal(str(body["rate"])) if body.get("rate") is not None else None
            payments = eng.apply_funding(venue, symbol, rate)
        except SimError as exc:
            return _bad(exc.message)
        except (KeyError, ValueError, TypeError, InvalidOperation) as exc:
            return _bad(f"bad request: {exc!r}")
        return web.json_response([{"user_id": p.user_id, "amount": fmt(p.amount), "rate": fmt(p.rate),
                                   "ts_ms": p.ts_ms} for p in payments])

    async def shutdown(request: web.Request) -> web.Response:
        ctx.shutdown_requested = True
        if on_shutdown is not None:
            asyncio.get_running_loop().call_later(0.05, on_shutdown)
        return web.json_response({"ok": True})

    app = web.Application()
    r = app.router
    r.add_get("/_sim/health", health)
    r.add_get("/_sim/faults", faults_get)
    r.add_post("/_sim/faults", faults_post)
    r.add_delete("/_sim/faults", faults_delete)
    r.add_get("/_sim/orders", orders)
    r.add_get("/_sim/accounts", accounts_get)
    r.add_post("/_sim/accounts", accounts_post)
    r.add_post("/_sim/book", book_post)
    r.add_get("/_sim/book_log", book_log_get)
    r.add_post("/_sim/replay", replay_post)
    r.add_post("/_sim/funding", funding_post)
    r.add_post("/_sim/shutdown", shutdown)
    return app
