"""``run.py scan``: which symbols a delta-neutral task is worth running on (README "Scanner").

``scan [--mode sim|paper|live] [--top N] [--min-edge-bps X] [--quote USDT] [--watch]
[--window-s S] [--rounds N] [--json] [--config PATH] [--width COLUMNS] [--log-level LEVEL]``

* One REST round: one bulk request per venue and endpoint (:mod:`exchanges.discovery.client`),
  discovery and ranking (:mod:`strategies.scanner`), printed as a table that fits the terminal
  (120 columns, or fewer columns from 80) or, with ``--json``, as one JSON document.
* ``--window-s S``: then stream the best candidates' book tickers for S seconds and re-rank by
  how long and how often the edge was executable. ``--watch``: repeat rounds (REST round +
  window, ``--window-s`` or 30 s) until Ctrl-C or ``--rounds N``; each round prints its table
  (``--json``: one JSON document per line) and names the symbols that appeared or disappeared.
* Modes: ``sim`` reads the local simulator (started in the background if none runs, as
  ``start`` does); ``paper`` and ``live`` read the real venues' public endpoints (no keys; the
  scan never trades: the mode only chooses the data and the printed ``start`` command).
* ``--min-edge-bps`` (default the config's ``entry_threshold_bps``), ``position_usdt``,
  ``max_order_usdt`` and ``gate_spot_fraction`` come from ``--config`` (the ``start`` config
  file) or the strategy defaults.

Exit status: 0 a ranking was printed (possibly partial: failed venues are named in the footer);
1 no venue answered; 2 bad input (one line, nothing started or written).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import os
import shutil
import signal
import sys
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from taskmanager.errors import CliError

if TYPE_CHECKING:  # the scanner's modules load only when `scan` runs (every command builds this parser)
    from exchanges.discovery.endpoints import DiscoveryEndpoints
    from strategies.scanner.rank import ScanParams

log = logging.getLogger("taskmanager.scan")

MODES = ("sim", "paper", "live")
QUOTES = ("USDT",)  # the hedge is a Gate USDT-settled perpetual: only USDT pairs can be hedged
DEFAULT_TOP = 20
WATCH_WINDOW_S = 30.0
MAX_WINDOW_S = 3600.0
MAX_TOP = 10_000
STREAM_MAX = 100  # = taskmanager.scan_run.STREAM_MAX_SYMBOLS (kept here so --help loads nothing heavy)


def _number(text: str, parse: Callable[[str], Any], ok: Callable[[Any], bool], what: str) -> Any:
    """``parse(text)`` if it parses and ``ok`` holds, else an argparse error saying ``what``."""
    try:
        value = parse(text)
    except (ValueError, ArithmeticError):
        value = None
    if value is None or not ok(value):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    return int(_number(text, int, lambda v: 1 <= v <= MAX_TOP, f"a whole number in 1..{MAX_TOP}"))


def _non_negative_bps(text: str) -> Decimal:
    return Decimal(_number(text, Decimal, lambda v: v.is_finite() and v >= 0, "a finite number of bps >= 0"))


def _window_s(text: str) -> float:
    return float(_number(text, float, lambda v: math.isfinite(v) and 0 < v <= MAX_WINDOW_S,
                         f"a number of seconds in (0, {MAX_WINDOW_S:g}]"))


def _quote(text: str) -> str:
    quote = text.strip().upper()
    if quote not in QUOTES:
        raise argparse.ArgumentTypeError(f"unknown quote {text!r}: the scanner supports {', '.join(QUOTES)} "
                                         "(the quote of Gate's USDT perpetuals, which hedge the task)")
    return quote


def register(subparsers: Any) -> None:
    """Add ``scan`` to run.py's subparsers (``func(args) -> int``)."""
    p = subparsers.add_parser(
        "scan", help="rank the symbols a task could run on (discovery + opportunities)",
        description="Find the symbols tradable on Gate spot, the Gate USDT perpetual and MEXC spot at once and rank "
                    "them by what a delta-neutral task could earn (README \"Scanner\").",
        epilog="Exit status: 0 ranking printed (a failed venue is named in the footer), 1 no venue answered, "
               "2 bad input.")
    p.add_argument("--mode", choices=MODES, default="sim",
                   help="sim (local simulator, default), paper or live (the real venues' public data, no keys)")
    p.add_argument("--top", type=_positive_int, metavar="N",
                   help=f"show the best N (default {DEFAULT_TOP} in the table, all with --json); "
                        f"a window streams the best N, at most {STREAM_MAX}")
    p.add_argument("--min-edge-bps", type=_non_negative_bps, metavar="X",
                   help="edge after both taker fees that counts as executable (default: entry_threshold_bps)")
    p.add_argument("--quote", type=_quote, default="USDT", help="quote asset of the pairs (USDT)")
    p.add_argument("--watch", action="store_true",
                   help=f"repeat rounds, each with a streaming window (--window-s, default {WATCH_WINDOW_S:g}), "
                        "until Ctrl-C or --rounds")
    p.add_argument("--window-s", type=_window_s, metavar="S",
                   help="after the REST round, stream book tickers for S seconds and re-rank")
    p.add_argument("--rounds", type=_positive_int, metavar="N", help="with --watch: stop after N rounds")
    p.add_argument("--json", action="store_true", help="JSON instead of a table (one document per round)")
    p.add_argument("--config", metavar="PATH", help="the start config file (position_usdt, max_order_usdt, ...)")
    p.add_argument("--width", type=int, default=0, metavar="COLUMNS",
                   help="table width (default: the terminal's, else 120; below 120 fewer columns; min 80)")
    p.add_argument("--log-level", default="ERROR", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                   help="diagnostics on stderr (default ERROR: problems are in the footer)")
    p.set_defaults(func=cmd_scan)


