"""The dashboard's overview frame: one row per task, laid out for the terminal's width (pure).

:func:`task_view` turns a task record plus its telemetry snapshot (``task_live``: see
strategies/delta_neutral/task.py ``live_view`` and taskmanager/manager.py ``_live_view``) into a
:class:`TaskView`; :func:`render` lays the views out in the widest layout that fits:

* **compact** (80 columns): task id (whole), symbol, mode (``LIVE`` white on red), status, state,
  net PnL, delta, books (the worst book age, or the first venue that is not up), a health mark;
* **wide** (120): the same plus inventory per venue as % of target (below the floor in red with
  ``!``), perp position, fees, funding, both executable spreads, every venue's connection state
  and book age, uptime and time left; cells stack up to three lines;
* **full** (200): every figure in its own column, plus time in state, realized and unrealized
  PnL and open orders;
* narrower than the compact table needs (extreme values): the symbol goes first, then delta and
  books, then mode; the task id, status, state and net PnL always stay whole.

Below the table: notes (what SYNCING waits for, low inventory, venues down, errors of failed or
halted tasks, dead owners), the legend, and the latest notable transitions. A task that is not
running here and now (finished, or its owner gone) shows its stored figures and ``-`` for
everything live (spreads, book ages, connection states), never a frozen live-looking value.
The title line sums net PnL per mode, rounded to cents; the table shows 4 decimals.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from taskmanager import tables
from taskmanager.tables import mode_badge, short_venue, signed, state_text, status_text
from taskmanager.views import TERMINAL_STATUSES, dec, enum_value, lease_state, money, net_pnl, pnl_of, quantity

LIVE_TELEMETRY_MAX_AGE_MS = 5000  # older telemetry (an owner gone quiet) is not shown as live
FOOTER_TRANSITIONS = 8
MAX_FINISHED_ROWS = 10
# The steady-state loop (book update -> ANALYZING -> no edge -> MONITORING) would flood the footer.
CHURN_TRIGGERS = frozenset({"signal", "idle"})
CONN_SHORT = {"connecting": "conn", "up": "up", "stale": "stale", "reconnecting": "recon", "down": "down"}
LEGEND = "✓ ok  ! warning  ✗ down/halted/failed  · idle  gs/gp/ms Gate spot/perp, MEXC"


class Health(str, Enum):
    OK = "✓"
    WARN = "!"
    BAD = "✗"
    IDLE = "·"


HEALTH_STYLES = {Health.OK: "bold green", Health.WARN: "bold yellow", Health.BAD: "bold red", Health.IDLE: "dim"}


@dataclass
class TaskView:
    """Everything one row shows; ``live`` False = not running here and now (no live figures)."""

    task_id: str
    symbol: str
    mode: str
    status: str
    state: str
    lease: str
    live: bool
    in_state_s: float
    pnl: dict[str, str]
    net: Decimal
    delta: Any
    perp: Any
    inventory_pct: dict[str, str] = field(default_factory=dict)
    low: list[str] = field(default_factory=list)
    floor_pct: str = ""
    spreads: dict[str, str] = field(default_factory=dict)
    conns: dict[str, tuple[str, str, int | None]] = field(default_factory=dict)
    uptime_s: float | None = None
    left_s: float | None = None
    open_orders: int | None = None
    waiting_for: str = ""
    last_error: str = ""
    health: Health = Health.IDLE
    notes: list[str] = field(default_factory=list)


def format_duration_s(seconds: float) -> str:
    """``75`` -> ``1m15s``; ``3700`` -> ``1h01m``; negative clamps to 0."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def format_age_ms(ms: Any) -> str:
    """Book age: ``84ms``, ``1.2s``, ``45s``, ``3m10s``."""
    if ms is None:
        return "-"
    ms = int(ms)
    if ms < 1000:
        return f"{ms}ms"
    if ms < 10000:
        return f"{ms / 1000:.1f}s"
    return format_duration_s(ms / 1000)


