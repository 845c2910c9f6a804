"""Implementations of the CLI commands (``cmd_<name>(args, venue_factory=None) -> exit status``).

Every command opens the store itself (``--db`` or the default path) and closes it; bad input
raises :class:`~taskmanager.errors.CliError` (one line, exit 2). Strategy, config and venue
modules are imported lazily so reading commands work while those packages are incomplete.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exchanges import clock
from taskmanager.errors import CliError
from taskmanager.logsetup import setup_logging

if TYPE_CHECKING:
    from state.opener import DbLocation

log = logging.getLogger("taskmanager.cli")

# ---- shared helpers ------------------------------------------------------------


def db_path(args: Any) -> DbLocation:
    """``--db`` or the default (``$ARB_DB``, else ``$ARB_HOME/arb.sqlite``) as a
    :class:`state.opener.DbLocation` (a SQLite path or a PostgreSQL URL; ``str()`` hides any password)."""
    from state.opener import resolve

    return resolve(getattr(args, "db", None) or None)


def _home() -> Path:
    from state.store import arb_home

    return arb_home()


async def open_store(path: Any, *, create: bool = True) -> Any:
    """Open the store ``path`` (a :class:`state.opener.DbLocation`) names, or raise CliError with
    the store's one-line reason.

    ``create=False`` (every command but ``start``): a missing SQLite file is refused with one line
    and nothing is created."""
    from state.opener import open_store as open_any
    from state.store import StoreError

    if not create and not path.exists():
        raise CliError(f"no database at {path} (nothing has run with it yet; see --db)")
    try:
        return await open_any(path)
    except StoreError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot open database {path}: {exc.strerror or exc}") from None


def _logging(args: Any, console: str, rich_console: Any = None, *, create_file: bool = True) -> None:
    """Logging for a command: ``console`` as :func:`setup_logging`; while a live dashboard draws
    (``rich_console`` given) the console shows WARNING and up only, the file everything."""
    level = getattr(logging, getattr(args, "log_level", "INFO"), logging.INFO)
    setup_logging(db_path(args).log_base, console=console, level=level, rich_console=rich_console,
                  console_level=logging.WARNING if rich_console is not None else None,
                  json_lines=bool(getattr(args, "log_json", False)), create_file=create_file)


def _use_dashboard(args: Any) -> bool:
    return not getattr(args, "no_dashboard", False) and not getattr(args, "json", False) and sys.stdout.isatty()


async def resolve_task(store: Any, text: str) -> Any:
    """The task whose id is ``text`` or starts with it (a unique prefix); CliError (exit 2) for
    an unknown id or an ambiguous prefix (the candidates are named)."""
    record = await store.get_task(text)
    if record is not None:
        return record
    matches = [r for r in await store.list_tasks() if text and r.task_id.startswith(text)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise CliError(f"unknown task id {text!r} (see: tasks list)")
    shown = ", ".join(r.task_id for r in matches[:5]) + (", ..." if len(matches) > 5 else "")
    raise CliError(f"task id prefix {text!r} is ambiguous: {len(matches)} tasks match ({shown})")


def parse_symbol(text: str) -> Any:
    from exchanges.models import Symbol

    try:
        return Symbol.parse(text)
    except ValueError as exc:
        raise CliError(str(exc)) from None


def strategy_class(name: str) -> Any:
    """The registered task class for ``name`` (CliError when unknown)."""
    from strategies import registry

    try:
        return registry.get(name)
    except KeyError as exc:
        raise CliError(str(exc.args[0] if exc.args else exc)) from None


def load_strategy_config(cls: Any, path: str | None, overrides: dict[str, Any]) -> Any:
    """Config via the strategy's ``load_config(path, overrides)`` when its config module has one,
    else decoded from a JSON file into ``cls.config_type``. Errors -> CliError naming the field."""
    import msgspec

    config_type = cls.config_type
    module = sys.modules.get(config_type.__module__)
    fields = {f.name for f in msgspec.structs.fields(config_type)}
    overrides = {k: v for k, v in overrides.items() if k in fields and v is not None}
    loader = getattr(module, "load_config", None)
    try:
        if loader is not None:
            return loader(path, overrides)
        values: dict[str, Any] = {}
        if path is not None:
            with open(path, "rb") as fh:
                values = json.loads(fh.read() or b"{}")
        values.update(overrides)
        return msgspec.convert(values, config_type, strict=False)
    except OSError as exc:
        raise CliError(f"config file {path}: {exc.strerror or exc}") from None
    except (ValueError, msgspec.ValidationError) as exc:  # ConfigError is a ValueError
        raise CliError(f"config: {exc}") from None


async def build_venues(venue_factory: Any, mode: str, symbol: Any, *, live_confirmed: bool) -> dict[Any, Any]:
    """Venues for a task: ``venue_factory`` (injected by tests) or ``exchanges.factory.build_venues``.
    FactoryError (unknown symbol, missing keys, ...) -> CliError."""
    from exchanges import factory

    build = venue_factory if venue_factory is not None else factory.build_venues
    try:
        venues = build(mode, symbol, _home(), live_confirmed=live_confirmed)
        if inspect.isawaitable(venues):
            venues = await venues
    except (factory.FactoryError, ValueError) as exc:
        raise CliError(str(exc)) from None
    return dict(venues)


def on_signals(first: Any, again: Any) -> None:
    """SIGINT/SIGTERM handlers on the running loop: ``first(signal_name)`` the first time, then
    ``again()`` (after a warning) for any further signal: a second Ctrl-C aborts at once."""
    import signal

    loop = asyncio.get_running_loop()
    seen = 0

    def on_signal(name: str) -> None:
        nonlocal seen
        seen += 1
        if seen == 1:
            first(name)
        else:
            log.warning("%s again: aborting; tasks keep their last checkpoint", name)
            again()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig.name)


def _check_live(mode: str, confirmed: bool) -> None:
    if mode == "live" and not confirmed:
        raise CliError("--mode live places REAL orders: add --live to confirm (keys come from the environment)")


def new_task_id() -> str:
    """12 lowercase hex characters."""
    return uuid.uuid4().hex[:12]


def exit_status_for(status: Any, outcome: str) -> int:
    """0 for completed/stopped/paused; 1 for failed, halted, or a task left stopping/unowned."""
    value = getattr(status, "value", status)
    if outcome in ("lease_lost", "aborted", "stop_timeout"):
        return 1
    return 0 if value in ("completed", "stopped", "paused") else 1


def _print(text: str = "", args: Any = None) -> None:
    """A line for the operator: stdout, or stderr when ``args.json`` keeps stdout for JSON."""
    print(text, flush=True, file=sys.stderr if getattr(args, "json", False) else sys.stdout)


def _notifier(args: Any) -> Any:
    """The alert notifier of the ``[notify]`` table of ``--config`` (None when absent)."""
    from taskmanager.notify import NotifyConfigError, Notifier, load_notify_config

    try:
        config = load_notify_config(getattr(args, "config", None))
    except NotifyConfigError as exc:
        raise CliError(str(exc)) from None
    return Notifier(config) if config is not None else None


# ---- start / resume / stop / pause (drive tasks) ---------------------------------


def task_spec(args: Any) -> tuple[Any, Any, Any]:
    """(strategy class, symbol, config) from the arguments of ``start`` / ``tasks create``; CliError on bad input."""
    symbol = parse_symbol(args.symbol)
    _check_live(args.mode, args.live)
    cls = strategy_class(args.strategy)
    config = load_strategy_config(
        cls, args.config, {"symbol": args.symbol, "flatten_on_exit": True if args.flatten_on_exit else None})
    return cls, symbol, config


def cmd_start(args: Any, venue_factory: Any = None) -> int:
    cls, symbol, config = task_spec(args)
    notifier = _notifier(args)
    return asyncio.run(_start(args, venue_factory, cls, symbol, config, notifier))


async def _start(args: Any, venue_factory: Any, cls: Any, symbol: Any, config: Any, notifier: Any) -> int:
    """Every check that can refuse the input (symbol, config, live gate, venues, database) runs
    before the database and the log file are created: a refused start leaves nothing behind."""
    import msgspec

    from state.records import State, TaskRecord, TaskStatus

    path = db_path(args)
    dashboard = _use_dashboard(args)
    console = _console() if dashboard else None
    _logging(args, "rich" if dashboard else "auto", console, create_file=False)
    venues = await build_venues(venue_factory, args.mode, symbol, live_confirmed=args.live)
    refusal = await cls.start_refusal(config, venues)  # e.g. a position the perp cannot hedge
    if refusal:
        raise CliError(refusal)
    store = await open_store(path)
    try:
        _logging(args, "rich" if dashboard else "auto", console)
        manager = _manager(store, dashboard, notifier)
        now = clock.now_ms()
        record = TaskRecord(
            task_id=new_task_id(), strategy=cls.strategy_name, symbol=str(symbol), mode=args.mode,
            config=msgspec.json.encode(config).decode(), status=TaskStatus.RUNNING, state=State.IDLE,
            created_ms=now, state_entered_ms=now, owner_id=manager.owner_id, owner_pid=manager.pid,
            owner_host=manager.host, heartbeat_ms=now,
        )
        await store.create_task(record)
        task = cls(record, store, venues, manager.owner_id)
        manager.add(task, duration_s=args.duration, flatten_on_exit=bool(args.flatten_on_exit))
        duration = f", stops after {args.duration:g} s" if args.duration else ""
        _print(f"task {record.task_id} started: {cls.strategy_name} {symbol} mode={args.mode}{duration} (db {path})",
               args)
        log.info("task %s started (%s %s, mode %s)", record.task_id, cls.strategy_name, symbol, args.mode)
        return await _drive_and_report(args, manager, store, record.task_id, dashboard, console)
    finally:
        await store.close()


def _console() -> Any:
    from taskmanager.tables import OutConsole

    return OutConsole()


def _manager(store: Any, dashboard: bool, notifier: Any = None) -> Any:
    from taskmanager.manager import TaskManager

    return TaskManager(store, progress_log_s=0.0 if dashboard else 10.0, notifier=notifier)


async def _drive_and_report(args: Any, manager: Any, store: Any, task_id: str, dashboard: bool,
                            console: Any) -> int:
    """Run the manager with signal handling (and the dashboard, and the notifier), then print the
    PnL summary (text ending with the net line, or one JSON object with ``--json``)."""
    import signal

    from taskmanager.dashboard import run_dashboard

    def stop_gracefully(name: str) -> None:
        log.warning("%s: stopping gracefully (send it again to abort at once)", name)
        manager.request_stop_all(reason="signal")

    on_signals(stop_gracefully, manager.abort)
    stop_dash = asyncio.Event()
    dash_task = asyncio.create_task(run_dashboard(store, console=console, stop=stop_dash)) if dashboard else None
    notifier = manager.notifier
    if notifier is not None:
        notifier.start()
    try:
        handles = await manager.run()
    finally:
        stop_dash.set()
        if dash_task is not None:
            try:
                await dash_task
            except Exception as exc:  # the dashboard must never change the outcome
                log.warning("dashboard ended with %s: %s", type(exc).__name__, exc)
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().remove_signal_handler(sig)
        if notifier is not None:
            await notifier.aclose()
    handle = handles[task_id]
    record = await store.get_task(task_id)
    status = exit_status_for(record.status, handle.outcome)
    if record.mode == "paper" and record.status.value == "halted":
        await _report_paper_feed(store, record, args)
    _report_end(args, record, handle.outcome, status)
    return status


def _report_end(args: Any, record: Any, outcome: str, exit_status: int) -> None:
    """The end-of-run report: what happened and the PnL summary (its net line last)."""
    from taskmanager.views import pnl_summary, pnl_summary_lines

    task_id = record.task_id
    notes = []
    if outcome == "stop_timeout":
        notes.append(f"task {task_id} could not finish stopping; it is left in {record.state.value} with status "
                     f"{record.status.value}")
    elif outcome in ("lease_lost", "aborted"):
        notes.append(f"task {task_id}: {outcome.replace('_', ' ')}; resume with: tasks resume {task_id}")
    elif record.status.value == "paused":
        notes.append(f"task {task_id} paused; resume with: tasks resume {task_id}")
    if getattr(args, "json", False):
        for note in notes:
            _print(note, args)
        print(json.dumps(pnl_summary(record, outcome=outcome, exit_status=exit_status)), flush=True)
        return
    for note in notes:
        _print(note)
    if record.status.value in ("failed", "halted") and record.last_error:
        _print(f"  reason: {record.last_error.splitlines()[0]}")
    for line in pnl_summary_lines(record):
        _print(line)


async def _report_paper_feed(store: Any, record: Any, args: Any) -> None:
    """Paper mode halted (typically: no fresh books while syncing): name each venue's live-feed
    error, on the console and in the task's journal (``tasks show``)."""
    from exchanges import factory

    errors = factory.paper_feed_errors(_home())
    if not errors:
        return
    text = "; ".join(f"{venue}: {error}" for venue, error in sorted(errors.items()))
    _print(f"paper feed: {text}", args)
    log.error("task %s: paper feed: %s", record.task_id, text)
    await store.journal(record.task_id, "paper_feed", text)


