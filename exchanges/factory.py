"""Build the three venues for a run mode.

* ``sim`` (default): make sure the local simulator runs as a background
  process (``exchanges.sim.process.ensure_sim_running``), then point the real
  connectors at its loopback endpoints with the simulator's own API key.
* ``paper``: the same, with the simulator's matching engine fed from live
  public market data of the real venues (needs internet).
* ``live``: the real venues; keys come only from the environment
  (``GATE_API_KEY``/``GATE_API_SECRET``, ``MEXC_API_KEY``/``MEXC_API_SECRET``)
  and the caller must pass ``live_confirmed=True`` (the CLI's ``--live`` flag).

Keys are handed to the connectors in memory only; nothing here logs or stores
them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from exchanges.models import Symbol, VenueId
from exchanges.venue import Venue

MODES = ("sim", "paper", "live")

_KEY_ENV = {
    "gate": (("GATE_API_KEY", "GATEIO_API_KEY"), ("GATE_API_SECRET", "GATEIO_API_SECRET", "GATEIO_SECRET_KEY",
                                                   "GATE_SECRET")),
    "mexc": (("MEXC_API_KEY",), ("MEXC_API_SECRET", "MEXC_SECRET_KEY", "MEXC_SECRET")),
}


class FactoryError(Exception):
    """Venues cannot be built (bad mode, unknown symbol, missing keys); one line."""


def _env_first(names: tuple[str, ...], env: Mapping[str, str]) -> str:
    for name in names:
        value = env.get(name, "")
        if value:
            return value
    return ""


def live_credentials(env: Mapping[str, str] | None = None) -> dict[str, tuple[str, str]]:
    """``{"gate": (key, secret), "mexc": (key, secret)}`` from the environment.

    Raises FactoryError naming the missing variables (never their values).
    """
    env = os.environ if env is None else env
    creds: dict[str, tuple[str, str]] = {}
    missing: list[str] = []
    for venue, (key_names, secret_names) in _KEY_ENV.items():
        key, secret = _env_first(key_names, env), _env_first(secret_names, env)
        if not key:
            missing.append(key_names[0])
        if not secret:
            missing.append(secret_names[0])
        creds[venue] = (key, secret)
    if missing:
        raise FactoryError(f"live mode needs API keys in the environment: set {', '.join(missing)}")
    return creds


def venues_from_endpoints(endpoints: Mapping[str, Any]) -> dict[VenueId, Venue]:
    """Connectors for an endpoints object as printed by ``run.py sim --json``:
    ``{"gate_spot": {"rest_url", "ws_url", "api_key", "api_secret"}, "gate_perp": {...}, "mexc_spot": {...}}``."""
    from exchanges.gateio.futures import GatePerpVenue
    from exchanges.gateio.spot import GateSpotVenue
    from exchanges.mexc.spot import MexcSpotVenue

    def kw(name: str) -> dict[str, str]:
        ep = endpoints[name]
        return {"rest_url": ep["rest_url"], "ws_url": ep["ws_url"], "api_key": ep.get("api_key", ""),
                "api_secret": ep.get("api_secret", "")}

    return {
        VenueId.GATE_SPOT: GateSpotVenue(**kw("gate_spot")),
        VenueId.GATE_PERP: GatePerpVenue(**kw("gate_perp")),
        VenueId.MEXC_SPOT: MexcSpotVenue(**kw("mexc_spot")),
    }


def _sim_symbols(endpoints: Mapping[str, Any]) -> list[str]:
    return [str(s).upper() for s in endpoints.get("symbols") or []]


def check_sim_symbol(endpoints: Mapping[str, Any], symbol: Symbol) -> None:
    """Raise FactoryError unless the running simulator serves ``symbol``."""
    served = _sim_symbols(endpoints)
    names = {symbol.base, str(symbol), symbol.gate, symbol.mexc}
    if served and not names & set(served):
        scenarios = endpoints.get("scenarios") or [endpoints.get("scenario", "?")]
        raise FactoryError(
            f"unknown symbol {symbol.base}: the simulator serves {', '.join(served)} "
            f"(scenarios: {', '.join(map(str, scenarios))})"
        )


def build_venues(mode: str, symbol: Symbol, home: Path, *, live_confirmed: bool = False,
                 scenario: str | None = None) -> dict[VenueId, Venue]:
    """The three venues for ``mode``; raises FactoryError with a one-line reason."""
    if mode not in MODES:
        raise FactoryError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    if mode == "live":
        if not live_confirmed:
            raise FactoryError("live mode places real orders: add --live to confirm")
        creds = live_credentials()
        from exchanges.gateio.futures import GatePerpVenue
        from exchanges.gateio.spot import GateSpotVenue
        from exchanges.mexc.spot import MexcSpotVenue

        return {
            VenueId.GATE_SPOT: GateSpotVenue(api_key=creds["gate"][0], api_secret=creds["gate"][1]),
            VenueId.GATE_PERP: GatePerpVenue(api_key=creds["gate"][0], api_secret=creds["gate"][1]),
            VenueId.MEXC_SPOT: MexcSpotVenue(api_key=creds["mexc"][0], api_secret=creds["mexc"][1]),
        }
    endpoints = sim_endpoints(mode, symbol, home, scenario=scenario)
    return venues_from_endpoints(endpoints)


def sim_endpoints(mode: str, symbol: Symbol, home: Path, *, scenario: str | None = None) -> dict[str, Any]:
    """Start (or reuse) the background simulator and return its endpoints object."""
    from exchanges.sim import process

    try:
        if mode == "paper":
            endpoints = process.ensure_sim_running(home, paper_symbol=symbol.base)
        else:
            endpoints = process.ensure_sim_running(home, scenario=scenario)
    except process.SimError as exc:
        raise FactoryError(str(exc)) from None
    check_sim_symbol(endpoints, symbol)
    return endpoints


def paper_feed_errors(home: Path) -> dict[str, str]:
    """The last stream error per venue of a running paper-mode simulator's live feed ({} when it
    runs no paper feed, is not running, or every stream is up)."""
    from exchanges.sim import process

    endpoints = process.sim_status(home)
    health = process.health(endpoints) if endpoints else None
    paper = (health or {}).get("paper") or {}
    return {str(k): str(v) for k, v in (paper.get("errors") or {}).items() if v}
