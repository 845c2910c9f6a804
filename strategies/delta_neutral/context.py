"""Checkpointed state of the delta-neutral task (the JSON ``context`` of its row)."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from exchanges.models import VenueId
from strategies.base import BaseContext


class ArbLegs(msgspec.Struct, kw_only=True):
    sell_cid: str
    buy_cid: str
    sell_venue: VenueId
    buy_venue: VenueId
    sell_price: Decimal
    buy_price: Decimal


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


__all__ = ["ArbLegs", "DeltaNeutralContext", "SingleLeg"]
