"""Live terminal dashboard (rich ``Live``): every task, or one task in detail.

Rendering is pure (:mod:`taskmanager.dash_table` for the overview, :mod:`taskmanager.dash_detail`
for ``dashboard ID``); this module reads the store and drives the ``Live`` display:

* ``tasks``: ``Store.list_tasks()`` records,
* ``live``: ``Store.get_live()`` decoded to ``{task_id: dict}`` -- the telemetry the TaskManager
  writes every ~250 ms from ``task.live_view()`` merged with status/state/PnL (keys documented in
  strategies/delta_neutral/task.py ``live_view`` and taskmanager/manager.py ``_live_view``),
* ``transitions``: recent ``TransitionRecord`` s, newest last; for the detail view also the
  task's fills and its history samples (``Store.history``).

:func:`run_dashboard` polls the store 5 times a second and redraws through one ``Live``
(``auto_refresh`` off, explicit refresh after each update: no flicker) at the console's current
width, so a resized terminal gets the layout that fits. Log lines go through the same console
(taskmanager/logsetup.py), so they are printed above the live frame, never through it.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Mapping
from typing import Any

from rich.console import Console, RenderableType

from exchanges import clock
from taskmanager.dash_detail import SPARK_WINDOW_MS, render_detail
from taskmanager.dash_table import CHURN_TRIGGERS, format_duration_s, render, task_view
from taskmanager.tables import STATE_STYLES, STATUS_STYLES
from taskmanager.views import parse_json

REFRESH_S = 0.2  # 5 frames per second (the contract asks for >= 4)
DETAIL_REFRESH_S = 1.0  # fills, transitions and history of the detail view change slowly

__all__ = ["CHURN_TRIGGERS", "STATE_STYLES", "STATUS_STYLES", "dumps_live", "format_duration_s", "frame", "gather",
           "render", "render_text", "run_dashboard", "task_view"]


async def gather(store: Any, *, per_task_transitions: int = 64) -> tuple[list, dict, list]:
    """Read one frame's data from the store: (tasks, live dict, recent transitions)."""
    tasks = await store.list_tasks()
    raw_live = await store.get_live()
    live = {tid: parse_json(text, {}) or {} for tid, text in raw_live.items()}
    recent: list[Any] = []
    for record in tasks:
        recent.extend(await store.transitions(record.task_id, limit=per_task_transitions))
    recent.sort(key=lambda t: (t.ts_ms or 0, t.version or 0))
    return tasks, live, recent


class _DetailSource:
    """The detail view's slow data (fills, transitions, history), re-read at most once a second."""

    def __init__(self, store: Any, task_id: str) -> None:
        self.store = store
        self.task_id = task_id
        self._read_mono = -1e9
        self.fills: list[Any] = []
        self.transitions: list[Any] = []
        self.history: list[tuple[int, str]] = []

    async def refresh(self, now_ms: int) -> None:
        if clock.monotonic_s() - self._read_mono < DETAIL_REFRESH_S:
            return
        self._read_mono = clock.monotonic_s()
        self.fills = await self.store.fills(self.task_id)
        self.transitions = await self.store.transitions(self.task_id, limit=64)
        self.history = await self.store.history(self.task_id, since_ms=now_ms - SPARK_WINDOW_MS)


async def frame(store: Any, *, width: int = 120, task_id: str | None = None,
                detail: _DetailSource | None = None) -> RenderableType:
    """One rendered frame of the current store contents (``task_id``: that task in detail). Leases
    are judged by the database's clock (PostgreSQL: the server's, whatever this host's says)."""
    now = await store.now_ms()
    if task_id is None:
        tasks, live, recent = await gather(store)
        return render(tasks, live, recent, now, width=width)
    record = await store.get_task(task_id)
    if record is None:
        from rich.text import Text

        return Text(f"task {task_id} is gone from the database")
    source = detail or _DetailSource(store, task_id)
    await source.refresh(now)
    raw = (await store.get_live()).get(task_id)
    telemetry: Mapping[str, Any] = parse_json(raw, {}) or {}
    return render_detail(record, telemetry, fills=source.fills, transitions=source.transitions, history=source.history,
                         now_ms=now, width=width)


async def run_dashboard(
    store: Any,
    *,
    console: Console | None = None,
    stop: asyncio.Event | None = None,
    refresh_s: float = REFRESH_S,
    task_id: str | None = None,
) -> None:
    """Show the live dashboard until ``stop`` is set (or the coroutine is cancelled)."""
    from rich.live import Live

    console = console or Console()
    stop = stop or asyncio.Event()
    detail = _DetailSource(store, task_id) if task_id else None

    async def draw() -> RenderableType:
        return await frame(store, width=console.width, task_id=task_id, detail=detail)

    with Live(await draw(), console=console, auto_refresh=False, transient=False,
              vertical_overflow="crop") as live:
        while not stop.is_set():
            live.update(await draw(), refresh=True)
            try:
                await asyncio.wait_for(stop.wait(), timeout=refresh_s)
            except asyncio.TimeoutError:
                pass
        live.update(await draw(), refresh=True)


def render_text(group: RenderableType, width: int = 200) -> str:
    """Render a frame to plain text (``dashboard --once`` when piped, tests, README)."""
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(group)
    return console.export_text()


def dumps_live(view: Mapping[str, Any]) -> str:
    """Telemetry dict -> JSON text for ``Store.put_live`` (Decimals and enums as strings)."""
    return json.dumps(view, default=lambda o: str(getattr(o, "value", o)), separators=(",", ":"))

