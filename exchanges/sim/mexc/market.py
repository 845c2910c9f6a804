"""Simulated MEXC spot v3 public market data (docs/venues.md 3.3-3.4; MEXC API
docs "Market Data Endpoints"): ``/api/v3/ping``, ``/time``,
``/exchangeInfo[?symbol=|?symbols=]``, ``/depth`` (``lastUpdateId`` = the engine's
book update id, the same counter as the WS depth versions), ``/defaultSymbols``,
``/ticker/bookTicker``, ``/ticker/24hr`` and ``/ticker/price`` (each
``[?symbol=|?symbols=A,B]``: one object for ``symbol``, else an array, every
symbol without either).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from exchanges import clock
from exchanges.models import Symbol
from exchanges.sim.mexc.context import VENUE, MexcContext, Req, symbol_of
from exchanges.sim.mexc.format import MexcError, fmt, symbol_json

_symbol = symbol_of


async def ping(ctx: MexcContext, req: Req) -> Any:
    return {}


async def server_time(ctx: MexcContext, req: Req) -> Any:
    return {"serverTime": clock.now_ms()}


async def exchange_info(ctx: MexcContext, req: Req) -> Any:
    if req.get("symbol"):
        wanted = [_symbol(ctx, req.get("symbol"))]
    elif req.get("symbols"):
        wanted = [_symbol(ctx, s) for s in req.need("symbols").split(",")]
    else:
        wanted = [info.symbol for info in ctx.engine.symbols(VENUE)]
    return {"timezone": "CST", "serverTime": clock.now_ms(), "rateLimits": [], "exchangeFilters": [],
            "symbols": [symbol_json(ctx.engine.symbol_info(VENUE, s)) for s in wanted]}


async def depth(ctx: MexcContext, req: Req) -> Any:
    sym = _symbol(ctx, req.need("symbol"))
    try:
        limit = max(1, min(5000, int(req.get("limit") or "100")))
    except ValueError as exc:
        raise MexcError(33333, "Parameter error: limit") from exc
    bids, asks, update_id = ctx.engine.book(VENUE, sym, limit)
    return {"lastUpdateId": update_id, "bids": [[fmt(p), fmt(q)] for p, q in bids],
            "asks": [[fmt(p), fmt(q)] for p, q in asks], "timestamp": clock.now_ms()}


def _book_ticker(ctx: MexcContext, sym: Symbol) -> dict[str, Any]:
    bids, asks, _ = ctx.engine.book(VENUE, sym, 1)
    bid, ask = (bids[0] if bids else (None, None)), (asks[0] if asks else (None, None))
    return {"symbol": sym.mexc, "bidPrice": fmt(bid[0]) or None, "bidQty": fmt(bid[1]) or None,
            "askPrice": fmt(ask[0]) or None, "askQty": fmt(ask[1]) or None}


def _selected(ctx: MexcContext, req: Req) -> tuple[list[Symbol], bool]:
    """Symbols a ticker request names (``symbol`` or ``symbols=A,B``), and
    whether the answer is one object (``symbol``) rather than an array."""
    if req.get("symbol"):
        return [_symbol(ctx, req.get("symbol"))], True
    if req.get("symbols"):
        return [_symbol(ctx, s) for s in req.need("symbols").split(",")], False
    return [info.symbol for info in ctx.engine.symbols(VENUE)], False


async def book_ticker(ctx: MexcContext, req: Req) -> Any:
    symbols, single = _selected(ctx, req)
    out = [_book_ticker(ctx, sym) for sym in symbols]
    return out[0] if single else out


def _ticker_24h(ctx: MexcContext, sym: Symbol, now_ms: int) -> dict[str, Any]:
    """One ``/api/v3/ticker/24hr`` object (docs/venues.md 3.4): prices from the
    engine's 24 h statistics, ``priceChangePercent`` a ratio (0.01 = 1 %)."""
    stats = ctx.engine.stats_24h(VENUE, sym, now_ms)
    top = _book_ticker(ctx, sym)
    return {"symbol": sym.mexc, "priceChange": fmt(stats.change),
            "priceChangePercent": fmt(stats.change_ratio.quantize(Decimal("0.00000001"))),
            "prevClosePrice": fmt(stats.open), "lastPrice": fmt(stats.last),
            "bidPrice": top["bidPrice"] or "", "bidQty": top["bidQty"] or "",
            "askPrice": top["askPrice"] or "", "askQty": top["askQty"] or "",
            "openPrice": fmt(stats.open), "highPrice": fmt(stats.high), "lowPrice": fmt(stats.low),
            "volume": fmt(stats.base_volume), "quoteVolume": fmt(stats.quote_volume),
            "openTime": stats.open_ms, "closeTime": now_ms, "count": stats.trade_count}


async def ticker_24h(ctx: MexcContext, req: Req) -> Any:
    symbols, single = _selected(ctx, req)
    now_ms = clock.now_ms()
    out = [_ticker_24h(ctx, sym, now_ms) for sym in symbols]
    return out[0] if single else out


async def ticker_price(ctx: MexcContext, req: Req) -> Any:
    symbols, single = _selected(ctx, req)
    out = [{"symbol": sym.mexc, "price": fmt(ctx.engine.mark_price(VENUE, sym))} for sym in symbols]
    return out[0] if single else out


async def default_symbols(ctx: MexcContext, req: Req) -> Any:
    """Symbols open to API trading: ``{"code": 200, "data": [...], "msg": null}``."""
    return {"code": 200, "data": [info.venue_symbol for info in ctx.engine.symbols(VENUE) if info.tradable],
            "msg": None}
