"""The scan itself: one REST round (discovery + first ranking), then an optional streaming window.

:class:`Scanner` glues the venue clients (:mod:`exchanges.discovery`) to the pure figures
(:mod:`strategies.scanner`):

* :meth:`Scanner.rest_round` -- one bulk request per venue and endpoint, discovery by the
  rules of :mod:`strategies.scanner.discovery`, a row of figures per symbol, ranked; the
  symbols that appeared or disappeared since the previous round are named.
* :meth:`Scanner.stream_window` -- book tickers of the best ``STREAM_MAX_SYMBOLS`` (at most)
  candidates over the venues' WebSockets for ``window_s`` seconds; every spot update is an
  observation of whether the edge was executable (edge after fees >= ``min_edge_bps`` and the
  top of book covering every minimum order of both legs); then the rows are rebuilt from the
  latest books with the window figures and re-ranked.

Time comes from :mod:`exchanges.clock` (monotonic seconds for the window).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec

from exchanges import clock
from exchanges.discovery.client import DiscoveryClient
from exchanges.discovery.endpoints import DiscoveryEndpoints
from exchanges.discovery.stream import BookTickerStreams, StreamStats
from exchanges.discovery.types import EndpointFailure, Market, Quote, VenueSnapshot
from exchanges.models import Symbol, VenueId
from strategies.scanner.discovery import VENUES, Discovery, discover
from strategies.scanner.edge import direction
from strategies.scanner.rank import Row, ScanParams, build_row, rank_rows
from strategies.scanner.window import EdgeWindow

STREAM_MAX_SYMBOLS = 100  # 4 MEXC connections of <= 30 topics; one Gate connection per market
CONNECT_TIMEOUT_S = 10.0


@dataclass
class RoundResult:
    """What one round found. ``rows`` ranked best first; ``appeared``/``disappeared``: symbols
    new or gone since the previous round; ``failures``: endpoints without a usable answer;
    ``malformed``: ``"venue endpoint"`` -> entries skipped; ``streamed``: symbols of the window
    (empty without one); ``stream_stats``: per venue; ``window_s``: its length; ``interrupted``:
    the window was cut short (Ctrl-C)."""

    round: int
    ts_ms: int
    discovery: Discovery
    rows: list[Row]
    snapshots: dict[VenueId, VenueSnapshot]
    appeared: list[Symbol] = field(default_factory=list)
    disappeared: list[Symbol] = field(default_factory=list)
    failures: list[EndpointFailure] = field(default_factory=list)
    malformed: dict[str, int] = field(default_factory=dict)
    streamed: list[Symbol] = field(default_factory=list)
    stream_stats: dict[VenueId, StreamStats] = field(default_factory=dict)
    window_s: float | None = None
    interrupted: bool = False

    @property
    def answered(self) -> list[VenueId]:
        """Venues whose listing endpoint answered this round."""
        return [v for v in VENUES if self.snapshots[v].answered]


def _markets(symbol: Symbol, snapshots: dict[VenueId, VenueSnapshot]) -> dict[VenueId, Market]:
    return {v: snap.markets[symbol] for v, snap in snapshots.items() if symbol in snap.markets}


class _WindowBook:
    """One streamed symbol: its current markets and its :class:`EdgeWindow`."""

    __slots__ = ("symbol", "markets", "window")

    def __init__(self, symbol: Symbol, markets: dict[VenueId, Market], start_s: float) -> None:
        self.symbol = symbol
        self.markets = markets
        self.window = EdgeWindow(start_s)


class Scanner:
    """Rounds of scanning against ``endpoints`` (module doc); ``await close()`` when done."""

    def __init__(self, endpoints: DiscoveryEndpoints, params: ScanParams, quote: str = "USDT",
                 client: DiscoveryClient | None = None) -> None:
        self.endpoints = endpoints
        self.params = params
        self.quote = quote.upper()
        self.client = client or DiscoveryClient(endpoints)
        self.rounds = 0
        self._previous: set[Symbol] | None = None
        self.processed = 0  # book updates applied by windows (all venues)
        #: the current (or last) window's accumulators per symbol, and when it started counting
        #: (monotonic s; None until the streams of the current window are up): progress for a caller
        self.windows: dict[Symbol, EdgeWindow] = {}
        self.window_started_s: float | None = None

    async def close(self) -> None:
        await self.client.close()

    async def rest_round(self) -> RoundResult:
        """One REST round (module doc)."""
        self.rounds += 1
        snapshots = await self.client.fetch_round()
        found = discover({v: s.listings for v, s in snapshots.items()}, self.quote)
        rows = rank_rows(build_row(sym, _markets(sym, snapshots), self.params) for sym in found.symbols)
        now = set(found.symbols)
        appeared = sorted(now - self._previous) if self._previous is not None else []
        disappeared = sorted(self._previous - now) if self._previous is not None else []
        self._previous = now
        failures = [f for v in VENUES for f in snapshots[v].failures]
        malformed = {f"{v.value} {endpoint}": n for v in VENUES for endpoint, n in snapshots[v].malformed.items()}
        return RoundResult(self.rounds, clock.now_ms(), found, rows, snapshots, appeared, disappeared, failures,
                           malformed)

    async def stream_window(self, result: RoundResult, window_s: float, max_symbols: int = STREAM_MAX_SYMBOLS,
                            stop: asyncio.Event | None = None) -> RoundResult:
        """Stream the best ``max_symbols`` (<= STREAM_MAX_SYMBOLS) of ``result`` for ``window_s``
        seconds (ends early when ``stop`` is set), then re-rank (module doc)."""
        chosen = [Symbol(r.base, r.quote) for r in result.rows[:min(max_symbols, STREAM_MAX_SYMBOLS)]]
        if not chosen:
            return result
        start_s = clock.monotonic_s()
        books = {sym: _WindowBook(sym, _markets(sym, result.snapshots), start_s) for sym in chosen}
        self.windows = {sym: book.window for sym, book in books.items()}
        self.window_started_s = None
        by_name: dict[tuple[VenueId, str], _WindowBook] = {}
        names: dict[VenueId, list[str]] = {v: [] for v in VENUES}
        for book in books.values():
            for venue, market in book.markets.items():
                by_name[(venue, market.info.venue_symbol.upper())] = book
                names[venue].append(market.info.venue_symbol)
        params = self.params

        def on_quote(venue: VenueId, venue_symbol: str, quote: Quote) -> None:
            book = by_name.get((venue, venue_symbol))
            if book is None:
                return
            self.processed += 1
            market = book.markets[venue]
            book.markets[venue] = msgspec.structs.replace(market, quote=quote)
            if venue is VenueId.GATE_PERP:
                return
            gs, ms = book.markets.get(VenueId.GATE_SPOT), book.markets.get(VenueId.MEXC_SPOT)
            if gs is None or ms is None:
                return
            best = None
            for d in (direction(gs, ms, params.max_order_usdt), direction(ms, gs, params.max_order_usdt)):
                if d is not None and (best is None or d.edge_bps > best.edge_bps):
                    best = d
            executable = best is not None and best.depth_ok and best.edge_bps >= params.min_edge_bps
            book.window.observe(clock.monotonic_s(), executable, best.edge_bps if best else None)

        streams = BookTickerStreams(self.endpoints, names, on_quote)
        await streams.start()
        try:
            await streams.wait_connected(min(CONNECT_TIMEOUT_S, window_s))
            start_s = clock.monotonic_s()  # the window counts from when the streams are up
            for book in books.values():
                book.window.rebase(start_s)
            self.window_started_s = start_s
            await self._wait(window_s, stop)
        finally:
            end_s = clock.monotonic_s()
            await streams.close()
        rows = [build_row(b.symbol, b.markets, params, b.window.figures(end_s)) for b in books.values()]
        rest = [r for r in result.rows if Symbol(r.base, r.quote) not in books]
        result.rows = rank_rows(rows + rest)
        result.streamed = chosen
        result.stream_stats = streams.stats
        result.window_s = round(end_s - start_s, 3)
        result.interrupted = stop is not None and stop.is_set()
        return result

    @staticmethod
    async def _wait(window_s: float, stop: asyncio.Event | None) -> None:
        if stop is None:
            await asyncio.sleep(window_s)
            return
        try:
            await asyncio.wait_for(stop.wait(), window_s)
        except asyncio.TimeoutError:
            pass


def refused_symbols(result: RoundResult) -> list[str]:
    """``"venue symbol: message"`` for every streamed symbol a venue refused."""
    return [f"{venue.value} {name}: {message}" for venue, stats in result.stream_stats.items()
            for name, message in sorted(stats.refused.items())]


def unconnected_streams(result: RoundResult) -> list[VenueId]:
    """Venues whose book-ticker stream never connected during the window."""
    return [venue for venue, stats in result.stream_stats.items() if stats.connects == 0]


def stream_totals(result: RoundResult) -> tuple[int, int, int]:
    """(frames received, updates decoded, malformed frames) over every venue of the window."""
    stats: Sequence[StreamStats] = list(result.stream_stats.values())
    return sum(s.frames for s in stats), sum(s.updates for s in stats), sum(s.malformed for s in stats)
