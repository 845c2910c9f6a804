"""History views of a simulated Gate USDT-futures account, rebuilt from its fills
and funding payments: the account book (``GET /futures/usdt/account_book``: ``pnl``,
``fee`` and ``fund`` entries with the balance after each) and the position-close
history (``GET /futures/usdt/position_close``) (docs/venues.md 1.10; Gate APIv4
"Futures" -> "Query account book", "List position close history").

Replay per contract, one-way mode: a fill that adds to the position averages the
entry price; one that reduces it realises ``closed x multiplier x (price -
entry)`` (sign of the position); a position that reaches zero or flips closes a
round trip. Fees are negative changes; funding is the payment's amount.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from exchanges.models import ZERO, Side, Symbol
from exchanges.sim.engine.types import SimFill, SimFunding
from exchanges.sim.gate.common import fmt


@dataclass(frozen=True)
class BookEntry:
    """One balance change: ``kind`` is Gate's ``type`` (pnl | fee | fund)."""

    ts_ms: int
    kind: str
    change: Decimal
    symbol: Symbol
    trade_id: str
    text: str


@dataclass
class _RoundTrip:
    side: str  # long | short
    first_open_ms: int
    max_size: Decimal = ZERO
    accum_size: Decimal = ZERO
    open_qty: Decimal = ZERO
    open_value: Decimal = ZERO
    close_qty: Decimal = ZERO
    close_value: Decimal = ZERO
    pnl_pnl: Decimal = ZERO
    pnl_fee: Decimal = ZERO
    pnl_fund: Decimal = ZERO


@dataclass
class _Contract:
    size: Decimal = ZERO
    entry: Decimal = ZERO
    trip: _RoundTrip | None = None
    closes: list[dict] = field(default_factory=list)


def _close_json(symbol: Symbol, trip: _RoundTrip, ts_ms: int, text: str) -> dict:
    open_avg = trip.open_value / trip.open_qty if trip.open_qty else ZERO
    close_avg = trip.close_value / trip.close_qty if trip.close_qty else ZERO
    long_price, short_price = (open_avg, close_avg) if trip.side == "long" else (close_avg, open_avg)
    return {"time": round(ts_ms / 1000, 3), "contract": symbol.gate, "side": trip.side,
            "pnl": fmt(trip.pnl_pnl + trip.pnl_fee + trip.pnl_fund), "pnl_pnl": fmt(trip.pnl_pnl),
            "pnl_fund": fmt(trip.pnl_fund), "pnl_fee": fmt(trip.pnl_fee), "text": text or "api",
            "max_size": fmt(trip.max_size), "accum_size": fmt(trip.accum_size),
            "first_open_time": trip.first_open_ms // 1000, "long_price": fmt(long_price),
            "short_price": fmt(short_price)}


def replay(fills: list[SimFill], payments: list[SimFunding], multipliers: dict[Symbol, Decimal]
           ) -> tuple[list[BookEntry], list[dict]]:
    """(account-book entries oldest first, position closes oldest first)."""
    events: list[tuple[int, int, SimFill | SimFunding]] = [(f.ts_ms, 0, f) for f in fills]
    events += [(p.ts_ms, 1, p) for p in payments]
    events.sort(key=lambda e: (e[0], e[1], e[2].trade_id if isinstance(e[2], SimFill) else 0))
    state: dict[Symbol, _Contract] = {}
    entries: list[BookEntry] = []
    for ts_ms, _, ev in events:
        c = state.setdefault(ev.symbol, _Contract())
        if isinstance(ev, SimFunding):
            entries.append(BookEntry(ts_ms, "fund", ev.amount, ev.symbol, "", f"{ev.symbol.gate}:funding"))
            if c.trip is not None:
                c.trip.pnl_fund += ev.amount
            continue
        mult = multipliers.get(ev.symbol, Decimal(1))
        signed = ev.qty if ev.side is Side.BUY else -ev.qty
        entries.append(BookEntry(ts_ms, "fee", -ev.fee, ev.symbol, str(ev.trade_id), ev.client_order_id))
        fee_charged = c.trip is not None
        if c.trip is not None:  # the fee of a fill that reduces (or flips) belongs to the round trip it closes
            c.trip.pnl_fee -= ev.fee
        remaining = signed
        if c.size != 0 and (c.size > 0) != (signed > 0):  # reduces (maybe flips)
            closing = min(abs(signed), abs(c.size))
            direction = Decimal(1) if c.size > 0 else Decimal(-1)
            realised = closing * mult * (ev.price - c.entry) * direction
            entries.append(BookEntry(ts_ms, "pnl", realised, ev.symbol, str(ev.trade_id), ev.client_order_id))
            trip = c.trip
            if trip is not None:
                trip.pnl_pnl += realised
                trip.accum_size += closing
                trip.close_qty += closing
                trip.close_value += closing * ev.price
            c.size += direction * -closing
            remaining = signed + direction * closing
            if c.size == 0:
                if trip is not None:
                    c.closes.append(_close_json(ev.symbol, trip, ts_ms, ev.client_order_id))
                c.trip, c.entry = None, ZERO
        if remaining != 0:  # opens or adds
            if c.trip is None:
                c.trip = _RoundTrip("long" if remaining > 0 else "short", ts_ms)
            new_size = c.size + remaining
            c.entry = (abs(c.size) * c.entry + abs(remaining) * ev.price) / abs(new_size)
            c.size = new_size
            c.trip.open_qty += abs(remaining)
            c.trip.open_value += abs(remaining) * ev.price
            c.trip.max_size = max(c.trip.max_size, abs(new_size))
            if not fee_charged:  # the opening fill's fee
                c.trip.pnl_fee -= ev.fee
    closes = sorted((x for c in state.values() for x in c.closes), key=lambda x: x["time"])
    return entries, closes


def account_book_json(entries: list[BookEntry], balance_now: Decimal) -> list[dict]:
    """Entries newest first, each with the wallet ``balance`` right after it
    (counted back from the current wallet total)."""
    out = []
    running = balance_now
    for i in range(len(entries) - 1, -1, -1):
        e = entries[i]
        out.append({"id": str(i + 1), "time": round(e.ts_ms / 1000, 3), "change": fmt(e.change),
                    "balance": fmt(running), "type": e.kind, "text": e.text or e.symbol.gate,
                    "contract": e.symbol.gate, "trade_id": e.trade_id})
        running -= e.change
    return out
