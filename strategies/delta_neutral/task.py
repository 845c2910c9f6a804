"""The 3-venue delta-neutral task: state handlers (DESIGN.md section 5).

Inventory on Gate spot and MEXC spot, hedged by a short Gate USDT perpetual.
Handlers gather inputs (books, ledger, balances), call the pure functions of
:mod:`strategies.delta_neutral.policy`, journal intents and perform I/O through
:class:`~strategies.delta_neutral.execution.OrderFlow`.

Hot path: a venue book event sets ``wake``; MONITORING runs the pure
:func:`~strategies.delta_neutral.decide.decide` and signals ANALYZING only when
it returns a decision (or every ``reanalyze_s``); ANALYZING acts on the same
decision (arb legs: intents committed with the ``trade`` transition) and only
returns to MONITORING when nothing is left to do; MANAGING_ORDERS sends the
legs concurrently as IOC limits at the quoted prices.

SYNCING gives up after ``sync_timeout_s`` (no network, venue down): the task
ends ``halted`` with a reason naming the venue and the error. COMPLETING that
cannot reach a venue ends the same way: at once when nothing of ours is
unresolved, else after ``sync_timeout_s`` (E2E_BUGS #2).

Resume: after a restart the first step of any state (except IDLE) reconnects
and reconciles: unresolved intents are settled by ``get_order`` (never
re-sent), missing fills fetched, open orders carrying our prefix found, and
venue balances/positions checked against the ledger; a venue holding less than
the task owns halts the task with a readable reason.
"""

from __future__ import annotations

import logging
from collections import deque
from decimal import Decimal
from typing import Any

import msgspec

from exchanges import clock
from exchanges.models import Side, SymbolInfo, VenueId
from state.records import IntentStatus
from strategies.base import BaseContext, Finish, Next, StrategyTask

from strategies.delta_neutral import decide, policy
from strategies.delta_neutral.config import DeltaNeutralConfig
from strategies.delta_neutral.execution import OrderFlow
from strategies.delta_neutral.inputs import MarketInputs
from strategies.delta_neutral.sync import VenueSync
from strategies.delta_neutral.ledger import Ledger
from strategies.delta_neutral.policy import PERP, SPOT_VENUES

log = logging.getLogger(__name__)
ZERO = Decimal(0)
DECIDE_EVERY_MS = 250  # MONITORING re-decides at least this often without a book event (cooldowns, deadlines)
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
    low_since_ms: int = 0
    rebalance_forced: bool = False
    swept: bool = False
    summary: str = ""


