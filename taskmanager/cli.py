"""Command-line interface: dispatch and the error policy (the parser is :mod:`taskmanager.cli_args`).

``run.py`` and the ``arb`` console script call :func:`main`. Commands (see README "CLI"):

``start``      create a task and run it (``--symbol``, ``--mode``, ``--live``, ``--config``,
               ``--duration``, ``--strategy``, ``--flatten-on-exit``, ``--json``)
``tasks``      ``list``, ``show ID``, ``resume ID``, ``stop ID``, ``pause ID``, ``graph``,
               ``report ID``, ``prune --before DAYS``
``dashboard``  live view of every task in the database (``ID``: one task in detail; ``--once``: one frame)
``sim``, ``record``  registered by ``exchanges.sim.cli.register`` when present.

A task id argument may be any unique prefix of the id.

Error policy: bad input (unknown command or task, malformed symbol, negative duration,
unreadable config, refused database, live without confirmation or keys) prints ONE line
``error: ...`` on stderr and exits 2, and leaves no database or log file behind. Nothing prints a
traceback on the console; an unexpected internal error prints one line naming the log file that
holds the traceback and exits 1. Output cut short by a closed pipe (``| head``) ends quietly with
exit 0. Every command that reads or writes tasks accepts ``--db PATH`` (else ``$ARB_DB``, else
``$ARB_HOME/arb.sqlite``, ``ARB_HOME`` defaulting to ``~/.arb-runner``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from taskmanager.cli_args import build_parser
from taskmanager.errors import CliError
from taskmanager.logsetup import ensure_file_logging, redact

log = logging.getLogger("taskmanager.cli")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


VenueFactory = Callable[..., Any]


def main(argv: Sequence[str] | None = None, *, venue_factory: VenueFactory | None = None) -> int:
    """Run one command; returns the process exit status (0 ok, 1 task failed, 2 bad input).

    ``venue_factory(mode, symbol, home, live_confirmed=...) -> dict[VenueId, Venue]``
    replaces ``exchanges.factory.build_venues`` (tests inject fakes).
    """
    try:
        return _main(argv, venue_factory)
    except BrokenPipeError:  # the reader went away (``| head``): nothing more to say
        _silence_stdout()
        return EXIT_OK


def _main(argv: Sequence[str] | None, venue_factory: VenueFactory | None) -> int:
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
    from taskmanager import commands, maint_commands, read_commands, worker

    handler = next(getattr(m, "cmd_" + func) for m in (commands, read_commands, maint_commands, worker)
                   if hasattr(m, "cmd_" + func))
    try:
        return int(handler(args, venue_factory=venue_factory))
    except CliError as exc:
        _print_error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        _print_error("interrupted")
        return 130
    except BrokenPipeError:
        raise
    except Exception as exc:  # a bug: one line on the console, the traceback in the log file
        log_file = ensure_file_logging(_db_of(args))
        log.error("internal error in %s", func, exc_info=True)
        where = f"traceback in {log_file}" if log_file else "no log file could be written"
        _print_error(f"internal error: {type(exc).__name__}: {exc} ({where})")
        return EXIT_FAILED


def _db_of(args: Any) -> Path | None:
    if not hasattr(args, "db"):
        return None
    from taskmanager.commands import db_path

    return db_path(args).log_base


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _print_error(message: str) -> None:
    line = " ".join(redact(str(message)).split())
    try:
        print(f"error: {line}", file=sys.stderr, flush=True)
    except (BrokenPipeError, ValueError):
        pass


def run_async(coro: Any) -> Any:
    """``asyncio.run`` for the command coroutines."""
    return asyncio.run(coro)
