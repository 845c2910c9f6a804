"""The in-memory order journal of a strategy task: order intents, fills and funding, and the
queue of what the next commit must write (a mixin of :class:`strategies.base.StrategyTask`).

Invariant 1 ("intent before effect") lives here: :meth:`TaskJournal.new_intent` queues an intent
that the task's next commit makes durable; :meth:`TaskJournal.is_committed` tells when it may be
sent. Fills and funding are de-duplicated by (venue, trade id) and (venue, time).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from exchanges.clock import now_ms
from exchanges.models import OrderType, Side, TimeInForce, VenueId
from state.records import FillRecord, FundingRecord, IntentStatus, OrderIntent


class TaskJournal:
    """Intents, fills and funding of one task, with the pending-commit queues.

    Expects ``task_id`` and ``context.next_seq`` on the object; call :meth:`_init_journal` from
    ``__init__``.
    """

    task_id: str
    context: Any

    def _init_journal(self) -> None:
        self.intents: dict[str, OrderIntent] = {}
        #: client order ids that may still need work (not final, or just changed), in creation
        #: order: the strategy prunes the settled ones, so per-pass work does not grow with the
        #: history of intents (a long session has thousands)
        self.open_intent_ids: dict[str, None] = {}
        self.fills: list[FillRecord] = []
        self.funding: list[FundingRecord] = []
        self._fill_keys: set[tuple[str, str]] = set()
        self._funding_keys: set[tuple[str, int]] = set()
        self._new_intents: dict[str, OrderIntent] = {}
        self._intent_updates: dict[str, OrderIntent] = {}
        self._new_fills: list[FillRecord] = []
        self._new_funding: list[FundingRecord] = []

    async def _load_journal(self, store: Any) -> None:
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

    def next_client_order_id(self) -> tuple[str, int]:
        """A fresh deterministic client order id: ``arb`` + task id + 6-digit
        sequence (alphanumeric; fits Gate ``text`` after ``t-`` and MEXC)."""
        seq = self.context.next_seq
        self.context.next_seq = seq + 1
        return f"arb{self.task_id}{seq:06d}", seq

    def new_intent(self, venue: VenueId, symbol: str, side: Side, qty: Decimal, price: Decimal | None,
                   leg: str, *, tif: TimeInForce = TimeInForce.IOC, order_type: OrderType = OrderType.LIMIT,
                   reduce_only: bool = False) -> OrderIntent:
        """Queue a new intent (status ``new``); committed with the next
        transition or :meth:`checkpoint`. Do not send it before that."""
        client_order_id, seq = self.next_client_order_id()
        ts = now_ms()
        intent = OrderIntent(
            client_order_id=client_order_id, task_id=self.task_id, seq=seq, venue=venue, symbol=symbol,
            side=side, qty=qty, price=price, order_type=order_type, tif=tif, reduce_only=reduce_only, leg=leg,
            status=IntentStatus.NEW, created_ms=ts, updated_ms=ts,
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
        self.intents[intent.client_order_id] = intent
        self.open_intent_ids[intent.client_order_id] = None  # re-checked by the next pass
        if intent.client_order_id in self._new_intents:
            self._new_intents[intent.client_order_id] = intent
        else:
            self._intent_updates[intent.client_order_id] = intent

    def record_fill(self, fill: FillRecord) -> bool:
        """Queue a fill; False (and ignored) if this (venue, trade id) is already booked."""
        key = (fill.venue.value, fill.trade_id)
        if key in self._fill_keys:
            return False
        self._fill_keys.add(key)
        self.fills.append(fill)
        self._new_fills.append(fill)
        return True

    def record_funding(self, rec: FundingRecord) -> bool:
        """Queue a funding payment; False if already booked."""
        key = (rec.venue.value, rec.ts_ms)
        if key in self._funding_keys:
            return False
        self._funding_keys.add(key)
        self.funding.append(rec)
        self._new_funding.append(rec)
        return True

    def unresolved_intents(self) -> list[OrderIntent]:
        """Intents whose venue status is not final (a subset of ``open_intent_ids``)."""
        return [i for c in self.open_intent_ids if not (i := self.intents[c]).status.is_final]


__all__ = ["TaskJournal"]
