"""The store interface the runner, the strategies and the CLI use, whatever the backend.

Two backends implement :class:`TaskStore`: :class:`state.store.Store` (SQLite, one file, one host;
the default) and :class:`state.pg.store.PgStore` (PostgreSQL, shared by workers on several hosts).
:func:`state.opener.open_store` picks one from ``--db`` / ``$ARB_DB``. Both keep the same schema
meaning and versions, the same guarantees and the same errors (:mod:`state.errors`):

* every FSM step is ONE transaction (group-committed with the steps of other tasks, each step in
  its own savepoint or subtransaction), fenced by the lease: a step of a process that no longer
  holds the task's lease is refused by the database (``LeaseLost``);
* a lease is taken with a compare-and-swap on its previous owner and heartbeat, or only once the
  heartbeat is older than the TTL on the database's clock (:meth:`TaskStore.now_ms`);
* ``stop``/``pause`` requests are rows in ``control``; PostgreSQL also wakes the owner at once
  (:meth:`TaskStore.subscribe`), SQLite owners poll.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from enum import Enum
from typing import Any, Protocol

import msgspec

from state.records import ControlRequest, FillRecord, FundingRecord, OrderIntent, TaskRecord, TaskStatus, \
    TransitionRecord


class Backend(str, Enum):
    """Which database a store speaks to."""

    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


class Notice(str, Enum):
    """What a store can push to its subscribers (:meth:`TaskStore.subscribe`)."""

    #: a control request was queued; the payload is its task id
    CONTROL = "control"
    #: a task became runnable (created, or its lease released); the payload is its task id
    TASK = "task"


#: statuses a worker drives (a paused task waits for ``tasks resume``; terminal ones are done)
RUNNABLE_STATUSES = (TaskStatus.RUNNING, TaskStatus.STOPPING)


class Claim(msgspec.Struct, kw_only=True):
    """A task a worker just took (:meth:`TaskStore.claim_tasks`): the record as it is now (the lease
    ours, ``started_ms`` set) and who held the lease before (None: a new or released task)."""

    record: TaskRecord
    previous_owner: str | None = None
    previous_host: str | None = None


class TaskStore(Protocol):
    """What every store backend provides. Records and errors are the same for both backends."""

    backend: Backend

    async def close(self) -> None:
        """Wait for queued step commits, then close the connection(s)."""

    async def now_ms(self) -> int:
        """The database's clock in epoch ms: lease expiry is judged by it (SQLite: this host's clock)."""

    # ---- tasks ----------------------------------------------------------------------------------
    async def create_task(self, rec: TaskRecord) -> None:
        """Insert a new task (its id must be new)."""

    async def get_task(self, task_id: str) -> TaskRecord | None: ...

    async def list_tasks(self) -> list[TaskRecord]: ...

    async def set_status(self, task_id: str, status: TaskStatus, reason: str = "",
                         owner_id: str | None = None) -> None:
        """Set a status and journal it; fenced by ``owner_id`` when given (raises LeaseLost)."""

    async def set_error(self, task_id: str, text: str) -> None: ...

    async def journal(self, task_id: str, trigger: str, reason: str) -> None: ...

    # ---- the FSM commit -------------------------------------------------------------------------
    async def commit_step(self, task_id: str, owner_id: str, **fields: Any) -> int:
        """One FSM step in one transaction (fields: see :meth:`state.store.Store.commit_step`);
        returns the task's new version. Raises LeaseLost, or an integrity error for a duplicate
        client order id (nothing of the step is written)."""

    def commit_step_nowait(self, task_id: str, owner_id: str, **fields: Any) -> asyncio.Future[Any]:
        """Write-behind :meth:`commit_step`: queued at once; the future holds the outcome."""

    @property
    def commit_stats(self) -> dict[str, int]:
        """Group-commit counters ``groups``, ``steps``, ``max_group``."""

    async def checkpoint_wal(self) -> tuple[int, int]:
        """SQLite: copy the WAL into the database off the commit path. PostgreSQL: nothing (-1, -1)."""

    # ---- reads ----------------------------------------------------------------------------------
    async def intents(self, task_id: str, unresolved_only: bool = False) -> list[OrderIntent]: ...

    async def fills(self, task_id: str) -> list[FillRecord]:
        """In booking order."""

    async def funding(self, task_id: str) -> list[FundingRecord]: ...

    async def transitions(self, task_id: str, limit: int | None = None) -> list[TransitionRecord]: ...

    async def recent_transitions(self, limit: int = 10) -> list[TransitionRecord]: ...

    # ---- leases ---------------------------------------------------------------------------------
    async def acquire_lease(self, task_id: str, owner_id: str, pid: int, host: str, ttl_s: float,
                            take_from: tuple[str | None, int] | None = None) -> bool:
        """Take the lease (free, ours, expired on the database clock, or a CAS on ``take_from``)."""

    async def heartbeat(self, task_id: str, owner_id: str) -> bool: ...

    async def heartbeat_many(self, task_ids: Iterable[str], owner_id: str) -> set[str]:
        """Refresh leases in one statement; returns the ids still held by ``owner_id``."""

    async def release_lease(self, task_id: str, owner_id: str) -> None: ...

    async def claim_tasks(self, owner_id: str, pid: int, host: str, ttl_s: float, limit: int,
                          modes: Iterable[str]) -> list[Claim]:
        """Take up to ``limit`` runnable tasks (status running/stopping, mode in ``modes``) that
        have no owner or whose heartbeat is older than ``ttl_s`` on the database clock, oldest
        first, skipping rows another transaction holds; one transaction."""

    # ---- control requests -----------------------------------------------------------------------
    async def request_control(self, task_id: str, action: str, flatten: bool = False) -> int: ...

    async def pending_controls(self, task_id: str) -> list[ControlRequest]: ...

    async def pending_controls_many(self, task_ids: Iterable[str]) -> list[ControlRequest]: ...

    async def ack_control(self, control_id: int) -> None: ...

    async def control(self, control_id: int) -> ControlRequest | None: ...

    async def subscribe(self, notice: Notice, callback: Callable[[str], None]) -> bool:
        """Call ``callback(task_id)`` on the event loop whenever ``notice`` happens in any process;
        False when the backend cannot push (SQLite: the caller polls)."""

    # ---- telemetry ------------------------------------------------------------------------------
    async def put_live(self, task_id: str, json_text: str) -> None: ...

    async def put_live_many(self, items: Iterable[tuple[str, str]]) -> None: ...

    async def get_live(self) -> dict[str, str]: ...

    # ---- history (charts, sparklines) and pruning -----------------------------------------------
    async def append_history(self, rows: Iterable[tuple[str, int, str]], check_ids: Iterable[str] = ()) -> int:
        """Append ``(task_id, ts_ms, json)`` samples and thin the tasks of ``check_ids`` that hold
        too many (:mod:`state.history`); returns the rows deleted."""

    async def history(self, task_id: str, since_ms: int = 0, limit: int | None = None) -> list[tuple[int, str]]:
        """``(ts_ms, json)`` samples of a task from ``since_ms``, oldest first (the newest ``limit``)."""

    async def finished_tasks_before(self, before_ms: int) -> list[tuple[str, str, int]]:
        """``(task_id, status, updated_ms)`` of finished tasks last updated before ``before_ms``."""

    async def delete_tasks(self, task_ids: Iterable[str]) -> int:
        """Delete finished tasks with all their rows; returns how many."""


__all__ = ["Backend", "Claim", "Notice", "RUNNABLE_STATUSES", "TaskStore"]