def _pair_names(pair: str) -> list[str]:
    """``sell_gate_spot_buy_mexc_spot_bps``, ``gate_spot>mexc_spot`` or ``gate_spot/mexc_spot`` -> names."""
    if pair.startswith("sell_") and "_buy_" in pair:
        core = pair[len("sell_"):].removesuffix("_bps")
        return core.split("_buy_", 1)
    return pair.replace("/", ">").split(">")


def spread_label(pair: str) -> str:
    return ">".join(short_venue(n) for n in _pair_names(pair))


def _conns(live: Mapping[str, Any]) -> dict[str, tuple[str, str, int | None]]:
    raw_ages, raw_conn = live.get("book_age_ms"), live.get("connection")
    ages: Mapping[str, Any] = raw_ages if isinstance(raw_ages, Mapping) else {}
    conn: Mapping[str, Any] = raw_conn if isinstance(raw_conn, Mapping) else {}
    out: dict[str, tuple[str, str, int | None]] = {}
    for venue in sorted(set(ages) | set(conn)):
        c = conn.get(venue)
        state, detail = (str(c.get("state") or "up"), str(c.get("detail") or "")) if isinstance(c, Mapping) else ("up", "")
        age = ages.get(venue)
        out[str(venue)] = (state, detail, None if age is None else int(age))
    return out


def _open_count(value: Any) -> int | None:
    if value is None:
        return None
    return len(value) if isinstance(value, (list, tuple)) else int(value)


def task_view(record: Any, live: Mapping[str, Any], now_ms: int, **lease_kwargs: Any) -> TaskView:
    """The :class:`TaskView` of one task (pure)."""
    lease = lease_state(record, now_ms, **lease_kwargs)
    stored_status = str(enum_value(record.status))
    fresh = bool(live) and now_ms - int(live.get("updated_ms") or 0) <= LIVE_TELEMETRY_MAX_AGE_MS
    is_live = lease == "live" and stored_status not in TERMINAL_STATUSES and fresh
    if not is_live:
        live = {}
    status = str(live.get("status") or stored_status)
    state = str(live.get("state") or enum_value(record.state))
    pnl = pnl_of(record)
    if isinstance(live.get("pnl"), Mapping):
        pnl.update({k: str(v) for k, v in live["pnl"].items()})
    perp = next((live[k] for k in ("perp_base", "perp_position_base", "perp_contracts") if k in live),
                pnl.get("inventory_gate_perp_base"))
    left = [v for v in (live.get("time_left_s"), live.get("duration_left_s")) if v is not None]
    view = TaskView(
        task_id=str(record.task_id), symbol=str(record.symbol), mode=str(record.mode or ""), status=status,
        state=state, lease=lease, live=is_live,
        in_state_s=(now_ms - int(live.get("state_entered_ms") or record.state_entered_ms or now_ms)) / 1000,
        pnl=pnl, net=net_pnl(pnl), delta=live.get("net_delta_base", pnl.get("net_delta_base")), perp=perp,
        inventory_pct={str(k): str(v) for k, v in (live.get("inventory_pct") or {}).items()},
        low=[str(v) for v in live.get("low_inventory") or []], floor_pct=str(live.get("inventory_floor_pct") or ""),
        spreads={str(k): str(v) for k, v in (live.get("spreads_bps") or {}).items()}, conns=_conns(live),
        uptime_s=live.get("uptime_s"), left_s=min(left) if left else None,
        open_orders=_open_count(live.get("open_orders")) if is_live else None,
        waiting_for=str(live.get("waiting_for") or "") if state == "SYNCING" else "",
        last_error=str(live.get("last_error") or record.last_error or ""),
    )
    view.health, view.notes = _health(view, live)
    return view


