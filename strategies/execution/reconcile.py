"""Reconciliation: venue reports (balances, positions, open orders, funding, anomalies of the
order lifecycle) turned into corrections and halt reasons.

The pure functions decide; :class:`Reconciler` does the venue I/O and keeps the last known
holdings (from REST snapshots and private-stream events).

* A venue holding LESS than the task owns (spot base balance, or a perp position that does not
  cover ours) is a halt reason: the task must not trade on a broken ledger. Holding more is
  fine: the wallet may hold coins that are not the task's.
* Funding settlements are attributed to the task by its share of the venue position AT THE
  SETTLEMENT (:func:`attribute_funding`), not at the time of the poll.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from exchanges.models import (
    Balance,
    BalanceEvent,
    FundingPayment,
    Order,
    Position,
    PositionEvent,
    Symbol,
    SymbolInfo,
    VenueId,
)
from exchanges.venue import Venue
from state.records import FillRecord, FundingRecord
from strategies.execution.orders import Anomaly

ZERO = Decimal(0)


@dataclass
class VenueSnapshot:
    """Holdings and open orders read from the venues in one reconciliation."""

    balances: dict[VenueId, dict[str, Balance]] = field(default_factory=dict)
    positions: list[Position] = field(default_factory=list)
    open_orders: dict[VenueId, list[Order]] = field(default_factory=dict)


def spot_shortfalls(owned_base: Mapping[VenueId, Decimal], held_base: Mapping[VenueId, Decimal],
                    steps: Mapping[VenueId, Decimal], base: str) -> list[str]:
    """Halt reasons for spot venues holding less than the task owns (one size step tolerated)."""
    out = []
    for v, owned in owned_base.items():
        held = held_base.get(v, ZERO)
        if held + steps.get(v, ZERO) < owned:
            out.append(f"{v.value}: venue holds {held} {base} but the task ledger owns {owned}; "
                       "refusing to trade on a broken ledger")
    return out


def perp_shortfall(venue: VenueId, ours_base: Decimal, venue_base: Decimal, tolerance_base: Decimal,
                   base: str) -> str | None:
    """Halt reason when the venue's perp position does not cover the task's (signed base)."""
    if (ours_base < 0 and venue_base > ours_base + tolerance_base) or (
            ours_base > 0 and venue_base < ours_base - tolerance_base):
        return (f"{venue.value}: venue position {venue_base} {base} does not cover the task's {ours_base}; "
                "refusing to trade on a broken ledger")
    return None


def position_at(fills: Iterable[FillRecord], venue: VenueId, ts_ms: int) -> Decimal:
    """The task's signed base position on ``venue`` from its fills up to and including ``ts_ms``."""
    return sum((f.qty_base * f.side.sign for f in fills if f.venue == venue and f.ts_ms <= ts_ms), ZERO)


def attribute_funding(task_id: str, venue: VenueId, payments: Sequence[FundingPayment],
                      fills: Sequence[FillRecord], venue_position_base_now: Decimal) -> list[FundingRecord]:
    """The task's part of each funding settlement, by its share of the venue position at the
    settlement time.

    The venue position at a past settlement is estimated as the position now minus the task's
    own fills since then (exact when nobody else trades the contract on the account). The share
    is ``|ours| / |venue's|`` capped at 1, 0 when the task held nothing (or the other side)
    at that instant.
    """
    out = []
    for p in payments:
        ours = position_at(fills, venue, p.ts_ms)
        since = sum((f.qty_base * f.side.sign for f in fills if f.venue == venue and f.ts_ms > p.ts_ms), ZERO)
        at_venue = venue_position_base_now - since
        if ours == 0 or (at_venue != 0 and (ours > 0) != (at_venue > 0)):
            share = ZERO
        elif at_venue == 0 or abs(ours) >= abs(at_venue):
            share = Decimal(1)
        else:
            share = abs(ours) / abs(at_venue)
        out.append(FundingRecord(task_id=task_id, venue=venue, ts_ms=p.ts_ms, amount_usdt=p.amount * share,
                                 rate=p.rate))
    return out


def anomaly_reason(anomalies: Sequence[Anomaly]) -> str | None:
    """A halt reason for lifecycle anomalies (venue activity on an intent declared never placed)."""
    if not anomalies:
        return None
    first = anomalies[0].text
    more = f" (and {len(anomalies) - 1} more)" if len(anomalies) > 1 else ""
    return f"order lifecycle broken: {first}{more}"


