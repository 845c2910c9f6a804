"""Command-line interface: argument parsing, dispatch and the error policy.

``run.py`` calls :func:`main`. Commands (see README "CLI"):

``start``      create a task and run it (``--symbol``, ``--mode``, ``--live``, ``--config``,
               ``--duration``, ``--strategy``, ``--flatten-on-exit``)
``tasks``      ``list``, ``show ID``, ``resume ID``, ``stop ID``, ``pause ID``, ``graph``
``dashboard``  live view of every task in the database (``--once``: one frame)
``sim``, ``record``  registered by ``exchanges.sim.cli.register`` when present.

Error policy: bad input (unknown command or task, malformed symbol, negative duration,
unreadable config, refused database, live without confirmation or keys) prints ONE line
``error: ...`` on stderr and exits 2. Nothing prints a traceback on the console; an
unexpected internal error prints one line, logs the traceback to ``<db>.log`` and exits 1.
Every command that runs or reads tasks accepts ``--db PATH`` (else ``$ARB_DB``, else
``$ARB_HOME/arb.sqlite``, ``ARB_HOME`` defaulting to ``~/.arb-runner``) and ``--no-dashboard``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from taskmanager.errors import CliError
from taskmanager.logsetup import redact

log = logging.getLogger("taskmanager.cli")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line and exit status 2 (never usage dumps)."""

    def error(self, message: str) -> NoReturn:
        raise CliError(f"{self.prog}: {message} (see --help)")


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"duration must be a number of seconds, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"duration must be a positive number of seconds, got {text!r}")
    return value


