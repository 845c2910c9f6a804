"""Reading commands: ``tasks list``, ``tasks show``, ``tasks graph`` and ``dashboard``.

They never take a lease, never modify a task and never create a file or directory: on a missing
database ``tasks list`` says so (``--json``: ``[]``), ``dashboard`` says so (or, live, waits for it
to appear), and ``tasks show`` is refused (exit 2). They log only into a log file that already
exists. A task id may be given as any unique prefix.
"""

from __future__ import annotations

import asyncio
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from exchanges import clock
from taskmanager.commands import _logging, db_path, open_store, resolve_task

if TYPE_CHECKING:
    from state.opener import DbLocation
from taskmanager.errors import CliError
from taskmanager.views import iso_ms, money, net_pnl, pnl_of, quantity, task_detail, task_summary

PIPE_WIDTH = 200  # text written to a pipe or file is laid out for this many columns


def _json_out(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str), flush=True)


def _out_console(width: int = 0) -> Console:
    from taskmanager.tables import OutConsole

    if width:
        return OutConsole(width=width)
    return OutConsole() if sys.stdout.isatty() else OutConsole(width=PIPE_WIDTH, color_system=None)


def cmd_tasks_list(args: Any, venue_factory: Any = None) -> int:
    _logging(args, "none", create_file=False)
    return asyncio.run(_list(args))


async def _list(args: Any) -> int:
    path = db_path(args)
    if not path.exists():
        if args.json:
            _json_out([])
        else:
            print(f"no database at {path} (no tasks yet)", flush=True)
        return 0
    store = await open_store(path, create=False)
    try:
        records = await store.list_tasks()
        now = await store.now_ms()  # leases are judged by the database's clock
    finally:
        await store.close()
    rows = [task_summary(r, now) for r in records]
    if args.running:
        rows = [r for r in rows if r["status"] in ("running", "stopping")]
    if args.json:
        _json_out(rows)
        return 0
    if not rows:
        print(f"no {'running ' if args.running else ''}tasks in {path}", flush=True)
        return 0
    console = _out_console()
    console.print(_list_table(rows, console.width))
    return 0


_LIST_LAYOUTS = (
    ("task_id", "strategy", "symbol", "mode", "status", "state", "lease", "owner_host", "owner_pid", "updated_at",
     "net_pnl_usdt", "realized_pnl_usdt", "fees_usdt", "funding_usdt", "net_delta_base"),
    ("task_id", "symbol", "mode", "status", "state", "lease", "owner_host", "updated_at", "net_pnl_usdt",
     "net_delta_base"),
    ("task_id", "symbol", "mode", "status", "state", "lease", "net_pnl_usdt", "net_delta_base"),
    ("task_id", "symbol", "mode", "status", "state", "net_pnl_usdt"),
)
_HEADERS = {"task_id": "task", "owner_host": "host", "owner_pid": "pid", "updated_at": "updated (UTC)", "net_pnl_usdt": "net PnL",
            "realized_pnl_usdt": "realized", "fees_usdt": "fees", "funding_usdt": "funding", "net_delta_base": "delta"}
_MONEY = frozenset({"net_pnl_usdt", "realized_pnl_usdt", "fees_usdt", "funding_usdt"})


def _list_cell(row: dict[str, Any], key: str) -> str:
    value = row.get(key)
    if key in _MONEY:
        return money(value)
    if key == "net_delta_base":
        return quantity(value)
    if key == "updated_at" and value:
        return str(value)[:19].replace("T", " ")
    return "-" if value is None or value == "" else str(value)


def _list_table(rows: list[dict[str, Any]], width: int) -> Any:
    from taskmanager import tables

    def build(keys: tuple[str, ...]) -> Any:
        table = tables.plain_table()
        for key in keys:
            table.add_column(_HEADERS.get(key, key), no_wrap=True,
                             justify="right" if key in _MONEY or key in ("net_delta_base", "owner_pid") else "left")
        for row in rows:
            cells: list[Any] = [_list_cell(row, k) for k in keys]
            if "mode" in keys:
                cells[keys.index("mode")] = tables.mode_badge(str(row.get("mode") or ""))
            if "status" in keys:
                cells[keys.index("status")] = tables.status_text(str(row["status"]), str(row.get("lease") or ""))
            table.add_row(*cells)
        return table

    return tables.fit([lambda keys=keys: build(keys) for keys in _LIST_LAYOUTS], width)  # type: ignore[misc]


def cmd_tasks_show(args: Any, venue_factory: Any = None) -> int:
    _logging(args, "none", create_file=False)
    return asyncio.run(_show(args))


async def _show(args: Any) -> int:
    store = await open_store(db_path(args), create=False)
    try:
        record = await resolve_task(store, args.task_id)
        detail = task_detail(
            record,
            intents=await store.intents(record.task_id),
            fills=await store.fills(record.task_id),
            funding=await store.funding(record.task_id),
            transitions=await store.transitions(record.task_id),
            now_ms=await store.now_ms(),
        )
    finally:
        await store.close()
    if args.json:
        _json_out(detail)
        return 0
    _print_detail(detail, _out_console())
    return 0


