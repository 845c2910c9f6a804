"""Paper mode: the simulator's engine fed from the venues' LIVE public book
streams instead of a recording (``--mode paper``); fills stay simulated.

Usage (server composition)::

    rec = await paper_recording("NEIROETH", sim_dir)      # header-only recording with live rules
    server = SimServer(sim_dir=..., recording=rec, replay=False)
    await server.start()
    feed = PaperFeed(server.engine, rec.symbol)           # live tops -> engine.set_book
    await feed.start() ... await feed.stop()

The streams and URL injection are those of :class:`exchanges.sim.record.LiveFeed`
(Gate ``spot.book_ticker`` / ``futures.book_ticker``, MEXC aggre bookTicker
protobuf); books hold one level per side. Needs internet unless ``endpoints``
point at a local server (tests).
"""

from __future__ import annotations

import logging
from pathlib import Path

import aiohttp

from exchanges import clock
from exchanges.models import Symbol, VenueId
from exchanges.sim.engine import SimEngine
from exchanges.sim.record import DEFAULT_ENDPOINTS, Levels, LiveFeed, fetch_rules
from exchanges.sim.recording import Recording, RecordingWriter, make_header, read_recording

log = logging.getLogger(__name__)


async def paper_recording(symbol: str | Symbol, out_dir: Path, endpoints: dict[str, str] | None = None) -> Recording:
    """Write ``out_dir/paper-<SYMBOL>.jsonl.gz``: a recording with the LIVE
    symbol rules and no events, so the simulator can be built from it."""
    sym = symbol if isinstance(symbol, Symbol) else Symbol.parse(symbol)
    eps = {**DEFAULT_ENDPOINTS, **(endpoints or {})}
    async with aiohttp.ClientSession() as session:
        rules, notes = await fetch_rules(session, sym, eps)
    path = Path(out_dir) / f"paper-{sym.base}.jsonl.gz"
    header = make_header(sym, clock.now_ms(), rules, source="paper mode: live public streams",
                         notes="; ".join(notes) or "rules from the venues' REST metadata")
    with RecordingWriter(path, header):
        pass
    return read_recording(path)


class PaperFeed:
    """Feeds ``engine`` books of ``symbol`` from live public streams.
    ``updates`` counts books set per venue; ``feed.malformed`` bad messages."""

    def __init__(self, engine: SimEngine, symbol: Symbol, endpoints: dict[str, str] | None = None,
                 venues: tuple[VenueId, ...] = tuple(VenueId)) -> None:
        self.engine = engine
        self.symbol = symbol
        self.venues = set(venues)
        self.updates: dict[VenueId, int] = {v: 0 for v in VenueId}
        self.feed = LiveFeed(symbol, self._on_top, endpoints)

    def _on_top(self, venue: VenueId, bids: Levels, asks: Levels) -> None:
        if venue not in self.venues:
            return
        self.engine.set_book(venue, self.symbol, bids, asks)
        self.updates[venue] += 1

    async def start(self) -> None:
        """Connect the three streams (returns at once; books fill as pushes arrive)."""
        await self.feed.start()

    async def stop(self) -> None:
        await self.feed.stop()