def _common() -> _Parser:
    common = _Parser(add_help=False)
    common.add_argument("--db", metavar="PATH|URL", help="SQLite file or postgresql://user@host:port/dbname "
                        "(default: $ARB_DB or ~/.arb-runner/arb.sqlite)")
    common.add_argument("--no-dashboard", action="store_true", help="plain log lines instead of the live dashboard")
    common.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="console and log-file level (default INFO)")
    return common


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (``sim``/``record`` added when the simulator package provides them)."""
    common = _common()
    parser = _Parser(prog="run.py", description="Crash-safe delta-neutral arbitrage task runner")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    start = sub.add_parser("start", parents=[common], help="create a task and run it")
    start.add_argument("--symbol", required=True, help="base coin or pair, e.g. NEIROETH or NEIROETH_USDT")
    start.add_argument("--mode", choices=["sim", "paper", "live"], default="sim",
                       help="sim (local simulator, default), paper (live data, simulated fills), live (real orders)")
    start.add_argument("--live", action="store_true", help="confirm real trading with --mode live")
    start.add_argument("--config", metavar="PATH", help="strategy config file (TOML; see the README, Configuration)")
    start.add_argument("--duration", type=_positive_seconds, metavar="SECONDS",
                       help="stop gracefully after this many seconds (status completed)")
    start.add_argument("--strategy", default="delta_neutral", help="strategy name (default delta_neutral)")
    start.add_argument("--flatten-on-exit", action="store_true",
                       help="unwind spot inventory and close the perp when the task stops")
    start.set_defaults(func="start")

    tasks = sub.add_parser("tasks", help="list, show, resume, stop, pause tasks; print the FSM graph")
    tsub = tasks.add_subparsers(dest="tasks_command", metavar="ACTION", parser_class=_Parser)
    tsub.required = True
    t_list = tsub.add_parser("list", parents=[common], help="all tasks with status, state, lease and PnL")
    t_list.add_argument("--json", action="store_true", help="a JSON array instead of a table")
    t_list.set_defaults(func="tasks_list")
    t_show = tsub.add_parser("show", parents=[common], help="one task: config, journal, intents, fills, PnL")
    t_show.add_argument("task_id")
    t_show.add_argument("--json", action="store_true", help="one JSON object instead of text")
    t_show.set_defaults(func="tasks_show")
    t_resume = tsub.add_parser("resume", parents=[common], help="resume a task whose owner is gone")
    t_resume.add_argument("task_id")
    t_resume.add_argument("--duration", type=_positive_seconds, metavar="SECONDS")
    t_resume.add_argument("--live", action="store_true", help="confirm real trading for a live-mode task")
    t_resume.add_argument("--flatten-on-exit", action="store_true")
    t_resume.set_defaults(func="tasks_resume")
    t_stop = tsub.add_parser("stop", parents=[common], help="stop a task gracefully (takes over a dead one)")
    t_stop.add_argument("task_id")
    t_stop.add_argument("--flatten", action="store_true", help="unwind spot and close the perp while completing")
    t_stop.add_argument("--live", action="store_true", help="confirm real trading for a live-mode task")
    t_stop.add_argument("--wait", type=_positive_seconds, default=60.0, metavar="SECONDS",
                        help="how long to wait for a live owner to finish (default 60)")
    t_stop.set_defaults(func="tasks_stop")
    t_pause = tsub.add_parser("pause", parents=[common], help="pause a task (parks it in IDLE)")
    t_pause.add_argument("task_id")
    t_pause.add_argument("--live", action="store_true", help="confirm real trading for a live-mode task")
    t_pause.add_argument("--wait", type=_positive_seconds, default=60.0, metavar="SECONDS")
    t_pause.set_defaults(func="tasks_pause")
    t_graph = tsub.add_parser("graph", parents=[common], help="the task FSM as a Mermaid diagram")
    t_graph.add_argument("--orders", action="store_true",
                         help="the order-intent lifecycle (status, event -> status) instead of the task FSM")
    t_graph.set_defaults(func="tasks_graph")

    from taskmanager import worker as worker_cli  # ``tasks create`` and ``worker`` (taskmanager/worker.py)

    worker_cli.register(sub, tsub, common)

    dash = sub.add_parser("dashboard", parents=[common], help="live view of every task in the database")
    dash.add_argument("--once", action="store_true", help="print one frame and exit")
    dash.add_argument("--width", type=int, default=0, help="frame width for --once (default: terminal)")
    dash.set_defaults(func="dashboard")

    sim_cli: Any
    try:
        from exchanges.sim import cli as sim_cli  # another helper's module; optional
    except Exception:  # absent or broken: the runner still works
        sim_cli = None
    if sim_cli is not None and hasattr(sim_cli, "register"):
        try:
            sim_cli.register(sub)
        except Exception as exc:  # pragma: no cover - defensive
            log.debug("sim subcommands unavailable: %s", exc)
    return parser


VenueFactory = Callable[..., Any]


def main(argv: Sequence[str] | None = None, *, venue_factory: VenueFactory | None = None) -> int:
    """Run one command; returns the process exit status (0 ok, 1 task failed, 2 bad input).

    ``venue_factory(mode, symbol, home, live_confirmed=...) -> dict[VenueId, Venue]``
    replaces ``exchanges.factory.build_venues`` (tests inject fakes).
    """
    try:
        args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    except CliError as exc:
        _print_error(str(exc))
        return EXIT_USAGE
    except SystemExit as exc:  # --help / --version
        return int(exc.code or 0)
    func = args.func
    if not isinstance(func, str):  # a subcommand registered by another package
        try:
            return int(func(args) or 0)
        except CliError as exc:
            _print_error(str(exc))
            return EXIT_USAGE
        except KeyboardInterrupt:
            return 130
    from taskmanager import commands, read_commands, worker

    handler = (getattr(commands, "cmd_" + func, None) or getattr(read_commands, "cmd_" + func, None)
               or getattr(worker, "cmd_" + func))
    try:
        return handler(args, venue_factory=venue_factory)
    except CliError as exc:
        _print_error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        _print_error("interrupted")
        return 130
    except Exception as exc:  # a bug: one line on the console, the traceback in the log file
        log.error("internal error in %s", func, exc_info=True)
        _print_error(f"internal error: {type(exc).__name__}: {exc} (traceback in the log file)")
        return EXIT_FAILED


def _print_error(message: str) -> None:
    line = " ".join(redact(str(message)).split())
    print(f"error: {line}", file=sys.stderr, flush=True)


def run_async(coro: Any) -> Any:
    """``asyncio.run`` for the command coroutines."""
    return asyncio.run(coro)