async def _get_record(store: Any, task_id: str) -> Any:
    return await resolve_task(store, task_id)


async def _take_over(args: Any, venue_factory: Any, store: Any, record: Any, dashboard: bool, console: Any,
                     **options: Any) -> int:
    """Acquire a dead/expired lease and drive the task here with ``options`` (Handle fields)."""
    from state.records import TaskStatus
    from taskmanager.manager import LeaseBusy

    _check_live(record.mode, getattr(args, "live", False))
    cls = strategy_class(record.strategy)
    venues = await build_venues(venue_factory, record.mode, parse_symbol(record.symbol),
                                live_confirmed=getattr(args, "live", False))
    notifier = _notifier(args)
    manager = _manager(store, dashboard, notifier)
    try:
        await manager.acquire(record)
    except LeaseBusy as exc:
        raise CliError(str(exc)) from None
    _logging(args, "rich" if dashboard else "auto", console)  # the input was good: now the log file
    if record.status is TaskStatus.PAUSED:
        await store.set_status(record.task_id, TaskStatus.RUNNING, "resumed", owner_id=manager.owner_id)
    elif record.status is TaskStatus.HALTED:
        # its last step left order intents unresolved: settle them (it ends halted again, same reason)
        await store.set_status(record.task_id, TaskStatus.STOPPING, "resumed to settle the intents the halt left",
                               owner_id=manager.owner_id)
    record = await store.get_task(record.task_id)
    task = cls(record, store, venues, manager.owner_id)
    manager.add(task, resumed=True, **options)
    return await _drive_and_report(args, manager, store, record.task_id, dashboard, console)