def _health(v: TaskView, live: Mapping[str, Any]) -> tuple[Health, list[str]]:
    notes: list[str] = []
    error = v.last_error.splitlines()[0][:160] if v.last_error else ""
    if v.status in ("failed", "halted"):
        return Health.BAD, [f"{v.status}: {error}" if error else v.status]
    if v.status in ("running", "stopping") and v.lease in ("crashed", "stale"):
        return Health.BAD, [f"owner {v.lease}: resume with 'tasks resume {v.task_id}'"]
    if not v.live:
        return Health.IDLE, notes
    health = Health.OK
    down = [f"{venue} down ({detail})" if detail else f"{venue} down"
            for venue, (state, detail, _) in v.conns.items() if state == "down"]
    shaky = [f"{venue} {state}" for venue, (state, _, _) in v.conns.items() if state in ("stale", "reconnecting")]
    if down:
        health = Health.BAD
        notes.extend(down)
    if shaky:
        health = health if health is Health.BAD else Health.WARN
        notes.append(", ".join(shaky))
    if v.low:
        health = health if health is Health.BAD else Health.WARN
        notes.append("low inventory: " + ", ".join(f"{venue} {v.inventory_pct.get(venue, '?')}%" for venue in v.low)
                     + f" (floor {v.floor_pct}%)")
    tol = dec(live.get("delta_tolerance_base"))
    delta = dec(v.delta)
    if tol is not None and delta is not None and abs(delta) > tol and not live.get("building"):
        health = health if health is Health.BAD else Health.WARN
        notes.append(f"delta {quantity(delta)} beyond tolerance {quantity(tol)}")
    if v.waiting_for:
        notes.append(f"waiting for {v.waiting_for}")
    if error and health is not Health.OK:
        notes.append(f"last error: {error}")
    return health, notes


# ---- cells ----------------------------------------------------------------------


def _mark(v: TaskView) -> Text:
    return Text(v.health.value, style=HEALTH_STYLES[v.health])


def _books_short(v: TaskView) -> Text:
    if not v.live or not v.conns:
        return Text("-")
    for venue, (state, _, _) in v.conns.items():
        if state != "up":
            return Text(f"{short_venue(venue)} {CONN_SHORT.get(state, state)}",
                        style="bold red" if state == "down" else "yellow")
    ages = [age for _, _, age in v.conns.values() if age is not None]
    return Text(format_age_ms(max(ages)) if ages else "-")


def _venues_cell(v: TaskView) -> Text:
    if not v.live or not v.conns:
        return Text("-")
    text = Text()
    for n, (venue, (state, _, age)) in enumerate(v.conns.items()):
        style = {"up": "", "down": "bold red", "connecting": "cyan"}.get(state, "yellow")
        text.append(("\n" if n else "") + f"{short_venue(venue)} {state}", style=style)
        if state in ("up", "stale") and age is not None:
            text.append(f" {format_age_ms(age)}")
    return text


def _inventory_cell(v: TaskView) -> Text:
    if not v.live or not v.inventory_pct:
        return Text("-")
    text = Text()
    for n, (venue, pct) in enumerate(sorted(v.inventory_pct.items())):
        low = venue in v.low
        text.append(("\n" if n else "") + f"{short_venue(venue)} {pct}%{'!' if low else ''}",
                    style="bold red" if low else "")
    return text


def _spreads_cell(v: TaskView) -> Text:
    """Both spreads; one whose book is not up (stale, reconnecting, down) shows ``-``, not a frozen value."""
    if not v.live or not v.spreads:
        return Text("-")
    lines = []
    for key, bps in sorted(v.spreads.items()):
        value = dec(bps)
        shaky = any(v.conns.get(name, ("up", "", None))[0] != "up" for name in _pair_names(key))
        lines.append(f"{spread_label(key)} {'-' if value is None or shaky else f'{value:.1f}'}")
    return Text("\n".join(lines))


