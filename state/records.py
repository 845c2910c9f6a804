"""Stored records: what the store reads and writes (msgspec Structs).

Times are integer milliseconds since the epoch (UTC). Prices, sizes and money
are ``Decimal``. Quantities follow :mod:`exchanges.models`: base units on spot
venues, contracts on the perpetual (``qty_base`` carries the base equivalent).
"""

from __future__ import annotations

from decimal import Decimal
from enum import Enum

import msgspec

from exchanges.models import OrderRequest, OrderType, Side, Symbol, TimeInForce, VenueId

ZERO = Decimal(0)


class State(str, Enum):
    """The nine FSM states (docs/design.md section 5)."""

    IDLE = "IDLE"
    SYNCING = "SYNCING"
    ANALYZING = "ANALYZING"
    REBALANCING = "REBALANCING"
    MANAGING_ORDERS = "MANAGING_ORDERS"
    WAITING_ORDERS = "WAITING_ORDERS"
    MONITORING = "MONITORING"
    COMPLETING = "COMPLETING"
    FINALIZING = "FINALIZING"


class TaskStatus(str, Enum):
    """Operator-facing status, separate from the FSM state."""

    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"
    STOPPED = "stopped"
    COMPLETED = "completed"
    FAILED = "failed"
    HALTED = "halted"

    @property
    def is_terminal(self) -> bool:
        return self in (TaskStatus.STOPPED, TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.HALTED)


class IntentStatus(str, Enum):
    """Lifecycle of an order intent.

    ``new``: committed; whether the request reached the venue is not yet known.
    ``unknown``: the send timed out / 5xx'd: settle by querying, never re-send.
    ``not_sent``: proved never placed (the venue does not know the id after
    the send window closed, or the request was refused locally).
    """

    NEW = "new"
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    UNKNOWN = "unknown"
    NOT_SENT = "not_sent"

    @property
    def is_final(self) -> bool:
        return self in (IntentStatus.FILLED, IntentStatus.CANCELED, IntentStatus.REJECTED, IntentStatus.NOT_SENT)


class TaskRecord(msgspec.Struct, kw_only=True):
    """One row of ``tasks``. ``config``, ``context`` and ``pnl`` are JSON text."""

    task_id: str
    strategy: str
    symbol: str
    mode: str = "sim"
    config: str = "{}"
    status: TaskStatus = TaskStatus.RUNNING
    state: State = State.IDLE
    created_ms: int = 0
    updated_ms: int = 0
    state_entered_ms: int = 0
    owner_id: str | None = None
    owner_pid: int | None = None
    owner_host: str | None = None
    heartbeat_ms: int = 0
    version: int = 0
    context: str = "{}"
    pnl: str = "{}"
    last_error: str = ""
    #: planned run length in seconds (``tasks create --duration``; 0 = until stopped), counted from
    #: ``started_ms``, the first time any process drove the task (0 = never driven yet)
    duration_s: float = 0.0
    started_ms: int = 0


class OrderIntent(msgspec.Struct, kw_only=True):
    """A journaled order: committed before any request for it leaves the process."""

    client_order_id: str
    task_id: str
    seq: int
    venue: VenueId
    symbol: str
    side: Side
    qty: Decimal
    price: Decimal | None = None
    order_type: OrderType = OrderType.LIMIT
    tif: TimeInForce = TimeInForce.IOC
    reduce_only: bool = False
    leg: str = ""
    status: IntentStatus = IntentStatus.NEW
    venue_order_id: str = ""
    filled_qty: Decimal = ZERO
    avg_price: Decimal | None = None
    fee: Decimal = ZERO
    fee_asset: str = ""
    created_ms: int = 0
    updated_ms: int = 0
    error: str = ""
    #: wall-clock ms after which the request is never sent (and the venue refuses it); 0 on
    #: intents journaled before deadlines existed (strategies/execution/fence.py)
    send_deadline_ms: int = 0

    def to_request(self, symbol: Symbol | None = None, expires_ms: int = 0) -> OrderRequest:
        """The venue request for this intent (same client order id); ``expires_ms``: the wall-clock
        ms after which the venue must refuse it (0 = none)."""
        return OrderRequest(
            client_order_id=self.client_order_id,
            symbol=symbol or Symbol.parse(self.symbol),
            side=self.side,
            qty=self.qty,
            price=self.price,
            order_type=self.order_type,
            tif=self.tif,
            reduce_only=self.reduce_only,
            expires_ms=expires_ms,
        )


class FillRecord(msgspec.Struct, kw_only=True):
    """One of our executions; unique per (task_id, venue, trade_id)."""

    task_id: str
    venue: VenueId
    trade_id: str
    client_order_id: str
    side: Side
    price: Decimal
    qty: Decimal
    qty_base: Decimal
    fee: Decimal = ZERO
    fee_asset: str = ""
    fee_usdt: Decimal = ZERO
    ts_ms: int = 0


class FundingRecord(msgspec.Struct, kw_only=True):
    """A funding settlement on the task's perp position; unique per (task_id, venue, ts_ms)."""

    task_id: str
    venue: VenueId
    ts_ms: int
    amount_usdt: Decimal
    rate: Decimal = ZERO


class TransitionRecord(msgspec.Struct, kw_only=True):
    """One journal row: a state change (or a status event with src == dst)."""

    task_id: str
    version: int = 0
    ts_ms: int = 0
    src: str
    dst: str
    trigger: str
    reason: str = ""


class ControlRequest(msgspec.Struct, kw_only=True):
    """A stop/pause request written by another process; the owner acks it."""

    id: int
    task_id: str
    action: str
    flatten: bool = False
    created_ms: int = 0
    acked_ms: int = 0
