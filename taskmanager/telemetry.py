"""What a task manager publishes about its tasks: the ``task_live`` snapshot of each (read by the
dashboard, ``dashboard --once`` and other processes), the history samples taken from the same
snapshots (:mod:`taskmanager.history`), and the alerts raised from them (:mod:`taskmanager.notify`).

A snapshot is ``task.live_view()`` (the strategy's telemetry; keys documented on the strategy's
``live_view``) plus ``status``, ``state``, ``state_entered_ms``, ``pnl``, ``owner_pid``,
``updated_ms`` (epoch ms), ``symbol``, ``mode``, ``duration_left_s`` (s, with ``--duration``) and
``last_error``. Nothing here may break a task: a failing ``live_view`` becomes a
``telemetry_error`` key, a failing write is logged.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from exchanges import clock
from state.api import TaskStore
from strategies.alerts import AlertSink
from taskmanager.dashboard import dumps_live
from taskmanager.history import HistorySampler
from taskmanager.notify import AlertHub, Notifier

if TYPE_CHECKING:
    from taskmanager.manager import Handle

log = logging.getLogger("taskmanager")


class TelemetryWriter:
    """Owns the history sampler and the alert hub of one manager; writes snapshots to ``store``."""

    def __init__(self, store: TaskStore, notifier: Notifier | None, owner_pid: int) -> None:
        self.store = store
        self.owner_pid = owner_pid
        self._history = HistorySampler()
        self._alerts = AlertHub(notifier)

    def sink_for(self, task_id: str) -> AlertSink:
        """The alert sink a task raises its own alerts through (``task.alert_sink``)."""
        return self._alerts.sink_for(task_id)

    async def write_all(self, active: list[Handle]) -> None:
        """Snapshots of all ``active`` tasks in ONE transaction; the same snapshots feed the
        history (one more transaction, at most once a second per task) and the alerts."""
        now = clock.now_ms()
        views = [(h.task_id, self.view(h)) for h in active]
        if not views:
            return
        try:
            await self.store.put_live_many([(task_id, dumps_live(view)) for task_id, view in views])
        except Exception as exc:  # telemetry must never break a task
            log.warning("telemetry of %d task(s) not written: %s", len(views), exc)
        self._alerts.observe(views, now)
        rows = [row for task_id, view in views if (row := self._history.offer(task_id, view, now)) is not None]
        if rows:
            try:
                await self.store.append_history(rows, self._history.take_due_checks())
            except Exception as exc:
                log.warning("history of %d task(s) not written: %s", len(rows), exc)

    async def write_one(self, handle: Handle) -> None:
        """The final snapshot of one task (raises what the store raises)."""
        view = self.view(handle)
        await self.store.put_live(handle.task_id, dumps_live(view))
        self._alerts.observe([(handle.task_id, view)], clock.now_ms())

    def view(self, handle: Handle) -> dict[str, Any]:
        """The snapshot of one task (see the module docstring)."""
        task = handle.task
        try:
            view = dict(task.live_view() or {})
        except Exception as exc:  # telemetry must never break a task
            view = {"telemetry_error": f"{type(exc).__name__}: {exc}"}
        try:
            pnl = task.pnl()
        except Exception:
            pnl = {}
        view.update({
            "status": task.status.value,
            "state": task.state.value,
            "state_entered_ms": task.state_entered_ms,
            "pnl": pnl,
            "owner_pid": self.owner_pid,
            "updated_ms": clock.now_ms(),
            "symbol": getattr(task.record, "symbol", ""),
            "mode": getattr(task.record, "mode", ""),
        })
        if handle.duration_s is not None and handle.started_mono:
            view["duration_left_s"] = round(max(0.0, handle.duration_s - (clock.monotonic_s() - handle.started_mono)), 1)
        if "last_error" not in view and task.last_error:
            view["last_error"] = task.last_error
        return view


__all__ = ["TelemetryWriter"]
