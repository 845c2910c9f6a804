"""``tasks create`` and ``worker``: tasks recorded in a shared database, run by workers on any host.

``python run.py tasks create --symbol S [--duration S] [--config F] [--json]`` records a runnable
task (status ``running``, state IDLE, no owner) and prints its id. ``python run.py worker --db URL
[--host-id NAME] [--max-tasks N]`` runs until SIGTERM/SIGINT: every ``claim_interval_s`` (and at
once when the database announces a new or released task) it claims runnable tasks whose lease is
free or expired on the database clock (:meth:`state.api.TaskStore.claim_tasks`: ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL), and drives each exactly as ``start`` / ``tasks resume`` do (lease fence,
heartbeats, reconciliation of unresolved intents before anything is sent). SIGTERM drains: every
task finishes its current step, its lease is released with its status unchanged, and the worker
exits 0; another worker takes the tasks over. A second signal aborts at once (tasks keep their last
checkpoint; their leases expire after the TTL).

A task recorded with ``--duration`` ends ``completed`` that many seconds after it was first driven,
whichever worker drives it by then (``started_ms`` is kept across failovers).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from exchanges import clock
from state.api import Claim, Notice, TaskStore
from taskmanager.errors import CliError

log = logging.getLogger("taskmanager.worker")

#: how often a worker looks for runnable tasks (expired leases are never announced)
CLAIM_INTERVAL_S = 1.0
#: after a task could not be set up here (unknown strategy, venues unavailable), claiming pauses this long
CLAIM_BACKOFF_S = 5.0
#: how long SIGTERM waits for the tasks to finish their steps before aborting them
DRAIN_TIMEOUT_S = 60.0


# ---- tasks create -------------------------------------------------------------------------------


def cmd_tasks_create(args: Any, venue_factory: Any = None) -> int:
    from taskmanager.commands import task_spec

    cls, symbol, config = task_spec(args)
    return asyncio.run(_create(args, cls, symbol, config))


async def _create(args: Any, cls: Any, symbol: Any, config: Any) -> int:
    import msgspec

    from state.records import State, TaskRecord, TaskStatus
    from taskmanager.commands import _logging, db_path, new_task_id, open_store
    from taskmanager.views import task_summary

    _logging(args, "none")
    store = await open_store(db_path(args))
    try:
        now = clock.now_ms()
        record = TaskRecord(
            task_id=new_task_id(), strategy=cls.strategy_name, symbol=str(symbol), mode=args.mode,
            config=msgspec.json.encode(config).decode(), status=TaskStatus.RUNNING, state=State.IDLE,
            created_ms=now, state_entered_ms=now, duration_s=float(args.duration or 0.0))
        await store.create_task(record)
        log.info("task %s created (%s %s, mode %s), waiting for a worker", record.task_id, cls.strategy_name, symbol,
                 args.mode)
        summary = task_summary(record, await store.now_ms())
    finally:
        await store.close()
    if args.json:
        print(json.dumps(dict(summary, duration_s=record.duration_s), default=str), flush=True)
    else:
        print(record.task_id, flush=True)
    return 0


# ---- worker -------------------------------------------------------------------------------------


def cmd_worker(args: Any, venue_factory: Any = None) -> int:
    if args.host_id is not None and not args.host_id.strip():
        raise CliError("--host-id must not be empty")
    return asyncio.run(_serve(args, venue_factory))


async def _serve(args: Any, venue_factory: Any) -> int:
    from taskmanager.commands import _logging, db_path, on_signals, open_store
    from taskmanager.manager import TaskManager

    _logging(args, "auto")
    location = db_path(args)
    store = await open_store(location)
    try:
        manager = TaskManager(store, host=args.host_id.strip() if args.host_id else None, progress_log_s=10.0)
        worker = Worker(store, manager, venue_factory, max_tasks=args.max_tasks, live=bool(args.live))
        stop = asyncio.Event()

        def drain(name: str) -> None:
            log.warning("%s: draining (tasks finish their step and are released; again to abort)", name)
            stop.set()

        on_signals(drain, manager.abort)
        print(f"worker {manager.host} (pid {manager.pid}) serving {location}; at most {args.max_tasks} task(s)",
              flush=True)
        log.info("worker %s started (owner %s, db %s)", manager.host, manager.owner_id, location)
        await worker.run(stop)
        released = sum(1 for h in manager.handles.values() if h.outcome == "released")
        print(f"worker {manager.host} stopped: {len(manager.handles)} task(s) driven, {released} released", flush=True)
        return 0
    finally:
        await store.close()


class Worker:
    """Claims runnable tasks from ``store`` and hands them to ``manager`` (worker mode)."""

    def __init__(self, store: TaskStore, manager: Any, venue_factory: Any = None, *, max_tasks: int = 100,
                 live: bool = False, claim_interval_s: float = CLAIM_INTERVAL_S) -> None:
        self.store = store
        self.manager = manager
        self.venue_factory = venue_factory
        self.max_tasks = max_tasks
        self.modes = ["sim", "paper", "live"] if live else ["sim", "paper"]
        self.live = live
        self.claim_interval_s = claim_interval_s
        self._wake = asyncio.Event()
        self._backoff_until = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and drive tasks until ``stop`` is set, then drain (bounded by DRAIN_TIMEOUT_S)."""
        serving = asyncio.create_task(self.manager.serve(stop), name="worker-serve")
        try:
            await self.store.subscribe(Notice.TASK, lambda _task_id: self._wake.set())
        except Exception as exc:  # noqa: BLE001 - polling still finds the tasks
            log.warning("task notifications unavailable (%s); polling", exc)
        while not stop.is_set() and not serving.done():
            self._wake.clear()
            if clock.monotonic_s() >= self._backoff_until:
                await self.claim_once()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.claim_interval_s):
                    await _first(stop, self._wake)
        try:
            await asyncio.wait_for(asyncio.shield(serving), timeout=DRAIN_TIMEOUT_S)
        except asyncio.TimeoutError:
            log.error("drain did not finish within %.0f s: aborting the remaining tasks", DRAIN_TIMEOUT_S)
            self.manager.abort()
            await serving

    async def claim_once(self) -> list[str]:
        """Claim up to the free capacity; returns the ids now driven here. Never raises."""
        free = self.max_tasks - self.manager.active_count
        if free <= 0:
            return []
        m = self.manager
        try:
            claims = await self.store.claim_tasks(m.owner_id, m.pid, m.host, m.lease_ttl_s, free, self.modes)
        except Exception as exc:  # noqa: BLE001 - the database may be away: try again later
            log.warning("claiming tasks failed: %s", exc)
            return []
        adopted = []
        for claim in claims:
            if await self._adopt(claim):
                adopted.append(claim.record.task_id)
        return adopted

    async def _adopt(self, claim: Claim) -> bool:
        from taskmanager.commands import build_venues, parse_symbol, strategy_class

        rec = claim.record
        m = self.manager
        try:
            if claim.previous_owner:
                log.warning("task %s: took over an expired lease (previous owner %s on %s)", rec.task_id,
                            claim.previous_owner, claim.previous_host)
            await m.discard_orphan_controls(rec.task_id)
            cls = strategy_class(rec.strategy)
            venues = await build_venues(self.venue_factory, rec.mode, parse_symbol(rec.symbol),
                                        live_confirmed=self.live)
            task = cls(rec, self.store, venues, m.owner_id)
        except Exception as exc:  # noqa: BLE001 - this task cannot run here now; another process may
            log.error("task %s: cannot be driven here: %s; released", rec.task_id, exc)
            self._backoff_until = clock.monotonic_s() + CLAIM_BACKOFF_S
            with contextlib.suppress(Exception):
                await self.store.set_error(rec.task_id, f"worker {m.host}: {exc}")
                await self.store.release_lease(rec.task_id, m.owner_id)
            return False
        duration = await self._remaining_s(rec)
        m.add(task, resumed=rec.version > 0, duration_s=duration,
              flatten_on_exit=bool(getattr(task.config, "flatten_on_exit", False)))
        log.info("task %s: driven here from %s (%s %s, %s)", rec.task_id, rec.state.value, rec.strategy, rec.symbol,
                 f"{duration:.0f} s left" if duration is not None else "until stopped")
        return True

    async def _remaining_s(self, rec: Any) -> float | None:
        if rec.duration_s <= 0:
            return None
        elapsed_s = max(0.0, (await self.store.now_ms() - rec.started_ms) / 1000) if rec.started_ms else 0.0
        return max(0.001, rec.duration_s - elapsed_s)


async def _first(*events: asyncio.Event) -> None:
    """Return as soon as any of ``events`` is set."""
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


__all__ = ["Worker", "cmd_tasks_create", "cmd_worker", "register"]
