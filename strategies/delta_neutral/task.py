"""The 3-venue delta-neutral task: state handlers (docs/design.md section 5).

Inventory on Gate spot and MEXC spot, hedged by a short Gate USDT perpetual. The handlers gather
inputs and call pure functions (:mod:`~strategies.delta_neutral.policy`,
:mod:`~strategies.delta_neutral.decide`); everything else is a composed part: ``orders``
(:class:`~strategies.execution.orders.OrderManager`: intents, fenced sends, resolve-by-query,
cancels, fills, in-flight accounting), ``market`` (:class:`~strategies.execution.market.MarketView`),
``reconciler`` (:class:`~strategies.execution.reconcile.Reconciler`), ``funding_book``,
``connections``, ``inputs`` (:class:`~strategies.delta_neutral.inputs.DecisionInputs`),
``executor`` (:class:`~strategies.delta_neutral.executor.TradeExecutor`) and the ``ledger``.

Hot path: a book event sets ``wake``; MONITORING runs the pure decision and signals ANALYZING only
when it returns one; ANALYZING acts on it (arb legs committed with the ``trade`` transition);
MANAGING_ORDERS sends the legs concurrently as IOC limits.

Halts never hang: stale books past ``stale_halt_s``, an unreachable venue, a broken ledger or order
lifecycle set ``halt_reason`` (the first one wins, kept across resumes); WAITING_ORDERS and
COMPLETING give up after bounded budgets, leaving what is unresolved to the next resume.

Resume: the first step of any state (except IDLE) reconnects and reconciles: unresolved intents
are settled by query (never re-sent), missing fills fetched, unjournaled orders with our prefix
cancelled, venue balances and positions checked against the ledger.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from exchanges import clock
from exchanges.models import (
    BalanceEvent,
    BookEvent,
    FillEvent,
    OrderEvent,
    PositionEvent,
    SymbolInfo,
    VenueEvent,
    VenueId,
)
from exchanges.venue import Venue, VenueError
from state.records import FillRecord, OrderIntent
from strategies.alerts import AlertKind
from strategies.base import Finish, Next, StrategyTask
from strategies.execution.connection import VenueConnections
from strategies.execution.fence import CLOCK_SKEW_MARGIN_MS, SEND_WINDOW_MS
from strategies.execution.market import MarketView
from strategies.execution.orders import OrderManager
from strategies.execution.reconcile import Reconciler, anomaly_reason

from strategies.delta_neutral import decide, hedgeable, policy, report
from strategies.delta_neutral.config import DeltaNeutralConfig
from strategies.delta_neutral.context import DeltaNeutralContext
from strategies.delta_neutral.executor import TradeExecutor
from strategies.delta_neutral.funding import FundingBook
from strategies.delta_neutral.inputs import DecisionInputs
from strategies.delta_neutral.ledger import Ledger
from strategies.delta_neutral.policy import PERP, SPOT_VENUES

log = logging.getLogger(__name__)
ZERO = Decimal(0)
ALL_VENUES = (VenueId.GATE_SPOT, VenueId.MEXC_SPOT, VenueId.GATE_PERP)
DECIDE_EVERY_MS = 250  # MONITORING re-decides at least this often without a book event (cooldowns, deadlines)
MAX_UNWIND_ROUNDS = 10
#: COMPLETING gives up (ends halted, leaving what is unresolved to the next resume) after
#: max(order_timeout_s, this) seconds
COMPLETING_MIN_S = 10.0
#: WAITING_ORDERS gives up on unsettled orders this long after order_timeout_s plus the time an
#: unknown outcome needs before "no such order" proves it was never placed
WAITING_SLACK_S = 5.0


class DeltaNeutralTask(StrategyTask):
    """``strategy_name = "delta_neutral"``; config :class:`DeltaNeutralConfig`."""

    strategy_name = "delta_neutral"
    config_type = DeltaNeutralConfig
    context_type = DeltaNeutralContext

    config: DeltaNeutralConfig
    context: DeltaNeutralContext

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.config
        self.symbol = cfg.symbol_obj
        self.ledger = Ledger(base=self.symbol.base, quote=self.symbol.quote)
        self.connections = VenueConnections(self.venues, self.symbol, ALL_VENUES, cfg.sync_timeout_s)
        self.market = MarketView(self.venues, self.symbol, ALL_VENUES, cfg.max_book_age_ms)
        self.reconciler = Reconciler(self.venues, self.symbol, SPOT_VENUES, PERP)
        self.orders = OrderManager(journal=self.journal, venues=self.venues, symbol=self.symbol, fence=self.fence,
                                   order_timeout_s=cfg.order_timeout_s, on_fill=self._book_fill,
                                   report_error=self.set_error, refuse_send=self._refuse_stale_send,
                                   on_sending=self._note_taken)
        self.funding_book = FundingBook(self.reconciler, self.journal, PERP, self._apply_funding, self.set_error)
        self.inputs = DecisionInputs(config=cfg, context=self.context, market=self.market, ledger=self.ledger,
                                     reconciler=self.reconciler, infos=self.connections.infos,
                                     funding=self.funding_book)
        self.executor = TradeExecutor(orders=self.orders, market=self.market, ledger=self.ledger, inputs=self.inputs,
                                      infos=self.connections.infos, config=cfg, context=self.context,
                                      checkpoint=self.checkpoint, halt=self._halt)
        self._book_events = 0
        self._seen_book_events = 0
        self.reconciled = False
        self._reconcile_queried = False
        self._unreachable = False
        self._loaded_ms = clock.now_ms()  # SYNCING's time budget counts from max(entering it, this)
        self._next_decide_ms = 0
        #: MONITORING's decision handed to ANALYZING: (decision, book event count, ms)
        self._signal_decision: tuple[decide.Decision, int, int] | None = None

    @classmethod
    async def start_refusal(cls, config: Any, venues: Mapping[VenueId, Venue]) -> str | None:
        """A position the perp cannot hedge in whole contracts (:mod:`.hedgeable`)."""
        return await hedgeable.start_refusal(config, venues)

    @property
    def infos(self) -> dict[VenueId, SymbolInfo]:
        """Symbol rules per venue (loaded when connecting)."""
        return self.connections.infos

    # ---- lifecycle hooks --------------------------------------------------------

    async def load(self) -> None:
        await super().load()
        for fill in self.fills:  # booking order: the rebuilt ledger equals the live one
            self.ledger.book(fill)
        for rec in self.funding:
            self.ledger.apply_funding(rec.amount_usdt)
        self.orders.rebuild_booked()

    async def on_start(self, resumed: bool) -> None:
        self.connections.listen(self._on_event)

    async def on_shutdown(self) -> None:
        self.connections.unlisten_all()

    def stop_budget_s(self) -> float:
        """Seconds a stop may take: settling in WAITING_ORDERS, then COMPLETING, each bounded."""
        return self._waiting_budget_s() + self._completing_budget_s() + 10.0

    def _completing_budget_s(self) -> float:
        return max(self.config.order_timeout_s, COMPLETING_MIN_S)

    def _waiting_budget_s(self) -> float:
        return self.config.order_timeout_s + (SEND_WINDOW_MS + CLOCK_SKEW_MARGIN_MS) / 1000 + WAITING_SLACK_S

    def _time_here_s(self) -> float:
        """Seconds in the current state in THIS process (a resume gets a fresh budget)."""
        return max(0.0, (clock.now_ms() - max(self.state_entered_ms, self._loaded_ms)) / 1000.0)

    # ---- venue events and the parts' callbacks (loop thread; never raise, never await) ---------

    def _on_event(self, event: VenueEvent) -> None:
        try:
            if isinstance(event, BookEvent):
                self._book_events += 1
            elif isinstance(event, (FillEvent, OrderEvent)):
                self.orders.on_event(event)
            elif isinstance(event, (BalanceEvent, PositionEvent)):
                self.reconciler.on_event(event)
        except Exception:  # a malformed event must not break the venue loop
            log.exception("task %s: bad venue event %r", self.task_id, event)
        self.wake.set()

    def _book_fill(self, rec: FillRecord) -> Decimal:
        fee_usdt = self.ledger.book(rec)
        return fee_usdt if fee_usdt is not None else ZERO

    def _apply_funding(self, amount_usdt: Decimal) -> None:
        self.ledger.apply_funding(amount_usdt)

    def _refuse_stale_send(self, intent: OrderIntent) -> str | None:
        return None if self.market.fresh(intent.venue) else "stale book: refused to send"

    def _note_taken(self, intent: OrderIntent) -> None:
        self.market.note_taken(intent.venue, intent.side, intent.qty)

    # ---- connection and reconciliation ------------------------------------------------

    async def _prepare(self) -> bool:
        """Connected and reconciled (once per process); False = stay and retry."""
        if self.orders.anomalies and not self.context.halt_reason:
            self.context.halt_reason = anomaly_reason(self.orders.anomalies) or ""
        if not await self.connections.connect():
            text = f"cannot reach {self.connections.error}"
            if self.last_error != text:
                self.set_error(text)
            return False
        if not self.reconciled:
            return await self._reconcile()
        return True

    def _halt(self, reason: str) -> None:
        """Record a halt reason; the first one wins (and is kept across resumes)."""
        if not self.context.halt_reason:
            self.context.halt_reason = reason

    async def _reconcile(self) -> bool:
        """Settle every unresolved intent with the venues, cancel open orders carrying our prefix
        that were never journaled, poll funding, then check venue holdings against the ledger."""
        settled = await self.orders.settle_pass(cancel_all=False, query_all=not self._reconcile_queried)
        self._reconcile_queried = True
        if not settled:
            return False
        try:
            snap = await self.reconciler.snapshot(list(ALL_VENUES))
            await self.orders.cancel_unjournaled(snap.open_orders)
        except VenueError as exc:
            self.set_error(f"reconcile: {type(exc).__name__}: {exc}")
            return False
        await self._poll_funding(force=True)
        for reason in self.reconciler.holding_reasons(snap, self.ledger.spot_inventory(),
                                                      self.ledger.inventory_base(PERP), self.infos):
            self._halt(reason)
        anomaly = anomaly_reason(self.orders.anomalies)
        if anomaly:
            self._halt(anomaly)
        self.reconciled = True
        return True

    async def _poll_funding(self, force: bool = False) -> None:
        if not force and not self.funding_book.due():
            return
        ctx = self.context
        since = await self.funding_book.poll(ctx.funding_since_ms or ctx.started_ms or clock.now_ms())
        if since is not None:
            ctx.funding_since_ms = max(ctx.funding_since_ms, since)

    # ---- state handlers -------------------------------------------------------------

    async def on_idle(self) -> Next | None:
        # (re)starting, e.g. after a pause: SYNCING reconciles with the venues again
        self.reconciled = False
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
            if self.connections.error:
                self._unreachable = True
                self._halt(f"cannot reach {self.connections.error}")
            else:
                self._halt(f"could not reconcile with the venues within {self.config.sync_timeout_s:g} s"
                           f"{': ' + self.last_error if self.last_error else ''}")
            return self.go("exit", f"halt: {ctx.halt_reason}")
        if ctx.halt_reason:
            return self.go("exit", f"halt: {ctx.halt_reason}")
        if ctx.started_ms == 0:
            ctx.started_ms = clock.now_ms()
        if self.market.all_fresh():
            self._seen_book_events = self._book_events
            self.market.reset_staleness()
            return self.go("synced", "venues reconciled, books fresh")
        if timed_out:
            missing = [v.value for v in ALL_VENUES if not self.market.fresh(v)]
            self._halt(f"no fresh books from {', '.join(missing)} within {self.config.sync_timeout_s:g} s of syncing")
            return self.go("exit", f"halt: {ctx.halt_reason}")
        return None

    async def on_analyzing(self) -> Next | None:
        if not await self._prepare():
            return None
        booked = self.orders.drain()
        signal, self._signal_decision = self._signal_decision, None
        ctx = self.context
        self._seen_book_events = self._book_events
        if ctx.halt_reason:
            return self.go("exit", f"halt: {ctx.halt_reason}")
        now = clock.now_ms()
        # MONITORING checked the exits and decided on these very inputs an instant ago: act on it
        # (the reaction path); after any event in between, check and decide afresh
        fresh_signal = signal is not None and not booked and signal[1] == self._book_events and now - signal[2] <= 5
        reason = None if fresh_signal else self.inputs.exit_reason()
        if reason:
            ctx.exit_reason = reason
            return self.go("exit", reason)
        if not self.market.all_fresh(now):
            return self.go("idle", "books stale or missing: not trading")
        d = signal[0] if signal is not None and fresh_signal else self.inputs.decision(now)
        while d is not None and d.action in ("build_done", "single_leg_expired"):
            if d.action == "build_done":
                ctx.building = False
                ctx.build_targets_base = policy.spot_targets_base(self.config, self.market.mids())
            elif ctx.single_leg is not None:
                sl, ctx.single_leg = ctx.single_leg, None
                self.set_error(f"single leg: {sl.imbalance_base} {self.symbol.base} left hedged on the perp "
                               f"after {self.config.single_leg_timeout_s:.0f} s")
            d = self.inputs.decision(now)
        if d is None:
            return self.go("idle", "nothing to do")
        if d.action == "rebalance":
            ctx.rebalance_forced = d.forced
            return self.go("rebalance", d.reason)
        if d.action in ("single_leg", "restore_totals") and d.order is not None:
            if d.action == "restore_totals":
                ctx.last_rebalance_ms = now
            ctx.batch = [self.executor.plan(d.order).client_order_id]
            return self.go("trade", d.reason)
        arb = d.arb
        assert arb is not None
        planned = self.executor.plan_arb(arb, now, self.reconciler.quote_free.get(arb.buy_venue, ZERO))
        if planned is None:
            return self.go("idle", f"{d.reason}: no longer fits the free quote at the slipped price")
        ctx.arb, order = planned
        ctx.batch = [ctx.arb.sell_cid, ctx.arb.buy_cid]
        return self.go("trade", f"{d.reason}; {order}")

    async def on_rebalancing(self) -> Next | None:
        if not await self._prepare():
            return None
        ctx = self.context
        ctx.last_rebalance_ms = clock.now_ms()
        plan = [o for o in self.inputs.rebalance_plan(ctx.building, ctx.rebalance_forced) if self.market.fresh(o.venue)]
        ctx.rebalance_forced = False
        if not plan:
            return self.go("nothing_to_do", "no valid rebalance order")
        ctx.batch = [self.executor.plan(o).client_order_id for o in plan]
        return self.go("orders_planned", "; ".join(f"{o.leg} {o.side.value} {o.qty} {o.venue.value}" for o in plan))

    async def on_managing_orders(self) -> Next | None:
        if not await self._prepare():
            return None
        ctx = self.context
        batch = [self.intents[c] for c in ctx.batch if c in self.intents]
        if ctx.halt_reason:
            for i in batch:
                self.orders.withdraw(i, "task halting: not sent")
        elif ctx.arb is not None and ctx.arb.first_cid in self.intents and len(batch) == 2:
            first = self.intents[ctx.arb.first_cid]
            await self.executor.send_legs(first, batch[1] if batch[0] is first else batch[0])
        else:
            await self.executor.send(batch)
        ctx.hedge_rounds = 0
        return self.go("orders_sent", ", ".join(f"{i.leg}:{i.status.value}" for i in batch) or "nothing to send")

    async def on_waiting_orders(self) -> Next | None:
        if not await self._prepare():
            return self._give_up_waiting()
        ctx = self.context
        settled = await self.orders.settle_pass(cancel_all=bool(ctx.halt_reason or ctx.stop_requested))
        if await self.executor.hedge_if_needed():
            settled = await self.orders.settle_pass(cancel_all=False)
        if not settled:
            return self._give_up_waiting()
        outcome = self._after_settle()
        ctx.batch = []
        return self.go("orders_settled", f"{outcome}delta {self.ledger.net_delta_base()} {self.symbol.base}")

    def _give_up_waiting(self) -> Next | None:
        """Orders that cannot be settled within :meth:`_waiting_budget_s` (a venue unreachable or
        not answering) halt the task: ANALYZING then completes it, leaving them to the next resume."""
        if self._time_here_s() < self._waiting_budget_s():
            return None
        unresolved = len(self.unresolved_intents())
        self._halt(f"could not settle {unresolved} order(s) within {self._waiting_budget_s():g} s"
                   f"{': ' + self.last_error if self.last_error else ''}")
        self.context.batch = []
        self.context.arb = None
        return self.go("orders_settled", f"halt: {self.context.halt_reason}")

    def _after_settle(self) -> str:
        """Single-leg bookkeeping once the batch is final: counts the arb pair (complete, single
        leg, missed) and returns its outcome for the journal reason ("" if the batch was no arb)."""
        ctx = self.context
        fixed = sum((i.filled_qty * i.side.sign for c in ctx.batch if (i := self.intents.get(c)) is not None
                     and i.leg.startswith("single_leg")), ZERO)
        arb, ctx.arb = ctx.arb, None
        filled = (self.intents[arb.sell_cid].filled_qty, self.intents[arb.buy_cid].filled_qty) if arb else None
        ctx.single_leg, note = decide.single_leg_after_settle(ctx.single_leg, fixed, arb, filled, self.config,
                                                              clock.now_ms())
        if note:
            self.set_error(note)
            if arb is not None and filled is not None:
                self.alert_sink(AlertKind.SINGLE_LEG, note, sell_venue=arb.sell_venue.value,
                                buy_venue=arb.buy_venue.value, sell_client_order_id=arb.sell_cid,
                                buy_client_order_id=arb.buy_cid, imbalance_base=str(filled[1] - filled[0]))
        if filled is None:
            return ""
        kind = report.pair_kind(*filled)
        ctx.arb_pairs += kind is not report.PairKind.MISSED
        ctx.single_legs += kind is report.PairKind.SINGLE_LEG
        ctx.arb_missed += kind is report.PairKind.MISSED
        text = note or report.pair_text(kind, filled, self.symbol.base)
        return f"{text} (single legs {ctx.single_legs} of {ctx.arb_pairs} arb pairs); "

    async def on_monitoring(self) -> Next | None:
        if not await self._prepare():
            return None
        ctx = self.context
        booked = self.orders.drain()
        if ctx.halt_reason:
            return self.go("exit", f"halt: {ctx.halt_reason}")
        now = clock.now_ms()
        stale = self.market.track_staleness(now)
        ctx.stale_since_ms = now - stale[1] if stale else 0
        if stale is not None and stale[1] > self.config.stale_halt_s * 1000:
            self._halt(f"books stale on {stale[0].value} for {stale[1] / 1000:.0f} s")
            return self.go("exit", f"halt: {ctx.halt_reason}")
        reason = self.inputs.exit_reason()
        if reason:
            ctx.exit_reason = reason
            return self.go("exit", reason)
        new_books = self._book_events != self._seen_book_events
        self._seen_book_events = self._book_events
        if (new_books or booked or now >= self._next_decide_ms) and stale is None:
            self._next_decide_ms = now + DECIDE_EVERY_MS
            d = self.inputs.decision(now)
            if d is not None:
                # ANALYZING runs at once, on this decision unless an event came in between, and
                # commits the legs' intents: this bare transition shares that transaction
                # instead of costing a commit of its own (reaction path)
                self._signal_decision = (d, self._book_events, now)
                return self.go("signal", d.reason, write_behind=True)
        await self._poll_funding()
        if self.time_in_state_s() >= self.config.reanalyze_s:
            return self.go("signal", "timer")
        return None

    async def on_completing(self) -> Next | None:
        ctx = self.context
        if self._unreachable:
            return self.go("completed", "halted: venues unreachable, nothing could be canceled or unwound")
        if not await self._prepare():
            return self._give_up_completing()
        if not ctx.swept:
            try:
                await self.orders.sweep_prefixed(list(ALL_VENUES))
                ctx.swept = True
            except VenueError as exc:
                self.set_error(f"completing sweep: {type(exc).__name__}: {exc}")
                return self._give_up_completing()
        if not await self.orders.settle_pass(cancel_all=True):
            return self._give_up_completing()
        await self._poll_funding()
        if ctx.halt_reason:
            return self.go("completed", "halted: orders canceled, positions left for the operator")
        flatten = ctx.flatten_requested or (self.config.flatten_on_exit and ctx.stop_reason != "user")
        if ctx.unwind_rounds < MAX_UNWIND_ROUNDS and self._time_here_s() < self._completing_budget_s():
            ctx.hedge_rounds = 0
            sent = await self.executor.wind_down(flatten)
            if sent is None or sent:
                return None  # books stale (never trade on stale data), or a round is out: see it settle
        return self.go("completed", f"flattened={flatten}; delta {self.ledger.net_delta_base()} {self.symbol.base}")

    def _give_up_completing(self) -> Next | None:
        """COMPLETING that cannot reach a venue or settle our orders: with nothing of ours
        unresolved and a venue unreachable, end at once; else wait up to
        max(order_timeout_s, COMPLETING_MIN_S). Either way the task ends ``halted`` (the first halt
        reason, else the venue error) and a resume settles whatever was left. None = keep waiting."""
        unresolved = self.unresolved_intents()
        if (unresolved or not self.connections.error) and self._time_here_s() < self._completing_budget_s():
            return None
        if self.connections.error:
            self._unreachable = True
            self._halt(f"cannot reach {self.connections.error}")
        else:
            self._halt(f"could not settle our orders within {self._completing_budget_s():g} s"
                       f"{': ' + self.last_error if self.last_error else ''}")
        left = f"{len(unresolved)} unresolved order intent(s) left for the resume" if unresolved else "nothing of ours open"
        return self.go("completed", f"halted: {self.context.halt_reason}; {left}")

    async def on_finalizing(self) -> Finish | None:
        ctx = self.context
        if not self._unreachable and await self._prepare():
            await self.orders.settle_pass(cancel_all=bool(ctx.halt_reason))
            await self._poll_funding(force=True)  # a settlement paid near the end is in the summary
        ctx.summary = report.summary_text(self.ledger.totals(self.market.mids()), self._delta_text(),
                                          ctx.arb_pairs, ctx.single_legs)
        reason = ctx.halt_reason or ctx.exit_reason or ctx.stop_reason or "done"
        if ctx.halt_reason:
            self.set_error(ctx.halt_reason)
        log.info("task %s finished: %s; %s", self.task_id, reason, ctx.summary)
        return self.finish(self.planned_end_status(), f"{reason}; {ctx.summary}")

    # ---- reporting ------------------------------------------------------------------

    def contract_base(self) -> Decimal:
        """Base units per perp contract (its multiplier; 1 until the rules are loaded)."""
        info = self.infos.get(PERP)
        return info.contract_multiplier if info is not None else Decimal(1)

    def _delta_text(self) -> str:
        return report.delta_text(self.ledger.net_delta_base(), self.contract_base(), self.symbol.base)

    def pnl(self) -> dict[str, str]:
        """Ledger totals plus the arbitrage pair counts (``arb_pairs``, ``single_legs``)."""
        totals = self.ledger.totals(self.market.mids())
        totals.update(arb_pairs=str(self.context.arb_pairs), single_legs=str(self.context.single_legs))
        return totals

    def live_view(self) -> dict[str, Any]:
        """Dashboard and history telemetry: :func:`telemetry.task_view` (its keys and units)."""
        from strategies.delta_neutral import telemetry

        return telemetry.task_view(self)
