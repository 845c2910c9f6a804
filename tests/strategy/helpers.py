"""Helpers shared by the task tests (driving to a state, invariant checks)."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal as D

from exchanges.models import Side
from state.records import State
from strategies.delta_neutral import policy

from .conftest import GP, GS, MS, PREFIX


async def build(h, max_steps: int = 40):
    """Run a fresh task to MONITORING with the initial inventory built."""
    await h.run_until(lambda t: t.state is State.MONITORING and not t.context.building, max_steps)


def assert_no_duplicate_sends(fakes):
    for v, f in fakes.items():
        dup = [c for c, n in Counter(f.place_calls).items() if n > 1]
        assert not dup, f"{v.value}: client order ids sent twice: {dup}"


def assert_ledger_matches_venues(task, fakes):
    """The ledger's fills are exactly the fake venues' record of our fills."""
    ours = {(f.venue.value, f.trade_id) for v in fakes.values() for f in v.our_fills(PREFIX)}
    booked = {(f.venue.value, f.trade_id) for f in task.fills}
    assert booked == ours
    for v in (GS, MS):
        venue_qty = sum((f.qty_base * f.side.sign - (f.fee if f.fee_asset == "NEIROETH" else 0))
                        for f in fakes[v].our_fills(PREFIX))
        assert task.ledger.inventory_base(v) == venue_qty
    perp = sum((f.qty_base * f.side.sign for f in fakes[GP].our_fills(PREFIX)), D(0))
    assert task.ledger.inventory_base(GP) == perp


def assert_delta_within_tolerance(task):
    tol = policy.delta_tolerance_base(task.config, task.infos[GP])
    assert abs(task.ledger.net_delta_base()) <= tol, (task.ledger.net_delta_base(), tol)


def orders_of(fake, leg_prefix=""):
    return [o for o in fake.orders.values() if o.client_order_id.startswith(PREFIX)]


def sides(fake):
    return [(o.side, o.qty) for o in orders_of(fake)]


__all__ = ["build", "assert_no_duplicate_sends", "assert_ledger_matches_venues", "assert_delta_within_tolerance",
           "orders_of", "sides", "Side"]
