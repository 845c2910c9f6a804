"""MEXC spot v3 connector (docs/venues.md sections 3-4).

``from exchanges.mexc import MexcSpotVenue`` (lazy, so importing the protobuf
module ``exchanges.mexc.proto.mexc_push_pb2`` alone stays light).
"""

from __future__ import annotations

from typing import Any

__all__ = ["MexcSpotVenue"]


def __getattr__(name: str) -> Any:
    if name == "MexcSpotVenue":
        from exchanges.mexc.spot import MexcSpotVenue

        return MexcSpotVenue
    raise AttributeError(name)
