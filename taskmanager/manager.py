"""TaskManager: drives many strategy tasks concurrently in one asyncio process.

Per task (a :class:`Handle`):

* a driver coroutine: ``task.load()``, ``task.on_start(resumed)``, then
  ``while not task.done: progressed = await task.step(); if not progressed: wait(task.wake, idle_wait_s)``
  (the wake event is set by venue listeners; the short timer lets time-based guards fire),
  then ``task.on_shutdown()``, venue ``close()``, lease release;
* the lease: acquired before driving, heartbeated every ``heartbeat_s`` by the supervisor; a failed
  heartbeat (another process took the task) cancels the driver at once, and every commit is fenced
  by the lease anyway (``LeaseLost``);
* control requests (``tasks stop``/``tasks pause`` from another process) polled every
  ``control_poll_s`` (<= 250 ms) and handed to ``task.request_stop/request_pause`` with the control id;
  the task acknowledges the row in the commit that makes the request durable. A store that pushes
  (PostgreSQL LISTEN/NOTIFY, :meth:`state.api.TaskStore.subscribe`) wakes the supervisor at once
  instead, and the table is then only re-read every ``control_backstop_s``;
* telemetry (:class:`taskmanager.telemetry.TelemetryWriter`): ``task.live_view()`` +
  status/state/PnL written to ``task_live`` every ~250 ms; the same snapshot feeds the history
  table (:mod:`taskmanager.history`, at most once a second, only on change) and the alerts
  (``task.alert_sink`` is set to this manager's sink, strategies/alerts.py);
* the supervisor does each of those three for ALL its tasks in one store call per tick (one
  heartbeat UPDATE ... RETURNING the leases still ours, one control query, one telemetry
  transaction), so its load on the shared SQLite connection does not grow with the task count;
* graceful stop (``duration_s`` elapsed, :meth:`TaskManager.request_stop_all` on a signal, or
  ``stop_now``): ``task.request_stop(flatten, reason)`` then keep driving until FINALIZING ends,
  bounded by ``stop_timeout_s``; past it the task is left in its state with status ``stopping``
  and the outcome says so.

Worker mode (:meth:`TaskManager.serve`, ``python run.py worker``): tasks are added while it runs and
driven at once; :meth:`TaskManager.drain` lets every task finish its current step, then releases its
lease (status unchanged) so another worker picks it up.

Failure isolation: any exception from a task's hooks or handlers ends THAT task ``failed``: the
traceback is journaled (trigger ``error``), ``last_error`` set, status ``failed``; the other
tasks keep running.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import traceback
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from exchanges import clock
from state.api import Notice, TaskStore
from state.errors import LeaseLost, StoreUnavailable
from state.records import TaskRecord, TaskStatus
from strategies.base import StrategyTask
from taskmanager.notify import Notifier
from taskmanager.telemetry import TelemetryWriter
from taskmanager.views import LEASE_TTL_S, lease_state, this_host

log = logging.getLogger("taskmanager")
_NOTABLE_STATES = frozenset({"IDLE", "SYNCING", "COMPLETING", "FINALIZING"})
_WARMING_UP = frozenset({"IDLE", "SYNCING"})


class LeaseBusy(Exception):
    """The task is owned by another live process (its pid/host in the message)."""


@dataclass
class Handle:
    """Book-keeping of one driven task."""

    task: StrategyTask
    resumed: bool = False
    duration_s: float | None = None
    flatten_on_exit: bool = False
    stop_now: bool = False
    stop_now_flatten: bool = False
    pause_now: bool = False
    started_mono: float = 0.0
    stop_requested_mono: float | None = None
    lease_lost: bool = False
    outcome: str = "running"  # finished paused lease_lost failed stop_timeout aborted released store_lost
    driver: asyncio.Task | None = None
    seen_controls: set[int] = field(default_factory=set)
    last_state: str = ""

    @property
    def task_id(self) -> str:
        return self.task.task_id


class TaskManager:
    """Runs tasks; one instance per process (``owner_id`` identifies it in leases)."""

    def __init__(
        self,
        store: TaskStore,
        *,
        owner_id: str | None = None,
        host: str | None = None,
        lease_ttl_s: float = LEASE_TTL_S,
        heartbeat_s: float = 1.0,
        control_poll_s: float = 0.2,
        telemetry_s: float = 0.25,
        idle_wait_s: float = 0.1,
        stop_timeout_s: float = 30.0,
        close_timeout_s: float = 10.0,
        progress_log_s: float = 0.0,
        wal_checkpoint_s: float = 1.0,
        notifier: Notifier | None = None,
        control_backstop_s: float = 5.0,
    ) -> None:
        self.store = store
        self.pid = os.getpid()
        self.host = host or this_host()
        self.owner_id = owner_id or f"{self.host}:{self.pid}:{uuid.uuid4().hex[:8]}"
        self.lease_ttl_s = lease_ttl_s
        self.heartbeat_s = heartbeat_s
        self.control_poll_s = control_poll_s
        self.telemetry_s = telemetry_s
        self.idle_wait_s = idle_wait_s
        self.stop_timeout_s = stop_timeout_s
        self.close_timeout_s = close_timeout_s
        self.progress_log_s = progress_log_s
        self.wal_checkpoint_s = wal_checkpoint_s
        self.control_backstop_s = control_backstop_s
        self.handles: dict[str, Handle] = {}
        self._serving = False
        self._draining = False
        self._controls_pushed = False
        self._control_wake = asyncio.Event()
        self._gc_frozen = False
        self._stop_all: tuple[bool | None, str] | None = None
        self.notifier = notifier
        self.telemetry = TelemetryWriter(store, notifier, self.pid)

    # ---- leases ------------------------------------------------------------

    async def acquire(self, record: TaskRecord) -> None:
        """Take the task's lease: free, expired, or owned by a dead pid on this host.

        The takeover is a compare-and-swap on the owner and heartbeat read in ``record``: of two
        processes taking over the same lease at once exactly one succeeds. Raises LeaseBusy
        (naming the owner) when another live process owns it or won the race."""
        state = lease_state(record, await self.store.now_ms(), ttl_s=self.lease_ttl_s)
        if state == "live" and record.owner_id != self.owner_id:
            raise LeaseBusy(
                f"task {record.task_id} is driven by pid {record.owner_pid} on {record.owner_host} (lease live)")
        take_from = (record.owner_id, record.heartbeat_ms) if state == "crashed" else None
        ok = await self.store.acquire_lease(record.task_id, self.owner_id, self.pid, self.host,
                                            self.lease_ttl_s, take_from=take_from)
        if not ok:
            now = await self.store.get_task(record.task_id)
            who = (f"pid {now.owner_pid} on {now.owner_host}" if now is not None and now.owner_id
                   else "another process")
            raise LeaseBusy(f"task {record.task_id} was taken over by {who} first; not driving it")
        if state in ("stale", "crashed"):
            log.warning("task %s: took over a %s lease (previous owner pid %s on %s)",
                        record.task_id, state, record.owner_pid, record.owner_host)
        await self.discard_orphan_controls(record.task_id)

    async def discard_orphan_controls(self, task_id: str) -> None:
        """Acknowledge, unanswered, the control requests a previous owner left: they are void (the
        operator was told to repeat them; tasks stop/pause take a dead task over themselves)."""
        for req in await self.store.pending_controls(task_id):
            log.warning("task %s: discarding %s request #%d left unanswered by the previous owner",
                        task_id, req.action, req.id)
            await self.store.ack_control(req.id)

    # ---- adding and running tasks ----------------------------------------------

    def add(self, task: Any, **options: Any) -> Handle:
        """Drive ``task`` (its lease must be held by this manager). ``options``: the Handle fields
        ``resumed``, ``duration_s``, ``flatten_on_exit``, ``stop_now``, ``stop_now_flatten``,
        ``pause_now``."""
        handle = Handle(task=task, **options)
        task.fence.ttl_s = self.lease_ttl_s
        self.handles[task.task_id] = handle
        task.alert_sink = self.telemetry.sink_for(task.task_id)
        if self._serving:  # worker mode: drive it at once
            handle.driver = asyncio.create_task(self._drive(handle), name=f"task-{handle.task_id}")
        return handle

    async def serve(self, until: asyncio.Event) -> dict[str, Handle]:
        """Worker mode: drive every task added before or while this runs, until ``until`` is set;
        then :meth:`drain` and return once every driver ended."""
        self._serving = True
        for handle in self.handles.values():
            if handle.driver is None:
                handle.driver = asyncio.create_task(self._drive(handle), name=f"task-{handle.task_id}")
        await self._subscribe_controls()
        supervisor = asyncio.create_task(self._supervise(), name="supervisor")
        try:
            await until.wait()
            self.drain()
            await asyncio.gather(*(h.driver for h in self.handles.values() if h.driver is not None),
                                 return_exceptions=True)
        finally:
            self._serving = False
            supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await supervisor
            if self._gc_frozen:
                gc.unfreeze()
        return self.handles

    def drain(self) -> None:
        """Every task finishes its current step, then stops being driven here and its lease is
        released (its status unchanged), so another process takes it over."""
        self._draining = True
        for handle in self.handles.values():
            handle.task.wake.set()

    @property
    def active_count(self) -> int:
        """Tasks being driven right now."""
        return sum(1 for h in self.handles.values() if h.driver is not None and not h.driver.done())

    async def _subscribe_controls(self) -> None:
        try:
            self._controls_pushed = await self.store.subscribe(Notice.CONTROL, self._on_control_notice)
        except Exception as exc:  # noqa: BLE001 - polling still works
            log.warning("control notifications unavailable (%s); polling instead", exc)
            self._controls_pushed = False

    def _on_control_notice(self, task_id: str) -> None:
        if not task_id or task_id in self.handles:
            self._control_wake.set()

    async def run(self) -> dict[str, Handle]:
        """Drive every added task until each finished, paused, failed, lost its lease or timed out."""
        if not self.handles:
            return {}
        for handle in self.handles.values():
            handle.driver = asyncio.create_task(self._drive(handle), name=f"task-{handle.task_id}")
        await self._subscribe_controls()
        supervisor = asyncio.create_task(self._supervise(), name="supervisor")
        try:
            await asyncio.gather(*(h.driver for h in self.handles.values() if h.driver is not None),
                                 return_exceptions=True)
        finally:
            supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await supervisor
            if self._gc_frozen:
                gc.unfreeze()  # back to normal collection once nothing reacts any more
        return self.handles

    def request_stop_all(self, flatten: bool | None = None, reason: str = "signal") -> None:
        """Gracefully stop every task (SIGINT/SIGTERM). ``flatten`` None = each task's own setting."""
        self._stop_all = (flatten, reason)
        for handle in self.handles.values():
            self._request_stop(handle, handle.flatten_on_exit if flatten is None else flatten, reason)

    def abort(self) -> None:
        """Stop driving at once (a second Ctrl-C): tasks keep their checkpointed state."""
        for handle in self.handles.values():
            if handle.driver and not handle.driver.done():
                handle.outcome = "aborted"
                handle.driver.cancel()

    def _request_stop(self, handle: Handle, flatten: bool, reason: str, control_id: int | None = None) -> None:
        task = handle.task
        if task.done:
            return
        task.request_stop(flatten=flatten, reason=reason, control_id=control_id)
        if handle.stop_requested_mono is None:
            handle.stop_requested_mono = clock.monotonic_s()
            log.info("task %s: stop requested (%s%s)", task.task_id, reason, ", flatten" if flatten else "")

    # ---- the driver ------------------------------------------------------------

    async def _drive(self, handle: Handle) -> None:
        task = handle.task
        handle.started_mono = clock.monotonic_s()
        handle.last_state = task.state.value
        shutdown_needed = False
        try:
            await self._confirm_lease(handle)
            await task.load()
            shutdown_needed = True
            await task.on_start(handle.resumed)
            if handle.stop_now:
                self._request_stop(handle, handle.stop_now_flatten, "user")
            if handle.pause_now:
                task.request_pause()
            if self._stop_all is not None:
                flatten, reason = self._stop_all
                self._request_stop(handle, handle.flatten_on_exit if flatten is None else flatten, reason)
            while not task.done:
                if self._draining:
                    handle.outcome = "released"
                    log.info("task %s: released in %s (draining); another worker takes it over",
                             task.task_id, task.state.value)
                    return
                if self._stop_timed_out(handle):
                    await self._give_up_stopping(handle)
                    return
                self._check_duration(handle)
                task.wake.clear()
                if handle.stop_requested_mono is None:
                    progressed = await task.step()
                else:  # bounded: a hung venue call must not keep a stopping process alive forever
                    remaining = self._stop_timeout_s(handle) - (clock.monotonic_s() - handle.stop_requested_mono)
                    try:
                        progressed = await asyncio.wait_for(task.step(), timeout=max(0.01, remaining))
                    except asyncio.TimeoutError:
                        await self._give_up_stopping(handle)
                        return
                self._log_transition(handle)
                if not progressed and not task.done:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.idle_wait_s):  # no extra task per wait
                            await task.wake.wait()
            handle.outcome = "paused" if task.status is TaskStatus.PAUSED else "finished"
            log.info("task %s: %s (state %s)", task.task_id, task.status.value, task.state.value)
        except LeaseLost:
            handle.lease_lost = True
            handle.outcome = "lease_lost"
            log.error("task %s: lease lost; another process owns it now, stopped driving", task.task_id)
        except StoreUnavailable as exc:  # the task is NOT failed: whoever drives it next reconciles
            handle.outcome = "store_lost"
            log.error("task %s: database unreachable (%s); stopped driving it until the database is back",
                      task.task_id, exc)
        except asyncio.CancelledError:
            if handle.lease_lost:
                handle.outcome = "lease_lost"
                log.error("task %s: lease lost; stopped driving at once", task.task_id)
            elif handle.outcome == "running":
                handle.outcome = "aborted"
        except Exception as exc:  # failure isolation: this task ends, the others keep running
            handle.outcome = "failed"
            await self._fail(handle, exc)
        finally:
            await self._finish(handle, shutdown_needed)

    async def _confirm_lease(self, handle: Handle) -> None:
        """Heartbeat the task's lease once before driving it: its fence allows sends only after a
        confirmed heartbeat (and for the TTL minus a margin after each). Raises LeaseLost."""
        issued = clock.monotonic_s()
        held = await self.store.heartbeat_many([handle.task_id], self.owner_id)
        if handle.task_id not in held:
            raise LeaseLost(f"task {handle.task_id}: lease is not held by {self.owner_id}")
        handle.task.fence.confirm(issued)

    def _stop_timeout_s(self, handle: Handle) -> float:
        """How long a stop may take for this task: the runner's bound, or more if the task's own
        bounded steps (settling, completing) need it."""
        return max(self.stop_timeout_s, float(handle.task.stop_budget_s()))

    def _check_duration(self, handle: Handle) -> None:
        if handle.duration_s is None or handle.stop_requested_mono is not None:
            return
        if clock.monotonic_s() - handle.started_mono >= handle.duration_s:
            self._request_stop(handle, handle.flatten_on_exit, "duration")

    def _stop_timed_out(self, handle: Handle) -> bool:
        return (handle.stop_requested_mono is not None
                and clock.monotonic_s() - handle.stop_requested_mono > self._stop_timeout_s(handle))

    async def _give_up_stopping(self, handle: Handle) -> None:
        task = handle.task
        handle.outcome = "stop_timeout"
        msg = (f"could not finish stopping within {self._stop_timeout_s(handle):.0f} s; left in {task.state.value} "
               f"with status stopping (run 'tasks stop {task.task_id}' to retry)")
        log.error("task %s: %s", task.task_id, msg)
        halt = task.context.halt_reason
        with contextlib.suppress(Exception):
            if task.status is not TaskStatus.STOPPING and not task.status.is_terminal:
                await self.store.set_status(task.task_id, TaskStatus.STOPPING, msg, owner_id=self.owner_id)
                task.status = TaskStatus.STOPPING
            await self.store.journal(task.task_id, "stop_timeout", msg)
            # the first reason stays readable: a halt reason is never replaced by this one
            await self.store.set_error(task.task_id, f"{halt}; {msg}" if halt else msg)

    async def _fail(self, handle: Handle, exc: BaseException) -> None:
        task = handle.task
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        summary = f"{type(exc).__name__}: {exc}"
        log.error("task %s failed in %s: %s", task.task_id, task.state.value, summary, exc_info=exc)
        try:
            await self.store.journal(task.task_id, "error", tb)
            await self.store.set_error(task.task_id, summary)
            await self.store.set_status(task.task_id, TaskStatus.FAILED, summary, owner_id=self.owner_id)
            task.status = TaskStatus.FAILED
        except LeaseLost:
            handle.lease_lost = True
        except Exception:  # the store itself is failing: nothing more we can record
            log.exception("task %s: could not record the failure", task.task_id)

    async def _finish(self, handle: Handle, shutdown_needed: bool) -> None:
        task = handle.task
        task.fence.lose()  # this process drives the task no more: nothing of it may be sent
        if shutdown_needed:
            try:
                await asyncio.wait_for(task.on_shutdown(), timeout=self.close_timeout_s)
            except (Exception, asyncio.TimeoutError, asyncio.CancelledError) as exc:
                log.warning("task %s: on_shutdown raised %s: %s", task.task_id, type(exc).__name__, exc)
        await self._close_venues(task)
        if handle.lease_lost:
            return
        with contextlib.suppress(Exception):
            await self.telemetry.write_one(handle)
        with contextlib.suppress(Exception):
            await self.store.release_lease(task.task_id, self.owner_id)

    async def _close_venues(self, task: Any) -> None:
        for venue_id, venue in dict(task.venues).items():
            try:
                await asyncio.wait_for(venue.close(), timeout=self.close_timeout_s)
            except (Exception, asyncio.TimeoutError, asyncio.CancelledError) as exc:
                log.warning("task %s: closing %s raised %s: %s", task.task_id, getattr(venue_id, "value", venue_id),
                            type(exc).__name__, exc)

    def _log_transition(self, handle: Handle) -> None:
        state = handle.task.state.value
        if state != handle.last_state:
            # Lifecycle edges at INFO; the trading loop's churn (ANALYZING <-> MONITORING ...) at DEBUG
            # so plain console lines stay readable (the journal has every transition anyway).
            notable = state in _NOTABLE_STATES or handle.last_state in _NOTABLE_STATES
            log.log(logging.INFO if notable else logging.DEBUG, "task %s: %s -> %s", handle.task_id,
                    handle.last_state, state)
            handle.last_state = state

    # ---- supervisor: heartbeats, controls, telemetry ---------------------------

    async def _checkpoint_wal(self) -> None:
        """WAL checkpoint off the commit path (:meth:`Store.checkpoint_wal`); a failure is logged
        (the commits' own backstop checkpoint still bounds the WAL)."""
        try:
            await self.store.checkpoint_wal()
        except Exception as exc:  # noqa: BLE001 - never fatal
            log.warning("WAL checkpoint failed: %s: %s", type(exc).__name__, exc)

    def _freeze_gc(self) -> None:
        """Once every task is past SYNCING: collect, then ``gc.freeze()`` the survivors (modules,
        connectors, books, loaded intents). Python's full (generation 2) collection otherwise
        walks all of them now and then: ~40 ms during which no task reacts (bench/reaction.py saw
        it as its max). Frozen objects are not collected until :meth:`run` ends (``gc.unfreeze``);
        what is created later is collected as usual."""
        self._gc_frozen = True
        gc.collect()
        gc.freeze()
        log.debug("gc: %d objects frozen after warm-up", gc.get_freeze_count())

    async def _supervise(self) -> None:
        next_heartbeat = next_control = next_telemetry = next_progress = 0.0
        next_wal_checkpoint = clock.monotonic_s() + self.wal_checkpoint_s
        tick_s = min(self.heartbeat_s, self.control_poll_s, self.telemetry_s) / 2
        while True:
            now = clock.monotonic_s()
            active = [h for h in self.handles.values() if h.driver is not None and not h.driver.done()]
            if now >= next_heartbeat:
                next_heartbeat = now + self.heartbeat_s
                await self._heartbeat(active)
            if now >= next_control or self._control_wake.is_set():
                self._control_wake.clear()
                next_control = now + (self.control_backstop_s if self._controls_pushed else self.control_poll_s)
                await self._poll_controls(active)
            if now >= next_telemetry:
                next_telemetry = now + self.telemetry_s
                await self.telemetry.write_all(active)
            if now >= next_wal_checkpoint:
                next_wal_checkpoint = now + self.wal_checkpoint_s
                await self._checkpoint_wal()
            if not self._gc_frozen and active and all(h.task.state.value not in _WARMING_UP for h in active):
                self._freeze_gc()
            if self.progress_log_s and now >= next_progress:
                if next_progress:
                    for handle in active:
                        self._log_progress(handle)
                next_progress = now + self.progress_log_s
            with contextlib.suppress(TimeoutError):  # a pushed control request ends the wait at once
                async with asyncio.timeout(tick_s):
                    await self._control_wake.wait()

    async def _heartbeat(self, active: list[Handle]) -> None:
        """ONE statement refreshes the leases of all our active tasks; a task missing from the
        answer lost its lease (another process took it over): its fence refuses every send and
        its driver is cancelled at once. A held lease confirms the task's fence with the
        monotonic time at which the heartbeat was issued."""
        if not active:
            return
        issued = clock.monotonic_s()
        try:
            held = await self.store.heartbeat_many([h.task_id for h in active], self.owner_id)
        except Exception as exc:  # a busy database: try again next beat; the fence expires meanwhile
            log.warning("heartbeat of %d task(s) failed: %s", len(active), exc)
            return
        for handle in active:
            if handle.task_id in held:
                handle.task.fence.confirm(issued)
                continue
            handle.task.fence.lose()
            if handle.driver is not None:
                handle.lease_lost = True
                handle.driver.cancel()

    async def _poll_controls(self, active: list[Handle]) -> None:
        """ONE query fetches the pending control rows of all our active tasks."""
        if not active:
            return
        try:
            pending = await self.store.pending_controls_many([h.task_id for h in active])
        except Exception as exc:
            log.warning("control poll of %d task(s) failed: %s", len(active), exc)
            return
        by_id = {h.task_id: h for h in active}
        for req in pending:
            handle = by_id.get(req.task_id)
            if handle is None or req.id in handle.seen_controls:
                continue  # handed to the task; acked by its next commit
            handle.seen_controls.add(req.id)
            try:
                if handle.task.done:  # nothing left to stop or pause
                    await self.store.ack_control(req.id)
                elif req.action == "stop":
                    log.info("task %s: stop request #%d received", handle.task_id, req.id)
                    self._request_stop(handle, req.flatten, "user", control_id=req.id)
                elif req.action == "pause":
                    log.info("task %s: pause request #%d received", handle.task_id, req.id)
                    handle.task.request_pause(control_id=req.id)
                else:
                    await self.store.ack_control(req.id)
            except Exception as exc:
                log.warning("task %s: control request #%d: %s", handle.task_id, req.id, exc)

    def _log_progress(self, handle: Handle) -> None:
        task = handle.task
        try:
            pnl = task.pnl()
        except Exception:
            pnl = {}
        log.info("task %s: %s %s for %.0fs; trades %s, realized %s USDT, fees %s, delta %s", task.task_id,
                 task.status.value, task.state.value, task.time_in_state_s(), pnl.get("trades", "0"),
                 pnl.get("realized_pnl_usdt", "0"), pnl.get("fees_usdt", "0"), pnl.get("net_delta_base", "0"))


VenueBuilder = Callable[[TaskRecord], Awaitable[Mapping[Any, Any]] | Mapping[Any, Any]]
