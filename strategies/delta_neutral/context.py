"""Checkpointed state of the delta-neutral task (the JSON ``context`` of its row)."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from exchanges.models import VenueId
from strategies.base import BaseContext


class ArbLegs(msgspec.Struct, kw_only=True):
    """The legs of the arb in flight: client order ids, venues, QUOTED prices (the limits may be
    through them), the quoted net edge, and ``first_cid``: the leg sent first ("" = both at once)."""

    sell_cid: str
    buy_cid: str
    sell_venue: VenueId
    buy_venue: VenueId
    sell_price: Decimal
    buy_price: Decimal
    first_cid: str = ""
    quoted_edge_bps: Decimal = Decimal(0)


class SingleLeg(msgspec.Struct, kw_only=True):
    """A one-sided arb being fixed: ``imbalance_base`` = bought - sold so far."""

    sell_venue: VenueId
    buy_venue: VenueId
    sell_price: Decimal
    buy_price: Decimal
    imbalance_base: Decimal
    deadline_ms: int


class DeltaNeutralContext(BaseContext, kw_only=True):
    """Checkpointed strategy state (JSON in the tasks row)."""

    started_ms: int = 0
    building: bool = True
    last_rebalance_ms: int = 0
    batch: list[str] = []
    arb: ArbLegs | None = None
    single_leg: SingleLeg | None = None
    hedge_rounds: int = 0
    unwind_rounds: int = 0
    unknown_streak: int = 0
    funding_since_ms: int = 0
    stale_since_ms: int = 0
    low_since_ms: int = 0
    rebalance_forced: bool = False
    swept: bool = False
    summary: str = ""
    #: spot targets (base) when the build-up ended: the inventory floor never drops below their share
    build_targets_base: dict[VenueId, Decimal] = {}
    #: since when total spot inventory is beyond tolerance of its target (0 = it is not)
    totals_off_since_ms: int = 0
    #: arbitrage pairs with at least one leg filled, of which single-legged (sold != bought)
    arb_pairs: int = 0
    single_legs: int = 0
    #: arbitrage decisions where nothing filled (e.g. a sequential first leg that missed)
    arb_missed: int = 0


__all__ = ["ArbLegs", "DeltaNeutralContext", "SingleLeg"]
