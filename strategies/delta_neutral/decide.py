"""What the delta-neutral task should do next: one pure decision, no I/O, no clock.

:func:`decide` is called by MONITORING on every wake-up (a cheap check that
only signals ANALYZING when it returns something) and by ANALYZING to act on
it, so the two can never disagree: a signal is always followed by a real
decision, and "nothing to do" never bounces between the two states.

Priorities (first match wins):

1. a one-sided arb being fixed (``single_leg`` policy ``complete``/``reverse``);
2. the initial build-up (REBALANCING, at most once per second); a cross-spot
   arbitrage beating ``entry_threshold_bps`` is taken before (and between)
   build-up rounds: an edge must be acted on at the first fresh book showing it;
3. a re-hedge when |net delta| exceeds the tolerance max(delta_tolerance_base,
   one contract) (REBALANCING, at most once per second);
4. a cross-spot arbitrage whose net edge beats ``entry_threshold_bps``, never
   selling a venue below its inventory floor (:mod:`~strategies.delta_neutral.inventory`);
5. total spot inventory back toward its target through the cheapest spot venue,
   once it has been off by more than ``build_tolerance_fraction`` (single legs)
   for half of ``rebalance_patience_s`` (the other half is for the trade and its
   hedge), at most once per second;
6. an opportunistic rebalance: the cross-spot trade that buys on a venue
   holding less than ``rebalance_trigger_fraction`` of its target and sells on
   the other, taken when its net edge is at least ``rebalance_threshold_bps``
   (sized to the deficit);
7. a forced rebalance (paired orders crossing both spreads) only when a venue
   has been below ``min_inventory_fraction`` for ``rebalance_patience_s``, at
   most once per ``rebalance_cooldown_s``.

Times are plain integers in ms handed in by the caller (``now_ms`` etc.).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

import msgspec

from exchanges.models import BookTop, SymbolInfo, VenueId

from strategies.delta_neutral.config import DeltaNeutralConfig
from strategies.delta_neutral.context import ArbLegs, SingleLeg
from strategies.delta_neutral.inventory import sellable_base, totals_restore_order
from strategies.delta_neutral.policy import (
    PERP,
    SPOT_VENUES,
    ArbPlan,
    PlannedOrder,
    best_arb,
    delta_tolerance_base,
    edge_bps,
    hedge_order,
    size_arb,
    spot_targets_base,
)

ZERO = Decimal(0)
#: minimum spacing of build-up and re-hedge rounds (ms), whatever rebalance_cooldown_s says
FAST_COOLDOWN_MS = 1000


@dataclass(frozen=True)
class Decision:
    """``action``: ``single_leg`` (send ``order``), ``single_leg_expired``, ``build_done``,
    ``rebalance`` (go to REBALANCING; ``forced`` = include the paired spot orders),
    ``arb`` (send the two legs of ``arb``), ``restore_totals`` (send ``order``). ``reason`` is
    journal text."""

    action: str
    reason: str
    arb: ArbPlan | None = None
    order: PlannedOrder | None = None
    forced: bool = False


def deficit_venues(inventory_base: Mapping[VenueId, Decimal], targets: Mapping[VenueId, Decimal],
                   fraction: Decimal) -> list[VenueId]:
    """Spot venues holding less than ``fraction`` x their (positive) target."""
    return [v for v in SPOT_VENUES if targets.get(v, ZERO) > 0 and inventory_base.get(v, ZERO) < targets[v] * fraction]


def rebalance_arb(
    books: Mapping[VenueId, BookTop],
    infos: Mapping[VenueId, SymbolInfo],
    inventory_base: Mapping[VenueId, Decimal],
    quote_free_usdt: Mapping[VenueId, Decimal],
    config: DeltaNeutralConfig,
    sellable_base: Mapping[VenueId, Decimal] | None = None,
) -> ArbPlan | None:
    """The cross-spot trade that moves inventory toward target (buy on the venue
    below ``rebalance_trigger_fraction`` of target, sell on the other), if its net
    edge is >= ``rebalance_threshold_bps``; sized by the usual arb caps AND the
    deficit (never overshooting the target), selling at most ``sellable_base`` (the
    inventory above the floor; default: all of it). None if nothing qualifies."""
    sellable = inventory_base if sellable_base is None else sellable_base
    mids = {v: books[v].mid for v in SPOT_VENUES if v in books and books[v].bid > 0 and books[v].ask > 0}
    if len(mids) < 2:
        return None
    targets = spot_targets_base(config, mids)
    for buy_v in deficit_venues(inventory_base, targets, config.rebalance_trigger_fraction):
        sell_v = SPOT_VENUES[1] if buy_v == SPOT_VENUES[0] else SPOT_VENUES[0]
        sb, bb = books[sell_v], books[buy_v]
        e = edge_bps(sb.bid, bb.ask, infos[sell_v].taker_fee_rate, infos[buy_v].taker_fee_rate)
        if e < config.rebalance_threshold_bps:
            continue
        deficit = targets[buy_v] - inventory_base.get(buy_v, ZERO)
        qty = size_arb(sb, bb, infos[sell_v], infos[buy_v], min(sellable.get(sell_v, ZERO), deficit),
                       quote_free_usdt.get(buy_v, ZERO), config.max_order_usdt, config.arb_depth_fraction)
        if qty > 0:
            return ArbPlan(sell_v, buy_v, qty, sb.bid, bb.ask, e)
    return None


def low_inventory(inventory_base: Mapping[VenueId, Decimal], books: Mapping[VenueId, BookTop],
                  config: DeltaNeutralConfig) -> bool:
    """True when a spot venue holds less than ``min_inventory_fraction`` of its target."""
    mids = {v: books[v].mid for v in SPOT_VENUES if v in books and books[v].bid > 0 and books[v].ask > 0}
    if len(mids) < 2:
        return False
    return bool(deficit_venues(inventory_base, spot_targets_base(config, mids), config.min_inventory_fraction))


def _arb_decision(arb: ArbPlan) -> Decision:
    return Decision("arb", f"arb sell {arb.sell_venue.value} buy {arb.buy_venue.value} {arb.qty_base} "
                           f"@ {arb.edge_bps:.1f} bps net", arb=arb)


def decide(
    *,
    books: Mapping[VenueId, BookTop],
    infos: Mapping[VenueId, SymbolInfo],
    inventory_base: Mapping[VenueId, Decimal],
    quote_free_usdt: Mapping[VenueId, Decimal],
    net_delta_base: Decimal,
    config: DeltaNeutralConfig,
    building: bool,
    build_orders: list[PlannedOrder] | None,
    single_leg_order: PlannedOrder | None,
    single_leg_expired: bool,
    now_ms: int,
    last_rebalance_ms: int,
    low_since_ms: int,
    floors_base: Mapping[VenueId, Decimal] | None = None,
    totals_off_since_ms: int = 0,
    totals_targets_base: Mapping[VenueId, Decimal] | None = None,
) -> Decision | None:
    """The next thing to do (see the module docstring for the priorities), or None.

    ``books`` must be fresh (the caller checks staleness first). ``build_orders``
    is the build-up plan (only read while ``building``). ``low_since_ms`` is when
    a venue first dropped below ``min_inventory_fraction`` (0 = it is not).
    ``floors_base``: inventory floors per venue (None: no floor);
    ``totals_off_since_ms``: since when total spot inventory is beyond tolerance of
    ``totals_targets_base`` (0 = it is not; default targets: those at the books' mids)."""
    sellable = sellable_base(inventory_base, floors_base) if floors_base is not None else dict(inventory_base)
    if single_leg_expired:
        return Decision("single_leg_expired", "single leg: timed out, left hedged on the perp")
    if single_leg_order is not None:
        o = single_leg_order
        return Decision("single_leg", f"single leg {config.single_leg_policy}: {o.side.value} {o.qty} "
                                      f"on {o.venue.value}", order=o)
    since_rebalance_ms = now_ms - last_rebalance_ms
    if building:
        if not build_orders:
            return Decision("build_done", "build-up complete")
        # An edge is fleeting, the build-up is not: take it first, and between build rounds
        # (the cross-spot trade leaves the total spot inventory and the delta unchanged).
        arb = best_arb(books, infos, sellable, quote_free_usdt, config)
        if arb is not None:
            return _arb_decision(arb)
        if since_rebalance_ms >= min(FAST_COOLDOWN_MS, int(config.rebalance_cooldown_s * 1000)):
            return Decision("rebalance", "build-up")
        return None
    perp_info, perp_book = infos.get(PERP), books.get(PERP)
    if perp_info is not None and perp_book is not None and abs(net_delta_base) > delta_tolerance_base(config, perp_info):
        if since_rebalance_ms >= min(FAST_COOLDOWN_MS, int(config.rebalance_cooldown_s * 1000)):
            if hedge_order(net_delta_base, perp_book, perp_info, config.hedge_slippage_bps) is not None:
                return Decision("rebalance", f"re-hedge: delta {net_delta_base} beyond tolerance")
    arb = best_arb(books, infos, sellable, quote_free_usdt, config)
    if arb is not None:
        return _arb_decision(arb)
    if (totals_off_since_ms and now_ms - totals_off_since_ms >= config.rebalance_patience_s * 500
            and since_rebalance_ms >= FAST_COOLDOWN_MS):
        order = totals_restore_order(books, infos, inventory_base, floors_base or {}, quote_free_usdt, config,
                                     totals_targets_base)
        if order is not None:
            return Decision("restore_totals", f"restore total spot inventory: {order.side.value} {order.qty} on "
                                              f"{order.venue.value} (the cheapest venue)", order=order)
    arb = rebalance_arb(books, infos, inventory_base, quote_free_usdt, config, sellable)
    if arb is not None:
        return Decision("arb", f"rebalance via arb: sell {arb.sell_venue.value} buy {arb.buy_venue.value} "
                               f"{arb.qty_base} @ {arb.edge_bps:.1f} bps net", arb=arb)
    if (low_since_ms and now_ms - low_since_ms >= config.rebalance_patience_s * 1000
            and since_rebalance_ms >= config.rebalance_cooldown_s * 1000):
        return Decision("rebalance", f"forced rebalance: inventory below {config.min_inventory_fraction} of target "
                                     f"for {config.rebalance_patience_s:.0f} s", forced=True)
    return None


def single_leg_after_settle(single_leg: SingleLeg | None, fixed_base: Decimal, arb: ArbLegs | None,
                            arb_filled: tuple[Decimal, Decimal] | None, config: DeltaNeutralConfig,
                            now_ms: int) -> tuple[SingleLeg | None, str | None]:
    """The one-sided arb to fix after a batch settled, and a note for the operator (or None).

    ``fixed_base``: signed base filled by this batch's single-leg orders (a buy adds);
    ``arb``/``arb_filled``: the batch's arb legs and their (sold, bought) filled quantities.
    With policy ``hedge`` a single leg is left to the per-fill perp hedge; ``complete``/``reverse``
    track the imbalance until ``single_leg_timeout_s``."""
    if single_leg is not None:
        imbalance = single_leg.imbalance_base + fixed_base
        single_leg = None if imbalance == 0 else msgspec.structs.replace(single_leg, imbalance_base=imbalance)
    if arb is None or arb_filled is None:
        return single_leg, None
    sold, bought = arb_filled
    if sold == bought:
        return single_leg, None
    note = (f"single leg: sold {sold} on {arb.sell_venue.value}, bought {bought} on {arb.buy_venue.value}; "
            f"policy {config.single_leg_policy}")
    if config.single_leg_policy != "hedge":
        single_leg = SingleLeg(sell_venue=arb.sell_venue, buy_venue=arb.buy_venue, sell_price=arb.sell_price,
                               buy_price=arb.buy_price, imbalance_base=bought - sold,
                               deadline_ms=now_ms + int(config.single_leg_timeout_s * 1000))
    return single_leg, note
