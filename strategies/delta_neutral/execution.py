"""Order plumbing of the delta-neutral task: send, resolve, cancel, book fills.

A mixin for :class:`~strategies.delta_neutral.task.DeltaNeutralTask` (it uses
the task's venues, intents, ledger and the base-class journal methods). Rules:

* an intent is sent at most once, and only if it is committed and was created
  by THIS process (``_sendable``); a NEW intent found after a restart is never
  re-sent: it is resolved by ``get_order`` (NotFound = never placed, NOT_SENT);
* ``OutcomeUnknown`` leaves the intent UNKNOWN; it is settled by ``get_order``
  only, and declared NOT_SENT when the venue still does not know it after
  ``order_timeout_s`` (DESIGN invariant 2);
* fills are booked from fill events and ``order_fills`` (execution price and
  actual fee), de-duplicated by (venue, trade id), and only for our client
  order ids (invariant 5);
* orders are only placed from fresh books (invariant 6).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from decimal import Decimal

from exchanges import clock
from exchanges.models import (
    BalanceEvent,
    BookEvent,
    Fill,
    FillEvent,
    Order,
    OrderEvent,
    OrderStatus,
    PositionEvent,
    VenueEvent,
    VenueId,
)
from exchanges.venue import NotFound, OrderRejected, OutcomeUnknown, RateLimited, VenueError
from state.records import FillRecord, IntentStatus, OrderIntent

from strategies.delta_neutral import policy
from strategies.delta_neutral.ledger import fee_in_usdt

log = logging.getLogger(__name__)
ZERO = Decimal(0)

_ORDER_TO_INTENT = {
    OrderStatus.OPEN: IntentStatus.OPEN,
    OrderStatus.PARTIALLY_FILLED: IntentStatus.PARTIALLY_FILLED,
    OrderStatus.FILLED: IntentStatus.FILLED,
    OrderStatus.CANCELED: IntentStatus.CANCELED,
    OrderStatus.REJECTED: IntentStatus.REJECTED,
}
#: consecutive OutcomeUnknown sends before the task halts (DESIGN section 5)
MAX_UNKNOWN_STREAK = 3
MAX_HEDGE_ROUNDS = 5  # per WAITING_ORDERS / COMPLETING visit


class OrderFlow:
    """Mixin: the task's order and fill bookkeeping (see module docstring)."""

    # ---- venue events (called on the loop thread; never raise, never await) ----

    def _on_event(self, event: VenueEvent) -> None:
        try:
            if isinstance(event, BookEvent):
                self._book_events += 1
            elif isinstance(event, (FillEvent, OrderEvent)):
                cid = event.fill.client_order_id if isinstance(event, FillEvent) else event.order.client_order_id
                if cid in self.intents:  # ours only
                    self._events.append(event)
            elif isinstance(event, BalanceEvent):
                asset = event.balance.asset.upper()
                self._balances.setdefault(event.venue, {})[asset] = event.balance.total
                if asset == self.symbol.quote.upper():
                    self._quote_free[event.venue] = event.balance.free
            elif isinstance(event, PositionEvent):
                self._position_contracts = event.position.size_contracts
        except Exception:  # a malformed event must not break the venue loop
            log.exception("task %s: bad venue event %r", self.task_id, event)
        self.wake.set()

    def _drain_events(self) -> int:
        """Apply queued order/fill events; returns the number of new fills booked."""
        booked = 0
        q: deque = self._events
        while q:
            ev = q.popleft()
            if isinstance(ev, FillEvent):
                booked += self._book_fill(ev.fill)
            else:
                intent = self.intents.get(ev.order.client_order_id)
                if intent is not None:
                    self._apply_order(intent, ev.order)
        return booked

    # ---- booking -----------------------------------------------------------------

    def _book_fill(self, fill: Fill) -> bool:
        """Book one of our fills (idempotent by venue + trade id)."""
        if fill.client_order_id not in self.intents:
            return False
        fee_usdt = fee_in_usdt(fill.fee, fill.fee_asset, fill.price, self.symbol.base, self.symbol.quote)
        rec = FillRecord(task_id=self.task_id, venue=fill.venue, trade_id=fill.trade_id,
                         client_order_id=fill.client_order_id, side=fill.side, price=fill.price, qty=fill.qty,
                         qty_base=fill.qty_base, fee=fill.fee, fee_asset=fill.fee_asset,
                         fee_usdt=fee_usdt if fee_usdt is not None else ZERO, ts_ms=fill.ts_ms or clock.now_ms())
        if not self.record_fill(rec):
            return False
        self.ledger.apply_fill(rec)
        self._booked_qty[fill.client_order_id] = self._booked_qty.get(fill.client_order_id, ZERO) + fill.qty
        return True

    def _apply_order(self, intent: OrderIntent, order: Order) -> None:
        """Merge a venue view of the order into the intent (never moves backwards)."""
        new_status = _ORDER_TO_INTENT[order.status]
        if intent.status.is_final and not new_status.is_final:
            return  # a stale event after the final state
        changed = False
        if order.filled_qty > intent.filled_qty:
            intent.filled_qty = order.filled_qty
            intent.avg_price = order.avg_price
            intent.fee, intent.fee_asset = order.fee, order.fee_asset
            changed = True
        if new_status != intent.status and not (intent.status.is_final and new_status.is_final):
            intent.status = new_status
            changed = True
        if order.venue_order_id and order.venue_order_id != intent.venue_order_id:
            intent.venue_order_id = order.venue_order_id
            changed = True
        if changed:
            self.update_intent(intent)

    def _mark(self, intent: OrderIntent, status: IntentStatus, error: str = "") -> None:
        intent.status = status
        if error:
            intent.error = error[:300]
        self.update_intent(intent)

    def booked_qty(self, client_order_id: str) -> Decimal:
        return self._booked_qty.get(client_order_id, ZERO)

    def _rebuild_booked(self) -> None:
        self._booked_qty = {}
        for f in self.fills:
            self._booked_qty[f.client_order_id] = self._booked_qty.get(f.client_order_id, ZERO) + f.qty

    # ---- sending -------------------------------------------------------------------

    def _plan_intent(self, planned: policy.PlannedOrder) -> OrderIntent:
        intent = self.new_intent(planned.venue, self.symbol.gate, planned.side, planned.qty, planned.price,
                                 planned.leg, reduce_only=planned.reduce_only)
        self._sendable.add(intent.client_order_id)
        return intent

    def _book_fresh(self, venue: VenueId) -> bool:
        return policy.book_is_fresh(self.venues[venue].book_top(self.symbol), clock.now_ms(),
                                    self.config.max_book_age_ms)

    async def _send(self, intent: OrderIntent) -> None:
        """Send one committed intent of this process, exactly once."""
        cid = intent.client_order_id
        if cid not in self._sendable or intent.status is not IntentStatus.NEW or not self.is_committed(cid):
            return
        self._sendable.discard(cid)  # from here on, never again
        if not self._book_fresh(intent.venue):
            self._mark(intent, IntentStatus.NOT_SENT, "stale book: refused to send")
            return
        self._in_flight.add(cid)
        self._note_taken(intent.venue, intent.side, intent.qty)
        try:
            order = await self.venues[intent.venue].place_order(intent.to_request(self.symbol))
        except OutcomeUnknown as exc:
            self.context.unknown_streak += 1
            self._mark(intent, IntentStatus.UNKNOWN, f"outcome unknown: {exc}")
            self.set_error(f"{intent.venue.value} {cid}: outcome unknown ({exc}); resolving by query")
            if self.context.unknown_streak >= MAX_UNKNOWN_STREAK and not self.context.halt_reason:
                self.context.halt_reason = (f"{self.context.unknown_streak} consecutive order sends with unknown "
                                            f"outcome (last {intent.venue.value} {cid})")
        except (OrderRejected, RateLimited) as exc:
            self._mark(intent, IntentStatus.REJECTED if isinstance(exc, OrderRejected) else IntentStatus.NOT_SENT,
                       f"{type(exc).__name__}: {exc}")
            self.set_error(f"{intent.venue.value} {cid}: {type(exc).__name__}: {exc}")
        except VenueError as exc:  # AuthError etc.: nothing was placed
            self._mark(intent, IntentStatus.REJECTED, f"{type(exc).__name__}: {exc}")
            self.set_error(f"{intent.venue.value} {cid}: {type(exc).__name__}: {exc}")
        else:
            self.context.unknown_streak = 0
            self._apply_order(intent, order)
        finally:
            self._in_flight.discard(cid)

    async def _send_all(self, intents: list[OrderIntent]) -> None:
        """Send intents concurrently (the arb legs leave together).

        The first is sent from this task at once (no loop turn); the others run as tasks
        meanwhile. A venue whose request leaves the process at once
        (``order_write_at_once``) goes first: its bytes are out before the other legs'
        preparation, which delays a leg whose bytes go out on the next loop turn anyway.
        """
        ordered = sorted(intents, key=lambda i: not getattr(self.venues[i.venue], "order_write_at_once", False))
        if ordered:
            others = [asyncio.ensure_future(self._send(i)) for i in ordered[1:]]
            try:
                await self._send(ordered[0])
            finally:
                failed = [r for r in await asyncio.gather(*others, return_exceptions=True)
                          if isinstance(r, BaseException)]
            if failed:
                raise failed[0]
        self._drain_events()

    # ---- hedging ----------------------------------------------------------------------

    async def _hedge_if_needed(self, reduce_only: bool = False) -> bool:
        """Per-fill hedge: if net delta (incl. in-flight perp orders) is at least one
        contract, journal a perp IOC (checkpoint) and send it. True if one was sent."""
        if self.context.hedge_rounds >= MAX_HEDGE_ROUNDS or not self._book_fresh(policy.PERP):
            return False
        delta = self.ledger.net_delta_base() + self._in_flight_perp_base()
        if not reduce_only and abs(delta) <= policy.delta_tolerance_base(self.config, self.infos[policy.PERP]):
            return False  # within tolerance: re-hedging would only pay fees
        book = self.venues[policy.PERP].book_top(self.symbol)
        order = policy.hedge_order(delta, book, self.infos[policy.PERP], self.config.hedge_slippage_bps,
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

    # ---- resolving -------------------------------------------------------------------

    async def _resolve(self, intent: OrderIntent) -> None:
        """Settle an intent's status by ``get_order`` (NEW of a past process, or UNKNOWN)."""
        cid = intent.client_order_id
        try:
            order = await self.venues[intent.venue].get_order(self.symbol, cid)
        except NotFound:
            age_s = (clock.now_ms() - intent.created_ms) / 1000.0
            if intent.status is IntentStatus.NEW or (intent.status is IntentStatus.UNKNOWN
                                                     and age_s >= self.config.order_timeout_s):
                self._mark(intent, IntentStatus.NOT_SENT, "venue does not know the order: never placed")
            elif intent.status is IntentStatus.OPEN and intent.filled_qty == 0:
                # acknowledged once, now forgotten: Gate drops unfilled cancelled orders (exchange_apis 1.9)
                self._mark(intent, IntentStatus.CANCELED, "venue no longer knows the unfilled order")
            else:
                self.set_error(f"{intent.venue.value} {cid}: venue does not know a partially filled order")
            return
        except VenueError as exc:
            self.set_error(f"{intent.venue.value} get_order {cid}: {type(exc).__name__}: {exc}")
            return
        self._apply_order(intent, order)
        if intent.status is IntentStatus.NEW:  # venue knows it but reported no change
            self._mark(intent, IntentStatus.OPEN)

    async def _cancel(self, intent: OrderIntent) -> None:
        """Cancel one of our open orders, then settle by query if the venue says it is gone."""
        try:
            order = await self.venues[intent.venue].cancel_order(self.symbol, intent.client_order_id)
        except NotFound:
            await self._resolve(intent)
            return
        except VenueError as exc:
            self.set_error(f"{intent.venue.value} cancel {intent.client_order_id}: {type(exc).__name__}: {exc}")
            return
        self._apply_order(intent, order)

    async def _fetch_missing_fills(self, intent: OrderIntent) -> None:
        """Book fills the events did not deliver (the venue's filled qty is ahead of ours)."""
        if intent.filled_qty <= self.booked_qty(intent.client_order_id):
            return
        try:
            fills = await self.venues[intent.venue].order_fills(self.symbol, intent.client_order_id)
        except VenueError as exc:
            self.set_error(f"{intent.venue.value} order_fills {intent.client_order_id}: {exc}")
            return
        for f in fills:
            self._book_fill(f)

    def _settled(self, intent: OrderIntent) -> bool:
        return intent.status.is_final and self.booked_qty(intent.client_order_id) >= intent.filled_qty

    async def _settle_pass(self, cancel_all: bool, query_all: bool = False) -> bool:
        """One pass over our unsettled intents: resolve unknowns (with ``query_all``,
        every unresolved intent, as after a restart), cancel timed-out (or, with
        ``cancel_all``, every) open order, fetch missing fills.
        Returns True when every intent is settled."""
        self._drain_events()
        now = clock.now_ms()
        timeout_ms = int(self.config.order_timeout_s * 1000)
        for intent in [self.intents[c] for c in self.open_intent_ids]:
            cid = intent.client_order_id
            if cid in self._in_flight or cid in self._sendable:
                continue
            if intent.status in (IntentStatus.NEW, IntentStatus.UNKNOWN) or (
                    query_all and not intent.status.is_final):
                await self._resolve(intent)
            if intent.status in (IntentStatus.OPEN, IntentStatus.PARTIALLY_FILLED):
                if cancel_all or now - intent.created_ms >= timeout_ms:
                    await self._cancel(intent)
            if intent.status.is_final:
                await self._fetch_missing_fills(intent)
        self._drain_events()
        for cid in [c for c in self.open_intent_ids if c not in self._sendable and self._settled(self.intents[c])]:
            del self.open_intent_ids[cid]  # settled: nothing left to do for it (re-added if it changes)
        return all(c in self._sendable for c in self.open_intent_ids)
