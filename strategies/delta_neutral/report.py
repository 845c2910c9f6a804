"""What the delta-neutral task reports: arbitrage pair outcomes, the summary line, the residual
delta below one perp contract, and the dashboard telemetry (``live_view``). Pure functions of
values handed in; the task gathers them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from enum import Enum
from typing import Any

from exchanges.models import BookTop, VenueId
from state.records import OrderIntent

from strategies.delta_neutral.policy import SPOT_VENUES, gross_spread_bps

ZERO = Decimal(0)


class PairKind(str, Enum):
    """Outcome of one arbitrage pair once both legs are final."""

    COMPLETE = "complete"      # both legs filled the same quantity
    SINGLE_LEG = "single_leg"  # one leg filled more than the other: the difference is hedged
    MISSED = "missed"          # nothing filled (a sequential first leg that missed)


def pair_kind(sold_base: Decimal, bought_base: Decimal) -> PairKind:
    """:class:`PairKind` of a pair that sold ``sold_base`` and bought ``bought_base``."""
    if sold_base == 0 and bought_base == 0:
        return PairKind.MISSED
    return PairKind.COMPLETE if sold_base == bought_base else PairKind.SINGLE_LEG


def pair_text(kind: PairKind, filled: tuple[Decimal, Decimal], base: str) -> str:
    """Journal text of a pair outcome (a single leg has its own, more detailed note)."""
    if kind is PairKind.COMPLETE:
        return f"arb complete: {filled[0]} {base} on both legs"
    if kind is PairKind.MISSED:
        return "arb missed: first leg not filled, second not sent"
    return f"single leg: sold {filled[0]}, bought {filled[1]} {base}"


def residual_below_contract(net_delta_base: Decimal, contract_multiplier: Decimal) -> bool:
    """True when a non-zero net delta is smaller than one perp contract: no whole-contract hedge
    can remove it, so it stays as a residual (shown as such, never silently)."""
    return net_delta_base != 0 and abs(net_delta_base) < contract_multiplier


def delta_text(net_delta_base: Decimal, contract_multiplier: Decimal, base: str) -> str:
    """``delta X BASE``, marked when it is a residual below one contract."""
    text = f"delta {net_delta_base} {base}"
    if residual_below_contract(net_delta_base, contract_multiplier):
        text += f" (residual below one perp contract of {contract_multiplier} {base}: cannot be hedged)"
    return text


def summary_text(totals: Mapping[str, str], delta: str, arb_pairs: int, single_legs: int) -> str:
    """The end-of-task summary (FINALIZING's journal reason and log line)."""
    share = f" ({100 * single_legs / arb_pairs:.1f} %)" if arb_pairs else ""
    return (f"net {Decimal(totals['net_pnl_usdt']):.4f} USDT (realized {Decimal(totals['realized_pnl_usdt']):.4f}, "
            f"fees {Decimal(totals['fees_usdt']):.4f}, funding {Decimal(totals['funding_usdt']):.4f}), "
            f"{totals['trades']} fills, {arb_pairs} arb pairs, {single_legs} single-legged{share}, {delta}")


def order_rows(intents: Iterable[OrderIntent]) -> list[dict[str, str]]:
    """Dashboard rows of open order intents (id, venue, side, qty, price, status, leg)."""
    return [{"id": i.client_order_id, "venue": i.venue.value, "side": i.side.value, "qty": str(i.qty),
             "price": str(i.price), "status": i.status.value, "leg": i.leg} for i in intents]


def strategy_view(*, inventory_base: Mapping[VenueId, Decimal], floors_base: Mapping[VenueId, Decimal],
                  net_delta_base: Decimal, contract_multiplier: Decimal, building: bool, arb_pairs: int,
                  single_legs: int) -> dict[str, Any]:
    """The strategy's own telemetry keys (merged into the task's ``live_view``):
    ``inventory_floor_base`` (per spot venue), ``below_floor`` (spot venues below their floor, none
    while building), ``contract_base`` (base per perp contract), ``residual_base`` (net delta when
    below one contract, else "0"), ``residual_below_contract`` (bool), ``arb_pairs``,
    ``single_legs``."""
    residual = residual_below_contract(net_delta_base, contract_multiplier)
    return {
        "inventory_floor_base": {v.value: str(f) for v, f in floors_base.items()},
        "below_floor": [v.value for v in SPOT_VENUES
                        if not building and inventory_base.get(v, ZERO) < floors_base.get(v, ZERO)],
        "contract_base": str(contract_multiplier),
        "residual_base": str(net_delta_base) if residual else "0",
        "residual_below_contract": residual,
        "arb_pairs": arb_pairs,
        "single_legs": single_legs,
    }


__all__ = ["PairKind", "delta_text", "order_rows", "pair_kind", "pair_text", "residual_below_contract",
           "strategy_view", "summary_text"]