def scan_params(args: argparse.Namespace) -> ScanParams:
    """The task parameters from ``--config`` (or defaults) and ``--min-edge-bps``; CliError if invalid."""
    from strategies.delta_neutral.config import ConfigError, load_config
    from strategies.scanner.rank import ScanParams

    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        raise CliError(f"config: {exc}") from None
    threshold = args.min_edge_bps if args.min_edge_bps is not None else cfg.entry_threshold_bps
    return ScanParams(min_edge_bps=threshold, position_usdt=cfg.position_usdt, max_order_usdt=cfg.max_order_usdt,
                      gate_spot_fraction=cfg.gate_spot_fraction)


def endpoints_for(mode: str) -> DiscoveryEndpoints:
    """Where to read (module doc); CliError when the simulator cannot be started/reached or
    ``$ARB_SCAN_ENDPOINTS`` is malformed."""
    from exchanges.discovery.endpoints import public_endpoints, sim_endpoints

    if mode != "sim":
        try:
            return public_endpoints()
        except ValueError as exc:
            raise CliError(str(exc)) from None
    from exchanges.sim import process

    home = process.default_home()
    running = process.sim_status(home)
    try:
        endpoints = running or process.ensure_sim_running(home)
    except process.SimError as exc:
        raise CliError(" ".join(str(exc).split())[:300], exit_code=1) from None
    if running is None:
        print(f"started the local simulator in the background (pid {endpoints.get('pid')}); "
              "`python run.py sim stop` stops it", file=sys.stderr)
    try:
        return sim_endpoints(endpoints)
    except ValueError as exc:
        raise CliError(str(exc), exit_code=1) from None


def _width(args: argparse.Namespace) -> int:
    if args.width:
        return max(args.width, 80)
    if sys.stdout.isatty():
        return shutil.get_terminal_size((120, 40)).columns
    return int(os.environ.get("COLUMNS", "0") or 0) or 120


async def run_scan(args: argparse.Namespace, endpoints: DiscoveryEndpoints, params: ScanParams) -> int:
    """The rounds of one ``scan`` invocation; returns the exit status."""
    from taskmanager.scan_run import Scanner
    from taskmanager.scan_view import document, render, to_json

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    window_s = args.window_s or (WATCH_WINDOW_S if args.watch else None)
    top = args.top or DEFAULT_TOP
    scanner = Scanner(endpoints, params, args.quote)
    status = 0
    try:
        while not stop.is_set():
            result = await scanner.rest_round()
            if not result.answered:
                reasons = "; ".join(f"{f.venue.value} {f.endpoint}: {f.error}" for f in result.failures[:3])
                print(f"error: no venue answered ({reasons})", file=sys.stderr, flush=True)
                status = 1
            elif window_s is not None and not stop.is_set():
                result = await scanner.stream_window(result, window_s, max_symbols=top, stop=stop)
            if result.answered:
                status = 0
                if args.json:
                    doc = document(result, args.mode, params, args.top, args.config, args.quote)
                    print(to_json(doc, pretty=not args.watch), flush=True)
                else:
                    print(render(result, args.mode, params, top, _width(args), args.config), flush=True)
                    if args.watch:
                        print(flush=True)
            if not args.watch or (args.rounds and scanner.rounds >= args.rounds):
                break
            if status == 1:  # nothing answered: wait before trying again
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), window_s or WATCH_WINDOW_S)
    finally:
        await scanner.close()
    return status


def cmd_scan(args: argparse.Namespace) -> int:
    """Entry of ``run.py scan`` (module doc). Bad input raises CliError (exit 2)."""
    from taskmanager.logsetup import reset_logging, setup_logging

    if args.rounds and not args.watch:
        raise CliError("--rounds needs --watch")
    params = scan_params(args)
    setup_logging(None, console="plain", level=getattr(logging, args.log_level))
    try:
        endpoints = endpoints_for(args.mode)
        return asyncio.run(run_scan(args, endpoints, params))
    except CliError as exc:
        if exc.exit_code == 2:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `scan | head`: the reader is gone, nothing more to say
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # a bug: one line, the traceback only with --log-level DEBUG
        log.debug("scan failed", exc_info=True)
        print(f"error: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        reset_logging()