def cmd_tasks_resume(args: Any, venue_factory: Any = None) -> int:
    return asyncio.run(_resume(args, venue_factory))


async def _resume(args: Any, venue_factory: Any) -> int:
    """``tasks resume``: continue a task whose owner is gone, or settle what a halted task left."""
    from state.records import TaskStatus
    from taskmanager.views import lease_state

    dashboard = _use_dashboard(args)
    console = _console() if dashboard else None
    _logging(args, "rich" if dashboard else "auto", console, create_file=False)
    store = await open_store(db_path(args), create=False)
    try:
        record = await _get_record(store, args.task_id)
        if record.status.is_terminal and not (record.status is TaskStatus.HALTED
                                              and await store.intents(record.task_id, unresolved_only=True)):
            reason = f" ({record.last_error.splitlines()[0]})" if record.last_error else ""
            raise CliError(f"task {record.task_id} is already {record.status.value}{reason}; nothing to resume")
        lease = lease_state(record, await store.now_ms())
        if lease == "live":
            raise CliError(f"task {record.task_id} is running in pid {record.owner_pid} on {record.owner_host}")
        _print(f"task {record.task_id} resuming from {record.state.value} (lease {lease})", args)
        log.info("task %s: resuming from %s (previous lease %s)", record.task_id, record.state.value, lease)
        return await _take_over(args, venue_factory, store, record, dashboard, console,
                                duration_s=args.duration, flatten_on_exit=bool(args.flatten_on_exit))
    finally:
        await store.close()


