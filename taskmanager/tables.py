"""Rich renderables shared by ``tasks list``, ``tasks show`` and the dashboard (pure functions).

Money is shown to 4 decimals (:func:`taskmanager.views.money`), base quantities exactly
(:func:`taskmanager.views.quantity`); records may be Structs or the dicts of ``--json``.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

from rich.console import Console, RenderableType
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from taskmanager.views import enum_value, field, money, quantity

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
MODE_STYLES = {"live": "bold white on red", "paper": "bold cyan", "sim": "dim"}
VENUE_SHORT = {"gate_spot": "gs", "gate_perp": "gp", "mexc_spot": "ms"}


class OutConsole(Console):
    """The console commands print through: a closed pipe (``| head``) ends the command quietly
    with exit 0 (rich's default ``on_broken_pipe`` exits with status 1)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError  # taskmanager.cli.main: silences stdout, exit 0


def short_venue(name: str) -> str:
    """``gate_spot`` -> ``gs`` (``gp`` Gate perp, ``ms`` MEXC spot); other names unchanged."""
    return VENUE_SHORT.get(name, name)


def mode_badge(mode: str) -> Text:
    """The run mode, ``LIVE`` in capitals and white on red so real money stands out."""
    m = (mode or "").lower()
    return Text("LIVE" if m == "live" else m, style=MODE_STYLES.get(m, ""))


def status_text(status: str, lease: str = "") -> Text:
    """The status, coloured; a running task whose owner died is flagged ``(crashed)``/``(stale)``."""
    text = Text(status, style=STATUS_STYLES.get(status, ""))
    if status in ("running", "stopping") and lease in ("stale", "crashed"):
        text.append(f" ({lease})", style="bold red")
    return text


def state_text(state: str) -> Text:
    return Text(state, style=STATE_STYLES.get(state, ""))


def signed(value: Any, fmt: Callable[[Any], str] = money) -> Text:
    """A number coloured by sign (green gain, red loss)."""
    text = fmt(value)
    style = "" if text in ("-", "0") or set(text) <= set("-0.") else ("red" if text.startswith("-") else "green")
    return Text(text, style=style)


def clock_ms(ms: Any) -> str:
    """Epoch ms -> ``HH:MM:SS.mmm`` UTC."""
    if not ms:
        return "-"
    return datetime.fromtimestamp(int(ms) / 1000, tz=timezone.utc).strftime("%H:%M:%S.%f")[:-3]


def plain_table(title: str | None = None) -> Table:
    """The house table for narrow terminals: no box, underlined bold headers, one space between
    columns."""
    return Table(title=title, title_justify="left", title_style="bold", box=None, header_style="bold underline",
                 pad_edge=False, padding=(0, 1, 0, 0), show_edge=False, expand=False)


_MEASURE = Console(width=2000, file=io.StringIO(), color_system=None)


def natural_width(renderable: RenderableType) -> int:
    """Columns ``renderable`` needs to show everything without cropping or wrapping."""
    return Measurement.get(_MEASURE, _MEASURE.options, renderable).maximum


def fit(builders: Sequence[Callable[[], Table]], width: int) -> Table:
    """The first table of ``builders`` (widest layout first) that fits ``width`` columns, else the last."""
    table = builders[-1]()
    for build in builders:
        candidate = build()
        if natural_width(candidate) <= width:
            return candidate
    return table


def fills_table(fills: Iterable[Any], title: str | None = None, compact: bool = False) -> Table:
    """One row per fill: time, venue, side, quantity, price, fee (and asset), client order id, trade id.
    ``compact`` (80 columns): time to the second, short venue names, no trade id."""
    table = plain_table(title)
    columns = [("time", "left"), ("venue", "left"), ("side", "left"), ("qty", "right"), ("price", "right"),
               ("fee", "right"), ("client order id", "left")] + ([] if compact else [("trade", "left")])
    for name, justify in columns:
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for f in fills:
        fee_asset = field(f, "fee_asset") or ""
        venue = str(enum_value(field(f, "venue")))
        cells = [clock_ms(field(f, "ts_ms"))[:8 if compact else None], short_venue(venue) if compact else venue,
                 str(enum_value(field(f, "side"))), quantity(field(f, "qty")), str(field(f, "price")),
                 f"{field(f, 'fee')} {fee_asset}".strip(), str(field(f, "client_order_id"))]
        table.add_row(*cells, *([] if compact else [str(field(f, "trade_id"))]))
    return table


def intents_table(intents: Iterable[Any], title: str | None = None, compact: bool = False) -> Table:
    """One row per order intent: client order id, venue, leg, side, qty, price, status, filled, average.
    ``compact`` (80 columns): short venue names, no average price."""
    table = plain_table(title)
    columns = [("client order id", "left"), ("venue", "left"), ("leg", "left"), ("side", "left"), ("qty", "right"),
               ("price", "right"), ("status", "left"), ("filled", "right")] + ([] if compact else [("avg price", "right")])
    for name, justify in columns:
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for i in intents:
        price, avg = field(i, "price"), field(i, "avg_price")
        venue = str(enum_value(field(i, "venue")))
        cells = [str(field(i, "client_order_id")), short_venue(venue) if compact else venue, str(field(i, "leg") or ""),
                 str(enum_value(field(i, "side"))), quantity(field(i, "qty")), "-" if price is None else str(price),
                 str(enum_value(field(i, "status"))), quantity(field(i, "filled_qty"))]
        table.add_row(*cells, *([] if compact else ["-" if avg is None else str(avg)]))
    return table


def transitions_table(transitions: Iterable[Any], title: str | None = None, width: int = 200) -> Table:
    """One row per journal entry: time, version, source -> destination, trigger and the first line of
    the reason, cropped so that each entry stays on one line of ``width`` columns (below 120 columns
    the time is to the second and the version is left out, to leave room for the reason)."""
    compact = width < 120
    rows = []
    for t in transitions:
        reason = str(field(t, "reason") or "").splitlines()
        when = clock_ms(field(t, "ts_ms"))
        rows.append(((when[:8],) if compact else (when, str(field(t, "version"))))
                    + (f"{enum_value(field(t, 'src'))} -> {enum_value(field(t, 'dst'))}", str(field(t, "trigger")),
                       reason[0] if reason else ""))

    def build(reason_width: int | None) -> Table:
        table = plain_table(title)
        for name in ("time",) + (() if compact else ("v",)) + ("transition", "trigger"):
            table.add_column(name, no_wrap=True)
        table.add_column("reason", no_wrap=True, overflow="ellipsis", max_width=reason_width)
        for row in rows:
            table.add_row(*row)
        return table

    fixed = natural_width(build(0))
    return build(max(8, width - fixed - 1))
