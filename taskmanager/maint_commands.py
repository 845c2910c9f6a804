"""``tasks report ID`` (a chart of one run) and ``tasks prune --before DAYS`` (delete old finished tasks).

Neither takes a lease. ``report`` reads the task and writes only its output file; ``prune``
deletes finished tasks (completed, stopped, failed, halted) last updated more than DAYS days ago,
with all their rows, in one transaction; it never touches a task that is still running, paused
or stopping.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from exchanges import clock
from taskmanager.commands import _logging, db_path, open_store, resolve_task
from taskmanager.errors import CliError
from taskmanager.views import iso_ms

DAY_MS = 86_400_000


def cmd_tasks_report(args: Any, venue_factory: Any = None) -> int:
    from taskmanager import report

    try:
        report.require_matplotlib()
    except report.ReportUnavailable as exc:
        raise CliError(str(exc)) from None
    _logging(args, "none", create_file=False)
    return asyncio.run(_report(args))


async def _report(args: Any) -> int:
    from taskmanager import report

    path = db_path(args)
    store = await open_store(path, create=False)
    try:
        record = await resolve_task(store, args.task_id)
        history = await store.history(record.task_id)
        fills = await store.fills(record.task_id)
    finally:
        await store.close()
    try:
        data = report.report_data(record, history, fills)
    except report.NoHistory as exc:
        raise CliError(str(exc)) from None
    out = Path(args.out).expanduser() if args.out else report.default_path(path.parent, record.task_id, args.html)
    png = report.render_png(data)
    payload = report.render_html(data, png).encode() if args.html else png
    tmp = out.with_name(out.name + ".tmp")
    try:
        tmp.write_bytes(payload)
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CliError(f"cannot write {out}: {exc.strerror or exc}") from None
    print(f"report of task {record.task_id} written to {out.resolve()}", flush=True)
    return 0


def cmd_tasks_prune(args: Any, venue_factory: Any = None) -> int:
    _logging(args, "none", create_file=False)
    return asyncio.run(_prune(args))


async def _prune(args: Any) -> int:
    store = await open_store(db_path(args), create=False)
    try:
        cutoff = clock.now_ms() - int(args.before * DAY_MS)
        old = await store.finished_tasks_before(cutoff)
        if args.dry_run:
            for task_id, status, updated_ms in old:
                print(f"would delete task {task_id} ({status}, last updated {iso_ms(updated_ms)})", flush=True)
            print(f"{len(old)} finished task(s) last updated before {iso_ms(cutoff)}; nothing deleted (--dry-run)")
            return 0
        deleted = await store.delete_tasks([task_id for task_id, _, _ in old])
    finally:
        await store.close()
    print(f"deleted {deleted} finished task(s) last updated before {iso_ms(cutoff)}", flush=True)
    return 0