def cmd_tasks_stop(args: Any, venue_factory: Any = None) -> int:
    return asyncio.run(_control(args, venue_factory, "stop"))


def cmd_tasks_pause(args: Any, venue_factory: Any = None) -> int:
    return asyncio.run(_control(args, venue_factory, "pause"))


async def _control(args: Any, venue_factory: Any, action: str) -> int:
    """``tasks stop|pause``: ask a live owner through the store, or take a dead task over."""
    from state.records import State, TaskStatus
    from taskmanager.views import lease_state

    dashboard = _use_dashboard(args)
    console = _console() if dashboard else None
    _logging(args, "rich" if dashboard else "auto", console, create_file=False)
    store = await open_store(db_path(args), create=False)
    flatten = bool(getattr(args, "flatten", False))
    try:
        record = await _get_record(store, args.task_id)
        if record.status.is_terminal:
            _print(f"task {record.task_id} is already {record.status.value}", args)
            return 0
        if action == "pause" and record.status is TaskStatus.PAUSED and record.state is State.IDLE:
            _print(f"task {record.task_id} is already paused", args)
            return 0
        lease = lease_state(record, await store.now_ms())
        if lease == "live":
            _logging(args, "auto")
            return await _ask_owner(args, store, record, action, flatten, args.wait)
        _print(f"task {record.task_id} has no live owner (lease {lease}); taking it over to {action} it here",
               args)
        if action == "stop":
            return await _take_over(args, venue_factory, store, record, dashboard, console,
                                    stop_now=True, stop_now_flatten=flatten)
        return await _take_over(args, venue_factory, store, record, dashboard, console, pause_now=True)
    finally:
        await store.close()


