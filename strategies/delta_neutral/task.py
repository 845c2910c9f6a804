"""The 3-venue delta-neutral task: state handlers (DESIGN.md section 5).

Inventory on Gate spot and MEXC spot, hedged by a short Gate USDT perpetual.
Handlers gather inputs (books, ledger, balances), call the pure functions of
:mod:`strategies.delta_neutral.policy`, journal intents and perform I/O through
:class:`~strategies.delta_neutral.execution.OrderFlow`.

Hot path: a venue book event sets ``wake``; MONITORING runs a pure check and
signals ANALYZING only when there is something to do; ANALYZING plans both arb
legs (intents committed with the ``trade`` transition); MANAGING_ORDERS sends
them concurrently as IOC limits at the quoted prices.

Resume: after a restart the first step of any state (except IDLE) reconnects
and reconciles: unresolved intents are settled by ``get_order`` (never
re-sent), missing fills fetched, open orders carrying our prefix found, and
venue balances/positions checked against the ledger; a venue holding less than
the task owns halts the task with a readable reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from decimal import Decimal
from typing import Any

import msgspec

from exchanges import clock
from exchanges.models import Side, SymbolInfo, VenueId
from exchanges.venue import VenueError
from state.records import IntentStatus
from strategies.base import BaseContext, Finish, Next, StrategyTask

from strategies.delta_neutral import policy
from strategies.delta_neutral.config import DeltaNeutralConfig
from strategies.delta_neutral.execution import OrderFlow
from strategies.delta_neutral.sync import ALL_VENUES, VenueSync
from strategies.delta_neutral.ledger import Ledger
from strategies.delta_neutral.policy import PERP, SPOT_VENUES

log = logging.getLogger(__name__)
ZERO = Decimal(0)
REANALYZE_S = 2.0  # MONITORING re-checks even without a book event
MAX_HEDGE_ROUNDS = 5  # per WAITING_ORDERS / COMPLETING visit
MAX_UNWIND_ROUNDS = 10


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
    swept: bool = False
    summary: str = ""


class DeltaNeutralTask(VenueSync, OrderFlow, StrategyTask):
    """``strategy_name = "delta_neutral"``; config :class:`DeltaNeutralConfig`."""

    strategy_name = "delta_neutral"
    config_type = DeltaNeutralConfig
    context_type = DeltaNeutralContext

    config: DeltaNeutralConfig
    context: DeltaNeutralContext

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.symbol = self.config.symbol_obj
        self.ledger = Ledger(base=self.symbol.base, quote=self.symbol.quote)
        self.infos: dict[VenueId, SymbolInfo] = {}
        self._events: deque = deque()
        self._sendable: set[str] = set()
        self._in_flight: set[str] = set()
        self._booked_qty: dict[str, Decimal] = {}
        self._balances: dict[VenueId, dict[str, Decimal]] = {}
        self._quote_free: dict[VenueId, Decimal] = {}
        self._position_contracts = ZERO
        self._funding_rate: Decimal | None = None
        self._last_funding_poll_ms = 0
        self._book_events = 0
        self._seen_book_events = 0
        self._connected = False
        self._reconciled = False
        self._reconcile_queried = False
        self._listening = False

    # ---- lifecycle hooks --------------------------------------------------------

    async def load(self) -> None:
        await super().load()
        self.ledger = Ledger.rebuild(self.symbol.base, self.fills, [f.amount_usdt for f in self.funding],
                                     self.symbol.quote)
        self._rebuild_booked()

    async def on_start(self, resumed: bool) -> None:
        self._listen()

    async def on_shutdown(self) -> None:
        for v in self.venues.values():
            v.remove_listener(self._on_event)
        self._listening = False

    def _listen(self) -> None:
        if not self._listening:
            for v in self.venues.values():
                v.add_listener(self._on_event)
            self._listening = True

    async def _ensure_connected(self) -> bool:
        if self._connected:
            return True
        self._listen()

        async def one(vid: VenueId) -> None:
            venue = self.venues[vid]
            await venue.start()
            self.infos[vid] = await venue.symbol_info(self.symbol)
            await venue.watch_book(self.symbol)
            await venue.watch_user(self.symbol)

        try:
            await asyncio.gather(*(one(v) for v in ALL_VENUES))
        except VenueError as exc:
            self.set_error(f"connect: {type(exc).__name__}: {exc}")
            return False
        self._connected = True
        return True

    async def _prepare(self) -> bool:
        """Connected and reconciled (once per process); False = stay and retry."""
        if not await self._ensure_connected():
            return False
        if not self._reconciled:
            return await self._reconcile()
        return True

    # ---- inputs ----------------------------------------------------------------------

    def _books(self) -> dict:
        return {v: b for v in ALL_VENUES if (b := self.venues[v].book_top(self.symbol)) is not None}

    def _all_fresh(self) -> bool:
        return all(self._book_fresh(v) for v in ALL_VENUES)

    def _mids(self) -> dict[VenueId, Decimal]:
        return {v: b.mid for v, b in self._books().items() if b.bid > 0 and b.ask > 0}

    def _sell_inventory(self) -> dict[VenueId, Decimal]:
        """Task-owned spot inventory, never more than the venue reports holding."""
        base = self.symbol.base.upper()
        out = {}
        for v, owned in self.ledger.spot_inventory().items():
            held = self._balances.get(v, {}).get(base)
            out[v] = min(owned, held) if held is not None else owned
        return out

    def _perp_contracts(self) -> Decimal:
        mult = self.infos[PERP].contract_multiplier
        return self.ledger.inventory_base(PERP) / mult

    def _in_flight_perp_base(self) -> Decimal:
        mult = self.infos[PERP].contract_multiplier
        total = ZERO
        for i in self.intents.values():
            if i.venue == PERP and not i.status.is_final and i.status is not IntentStatus.NOT_SENT:
                total += (i.qty - i.filled_qty) * mult * i.side.sign
        return total

    def _exit_reason(self) -> str | None:
        mids = self._mids()
        spot = [mids[v] for v in SPOT_VENUES if v in mids]
        return policy.exit_reason(
            self.config, stop_requested=False,
            elapsed_s=(clock.now_ms() - self.context.started_ms) / 1000.0 if self.context.started_ms else 0.0,
            net_pnl_usdt=self.ledger.net_pnl_usdt(mids), funding_rate=self._funding_rate,
            spot_mid=sum(spot, ZERO) / len(spot) if spot else None, perp_mid=mids.get(PERP))

    def _rebalance_plan(self, building: bool) -> list[policy.PlannedOrder]:
        return policy.rebalance_plan(self._books(), self.infos, self._sell_inventory(), self._quote_free,
                                     self._perp_contracts(), self.config, building)

    def _wants_analysis(self) -> bool:
        """Pure check (no I/O) run on book events in MONITORING."""
        if not self._all_fresh():
            return False
        if self.context.building or self.context.single_leg is not None:
            return True
        tol = policy.delta_tolerance_base(self.config, self.infos[PERP])
        if abs(self.ledger.net_delta_base()) > tol:
            return True
        return policy.best_arb(self._books(), self.infos, self._sell_inventory(), self._quote_free,
                               self.config) is not None

    # ---- hedging ----------------------------------------------------------------------

    async def _hedge_if_needed(self, reduce_only: bool = False) -> bool:
        """Per-fill hedge: if net delta (incl. in-flight perp orders) is at least one
        contract, journal a perp IOC (checkpoint) and send it. True if one was sent."""
        if self.context.hedge_rounds >= MAX_HEDGE_ROUNDS or not self._book_fresh(PERP):
            return False
        delta = self.ledger.net_delta_base() + self._in_flight_perp_base()
        book = self.venues[PERP].book_top(self.symbol)
        order = policy.hedge_order(delta, book, self.infos[PERP], self.config.hedge_slippage_bps,
                                   self._perp_contracts(), reduce_only=reduce_only,
                                   leg="unwind_perp" if reduce_only else "hedge")
        if order is None:
            return False
        intent = self._plan_intent(order)
        self.context.hedge_rounds += 1
        await self.checkpoint(f"hedge {order.side.value} {order.qty} contracts")  # intent before effect
        await self._send(intent)
        self._drain_events()
        return True

    # ---- state handlers -------------------------------------------------------------

    async def on_idle(self) -> Next | None:
        # (re)starting, e.g. after a pause: SYNCING reconciles with the venues again
        self._reconciled = False
        self._reconcile_queried = False
        return self.go("start", "started")

    async def on_syncing(self) -> Next | None:
        ctx = self.context
        if ctx.stop_requested:  # nothing of ours is in flight before SYNCING finishes
            return self.go("stop", f"stop requested while syncing ({ctx.stop_reason or 'user'})")
        if ctx.pause_requested:
            ctx.pause_requested = False
            return self.go("pause", "pause requested while syncing")
        if not await self._prepare():
            return None
        if self.context.halt_reason:
            return self.go("exit", f"halt: {self.context.halt_reason}")
        if self.context.started_ms == 0:
            self.context.started_ms = clock.now_ms()
        if self._all_fresh():
            self._seen_book_events = self._book_events
            return self.go("synced", "venues reconciled, books fresh")
        if self.time_in_state_s() > self.config.stale_halt_s:
            self.context.halt_reason = f"no fresh books within {self.config.stale_halt_s:.0f} s of syncing"
            return self.go("exit", f"halt: {self.context.halt_reason}")
        return None

    async def on_analyzing(self) -> Next | None:
        if not await self._prepare():
            return None
        self._drain_events()
        ctx = self.context
        self._seen_book_events = self._book_events
        if ctx.halt_reason:
            return self.go("exit", f"halt: {ctx.halt_reason}")
        reason = self._exit_reason()
        if reason:
            ctx.exit_reason = reason
            return self.go("exit", reason)
        if not self._all_fresh():
            return self.go("idle", "books stale or missing: not trading")
        now = clock.now_ms()
        if ctx.single_leg is not None:
            nxt = self._plan_single_leg(now)
            if nxt is not None:
                return nxt
        if ctx.building and not any(o.leg == "build" for o in self._rebalance_plan(True)):
            ctx.building = False
        plan = self._rebalance_plan(ctx.building)
        # the build-up repeats quickly (capped at 1 s); later restores wait the full cooldown
        cooldown_s = min(self.config.rebalance_cooldown_s, 1.0) if ctx.building else self.config.rebalance_cooldown_s
        if plan and now - ctx.last_rebalance_ms >= cooldown_s * 1000:
            return self.go("rebalance", "build-up" if ctx.building else ", ".join(sorted({o.leg for o in plan})))
        if not ctx.building:
            arb = policy.best_arb(self._books(), self.infos, self._sell_inventory(), self._quote_free, self.config)
            if arb is not None:
                sell = self._plan_intent(policy.PlannedOrder(arb.sell_venue, Side.SELL, arb.qty_base,
                                                             arb.sell_price, "arb_sell"))
                buy = self._plan_intent(policy.PlannedOrder(arb.buy_venue, Side.BUY, arb.qty_base,
                                                            arb.buy_price, "arb_buy"))
                ctx.batch = [sell.client_order_id, buy.client_order_id]
                ctx.arb = ArbLegs(sell_cid=sell.client_order_id, buy_cid=buy.client_order_id,
                                  sell_venue=arb.sell_venue, buy_venue=arb.buy_venue,
                                  sell_price=arb.sell_price, buy_price=arb.buy_price)
                return self.go("trade", f"arb sell {arb.sell_venue.value} buy {arb.buy_venue.value} "
                                        f"{arb.qty_base} @ {arb.edge_bps:.1f} bps net")
        return self.go("idle", "no edge")

    def _plan_single_leg(self, now: int) -> Next | None:
        sl = self.context.single_leg
        if now > sl.deadline_ms:
            self.context.single_leg = None
            self.set_error(f"single leg: {sl.imbalance_base} {self.symbol.base} left hedged on the perp "
                           f"after {self.config.single_leg_timeout_s:.0f} s")
            return None
        order = policy.single_leg_order(self.config.single_leg_policy, sl.sell_venue, sl.buy_venue, ZERO,
                                        sl.imbalance_base, sl.sell_price, sl.buy_price, self._books(), self.infos,
                                        self._sell_inventory(), self.config.single_leg_price_limit_bps)
        if order is None:
            return None
        intent = self._plan_intent(order)
        self.context.batch = [intent.client_order_id]
        return self.go("trade", f"single leg {self.config.single_leg_policy}: {order.side.value} {order.qty} "
                                f"on {order.venue.value}")

    async def on_rebalancing(self) -> Next | None:
        if not await self._prepare():
            return None
        ctx = self.context
        ctx.last_rebalance_ms = clock.now_ms()
        plan = [o for o in self._rebalance_plan(ctx.building) if self._book_fresh(o.venue)]
        if not plan:
            return self.go("nothing_to_do", "no valid rebalance order")
        ctx.batch = [self._plan_intent(o).client_order_id for o in plan]
        return self.go("orders_planned", "; ".join(f"{o.leg} {o.side.value} {o.qty} {o.venue.value}" for o in plan))

    async def on_managing_orders(self) -> Next | None:
        if not await self._prepare():
            return None
        ctx = self.context
        batch = [self.intents[c] for c in ctx.batch if c in self.intents]
        if ctx.halt_reason:
            for i in batch:
                if i.client_order_id in self._sendable:
                    self._sendable.discard(i.client_order_id)
                    self._mark(i, IntentStatus.NOT_SENT, "task halting: not sent")
        else:
            await self._send_all(batch)
        ctx.hedge_rounds = 0
        return self.go("orders_sent", ", ".join(f"{i.leg}:{i.status.value}" for i in batch) or "nothing to send")

    async def on_waiting_orders(self) -> Next | None:
        if not await self._prepare():
            return None
        ctx = self.context
        settled = await self._settle_pass(cancel_all=bool(ctx.halt_reason or ctx.stop_requested))
        if await self._hedge_if_needed():
            settled = await self._settle_pass(cancel_all=False)
        if not settled:
            return None
        self._after_settle()
        ctx.batch = []
        return self.go("orders_settled", f"delta {self.ledger.net_delta_base()} {self.symbol.base}")

    def _after_settle(self) -> None:
        """Single-leg bookkeeping once the batch is final."""
        ctx = self.context
        for cid in ctx.batch:
            i = self.intents.get(cid)
            if i is not None and i.leg.startswith("single_leg") and ctx.single_leg is not None:
                ctx.single_leg.imbalance_base += i.filled_qty * i.side.sign  # a buy adds, a sell removes
        if ctx.single_leg is not None and ctx.single_leg.imbalance_base == 0:
            ctx.single_leg = None
        arb, ctx.arb = ctx.arb, None
        if arb is None:
            return
        sold = self.intents[arb.sell_cid].filled_qty
        bought = self.intents[arb.buy_cid].filled_qty
        if sold != bought:
            self.set_error(f"single leg: sold {sold} bought {bought}; policy {self.config.single_leg_policy}")
            if self.config.single_leg_policy != "hedge":
                ctx.single_leg = SingleLeg(sell_venue=arb.sell_venue, buy_venue=arb.buy_venue,
                                           sell_price=arb.sell_price, buy_price=arb.buy_price,
                                           imbalance_base=bought - sold,
                                           deadline_ms=clock.now_ms() + int(self.config.single_leg_timeout_s * 1000))

    async def on_monitoring(self) -> Next | None:
        if not await self._prepare():
            return None
        ctx = self.context
        booked = self._drain_events()
        if ctx.halt_reason:
            return self.go("exit", f"halt: {ctx.halt_reason}")
        now = clock.now_ms()
        if self._all_fresh():
            ctx.stale_since_ms = 0
        else:
            ctx.stale_since_ms = ctx.stale_since_ms or now
            if now - ctx.stale_since_ms > self.config.stale_halt_s * 1000:
                ctx.halt_reason = f"books stale for more than {self.config.stale_halt_s:.0f} s"
                return self.go("exit", f"halt: {ctx.halt_reason}")
        reason = self._exit_reason()
        if reason:
            ctx.exit_reason = reason
            return self.go("exit", reason)
        new_books = self._book_events != self._seen_book_events
        self._seen_book_events = self._book_events
        if (new_books or booked) and self._wants_analysis():
            return self.go("signal", "book update")
        if self.time_in_state_s() >= REANALYZE_S:
            await self._poll_funding()
            return self.go("signal", "timer")
        return None

    async def on_completing(self) -> Next | None:
        if not await self._prepare():
            return None
        ctx = self.context
        if not ctx.swept:
            if not await self._sweep_prefixed_orders():
                return None
            ctx.swept = True
        if not await self._settle_pass(cancel_all=True):
            return None
        if ctx.halt_reason:
            return self.go("completed", "halted: orders canceled, positions left for the operator")
        flatten = ctx.flatten_requested or (self.config.flatten_on_exit and ctx.stop_reason != "user")
        if ctx.unwind_rounds < MAX_UNWIND_ROUNDS and self.time_in_state_s() < self.config.stale_halt_s:
            if flatten:
                ctx.hedge_rounds = 0
                wanted = policy.unwind_spot_orders(self._books(), self.infos, self._sell_inventory(),
                                                   self.config.hedge_slippage_bps)
                if wanted:
                    orders = [o for o in wanted if self._book_fresh(o.venue)]
                    if not orders:
                        return None  # books stale: wait for fresh ones (never trade on stale data)
                    intents = [self._plan_intent(o) for o in orders]
                    ctx.unwind_rounds += 1
                    await self.checkpoint("unwind spot")  # intent before effect
                    await self._send_all(intents)
                    return None
                if await self._hedge_if_needed(reduce_only=True):
                    ctx.unwind_rounds += 1
                    return None
            else:
                ctx.hedge_rounds = 0
                tol = policy.delta_tolerance_base(self.config, self.infos[PERP])
                if abs(self.ledger.net_delta_base()) > tol and await self._hedge_if_needed():
                    ctx.unwind_rounds += 1
                    return None
        return self.go("completed", f"flattened={flatten}; delta {self.ledger.net_delta_base()} {self.symbol.base}")

    async def on_finalizing(self) -> Finish | None:
        ctx = self.context
        if await self._prepare():
            await self._settle_pass(cancel_all=False)
        totals = self.ledger.totals(self._mids())
        ctx.summary = (f"net {Decimal(totals['net_pnl_usdt']):.4f} USDT (realized {Decimal(totals['realized_pnl_usdt']):.4f}, "
                       f"fees {Decimal(totals['fees_usdt']):.4f}, funding {Decimal(totals['funding_usdt']):.4f}), "
                       f"{totals['trades']} fills, delta {totals['net_delta_base']} {self.symbol.base}")
        reason = ctx.halt_reason or ctx.exit_reason or ctx.stop_reason or "done"
        log.info("task %s finished: %s; %s", self.task_id, reason, ctx.summary)
        return self.finish(self.planned_end_status(), f"{reason}; {ctx.summary}")

    # ---- reporting ------------------------------------------------------------------

    def pnl(self) -> dict[str, str]:
        return self.ledger.totals(self._mids())

    def live_view(self) -> dict[str, Any]:
        """Dashboard telemetry: spreads per venue pair (bps), inventory, perp position,
        delta, our open orders, book age per venue (ms), last error."""
        books, now = self._books(), clock.now_ms()
        spreads = {}
        for a in SPOT_VENUES:
            for b in SPOT_VENUES:
                if a != b and a in books and b in books and books[b].ask > 0:
                    spreads[f"sell_{a.value}_buy_{b.value}_bps"] = str(
                        round(policy.gross_spread_bps(books[a].bid, books[b].ask), 2))
        return {
            "spreads_bps": spreads,
            "inventory_base": {v.value: str(q) for v, q in self.ledger.spot_inventory().items()},
            "perp_base": str(self.ledger.inventory_base(PERP)),
            "net_delta_base": str(self.ledger.net_delta_base()),
            "open_orders": [
                {"id": i.client_order_id, "venue": i.venue.value, "side": i.side.value, "qty": str(i.qty),
                 "price": str(i.price), "status": i.status.value, "leg": i.leg}
                for i in self.intents.values() if not i.status.is_final],
            "book_age_ms": {v.value: b.age_ms(now) for v, b in books.items()},
            "building": self.context.building,
            "last_error": self.last_error,
        }

