"""Which symbols a delta-neutral task can run on: listed and tradable on every venue (pure).

A task needs the pair tradable on Gate spot and on MEXC spot and a Gate USDT perpetual that is
trading (not delisted, not in reduce-only). Each venue says so in its own spelling; the
discovery clients (:mod:`exchanges.discovery`) turn that into :class:`Listing` with a
``reason`` in the venue's words. Here the listings are matched by base and quote.

A venue whose listing endpoint failed (``None``) cannot exclude anything: its symbols are
"unchecked" there and the round is partial (the caller names the venue).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from exchanges.discovery.types import Listing
from exchanges.models import Symbol, VenueId

VENUES: tuple[VenueId, ...] = (VenueId.GATE_SPOT, VenueId.GATE_PERP, VenueId.MEXC_SPOT)


@dataclass(frozen=True, slots=True)
class Exclusion:
    """A symbol left out, with one reason per venue that refused it."""

    symbol: Symbol
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Discovery:
    """``symbols``: tradable everywhere that answered (sorted); ``excluded``: symbols of the
    quote listed on at least two venues but refused by one (the near misses, sorted);
    ``excluded_counts``: every refusal reason -> number of symbols (all symbols of the
    quote); ``unchecked``: venues whose listing could not be read."""

    symbols: list[Symbol]
    excluded: list[Exclusion] = field(default_factory=list)
    excluded_counts: dict[str, int] = field(default_factory=dict)
    unchecked: list[VenueId] = field(default_factory=list)


def discover(listings: Mapping[VenueId, Sequence[Listing] | None], quote: str) -> Discovery:
    """Match ``listings`` (per venue; None = that venue's listing failed) by base and ``quote``.

    A symbol is kept when every venue that answered lists it as tradable; a venue that
    answered but does not list it excludes it ("not listed on mexc_spot"), as does one that
    lists it untradable (its ``reason``). When no venue answered the result is empty."""
    quote = quote.upper()
    answered = {v: list(ls) for v, ls in listings.items() if ls is not None and v in VENUES}
    unchecked = [v for v in VENUES if v not in answered]
    if not answered:
        return Discovery(symbols=[], unchecked=unchecked)
    by_symbol: dict[Symbol, dict[VenueId, Listing]] = {}
    for venue, entries in answered.items():
        for listing in entries:
            if listing.symbol.quote == quote:
                by_symbol.setdefault(listing.symbol, {})[venue] = listing
    kept: list[Symbol] = []
    excluded: list[Exclusion] = []
    counts: dict[str, int] = {}
    for symbol, seen in by_symbol.items():
        reasons: list[str] = []
        for venue in answered:
            found = seen.get(venue)
            if found is None:
                reasons.append(f"not listed on {venue.value}")
            elif not found.tradable:
                reasons.append(f"{venue.value}: {found.reason or 'not tradable'}")
        if not reasons:
            kept.append(symbol)
            continue
        for reason in reasons:
            counts[reason] = counts.get(reason, 0) + 1
        if len(seen) >= 2:
            excluded.append(Exclusion(symbol, tuple(reasons)))
    excluded.sort(key=lambda e: (e.symbol.base, e.symbol.quote))
    return Discovery(symbols=sorted(kept), excluded=excluded, excluded_counts=dict(sorted(counts.items())),
                     unchecked=unchecked)
