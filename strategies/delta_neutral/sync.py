"""Venue reconciliation of the delta-neutral task: a mixin for DeltaNeutralTask.

* ``_ensure_connected``: start every venue, load its rules, watch books and user
  streams; each venue bounded by ``sync_timeout_s``, retried at most once a second,
  errors remembered per venue (``cannot reach gate_spot: ...``) for SYNCING's halt.
* ``_reconcile`` (once per process, before anything else runs after a start or
  restart): settle every unresolved intent by query (never by re-sending), find
  open orders carrying our client-order-id prefix, poll funding, then compare
  venue holdings with the task ledger. A venue holding LESS than the task owns
  (spot base balance, or a perp position that does not cover ours) sets
  ``halt_reason``: the task completes and ends ``halted`` with that text.
  Holding more is fine: the wallet may hold coins that are not the task's
  (seed_origin_review 7.2 #10).
* ``_poll_funding``: funding settlements of the perp since the last poll, scaled
  to the task's share of the venue position, booked once per (venue, ts_ms).
* ``_sweep_prefixed_orders``: cancel open orders carrying OUR prefix only (7.2 #11).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from exchanges import clock
from exchanges.models import VenueId
from exchanges.venue import VenueError
from state.records import FundingRecord

from strategies.delta_neutral.policy import PERP, SPOT_VENUES

ZERO = Decimal(0)
ALL_VENUES = (VenueId.GATE_SPOT, VenueId.MEXC_SPOT, VenueId.GATE_PERP)
FUNDING_POLL_S = 60.0
CONNECT_RETRY_MS = 1000  # SYNCING retries an unreachable venue at most once a second


class VenueSync:
    """Mixin: connection and reconciliation against the venues (see module docstring)."""

    async def _ensure_connected(self) -> bool:
        """Start every venue not yet started (each bounded by ``sync_timeout_s``); at most one
        attempt per CONNECT_RETRY_MS. False (error remembered) while one cannot be reached."""
        if self._connected:
            return True
        self._listen()
        now = clock.now_ms()
        if now < self._next_connect_ms:
            return False
        self._next_connect_ms = now + CONNECT_RETRY_MS

        async def one(vid: VenueId) -> None:
            venue = self.venues[vid]
            await venue.start()
            self.infos[vid] = await venue.symbol_info(self.symbol)
            await venue.watch_book(self.symbol)
            await venue.watch_user(self.symbol)

        pending = [v for v in ALL_VENUES if v not in self._ready_venues]
        results = await asyncio.gather(*(asyncio.wait_for(one(v), self.config.sync_timeout_s) for v in pending),
                                       return_exceptions=True)
        errors = []
        for vid, res in zip(pending, results):
            if isinstance(res, (VenueError, OSError, asyncio.TimeoutError)):
                text = str(res) or ("timed out" if isinstance(res, asyncio.TimeoutError) else "")
                errors.append(f"{vid.value}: {type(res).__name__}: {text}")
            elif isinstance(res, BaseException):
                raise res  # a bug, not a network problem: the runner marks the task failed
            else:
                self._ready_venues.add(vid)
        if errors:
            self._connect_error = "; ".join(errors)
            if self.last_error != f"cannot reach {self._connect_error}":
                self.set_error(f"cannot reach {self._connect_error}")
            return False
        self._connect_error = ""
        self._connected = True
        return True

    async def _reconcile(self) -> bool:
        """Settle every unresolved intent with the venues, find open orders carrying
        our prefix, then check venue holdings against the ledger (halt on shortfall)."""
        try:
            settled = await self._settle_pass(cancel_all=False, query_all=not self._reconcile_queried)
            self._reconcile_queried = True
            if not settled:
                return False
            prefix = f"arb{self.task_id}"
            balances = {v: await self.venues[v].balances() for v in SPOT_VENUES}
            positions = await self.venues[PERP].positions(self.symbol)
            for vid in ALL_VENUES:
                for order in await self.venues[vid].open_orders(self.symbol):
                    cid = order.client_order_id
                    if cid.startswith(prefix) and cid not in self.intents:
                        # ours by prefix but never journaled here: cancel it, never touch foreign ones
                        await self.venues[vid].cancel_order(self.symbol, cid)
                        self.set_error(f"{vid.value}: canceled unjournaled order {cid} carrying our prefix")
            await self._poll_funding(force=True)
        except VenueError as exc:
            self.set_error(f"reconcile: {type(exc).__name__}: {exc}")
            return False
        base = self.symbol.base.upper()
        for v in SPOT_VENUES:
            held = {a.upper(): b.total for a, b in balances[v].items()}
            self._balances[v] = held
            self._quote_free[v] = balances[v][self.symbol.quote].free if self.symbol.quote in balances[v] else ZERO
            owned = self.ledger.inventory_base(v)
            tol = self.infos[v].size_step
            if held.get(base, ZERO) + tol < owned:
                self.context.halt_reason = (f"{v.value}: venue holds {held.get(base, ZERO)} {base} but the task "
                                            f"ledger owns {owned}; refusing to trade on a broken ledger")
        pos = next((p for p in positions if p.symbol == self.symbol), None)
        venue_base = pos.size_base if pos else ZERO
        self._position_contracts = pos.size_contracts if pos else ZERO
        ours = self.ledger.inventory_base(PERP)
        tol = self.infos[PERP].contract_multiplier * max(self.infos[PERP].size_step, Decimal(1))
        if (ours < 0 and venue_base > ours + tol) or (ours > 0 and venue_base < ours - tol):
            self.context.halt_reason = (f"gate_perp: venue position {venue_base} {base} does not cover the task's "
                                        f"{ours}; refusing to trade on a broken ledger")
        self._reconciled = True
        return True

    async def _poll_funding(self, force: bool = False) -> None:
        now = clock.now_ms()
        if not force and now - self._last_funding_poll_ms < FUNDING_POLL_S * 1000:
            return
        self._last_funding_poll_ms = now
        perp = self.venues[PERP]
        try:
            rate = await perp.funding_rate(self.symbol)
            self._funding_rate = rate.rate if rate else None
            since = self.context.funding_since_ms or self.context.started_ms or now
            payments = await perp.funding_payments(self.symbol, since)
        except VenueError as exc:
            self.set_error(f"funding: {type(exc).__name__}: {exc}")
            return
        ours, venue_pos = self.ledger.inventory_base(PERP), self._position_contracts
        if venue_pos and self.infos.get(PERP):
            share = min(Decimal(1), abs(ours) / abs(venue_pos * self.infos[PERP].contract_multiplier))
        else:
            share = Decimal(1) if ours else ZERO
        for p in payments:
            rec = FundingRecord(task_id=self.task_id, venue=PERP, ts_ms=p.ts_ms, amount_usdt=p.amount * share,
                                rate=p.rate)
            if self.record_funding(rec):
                self.ledger.apply_funding(rec.amount_usdt)
            self.context.funding_since_ms = max(self.context.funding_since_ms, p.ts_ms + 1)

    async def _sweep_prefixed_orders(self) -> bool:
        """Cancel open orders carrying OUR prefix at every venue (never anyone else's)."""
        prefix = f"arb{self.task_id}"
        try:
            for vid in ALL_VENUES:
                for order in await self.venues[vid].open_orders(self.symbol):
                    if order.client_order_id.startswith(prefix):
                        intent = self.intents.get(order.client_order_id)
                        if intent is not None:
                            await self._cancel(intent)
                        else:
                            await self.venues[vid].cancel_order(self.symbol, order.client_order_id)
        except VenueError as exc:
            self.set_error(f"completing sweep: {type(exc).__name__}: {exc}")
            return False
        return True
