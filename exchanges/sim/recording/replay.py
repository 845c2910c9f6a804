"""Drive the engine's books from a :class:`~exchanges.sim.recording.Recording`.

Events are applied at their recorded offsets scaled by ``speed`` (2.0 = twice
as fast; ``speed <= 0`` = as fast as possible, yielding to the event loop at
least every :data:`YIELD_EVERY_S` of replay work so order requests and
WebSocket sends never wait behind a long burst of book updates). At the end the replay loops (``loop=True``, offsets restart; update
ids keep increasing because the engine owns them) or holds the last books.
Funding rates from the recording header are set on the engine as their
offsets pass.

Aliases (:mod:`exchanges.sim.recording.aliases`): with ``symbols`` (default: the
recording's symbol) and ``starts`` (start index of each symbol into the
events) every symbol replays the same events into its own books, circularly
from its own start, all merged on one schedule (a heap of the next event of
each symbol: O(log N) per event). Without ``loop`` each symbol plays the
recording once round (from its start to the end, then from the beginning to
its start) and holds.

Pausing (admin ``POST /_sim/book`` / ``/_sim/replay``, so a test or benchmark
owns a book): ``paused`` (a set of venues, mutable directly) skips a venue
for every symbol; :meth:`Replayer.pause_book` / :meth:`Replayer.resume` pause
single (venue, symbol) books. While every book is paused the loop idles.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections.abc import Iterable, Sequence

from exchanges import clock
from exchanges.models import MarketType, Symbol, VenueId
from exchanges.sim.engine import SimEngine
from exchanges.sim.engine.book import level_map
from exchanges.sim.recording.format import Recording

log = logging.getLogger(__name__)

YIELD_EVERY_S = 0.00005
ALL_PAUSED_POLL_S = 0.01
FUNDING_EVERY_EVENTS = 100


class Replayer:
    """Replays one recording into one engine under one or more symbols;
    ``await run()`` until the end (hold) or forever (loop). Status attributes:
    ``events_applied`` (all symbols), ``loops`` (completed rounds of the first
    symbol), ``position_ms`` (offset of the first symbol's last applied event)."""

    def __init__(self, engine: SimEngine, recording: Recording, speed: float = 1.0, loop: bool = True,
                 symbols: Sequence[Symbol] | None = None, starts: Sequence[int] | None = None) -> None:
        self.engine = engine
        self.recording = recording
        self.speed = speed
        self.loop = loop
        self.symbols: list[Symbol] = list(symbols) if symbols else [recording.symbol]
        self.starts: list[int] = list(starts) if starts is not None else [0] * len(self.symbols)
        if len(self.starts) != len(self.symbols):
            raise ValueError("starts must give one index per symbol")
        self.paused: set[VenueId] = set()
        self._paused_books: dict[VenueId, set[Symbol]] = {v: set() for v in VenueId}
        self._venues = set(recording.rules)
        self.events_applied = 0
        self.loops = 0
        self.position_ms = 0
        self.finished = False
        self._perp_venues = [v for v, info in recording.rules.items() if info.market_type is MarketType.PERP]

    # ---- pausing ------------------------------------------------------------------
    def pause_book(self, venue: VenueId, symbols: Iterable[Symbol] | None = None) -> None:
        """Stop replaying ``venue`` for ``symbols`` (None = every symbol)."""
        if symbols is None:
            self.paused.add(venue)
        else:
            self._paused_books[venue].update(symbols)

    def resume(self, venues: Iterable[VenueId] | None = None, symbols: Iterable[Symbol] | None = None) -> None:
        """Resume ``symbols`` (None = all) on ``venues`` (None = all)."""
        venues = list(venues) if venues is not None else list(VenueId)
        if symbols is None:
            for venue in venues:
                self.paused.discard(venue)
                self._paused_books[venue].clear()
            return
        wanted = set(symbols)
        for venue in venues:
            if venue in self.paused:  # a whole-venue pause becomes per-book pauses of the others
                self.paused.discard(venue)
                self._paused_books[venue].update(s for s in self.symbols if s not in wanted)
            self._paused_books[venue].difference_update(wanted)

    def is_paused(self, venue: VenueId, symbol: Symbol) -> bool:
        return venue in self.paused or symbol in self._paused_books[venue]

    def _all_paused(self) -> bool:
        n = len(self.symbols)
        return all(v in self.paused or len(self._paused_books[v]) >= n for v in self._venues)

    def status(self) -> dict:
        full = sorted(v.value for v in self._venues if v in self.paused or len(self._paused_books[v]) >= len(self.symbols))
        books = {v.value: sorted(s.base for s in syms) for v, syms in self._paused_books.items()
                 if syms and v.value not in full}
        return {"speed": self.speed, "loop": self.loop, "events_applied": self.events_applied, "loops": self.loops,
                "position_ms": self.position_ms, "paused": full, "paused_books": books,
                "symbols": len(self.symbols), "finished": self.finished}

    # ---- funding --------------------------------------------------------------------
    def set_funding(self, symbol: Symbol, t_ms: int) -> None:
        """Set the recording's funding rate in force at offset ``t_ms`` on ``symbol``'s perp."""
        for venue in self._perp_venues:
            rate = self.recording.funding_rate_at(venue, t_ms)
            if rate is not None:
                self.engine.set_funding_rate(venue, symbol, rate)

    # ---- the loop ---------------------------------------------------------------------
    async def run(self) -> None:
        events = self.recording.load()
        if not events:
            log.warning("recording %s has no events", self.recording.path)
            self.finished = True
            return
        n_events = len(events)
        first_t = events[0].t_ms
        rules = self.recording.rules
        perp = set(self._perp_venues)
        maps: list[tuple[dict, dict] | None] = [None] * n_events  # levels converted once, shared by the aliases
        # heap entries: (virtual time ms, alias index, event index)
        heap: list[tuple[float, int, int]] = []
        for k, (symbol, start) in enumerate(zip(self.symbols, self.starts)):
            self.set_funding(symbol, 0 if start == 0 else events[start].t_ms)
            heap.append((float(first_t if start == 0 else 0), k, start))
        heapq.heapify(heap)
        budget_end = time.perf_counter() + YIELD_EVERY_S
        origin = clock.monotonic_s()
        while heap:
            vt_ms, k, idx = heap[0]
            if self.speed > 0:
                delay = origin + vt_ms / 1000.0 / self.speed - clock.monotonic_s()
                if delay > 0:
                    await asyncio.sleep(delay)
                    budget_end = time.perf_counter() + YIELD_EVERY_S
            if time.perf_counter() >= budget_end:  # perf_counter: a work budget, not a timestamp
                await asyncio.sleep(0)
                budget_end = time.perf_counter() + YIELD_EVERY_S
            while self._all_paused():  # an admin/benchmark owns every book: do not spin
                await asyncio.sleep(ALL_PAUSED_POLL_S)
                origin += ALL_PAUSED_POLL_S / self.speed if self.speed > 0 else 0
            event = events[idx]
            symbol = self.symbols[k]
            if k == 0:
                self.position_ms = event.t_ms
            venue = event.venue
            if venue in rules and venue not in self.paused and symbol not in self._paused_books[venue]:
                levels = maps[idx]
                if levels is None:
                    levels = maps[idx] = (level_map(event.bids), level_map(event.asks))
                try:
                    self.engine.set_book(venue, symbol, levels[0], levels[1])
                except Exception:  # a bad event must not stop the venues
                    log.exception("replay: failed to apply event at t=%d to %s", event.t_ms, symbol)
                self.events_applied += 1
                if venue in perp and idx % FUNDING_EVERY_EVENTS == 0:
                    self.set_funding(symbol, event.t_ms)
            nxt = idx + 1
            if nxt == n_events:  # wrap: the next round starts right after the last event
                nxt = 0
                vt_ms += first_t
                self.set_funding(symbol, 0)
            else:
                vt_ms += events[nxt].t_ms - event.t_ms
            if nxt == self.starts[k]:  # this symbol completed a round
                if k == 0:
                    self.loops += 1
                if not self.loop:
                    heapq.heappop(heap)
                    continue
            heapq.heapreplace(heap, (vt_ms, k, nxt))
        self.finished = True
