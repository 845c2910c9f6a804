"""Where the scanner reads public market data: the real venues or the local simulator.

``paper`` and ``live`` read the real venues' public endpoints (no keys):
Gate ``https://api.gateio.ws/api/v4`` (spot and futures share the host), ``wss://api.gateio.ws/ws/v4/``,
``wss://fx-ws.gateio.ws/v4/ws/usdt``; MEXC ``https://api.mexc.com``, ``wss://wbs-api.mexc.com/ws``
(docs/venues.md sections 1.1, 2.1, 3.1, 4.1). ``$ARB_SCAN_ENDPOINTS`` (a JSON object with
any of the keys of :class:`DiscoveryEndpoints`) overrides them, e.g. to point a test at a
local server. ``sim`` reads the running simulator's endpoints object (``run.py sim --json``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import msgspec

from exchanges.gateio import constants as gate_constants
from exchanges.mexc import constants as mexc_constants

ENDPOINTS_ENV = "ARB_SCAN_ENDPOINTS"


class DiscoveryEndpoints(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Base URLs: Gate REST root (``.../api/v4``), Gate spot and USDT-futures WebSockets, MEXC
    REST root (without ``/api/v3``) and MEXC WebSocket."""

    gate_rest: str = gate_constants.REST_URL
    gate_spot_ws: str = gate_constants.SPOT_WS_URL
    gate_perp_ws: str = gate_constants.PERP_WS_URL
    mexc_rest: str = mexc_constants.DEFAULT_REST_URL
    mexc_ws: str = mexc_constants.DEFAULT_WS_URL


def public_endpoints(environ: Mapping[str, str] | None = None) -> DiscoveryEndpoints:
    """The real venues' public endpoints with ``$ARB_SCAN_ENDPOINTS`` applied.

    Raises ValueError (one line) for malformed JSON, an unknown key or a non-string URL."""
    env = os.environ if environ is None else environ
    raw = env.get(ENDPOINTS_ENV, "").strip()
    if not raw:
        return DiscoveryEndpoints()
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"${ENDPOINTS_ENV} is not JSON: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) and v for v in data.values()):
        raise ValueError(f"${ENDPOINTS_ENV} must be a JSON object of non-empty URL strings")
    try:
        return msgspec.convert(data, DiscoveryEndpoints)
    except msgspec.ValidationError as exc:
        raise ValueError(f"${ENDPOINTS_ENV}: {exc}; known keys: "
                         f"{', '.join(DiscoveryEndpoints.__struct_fields__)}") from None


def sim_endpoints(endpoints: Mapping[str, Any]) -> DiscoveryEndpoints:
    """From the simulator's endpoints object (``{"gate_spot": {"rest_url", "ws_url"}, ...}``).

    Raises ValueError when a venue or URL is missing."""
    try:
        return DiscoveryEndpoints(gate_rest=str(endpoints["gate_spot"]["rest_url"]),
                                  gate_spot_ws=str(endpoints["gate_spot"]["ws_url"]),
                                  gate_perp_ws=str(endpoints["gate_perp"]["ws_url"]),
                                  mexc_rest=str(endpoints["mexc_spot"]["rest_url"]),
                                  mexc_ws=str(endpoints["mexc_spot"]["ws_url"]))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"simulator endpoints lack {exc}") from None
