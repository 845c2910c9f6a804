"""Gate.io v4 connectors: :class:`GateSpotVenue` (spot) and :class:`GatePerpVenue` (USDT perpetual).

Files: ``constants`` (URLs, labels, limits), ``auth`` (signing), ``schemas`` (wire Structs),
``parse`` (wire -> models), ``rest`` (signed REST client), ``ws`` (stream + subscriptions),
``book_sync`` (snapshot + diff sync per symbol), ``base`` (shared venue machinery),
``spot`` / ``futures`` (the Venue implementations).
"""

from exchanges.gateio.futures import GatePerpVenue
from exchanges.gateio.spot import GateSpotVenue

__all__ = ["GatePerpVenue", "GateSpotVenue"]