def _time_cell(v: TaskView) -> Text:
    if not v.live:
        return Text("-")
    lines = [f"up {format_duration_s(v.uptime_s)}" if v.uptime_s is not None else "up -"]
    if v.left_s is not None:
        lines.append(f"left {format_duration_s(v.left_s)}")
    return Text("\n".join(lines))


def _symbol_short(symbol: str) -> str:
    return symbol[:-4] if symbol.endswith("USDT") and len(symbol) > 4 else symbol


def _bold(text: Text) -> Text:
    text.stylize("bold")
    return text


def _pnl_cell(v: TaskView) -> Text:
    text = _bold(signed(v.net))
    text.append(f"\nfee {money(v.pnl.get('fees_usdt'))}\nfnd {money(v.pnl.get('funding_usdt'))}", style="")
    return text


def _delta_cell(v: TaskView) -> Text:
    text = Text(quantity(v.delta, 2), style="" if dec(v.delta) in (None, 0) else "yellow")
    text.append(f"\nperp {quantity(v.perp, 2)}")
    return text


Column = tuple[str, str, Callable[[TaskView], Any]]

COMPACT: tuple[Column, ...] = (
    ("task", "left", lambda v: v.task_id),
    ("symbol", "left", lambda v: _symbol_short(v.symbol)),
    ("mode", "left", lambda v: mode_badge(v.mode)),
    ("status", "left", lambda v: status_text(v.status)),
    ("state", "left", lambda v: state_text(v.state)),
    ("net USDT", "right", lambda v: signed(v.net)),
    ("delta", "right", lambda v: quantity(v.delta, 2)),
    ("books", "left", _books_short),
    ("", "left", _mark),
)
WIDE: tuple[Column, ...] = (
    ("task", "left", lambda v: v.task_id),
    ("symbol", "left", lambda v: Text.assemble(v.symbol, "\n", mode_badge(v.mode))),
    ("status/state", "left", lambda v: Text.assemble(status_text(v.status), "\n", state_text(v.state))),
    ("PnL USDT", "right", _pnl_cell),
    ("delta", "right", _delta_cell),
    ("inventory", "left", _inventory_cell),
    ("spread bps", "left", _spreads_cell),
    ("venues", "left", _venues_cell),
    ("time", "left", _time_cell),
    ("", "left", _mark),
)
FULL: tuple[Column, ...] = (
    ("task", "left", lambda v: v.task_id),
    ("symbol", "left", lambda v: v.symbol),
    ("mode", "left", lambda v: mode_badge(v.mode)),
    ("status", "left", lambda v: status_text(v.status, v.lease)),
    ("state", "left", lambda v: state_text(v.state)),
    ("in state", "right", lambda v: format_duration_s(v.in_state_s) if v.live else "-"),
    ("net", "right", lambda v: _bold(signed(v.net))),
    ("realized", "right", lambda v: signed(v.pnl.get("realized_pnl_usdt"))),
    ("unrealized", "right", lambda v: signed(v.pnl.get("unrealized_pnl_usdt"))),
    ("fees", "right", lambda v: money(v.pnl.get("fees_usdt"))),
    ("funding", "right", lambda v: signed(v.pnl.get("funding_usdt"))),
    ("delta", "right", lambda v: quantity(v.delta, 2)),
    ("perp", "right", lambda v: quantity(v.perp, 2)),
    ("inventory", "left", _inventory_cell),
    ("spread bps", "left", _spreads_cell),
    ("venues", "left", _venues_cell),
    ("open", "right", lambda v: "-" if v.open_orders is None else str(v.open_orders)),
    ("time", "left", _time_cell),
    ("", "left", _mark),
)
# fallbacks for unusual widths/contents: the essentials stay whole
NO_SYMBOL: tuple[Column, ...] = tuple(c for c in COMPACT if c[0] != "symbol")
NARROW: tuple[Column, ...] = tuple(c for c in COMPACT if c[0] not in ("delta", "books"))
TINY: tuple[Column, ...] = tuple(c for c in COMPACT if c[0] in ("task", "status", "state", "net USDT", ""))
LAYOUTS = {"full": FULL, "wide": WIDE, "compact": COMPACT, "no_symbol": NO_SYMBOL, "narrow": NARROW, "tiny": TINY}


