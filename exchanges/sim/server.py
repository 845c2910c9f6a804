"""Compose the simulator: engine + replay + Gate app + MEXC app + admin app on
loopback ports.

Ports: with ``port_base`` N > 0 Gate listens on N, MEXC on N+1, admin on N+2;
with 0 each gets an ephemeral port. Endpoints object (``SimServer.endpoints``)::

    {"gate_spot": {"rest_url": "http://127.0.0.1:N/api/v4", "ws_url": "ws://127.0.0.1:N/ws/v4/",
                   "api_key": ..., "api_secret": ..., "user_id": ...},
     "gate_perp": {"rest_url": "http://127.0.0.1:N/api/v4", "ws_url": "ws://127.0.0.1:N/v4/ws/usdt", ...},
     "mexc_spot": {"rest_url": "http://127.0.0.1:N+1", "ws_url": "ws://127.0.0.1:N+1/ws", ...},
     "admin_url": "http://127.0.0.1:N+2", "scenario": "neiroeth", "symbols": ["NEIROETH"], "pid": 1234}

Scenarios: ``exchanges/sim/scenarios/<name>/recording.jsonl.gz`` (or
``<name>.jsonl.gz``), or a path to any recording file.

Paper mode (``paper_symbol="NEIROETH"``): no replay; the books are fed by
:class:`exchanges.sim.recording.paper.PaperFeed` from the venues' live public streams
(``paper_endpoints`` overrides their URLs, see :func:`exchanges.sim.recording.paper.paper_endpoints`);
the symbol rules come from the venues' REST metadata at start. ``scenario`` is
then ``"paper"``.

Symbol aliasing (``alias_symbols=N``, ``sim --alias-symbols N``): the
recording is served under N symbols -- its own plus ``NEIRO001`` ...
(:mod:`exchanges.sim.recording.aliases`) -- with the same rules on every venue, each with
its own books (replayed from the same events, each from its own start
position), orders and funding; ``symbols`` in the endpoints lists them all.
Not available in paper mode.

Starting balances of a NEW account (an existing persisted account keeps its
balances): ``starting_balances`` argument, else the recording header's
``"starting_balances"`` object (``{"gate_spot": {"USDT": "1000000"}, ...}``),
else ``fallback_balances``, else :data:`exchanges.sim.engine.DEFAULT_BALANCES`
(10,000 USDT per venue, the small library default unit tests reason with).
The ``sim`` CLI (and so the background simulator of ``ensure_sim_running``)
passes :data:`PROCESS_DEFAULT_BALANCES` (1,000,000 USDT per venue) as the
fallback: its default account persists across runs in ``$ARB_HOME/sim/`` and
every sim-mode task run builds inventory, so it must last many runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path

from aiohttp import web

from exchanges.models import Symbol, VenueId
from exchanges.sim.admin import build_admin_app
from exchanges.sim.recording.aliases import alias_rules, alias_starts, initial_books
from exchanges.sim.recording.aliases import alias_symbols as make_alias_symbols
from exchanges.sim.context import SimContext
from exchanges.sim.engine import SimEngine
from exchanges.sim.faults import Faults
from exchanges.sim.gate.app import setup_gate_rest
from exchanges.sim.gate.ws import FUTURES_WS_PATH, SPOT_WS_PATH, setup_gate_ws
from exchanges.sim.recording.format import Recording, RecordingError, read_recording
from exchanges.sim.recording.listing import apply_listing, parse_listing
from exchanges.sim.recording.replay import Replayer

log = logging.getLogger(__name__)

SCENARIO_DIR = Path(__file__).parent / "scenarios"
DEFAULT_SCENARIO = "neiroeth"
HOST = "127.0.0.1"
PROCESS_DEFAULT_USDT = Decimal(1_000_000)
PROCESS_DEFAULT_BALANCES: dict[VenueId, dict[str, Decimal]] = {v: {"USDT": PROCESS_DEFAULT_USDT} for v in VenueId}


class ScenarioError(ValueError):
    """Unknown scenario/symbol; the message lists the available scenarios."""


def available_scenarios() -> dict[str, Path]:
    """Bundled scenarios: name -> recording path."""
    out: dict[str, Path] = {}
    if SCENARIO_DIR.is_dir():
        for entry in sorted(SCENARIO_DIR.iterdir()):
            if entry.is_dir() and (entry / "recording.jsonl.gz").exists():
                out[entry.name] = entry / "recording.jsonl.gz"
            elif entry.name.endswith(".jsonl.gz"):
                out[entry.name[: -len(".jsonl.gz")]] = entry
    return out


def _describe(scenarios: dict[str, Path]) -> str:
    parts = []
    for name, path in scenarios.items():
        try:
            parts.append(f"{name} (symbol {read_recording(path).symbol.base})")
        except RecordingError:
            parts.append(f"{name} (unreadable)")
    return ", ".join(parts) or "none bundled"


def resolve_scenario(scenario: str | None = None, symbol: str | None = None) -> tuple[str, Recording]:
    """Pick a recording by scenario name or path and/or symbol; raises
    ScenarioError naming the available scenarios."""
    scenarios = available_scenarios()
    if scenario and (Path(scenario).suffix in (".gz", ".jsonl") or os.sep in scenario):
        try:
            rec = read_recording(scenario)
        except (RecordingError, OSError) as exc:
            raise ScenarioError(f"cannot read recording {scenario}: {exc}") from exc
        name = Path(scenario).name
    else:
        if scenario is None and symbol:
            wanted = Symbol.parse(symbol).base
            for name, path in scenarios.items():
                with contextlib.suppress(RecordingError):
                    if read_recording(path).symbol.base == wanted:
                        return name, read_recording(path)
            raise ScenarioError(f"no scenario for symbol {symbol!r}; available scenarios: {_describe(scenarios)}")
        name = scenario or (DEFAULT_SCENARIO if DEFAULT_SCENARIO in scenarios else next(iter(scenarios), ""))
        if name not in scenarios:
            raise ScenarioError(f"unknown scenario {scenario!r}; available scenarios: {_describe(scenarios)}")
        rec = read_recording(scenarios[name])
    if symbol and Symbol.parse(symbol).base != rec.symbol.base:
        raise ScenarioError(f"scenario {name} serves {rec.symbol.base}, not {symbol}; "
                            f"available scenarios: {_describe(scenarios)}")
    return name, rec


class SimServer:
    """The whole simulator in one object; ``await start()`` then ``await stop()``.

    ``sim_dir`` holds sim.sqlite and keys.json (None = in memory, for tests).
    ``recording`` overrides ``scenario``; ``replay=False`` leaves books to the
    admin API / engine calls. ``paper_symbol`` selects paper mode (module doc);
    ``starting_balances`` funds new accounts (module doc); ``alias_symbols``
    serves the recording under that many symbol names (module doc); ``alias_listing`` marks
    some of them absent or untradable on a venue (:mod:`exchanges.sim.recording.listing`).
    Raises ScenarioError (constructor) for an unknown scenario/symbol, ValueError
    for a bad ``alias_symbols`` (not 1..10000, or > 1 in paper mode) or ``alias_listing``.
    """

    def __init__(self, sim_dir: Path | None = None, scenario: str | None = None, symbol: str | None = None,
                 port_base: int = 0, speed: float = 1.0, loop: bool = True, recording: Recording | None = None,
                 replay: bool = True, funding_tick_s: float = 1.0, paper_symbol: str | None = None,
                 paper_endpoints: Mapping[str, str] | None = None,
                 starting_balances: Mapping[VenueId, Mapping[str, Decimal]] | None = None,
                 fallback_balances: Mapping[VenueId, Mapping[str, Decimal]] | None = None,
                 alias_symbols: int = 1, alias_listing: str | None = None,
                 gate_account_mode: str | None = None) -> None:
        if paper_symbol and alias_symbols != 1:
            raise ValueError("symbol aliasing needs a recording; it is not available in paper mode")
        self.alias_count = alias_symbols
        self.gate_account_mode = gate_account_mode  # set on the default account at start (None: keep)
        self.symbols: list[Symbol] = []
        self.paper_symbol = Symbol.parse(paper_symbol) if paper_symbol else None
        self.paper_endpoints = dict(paper_endpoints or {})
        self.paper_feed = None
        self._tmp_dir = None
        if self.paper_symbol is not None:
            scenario, replay = "paper", False
        elif recording is None:
            scenario, recording = resolve_scenario(scenario, symbol)
        self.scenario = scenario or recording.path.name
        self.recording = recording
        if recording is not None:
            self.symbols = make_alias_symbols(recording.symbol, alias_symbols)
        self.listing = parse_listing(alias_listing, self.symbols)  # ValueError: bad spec
        self.starting_balances = starting_balances
        self.fallback_balances = fallback_balances
        self.sim_dir = sim_dir
        self.port_base = port_base
        self.speed = speed
        self.loop = loop
        self.replay_enabled = replay
        self.funding_tick_s = funding_tick_s
        self.engine: SimEngine | None = None
        self.ctx: SimContext | None = None
        self._runners: list[web.AppRunner] = []
        self._tasks: list[asyncio.Task] = []
        self._hubs: list = []
        self.gate_hubs: tuple = ()
        self.ports: dict[str, int] = {}
        self.stopped = asyncio.Event()

    async def start(self) -> dict:
        """Build everything, bind the ports, start replay; returns the endpoints object."""
        if self.paper_symbol is not None and self.recording is None:
            await self._paper_recording()
        db = self.sim_dir / "sim.sqlite" if self.sim_dir else None
        keys = self.sim_dir / "keys.json" if self.sim_dir else None
        if not self.symbols:  # paper mode: the recording exists only now
            self.symbols = make_alias_symbols(self.recording.symbol, self.alias_count)
        rules = apply_listing(alias_rules(self.recording, self.symbols), self.listing)
        self.engine = SimEngine(rules, db_path=db, keys_path=keys,
                                starting_balances=self._starting_balances())
        if self.gate_account_mode is not None:  # a refused switch (open orders) raises SimError
            self.engine.set_gate_mode(self.engine.default_account.api_key, self.gate_account_mode)
        self.ctx = SimContext(self.engine, Faults(), self.scenario)
        gate_app = web.Application()
        setup_gate_rest(gate_app, self.ctx)
        self.gate_hubs = setup_gate_ws(gate_app, self.ctx)  # (spot, futures)
        self._hubs += list(self.gate_hubs)
        from exchanges.sim.mexc.app import build_mexc_app

        mexc_app = build_mexc_app(self.engine, self.ctx.faults, self.ctx.push_log)
        admin_app = build_admin_app(self.ctx, on_shutdown=self.request_stop)
        events = self.recording.load() if self.replay_enabled else []
        starts = alias_starts(events, len(self.symbols))
        for symbol, start in zip(self.symbols, starts):
            offset_ms = events[start].t_ms if events and start else 0
            for venue in self.recording.funding_rates:
                rate = self.recording.funding_rate_at(venue, offset_ms)
                if rate is not None:
                    self.engine.set_funding_rate(venue, symbol, rate)
        if self.replay_enabled:
            for symbol, start in zip(self.symbols, starts):
                for venue, event in initial_books(events, start, list(self.recording.rules)).items():
                    self.engine.set_book(venue, symbol, event.bids, event.asks)
            replayer = Replayer(self.engine, self.recording, self.speed, self.loop, self.symbols, starts)
            self.ctx.replayer = replayer
            self._tasks.append(asyncio.get_running_loop().create_task(replayer.run()))
        self._tasks.append(asyncio.get_running_loop().create_task(self._funding_loop()))
        for i, (name, app) in enumerate((("gate", gate_app), ("mexc", mexc_app), ("admin", admin_app))):
            runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
            await runner.setup()
            site = web.TCPSite(runner, HOST, self.port_base + i if self.port_base else 0)
            await site.start()
            self._runners.append(runner)
            self.ports[name] = runner.addresses[0][1]
        if self.paper_symbol is not None:
            from exchanges.sim.recording.paper import PaperFeed

            self.paper_feed = PaperFeed(self.engine, self.recording.symbol, endpoints=self.paper_endpoints)
            self.ctx.paper_feed = self.paper_feed
            await self.paper_feed.start()
        log.info("simulator up: %s", {k: v for k, v in self.ports.items()})
        return self.endpoints

    async def _paper_recording(self) -> None:
        import tempfile

        from exchanges.sim.recording.paper import paper_recording

        out_dir = self.sim_dir
        if out_dir is None:
            self._tmp_dir = tempfile.TemporaryDirectory(prefix="sim-paper-")
            out_dir = Path(self._tmp_dir.name)
        out_dir.mkdir(parents=True, exist_ok=True)
        self.recording = await paper_recording(self.paper_symbol, out_dir, endpoints=self.paper_endpoints)

    def _starting_balances(self) -> dict[VenueId, dict[str, Decimal]] | None:
        if self.starting_balances is not None:
            return {VenueId(v): {str(a).upper(): Decimal(str(q)) for a, q in assets.items()}
                    for v, assets in self.starting_balances.items()}
        raw = self.recording.header.get("starting_balances") if self.recording is not None else None
        if not raw:
            if self.fallback_balances is None:
                return None
            return {VenueId(v): dict(assets) for v, assets in self.fallback_balances.items()}
        try:
            return {VenueId(v): {str(a).upper(): Decimal(str(q)) for a, q in assets.items()} for v, assets in raw.items()}
        except (ValueError, TypeError, AttributeError, ArithmeticError) as exc:
            raise ScenarioError(f"recording header 'starting_balances' is invalid: {exc!r}") from exc

    async def _funding_loop(self) -> None:
        while True:
            await asyncio.sleep(self.funding_tick_s)
            try:
                self.engine.tick()
            except Exception:
                log.exception("funding tick failed")

    @property
    def endpoints(self) -> dict:
        acc = self.engine.default_account
        creds = {"api_key": acc.api_key, "api_secret": acc.api_secret, "user_id": acc.user_id}
        g, m = self.ports["gate"], self.ports["mexc"]
        return {
            "gate_spot": {"rest_url": f"http://{HOST}:{g}/api/v4", "ws_url": f"ws://{HOST}:{g}{SPOT_WS_PATH}", **creds},
            "gate_perp": {"rest_url": f"http://{HOST}:{g}/api/v4", "ws_url": f"ws://{HOST}:{g}{FUTURES_WS_PATH}",
                          **creds},
            "mexc_spot": {"rest_url": f"http://{HOST}:{m}", "ws_url": f"ws://{HOST}:{m}/ws", **creds},
            "admin_url": f"http://{HOST}:{self.ports['admin']}",
            "scenario": self.scenario,
            "symbols": [s.base for s in self.symbols],
            "pid": os.getpid(),
        }

    def request_stop(self) -> None:
        """Ask :meth:`serve_forever` to return (admin shutdown, signals)."""
        self.stopped.set()

    async def serve_forever(self) -> None:
        await self.stopped.wait()

    async def stop(self) -> None:
        if self.paper_feed is not None:
            with contextlib.suppress(Exception):
                await self.paper_feed.stop()
            self.paper_feed = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        for hub in self._hubs:
            with contextlib.suppress(Exception):
                await hub.close_all()
        for runner in reversed(self._runners):
            with contextlib.suppress(Exception):
                await runner.cleanup()
        self._runners.clear()
        if self.engine is not None:
            self.engine.close()
            self.engine = None
        self.stopped.set()