async def _ask_owner(args: Any, store: Any, record: Any, action: str, flatten: bool, wait_s: float) -> int:
    from taskmanager.views import lease_state

    control_id = await store.request_control(record.task_id, action, flatten=flatten)
    _print(f"{action} request #{control_id} sent to pid {record.owner_pid} on {record.owner_host}; waiting", args)
    deadline = clock.monotonic_s() + wait_s
    acked = False
    while clock.monotonic_s() < deadline:
        ctl = await store.control(control_id)
        if ctl is not None and ctl.acked_ms and not acked:
            acked = True
            _print(f"{action} request #{control_id} acknowledged by the owner", args)
        current = await store.get_task(record.task_id)
        done = current.status.is_terminal or (action == "pause" and current.status.value == "paused")
        if done and (acked or current.status.is_terminal):
            status = 0 if current.status.value in ("completed", "stopped", "paused") else 1
            _report_end(args, current, "finished", status)
            return status
        if lease_state(current, await store.now_ms()) in ("crashed", "stale") and not current.status.is_terminal:
            raise CliError(f"the owner of task {record.task_id} died before finishing; run 'tasks {action} "
                           f"{record.task_id}' again to take it over", exit_code=1)
        await asyncio.sleep(0.1)
    current = await store.get_task(record.task_id)
    _print(f"task {record.task_id} is still {current.status.value} in {current.state.value} after {wait_s:g} s"
           f" ({'acknowledged' if acked else 'not acknowledged'}); check with: tasks show {record.task_id}", args)
    return 1
