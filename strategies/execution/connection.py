"""Connections of one task to its venues: start each venue, load its symbol rules, watch its book
and private streams. Each venue attempt is bounded by ``connect_timeout_s`` and retried at most
once per ``retry_ms``; the errors are kept per venue (``cannot reach gate_spot: ...``) so the task
can halt with a reason naming the venue.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping

from exchanges import clock
from exchanges.models import Symbol, SymbolInfo, VenueId
from exchanges.venue import Venue, VenueError, VenueListener

CONNECT_RETRY_MS = 1000


class VenueConnections:
    """Connects ``venue_ids`` of ``venues`` for ``symbol``; :attr:`infos` holds their rules."""

    def __init__(self, venues: Mapping[VenueId, Venue], symbol: Symbol, venue_ids: Iterable[VenueId],
                 connect_timeout_s: float, retry_ms: int = CONNECT_RETRY_MS) -> None:
        self.venues = venues
        self.symbol = symbol
        self.venue_ids = tuple(venue_ids)
        self.connect_timeout_s = connect_timeout_s
        self.retry_ms = retry_ms
        self.infos: dict[VenueId, SymbolInfo] = {}
        self.connected = False
        #: "<venue>: <error>; ..." of the last failed attempt ("" once connected)
        self.error = ""
        self._ready: set[VenueId] = set()
        self._next_attempt_ms = 0
        self._listeners: list[VenueListener] = []

    @property
    def ready_venues(self) -> frozenset[VenueId]:
        """Venues started, with rules loaded and streams watched."""
        return frozenset(self._ready)

    def listen(self, listener: VenueListener) -> None:
        """Register ``listener`` on every venue (once)."""
        if listener not in self._listeners:
            for v in self.venue_ids:
                self.venues[v].add_listener(listener)
            self._listeners.append(listener)

    def unlisten_all(self) -> None:
        for listener in self._listeners:
            for v in self.venue_ids:
                self.venues[v].remove_listener(listener)
        self._listeners.clear()

    async def connect(self) -> bool:
        """Start every venue not yet started; at most one attempt per ``retry_ms``. True once all
        are connected; False (with :attr:`error` set) while one cannot be reached. A failure that
        is not a network or venue error (a bug) is raised."""
        if self.connected:
            return True
        now = clock.now_ms()
        if now < self._next_attempt_ms:
            return False
        self._next_attempt_ms = now + self.retry_ms

        async def one(vid: VenueId) -> None:
            venue = self.venues[vid]
            await venue.start()
            self.infos[vid] = await venue.symbol_info(self.symbol)
            await venue.watch_book(self.symbol)
            await venue.watch_user(self.symbol)

        pending = [v for v in self.venue_ids if v not in self._ready]
        results = await asyncio.gather(*(asyncio.wait_for(one(v), self.connect_timeout_s) for v in pending),
                                       return_exceptions=True)
        errors = []
        for vid, res in zip(pending, results):
            if isinstance(res, (VenueError, OSError, asyncio.TimeoutError)):
                text = str(res) or ("timed out" if isinstance(res, asyncio.TimeoutError) else "")
                errors.append(f"{vid.value}: {type(res).__name__}: {text}")
            elif isinstance(res, BaseException):
                raise res
            else:
                self._ready.add(vid)
        if errors:
            self.error = "; ".join(errors)
            return False
        self.error = ""
        self.connected = True
        return True


__all__ = ["CONNECT_RETRY_MS", "VenueConnections"]
