"""The in-memory order journal of one task: order intents, fills and funding, and the queue of what
the task's next commit must write.

Invariant 1 ("intent before effect") lives here: :meth:`Journal.new_intent` queues an intent that
the task's next commit makes durable; :meth:`Journal.is_committed` tells when it may be sent.
Fills and funding are de-duplicated by (venue, trade id) and (venue, settlement time). The
journal never decides a status: :class:`strategies.execution.orders.OrderManager` does, through
its one ``apply`` choke point, and hands the changed intent to :meth:`Journal.update_intent`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from exchanges.clock import now_ms
from exchanges.models import OrderType, Side, TimeInForce, VenueId
from state.records import FillRecord, FundingRecord, IntentStatus, OrderIntent
from strategies.execution.fence import send_deadline_ms


class HasNextSeq(Protocol):
    """The checkpointed context field the journal draws client order id sequences from."""

    next_seq: int


@dataclass
class PendingWrites:
    """What the next commit must write (taken by :meth:`Journal.pending`)."""

    new_intents: list[OrderIntent] = field(default_factory=list)
    intent_updates: list[OrderIntent] = field(default_factory=list)
    fills: list[FillRecord] = field(default_factory=list)
    funding: list[FundingRecord] = field(default_factory=list)
    #: client order id -> change generation written (a later change must still be written)
    generations: dict[str, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.new_intents or self.intent_updates or self.fills or self.funding)


class Journal:
    """Intents, fills and funding of task ``task_id``, with the pending-commit queues.

    ``context.next_seq`` (checkpointed with the task) is the next client order id sequence.
    """

    def __init__(self, task_id: str, context: HasNextSeq) -> None:
        self.task_id = task_id
        self.context = context
        self.intents: dict[str, OrderIntent] = {}
        #: client order ids that may still need work (not final, fills not all booked, or just
        #: changed), in creation order: settled ones are pruned, so per-pass work does not grow
        #: with the history of intents (a long session has thousands)
        self.open_intent_ids: dict[str, None] = {}
        self.fills: list[FillRecord] = []
        self.funding: list[FundingRecord] = []
        self._fill_keys: set[tuple[str, str]] = set()
        self._funding_keys: set[tuple[str, int]] = set()
        self._new_intents: dict[str, OrderIntent] = {}
        self._intent_updates: dict[str, OrderIntent] = {}
        self._new_fills: list[FillRecord] = []
        self._new_funding: list[FundingRecord] = []
        self._generation: dict[str, int] = {}

    async def load(self, store: Any) -> None:
        """Load the task's intents, fills (in booking order) and funding from ``store``; move
        ``next_seq`` past every stored intent."""
        for intent in await store.intents(self.task_id):
            self.intents[intent.client_order_id] = intent
            self.context.next_seq = max(self.context.next_seq, intent.seq + 1)
            if not intent.status.is_final:
                self.open_intent_ids[intent.client_order_id] = None
        for fill in await store.fills(self.task_id):
            self.fills.append(fill)
            self._fill_keys.add((fill.venue.value, fill.trade_id))
        for rec in await store.funding(self.task_id):
            self.funding.append(rec)
            self._funding_keys.add((rec.venue.value, rec.ts_ms))

    # ---- intents ----------------------------------------------------------------------

    def next_client_order_id(self) -> tuple[str, int]:
        """A fresh deterministic client order id: ``arb`` + task id + 6-digit sequence
        (alphanumeric; fits Gate ``text`` after ``t-`` and MEXC ``newClientOrderId``)."""
        seq = self.context.next_seq
        self.context.next_seq = seq + 1
        return f"arb{self.task_id}{seq:06d}", seq

    @property
    def prefix(self) -> str:
        """The client order id prefix of every order of this task."""
        return f"arb{self.task_id}"

    def new_intent(self, venue: VenueId, symbol: str, side: Side, qty: Decimal, price: Decimal | None,
                   leg: str, *, tif: TimeInForce = TimeInForce.IOC, order_type: OrderType = OrderType.LIMIT,
                   reduce_only: bool = False) -> OrderIntent:
        """Queue a new intent (status ``new``, send deadline set); committed with the task's next
        transition or checkpoint. Never send it before that."""
        client_order_id, seq = self.next_client_order_id()
        ts = now_ms()
        intent = OrderIntent(
            client_order_id=client_order_id, task_id=self.task_id, seq=seq, venue=venue, symbol=symbol,
            side=side, qty=qty, price=price, order_type=order_type, tif=tif, reduce_only=reduce_only, leg=leg,
            status=IntentStatus.NEW, created_ms=ts, updated_ms=ts, send_deadline_ms=send_deadline_ms(ts),
        )
        self.intents[client_order_id] = intent
        self._new_intents[client_order_id] = intent
        self.open_intent_ids[client_order_id] = None
        return intent

    def is_committed(self, client_order_id: str) -> bool:
        """True once the intent is durable (safe to send)."""
        return client_order_id in self.intents and client_order_id not in self._new_intents

    def update_intent(self, intent: OrderIntent) -> None:
        """Queue a changed intent (status, fills, venue id) for the next commit."""
        intent.updated_ms = now_ms()
        self._generation[intent.client_order_id] = self._generation.get(intent.client_order_id, 0) + 1
        self.intents[intent.client_order_id] = intent
        self.open_intent_ids[intent.client_order_id] = None  # re-checked by the next pass
        if intent.client_order_id in self._new_intents:
            self._new_intents[intent.client_order_id] = intent
        else:
            self._intent_updates[intent.client_order_id] = intent

    def unresolved_intents(self) -> list[OrderIntent]:
        """Intents whose venue status is not final (a subset of ``open_intent_ids``)."""
        return [i for c in self.open_intent_ids if not (i := self.intents[c]).status.is_final]

    # ---- fills and funding --------------------------------------------------------------

    def record_fill(self, fill: FillRecord) -> bool:
        """Queue a fill; False (and ignored) if this (venue, trade id) is already booked."""
        return self._record(self._fill_keys, (fill.venue.value, fill.trade_id), fill, self.fills, self._new_fills)

    def record_funding(self, rec: FundingRecord) -> bool:
        """Queue a funding settlement; False if this (venue, time) is already booked."""
        return self._record(self._funding_keys, (rec.venue.value, rec.ts_ms), rec, self.funding, self._new_funding)

    @staticmethod
    def _record(keys: set[Any], key: Any, item: Any, booked: list[Any], pending: list[Any]) -> bool:
        if key in keys:
            return False
        keys.add(key)
        booked.append(item)
        pending.append(item)
        return True

    # ---- the commit queue ----------------------------------------------------------------

    def pending(self) -> PendingWrites:
        """What the next commit must write (the lists are copies; the rows are encoded before the
        commit awaits, so a change made meanwhile is written by a later commit)."""
        new = list(self._new_intents.values())
        updates = [u for k, u in self._intent_updates.items() if k not in self._new_intents]
        gens = {i.client_order_id: self._generation.get(i.client_order_id, 0) for i in (*new, *updates)}
        return PendingWrites(new_intents=new, intent_updates=updates, fills=list(self._new_fills),
                             funding=list(self._new_funding), generations=gens)

    def committed(self, writes: PendingWrites) -> None:
        """``writes`` (taken by :meth:`pending`) are durable now: drop them from the queue. An
        intent changed again since :meth:`pending` stays queued as an update."""
        for intent in (*writes.new_intents, *writes.intent_updates):
            cid = intent.client_order_id
            self._new_intents.pop(cid, None)
            if self._generation.get(cid, 0) == writes.generations.get(cid, 0):
                self._intent_updates.pop(cid, None)
            else:
                self._intent_updates[cid] = intent
        del self._new_fills[: len(writes.fills)]
        del self._new_funding[: len(writes.funding)]

    def has_pending(self) -> bool:
        return bool(self._new_intents or self._intent_updates or self._new_fills or self._new_funding)


__all__ = ["HasNextSeq", "Journal", "PendingWrites"]
