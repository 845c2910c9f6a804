"""Sending the delta-neutral task's orders: planned intents out through the order manager
(keeping the streak of unknown outcomes that halts the task), and the per-fill perp hedge.

A part of its own (:class:`TradeExecutor`), built from the task's order manager, market view,
ledger, decision inputs, venue rules, config and context; ``checkpoint`` commits the task's
queued intents (invariant 1: intent before effect) and ``halt`` records a halt reason.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from exchanges.models import SymbolInfo, VenueId
from state.records import OrderIntent
from strategies.execution.market import MarketView
from strategies.execution.orders import OrderManager, SendOutcome

from strategies.delta_neutral import policy
from strategies.delta_neutral.config import DeltaNeutralConfig
from strategies.delta_neutral.context import DeltaNeutralContext
from strategies.delta_neutral.inputs import DecisionInputs
from strategies.delta_neutral.ledger import Ledger
from strategies.delta_neutral.policy import PERP

#: consecutive OutcomeUnknown sends before the task halts (docs/design.md section 5)
MAX_UNKNOWN_STREAK = 3
MAX_HEDGE_ROUNDS = 5  # per WAITING_ORDERS / COMPLETING visit


class TradeExecutor:
    """Plans and sends the task's orders (see module docstring)."""

    def __init__(self, *, orders: OrderManager, market: MarketView, ledger: Ledger, inputs: DecisionInputs,
                 infos: Mapping[VenueId, SymbolInfo], config: DeltaNeutralConfig, context: DeltaNeutralContext,
                 checkpoint: Callable[[str], Awaitable[None]], halt: Callable[[str], None]) -> None:
        self.orders = orders
        self.market = market
        self.ledger = ledger
        self.inputs = inputs
        self.infos = infos
        self.config = config
        self.context = context
        self._checkpoint = checkpoint
        self._halt = halt

    def plan(self, planned: policy.PlannedOrder) -> OrderIntent:
        """Journal ``planned`` as an intent of this process (sent once committed)."""
        return self.orders.plan(planned.venue, planned.side, planned.qty, planned.price, planned.leg,
                                reduce_only=planned.reduce_only)

    async def send(self, intents: list[OrderIntent]) -> None:
        """Send committed intents concurrently; 3 unknown outcomes in a row halt the task."""
        ctx = self.context
        for intent, outcome in zip(intents, await self.orders.send_all(intents)):
            if outcome is SendOutcome.UNKNOWN:
                ctx.unknown_streak += 1
                if ctx.unknown_streak >= MAX_UNKNOWN_STREAK:
                    self._halt(f"{ctx.unknown_streak} consecutive order sends with unknown outcome "
                               f"(last {intent.venue.value} {intent.client_order_id})")
            elif outcome is SendOutcome.SENT:
                ctx.unknown_streak = 0

    async def hedge_if_needed(self, reduce_only: bool = False) -> bool:
        """Per-fill hedge: if net delta (with perp quantity in flight, or filled but not booked
        yet) is beyond tolerance, journal a perp IOC, commit it and send it. True if one was sent.
        With ``reduce_only`` (flattening) it only shrinks the perp position."""
        ctx = self.context
        if ctx.hedge_rounds >= MAX_HEDGE_ROUNDS or not self.market.fresh(PERP):
            return False
        perp = self.infos[PERP]
        delta = self.ledger.net_delta_base() + self.orders.exposure(PERP) * perp.contract_multiplier
        if not reduce_only and abs(delta) <= policy.delta_tolerance_base(self.config, perp):
            return False  # within tolerance: re-hedging would only pay fees
        book = self.market.book(PERP)
        if book is None:
            return False
        order = policy.hedge_order(delta, book, perp, self.config.hedge_slippage_bps, self.inputs.perp_contracts(),
                                   reduce_only=reduce_only, leg="unwind_perp" if reduce_only else "hedge")
        if order is None:
            return False
        intent = self.plan(order)
        ctx.hedge_rounds += 1
        await self._checkpoint(f"hedge {order.side.value} {order.qty} contracts")  # intent before effect
        await self.send([intent])
        return True


__all__ = ["MAX_HEDGE_ROUNDS", "MAX_UNKNOWN_STREAK", "TradeExecutor"]
