"""``dashboard ID``: one task in detail (pure rendering of store data).

Shows the task's header (mode, status, state, health, uptime and time left), its net PnL and the
parts it is made of, sparklines of net PnL and of both executable spreads (from the history
table, last :data:`SPARK_WINDOW_MS`), its legs (per venue: connection state, book age, mid,
inventory against target, the perp position), delta against its tolerance, open orders, the
last fills and the last transitions, and the same notes as the overview.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from rich.console import Group
from rich.text import Text

from taskmanager import tables
from taskmanager.dash_table import (
    CHURN_TRIGGERS,
    HEALTH_STYLES,
    TaskView,
    format_age_ms,
    format_duration_s,
    spread_label,
    task_view,
)
from taskmanager.tables import mode_badge, signed, state_text, status_text
from taskmanager.views import dec, money, quantity

SPARK_WINDOW_MS = 10 * 60 * 1000
SPARK_CHARS = "▁▂▃▄▅▆▇█"
LAST_FILLS = 10
LAST_TRANSITIONS = 10


def sparkline(values: Sequence[Decimal | float | int], width: int) -> str:
    """``values`` (oldest first) as at most ``width`` block characters, low to high. Long series
    keep the last value of each of ``width`` equal buckets; a flat series is a flat middle line."""
    if not values or width <= 0:
        return ""
    vals = [float(v) for v in values]
    if len(vals) > width:
        step = len(vals) / width
        vals = [vals[min(len(vals) - 1, int((i + 1) * step) - 1)] for i in range(width)]
    lo, hi = min(vals), max(vals)
    if hi == lo:
        return SPARK_CHARS[3] * len(vals)
    top = len(SPARK_CHARS) - 1
    return "".join(SPARK_CHARS[round((v - lo) / (hi - lo) * top)] for v in vals)


def _series(samples: Sequence[Mapping[str, Any]], get: Any) -> list[Decimal]:
    out = []
    for s in samples:
        d = dec(get(s))
        if d is not None:
            out.append(d)
    return out


def _spark_line(label: str, values: list[Decimal], width: int, unit: str, extra: str = "") -> Text:
    line = Text(f"{label:<10}", style="bold")
    if not values:
        line.append("(no history yet)", style="dim")
        return line
    places = 4 if unit == "USDT" else 1
    suffix = (f" last {values[-1]:.{places}f} {unit} (min {min(values):.{places}f} max {max(values):.{places}f})"
              + (f" {extra}" if extra else ""))
    line.append(sparkline(values, max(8, min(60, width - len(line) - len(suffix)))), style="cyan")
    line.append(suffix)
    return line


def _legs_table(v: TaskView, live: Mapping[str, Any]) -> Any:
    table = tables.plain_table("legs")
    for name, justify in (("venue", "left"), ("connection", "left"), ("book age", "right"), ("mid", "right"),
                          ("inventory", "right"), ("of target", "right"), ("target", "right")):
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    mids = live.get("mids") or {}
    inventory = live.get("inventory_base") or {
        k[len("inventory_"):-len("_base")]: val for k, val in v.pnl.items()
        if k.startswith("inventory_") and k.endswith("_base") and "perp" not in k}
    targets = live.get("inventory_target_base") or {}
    venues = sorted(set(v.conns) | set(inventory) | {"gate_perp"})
    for venue in venues:
        state, detail, age = v.conns.get(venue, ("-", "", None))
        conn = Text(state if v.live else "-", style={"down": "bold red", "up": ""}.get(state, "yellow"))
        if detail and v.live:
            conn.append(f" ({detail[:40]})", style="dim")
        if venue == "gate_perp":
            held, pct, target = f"perp {quantity(v.perp)}", "-", "-"
        else:
            held = quantity(inventory.get(venue)) if venue in inventory else "-"
            pct = f"{v.inventory_pct[venue]}%" if venue in v.inventory_pct else "-"
            target_base = dec(targets.get(venue))
            target = quantity(target_base, 0) if target_base else "-"
        low = venue in v.low
        table.add_row(venue, conn, format_age_ms(age) if v.live else "-", str(mids.get(venue, "-")) if v.live else "-",
                      held, Text(pct + ("!" if low else ""), style="bold red" if low else ""), target)
    return table


def _open_orders_table(live: Mapping[str, Any]) -> Any:
    orders = live.get("open_orders")
    if not isinstance(orders, list) or not orders:
        return Text("open orders: none", style="dim")
    table = tables.plain_table(f"open orders ({len(orders)})")
    for name in ("client order id", "venue", "leg", "side", "qty", "price", "status"):
        table.add_column(name, no_wrap=True)
    for o in orders:
        table.add_row(*(str(o.get(k, "")) for k in ("id", "venue", "leg", "side", "qty", "price", "status")))
    return table


def render_detail(record: Any, live: Mapping[str, Any], *, fills: Sequence[Any], transitions: Sequence[Any],
                  history: Sequence[tuple[int, str]], now_ms: int, width: int = 120, **lease_kwargs: Any) -> Group:
    """The detail frame of one task (pure). ``history``: ``(ts_ms, json)`` rows, oldest first."""
    v = task_view(record, live, now_ms, **lease_kwargs)
    live = live if v.live else {}
    head = Text(f"task {v.task_id}  ", style="bold")
    head.append_text(Text.assemble(v.symbol, "  ", mode_badge(v.mode), "  ", status_text(v.status, v.lease), "  ",
                                   state_text(v.state)))
    if v.live:
        head.append(f" for {format_duration_s(v.in_state_s)}")
        if v.uptime_s is not None:
            head.append(f"  up {format_duration_s(v.uptime_s)}")
        if v.left_s is not None:
            head.append(f"  left {format_duration_s(v.left_s)}")
    head.append("  ")
    head.append(v.health.value, style=HEALTH_STYLES[v.health])
    p = v.pnl
    pnl = Text("net PnL ", style="bold")
    pnl.append_text(signed(v.net))
    pnl.append(f" USDT = realized {money(p.get('realized_pnl_usdt'))} + unrealized {money(p.get('unrealized_pnl_usdt'))}"
               f" - fees {money(p.get('fees_usdt'))} + funding {money(p.get('funding_usdt'))};"
               f" trades {p.get('trades', '0')}, volume {money(p.get('volume_usdt'))} USDT")
    samples = [json.loads(text) for ts, text in history if ts >= now_ms - SPARK_WINDOW_MS]
    parts: list[Any] = [head, pnl, Text(f"last {SPARK_WINDOW_MS // 60000} min:", style="dim"),
                        _spark_line("net PnL", _series(samples, lambda s: s.get("net_pnl_usdt")), width, "USDT")]
    keys = sorted({k for s in samples for k in (s.get("spreads_bps") or {})})
    for key in keys:
        entry = next((s.get("entry_spread_bps", {}).get(key) for s in reversed(samples)
                      if (s.get("entry_spread_bps") or {}).get(key)), None)
        parts.append(_spark_line(spread_label(key), _series(samples, lambda s, k=key: (s.get("spreads_bps") or {}).get(k)),
                                 width, "bps", f"entry {entry}" if entry else ""))
    parts.append(_legs_table(v, live))
    tol = live.get("delta_tolerance_base")
    parts.append(Text(f"delta {quantity(v.delta)} base" + (f" (tolerance {quantity(tol)})" if tol else "")))
    parts.append(_open_orders_table(live))
    last = list(fills)[-LAST_FILLS:]
    title = f"last fills ({len(last)} of {len(fills)})"
    parts.append(tables.fit([lambda: tables.fills_table(last, title), lambda: tables.fills_table(last, title, True)],
                            width))
    ordered = sorted(transitions, key=lambda t: (t.ts_ms, t.version))
    notable = [t for t in ordered if t.trigger not in CHURN_TRIGGERS][-LAST_TRANSITIONS:]
    churn = sum(1 for t in ordered if t.trigger in CHURN_TRIGGERS)
    parts.append(tables.transitions_table(notable, "last transitions" + (
        f" ({churn} ANALYZING<->MONITORING cycles not shown)" if churn else ""), width=width))
    for note in v.notes:
        parts.append(Text(note, style="yellow", no_wrap=True, overflow="ellipsis"))
    return Group(*parts)
