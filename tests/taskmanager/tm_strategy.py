"""A small test strategy and a file-backed fake venue for the runner's tests.

``TickerTask`` (strategy name ``tm_test``) walks the real FSM: SYNCING reconciles every
unresolved intent with the venue by client order id (``get_order``; ``NotFound`` -> not_sent),
ANALYZING trades every ``interval_s`` until ``max_orders`` intents exist, MANAGING_ORDERS journals
one intent (checkpoint) and sends it, WAITING_ORDERS books the fill, MONITORING waits
``interval_s`` (a time guard freezegun drives) and signals ANALYZING again.

``FileVenue`` appends every accepted order to a JSON-lines file, so a venue's "truth" survives
the SIGKILL of the process that placed the order: the crash test reads it to prove no intent
was duplicated or lost. ``fake_venue_factory`` has ``exchanges.factory.build_venues``'s signature
and reads the file location from ``$TM_FAKE_VENUE_DIR``.
"""

from __future__ import annotations

import json
import os
import signal
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from exchanges.clock import now_ms
from exchanges.models import MarketType, Order, OrderRequest, OrderStatus, Side, Symbol, VenueId
from exchanges.venue import NotFound
from state.records import FillRecord, IntentStatus
from strategies import registry
from strategies.base import BaseContext, StrategyTask


class TickerConfig(msgspec.Struct, kw_only=True):
    symbol: str = "NEIROETH"
    interval_s: float = 0.05
    max_orders: int = 1000
    fail_in_state: str = ""  # raise RuntimeError in this state's handler (failure isolation)
    hang_completing: bool = False  # never leave COMPLETING (stop timeout)
    sync_wait_s: float = 0.0  # stay in SYNCING this long (stop while syncing)
    flatten_on_exit: bool = False
    self_kill_at_seq: int = 0  # SIGKILL this process after journaling intent #N, before sending it


class TickerContext(BaseContext, kw_only=True):
    orders_done: int = 0
    pending: str = ""  # client order id sent and not yet settled
    syncs: int = 0
    resumed_from: str = ""


class FileVenue:
    """Venue-protocol subset backed by an append-only JSON-lines file (one order per line)."""

    market_type = MarketType.SPOT

    def __init__(self, venue_id: VenueId, path: Path) -> None:
        self.venue_id = venue_id
        self.path = path
        self.closed = False
        self.listeners: list[Any] = []

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self.closed = True

    def add_listener(self, listener: Any) -> None:
        self.listeners.append(listener)

    def remove_listener(self, listener: Any) -> None:
        if listener in self.listeners:
            self.listeners.remove(listener)

    def _orders(self) -> dict[str, dict]:
        if not self.path.exists():
            return {}
        out: dict[str, dict] = {}
        for line in self.path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                out.setdefault(row["client_order_id"], row)
        return out

    async def place_order(self, request: OrderRequest) -> Order:
        row = {"client_order_id": request.client_order_id, "side": request.side.value, "qty": str(request.qty),
               "price": str(request.price)}
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        return self._order(row)

    async def get_order(self, symbol: Symbol, client_order_id: str) -> Order:
        row = self._orders().get(client_order_id)
        if row is None:
            raise NotFound(f"unknown order {client_order_id}", venue=self.venue_id.value)
        return self._order(row)

    def _order(self, row: dict) -> Order:
        qty = Decimal(row["qty"])
        return Order(venue=self.venue_id, client_order_id=row["client_order_id"], symbol=Symbol("NEIROETH"),
                     side=Side(row["side"]), qty=qty, price=Decimal(row["price"]), status=OrderStatus.FILLED,
                     venue_order_id="v" + row["client_order_id"][-6:], filled_qty=qty,
                     avg_price=Decimal(row["price"]))


def fake_venue_factory(mode: str, symbol: Symbol, home: Path, *, live_confirmed: bool) -> dict:
    """``build_venues`` stand-in: one FileVenue on gate_spot writing ``$TM_FAKE_VENUE_DIR/orders.jsonl``."""
    directory = Path(os.environ.get("TM_FAKE_VENUE_DIR") or home)
    directory.mkdir(parents=True, exist_ok=True)
    return {VenueId.GATE_SPOT: FileVenue(VenueId.GATE_SPOT, directory / "orders.jsonl")}


