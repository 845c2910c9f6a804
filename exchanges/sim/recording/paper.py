"""Paper mode: the simulator's engine fed from the venues' LIVE public book
streams instead of a recording (``--mode paper``); fills stay simulated.

Usage (server composition)::

    rec = await paper_recording("NEIROETH", sim_dir)      # header-only recording with live rules
    server = SimServer(sim_dir=..., recording=rec, replay=False)
    await server.start()
    feed = PaperFeed(server.engine, rec.symbol)           # live tops -> engine.set_book
    await feed.start() ... await feed.stop()

The streams and URL injection are those of :class:`exchanges.sim.recording.record.LiveFeed`
(Gate ``spot.book_ticker`` / ``futures.book_ticker``, MEXC aggre bookTicker
protobuf); books hold one level per side. Needs internet unless ``endpoints``
point at a local server (tests).

Endpoint injection for a simulator started as a separate process:
``$ARB_SIM_PAPER_ENDPOINTS`` (or ``sim --paper-endpoints``) holds a JSON object
with any of the keys of :data:`exchanges.sim.recording.record.DEFAULT_ENDPOINTS`
(``gate_rest``, ``gate_spot_ws``, ``gate_perp_ws``, ``mexc_rest``, ``mexc_ws``);
:func:`paper_endpoints` parses it.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import aiohttp

from exchanges import clock
from exchanges.models import Symbol, VenueId
from exchanges.sim.engine import SimEngine
from exchanges.sim.recording.record import DEFAULT_ENDPOINTS, Levels, LiveFeed, fetch_rules
from exchanges.sim.recording.format import Recording, RecordingWriter, make_header, read_recording

log = logging.getLogger(__name__)

PAPER_ENDPOINTS_ENV = "ARB_SIM_PAPER_ENDPOINTS"


def paper_endpoints(text: str | None = None) -> dict[str, str]:
    """Endpoint overrides from ``text`` (a JSON object) or, when None, from
    ``$ARB_SIM_PAPER_ENDPOINTS``; {} when neither is set. Raises ValueError for
    malformed JSON, a non-object, an unknown key or a non-string URL."""
    raw = text if text is not None else os.environ.get(PAPER_ENDPOINTS_ENV, "")
    if not raw.strip():
        return {}
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("paper endpoints must be a JSON object")
    unknown = set(data) - set(DEFAULT_ENDPOINTS)
    if unknown:
        raise ValueError(f"unknown paper endpoint keys {sorted(unknown)}; known: {sorted(DEFAULT_ENDPOINTS)}")
    if not all(isinstance(v, str) and v for v in data.values()):
        raise ValueError("paper endpoint URLs must be non-empty strings")
    return dict(data)


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

    def status(self) -> dict:
        """``{"symbol", "updates": {venue: n}, "connected": {venue: bool}, "errors": {venue: text},
        "malformed": n}`` (``errors``: the last stream error of each venue not connected)."""
        return {"symbol": str(self.symbol), "updates": {v.value: n for v, n in self.updates.items()},
                "connected": {v.value: c for v, c in self.feed.connected.items()},
                "errors": {v.value: e for v, e in self.feed.last_error.items() if e},
                "malformed": self.feed.malformed}

    async def start(self) -> None:
        """Connect the three streams (returns at once; books fill as pushes arrive)."""
        await self.feed.start()

    async def stop(self) -> None:
        await self.feed.stop()