class DeltaNeutralTask(MarketInputs, VenueSync, OrderFlow, StrategyTask):
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
        self._ready_venues: set[VenueId] = set()
        self._connect_error = ""
        self._next_connect_ms = 0
        self._loaded_ms = clock.now_ms()  # SYNCING's time budget counts from max(entering it, this)
        self._unreachable = False
        self._next_decide_ms = 0
        #: MONITORING's decision handed to ANALYZING: (decision, book event count, ms)
        self._signal_decision: tuple[decide.Decision, int, int] | None = None
        #: venue -> (book version: update id, else time; bid qty taken, ask qty taken) by our orders
        self._taken: dict[VenueId, tuple[int, Decimal, Decimal]] = {}

    # ---- lifecycle hooks --------------------------------------------------------

    async def load(self) -> None:
        await super().load()
        self.ledger = Ledger.rebuild(self.symbol.base, self.fills, [f.amount_usdt for f in self.funding],
                                     self.symbol.quote)
        self._rebuild_booked()
        for cid, intent in self.intents.items():  # final, but fills not all booked yet: still work to do
            if intent.status.is_final and self.booked_qty(cid) < intent.filled_qty:
                self.open_intent_ids[cid] = None

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

    async def _prepare(self) -> bool:
        """Connected and reconciled (once per process); False = stay and retry."""
        if not await self._ensure_connected():
            return False
        if not self._reconciled:
            return await self._reconcile()
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
        now = clock.now_ms()
        syncing_ms = now - max(self.state_entered_ms, self._loaded_ms)  # a resume gets a fresh budget
        timed_out = syncing_ms >= self.config.sync_timeout_s * 1000
        if not await self._prepare():
            if not timed_out:
                return None
            if self._connect_error:
                self._unreachable = True
                ctx.halt_reason = f"cannot reach {self._connect_error}"
            else:
                ctx.halt_reason = (f"could not reconcile with the venues within {self.config.sync_timeout_s:g} s"
                                   f"{': ' + self.last_error if self.last_error else ''}")
            return self.go("exit", f"halt: {ctx.halt_reason}")
        if self.context.halt_reason:
            return self.go("exit", f"halt: {self.context.halt_reason}")
        if self.context.started_ms == 0:
            self.context.started_ms = clock.now_ms()
        if self._all_fresh():
            self._seen_book_events = self._book_events
            return self.go("synced", "venues reconciled, books fresh")
        if syncing_ms > self.config.stale_halt_s * 1000:
            self.context.halt_reason = f"no fresh books within {self.config.stale_halt_s:.0f} s of syncing"
            return self.go("exit", f"halt: {self.context.halt_reason}")
        return None

    async def on_analyzing(self) -> Next | None:
        if not await self._prepare():
            return None
        booked = self._drain_events()
        signal, self._signal_decision = self._signal_decision, None
        ctx = self.context
        self._seen_book_events = self._book_events
        if ctx.halt_reason:
            return self.go("exit", f"halt: {ctx.halt_reason}")
        now = clock.now_ms()
        # MONITORING checked the exits and decided on these very inputs an instant ago: act on it
        # (the reaction path); after any event in between, check and decide afresh
        fresh_signal = signal is not None and not booked and signal[1] == self._book_events and now - signal[2] <= 5
        reason = None if fresh_signal else self._exit_reason()
        if reason:
            ctx.exit_reason = reason
            return self.go("exit", reason)
        if not self._all_fresh():
            return self.go("idle", "books stale or missing: not trading")
        d = signal[0] if fresh_signal else self._decision(now)
        while d is not None and d.action in ("build_done", "single_leg_expired"):
            if d.action == "build_done":
                ctx.building = False
            else:
                sl, ctx.single_leg = ctx.single_leg, None
                self.set_error(f"single leg: {sl.imbalance_base} {self.symbol.base} left hedged on the perp "
                               f"after {self.config.single_leg_timeout_s:.0f} s")
            d = self._decision(now)
        if d is None:
            return self.go("idle", "nothing to do")
        if d.action == "rebalance":
            ctx.rebalance_forced = d.forced
            return self.go("rebalance", d.reason)
        if d.action == "single_leg":
            ctx.batch = [self._plan_intent(d.order).client_order_id]
            return self.go("trade", d.reason)
        arb = d.arb
        sell = self._plan_intent(policy.PlannedOrder(arb.sell_venue, Side.SELL, arb.qty_base, arb.sell_price,
                                                     "arb_sell"))
        buy = self._plan_intent(policy.PlannedOrder(arb.buy_venue, Side.BUY, arb.qty_base, arb.buy_price, "arb_buy"))
        ctx.batch = [sell.client_order_id, buy.client_order_id]
        ctx.arb = ArbLegs(sell_cid=sell.client_order_id, buy_cid=buy.client_order_id, sell_venue=arb.sell_venue,
                          buy_venue=arb.buy_venue, sell_price=arb.sell_price, buy_price=arb.buy_price)
        return self.go("trade", d.reason)

    async def on_rebalancing(self) -> Next | None:
        if not await self._prepare():
            return None
        ctx = self.context
        ctx.last_rebalance_ms = clock.now_ms()
        plan = [o for o in self._rebalance_plan(ctx.building, ctx.rebalance_forced) if self._book_fresh(o.venue)]
        ctx.rebalance_forced = False
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
        if (new_books or booked or now >= self._next_decide_ms) and not ctx.stale_since_ms:
            self._next_decide_ms = now + DECIDE_EVERY_MS
            d = self._decision(now)
            if d is not None:
                # ANALYZING runs at once, on this decision unless an event came in between, and
                # commits the legs' intents: this bare transition shares that transaction
                # instead of costing a commit of its own (reaction path)
                self._signal_decision = (d, self._book_events, now)
                return self.go("signal", d.reason, write_behind=True)
        if self.time_in_state_s() >= self.config.reanalyze_s:
            await self._poll_funding()
            return self.go("signal", "timer")
        return None

    async def on_completing(self) -> Next | None:
        ctx = self.context
        if self._unreachable:
            return self.go("completed", "halted: venues unreachable, nothing could be canceled or unwound")
        if not await self._prepare():
            return self._give_up_unreachable()
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

    def _give_up_unreachable(self) -> Next | None:
        """COMPLETING cannot reach a venue: with nothing of ours unresolved (every order
        we ever sent has a final intent, so none of ours can be open) there is nothing
        to cancel -- end at once; with unresolved intents wait up to ``sync_timeout_s``
        for the venue. Either way the task ends ``halted`` with ``cannot reach <venue>: ...``
        (a resume settles whatever was left). None = keep waiting."""
        if not self._connect_error:
            return None  # reachable but not reconciled yet: the normal retry path
        waited_ms = clock.now_ms() - max(self.state_entered_ms, self._loaded_ms)
        unresolved = self.unresolved_intents()
        if unresolved and waited_ms < self.config.sync_timeout_s * 1000:
            return None
        self._unreachable = True
        ctx = self.context
        ctx.halt_reason = ctx.halt_reason or f"cannot reach {self._connect_error}"
        left = f"{len(unresolved)} unresolved order intent(s) left for the resume" if unresolved else "nothing of ours open"
        return self.go("completed", f"halted: {ctx.halt_reason}; {left}")

    async def on_finalizing(self) -> Finish | None:
        ctx = self.context
        if not self._unreachable and await self._prepare():
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
        """Dashboard and history telemetry (JSON-ready; decimals as strings, times in ms or s):

        * ``spreads_bps`` / ``edges_bps`` / ``entry_spread_bps``: per direction
          (``sell_<venue>_buy_<venue>_bps``) the executable gross spread, the edge net of both
          taker fees, and the gross spread at which the edge reaches ``entry_threshold_bps``
          (also given); see :func:`telemetry.spreads`.
        * ``mids``: mid price per venue.
        * ``inventory_base`` (task-owned spot base per venue), ``inventory_target_base``,
          ``inventory_pct``, ``inventory_floor_pct``, ``low_inventory`` (:func:`telemetry.inventory`).
        * ``perp_base``, ``net_delta_base``, ``delta_tolerance_base`` (once the perp rules are known).
        * ``open_orders``: our unresolved intents; ``book_age_ms`` per venue.
        * ``connection``: ``{venue: {"state": up|stale|down|reconnecting|connecting, "detail"}}``;
          ``waiting_for``: what SYNCING waits for (empty elsewhere).
        * ``started_ms``, ``uptime_s``, ``time_left_s`` (None without ``max_duration_s``).
        * ``building``, ``last_error``.
        """
        from strategies.delta_neutral import telemetry

        books, now = self._books(), clock.now_ms()
        mids = {v: b.mid for v, b in books.items() if b.bid > 0 and b.ask > 0}
        raw_books = {v: self.venues[v].book_top(self.symbol) for v in self.venues}
        conn = telemetry.connections(self.venues, getattr(self, "_ready_venues", set()),
                                     getattr(self, "_connect_error", ""), raw_books, now, self.config.max_book_age_ms)
        view: dict[str, Any] = telemetry.spreads(books, self.infos, self.config.entry_threshold_bps)
        view.update(telemetry.inventory(self.ledger.spot_inventory(), mids, self.config, self.context.building))
        view.update(telemetry.timing(started_ms=self.context.started_ms, now_ms=now,
                                     max_duration_s=self.config.max_duration_s))
        view.update({
            "entry_threshold_bps": str(self.config.entry_threshold_bps),
            "mids": {v.value: str(m) for v, m in mids.items()},
            "inventory_base": {v.value: str(q) for v, q in self.ledger.spot_inventory().items()},
            "perp_base": str(self.ledger.inventory_base(PERP)),
            "net_delta_base": str(self.ledger.net_delta_base()),
            "open_orders": [
                {"id": i.client_order_id, "venue": i.venue.value, "side": i.side.value, "qty": str(i.qty),
                 "price": str(i.price), "status": i.status.value, "leg": i.leg}
                for i in self.unresolved_intents()],
            "book_age_ms": {v.value: b.age_ms(now) for v, b in books.items()},
            "connection": conn,
            "waiting_for": "" if self.state.value != "SYNCING" else telemetry.waiting_for(
                conn, connected=bool(getattr(self, "_connected", False)),
                reconciled=bool(getattr(self, "_reconciled", False))),
            "started_ms": self.context.started_ms,
            "building": self.context.building,
            "last_error": self.last_error,
        })
        if PERP in self.infos:
            view["delta_tolerance_base"] = str(policy.delta_tolerance_base(self.config, self.infos[PERP]))
        return view
