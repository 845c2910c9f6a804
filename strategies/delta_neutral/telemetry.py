"""The delta-neutral task's dashboard and history telemetry (:meth:`DeltaNeutralTask.live_view`).

:func:`task_view` assembles the view from a task (its keys and units are documented there); every
other function here is a pure function of plain values (books, fee rates, config, inventory, clock
readings), so it is tested without venues.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set as AbstractSet
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any

from exchanges import clock
from exchanges.models import BookTop, SymbolInfo, VenueId

from strategies.delta_neutral import policy, report
from strategies.delta_neutral.config import DeltaNeutralConfig
from strategies.delta_neutral.policy import PERP, SPOT_VENUES

if TYPE_CHECKING:
    from strategies.delta_neutral.task import DeltaNeutralTask

ZERO = Decimal(0)
BPS = Decimal(10000)
_DIRECTIONS = ((SPOT_VENUES[0], SPOT_VENUES[1]), (SPOT_VENUES[1], SPOT_VENUES[0]))


class ConnState(str, Enum):
    """What the operator sees per venue (``connection`` key of the view)."""

    CONNECTING = "connecting"  # not started or not subscribed yet (SYNCING), no error so far
    UP = "up"  # book stream live and younger than max_book_age_ms
    STALE = "stale"  # stream connected but the book is older than max_book_age_ms
    RECONNECTING = "reconnecting"  # the stream is known broken (disconnect, sequence gap): resyncing
    DOWN = "down"  # the venue could not be reached (the error is in ``detail``)


def direction_key(sell: VenueId, buy: VenueId) -> str:
    """``sell_gate_spot_buy_mexc_spot_bps``: the key of one cross-spot direction."""
    return f"sell_{sell.value}_buy_{buy.value}_bps"


def _bps(value: Decimal) -> str:
    return str(round(value, 2))


def spreads(books: Mapping[VenueId, BookTop], infos: Mapping[VenueId, SymbolInfo],
            entry_threshold_bps: Decimal) -> dict[str, dict[str, str]]:
    """Executable cross-spot figures per direction (sell at one venue's bid, buy at the other's ask),
    in bps with 2 decimals: ``spreads_bps`` (gross), ``edges_bps`` (net of both taker fees,
    :func:`policy.edge_bps`) and ``entry_spread_bps`` (the gross spread at which the net edge equals
    ``entry_threshold_bps``: ((1 + T)(1 + f_buy) / (1 - f_sell) - 1) x 1e4). A direction without
    both books (or fee rates, for the last two) is left out."""
    out: dict[str, dict[str, str]] = {"spreads_bps": {}, "edges_bps": {}, "entry_spread_bps": {}}
    for sell, buy in _DIRECTIONS:
        sb, bb = books.get(sell), books.get(buy)
        if sb is None or bb is None or bb.ask <= 0 or sb.bid <= 0:
            continue
        key = direction_key(sell, buy)
        out["spreads_bps"][key] = _bps(policy.gross_spread_bps(sb.bid, bb.ask))
        si, bi = infos.get(sell), infos.get(buy)
        if si is None or bi is None:
            continue
        out["edges_bps"][key] = _bps(policy.edge_bps(sb.bid, bb.ask, si.taker_fee_rate, bi.taker_fee_rate))
        out["entry_spread_bps"][key] = _bps(entry_spread_bps(entry_threshold_bps, si.taker_fee_rate,
                                                             bi.taker_fee_rate))
    return out


def entry_spread_bps(entry_threshold_bps: Decimal, sell_fee_rate: Decimal, buy_fee_rate: Decimal) -> Decimal:
    """Gross spread (bps) whose edge after both taker fees is exactly ``entry_threshold_bps``
    (the inverse of :func:`policy.edge_bps`)."""
    return ((1 + entry_threshold_bps / BPS) * (1 + buy_fee_rate) / (1 - sell_fee_rate) - 1) * BPS


def inventory(inventory_base: Mapping[VenueId, Decimal], mids: Mapping[VenueId, Decimal],
              config: DeltaNeutralConfig, building: bool) -> dict[str, object]:
    """Spot inventory against its target (:func:`policy.spot_targets_base` at the current mids):
    ``inventory_target_base`` and ``inventory_pct`` (1 decimal) per venue with a target,
    ``inventory_floor_pct`` (``min_inventory_fraction`` in %), and ``low_inventory``: the venues
    below the floor (empty while the initial build-up runs: everything starts below it)."""
    targets = policy.spot_targets_base(config, mids)
    floor = config.min_inventory_fraction
    pct: dict[str, str] = {}
    low: list[str] = []
    for v, target in targets.items():
        if target <= 0:
            continue
        held = inventory_base.get(v, ZERO)
        pct[v.value] = str(round(held / target * 100, 1))
        if not building and held < target * floor:
            low.append(v.value)
    return {
        "inventory_target_base": {v.value: format(round(t, 8).normalize(), "f") for v, t in targets.items() if t > 0},
        "inventory_pct": pct,
        "inventory_floor_pct": str(round(floor * 100, 1)),
        "low_inventory": low,
    }


def connection(*, ready: bool, error: str, book: BookTop | None, now_ms: int, max_book_age_ms: int
               ) -> tuple[ConnState, str]:
    """One venue's connection state and a short detail, from what the task knows: whether the
    venue was started and subscribed (``ready``), the last connect error naming it (``error``),
    and its book (None before the first synced update; ``stale`` flag while the stream resyncs)."""
    if not ready:
        return (ConnState.DOWN, error) if error else (ConnState.CONNECTING, "")
    if book is None:
        return ConnState.RECONNECTING, "no book yet"
    if book.stale:
        return ConnState.RECONNECTING, "stream resyncing"
    age = book.age_ms(now_ms)
    if age > max_book_age_ms:
        return ConnState.STALE, f"book {age} ms old"
    return ConnState.UP, ""


def venue_error(connect_error: str, venue: VenueId) -> str:
    """The part of a ``cannot reach`` text (``gate_spot: OSError: ...; mexc_spot: ...``) naming ``venue``."""
    for part in connect_error.split("; "):
        if part.startswith(venue.value + ":"):
            return part[len(venue.value) + 1:].strip()
    return ""


def connections(venues: Iterable[VenueId], ready: AbstractSet[VenueId], connect_error: str,
                books: Mapping[VenueId, BookTop | None], now_ms: int, max_book_age_ms: int
                ) -> dict[str, dict[str, str]]:
    """``connection`` key of the view: ``{venue: {"state": ConnState value, "detail": str}}``."""
    out: dict[str, dict[str, str]] = {}
    for v in venues:
        state, detail = connection(ready=v in ready, error=venue_error(connect_error, v), book=books.get(v),
                                   now_ms=now_ms, max_book_age_ms=max_book_age_ms)
        out[v.value] = {"state": state.value, "detail": detail}
    return out


def waiting_for(conn: Mapping[str, Mapping[str, str]], *, connected: bool, reconciled: bool) -> str:
    """What SYNCING waits for, in words: the venues still connecting (or down, with their error),
    the reconciliation of our orders and balances, or fresh books."""
    if not connected:
        pending = [f"{v} ({c['detail']})" if c["state"] == ConnState.DOWN.value else v
                   for v, c in conn.items() if c["state"] in (ConnState.CONNECTING.value, ConnState.DOWN.value)]
        return "connecting " + ", ".join(pending) if pending else "connecting"
    if not reconciled:
        return "reconciling orders, balances and positions with the venues"
    not_fresh = [v for v, c in conn.items() if c["state"] != ConnState.UP.value]
    return "fresh books from " + ", ".join(not_fresh) if not_fresh else "fresh books"


def timing(*, started_ms: int, now_ms: int, max_duration_s: float) -> dict[str, float | None]:
    """``uptime_s`` since the task first synced (0 before), and ``time_left_s`` until
    ``max_duration_s`` (None when unlimited)."""
    uptime = max(0.0, (now_ms - started_ms) / 1000) if started_ms else 0.0
    left = max(0.0, max_duration_s - uptime) if max_duration_s > 0 else None
    return {"uptime_s": round(uptime, 1), "time_left_s": None if left is None else round(left, 1)}


def task_view(task: DeltaNeutralTask) -> dict[str, Any]:
    """A task's dashboard and history telemetry (JSON-ready; decimals as strings, times in ms or s):

    * ``spreads_bps`` / ``edges_bps`` / ``entry_spread_bps``: per direction
      (``sell_<venue>_buy_<venue>_bps``) the executable gross spread, the edge net of both
      taker fees, and the gross spread at which the edge reaches ``entry_threshold_bps``
      (also given); see :func:`spreads`.
    * ``mids``: mid price per venue.
    * ``inventory_base`` (task-owned spot base per venue), ``inventory_target_base``,
      ``inventory_pct``, ``inventory_floor_pct``, ``low_inventory`` (:func:`inventory`).
    * ``perp_base``, ``net_delta_base``, ``delta_tolerance_base`` (once the perp rules are known).
    * ``open_orders``: our unresolved intents; ``book_age_ms`` per venue.
    * ``connection``: ``{venue: {"state": up|stale|down|reconnecting|connecting, "detail"}}``;
      ``waiting_for``: what SYNCING waits for (empty elsewhere).
    * ``started_ms``, ``uptime_s``, ``time_left_s`` (None without ``max_duration_s``).
    * ``building``, ``last_error``.
    * the strategy's floors, residual and pair counts (:func:`report.strategy_view`).
    """
    books, now = task.market.books(), clock.now_ms()
    mids = {v: b.mid for v, b in books.items() if b.bid > 0 and b.ask > 0}
    raw_books = {v: task.venues[v].book_top(task.symbol) for v in task.venues}
    conn = connections(task.venues, task.connections.ready_venues, task.connections.error, raw_books, now,
                       task.config.max_book_age_ms)
    view: dict[str, Any] = spreads(books, task.infos, task.config.entry_threshold_bps)
    view.update(inventory(task.ledger.spot_inventory(), mids, task.config, task.context.building))
    view.update(timing(started_ms=task.context.started_ms, now_ms=now, max_duration_s=task.config.max_duration_s))
    view.update({
        "entry_threshold_bps": str(task.config.entry_threshold_bps),
        "mids": {v.value: str(m) for v, m in mids.items()},
        "inventory_base": {v.value: str(q) for v, q in task.ledger.spot_inventory().items()},
        "perp_base": str(task.ledger.inventory_base(PERP)),
        "net_delta_base": str(task.ledger.net_delta_base()),
        "open_orders": report.order_rows(task.unresolved_intents()),
        "book_age_ms": {v.value: b.age_ms(now) for v, b in books.items()},
        "connection": conn,
        "waiting_for": "" if task.state.value != "SYNCING" else waiting_for(
            conn, connected=task.connections.connected, reconciled=task.reconciled),
        "started_ms": task.context.started_ms,
        "building": task.context.building,
        "last_error": task.last_error,
    })
    view.update(report.strategy_view(
        inventory_base=task.ledger.spot_inventory(), floors_base=task.inputs.floors(),
        net_delta_base=task.ledger.net_delta_base(), contract_multiplier=task.contract_base(),
        building=task.context.building, arb_pairs=task.context.arb_pairs, single_legs=task.context.single_legs))
    if PERP in task.infos:
        view["delta_tolerance_base"] = str(policy.delta_tolerance_base(task.config, task.infos[PERP]))
    return view
