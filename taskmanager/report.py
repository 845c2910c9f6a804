"""``tasks report ID``: a picture of one task's run from its history samples and fills.

Four panels over time (UTC): net PnL with every fill marked (buy ▲, sell ▼); both executable
cross-spot spreads against the spread at which a trade clears the entry threshold after fees;
spot inventory per venue against its floor (``min_inventory_fraction`` of target); net delta
inside its tolerance band. Written as a PNG (1200 x 1000 px), or with ``--html`` as one
self-contained HTML page (the PNG inlined, plus the PnL summary and the fills).

matplotlib is an optional extra (``pip install -e ".[report]"``); without it
:func:`require_matplotlib` raises :class:`ReportUnavailable` with that one line. The series are
built by the pure :func:`report_data`; only :func:`render_png` touches matplotlib (its
object-oriented API, no pyplot state).
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from taskmanager.tables import short_venue
from taskmanager.views import dec, enum_value, money, net_pnl, pnl_of

INSTALL_HINT = 'tasks report needs matplotlib: pip install -e ".[report]" (or: pip install "matplotlib>=3.7")'
WIDTH_IN, HEIGHT_IN, DPI = 12.0, 10.0, 100


class ReportUnavailable(Exception):
    """matplotlib is not installed (the message says how to install it)."""


class NoHistory(Exception):
    """The task has no history samples to chart."""


@dataclass
class Series:
    """One line of a panel: times (UTC datetimes) and values."""

    label: str
    times: list[datetime] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def add(self, t: datetime, value: Any) -> None:
        d = dec(value)
        if d is not None:
            self.times.append(t)
            self.values.append(float(d))


@dataclass
class ReportData:
    """Everything the picture shows (pure data)."""

    title: str
    pnl: Series
    spreads: dict[str, Series]
    entry: dict[str, Series]
    inventory: dict[str, Series]
    floor: dict[str, Series]
    delta: Series
    tolerance: Series
    fills: list[tuple[datetime, float, str]]  # (time, net PnL at that time, side)
    summary: dict[str, str]
    fill_rows: list[dict[str, Any]]


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def report_data(record: Any, history: Sequence[tuple[int, str]], fills: Sequence[Any]) -> ReportData:
    """Series of the report from ``(ts_ms, json)`` history rows (oldest first) and fill records.
    Raises NoHistory when there is no sample."""
    if not history:
        raise NoHistory(f"task {record.task_id} has no history samples to chart (they are recorded once a second "
                        "while it runs)")
    pnl, delta, tolerance = Series("net PnL"), Series("net delta"), Series("tolerance")
    spreads: dict[str, Series] = {}
    entry: dict[str, Series] = {}
    inventory: dict[str, Series] = {}
    floor: dict[str, Series] = {}
    for ts, text in history:
        s: Mapping[str, Any] = json.loads(text)
        t = _utc(ts)
        pnl.add(t, s.get("net_pnl_usdt"))
        delta.add(t, s.get("net_delta_base"))
        tolerance.add(t, s.get("delta_tolerance_base"))
        for key, bps in (s.get("spreads_bps") or {}).items():
            spreads.setdefault(key, Series(_direction_label(key))).add(t, bps)
        for key, bps in (s.get("entry_spread_bps") or {}).items():
            entry.setdefault(key, Series(f"entry {_direction_label(key)}")).add(t, bps)
        floor_fraction = (dec(s.get("inventory_floor_pct")) or Decimal(0)) / 100
        for venue, qty in (s.get("inventory_base") or {}).items():
            inventory.setdefault(venue, Series(venue)).add(t, qty)
            target = dec((s.get("inventory_target_base") or {}).get(venue))
            if target is not None and floor_fraction:
                floor.setdefault(venue, Series(f"{venue} floor")).add(t, target * floor_fraction)
    marks = []
    for f in fills:
        when = _utc(int(f.ts_ms))
        marks.append((when, _value_at(pnl, when), str(enum_value(f.side))))
    p = pnl_of(record)
    summary = {"status": str(enum_value(record.status)), "net PnL USDT": money(net_pnl(p)),
               "realized": money(p["realized_pnl_usdt"]), "unrealized": money(p["unrealized_pnl_usdt"]),
               "fees": money(p["fees_usdt"]), "funding": money(p["funding_usdt"]), "fills": str(len(fills)),
               "volume USDT": money(p["volume_usdt"]), "final delta": str(p["net_delta_base"])}
    title = (f"task {record.task_id}  {record.symbol}  {record.mode}  {summary['status']}  "
             f"net PnL {summary['net PnL USDT']} USDT  {len(fills)} fills")
    rows = [{"time": _utc(int(f.ts_ms)).strftime("%H:%M:%S.%f")[:-3], "venue": enum_value(f.venue),
             "side": enum_value(f.side), "qty": str(f.qty), "price": str(f.price),
             "fee": f"{f.fee} {f.fee_asset}".strip(), "client order id": f.client_order_id, "trade id": f.trade_id}
            for f in fills]
    return ReportData(title, pnl, spreads, entry, inventory, floor, delta, tolerance, marks, summary, rows)


def _direction_label(key: str) -> str:
    core = key.removeprefix("sell_").removesuffix("_bps")
    sell, _, buy = core.partition("_buy_")
    return f"sell {short_venue(sell)} / buy {short_venue(buy)}"


def _value_at(series: Series, when: datetime) -> float:
    """The last value of ``series`` at or before ``when`` (its first value before it starts)."""
    value = series.values[0] if series.values else 0.0
    for t, v in zip(series.times, series.values):
        if t > when:
            break
        value = v
    return value


def require_matplotlib() -> None:
    """Raise ReportUnavailable when matplotlib cannot be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ReportUnavailable(INSTALL_HINT) from None


