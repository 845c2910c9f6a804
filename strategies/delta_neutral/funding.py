"""Funding of the task's short perp: polled from the venue, attributed to the task by its position
at each settlement (:func:`strategies.execution.reconcile.attribute_funding`), booked once per
(venue, settlement time) into the journal and the ledger.

Polling: at least every :data:`FUNDING_POLL_S`, right after the venue's announced next funding
time, and once more (forced) before the task's final summary, so a settlement paid near the end
of a run is in its PnL.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from exchanges import clock
from exchanges.models import VenueId
from exchanges.venue import VenueError
from strategies.execution.journal import Journal
from strategies.execution.reconcile import Reconciler, attribute_funding

FUNDING_POLL_S = 60.0
#: poll this long after the announced settlement time (the venue books it a moment later)
FUNDING_SETTLE_DELAY_MS = 1500


class FundingBook:
    """Funding polls and booking for one task's perp position on ``perp_venue``."""

    def __init__(self, reconciler: Reconciler, journal: Journal, perp_venue: VenueId,
                 apply_funding: Callable[[Decimal], None], report_error: Callable[[str], None]) -> None:
        self.reconciler = reconciler
        self.journal = journal
        self.perp_venue = perp_venue
        self._apply_funding = apply_funding
        self._report_error = report_error
        #: the current funding rate per interval (None until polled, or on venues without one)
        self.rate: Decimal | None = None
        #: the venue's next settlement time (wall ms; 0 unknown)
        self.next_funding_ms = 0
        self._last_poll_ms = 0

    def due(self, now_ms: int | None = None) -> bool:
        """True when a poll is due (periodic, or the announced settlement has just passed)."""
        now = clock.now_ms() if now_ms is None else now_ms
        if now - self._last_poll_ms >= FUNDING_POLL_S * 1000:
            return True
        settle = self.next_funding_ms + FUNDING_SETTLE_DELAY_MS if self.next_funding_ms else 0
        return bool(settle) and self._last_poll_ms < settle <= now

    async def poll(self, since_ms: int) -> int | None:
        """Fetch settlements since ``since_ms`` and book the task's share of each new one.
        Returns the next ``since_ms`` (past the newest settlement seen), or None when the venue
        could not be asked (error reported)."""
        self._last_poll_ms = clock.now_ms()
        try:
            rate, next_ms, payments, venue_base = await self.reconciler.funding(since_ms)
        except VenueError as exc:
            self._report_error(f"funding: {type(exc).__name__}: {exc}")
            return None
        self.rate, self.next_funding_ms = rate, next_ms
        newest = since_ms
        for rec in attribute_funding(self.journal.task_id, self.perp_venue, payments, self.journal.fills, venue_base):
            newest = max(newest, rec.ts_ms + 1)
            if rec.amount_usdt == 0:
                continue  # the task held no position at that settlement
            if self.journal.record_funding(rec):
                self._apply_funding(rec.amount_usdt)
        return newest


__all__ = ["FUNDING_POLL_S", "FUNDING_SETTLE_DELAY_MS", "FundingBook"]
