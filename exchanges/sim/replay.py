"""Drive the engine's books from a :class:`~exchanges.sim.recording.Recording`.

Events are applied at their recorded offsets scaled by ``speed`` (2.0 = twice
as fast; ``speed <= 0`` = as fast as possible, yielding to the event loop at
least every :data:`YIELD_EVERY_S` of replay work so order requests and
WebSocket sends never wait behind a long burst of book updates). At the end the replay loops (``loop=True``, offsets restart; update
ids keep increasing because the engine owns them) or holds the last books.
Funding rates from the recording header are set on the engine as their
offsets pass. Venues in ``paused`` are skipped (admin ``POST /_sim/book``
pauses a venue so a test or benchmark owns its book).
"""

from __future__ import annotations

import asyncio
import logging
import time

from exchanges import clock
from exchanges.models import MarketType, VenueId
from exchanges.sim.engine import SimEngine
from exchanges.sim.recording import Recording

log = logging.getLogger(__name__)

YIELD_EVERY_S = 0.00005
ALL_PAUSED_POLL_S = 0.01


class Replayer:
    """Replays one recording into one engine; ``await run()`` until the end
    (hold) or forever (loop). Attributes for status: ``events_applied``,
    ``loops``, ``position_ms`` (offset of the last applied event)."""

    def __init__(self, engine: SimEngine, recording: Recording, speed: float = 1.0, loop: bool = True) -> None:
        self.engine = engine
        self.recording = recording
        self.speed = speed
        self.loop = loop
        self.paused: set[VenueId] = set()
        self.events_applied = 0
        self.loops = 0
        self.position_ms = 0
        self.finished = False
        self._perp_venues = [v for v, info in recording.rules.items() if info.market_type is MarketType.PERP]

    def status(self) -> dict:
        return {"speed": self.speed, "loop": self.loop, "events_applied": self.events_applied, "loops": self.loops,
                "position_ms": self.position_ms, "paused": sorted(v.value for v in self.paused),
                "finished": self.finished}

    def _all_paused(self) -> bool:
        return bool(self.paused) and self.paused.issuperset(self.recording.rules)

    def _set_funding(self, t_ms: int) -> None:
        for venue in self._perp_venues:
            rate = self.recording.funding_rate_at(venue, t_ms)
            if rate is not None:
                self.engine.set_funding_rate(venue, self.recording.symbol, rate)

    async def run(self) -> None:
        events = self.recording.load()
        symbol = self.recording.symbol
        if not events:
            log.warning("recording %s has no events", self.recording.path)
            self.finished = True
            return
        budget_end = time.perf_counter() + YIELD_EVERY_S
        while True:
            start = clock.monotonic_s()
            self._set_funding(0)
            for i, event in enumerate(events):
                if self.speed > 0:
                    delay = start + event.t_ms / 1000.0 / self.speed - clock.monotonic_s()
                    if delay > 0:
                        await asyncio.sleep(delay)
                        budget_end = time.perf_counter() + YIELD_EVERY_S
                if time.perf_counter() >= budget_end:  # perf_counter: a work budget, not a timestamp
                    await asyncio.sleep(0)
                    budget_end = time.perf_counter() + YIELD_EVERY_S
                while self._all_paused():  # an admin/benchmark owns every book: do not spin
                    await asyncio.sleep(ALL_PAUSED_POLL_S)
                    start += ALL_PAUSED_POLL_S / self.speed if self.speed > 0 else 0
                self.position_ms = event.t_ms
                if event.venue in self.paused or event.venue not in self.recording.rules:
                    continue
                try:
                    self.engine.set_book(event.venue, symbol, event.bids, event.asks)
                except Exception:  # a bad event must not stop the venues
                    log.exception("replay: failed to apply event at t=%d", event.t_ms)
                self.events_applied += 1
                if self._perp_venues and i % 100 == 0:
                    self._set_funding(event.t_ms)
            self.loops += 1
            if not self.loop:
                self.finished = True
                return
            await asyncio.sleep(0)