def render_png(data: ReportData) -> bytes:
    """The report picture as PNG bytes (needs matplotlib)."""
    require_matplotlib()
    import matplotlib.dates as mdates
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, layout="constrained")
    ax_pnl, ax_spread, ax_inv, ax_delta = fig.subplots(4, 1, sharex=True)
    fig.suptitle(data.title, fontsize=11)
    ax_pnl.plot(data.pnl.times, data.pnl.values, color="tab:blue", label="net PnL (USDT)")
    for side, marker, color in (("buy", "^", "tab:green"), ("sell", "v", "tab:red")):
        pts = [(t, v) for t, v, s in data.fills if s == side]
        if pts:
            ax_pnl.scatter([t for t, _ in pts], [v for _, v in pts], marker=marker, color=color, s=28, zorder=3,
                           label=f"{side} fill")
    ax_pnl.axhline(0, color="grey", linewidth=0.6)
    ax_pnl.set_ylabel("USDT")
    colors = ["tab:purple", "tab:orange"]
    for n, (key, series) in enumerate(sorted(data.spreads.items())):
        color = colors[n % len(colors)]
        ax_spread.plot(series.times, series.values, color=color, linewidth=0.9, label=series.label)
        if key in data.entry:
            ax_spread.plot(data.entry[key].times, data.entry[key].values, color=color, linestyle="--", linewidth=1.2,
                           label=data.entry[key].label)
    ax_spread.set_ylabel("spread, bps")
    for n, (venue, series) in enumerate(sorted(data.inventory.items())):
        line = ax_inv.plot(series.times, series.values, label=f"{venue} inventory")[0]
        if venue in data.floor:  # two venues with the same floor: both dash patterns stay visible
            ax_inv.plot(data.floor[venue].times, data.floor[venue].values, linestyle=("--", ":")[n % 2],
                        linewidth=1.6, color=line.get_color(), label=f"{venue} floor")
    ax_inv.set_ylabel("base")
    ax_delta.plot(data.delta.times, data.delta.values, color="tab:brown", label="net delta")
    if data.tolerance.values:
        ax_delta.fill_between(data.tolerance.times, [-v for v in data.tolerance.values], data.tolerance.values,
                              color="tab:green", alpha=0.15, label="tolerance band")
    ax_delta.set_ylabel("base")
    ax_delta.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S", tz=timezone.utc))
    ax_delta.set_xlabel("time (UTC)")
    for ax, name in ((ax_pnl, "net PnL with fills"), (ax_spread, "executable spreads vs entry (threshold + taker fees)"),
                     (ax_inv, "spot inventory per venue vs floor"), (ax_delta, "net delta vs tolerance")):
        ax.set_title(name, fontsize=9, loc="left")
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="best", ncols=3, framealpha=0.85)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def render_html(data: ReportData, png: bytes) -> str:
    """A self-contained HTML page: the picture inlined as data URI, the summary and the fills."""
    esc = html.escape
    summary = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in data.summary.items())
    head = "".join(f"<th>{esc(k)}</th>" for k in (data.fill_rows[0] if data.fill_rows else {}))
    body = "".join("<tr>" + "".join(f"<td>{esc(str(v))}</td>" for v in row.values()) + "</tr>" for row in data.fill_rows)
    img = base64.b64encode(png).decode()
    return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{esc(data.title)}</title>"
            "<style>body{font-family:sans-serif;margin:1em}table{border-collapse:collapse;font-size:12px}"
            "th,td{border:1px solid #ccc;padding:2px 6px;text-align:left}img{max-width:100%}</style></head><body>"
            f"<h1 style=\"font-size:16px\">{esc(data.title)}</h1><img alt=\"report\" src=\"data:image/png;base64,{img}\">"
            f"<h2 style=\"font-size:14px\">summary</h2><table>{summary}</table>"
            f"<h2 style=\"font-size:14px\">fills ({len(data.fill_rows)})</h2><table><tr>{head}</tr>{body}</table>"
            "</body></html>\n")


def default_path(folder: Path, task_id: str, html_page: bool) -> Path:
    """``report-<id>.png`` (or ``.html``) in ``folder`` (the database's: ``DbLocation.parent``)."""
    return folder / f"report-{task_id}.{'html' if html_page else 'png'}"
