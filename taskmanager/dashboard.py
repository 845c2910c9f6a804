"""Live terminal dashboard (rich ``Live``): one row per task plus the last transitions.

Rendering is a pure function, :func:`render`, of store data:

* ``tasks``: ``Store.list_tasks()`` records (``task_id, symbol, status, state,
  state_entered_ms, pnl, last_error, owner_* , heartbeat_ms``),
* ``live``: ``Store.get_live()`` decoded to ``{task_id: dict}`` -- the telemetry the
  TaskManager writes every ~250 ms from ``task.live_view()`` merged with
  ``status/state/state_entered_ms/pnl/updated_ms``. Keys the dashboard reads (all optional;
  decimals as strings):

  ``spreads_bps``       {"gate_spot>mexc_spot": "12.5", ...}  sell-venue>buy-venue edge in bps
                        (keys ``sell_gate_spot_buy_mexc_spot_bps`` are understood too)
  ``inventory_base``    {"gate_spot": "1000", "mexc_spot": "1000"}  spot inventory per venue
  ``perp_position_base`` "-2000"  (or ``perp_base``, or ``perp_contracts``)
  ``net_delta_base``    "0"
  ``open_orders``       int (or a list)
  ``book_age_ms``       {"gate_spot": 120, ...}
  ``last_error``        "..."

* ``transitions``: recent ``TransitionRecord`` s (any task), newest last.

:func:`run_dashboard` polls the store 5 times a second and redraws through one ``Live``
(``auto_refresh`` off, explicit refresh after each update: no flicker).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from exchanges import clock
from taskmanager.views import dec, enum_value, field, lease_state, parse_json, pnl_of

STATE_STYLES = {
    "IDLE": "dim",
    "SYNCING": "cyan",
    "ANALYZING": "blue",
    "REBALANCING": "magenta",
    "MANAGING_ORDERS": "yellow",
    "WAITING_ORDERS": "bright_yellow",
    "MONITORING": "green",
    "COMPLETING": "dark_orange",
    "FINALIZING": "bright_black",
}
STATUS_STYLES = {
    "running": "green",
    "paused": "yellow",
    "stopping": "dark_orange",
    "stopped": "dim",
    "completed": "bold green",
    "failed": "bold red",
    "halted": "bold red",
}
VENUE_SHORT = {"gate_spot": "gs", "gate_perp": "gp", "mexc_spot": "ms"}
REFRESH_S = 0.2  # 5 frames per second (the contract asks for >= 4)
FOOTER_TRANSITIONS = 8
# The steady-state loop (book update -> ANALYZING -> no edge -> MONITORING) would flood the footer;
# the row already shows the current state, so the footer lists the other transitions.
CHURN_TRIGGERS = frozenset({"signal", "idle"})


def _short_venue(name: str) -> str:
    return VENUE_SHORT.get(name, name)


def _num(value: Any, places: int = 2) -> str:
    d = dec(value)
    if d is None:
        return "-"
    return f"{d:,.{places}f}"


def _signed_style(value: Any) -> str:
    d = dec(value)
    if d is None or d == 0:
        return ""
    return "green" if d > 0 else "red"


def format_duration_s(seconds: float) -> str:
    """``75`` -> ``1m15s``; ``3700`` -> ``1h01m``; negative clamps to 0."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def _per_venue_lines(values: Any, fmt) -> str:
    if not isinstance(values, Mapping) or not values:
        return "-"
    return "\n".join(f"{_short_venue(str(k))} {fmt(v)}" for k, v in sorted(values.items()))


def _spread_lines(spreads: Any) -> str:
    if not isinstance(spreads, Mapping) or not spreads:
        return "-"
    lines = []
    for pair, bps in sorted(spreads.items()):
        names = _pair_names(str(pair))
        label = ">".join(_short_venue(n) for n in names)
        lines.append(f"{label} {_num(bps, 1)}")
    return "\n".join(lines)


def _pair_names(pair: str) -> list[str]:
    """``gate_spot>mexc_spot``, ``gate_spot/mexc_spot`` or ``sell_gate_spot_buy_mexc_spot_bps`` -> names."""
    if pair.startswith("sell_") and "_buy_" in pair:
        core = pair[len("sell_"):]
        if core.endswith("_bps"):
            core = core[: -len("_bps")]
        return core.split("_buy_", 1)
    return pair.replace("/", ">").split(">")


def _open_orders(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (list, tuple)):
        return str(len(value))
    return str(value)


def task_row(record: Any, live: Mapping[str, Any], now_ms: int, **lease_kwargs: Any) -> list[Text | str]:
    """The cells of one task's row (pure)."""
    status = str(enum_value(live.get("status") or field(record, "status")) or "")
    state = str(enum_value(live.get("state") or field(record, "state")) or "")
    entered_ms = live.get("state_entered_ms") or field(record, "state_entered_ms") or now_ms
    lease = lease_state(record, now_ms, **lease_kwargs)
    status_text = Text(status, style=STATUS_STYLES.get(status, ""))
    if status in ("running", "stopping") and lease in ("stale", "crashed"):
        status_text.append(f" ({lease})", style="bold red")
    pnl = dict(pnl_of(record))
    if isinstance(live.get("pnl"), Mapping):
        pnl.update({k: str(v) for k, v in live["pnl"].items()})
    delta = live.get("net_delta_base", pnl.get("net_delta_base"))
    perp = next((live[k] for k in ("perp_position_base", "perp_base", "perp_contracts") if k in live), None)
    error = str(live.get("last_error") or field(record, "last_error") or "")
    if len(error) > 40:
        error = error[:39] + "…"
    return [
        str(field(record, "task_id") or ""),
        str(field(record, "symbol") or ""),
        status_text,
        Text(state, style=STATE_STYLES.get(state, "")),
        format_duration_s((now_ms - int(entered_ms)) / 1000),
        _spread_lines(live.get("spreads_bps")),
        _per_venue_lines(live.get("inventory_base"), lambda v: _num(v, 2)),
        _num(perp, 2),
        Text(_num(delta, 4), style="" if dec(delta) in (None, 0) else "yellow"),
        Text(_num(pnl.get("realized_pnl_usdt"), 4), style=_signed_style(pnl.get("realized_pnl_usdt"))),
        Text(_num(pnl.get("unrealized_pnl_usdt"), 4), style=_signed_style(pnl.get("unrealized_pnl_usdt"))),
        _num(pnl.get("fees_usdt"), 4),
        Text(_num(pnl.get("funding_usdt"), 4), style=_signed_style(pnl.get("funding_usdt"))),
        _open_orders(live.get("open_orders")),
        _per_venue_lines(live.get("book_age_ms"), lambda v: f"{_num(v, 0)}ms"),
        Text(error, style="red"),
    ]