def _print_detail(d: dict[str, Any], console: Console) -> None:
    from taskmanager import tables

    out = console.print
    head = f"task {d['task_id']}  {d['strategy']} {d['symbol']}  mode "
    console.print(head, tables.mode_badge(str(d["mode"])), sep="", highlight=False)
    out(f"  status {d['status']}  state {d['state']}  lease {d['lease']}  owner pid {d['owner_pid'] or '-'}",
        highlight=False)
    out(f"  created {d['created_at']}  updated {d['updated_at']}  version {d['version']}", highlight=False)
    if d.get("last_error"):
        out(f"  last error: {d['last_error'].splitlines()[0]}", highlight=False, markup=False)
    p = d["pnl"]
    out(f"  net PnL {money(net_pnl(p))} USDT = realized {money(p['realized_pnl_usdt'])} + unrealized "
        f"{money(p['unrealized_pnl_usdt'])} - fees {money(p['fees_usdt'])} + funding {money(p['funding_usdt'])}",
        highlight=False)
    out(f"  trades {p['trades']}  volume {money(p['volume_usdt'])} USDT  final delta {quantity(p['net_delta_base'])}"
        " base", highlight=False)
    out(f"  config: {json.dumps(d['config'], default=str)}", highlight=False, markup=False)
    trs = d["transitions"]
    out(tables.transitions_table(trs[-30:], f"transitions ({len(trs)}{', last 30 shown' if len(trs) > 30 else ''})",
                                 width=console.width))
    intents = d["order_intents"][-40:]
    title = f"order intents ({len(d['order_intents'])}{', last 40 shown' if len(d['order_intents']) > 40 else ''})"
    out(tables.fit([lambda: tables.intents_table(intents, title), lambda: tables.intents_table(intents, title, True)],
                   console.width))
    fills = d["fills"][-40:]
    title = f"fills ({len(d['fills'])}{', last 40 shown' if len(d['fills']) > 40 else ''})"
    out(tables.fit([lambda: tables.fills_table(fills, title), lambda: tables.fills_table(fills, title, True)],
                   console.width))
    funding = d["funding"]
    total = sum((Decimal(str(f["amount_usdt"])) for f in funding), Decimal(0))
    out(f"funding payments ({len(funding)}): {money(total)} USDT", highlight=False)


def cmd_tasks_graph(args: Any, venue_factory: Any = None) -> int:
    """``tasks graph``: the task FSM (``--orders``: the order-intent lifecycle) as Mermaid."""
    if getattr(args, "orders", False):
        from strategies.execution.lifecycle import mermaid as intent_mermaid

        sys.stdout.write(intent_mermaid())
        return 0
    from strategies.fsm import mermaid

    sys.stdout.write(mermaid())
    sys.stdout.flush()
    return 0


def cmd_dashboard(args: Any, venue_factory: Any = None) -> int:
    from taskmanager.tables import OutConsole

    live = sys.stdout.isatty() and not args.once
    console = OutConsole(width=args.width or None) if live else None
    _logging(args, "rich" if live else "none", console, create_file=False)
    return asyncio.run(_dashboard(args, console))


async def _wait_for_db(path: DbLocation, console: Console, stop: asyncio.Event) -> bool:
    """Live dashboard on a database that does not exist yet: say so until it appears."""
    if path.exists():
        return True
    with console.status(f"waiting for the database {path} to appear (start a task with --db {path})"):
        while not path.exists():
            try:
                await asyncio.wait_for(stop.wait(), timeout=0.5)
                return False
            except asyncio.TimeoutError:
                pass
    return True


async def _dashboard(args: Any, console: Console | None) -> int:
    import signal

    from taskmanager.dashboard import frame, render_text, run_dashboard

    path = db_path(args)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if console is not None:
        if not await _wait_for_db(path, console, stop):
            return 0
    elif not path.exists():
        if args.task_id:
            raise CliError(f"no database at {path} (nothing has run with it yet; see --db)")
        print(f"no database at {path} (no tasks yet)", flush=True)
        return 0
    store = await open_store(path, create=False)
    try:
        task_id = (await resolve_task(store, args.task_id)).task_id if args.task_id else None
        if console is not None:
            await run_dashboard(store, console=console, stop=stop, task_id=task_id)
            return 0
        out = _out_console(args.width)
        width = args.width or out.width
        while True:
            group = await frame(store, width=width, task_id=task_id)
            if sys.stdout.isatty():
                out.print(group)
            else:
                sys.stdout.write(render_text(group, width=width))
                sys.stdout.flush()
            if args.once:
                return 0
            try:  # not a terminal: a plain frame every 2 s
                await asyncio.wait_for(stop.wait(), timeout=2.0)
                return 0
            except asyncio.TimeoutError:
                pass
    finally:
        await store.close()


__all__ = ["cmd_tasks_list", "cmd_tasks_show", "cmd_tasks_graph", "cmd_dashboard", "pnl_of", "iso_ms"]
