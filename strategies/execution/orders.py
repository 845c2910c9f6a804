"""The order manager: owns a task's order intents from plan to settlement.

Rules it keeps (docs/design.md section 6):

* an intent is sent at most once, and only if it is committed, was planned by THIS process and
  the lease fence and its send deadline allow it, checked immediately before the request; the
  deadline also travels with the request (``OrderRequest.expires_ms``) so the venue refuses it
  late (invariants 1 and 4);
* ``OutcomeUnknown`` leaves the intent ``unknown``; it is settled only by ``get_order`` by client
  order id, and declared never placed only after its send deadline has passed and the venue
  still does not know it (invariants 2 and 4);
* every status change goes through :meth:`OrderManager.apply` and the declared table of
  :mod:`strategies.execution.lifecycle`; an undeclared move is refused, logged and counted;
* fills are booked from fill events and ``order_fills`` (execution price and real fee),
  de-duplicated by (venue, trade id), and only for our client order ids (invariant 5);
* in-flight accounting (:meth:`OrderManager.exposure`) counts what may still fill AND what
  filled but is not booked yet, so nothing is hedged twice.

Every order event is one INFO line on the ``arb.trade`` logger (task, venue, client order id,
side, quantity, price, fee; :mod:`strategies.execution.tradelog`), with the same fields on the
record for ``--log-json``. No secret is ever part of it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from exchanges import clock
from exchanges.models import Fill, FillEvent, Order, OrderEvent, OrderStatus, Side, Symbol, TimeInForce, VenueId
from exchanges.venue import NotFound, OrderRejected, OutcomeUnknown, RateLimited, Venue, VenueError
from state.records import FillRecord, IntentStatus, OrderIntent
from strategies.execution.fence import CLOCK_SKEW_MARGIN_MS, SEND_WINDOW_MS, LeaseFence
from strategies.execution.journal import Journal
from strategies.execution.lifecycle import EVENT_OF_ORDER_STATUS, IntentEvent, next_status
from strategies.execution.tradelog import TradeEvent
from strategies.execution.tradelog import trade_log as write_trade_line

log = logging.getLogger(__name__)
trade_log = logging.getLogger("arb.trade")
ZERO = Decimal(0)
I = IntentStatus


class SendOutcome(str, Enum):
    """What :meth:`OrderManager.send` did with one intent."""

    SKIPPED = "skipped"    # not ours to send (not planned here, already sent, not committed)
    REFUSED = "refused"    # refused locally: nothing left the process
    SENT = "sent"          # the venue answered (accepted, filled or canceled)
    REJECTED = "rejected"  # the venue refused it
    UNKNOWN = "unknown"    # the outcome is unknown: settled later by query


@dataclass(frozen=True)
class Anomaly:
    """A venue report the lifecycle does not allow (e.g. fills on an intent declared never
    placed): the reconciler turns these into halt reasons."""

    client_order_id: str
    text: str


def _none_refusal(_intent: OrderIntent) -> str | None:
    return None


def _noop(_intent: OrderIntent) -> None:
    return None


class OrderManager:
    """Intents, sends, venue reports and fill booking of one task.

    * ``journal``: the task's :class:`Journal` (intents, fills, commit queue);
    * ``venues``/``symbol``: where the orders go;
    * ``fence``: the task's :class:`LeaseFence`, checked right before every send;
    * ``order_timeout_s``: an open order older than this is cancelled by :meth:`settle_pass`;
    * ``on_fill(record) -> fee_usdt``: books a new fill into the task's ledger and returns the
      USDT value it gave the fee (stored on the record);
    * ``report_error(text)``: the task's last-error sink;
    * ``refuse_send(intent) -> reason | None``: a strategy check just before sending (stale book);
    * ``on_sending(intent)``: called once the request is about to leave (taken liquidity).
    """

    def __init__(self, *, journal: Journal, venues: Mapping[VenueId, Venue], symbol: Symbol, fence: LeaseFence,
                 order_timeout_s: float, on_fill: Callable[[FillRecord], Decimal],
                 report_error: Callable[[str], None],
                 refuse_send: Callable[[OrderIntent], str | None] = _none_refusal,
                 on_sending: Callable[[OrderIntent], None] = _noop) -> None:
        self.journal = journal
        self.venues = venues
        self.symbol = symbol
        self.fence = fence
        self.order_timeout_s = order_timeout_s
        self._on_fill = on_fill
        self._report_error = report_error
        self._refuse_send = refuse_send
        self._on_sending = on_sending
        self.task_id = journal.task_id
        self._sendable: set[str] = set()
        self._in_flight: set[str] = set()
        self._booked_qty: dict[str, Decimal] = {}
        self._events: deque[FillEvent | OrderEvent] = deque()
        #: undeclared moves refused by :meth:`apply` (a counter for tests, logs and the dashboard)
        self.refused_moves = 0
        self.anomalies: list[Anomaly] = []

    # ---- loading ----------------------------------------------------------------------

    def rebuild_booked(self) -> None:
        """Recount booked quantity per intent from the journal's fills (after loading); intents
        that are final but not fully booked stay open for the next settle pass."""
        self._booked_qty = {}
        for f in self.journal.fills:
            self._booked_qty[f.client_order_id] = self._booked_qty.get(f.client_order_id, ZERO) + f.qty
        for cid, intent in self.journal.intents.items():
            if intent.status.is_final and self.booked_qty(cid) < intent.filled_qty:
                self.journal.open_intent_ids[cid] = None

    # ---- planning and sending ------------------------------------------------------------

    def plan(self, venue: VenueId, side: Side, qty: Decimal, price: Decimal | None, leg: str,
             reduce_only: bool = False, tif: TimeInForce = TimeInForce.IOC) -> OrderIntent:
        """Journal a new limit intent (IOC unless ``tif`` says otherwise, e.g. FOK for a first
        arbitrage leg) that this process may send once it is committed."""
        intent = self.journal.new_intent(venue, self.symbol.gate, side, qty, price, leg, tif=tif,
                                         reduce_only=reduce_only)
        self._sendable.add(intent.client_order_id)
        return intent

    def is_sendable(self, client_order_id: str) -> bool:
        """True while the intent waits to be sent by this process."""
        return client_order_id in self._sendable

    def withdraw(self, intent: OrderIntent, reason: str) -> None:
        """Never send this planned intent (e.g. the task is halting): it ends ``not_sent``."""
        if intent.client_order_id in self._sendable:
            self._sendable.discard(intent.client_order_id)
            self.apply(intent, IntentEvent.SEND_REFUSED, error=reason)

    def _send_refusal(self, intent: OrderIntent) -> tuple[str | None, int]:
        """Why ``intent`` must not leave now (or None) and the expiry to send with it (wall ms)."""
        reason = self._refuse_send(intent)
        if reason is not None:
            return reason, 0
        reason = self.fence.refusal()
        if reason is not None:
            return f"fenced: {reason}", 0
        now = clock.now_ms()
        deadline = intent.send_deadline_ms or intent.created_ms + SEND_WINDOW_MS
        if now >= deadline:
            return f"send deadline passed {now - deadline} ms ago", 0
        # the venue must refuse the request once our lease could be taken over, or past the deadline
        return None, min(deadline, now + int(self.fence.valid_for_s() * 1000))

    async def send(self, intent: OrderIntent) -> SendOutcome:
        """Send one committed intent of this process, exactly once."""
        cid = intent.client_order_id
        if cid not in self._sendable or intent.status is not I.NEW or not self.journal.is_committed(cid):
            return SendOutcome.SKIPPED
        self._sendable.discard(cid)  # from here on, never again
        refusal, expires_ms = self._send_refusal(intent)
        if refusal is not None:
            self.apply(intent, IntentEvent.SEND_REFUSED, error=refusal)
            return SendOutcome.REFUSED
        self._in_flight.add(cid)
        self._on_sending(intent)
        venue = self.venues[intent.venue]
        try:
            self._trade_line("sent", intent)
            order = await venue.place_order(intent.to_request(self.symbol, expires_ms=expires_ms))
        except OutcomeUnknown as exc:
            self.apply(intent, IntentEvent.SEND_UNKNOWN, error=f"outcome unknown: {exc}")
            self._report_error(f"{intent.venue.value} {cid}: outcome unknown ({exc}); resolving by query")
            return SendOutcome.UNKNOWN
        except RateLimited as exc:  # refused before anything was created
            self.apply(intent, IntentEvent.SEND_REFUSED, error=f"RateLimited: {exc}")
            self._report_error(f"{intent.venue.value} {cid}: RateLimited: {exc}")
            return SendOutcome.REFUSED
        except OrderRejected as exc:
            event = IntentEvent.SEND_REFUSED if exc.local else IntentEvent.REJECTED
            self.apply(intent, event, error=f"OrderRejected: {exc}")
            self._report_error(f"{intent.venue.value} {cid}: OrderRejected: {exc}")
            return SendOutcome.REFUSED if exc.local else SendOutcome.REJECTED
        except VenueError as exc:  # AuthError etc.: nothing was placed
            self.apply(intent, IntentEvent.REJECTED, error=f"{type(exc).__name__}: {exc}")
            self._report_error(f"{intent.venue.value} {cid}: {type(exc).__name__}: {exc}")
            return SendOutcome.REJECTED
        finally:
            self._in_flight.discard(cid)
        self.apply_report(intent, order)
        return SendOutcome.SENT

    async def send_all(self, intents: list[OrderIntent]) -> list[SendOutcome]:
        """Send intents concurrently (the arb legs leave together), outcomes in input order.

        The first is sent from this task at once (no loop turn); the others run as tasks
        meanwhile. A venue whose request leaves the process at once (``order_write_at_once``)
        goes first: its bytes are out before the other legs' preparation, which delays a leg whose
        bytes go out on the next loop turn anyway.
        """
        if not intents:
            return []
        ordered = sorted(intents, key=lambda i: not getattr(self.venues[i.venue], "order_write_at_once", False))
        others = [asyncio.ensure_future(self.send(i)) for i in ordered[1:]]
        outcomes: dict[str, SendOutcome] = {}
        try:
            outcomes[ordered[0].client_order_id] = await self.send(ordered[0])
        finally:
            results = await asyncio.gather(*others, return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            raise failed[0]
        for intent, result in zip(ordered[1:], results):
            assert isinstance(result, SendOutcome)
            outcomes[intent.client_order_id] = result
        self.drain()
        return [outcomes[i.client_order_id] for i in intents]

    # ---- the one choke point of intent status ----------------------------------------------

    def apply(self, intent: OrderIntent, event: IntentEvent, order: Order | None = None, error: str = "") -> bool:
        """Apply ``event`` (with the venue's view ``order``, if any) to ``intent``.

        The move must be declared in :data:`~strategies.execution.lifecycle.INTENT_TRANSITIONS`;
        an undeclared one is refused: logged, counted in :attr:`refused_moves`, nothing applied
        (fills reported with it are still booked by the fill path), and a report of venue
        activity on an intent declared never placed is kept as an :class:`Anomaly`. Returns True
        when the move was applied."""
        new = next_status(intent.status, event)
        cid = intent.client_order_id
        if new is None:
            self.refused_moves += 1
            text = (f"{intent.venue.value} {cid}: refused undeclared intent move {intent.status.value} "
                    f"--{event.value}-->")
            log.warning("task %s: %s", self.task_id, text)
            if intent.status in (I.NOT_SENT, I.REJECTED) and event in (
                    IntentEvent.ACCEPTED, IntentEvent.PARTIALLY_FILLED, IntentEvent.FILLED, IntentEvent.CANCELED):
                self.anomalies.append(Anomaly(cid, f"venue reports {event.value} for {cid} on {intent.venue.value}, "
                                                   f"an order declared {intent.status.value}"))
            return False
        changed = new is not intent.status
        if order is not None:
            if order.filled_qty > intent.filled_qty:
                intent.filled_qty = order.filled_qty
                intent.avg_price = order.avg_price
                intent.fee, intent.fee_asset = order.fee, order.fee_asset
                changed = True
            if order.venue_order_id and order.venue_order_id != intent.venue_order_id:
                intent.venue_order_id = order.venue_order_id
                changed = True
        if error and error[:300] != intent.error:
            intent.error = error[:300]
            changed = True
        if new is not intent.status:
            intent.status = new
            self._trade_line(event.value, intent, error)
        if changed:
            self.journal.update_intent(intent)
        return True

    def apply_report(self, intent: OrderIntent, order: Order) -> bool:
        """Apply a venue's view of the order (REST answer or private push)."""
        return self.apply(intent, EVENT_OF_ORDER_STATUS[order.status], order)

    # ---- venue events (called on the loop thread; never raise, never await) ----------------

    def on_event(self, event: FillEvent | OrderEvent) -> None:
        """Queue one of our order/fill events (foreign ones are ignored) for :meth:`drain`."""
        cid = event.fill.client_order_id if isinstance(event, FillEvent) else event.order.client_order_id
        if cid in self.journal.intents:
            self._events.append(event)

    @property
    def pending_events(self) -> int:
        """Order/fill events received but not applied yet."""
        return len(self._events)

    def drain(self) -> int:
        """Apply queued order/fill events; returns the number of new fills booked."""
        booked = 0
        q = self._events
        while q:
            ev = q.popleft()
            if isinstance(ev, FillEvent):
                booked += self.book_fill(ev.fill)
            else:
                intent = self.journal.intents.get(ev.order.client_order_id)
                if intent is not None:
                    self.apply_report(intent, ev.order)
        return booked

    # ---- fills ------------------------------------------------------------------------------

    def book_fill(self, fill: Fill) -> bool:
        """Book one of our fills (idempotent by venue + trade id); True when it was new."""
        intent = self.journal.intents.get(fill.client_order_id)
        if intent is None:
            return False
        rec = FillRecord(task_id=self.task_id, venue=fill.venue, trade_id=fill.trade_id,
                         client_order_id=fill.client_order_id, side=fill.side, price=fill.price, qty=fill.qty,
                         qty_base=fill.qty_base, fee=fill.fee, fee_asset=fill.fee_asset,
                         ts_ms=fill.ts_ms or clock.now_ms())
        if not self.journal.record_fill(rec):
            return False
        rec.fee_usdt = self._on_fill(rec)
        self._booked_qty[rec.client_order_id] = self._booked_qty.get(rec.client_order_id, ZERO) + rec.qty
        self._trade_line("fill", intent, qty=rec.qty, price=rec.price, fee=rec.fee, fee_asset=rec.fee_asset,
                         trade_id=rec.trade_id)
        if intent.status in (I.NOT_SENT, I.REJECTED):
            self.anomalies.append(Anomaly(intent.client_order_id,
                                          f"venue filled {rec.qty} of {intent.client_order_id} on {rec.venue.value}, "
                                          f"an order declared {intent.status.value}"))
        return True

    def booked_qty(self, client_order_id: str) -> Decimal:
        """Quantity of the intent's fills booked so far (venue units)."""
        return self._booked_qty.get(client_order_id, ZERO)

    def settled(self, intent: OrderIntent) -> bool:
        """Final at the venue and every fill booked."""
        return intent.status.is_final and self.booked_qty(intent.client_order_id) >= intent.filled_qty

    def exposure(self, venue: VenueId | None = None, leg_prefix: str = "") -> Decimal:
        """Signed quantity (venue units; + buys) not in the ledger yet: what live intents may
        still fill plus what filled but is not booked (a late push, a lagging trade history).
        ``venue``/``leg_prefix`` narrow it (e.g. the perp hedges)."""
        total = ZERO
        intents = self.journal.intents
        for cid in self.journal.open_intent_ids:
            i = intents[cid]
            if (venue is not None and i.venue != venue) or not i.leg.startswith(leg_prefix):
                continue
            pending = (i.filled_qty if i.status.is_final else i.qty) - self.booked_qty(cid)
            if pending > 0:
                total += pending * i.side.sign
        return total

    # ---- resolving, cancelling, settling -----------------------------------------------------

    def _never_placed_after(self, intent: OrderIntent) -> int:
        """Wall ms after which "the venue does not know it" means the order was never placed."""
        deadline = intent.send_deadline_ms or intent.created_ms + max(SEND_WINDOW_MS, int(self.order_timeout_s * 1000))
        return deadline + CLOCK_SKEW_MARGIN_MS

    async def resolve(self, intent: OrderIntent) -> None:
        """Settle an intent's status by ``get_order`` (a NEW intent of a past process, or UNKNOWN)."""
        cid = intent.client_order_id
        try:
            order = await self.venues[intent.venue].get_order(self.symbol, cid)
        except NotFound:
            if intent.status in (I.NEW, I.UNKNOWN):
                if clock.now_ms() > self._never_placed_after(intent):
                    self.apply(intent, IntentEvent.NEVER_PLACED,
                               error="venue does not know the order after its send deadline: never placed")
                # else: a request may still be on its way (a frozen owner): ask again later
            elif intent.status is I.OPEN and intent.filled_qty == 0:
                # acknowledged once, now forgotten: Gate drops unfilled cancelled orders (docs/venues.md)
                self.apply(intent, IntentEvent.FORGOTTEN, error="venue no longer knows the unfilled order")
            else:
                self._report_error(f"{intent.venue.value} {cid}: venue does not know a partially filled order")
            return
        except VenueError as exc:
            self._report_error(f"{intent.venue.value} get_order {cid}: {type(exc).__name__}: {exc}")
            return
        self.apply_report(intent, order)
        self._trade_line("resolved", intent)

    async def cancel(self, intent: OrderIntent) -> None:
        """Cancel one of our open orders, then settle by query if the venue says it is gone."""
        try:
            order = await self.venues[intent.venue].cancel_order(self.symbol, intent.client_order_id)
        except NotFound:
            await self.resolve(intent)
            return
        except VenueError as exc:
            self._report_error(f"{intent.venue.value} cancel {intent.client_order_id}: {type(exc).__name__}: {exc}")
            return
        self.apply_report(intent, order)

    async def fetch_missing_fills(self, intent: OrderIntent) -> None:
        """Book fills the events did not deliver (the venue's filled qty is ahead of ours)."""
        if intent.filled_qty <= self.booked_qty(intent.client_order_id):
            return
        try:
            fills = await self.venues[intent.venue].order_fills(self.symbol, intent.client_order_id)
        except VenueError as exc:
            self._report_error(f"{intent.venue.value} order_fills {intent.client_order_id}: {exc}")
            return
        for f in fills:
            self.book_fill(f)

    async def settle_pass(self, cancel_all: bool, query_all: bool = False) -> bool:
        """One pass over our unsettled intents: resolve unknowns (with ``query_all``, every
        unresolved intent, as after a restart), cancel timed-out (or, with ``cancel_all``, every)
        open order, fetch missing fills. Returns True when every intent is settled (venue errors
        are reported and leave the intent for the next pass)."""
        self.drain()
        now = clock.now_ms()
        timeout_ms = int(self.order_timeout_s * 1000)
        intents = self.journal.intents
        for cid in list(self.journal.open_intent_ids):
            intent = intents[cid]
            if cid in self._in_flight or cid in self._sendable:
                continue
            if intent.status in (I.NEW, I.UNKNOWN) or (query_all and not intent.status.is_final):
                await self.resolve(intent)
            if intent.status in (I.OPEN, I.PARTIALLY_FILLED):
                if cancel_all or now - intent.created_ms >= timeout_ms:
                    await self.cancel(intent)
            if intent.status.is_final:
                await self.fetch_missing_fills(intent)
        self.drain()
        open_ids = self.journal.open_intent_ids
        for cid in [c for c in open_ids if c not in self._sendable and self.settled(intents[c])]:
            del open_ids[cid]  # settled: nothing left to do for it (re-added if it changes)
        return all(c in self._sendable for c in open_ids)

    async def sweep_prefixed(self, venue_ids: list[VenueId]) -> None:
        """Cancel every open order carrying OUR client order id prefix (never anyone else's).
        Raises VenueError when a venue cannot be reached."""
        prefix = self.journal.prefix
        for vid in venue_ids:
            for order in await self.venues[vid].open_orders(self.symbol):
                if not order.client_order_id.startswith(prefix):
                    continue
                intent = self.journal.intents.get(order.client_order_id)
                if intent is not None:
                    await self.cancel(intent)
                else:
                    await self.venues[vid].cancel_order(self.symbol, order.client_order_id)
                    self._report_error(f"{vid.value}: canceled unjournaled order {order.client_order_id} "
                                       "carrying our prefix")

    async def cancel_unjournaled(self, open_orders: Mapping[VenueId, list[Order]]) -> None:
        """Cancel open orders that carry our prefix but were never journaled (found by a
        reconciliation); foreign orders are never touched. Raises VenueError."""
        prefix = self.journal.prefix
        for vid, orders in open_orders.items():
            for order in orders:
                cid = order.client_order_id
                if cid.startswith(prefix) and cid not in self.journal.intents:
                    await self.venues[vid].cancel_order(self.symbol, cid)
                    self._report_error(f"{vid.value}: canceled unjournaled order {cid} carrying our prefix")

    # ---- the trade log ---------------------------------------------------------------------------

    def _trade_line(self, event: str, intent: OrderIntent, detail: str = "", *, qty: Decimal | None = None,
                    price: Decimal | None = None, fee: Decimal | None = None, fee_asset: str = "",
                    trade_id: str = "") -> None:
        if not trade_log.isEnabledFor(logging.INFO):
            return
        write_trade_line(trade_log, _TRADE_EVENTS[event], task_id=self.task_id, venue=intent.venue,
                         client_order_id=intent.client_order_id, side=intent.side,
                         qty=intent.qty if qty is None else qty,
                         price=(intent.avg_price or intent.price) if price is None else price,
                         fee=(intent.fee if intent.fee else None) if fee is None else fee,
                         fee_asset=fee_asset or intent.fee_asset, trade_id=trade_id or None, leg=intent.leg,
                         status=intent.status.value, filled_qty=intent.filled_qty,
                         venue_order_id=intent.venue_order_id or None, reason=detail or None)


#: lifecycle events (and the manager's own "sent", "fill", "resolved") -> trade-log events
_TRADE_EVENTS: dict[str, TradeEvent] = {
    "sent": TradeEvent.SENT, "fill": TradeEvent.FILLED, "resolved": TradeEvent.RESOLVED,
    IntentEvent.ACCEPTED.value: TradeEvent.ACKED, IntentEvent.PARTIALLY_FILLED.value: TradeEvent.ACKED,
    IntentEvent.FILLED.value: TradeEvent.ACKED, IntentEvent.CANCELED.value: TradeEvent.CANCELLED,
    IntentEvent.FORGOTTEN.value: TradeEvent.CANCELLED, IntentEvent.REJECTED.value: TradeEvent.REJECTED,
    IntentEvent.SEND_REFUSED.value: TradeEvent.NOT_SENT, IntentEvent.NEVER_PLACED.value: TradeEvent.NOT_SENT,
    IntentEvent.SEND_UNKNOWN.value: TradeEvent.UNKNOWN,
}


def order_status_event(status: OrderStatus) -> IntentEvent:
    """The lifecycle event a venue order status reports."""
    return EVENT_OF_ORDER_STATUS[status]


__all__ = ["Anomaly", "OrderManager", "SendOutcome", "order_status_event", "trade_log"]
