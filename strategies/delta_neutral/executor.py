"""Sending the delta-neutral task's orders: planned intents out through the order manager
(keeping the streak of unknown outcomes that halts the task), and the per-fill perp hedge.

A part of its own (:class:`TradeExecutor`), built from the task's order manager, market view,
ledger, decision inputs, venue rules, config and context; ``checkpoint`` commits the task's
queued intents (invariant 1: intent before effect) and ``halt`` records a halt reason.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal

from exchanges.models import Side, SymbolInfo, VenueId
from state.records import IntentStatus, OrderIntent
from strategies.execution.market import MarketView, info_age_ms
from strategies.execution.orders import OrderManager, SendOutcome

from strategies.delta_neutral import legs, policy
from strategies.delta_neutral.config import DeltaNeutralConfig
from strategies.delta_neutral.context import ArbLegs, DeltaNeutralContext
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
                                reduce_only=planned.reduce_only, tif=planned.tif)

    def plan_arb(self, arb: policy.ArbPlan, now_ms: int, buy_quote_free_usdt: Decimal) -> tuple[ArbLegs, str] | None:
        """Journal the two legs of ``arb`` (:func:`legs.plan_arb_legs`: leg order from the books'
        information ages and the quoted quantities after our own takes, prices and time in force
        from the config), sell then buy (consecutive client order ids). Returns the pair's context
        record and a journal note on the leg order, or None when the size no longer fits."""
        books = self.market.books()
        sb, bb = books[arb.sell_venue], books[arb.buy_venue]
        plan = legs.plan_arb_legs(arb, legs.LegQuote(arb.sell_venue, Side.SELL, sb.bid_qty, info_age_ms(sb, now_ms)),
                                  legs.LegQuote(arb.buy_venue, Side.BUY, bb.ask_qty, info_age_ms(bb, now_ms)),
                                  self.infos, buy_quote_free_usdt, self.config)
        if plan is None:
            return None
        sell, buy = self.plan(plan.sell), self.plan(plan.buy)
        first = None if plan.first is None else buy if plan.first is Side.BUY else sell
        record = ArbLegs(sell_cid=sell.client_order_id, buy_cid=buy.client_order_id, sell_venue=arb.sell_venue,
                         buy_venue=arb.buy_venue, sell_price=arb.sell_price, buy_price=arb.buy_price,
                         first_cid=first.client_order_id if first else "", quoted_edge_bps=arb.edge_bps)
        return record, (f"{first.leg} on {first.venue.value} first (FOK)" if first else "both legs at once")

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

    async def send_legs(self, first: OrderIntent, second: OrderIntent) -> None:
        """Sequential arb legs (:mod:`~strategies.delta_neutral.legs`): send ``first`` (fill-or-kill),
        then ``second`` only once ``first`` is filled in full; otherwise ``second`` is withdrawn
        (``not_sent``, the reason naming the first leg's status) and nothing is left to hedge but
        what the first leg may have filled. The first leg leaves exactly as a lone order would."""
        await self.send([first])
        if first.status is IntentStatus.FILLED and first.filled_qty >= first.qty:
            await self.send([second])
            return
        self.orders.withdraw(second, f"not sent: first leg {first.leg} on {first.venue.value} {first.status.value}"
                                     f" (filled {first.filled_qty} of {first.qty})")

    async def wind_down(self, flatten: bool) -> bool | None:
        """One round of COMPLETING. With ``flatten``: IOC sells of the task's spot inventory, then
        a reduce-only perp order closing the short; without: a re-hedge only when |delta| is
        beyond tolerance. True: orders were sent (``context.unwind_rounds`` counted); False:
        nothing left to do; None: a book to trade on is stale, wait for a fresh one."""
        ctx = self.context
        if flatten:
            wanted = policy.unwind_spot_orders(self.market.books(), self.infos, self.inputs.sell_inventory(),
                                               self.config.hedge_slippage_bps)
            if wanted:
                orders = [o for o in wanted if self.market.fresh(o.venue)]
                if not orders:
                    return None
                intents = [self.plan(o) for o in orders]
                ctx.unwind_rounds += 1
                await self._checkpoint("unwind spot")  # intent before effect
                await self.send(intents)
                return True
            sent = await self.hedge_if_needed(reduce_only=True)
        else:
            tol = policy.delta_tolerance_base(self.config, self.infos[PERP])
            sent = abs(self.ledger.net_delta_base()) > tol and await self.hedge_if_needed()
        ctx.unwind_rounds += sent
        return sent

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