class Reconciler:
    """Venue I/O of reconciliation for one task, and the last known holdings.

    ``spot_venues``/``perp_venue``: which venues hold spot base and the perp position.
    """

    def __init__(self, venues: Mapping[VenueId, Venue], symbol: Symbol, spot_venues: Sequence[VenueId],
                 perp_venue: VenueId) -> None:
        self.venues = venues
        self.symbol = symbol
        self.spot_venues = tuple(spot_venues)
        self.perp_venue = perp_venue
        #: venue -> asset (upper case) -> total balance
        self.balances: dict[VenueId, dict[str, Decimal]] = {}
        #: venue -> free quote balance
        self.quote_free: dict[VenueId, Decimal] = {}
        #: the venue's perp position on our contract (contracts), from the last report
        self.position_contracts = ZERO

    def on_event(self, event: BalanceEvent | PositionEvent) -> None:
        """Keep the holdings from private-stream events (never raises for a well-formed event)."""
        if isinstance(event, BalanceEvent):
            asset = event.balance.asset.upper()
            self.balances.setdefault(event.venue, {})[asset] = event.balance.total
            if asset == self.symbol.quote.upper():
                self.quote_free[event.venue] = event.balance.free
        elif event.position.symbol == self.symbol:
            self.position_contracts = event.position.size_contracts

    async def snapshot(self, all_venues: Sequence[VenueId]) -> VenueSnapshot:
        """Balances of the spot venues, the perp position and every venue's open orders.
        Raises VenueError."""
        snap = VenueSnapshot()
        for v in self.spot_venues:
            snap.balances[v] = await self.venues[v].balances()
        snap.positions = await self.venues[self.perp_venue].positions(self.symbol)
        for v in all_venues:
            snap.open_orders[v] = await self.venues[v].open_orders(self.symbol)
        self._keep(snap)
        return snap

    def _keep(self, snap: VenueSnapshot) -> None:
        quote = self.symbol.quote.upper()
        for v, bals in snap.balances.items():
            held = {a.upper(): b.total for a, b in bals.items()}
            self.balances[v] = held
            self.quote_free[v] = next((b.free for a, b in bals.items() if a.upper() == quote), ZERO)
        pos = self.venue_position(snap.positions)
        self.position_contracts = pos.size_contracts if pos else ZERO

    def venue_position(self, positions: Iterable[Position]) -> Position | None:
        return next((p for p in positions if p.symbol == self.symbol), None)

    def held_base(self) -> dict[VenueId, Decimal]:
        """Base coin held per spot venue, as last reported."""
        base = self.symbol.base.upper()
        return {v: self.balances.get(v, {}).get(base, ZERO) for v in self.spot_venues}

    def holding_reasons(self, snap: VenueSnapshot, owned_spot_base: Mapping[VenueId, Decimal],
                        ours_perp_base: Decimal, infos: Mapping[VenueId, SymbolInfo]) -> list[str]:
        """Halt reasons of a snapshot against the task's ledger."""
        base = self.symbol.base.upper()
        reasons = spot_shortfalls(owned_spot_base, self.held_base(), {v: infos[v].size_step for v in self.spot_venues},
                                  base)
        pos = self.venue_position(snap.positions)
        perp = infos[self.perp_venue]
        tol = perp.contract_multiplier * max(perp.size_step, Decimal(1))
        reason = perp_shortfall(self.perp_venue, ours_perp_base, pos.size_base if pos else ZERO, tol, base)
        if reason:
            reasons.append(reason)
        return reasons

    async def funding(self, since_ms: int) -> tuple[Decimal | None, int, list[FundingPayment], Decimal]:
        """(current funding rate, next funding time ms, settlements since ``since_ms``, venue
        position now in base). Raises VenueError."""
        perp = self.venues[self.perp_venue]
        rate = await perp.funding_rate(self.symbol)
        payments = await perp.funding_payments(self.symbol, since_ms)
        pos = self.venue_position(await perp.positions(self.symbol))
        if pos is not None:
            self.position_contracts = pos.size_contracts
        return (rate.rate if rate else None, rate.next_funding_ms if rate else 0, payments,
                pos.size_base if pos else ZERO)


__all__ = ["Reconciler", "VenueSnapshot", "anomaly_reason", "attribute_funding", "perp_shortfall", "position_at",
           "spot_shortfalls"]