def table_for(views: Sequence[TaskView], columns: Sequence[Column]) -> Table:
    table = tables.plain_table()
    for name, justify, _ in columns:
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for v in views:
        table.add_row(*(cell(v) for _, _, cell in columns))
    if not views:
        table.add_row(*(["no tasks"] + [""] * (len(columns) - 1)))
    return table


def _order(views: list[TaskView]) -> tuple[list[TaskView], int]:
    """Tasks not finished first (as created), then the newest finished ones; how many were left out."""
    active = [v for v in views if v.status not in TERMINAL_STATUSES]
    finished = [v for v in views if v.status in TERMINAL_STATUSES][::-1]
    return active + finished[:MAX_FINISHED_ROWS], max(0, len(finished) - MAX_FINISHED_ROWS)


def _title(views: Sequence[TaskView], now_ms: int) -> Text:
    running = sum(1 for v in views if v.status in ("running", "stopping"))
    totals: dict[str, Decimal] = {}
    for v in views:
        totals[v.mode] = totals.get(v.mode, Decimal(0)) + v.net
    title = Text("arb-runner", style="bold")
    title.append(f"  {len(views)} task{'s' if len(views) != 1 else ''}, {running} running")
    if totals:
        title.append("  net PnL ")
        for n, (mode, total) in enumerate(sorted(totals.items())):
            title.append(("  " if n else "") + ("LIVE" if mode == "live" else mode) + f" {total:.2f}",
                         style="bold red" if mode == "live" else "")
        title.append(" USDT")
    title.append(f"  {tables.clock_ms(now_ms)[:8]} UTC", style="dim")
    return title


def _line(text: str, style: str = "") -> Text:
    return Text(text, style=style, no_wrap=True, overflow="ellipsis")


def _transition_line(tr: Any) -> str:
    reason = str(getattr(tr, "reason", "") or "").splitlines()[0:1]
    return (f"{tables.clock_ms(tr.ts_ms)} {tr.task_id} {enum_value(tr.src)} -> {enum_value(tr.dst)} "
            f"({tr.trigger})" + (f" - {reason[0][:100]}" if reason else ""))


def render(tasks: Sequence[Any], live: Mapping[str, Mapping[str, Any]], transitions: Sequence[Any], now_ms: int,
           *, width: int = 120, **lease_kwargs: Any) -> Group:
    """The whole overview frame for ``width`` columns (pure: no I/O, no clock)."""
    views = [task_view(r, live.get(r.task_id) or {}, now_ms, **lease_kwargs) for r in tasks]
    shown, hidden = _order(views)
    table = tables.fit([lambda cols=cols: table_for(shown, cols) for cols in LAYOUTS.values()], width)  # type: ignore[misc]
    parts: list[Any] = [_title(views, now_ms), table]
    if hidden:
        parts.append(_line(f"({hidden} older finished tasks not shown; tasks list has them all)", "dim"))
    for v in shown:
        for note in v.notes:
            parts.append(_line(f"{v.task_id} {note}", "red" if v.health is Health.BAD else "yellow"))
    parts.append(Text(LEGEND, style="dim"))
    notable = [t for t in transitions if t.trigger not in CHURN_TRIGGERS]
    churn = len(transitions) - len(notable)
    head = Text("last transitions", style="bold", no_wrap=True, overflow="ellipsis")
    if churn:
        head.append(f"  ({churn} recent ANALYZING<->MONITORING cycles not shown)", style="dim")
    parts.append(head)
    recent = notable[-FOOTER_TRANSITIONS:]
    parts.extend(_line(_transition_line(t)) for t in recent)
    if not recent:
        parts.append(_line("(none yet)", "dim"))
    return Group(*parts)
