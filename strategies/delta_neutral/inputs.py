"""What the delta-neutral task decides on, gathered from its parts: books minus our own takes
(market view), the task-owned inventory capped by what the venues report (ledger, reconciler),
perp contracts, exit reasons, the rebalance plan and the pure decision of
:func:`strategies.delta_neutral.decide.decide`.

A part of its own (:class:`DecisionInputs`): it reads the market view, ledger, reconciler,
venue rules, funding book and config it is built with, and writes only the checkpointed
``context.low_since_ms``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from exchanges import clock
from exchanges.models import BookTop, SymbolInfo, VenueId
from strategies.execution.market import MarketView
from strategies.execution.reconcile import Reconciler

from strategies.delta_neutral import decide, inventory, policy
from strategies.delta_neutral.config import DeltaNeutralConfig
from strategies.delta_neutral.context import DeltaNeutralContext
from strategies.delta_neutral.funding import FundingBook
from strategies.delta_neutral.ledger import Ledger
from strategies.delta_neutral.policy import PERP, SPOT_VENUES

ZERO = Decimal(0)


class DecisionInputs:
    """Inputs of the task's decisions (see module docstring)."""

    def __init__(self, *, config: DeltaNeutralConfig, context: DeltaNeutralContext, market: MarketView,
                 ledger: Ledger, reconciler: Reconciler, infos: Mapping[VenueId, SymbolInfo],
                 funding: FundingBook) -> None:
        self.config = config
        self.context = context
        self.market = market
        self.ledger = ledger
        self.reconciler = reconciler
        self.infos = infos
        self.funding = funding

    def books(self) -> dict[VenueId, BookTop]:
        return self.market.books()

    def sell_inventory(self) -> dict[VenueId, Decimal]:
        """Task-owned spot inventory, never more than the venue reports holding."""
        base = self.market.symbol.base.upper()
        out = {}
        for v, owned in self.ledger.spot_inventory().items():
            held = self.reconciler.balances.get(v, {}).get(base)
            out[v] = min(owned, held) if held is not None else owned
        return out

    def perp_contracts(self) -> Decimal:
        """The task's signed perp position in contracts."""
        return self.ledger.inventory_base(PERP) / self.infos[PERP].contract_multiplier

    def exit_reason(self) -> str | None:
        mids = self.market.mids()
        spot = [mids[v] for v in SPOT_VENUES if v in mids]
        started = self.context.started_ms
        return policy.exit_reason(
            self.config, stop_requested=False,
            elapsed_s=(clock.now_ms() - started) / 1000.0 if started else 0.0,
            net_pnl_usdt=self.ledger.net_pnl_usdt(mids), funding_rate=self.funding.rate,
            spot_mid=sum(spot, ZERO) / len(spot) if spot else None, perp_mid=mids.get(PERP))

    def rebalance_plan(self, building: bool, include_pair: bool = False) -> list[policy.PlannedOrder]:
        return policy.rebalance_plan(self.books(), self.infos, self.sell_inventory(), self.reconciler.quote_free,
                                     self.perp_contracts(), self.config, building, include_pair)

    def floors(self) -> dict[VenueId, Decimal]:
        """Inventory floor (base) per spot venue (:func:`inventory.inventory_floors`)."""
        targets = policy.spot_targets_base(self.config, self.market.mids())
        return inventory.inventory_floors(self.config, targets, self.context.build_targets_base)

    def decision(self, now: int) -> decide.Decision | None:
        """Gather inputs and call :func:`decide.decide` (books must be fresh). Tracks since when a
        venue is below ``min_inventory_fraction`` (``context.low_since_ms``) and since when total
        spot inventory is beyond tolerance (``context.totals_off_since_ms``)."""
        ctx = self.context
        books, inv = self.books(), self.sell_inventory()
        sl_order, sl_expired = None, False
        if ctx.single_leg is not None:
            sl = ctx.single_leg
            if now > sl.deadline_ms:
                sl_expired = True
            else:
                sl_order = policy.single_leg_order(
                    self.config.single_leg_policy, sl.sell_venue, sl.buy_venue, ZERO, sl.imbalance_base,
                    sl.sell_price, sl.buy_price, books, self.infos, inv, self.config.single_leg_price_limit_bps)
        build_orders = [o for o in self.rebalance_plan(True) if o.leg == "build"] if ctx.building else None
        if decide.low_inventory(inv, books, self.config):
            ctx.low_since_ms = ctx.low_since_ms or now
        else:
            ctx.low_since_ms = 0
        mids = self.market.mids()
        targets = policy.spot_targets_base(self.config, mids)
        totals = inventory.totals_targets_base(self.config, mids, ctx.build_targets_base)
        off = not ctx.building and inventory.totals_deviation_base(inv, totals, self.config) != 0
        ctx.totals_off_since_ms = (ctx.totals_off_since_ms or now) if off else 0
        return decide.decide(
            books=books, infos=self.infos, inventory_base=inv, quote_free_usdt=self.reconciler.quote_free,
            net_delta_base=self.ledger.net_delta_base(), config=self.config, building=ctx.building,
            build_orders=build_orders, single_leg_order=sl_order, single_leg_expired=sl_expired, now_ms=now,
            last_rebalance_ms=ctx.last_rebalance_ms, low_since_ms=ctx.low_since_ms,
            floors_base=inventory.inventory_floors(self.config, targets, ctx.build_targets_base),
            totals_off_since_ms=ctx.totals_off_since_ms, totals_targets_base=totals)


__all__ = ["DecisionInputs"]
