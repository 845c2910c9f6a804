"""Reading commands: ``tasks list``, ``tasks show``, ``tasks graph`` and ``dashboard``.

They never take a lease and never modify a task; they only open the store (which creates an
empty database, mode 0600, when none exists).
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from exchanges import clock
from taskmanager.commands import _logging, _use_dashboard, db_path, open_store
from taskmanager.errors import CliError
from taskmanager.views import iso_ms, pnl_of, task_detail, task_summary


def _json_out(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str), flush=True)


def cmd_tasks_list(args: Any, venue_factory: Any = None) -> int:
    _logging(args, "none")
    return asyncio.run(_list(args))


async def _list(args: Any) -> int:
    store = await open_store(db_path(args))
    try:
        records = await store.list_tasks()
        now = await store.now_ms()  # leases are judged by the database's clock
    finally:
        await store.close()
    rows = [task_summary(r, now) for r in records]
    if args.json:
        _json_out(rows)
        return 0
    if not rows:
        print(f"no tasks in {db_path(args)}")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(header_style="bold", pad_edge=False)
    columns = ("task_id", "strategy", "symbol", "mode", "status", "state", "lease", "owner_host", "owner_pid",
               "updated_at", "realized_pnl_usdt", "fees_usdt", "funding_usdt", "net_delta_base")
    for name in columns:
        table.add_column("host" if name == "owner_host" else name, no_wrap=True)
    for row in rows:
        table.add_row(*(str(row.get(k) if row.get(k) is not None else "-") for k in columns))
    Console(width=220 if not sys.stdout.isatty() else None).print(table)
    return 0


def cmd_tasks_show(args: Any, venue_factory: Any = None) -> int:
    _logging(args, "none")
    return asyncio.run(_show(args))


async def _show(args: Any) -> int:
    store = await open_store(db_path(args))
    try:
        record = await store.get_task(args.task_id)
        if record is None:
            raise CliError(f"unknown task id {args.task_id!r} (see: tasks list)")
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
    _print_detail(detail)
    return 0


def _print_detail(d: dict[str, Any]) -> None:
    out = print
    out(f"task {d['task_id']}  {d['strategy']} {d['symbol']} mode={d['mode']}")
    out(f"  status {d['status']}  state {d['state']}  lease {d['lease']}  owner pid {d['owner_pid'] or '-'}")
    out(f"  created {d['created_at']}  updated {d['updated_at']}  version {d['version']}")
    if d.get("last_error"):
        out(f"  last error: {d['last_error'].splitlines()[0]}")
    out("  pnl: " + "  ".join(f"{k}={v}" for k, v in d["pnl"].items()))
    out(f"  config: {json.dumps(d['config'], default=str)}")
    out(f"transitions ({len(d['transitions'])}):")
    for t in d["transitions"][-30:]:
        reason = (t.get("reason") or "").splitlines()
        out(f"  {iso_ms(t['ts_ms'])}  v{t['version']}  {t['src']} -> {t['dst']} ({t['trigger']})"
            f"{'  ' + reason[0][:100] if reason else ''}")
    out(f"order intents ({len(d['order_intents'])}):")
    for i in d["order_intents"][-40:]:
        out(f"  {i['client_order_id']}  {i['venue']:<9} {i['leg']:<9} {i['side']:<4} qty {i['qty']} "
            f"@ {i.get('price')}  {i['status']}  filled {i.get('filled_qty')}")
    out(f"fills ({len(d['fills'])}), funding payments ({len(d['funding'])})")


def cmd_tasks_graph(args: Any, venue_factory: Any = None) -> int:
    """``tasks graph``: the task FSM (``--orders``: the order-intent lifecycle) as Mermaid."""
    if getattr(args, "orders", False):
        from strategies.execution.lifecycle import mermaid as intent_mermaid

        sys.stdout.write(intent_mermaid())
        return 0
    from strategies.fsm import mermaid

    sys.stdout.write(mermaid())
    return 0


def cmd_dashboard(args: Any, venue_factory: Any = None) -> int:
    live = _use_dashboard(args) and not args.once
    if live:
        from rich.console import Console

        console = Console()
        _logging(args, "rich", console)
    else:
        console = None
        _logging(args, "none")
    return asyncio.run(_dashboard(args, console))


async def _dashboard(args: Any, console: Any) -> int:
    import signal

    from taskmanager.dashboard import frame, render_text, run_dashboard

    store = await open_store(db_path(args))
    try:
        if args.once:
            group = await frame(store)
            if sys.stdout.isatty():
                from rich.console import Console

                Console(width=args.width or None).print(group)
            else:
                sys.stdout.write(render_text(group, width=args.width or 200))
            return 0
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if console is not None:
            await run_dashboard(store, console=console, stop=stop)
        else:  # not a terminal: a plain frame every 2 s
            while not stop.is_set():
                sys.stdout.write(render_text(await frame(store), width=args.width or 200) + "\n")
                sys.stdout.flush()
                try:
                    await asyncio.wait_for(stop.wait(), timeout=2.0)
                except asyncio.TimeoutError:
                    pass
        return 0
    finally:
        await store.close()


__all__ = ["cmd_tasks_list", "cmd_tasks_show", "cmd_tasks_graph", "cmd_dashboard", "pnl_of"]