COLUMNS = (
    ("task", "left"),
    ("symbol", "left"),
    ("status", "left"),
    ("state", "left"),
    ("in state", "right"),
    ("spread bps", "left"),
    ("inventory", "left"),
    ("perp", "right"),
    ("delta", "right"),
    ("rPnL", "right"),
    ("uPnL", "right"),
    ("fees", "right"),
    ("funding", "right"),
    ("open", "right"),
    ("book age", "left"),
    ("last error", "left"),
)


def render(
    tasks: Sequence[Any],
    live: Mapping[str, Mapping[str, Any]],
    transitions: Sequence[Any],
    now_ms: int,
    *,
    title: str = "arb-runner tasks",
    **lease_kwargs: Any,
) -> Group:
    """The whole dashboard frame as a rich renderable (pure: no I/O, no clock)."""
    table = Table(title=title, expand=False, header_style="bold", pad_edge=False, show_lines=False)
    for name, justify in COLUMNS:
        table.add_column(name, justify=justify, no_wrap=True)
    for record in tasks:
        table.add_row(*task_row(record, live.get(field(record, "task_id"), {}) or {}, now_ms, **lease_kwargs))
    if not tasks:
        table.add_row(*(["no tasks"] + [""] * (len(COLUMNS) - 1)))
    footer = Text()
    notable = [t for t in transitions if field(t, "trigger") not in CHURN_TRIGGERS]
    churn = len(transitions) - len(notable)
    footer.append("last transitions", style="bold")
    if churn:
        footer.append(f"  ({churn} recent ANALYZING<->MONITORING cycles not shown)", style="dim")
    footer.append("\n")
    recent = notable[-FOOTER_TRANSITIONS:]
    for tr in recent:
        footer.append(_transition_line(tr) + "\n")
    if not recent:
        footer.append("(none yet)\n", style="dim")
    return Group(table, footer)


def _transition_line(tr: Any) -> str:
    from datetime import datetime, timezone

    ts = field(tr, "ts_ms") or 0
    when = datetime.fromtimestamp(ts / 1000, tz=timezone.utc).strftime("%H:%M:%S.%f")[:-3]
    reason = str(field(tr, "reason") or "").splitlines()[0:1]
    reason_text = f" - {reason[0][:80]}" if reason else ""
    return (
        f"{when} {field(tr, 'task_id')} {enum_value(field(tr, 'src'))} -> "
        f"{enum_value(field(tr, 'dst'))} ({field(tr, 'trigger')}){reason_text}"
    )


async def gather(store: Any, *, per_task_transitions: int = 64) -> tuple[list, dict, list]:
    """Read one frame's data from the store: (tasks, live dict, recent transitions)."""
    tasks = await store.list_tasks()
    raw_live = await store.get_live()
    live = {tid: parse_json(text, {}) or {} for tid, text in raw_live.items()}
    recent: list[Any] = []
    for record in tasks:
        trs = await store.transitions(record.task_id, limit=per_task_transitions)
        recent.extend(trs)
    recent.sort(key=lambda t: (field(t, "ts_ms") or 0, field(t, "version") or 0))
    return tasks, live, recent


async def frame(store: Any) -> Group:
    """One rendered frame of the current store contents."""
    tasks, live, recent = await gather(store)
    return render(tasks, live, recent, clock.now_ms())


async def run_dashboard(
    store: Any,
    *,
    console: Console | None = None,
    stop: asyncio.Event | None = None,
    refresh_s: float = REFRESH_S,
) -> None:
    """Show the live dashboard until ``stop`` is set (or the coroutine is cancelled)."""
    from rich.live import Live

    console = console or Console()
    stop = stop or asyncio.Event()
    with Live(await frame(store), console=console, auto_refresh=False, transient=False) as live:
        while not stop.is_set():
            live.update(await frame(store), refresh=True)
            try:
                await asyncio.wait_for(stop.wait(), timeout=refresh_s)
            except asyncio.TimeoutError:
                pass
        live.update(await frame(store), refresh=True)


def render_text(group: Group, width: int = 200) -> str:
    """Render a frame to plain text (``dashboard --once`` when piped, tests, README)."""
    import io

    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(group)
    return console.export_text()


def dumps_live(view: Mapping[str, Any]) -> str:
    """Telemetry dict -> JSON text for ``Store.put_live`` (Decimals and enums as strings)."""
    return json.dumps(view, default=lambda o: str(getattr(o, "value", o)), separators=(",", ":"))
