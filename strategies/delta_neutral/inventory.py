"""Inventory rules of the delta-neutral strategy (pure: no I/O, no clock).

* **Floor.** An arbitrage never sells a spot venue below ``min_inventory_fraction`` x its target,
  so each venue keeps inventory for the next arbitrage in either direction. The target is the
  larger of the venue's target now (``position_usdt`` x its fraction / mid) and its target when
  the build-up ended, so a price move never lowers the floor below the level the inventory was
  built to.
* **Totals.** Single legs move TOTAL spot inventory away from its target, the base quantity the
  build-up ended with (the perp hedge follows it). When the total is off by more than ``build_tolerance_fraction`` of its target, one spot
  order on the cheapest venue (lowest ask after its taker fee for a buy, highest bid after fee for
  a sell; a sell never below the floor) brings it back; the per-fill perp hedge follows. Rounds are
  capped by ``max_order_usdt`` and the displayed quantity, so a large gap takes a few rounds.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from exchanges.models import BookTop, Side, SymbolInfo, VenueId

from strategies.delta_neutral.config import DeltaNeutralConfig
from strategies.delta_neutral.policy import SPOT_VENUES, PlannedOrder, floor_to_step, meets_minimums, spot_targets_base

ZERO = Decimal(0)


def inventory_floors(config: DeltaNeutralConfig, targets_base: Mapping[VenueId, Decimal],
                     build_targets_base: Mapping[VenueId, Decimal] | None = None) -> dict[VenueId, Decimal]:
    """Base quantity each spot venue keeps: ``min_inventory_fraction`` x max(its target now
    (:func:`~strategies.delta_neutral.policy.spot_targets_base`), its target at the end of the
    build-up). A venue with neither has floor 0."""
    built = build_targets_base or {}
    return {v: config.min_inventory_fraction * max(targets_base.get(v, ZERO), built.get(v, ZERO))
            for v in SPOT_VENUES}


def sellable_base(inventory_base: Mapping[VenueId, Decimal], floors: Mapping[VenueId, Decimal]) -> dict[VenueId, Decimal]:
    """What an arbitrage may sell per spot venue: inventory above its floor (never negative)."""
    return {v: max(ZERO, inventory_base.get(v, ZERO) - floors.get(v, ZERO)) for v in SPOT_VENUES}


def totals_deviation_base(inventory_base: Mapping[VenueId, Decimal], targets_base: Mapping[VenueId, Decimal],
                          config: DeltaNeutralConfig) -> Decimal:
    """Total spot inventory minus its target (base), or ZERO while within
    ``build_tolerance_fraction`` of the target."""
    total = sum((inventory_base.get(v, ZERO) for v in SPOT_VENUES), ZERO)
    target = sum((targets_base.get(v, ZERO) for v in SPOT_VENUES), ZERO)
    if target <= 0:
        return ZERO
    deviation = total - target
    return deviation if abs(deviation) > config.build_tolerance_fraction * target else ZERO


def totals_targets_base(config: DeltaNeutralConfig, mids: Mapping[VenueId, Decimal],
                        build_targets_base: Mapping[VenueId, Decimal] | None = None) -> dict[VenueId, Decimal]:
    """What total spot inventory is held to: the base targets the build-up ended with (a hedged
    inventory is a quantity of coins: a price move must not make the task buy or sell), else the
    targets at today's mids."""
    if build_targets_base:
        return {v: build_targets_base.get(v, ZERO) for v in SPOT_VENUES}
    return spot_targets_base(config, mids)


def totals_restore_order(books: Mapping[VenueId, BookTop], infos: Mapping[VenueId, SymbolInfo],
                         inventory_base: Mapping[VenueId, Decimal], floors: Mapping[VenueId, Decimal],
                         quote_free_usdt: Mapping[VenueId, Decimal], config: DeltaNeutralConfig,
                         targets_base: Mapping[VenueId, Decimal] | None = None) -> PlannedOrder | None:
    """The spot IOC (at the quote) that brings total spot inventory back toward its target
    (``targets_base``, default: the targets at the books' mids) on the cheapest venue, or None
    (within tolerance, or nothing valid). Legs ``restore_buy`` / ``restore_sell``; sized by the
    deviation, the quote's quantity, ``max_order_usdt``, the free quote (buy) or the inventory above
    the floor (sell), rounded down to the step."""
    mids = {v: books[v].mid for v in SPOT_VENUES if v in books and books[v].bid > 0 and books[v].ask > 0}
    if len(mids) < len(SPOT_VENUES):
        return None
    targets = targets_base if targets_base is not None else spot_targets_base(config, mids)
    deviation = totals_deviation_base(inventory_base, targets, config)
    if deviation == 0:
        return None
    best: tuple[Decimal, PlannedOrder] | None = None
    for v in SPOT_VENUES:
        book, info = books[v], infos[v]
        if deviation < 0:  # short of target: buy the cheapest ask after fee
            price, side = book.ask, Side.BUY
            cost = price * (1 + info.taker_fee_rate)
            cap = min(-deviation, book.ask_qty, max(quote_free_usdt.get(v, ZERO), ZERO) / cost)
        else:  # above target: sell the richest bid after fee, keeping the floor
            price, side = book.bid, Side.SELL
            cost = -price * (1 - info.taker_fee_rate)
            cap = min(deviation, book.bid_qty, max(ZERO, inventory_base.get(v, ZERO) - floors.get(v, ZERO)))
        qty = floor_to_step(min(cap, config.max_order_usdt / price), info.size_step)
        if not meets_minimums(info, qty, price):
            continue
        order = PlannedOrder(v, side, qty, price, "restore_buy" if side is Side.BUY else "restore_sell")
        if best is None or cost < best[0]:
            best = (cost, order)
    return best[1] if best else None


__all__ = ["inventory_floors", "sellable_base", "totals_deviation_base", "totals_restore_order", "totals_targets_base"]
