"""What ``run.py scan`` prints: a table that fits the terminal (120 or 80 columns), a footer,
and the ``--json`` document (every figure with its unit).

Pure formatting of :class:`taskmanager.scan_run.RoundResult`; no I/O.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec

from exchanges.models import VenueId
from strategies.scanner.rank import FIELD_UNITS, Row, ScanParams
from taskmanager.scan_run import RoundResult, refused_symbols, stream_totals, unconnected_streams

SCHEMA = "arb-scan/1"
WIDE = 120
NARROW = 80
EXCLUDED_SHOWN = 6
COMMAND_INDENT = "  "  # a footer line holding a command is never wrapped (copy and paste it whole)
SHORT = {VenueId.GATE_SPOT: "gs", VenueId.GATE_PERP: "gp", VenueId.MEXC_SPOT: "ms"}


@dataclass(frozen=True)
class Column:
    title: str
    width: int
    cell: Callable[[Row, ScanParams], str]
    left: bool = False


def compact(value: Decimal | None) -> str:
    """Short magnitude: 0.35, 12.3, 1234, 45.6k, 7.8M, 1.2B; "-" for None."""
    if value is None:
        return "-"
    v = abs(value)
    sign = "-" if value < 0 else ""
    if v < 10:
        return f"{sign}{v:.2f}"
    if v < 100:
        return f"{sign}{v:.1f}"
    if v < 10_000:
        return f"{sign}{v:.0f}"
    for limit, suffix in ((Decimal(10) ** 6, "k"), (Decimal(10) ** 9, "M"), (Decimal(10) ** 12, "B")):
        if v < limit:
            return f"{sign}{v / (limit / 1000):.1f}{suffix}"
    return f"{sign}{v / Decimal(10) ** 12:.0f}T"


def _bps(value: Decimal | None, marked: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" + ("*" if marked else "")


def _edge(row: Row, params: ScanParams, value: Decimal | None) -> str:
    return _bps(value, value is not None and value >= params.min_edge_bps)


def _share(row: Row) -> str:
    return "-" if row.edge_share is None else f"{row.edge_share * 100:.0f}%"


def _interval(seconds: int | None) -> str:
    if not seconds:
        return ""
    if seconds % 3600 == 0:
        return f"/{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"/{seconds // 60}m"
    return f"/{seconds}s"


def _funding(row: Row) -> str:
    if row.funding_bps is None:
        return "-"
    return f"{row.funding_bps:+.2f}{_interval(row.funding_interval_s)}"


def _arrow(direction: str) -> str:
    """``gate_spot>mexc_spot`` -> ``gs>ms``."""
    sell, _, buy = direction.partition(">")
    return f"{SHORT[VenueId(sell)]}>{SHORT[VenueId(buy)]}"


def _best(row: Row, params: ScanParams) -> str:
    if row.best_direction is None or row.best_edge_bps is None:
        return "-"
    return f"{_arrow(row.best_direction)} {_edge(row, params, row.best_edge_bps)}"


def _hedge(row: Row) -> str:
    return "yes" if row.hedgeable else ("no" if row.hedge_contracts is not None else "-")


def _symbol(row: Row, width: int) -> str:
    name = row.base if row.quote == "USDT" else f"{row.base}_{row.quote}"
    return name if len(name) <= width else name[:width - 1] + "~"


CELLS: dict[str, Callable[[Row, ScanParams], str]] = {
    "rank": lambda r, p: str(r.rank),
    "gs_ms": lambda r, p: _edge(r, p, r.edge_gs_ms_bps),
    "ms_gs": lambda r, p: _edge(r, p, r.edge_ms_gs_bps),
    "best": _best,
    "depth": lambda r, p: compact(r.depth_usdt),
    "min": lambda r, p: compact(r.min_order_usdt),
    "share": lambda r, p: _share(r),
    "opens": lambda r, p: "-" if r.edge_openings is None else str(r.edge_openings),
    "funding": lambda r, p: _funding(r),
    "apr": lambda r, p: compact(r.funding_apr_pct),
    "basis": lambda r, p: _bps(r.basis_bps),
    "volume": lambda r, p: compact(r.volume_24h_usdt),
    "hedge": lambda r, p: _hedge(r),
    "min_pos": lambda r, p: compact(r.min_position_usdt),
}


def _columns(symbol_width: int, spec: Sequence[tuple[str, int, str]]) -> tuple[Column, ...]:
    symbol = Column("symbol", symbol_width, lambda r, p: _symbol(r, symbol_width), left=True)
    return (Column("#", 3, CELLS["rank"]), symbol) + tuple(Column(t, w, CELLS[k]) for t, w, k in spec)


WIDE_COLUMNS = _columns(12, (("gs>ms bps", 9, "gs_ms"), ("ms>gs bps", 9, "ms_gs"), ("depth $", 8, "depth"),
                             ("min $", 6, "min"), ("share", 6, "share"), ("opens", 5, "opens"),
                             ("fund bps", 10, "funding"), ("apr %", 7, "apr"), ("basis", 6, "basis"),
                             ("vol 24h $", 9, "volume"), ("hedge", 5, "hedge"), ("min pos $", 9, "min_pos")))
NARROW_COLUMNS = _columns(9, (("best bps", 12, "best"), ("depth $", 7, "depth"), ("share", 5, "share"),
                              ("apr %", 7, "apr"), ("basis", 6, "basis"), ("vol 24h", 8, "volume"),
                              ("hedge", 5, "hedge"), ("min pos", 8, "min_pos")))


def _line(cells: Sequence[str], columns: Sequence[Column]) -> str:
    parts = []
    for text, col in zip(cells, columns):
        text = text if len(text) <= col.width else text[:col.width - 1] + "~"
        parts.append(text.ljust(col.width) if col.left else text.rjust(col.width))
    return " ".join(parts).rstrip()


def table(rows: Sequence[Row], params: ScanParams, width: int) -> list[str]:
    """The ranking as lines no longer than ``width`` (wide columns from 120, else narrow)."""
    columns = WIDE_COLUMNS if width >= WIDE else NARROW_COLUMNS
    out = [_line([c.title for c in columns], columns)]
    out += [_line([c.cell(r, params) for c in columns], columns) for r in rows]
    return out


def best_row(rows: Sequence[Row]) -> Row | None:
    """The row a task should start on: the best eligible one, else the best one."""
    return next((r for r in rows if r.eligible), rows[0] if rows else None)


def start_command(row: Row, mode: str, config: str | None = None) -> str:
    """The exact ``start`` command for ``row`` in ``mode``."""
    symbol = row.base if row.quote == "USDT" else f"{row.base}_{row.quote}"
    cmd = f"python run.py start --symbol {symbol} --mode {mode}"
    if mode == "live":
        cmd += " --live"
    if config:
        cmd += f" --config {config}"
    return cmd


def header(result: RoundResult, mode: str, params: ScanParams, top: int) -> str:
    """One line: what was scanned and with which thresholds."""
    found = len(result.discovery.symbols)
    shown = min(top, len(result.rows))
    return (f"scan {mode} round {result.round}: {found} symbol(s) tradable on "
            f"{'all three venues' if not result.discovery.unchecked else 'every venue that answered'}, "
            f"top {shown} shown; edges after both taker fees, * = clears {params.min_edge_bps} bps; "
            f"position {params.position_usdt} USDT, max order {params.max_order_usdt} USDT")


def footer(result: RoundResult, mode: str, params: ScanParams, config: str | None = None) -> list[str]:
    """The footer lines: best symbol and its start command, window, exclusions, symbols that
    appeared or disappeared, failed venues and endpoints, malformed answers, refused streams."""
    lines: list[str] = []
    best = best_row(result.rows)
    if best is not None:
        facts = ["eligible" if best.eligible else "NOT eligible: " + ", ".join(
            w for w, ok in (("top below a minimum order", best.depth_ok), ("not hedgeable", best.hedgeable)) if not ok)]
        if best.best_edge_bps is not None and best.best_direction is not None:
            facts.append(f"edge now {best.best_edge_bps:.1f} bps {_arrow(best.best_direction)}")
        if best.edge_share is not None:
            facts.append(f"executable {best.edge_share * 100:.0f}% of the window")
        lines.append(f"best: {best.base} ({', '.join(facts)}); start a task on it with:")
        lines.append(COMMAND_INDENT + start_command(best, mode, config))
    else:
        lines.append("best: none (no symbol is tradable on every venue that answered)")
    if result.window_s is not None:
        frames, updates, malformed = stream_totals(result)
        rate = updates / result.window_s if result.window_s > 0 else 0.0
        cut = " (interrupted)" if result.interrupted else ""
        lines.append(f"window: {result.window_s:.1f} s{cut} over {len(result.streamed)} symbol(s); {updates} book updates "
                     f"({rate:.0f}/s), {malformed} malformed frame(s); share = part of the window the edge cleared "
                     f"{params.min_edge_bps} bps with the tops covering every minimum order")
    excluded = result.discovery.excluded
    if excluded:
        shown = "; ".join(f"{e.symbol.base} ({', '.join(e.reasons)})" for e in excluded[:EXCLUDED_SHOWN])
        more = f"; +{len(excluded) - EXCLUDED_SHOWN} more" if len(excluded) > EXCLUDED_SHOWN else ""
        lines.append(f"excluded: {shown}{more}")
    if result.appeared:
        lines.append("appeared since the last round: " + ", ".join(s.base for s in result.appeared))
    if result.disappeared:
        lines.append("disappeared since the last round: " + ", ".join(s.base for s in result.disappeared))
    if result.discovery.unchecked:
        names = ", ".join(v.value for v in result.discovery.unchecked)
        lines.append(f"partial: no listing from {names}; ranked without it")
    for failure in result.failures:
        lines.append(f"failed: {failure.venue.value} {failure.endpoint}: {failure.error}")
    for name, count in result.malformed.items():
        lines.append(f"malformed: {name}: {count} entr{'y' if count == 1 else 'ies'} skipped")
    for text in refused_symbols(result):
        lines.append(f"stream refused: {text}")
    for venue in unconnected_streams(result):
        lines.append(f"stream down: {venue.value} never connected during the window (its REST figures are used)")
    return lines


def render(result: RoundResult, mode: str, params: ScanParams, top: int, width: int,
           config: str | None = None) -> str:
    """Header, table and footer as text, every line at most ``width`` columns."""
    width = max(width, NARROW)
    out = textwrap.wrap(header(result, mode, params, top), width)
    out += table(result.rows[:top], params, width)
    for line in footer(result, mode, params, config):
        if line.startswith(COMMAND_INDENT):
            out.append(line)
        else:
            out += textwrap.wrap(line, width, subsequent_indent="  ", break_on_hyphens=False)
    return "\n".join(out)


def document(result: RoundResult, mode: str, params: ScanParams, top: int | None,
             config: str | None = None, quote: str = "USDT") -> dict[str, Any]:
    """The ``--json`` object: ``symbols`` (ranked rows, the first list) then everything else,
    with ``units`` naming the unit of every row field."""
    rows = result.rows if top is None else result.rows[:top]
    best = best_row(result.rows)
    frames, updates, malformed = stream_totals(result)
    return {
        "schema": SCHEMA,
        "symbols": rows,
        "mode": mode,
        "round": result.round,
        "ts_ms": result.ts_ms,
        "quote": quote,
        "params": {"min_edge_bps": params.min_edge_bps, "position_usdt": params.position_usdt,
                   "max_order_usdt": params.max_order_usdt, "gate_spot_fraction": params.gate_spot_fraction},
        "discovered": len(result.discovery.symbols),
        "best": best.symbol if best else None,
        "start_command": start_command(best, mode, config) if best else None,
        "window": None if result.window_s is None else {
            "window_s": result.window_s, "interrupted": result.interrupted, "symbols": [s.base for s in result.streamed], "frames": frames,
            "updates": updates, "malformed_frames": malformed,
            "unconnected_venues": [v.value for v in unconnected_streams(result)],
            "updates_per_s": round(updates / result.window_s, 1) if result.window_s else 0.0},
        "excluded": [{"symbol": str(e.symbol), "reasons": list(e.reasons)} for e in result.discovery.excluded],
        "excluded_counts": result.discovery.excluded_counts,
        "unchecked_venues": [v.value for v in result.discovery.unchecked],
        "appeared": [str(s) for s in result.appeared],
        "disappeared": [str(s) for s in result.disappeared],
        "failed": [{"venue": f.venue.value, "endpoint": f.endpoint, "error": f.error} for f in result.failures],
        "malformed": result.malformed,
        "stream_refused": refused_symbols(result),
        "units": FIELD_UNITS,
    }


def to_json(doc: dict[str, Any], pretty: bool) -> str:
    """``doc`` as JSON text (Decimals as strings); one line unless ``pretty``."""
    raw = msgspec.json.encode(doc)
    return (msgspec.json.format(raw, indent=1) if pretty else raw).decode()
