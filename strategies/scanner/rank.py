"""One ranked row per symbol, and the ranking order (pure, no I/O).

:func:`build_row` turns one symbol's three markets (Gate spot, Gate perp, MEXC spot; any may be
missing when a venue failed) into a :class:`Row` of figures; :func:`rank_rows` orders rows
best first and numbers them. Every figure's unit is in its name and in :data:`FIELD_UNITS`.

Ranking order (README "Scanner"):

1. ``eligible`` first: the best direction's top of book covers every minimum order of both
   legs (``depth_ok``) and ``position_usdt`` is hedgeable in whole contracts (``hedgeable``);
2. after a streaming window: the larger share of the window the edge was executable
   (``edge_share``), then more openings (``edge_openings``);
3. the larger executable edge now (``best_edge_bps``, after both taker fees);
4. the larger 24 h quote volume of the thinner spot venue (``volume_24h_usdt``);
5. the symbol name (a stable tie-break).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation

import msgspec

from exchanges.discovery.types import Market
from exchanges.models import Symbol, VenueId
from strategies.scanner.edge import Direction, basis_bps, direction, funding_apr_pct, funding_bps, hedge, mid
from strategies.scanner.window import WindowFigures

GS, GP, MS = VenueId.GATE_SPOT, VenueId.GATE_PERP, VenueId.MEXC_SPOT
Q_BPS = Decimal("0.01")
Q_USDT = Decimal("0.0001")
Q_PCT = Decimal("0.0001")
Q_BASE = Decimal("0.00000001")
NEG_INF = Decimal("-Infinity")


class ScanParams(msgspec.Struct, frozen=True):
    """The task parameters a scan judges by: ``min_edge_bps`` (edge after fees that counts as
    executable), ``position_usdt`` (spot inventory over both venues, hedged by the perp),
    ``max_order_usdt`` (cap on one leg), ``gate_spot_fraction`` (share of the position on
    Gate spot). Same meaning as the delta_neutral config fields of those names."""

    min_edge_bps: Decimal = Decimal("10")
    position_usdt: Decimal = Decimal("200")
    max_order_usdt: Decimal = Decimal("25")
    gate_spot_fraction: Decimal = Decimal("0.5")


class Row(msgspec.Struct, kw_only=True):
    """Every figure of one symbol (units in :data:`FIELD_UNITS`); None = not computable."""

    rank: int = 0
    symbol: str
    base: str
    quote: str
    eligible: bool
    best_direction: str | None
    best_edge_bps: Decimal | None
    clears_threshold: bool
    edge_gs_ms_bps: Decimal | None
    edge_ms_gs_bps: Decimal | None
    spread_gs_ms_bps: Decimal | None
    spread_ms_gs_bps: Decimal | None
    fees_bps: Decimal | None
    depth_usdt: Decimal | None
    sell_top_usdt: Decimal | None
    buy_top_usdt: Decimal | None
    trade_qty_base: Decimal | None
    trade_usdt: Decimal | None
    min_order_usdt: Decimal | None
    max_order_usdt: Decimal
    depth_ok: bool
    edge_usdt: Decimal | None
    window_s: float | None = None
    edge_share: float | None = None
    edge_openings: int | None = None
    longest_open_s: float | None = None
    window_max_edge_bps: Decimal | None = None
    window_updates: int | None = None
    funding_rate: Decimal | None
    funding_bps: Decimal | None
    funding_interval_s: int | None
    funding_apr_pct: Decimal | None
    next_funding_ms: int | None
    basis_bps: Decimal | None
    volume_24h_usdt: Decimal | None
    volume_24h_gate_spot_usdt: Decimal | None
    volume_24h_mexc_spot_usdt: Decimal | None
    volume_24h_gate_perp_usdt: Decimal | None
    position_usdt: Decimal
    hedge_contracts: Decimal | None
    contract_multiplier: Decimal | None
    contract_usdt: Decimal | None
    hedge_residual_base: Decimal | None
    min_position_usdt: Decimal | None
    hedgeable: bool
    gate_spot_bid: Decimal | None
    gate_spot_ask: Decimal | None
    mexc_spot_bid: Decimal | None
    mexc_spot_ask: Decimal | None
    gate_perp_bid: Decimal | None
    gate_perp_ask: Decimal | None
    notes: list[str] = []


FIELD_UNITS: dict[str, str] = {
    "rank": "position in the ranking (1 = best)",
    "symbol": "base+quote", "base": "asset", "quote": "asset",
    "eligible": "bool: depth_ok and hedgeable",
    "best_direction": "sell venue>buy venue",
    "best_edge_bps": "bps of the buy cost, after both taker fees",
    "clears_threshold": "bool: best_edge_bps >= min_edge_bps",
    "edge_gs_ms_bps": "bps after fees: sell Gate spot bid, buy MEXC spot ask",
    "edge_ms_gs_bps": "bps after fees: sell MEXC spot bid, buy Gate spot ask",
    "spread_gs_ms_bps": "bps before fees", "spread_ms_gs_bps": "bps before fees",
    "fees_bps": "bps: both spot taker fees of the best direction",
    "depth_usdt": "USDT: the smaller top-of-book notional of the best direction",
    "sell_top_usdt": "USDT at the sell venue's best bid", "buy_top_usdt": "USDT at the buy venue's best ask",
    "trade_qty_base": "base units one trade could take (steps, both tops, max_order_usdt)",
    "trade_usdt": "USDT cost of that trade at the ask",
    "min_order_usdt": "USDT: the larger minimum order of the two legs",
    "max_order_usdt": "USDT: cap on one leg (config)",
    "depth_ok": "bool: that trade meets every minimum of both legs",
    "edge_usdt": "USDT one such trade nets after fees",
    "window_s": "s streamed", "edge_share": "ratio 0..1 of the window the edge was executable",
    "edge_openings": "count: times the edge became executable", "longest_open_s": "s",
    "window_max_edge_bps": "bps after fees", "window_updates": "count of book updates",
    "funding_rate": "ratio per funding interval (positive: the short perp earns)",
    "funding_bps": "bps per funding interval", "funding_interval_s": "s",
    "funding_apr_pct": "percent per year, not compounded", "next_funding_ms": "ms since the epoch",
    "basis_bps": "bps: (perp mid - Gate spot mid) / Gate spot mid",
    "volume_24h_usdt": "USDT: 24 h quote volume of the thinner spot venue",
    "volume_24h_gate_spot_usdt": "USDT", "volume_24h_mexc_spot_usdt": "USDT", "volume_24h_gate_perp_usdt": "USDT",
    "position_usdt": "USDT (config)", "hedge_contracts": "contracts shorted for position_usdt (rounded down)",
    "contract_multiplier": "base units per contract", "contract_usdt": "USDT notional of one contract",
    "hedge_residual_base": "base units of spot left unhedged",
    "min_position_usdt": "USDT: smallest hedgeable position meeting every spot minimum",
    "hedgeable": "bool: position_usdt >= min_position_usdt",
    "gate_spot_bid": "USDT per base", "gate_spot_ask": "USDT per base", "mexc_spot_bid": "USDT per base",
    "mexc_spot_ask": "USDT per base", "gate_perp_bid": "USDT per base", "gate_perp_ask": "USDT per base",
    "notes": "why a figure is missing",
}


def _q(value: Decimal | None, quantum: Decimal) -> Decimal | None:
    """``value`` rounded to ``quantum``; a value too large to round stays as it is."""
    if value is None:
        return None
    try:
        return value.quantize(quantum)
    except InvalidOperation:
        return value


def _dir_name(d: Direction) -> str:
    return f"{d.sell_venue.value}>{d.buy_venue.value}"


def build_row(symbol: Symbol, markets: Mapping[VenueId, Market], params: ScanParams,
              window: WindowFigures | None = None) -> Row:
    """All figures of ``symbol`` from its markets (any venue may be absent)."""
    gs, gp, ms = markets.get(GS), markets.get(GP), markets.get(MS)
    notes = [f"no data from {v.value}" for v, m in ((GS, gs), (GP, gp), (MS, ms)) if m is None]
    notes += [f"no book on {v.value}" for v, m in ((GS, gs), (GP, gp), (MS, ms)) if m is not None and m.quote is None]
    gs_ms = direction(gs, ms, params.max_order_usdt) if gs is not None and ms is not None else None
    ms_gs = direction(ms, gs, params.max_order_usdt) if gs is not None and ms is not None else None
    best = max((d for d in (gs_ms, ms_gs) if d is not None), key=lambda d: d.edge_bps, default=None)
    spot_mid = mid(gs.quote) if gs is not None else None
    if spot_mid is None and ms is not None:
        spot_mid = mid(ms.quote)
    perp_mid = mid(gp.quote) if gp is not None else None
    if perp_mid is None and gp is not None and gp.funding is not None and gp.funding.mark_price > 0:
        perp_mid = gp.funding.mark_price
    h = None
    if gp is not None and spot_mid is not None:
        h = hedge(params.position_usdt, spot_mid, gp.info, gs.info if gs else None, ms.info if ms else None,
                  params.gate_spot_fraction)
    elif gp is not None:
        notes.append("no spot price to size the hedge")
    funding = gp.funding if gp is not None else None
    spot_volumes = [m.volume_24h_usdt for m in (gs, ms) if m is not None and m.volume_24h_usdt is not None]
    depth_ok = bool(best and best.depth_ok)
    hedgeable = bool(h and h.hedgeable)
    return Row(
        symbol=str(symbol), base=symbol.base, quote=symbol.quote, eligible=depth_ok and hedgeable,
        best_direction=_dir_name(best) if best else None, best_edge_bps=_q(best.edge_bps if best else None, Q_BPS),
        clears_threshold=bool(best and best.edge_bps >= params.min_edge_bps),
        edge_gs_ms_bps=_q(gs_ms.edge_bps if gs_ms else None, Q_BPS),
        edge_ms_gs_bps=_q(ms_gs.edge_bps if ms_gs else None, Q_BPS),
        spread_gs_ms_bps=_q(gs_ms.spread_bps if gs_ms else None, Q_BPS),
        spread_ms_gs_bps=_q(ms_gs.spread_bps if ms_gs else None, Q_BPS),
        fees_bps=_q(best.fees_bps if best else None, Q_BPS),
        depth_usdt=_q(best.depth_usdt if best else None, Q_USDT),
        sell_top_usdt=_q(best.sell_top_usdt if best else None, Q_USDT),
        buy_top_usdt=_q(best.buy_top_usdt if best else None, Q_USDT),
        trade_qty_base=best.trade_qty_base if best else None, trade_usdt=_q(best.trade_usdt if best else None, Q_USDT),
        min_order_usdt=_q(best.min_order_usdt if best else None, Q_USDT), max_order_usdt=params.max_order_usdt,
        depth_ok=depth_ok, edge_usdt=_q(best.edge_usdt if best else None, Q_USDT),
        window_s=round(window.duration_s, 3) if window else None,
        edge_share=round(window.share, 4) if window else None,
        edge_openings=window.openings if window else None,
        longest_open_s=round(window.longest_open_s, 3) if window else None,
        window_max_edge_bps=_q(window.max_edge_bps, Q_BPS) if window else None,
        window_updates=window.updates if window else None,
        funding_rate=funding.rate if funding else None,
        funding_bps=_q(funding_bps(funding.rate), Q_BPS) if funding else None,
        funding_interval_s=funding.interval_s if funding else None,
        funding_apr_pct=_q(funding_apr_pct(funding.rate, funding.interval_s), Q_PCT) if funding else None,
        next_funding_ms=funding.next_funding_ms if funding and funding.next_funding_ms else None,
        basis_bps=_q(basis_bps(perp_mid, spot_mid), Q_BPS) if perp_mid is not None and spot_mid is not None else None,
        volume_24h_usdt=_q(min(spot_volumes), Q_USDT) if spot_volumes else None,
        volume_24h_gate_spot_usdt=_q(gs.volume_24h_usdt, Q_USDT) if gs else None,
        volume_24h_mexc_spot_usdt=_q(ms.volume_24h_usdt, Q_USDT) if ms else None,
        volume_24h_gate_perp_usdt=_q(gp.volume_24h_usdt, Q_USDT) if gp else None,
        position_usdt=params.position_usdt, hedge_contracts=h.contracts if h else None,
        contract_multiplier=gp.info.contract_multiplier if gp else None,
        contract_usdt=h.contract_usdt.normalize() if h else None,
        hedge_residual_base=_q(h.residual_base, Q_BASE) if h else None,
        min_position_usdt=h.min_position_usdt if h else None, hedgeable=hedgeable,
        gate_spot_bid=gs.quote.bid if gs and gs.quote else None, gate_spot_ask=gs.quote.ask if gs and gs.quote else None,
        mexc_spot_bid=ms.quote.bid if ms and ms.quote else None, mexc_spot_ask=ms.quote.ask if ms and ms.quote else None,
        gate_perp_bid=gp.quote.bid if gp and gp.quote else None, gate_perp_ask=gp.quote.ask if gp and gp.quote else None,
        notes=notes,
    )


def rank_key(row: Row) -> tuple:
    """Sort key of the ranking order (module doc); smaller sorts first."""
    share = row.edge_share if row.edge_share is not None else -1.0
    edge = row.best_edge_bps if row.best_edge_bps is not None else NEG_INF
    volume = row.volume_24h_usdt if row.volume_24h_usdt is not None else NEG_INF
    return (not row.eligible, -share, -(row.edge_openings or 0), -edge, -volume, row.symbol)


def rank_rows(rows: Iterable[Row]) -> list[Row]:
    """``rows`` best first (module doc), with ``rank`` set to 1, 2, ..."""
    ordered = sorted(rows, key=rank_key)
    for i, row in enumerate(ordered, 1):
        row.rank = i
    return ordered
