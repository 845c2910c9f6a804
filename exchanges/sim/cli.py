"""``sim`` and ``record`` subcommands (registered into run.py by
:func:`register`; also ``python -m exchanges.sim``).

``sim [run|stop|status|reset] [--scenario NAME|PATH] [--symbol SYM] [--port-base N]
[--speed X] [--no-loop] [--json] [--home DIR] [--paper SYMBOL [--paper-endpoints JSON]]
[--start-usdt AMOUNT] [--alias-symbols N]``: ``run`` (default) serves in the foreground until
Ctrl-C / SIGTERM / ``sim stop`` / ``POST /_sim/shutdown`` and prints its
endpoints (one JSON object with ``--json``). Exit codes: 0 ok, 1 already
running / not running, 2 unknown scenario or symbol, bad option values, or
paper mode that cannot start.

``--paper SYMBOL``: paper mode, books fed from the venues' live public data
(:mod:`exchanges.sim.recording.paper`); URLs overridable with ``--paper-endpoints`` or
``$ARB_SIM_PAPER_ENDPOINTS`` (JSON object, keys of
``exchanges.sim.recording.record.DEFAULT_ENDPOINTS``). ``--start-usdt`` sets the USDT
each venue account of a NEW sim account starts with (default: the scenario
header's ``starting_balances``, else 1,000,000 per venue; a persisted account
keeps its balances -- ``sim reset`` deletes the persisted state).
``--alias-symbols N`` serves the recording under N symbol names (the
recording's symbol plus e.g. NEIRO001 ... NEIRO<N-1>; :mod:`exchanges.sim.recording.aliases`).

``record --symbol SYM --minutes N --out FILE`` delegates to
:mod:`exchanges.sim.recording.record` (SIM-EDGE).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from exchanges.sim import process


def _number(parse: Callable[[str], float], ok: Callable[[float], bool], want: str) -> Callable[[str], Any]:
    """An argparse ``type`` refusing malformed, NaN/infinite and out-of-range values in one line."""

    def convert(text: str) -> Any:
        try:
            value = parse(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or not ok(value):
            raise argparse.ArgumentTypeError(f"must be {want}, got {text!r}")
        return value

    return convert


#: ``--port-base``: 0 (ephemeral ports) or 1024..65533 (the sim listens on N, N+1 and N+2)
port_base = _number(int, lambda v: v == 0 or 1024 <= v <= 65533, "0 (ephemeral) or in 1024..65533 (N..N+2 are used)")
#: ``--speed``: a finite replay factor >= 0 (0 = as fast as possible)
speed = _number(float, lambda v: v >= 0, "a finite number >= 0 (0 = as fast as possible)")
_minutes = _number(float, lambda v: v > 0, "a finite number of minutes > 0")


def add_sim_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", choices=["run", "stop", "status", "reset"], default="run",
                        help="run (default, foreground), stop a running simulator, show its status, or reset "
                             "(delete the persisted accounts/orders of a stopped simulator)")
    parser.add_argument("--scenario", default=None, help="bundled scenario name or a recording file path")
    parser.add_argument("--symbol", default=None, help="pick the scenario serving this symbol (e.g. NEIROETH)")
    parser.add_argument("--port-base", type=port_base, default=0, metavar="N",
                        help="Gate on N, MEXC on N+1, admin on N+2 (0 = ephemeral; else 1024..65533)")
    parser.add_argument("--speed", type=speed, default=1.0, metavar="X",
                        help="replay speed factor (1 = real time; 0 = as fast as possible)")
    parser.add_argument("--no-loop", action="store_true", help="hold the last book at the end instead of looping")
    parser.add_argument("--json", action="store_true", help="print the endpoints as one JSON object")
    parser.add_argument("--home", type=Path, default=None, help="state dir (default $ARB_HOME or ~/.arb-runner)")
    parser.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--paper", default=None, metavar="SYMBOL",
                        help="paper mode: feed the books from live public data of SYMBOL (needs internet)")
    parser.add_argument("--paper-endpoints", default=None, metavar="JSON",
                        help="paper mode: JSON object overriding the live URLs (default $ARB_SIM_PAPER_ENDPOINTS)")
    parser.add_argument("--start-usdt", default=None, metavar="AMOUNT",
                        help="USDT on each venue for a newly created sim account (default: scenario header, else 1000000)")
    parser.add_argument("--alias-symbols", type=int, default=1, metavar="N",
                        help="serve the recording under N symbol names (its own + e.g. NEIRO001..NEIRO<N-1>), "
                             "each with its own books, orders and funding (default 1)")
    parser.add_argument("--alias-listing", default=None, metavar="SPEC",
                        help="mark served symbols absent or untradable on a venue, e.g. "
                             "NEIRO001:mexc_spot=absent,NEIRO002:gate_perp=delisted (exchanges/sim/recording/listing.py)")
    parser.add_argument("--gate-account-mode", default=None,
                        choices=["classic", "multi_currency", "single_currency", "portfolio"],
                        help="Gate account mode of the sim account (unified modes pool spot and futures "
                             "balances; default: keep the persisted mode, classic for a new account)")


def _print_endpoints(endpoints: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(endpoints), flush=True)
        return
    symbols = endpoints["symbols"]
    shown = ", ".join(symbols) if len(symbols) <= 5 else f"{', '.join(symbols[:3])}, ... {symbols[-1]} ({len(symbols)})"
    print(f"simulator pid {endpoints['pid']} scenario {endpoints['scenario']} symbols {shown}")
    for venue in ("gate_spot", "gate_perp", "mexc_spot"):
        ep = endpoints[venue]
        print(f"  {venue:9s} REST {ep['rest_url']}  WS {ep['ws_url']}")
    print(f"  api_key {endpoints['gate_spot']['api_key']}  api_secret {endpoints['gate_spot']['api_secret']}")
    print(f"  admin   {endpoints['admin_url']}/_sim/health   (Ctrl-C or `run.py sim stop` to stop)", flush=True)


def _starting_balances(args: argparse.Namespace) -> dict | None:
    """``--start-usdt`` as an engine starting-balances mapping; ValueError if bad."""
    if getattr(args, "start_usdt", None) is None:
        return None
    from decimal import Decimal, InvalidOperation

    from exchanges.models import VenueId

    try:
        amount = Decimal(str(args.start_usdt))
    except InvalidOperation as exc:
        raise ValueError(f"--start-usdt: not a number: {args.start_usdt!r}") from exc
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"--start-usdt must be >= 0, got {args.start_usdt!r}")
    return {venue: {"USDT": amount} for venue in VenueId}


async def _serve(args: argparse.Namespace, home: Path) -> int:
    from exchanges.sim.recording.paper import paper_endpoints
    from exchanges.sim.engine.types import SimError
    from exchanges.sim.server import PROCESS_DEFAULT_BALANCES, ScenarioError, SimServer

    try:
        balances = _starting_balances(args)
        paper_urls = paper_endpoints(getattr(args, "paper_endpoints", None)) if getattr(args, "paper", None) else {}
        server = SimServer(sim_dir=process.sim_dir(home), scenario=args.scenario, symbol=args.symbol,
                           port_base=args.port_base, speed=args.speed, loop=not args.no_loop,
                           paper_symbol=getattr(args, "paper", None), paper_endpoints=paper_urls,
                           starting_balances=balances, fallback_balances=PROCESS_DEFAULT_BALANCES,
                           alias_symbols=getattr(args, "alias_symbols", 1),
                           alias_listing=getattr(args, "alias_listing", None),
                           gate_account_mode=getattr(args, "gate_account_mode", None))
    except (ScenarioError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, server.request_stop)
    try:
        try:
            endpoints = await server.start()
        except ScenarioError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except SimError as exc:  # e.g. a Gate account-mode switch refused (open orders)
            print(f"error: {exc.message}", file=sys.stderr)
            return 2
        except OSError as exc:  # port in use, live metadata unreachable, ...
            print(f"error: cannot start the simulator: {exc}", file=sys.stderr)
            return 2
        process.write_state(home, endpoints)
        _print_endpoints(endpoints, args.json)
        await server.serve_forever()
    finally:
        await server.stop()
        process.remove_state(home, os.getpid())
    return 0


def sim_main(args: argparse.Namespace) -> int:
    """Entry of the ``sim`` subcommand; returns the exit code."""
    home = Path(args.home) if getattr(args, "home", None) else process.default_home()
    if not getattr(args, "quiet", False):
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    else:
        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.action == "stop":
        stopped = process.stop_sim(home)
        print("simulator stopped" if stopped else "no simulator running")
        return 0 if stopped else 1
    if args.action == "status":
        running = process.sim_status(home)
        if running is None:
            print("no simulator running")
            return 1
        _print_endpoints(running, args.json)
        return 0
    if args.action == "reset":
        if process.sim_status(home) is not None:
            print("a simulator is running; `sim stop` it before `sim reset`", file=sys.stderr)
            return 1
        removed = process.reset_state(home)
        print(f"simulator state reset ({len(removed)} files removed)")
        return 0
    running = process.sim_status(home)
    if running is not None:
        print(f"a simulator is already running for {home} (pid {running['pid']}); `sim status` shows it, "
              "`sim stop` stops it", file=sys.stderr)
        return 1
    try:
        return asyncio.run(_serve(args, home))
    except KeyboardInterrupt:
        return 0


def record_main(args: argparse.Namespace) -> int:
    """Entry of the ``record`` subcommand (:func:`exchanges.sim.recording.record.main_record`)."""
    from exchanges.sim.recording import record

    return int(record.main_record(args) or 0)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``sim`` and ``record`` to run.py's subparsers (func(args) -> int)."""
    summary = "local exchange simulator (Gate spot/perp + MEXC on loopback)"
    sim = subparsers.add_parser("sim", help=summary, description=summary,
                                epilog="example:\n  run.py sim --json --speed 5")
    add_sim_arguments(sim)
    sim.set_defaults(func=sim_main)
    summary = "record live book data of SYMBOL from the three venues (needs internet)"
    rec = subparsers.add_parser("record", help=summary, description=summary,
                                epilog="example:\n  run.py record --symbol NEIROETH --minutes 30 --out neiro.jsonl.gz")
    rec.add_argument("--symbol", required=True, help="base coin or pair, e.g. NEIROETH")
    rec.add_argument("--minutes", type=_minutes, default=10.0, help="how long to record (default 10)")
    rec.add_argument("--out", type=Path, required=True, help="output file (.jsonl.gz)")
    rec.set_defaults(func=record_main)
