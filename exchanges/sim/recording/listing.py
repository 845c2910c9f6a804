"""Per-venue listing states of aliased symbols (``sim --alias-listing SPEC``).

So a scanner can be tested against venues that do not list every symbol everywhere: SPEC is a
comma-separated list of ``SYMBOL:VENUE=STATE`` with ``VENUE`` one of ``gate_spot``,
``gate_perp``, ``mexc_spot`` and ``STATE``

* ``absent`` -- the venue does not list the symbol at all (its books still replay, unseen);
* ``off`` (or ``delisted``, ``disabled``, ``untradable``) -- listed but not tradable, shown in
  the venue's own spelling: Gate spot ``trade_status: "untradable"``, Gate perp
  ``status: "delisted"``, MEXC ``status: "2"`` with ``isSpotTradingAllowed: false`` and left
  out of ``/api/v3/defaultSymbols``.

Example: ``NEIRO001:mexc_spot=absent,NEIRO002:gate_perp=delisted,NEIRO003:mexc_spot=disabled``.
``SYMBOL`` is a base (``NEIRO001``) or pair (``NEIRO001_USDT``) of a served symbol.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import Enum

import msgspec

from exchanges.models import Symbol, SymbolInfo, VenueId


class ListingState(str, Enum):
    ABSENT = "absent"
    OFF = "off"


_STATES = {"absent": ListingState.ABSENT, "off": ListingState.OFF, "delisted": ListingState.OFF,
           "disabled": ListingState.OFF, "untradable": ListingState.OFF}

Listing = dict[tuple[VenueId, Symbol], ListingState]


def parse_listing(spec: str | None, symbols: Sequence[Symbol]) -> Listing:
    """Parse SPEC (module doc) against the served ``symbols``; {} for None/empty.

    Raises ValueError (one line) for a malformed item, an unknown venue, state or symbol."""
    out: Listing = {}
    by_base = {s.base: s for s in symbols}
    for item in (part.strip() for part in (spec or "").split(",")):
        if not item:
            continue
        name, sep, rest = item.partition(":")
        venue_name, eq, state_name = rest.partition("=")
        if not sep or not eq:
            raise ValueError(f"--alias-listing: {item!r} is not SYMBOL:VENUE=STATE")
        try:
            venue = VenueId(venue_name.strip().lower())
        except ValueError:
            raise ValueError(f"--alias-listing: unknown venue {venue_name!r} in {item!r}; "
                             f"venues: {', '.join(v.value for v in VenueId)}") from None
        state = _STATES.get(state_name.strip().lower())
        if state is None:
            raise ValueError(f"--alias-listing: unknown state {state_name!r} in {item!r}; "
                             f"states: {', '.join(_STATES)}")
        try:
            symbol = by_base.get(Symbol.parse(name).base)
        except ValueError:
            symbol = None
        if symbol is None:
            raise ValueError(f"--alias-listing: {name!r} is not a served symbol")
        out[(venue, symbol)] = state
    return out


def apply_listing(rules: Iterable[SymbolInfo], listing: Listing) -> list[SymbolInfo]:
    """``rules`` without the absent (venue, symbol) pairs and with ``tradable=False`` on the off ones."""
    out = []
    for info in rules:
        state = listing.get((info.venue, info.symbol))
        if state is ListingState.ABSENT:
            continue
        out.append(msgspec.structs.replace(info, tradable=False) if state is ListingState.OFF else info)
    return out
