"""History sampling: what the runner records of each running task for charts and sparklines.

The manager hands every telemetry snapshot (the dict written to ``task_live``: ``task.live_view()``
plus status, state and PnL) to :meth:`HistorySampler.offer`; a sample is kept at most once per
:data:`SAMPLE_INTERVAL_MS` per task, only while the task runs, and only when one of its values
changed since the task's last kept sample. Samples are stored by ``Store.append_history``
(table and retention: :mod:`state.history`).

A sample (JSON object, decimals as strings) has the keys of :data:`SAMPLE_KEYS` that the snapshot
carries, plus ``net_pnl_usdt``, ``realized_pnl_usdt``, ``fees_usdt``, ``funding_usdt`` and
``trades`` from its PnL.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from taskmanager.views import net_pnl

SAMPLE_INTERVAL_MS = 1000
#: after this many kept samples of a task, its retention is checked (state.history.thin)
RETENTION_CHECK_EVERY = 500
SAMPLE_KEYS = (
    "spreads_bps", "edges_bps", "entry_spread_bps", "entry_threshold_bps", "mids", "net_delta_base",
    "delta_tolerance_base", "inventory_base", "inventory_target_base", "inventory_floor_pct", "perp_base",
    "state",
)
_PNL_KEYS = ("realized_pnl_usdt", "unrealized_pnl_usdt", "fees_usdt", "funding_usdt", "trades")
_SAMPLED_STATUSES = frozenset({"running", "stopping"})


def sample_of(view: Mapping[str, Any]) -> dict[str, Any] | None:
    """The history sample of one snapshot, or None when the task is not running."""
    if view.get("status") not in _SAMPLED_STATUSES:
        return None
    sample = {k: view[k] for k in SAMPLE_KEYS if k in view}
    pnl = view.get("pnl")
    if isinstance(pnl, Mapping):
        sample.update({k: str(pnl[k]) for k in _PNL_KEYS if k in pnl})
        sample["net_pnl_usdt"] = str(net_pnl(pnl))
    return sample


@dataclass
class _TaskSampling:
    last_ms: int = -(10**15)
    last_text: str = ""
    kept: int = 0


@dataclass
class HistorySampler:
    """Decides which snapshots become history rows (pure: the caller writes the rows)."""

    interval_ms: int = SAMPLE_INTERVAL_MS
    check_every: int = RETENTION_CHECK_EVERY
    _tasks: dict[str, _TaskSampling] = field(default_factory=dict)
    _due: set[str] = field(default_factory=set)

    def offer(self, task_id: str, view: Mapping[str, Any], now_ms: int) -> tuple[str, int, str] | None:
        """``(task_id, ts_ms, json)`` to store, or None (too soon, not running, or unchanged)."""
        seen = self._tasks.setdefault(task_id, _TaskSampling())
        if now_ms - seen.last_ms < self.interval_ms:
            return None
        sample = sample_of(view)
        if sample is None:
            return None
        text = json.dumps(sample, sort_keys=True, separators=(",", ":"), default=str)
        if text == seen.last_text:
            return None
        seen.last_ms, seen.last_text = now_ms, text
        seen.kept += 1
        if seen.kept % self.check_every == 0:
            self._due.add(task_id)
        return task_id, now_ms, text

    def take_due_checks(self) -> list[str]:
        """Tasks whose retention should be checked with the next write (and forget them)."""
        due, self._due = sorted(self._due), set()
        return due

    def forget(self, task_id: str) -> None:
        """Drop the memory of a task that is no longer driven here."""
        self._tasks.pop(task_id, None)
        self._due.discard(task_id)
