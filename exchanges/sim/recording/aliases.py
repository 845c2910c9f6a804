"""Serve one recording under several symbol names ("aliases").

``alias_symbols(base, n)`` names the symbols: the recording's own symbol first,
then ``<prefix>001`` ... ``<prefix><n-1>`` where ``prefix`` is the first 5
letters of the base (``NEIROETH`` -> ``NEIRO001``, ``NEIRO002``, ...; the
number gets more digits past 999), all quoted in the recording's quote asset.

Every alias gets the recording's rules unchanged (tick, step, minimums,
multiplier, fees, funding interval) on every venue of the recording
(:func:`alias_rules`), its own books, orders and funding in the engine, and
replays the same events from its own start position (:func:`alias_starts`):
alias ``k`` starts ``frac(k * 0.618...)`` of the way into the recording
(golden-ratio spacing, so any number of aliases is spread evenly and the
result is deterministic), and plays the recording circularly from there.
Alias 0 (the recording's symbol) starts at the beginning, so a simulator with
one alias behaves exactly as without aliasing.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import msgspec

from exchanges.models import Symbol, SymbolInfo, VenueId
from exchanges.sim.recording.format import RecEvent, Recording

MAX_ALIASES = 10_000
_GOLDEN = 0.6180339887498949
_PREFIX_LEN = 5


def alias_symbols(symbol: Symbol, count: int) -> list[Symbol]:
    """``count`` symbols: ``symbol`` then ``<prefix>001`` ... (module doc).

    Raises ValueError if ``count`` is not in 1..MAX_ALIASES.
    """
    if not isinstance(count, int) or count < 1 or count > MAX_ALIASES:
        raise ValueError(f"alias count must be an integer in 1..{MAX_ALIASES}, got {count!r}")
    prefix = symbol.base[:_PREFIX_LEN]
    width = max(3, len(str(count - 1)))
    out = [symbol]
    taken = {symbol.base}
    i = 1
    while len(out) < count:
        base = f"{prefix}{i:0{width}d}"
        i += 1
        if base not in taken:
            taken.add(base)
            out.append(Symbol(base, symbol.quote))
    return out


def _venue_symbol(venue: VenueId, symbol: Symbol) -> str:
    return symbol.mexc if venue is VenueId.MEXC_SPOT else symbol.gate


def alias_rules(recording: Recording, symbols: Sequence[Symbol]) -> list[SymbolInfo]:
    """The recording's rules per venue, copied for every symbol of ``symbols``."""
    out = []
    for symbol in symbols:
        for venue, info in recording.rules.items():
            out.append(msgspec.structs.replace(info, symbol=symbol, venue_symbol=_venue_symbol(venue, symbol)))
    return out


def alias_starts(events: Sequence[RecEvent], count: int) -> list[int]:
    """Start index into ``events`` of each of ``count`` aliases (module doc);
    alias 0 starts at 0. All zeros for an empty recording."""
    if not events:
        return [0] * count
    duration_ms = events[-1].t_ms
    times = [e.t_ms for e in events]
    starts = [0]
    for k in range(1, count):
        offset_ms = int(duration_ms * ((k * _GOLDEN) % 1.0))
        starts.append(min(bisect.bisect_left(times, offset_ms), len(events) - 1))
    return starts


def initial_books(events: Sequence[RecEvent], start: int, venues: Sequence[VenueId]) -> dict[VenueId, RecEvent]:
    """The book of each venue at position ``start``: the latest event of that
    venue before ``start``, else (nothing before it) its first event from ``start`` on."""
    wanted = set(venues)
    found: dict[VenueId, RecEvent] = {}
    for i in range(start - 1, -1, -1):
        if len(found) == len(wanted):
            return found
        ev = events[i]
        if ev.venue in wanted and ev.venue not in found:
            found[ev.venue] = ev
    for ev in events[start:]:
        if len(found) == len(wanted):
            break
        if ev.venue in wanted and ev.venue not in found:
            found[ev.venue] = ev
    return found
