"""The argument parser of ``run.py`` / ``arb``: every command, its one-line description and an example.

Options are offered only where they do something: ``--no-dashboard``, ``--log-level`` and
``--log-json`` on the commands that drive a task (``start``, ``tasks resume|stop|pause``), ``--db``
on every command that reads or writes the database, nothing on ``tasks graph``. Bad values are
refused by the parser (one line, exit 2): see :class:`Parser`.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any, NoReturn

from taskmanager import __version__
from taskmanager.errors import CliError

PROG = "run.py"


class Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line and exit status 2 (never usage dumps), and whose
    help keeps the examples' line breaks."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise CliError(f"{self.prog}: {message} (see --help)")


def number_type(parse: Callable[[str], float], ok: Callable[[float], bool], want: str) -> Callable[[str], Any]:
    """An argparse ``type``: ``parse`` the text (int or float), refuse NaN/infinity and values for
    which ``ok`` is False, with ``want`` in the one-line message."""

    def convert(text: str) -> Any:
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {want}, got {text!r}") from None
        if not math.isfinite(value) or not ok(value):
            raise argparse.ArgumentTypeError(f"must be {want}, got {text!r}")
        return value

    return convert


positive_seconds = number_type(float, lambda v: v > 0, "a positive number of seconds")
positive_int = number_type(int, lambda v: v > 0, "a whole number > 0")
days = number_type(float, lambda v: v >= 0, "a number of days >= 0")
width = number_type(int, lambda v: v == 0 or 40 <= v <= 1000, "0 (the terminal's) or 40..1000 columns")


def _db_option() -> Parser:
    p = Parser(add_help=False)
    p.add_argument("--db", metavar="PATH|URL", help="SQLite file or postgresql://user@host:port/dbname "
                   "(default: $ARB_DB or ~/.arb-runner/arb.sqlite)")
    return p


def _log_options() -> Parser:
    p = Parser(add_help=False)
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                   help="console and log-file level (default INFO)")
    p.add_argument("--log-json", action="store_true",
                   help="JSON lines in the log file (and on a non-terminal console) for log shippers")
    return p


def _drive_options() -> Parser:
    p = Parser(add_help=False, parents=[_log_options()])
    p.add_argument("--no-dashboard", action="store_true", help="plain log lines instead of the live dashboard")
    p.add_argument("--json", action="store_true", help="print the end-of-run summary as one JSON object")
    return p


def _sub(sub: Any, name: str, summary: str, example: str, parents: list[Parser], func: str) -> Parser:
    parser: Parser = sub.add_parser(name, parents=parents, help=summary, description=summary,
                                    epilog=f"example:\n  {example}")
    parser.set_defaults(func=func)
    return parser


def build_parser() -> Parser:
    """The full argument parser (``scan``, ``sim`` and ``record`` are registered by their packages)."""
    db, drive = _db_option(), _drive_options()
    parser = Parser(prog=PROG, description="Crash-safe delta-neutral arbitrage task runner "
                    "(Gate.io spot, Gate.io USDT perpetual, MEXC spot)",
                    epilog="example:\n  run.py start --symbol NEIROETH --duration 60")
    parser.add_argument("--version", action="version", version=f"arb-runner {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True

    start = _sub(sub, "start", "create a task and run it (live dashboard on a terminal)",
                 "run.py start --symbol NEIROETH --mode sim --duration 60", [db, drive], "start")
    start.add_argument("--symbol", required=True, help="base coin or pair, e.g. NEIROETH or NEIROETH_USDT")
    start.add_argument("--mode", choices=["sim", "paper", "live"], default="sim",
                       help="sim (local simulator, default), paper (live data, simulated fills), live (real orders)")
    start.add_argument("--live", action="store_true", help="confirm real trading with --mode live")
    start.add_argument("--config", metavar="PATH",
                       help="TOML file: strategy values and an optional [notify] table (README, Configuration)")
    start.add_argument("--duration", type=positive_seconds, metavar="SECONDS",
                       help="stop gracefully after this many seconds (status completed)")
    start.add_argument("--strategy", default="delta_neutral", help="strategy name (default delta_neutral)")
    start.add_argument("--flatten-on-exit", action="store_true",
                       help="unwind spot inventory and close the perp when the task stops")

    tasks = sub.add_parser("tasks", help="list, show, resume, stop, pause, report or prune tasks",
                           description="list, show, resume, stop, pause, report or prune tasks",
                           epilog="example:\n  run.py tasks list --running")
    tsub = tasks.add_subparsers(dest="tasks_command", metavar="ACTION", parser_class=Parser)
    tsub.required = True
    t_list = _sub(tsub, "list", "all tasks with status, state, lease and net PnL", "run.py tasks list --json",
                  [db], "tasks_list")
    t_list.add_argument("--json", action="store_true", help="a JSON array instead of a table")
    t_list.add_argument("--running", action="store_true", help="only tasks still running or stopping")
    t_show = _sub(tsub, "show", "one task: config, PnL, journal of transitions, orders and fills",
                  "run.py tasks show 3f9c", [db], "tasks_show")
    t_show.add_argument("task_id", metavar="ID", help="task id or a unique prefix of it")
    t_show.add_argument("--json", action="store_true", help="one JSON object instead of tables")
    t_resume = _sub(tsub, "resume", "resume a task whose owner is gone (crashed or stale lease)",
                    "run.py tasks resume 3f9c --duration 60", [db, drive], "tasks_resume")
    t_resume.add_argument("task_id", metavar="ID", help="task id or a unique prefix of it")
    t_resume.add_argument("--duration", type=positive_seconds, metavar="SECONDS",
                          help="stop gracefully after this many seconds")
    t_resume.add_argument("--live", action="store_true", help="confirm real trading for a live-mode task")
    t_resume.add_argument("--flatten-on-exit", action="store_true",
                          help="unwind spot inventory and close the perp when the task stops")
    t_resume.add_argument("--config", metavar="PATH",
                          help="TOML file whose [notify] table sets alerts (the strategy config stays the task's)")
    t_stop = _sub(tsub, "stop", "stop a task gracefully (takes over a task whose owner died)",
                  "run.py tasks stop 3f9c --flatten", [db, drive], "tasks_stop")
    t_stop.add_argument("task_id", metavar="ID", help="task id or a unique prefix of it")
    t_stop.add_argument("--flatten", action="store_true", help="unwind spot and close the perp while completing")
    t_stop.add_argument("--live", action="store_true", help="confirm real trading for a live-mode task")
    t_stop.add_argument("--wait", type=positive_seconds, default=60.0, metavar="SECONDS",
                        help="how long to wait for a live owner to finish (default 60)")
    t_pause = _sub(tsub, "pause", "pause a task (parks it in IDLE; tasks resume continues it)",
                   "run.py tasks pause 3f9c", [db, drive], "tasks_pause")
    t_pause.add_argument("task_id", metavar="ID", help="task id or a unique prefix of it")
    t_pause.add_argument("--live", action="store_true", help="confirm real trading for a live-mode task")
    t_pause.add_argument("--wait", type=positive_seconds, default=60.0, metavar="SECONDS",
                         help="how long to wait for a live owner to pause (default 60)")
    t_graph = _sub(tsub, "graph", "print the task FSM (or the order-intent lifecycle) as a Mermaid diagram",
                   "run.py tasks graph --orders > intents.mmd", [], "tasks_graph")
    t_graph.add_argument("--orders", action="store_true",
                         help="the order-intent lifecycle (status, event -> status) instead of the task FSM")
    t_report = _sub(tsub, "report", "chart a task's PnL, spreads, inventory and delta (PNG, or HTML with --html)",
                    "run.py tasks report 3f9c --out run.png", [db], "tasks_report")
    t_report.add_argument("task_id", metavar="ID", help="task id or a unique prefix of it")
    t_report.add_argument("--out", metavar="PATH", help="output file (default report-<id>.png beside the database)")
    t_report.add_argument("--html", action="store_true", help="a self-contained HTML page instead of a PNG")
    t_prune = _sub(tsub, "prune", "delete finished tasks last updated more than DAYS days ago, with all their rows",
                   "run.py tasks prune --before 30", [db], "tasks_prune")
    t_prune.add_argument("--before", type=days, required=True, metavar="DAYS",
                         help="age in days of the last update (0 = every finished task)")
    t_prune.add_argument("--dry-run", action="store_true", help="list what would be deleted, delete nothing")

    t_create = _sub(tsub, "create", "record a task without running it (a worker runs it); prints its id",
                    "run.py tasks create --symbol NEIROETH --duration 3600 --db postgresql://arb@db:5432/arb",
                    [db], "tasks_create")
    t_create.add_argument("--symbol", required=True, help="base coin or pair, e.g. NEIROETH or NEIROETH_USDT")
    t_create.add_argument("--mode", choices=["sim", "paper", "live"], default="sim",
                          help="sim (default), paper or live (a worker runs live tasks only with --live)")
    t_create.add_argument("--live", action="store_true", help="confirm real trading with --mode live")
    t_create.add_argument("--config", metavar="PATH", help="TOML file of strategy values (README, Configuration)")
    t_create.add_argument("--duration", type=positive_seconds, metavar="SECONDS",
                          help="end it (completed) this long after a worker first drives it")
    t_create.add_argument("--strategy", default="delta_neutral", help="strategy name (default delta_neutral)")
    t_create.add_argument("--flatten-on-exit", action="store_true",
                          help="unwind spot inventory and close the perp when the task stops")
    t_create.add_argument("--json", action="store_true", help="print the new task as JSON instead of its id")

    worker = _sub(sub, "worker", "run the runnable tasks of a (shared) database until SIGTERM (see tasks create)",
                  "run.py worker --db postgresql://arb@db:5432/arb --host-id host-a --max-tasks 50",
                  [db, _log_options()], "worker")
    worker.add_argument("--host-id", metavar="NAME", help="this worker's name in leases and tasks list "
                        "(default: the hostname)")
    worker.add_argument("--max-tasks", type=positive_int, default=100, metavar="N",
                        help="drive at most N tasks at once (default 100)")
    worker.add_argument("--live", action="store_true",
                        help="also run live-mode tasks (REAL orders; keys from the environment)")
    worker.add_argument("--no-dashboard", action="store_true",
                        help="plain log lines on the console (what a worker always prints; accepted as on start)")

    dash = _sub(sub, "dashboard", "live view of every task in the database, or of one task in detail",
                "run.py dashboard 3f9c", [db], "dashboard")
    dash.add_argument("task_id", metavar="ID", nargs="?", help="show this task in detail (id or unique prefix)")
    dash.add_argument("--once", action="store_true", help="print one frame and exit")
    dash.add_argument("--width", type=width, default=0, metavar="COLUMNS",
                      help="frame width (default: the terminal's, 200 when not a terminal)")
    from taskmanager import scan  # `scan`: symbol discovery and opportunity ranking (taskmanager/scan.py)
    from exchanges.sim import cli as sim_cli

    scan.register(sub)
    sim_cli.register(sub)
    return parser