@registry.register
class TickerTask(StrategyTask):
    strategy_name = "tm_test"
    config_type = TickerConfig
    context_type = TickerContext

    started_with: bool | None = None
    shut_down = False

    @property
    def venue(self) -> FileVenue:
        return self.venues[VenueId.GATE_SPOT]

    async def on_start(self, resumed: bool) -> None:
        self.started_with = resumed
        if resumed:  # resume = reconcile, then continue from the checkpointed state
            self.context.resumed_from = self.state.value
            await self._reconcile()
            await self.checkpoint("reconciled on resume")

    async def on_shutdown(self) -> None:
        self.shut_down = True

    def _maybe_fail(self) -> None:
        if self.config.fail_in_state and self.config.fail_in_state == self.state.value:
            raise RuntimeError(f"injected failure in {self.state.value}")

    async def on_syncing(self):
        self._maybe_fail()
        if self.time_in_state_s() < self.config.sync_wait_s:
            return None
        await self._reconcile()
        self.context.syncs += 1
        return self.go("synced", f"reconciled {len(self.intents)} intents")

    async def _reconcile(self) -> None:
        """Settle every unresolved intent by querying the venue (never by re-sending)."""
        for intent in self.unresolved_intents():
            try:
                order = await self.venue.get_order(Symbol("NEIROETH"), intent.client_order_id)
            except NotFound:
                intent.status = IntentStatus.NOT_SENT
                self.journal.update_intent(intent)
                continue
            self._settle(intent, order)
        self.context.pending = ""

    async def on_analyzing(self):
        self._maybe_fail()
        if len(self.intents) >= self.config.max_orders:
            return self.go("idle", "order budget used")
        return self.go("trade", "tick")

    async def on_managing_orders(self):
        self._maybe_fail()
        intent = self.new_intent(VenueId.GATE_SPOT, "NEIROETH_USDT", Side.BUY, Decimal("10"), Decimal("0.05"),
                                 "arb_buy")
        self.context.pending = intent.client_order_id
        await self.checkpoint("intent journaled")  # intent before effect
        if intent.seq == self.config.self_kill_at_seq:
            os.kill(os.getpid(), signal.SIGKILL)  # crash inside the send window
        order = await self.venue.place_order(intent.to_request())
        self._settle(intent, order)
        return self.go("orders_sent", intent.client_order_id)

    async def on_waiting_orders(self):
        self._maybe_fail()
        self.context.pending = ""
        self.context.orders_done += 1
        return self.go("orders_settled", "filled")

    async def on_monitoring(self):
        self._maybe_fail()
        if self.time_in_state_s() >= self.config.interval_s and len(self.intents) < self.config.max_orders:
            return self.go("signal", "interval elapsed")
        return None

    async def on_completing(self):
        if self.config.hang_completing:
            return None
        return self.go("completed", "nothing open")

    def _settle(self, intent: Any, order: Order) -> None:
        intent.status = IntentStatus.FILLED
        intent.filled_qty = order.filled_qty
        intent.avg_price = order.avg_price
        intent.venue_order_id = order.venue_order_id
        self.journal.update_intent(intent)
        self.record_fill(FillRecord(task_id=self.task_id, venue=VenueId.GATE_SPOT, trade_id="t" + intent.client_order_id,
                                    client_order_id=intent.client_order_id, side=intent.side, price=intent.price,
                                    qty=intent.qty, qty_base=intent.qty, ts_ms=now_ms()))

    def pnl(self) -> dict[str, str]:
        return {"realized_pnl_usdt": "0", "unrealized_pnl_usdt": "0", "fees_usdt": "0", "funding_usdt": "0",
                "net_delta_base": str(Decimal(10) * len(self.fills)), "trades": str(len(self.fills)),
                "volume_usdt": str(Decimal("0.5") * len(self.fills))}

    def live_view(self) -> dict[str, Any]:
        return {"inventory_base": {"gate_spot": str(10 * len(self.fills))}, "open_orders": 1 if self.context.pending else 0,
                "book_age_ms": {"gate_spot": 5}, "spreads_bps": {"gate_spot>mexc_spot": "1.5"}}
