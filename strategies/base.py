"""FSM machinery for strategy tasks, on the ``transitions`` library.

The nine states and every edge are declared once, as data, in
:data:`strategies.fsm.TRANSITIONS` (check it against docs/design.md section 5 at a glance). A
strategy subclasses :class:`StrategyTask` and writes one async handler per
state (``on_idle`` ... ``on_finalizing``). ``await task.step()`` runs the
current state's handler once; a handler returns ``self.go(trigger, reason)``
to move along a declared edge, or ``None`` to stay.

Crash safety: every transition is committed -- journal row, checkpointed
context, PnL, and any order intents / fills queued by the handler -- in ONE
store transaction before ``step()`` returns, fenced by the task's lease. An
order request may only leave the process for an intent that is committed:
intents queued with :meth:`StrategyTask.new_intent` are committed with the
next transition, or explicitly with :meth:`StrategyTask.checkpoint` before
sending (invariant 1, "intent before effect").

Time: handlers read time only via :mod:`exchanges.clock`; timeouts are
guards evaluated on ``step()``, so tests drive tasks under freezegun.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, ClassVar

import msgspec

from exchanges.clock import now_ms
from exchanges.models import VenueId
from exchanges.venue import Venue
from state.records import State, TaskRecord, TaskStatus, TransitionRecord
from state.records import FillRecord, FundingRecord, OrderIntent
from state.api import TaskStore
from strategies.alerts import AlertSink, no_alert
from strategies.execution.fence import LeaseFence
from strategies.execution.journal import Journal
from strategies.fsm import (  # noqa: F401 - re-exported: the FSM table is read from here too
    PAUSE_INTERRUPTIBLE,
    STOP_INTERRUPTIBLE,
    TRANSITIONS,
    build_machine,
    declared_edges,
    mermaid,
)

S = State

class InvalidTransition(RuntimeError):
    """A handler asked for an edge that is not declared from the current state."""


class Next(msgspec.Struct, frozen=True):
    """A handler's request to take ``trigger`` from the current state."""

    trigger: str
    reason: str = ""
    status: TaskStatus | None = None
    #: False lets a transition that carries nothing but the state change skip the fsync.
    durable: bool = False
    #: True: a bare transition whose next handler runs at once (e.g. MONITORING -signal->
    #: ANALYZING on a trade decision) is queued for commit without waiting, so it shares one
    #: transaction with the next handler's commit (see :meth:`StrategyTask.go`).
    write_behind: bool = False


class Finish(msgspec.Struct, frozen=True):
    """FINALIZING's result: end the task with a terminal ``status``."""

    status: TaskStatus
    reason: str = ""


class BaseContext(msgspec.Struct, kw_only=True):
    """Checkpointed fields every task has. Strategies subclass it.

    ``stop_reason``: "user" (``tasks stop``: ends ``stopped``), "duration"
    (the runner's ``--duration``: a planned end, ends ``completed``),
    "signal" (SIGINT/SIGTERM: ends ``stopped``), or a strategy exit reason.
    """

    next_seq: int = 1
    stop_requested: bool = False
    flatten_requested: bool = False
    stop_reason: str = ""
    pause_requested: bool = False
    exit_reason: str = ""
    halt_reason: str = ""


class EmptyConfig(msgspec.Struct, kw_only=True):
    """Config of strategies that take none."""

    symbol: str = ""


_ctx_encoder = msgspec.json.Encoder()


class StrategyTask:
    """A task: one FSM instance bound to a store row, venues and a lease owner.

    Subclasses set ``strategy_name``, ``config_type`` and ``context_type`` and
    implement the ``on_<state>`` handlers they need (the defaults do nothing
    and stay). Construct via ``cls(record, store, venues, owner_id)``; call
    :meth:`load` once before the first :meth:`step` to load intents and fills.

    Parts: :attr:`journal` (intents, fills, funding and the commit queue) and :attr:`fence`
    (the lease fence every order send checks; confirmed by the runner's heartbeats, or injected
    by tests). A fence that was never confirmed refuses every send.
    """

    strategy_name: ClassVar[str] = "base"
    config_type: ClassVar[type[msgspec.Struct]] = EmptyConfig
    context_type: ClassVar[type[BaseContext]] = BaseContext

    def __init__(self, record: TaskRecord, store: TaskStore, venues: Mapping[VenueId, Venue], owner_id: str,
                 fence: LeaseFence | None = None) -> None:
        self.record = record
        self.task_id = record.task_id
        self.store = store
        self.venues = dict(venues)
        self.owner_id = owner_id
        self.config = msgspec.json.decode(record.config or "{}", type=self.config_type)
        self.context = msgspec.json.decode(record.context or "{}", type=self.context_type)
        self.status: TaskStatus = TaskStatus(record.status)
        self.state_entered_ms = record.state_entered_ms or now_ms()
        self.committed_version = record.version
        self.last_error = record.last_error
        self.wake = asyncio.Event()
        self.journal = Journal(self.task_id, self.context)
        self.fence = fence if fence is not None else LeaseFence()
        self.alert_sink: AlertSink = no_alert  # strategies/alerts.py; the runner sets its own
        self._controls_to_ack: list[int] = []
        self._status_dirty = False
        self.machine = build_machine(self, State(record.state))
        self._handlers = {s: getattr(self, f"on_{s.value.lower()}") for s in State}

    @classmethod
    async def start_refusal(cls, config: Any, venues: Mapping[VenueId, Venue]) -> str | None:
        """Why ``start`` must refuse ``config`` before creating anything (one line for the CLI's
        exit 2), or None. Strategies override it; the default accepts every config."""
        return None

    # ---- state -------------------------------------------------------------

    fsm_state: str  # maintained by transitions.Machine

    @property
    def state(self) -> State:
        return State(self.fsm_state)

    @property
    def done(self) -> bool:
        """True once the task reached a terminal status (or is paused in IDLE)."""
        return self.status.is_terminal or (self.status is TaskStatus.PAUSED and self.state is S.IDLE)

    def time_in_state_s(self) -> float:
        return max(0.0, (now_ms() - self.state_entered_ms) / 1000.0)

    def go(self, trigger: str, reason: str = "", status: TaskStatus | None = None,
           durable: bool = False, write_behind: bool = False) -> Next:
        """Build a transition request; the edge is validated by ``step()``.

        The commit is fsynced (``synchronous=FULL``) whenever it carries intents,
        fills, funding, intent updates, a status change or a control ack, or
        when ``durable`` is True; a bare state change uses ``synchronous=NORMAL``.

        ``write_behind=True`` (for a bare transition only; ignored when anything else is
        queued): ``step()`` queues the checkpoint and returns without waiting for its COMMIT.
        The store commits queued steps in order, so the next handler's commit (same loop
        turn) lands in the same transaction, and no later commit of the task can become
        durable without it; a crash before it simply resumes from the previous state, which is
        safe because a bare transition precedes no side effect. A failure of the write-behind
        commit (LeaseLost) is raised by the next ``step()``.
        """
        return Next(trigger, reason, status, durable, write_behind)

    def finish(self, status: TaskStatus, reason: str = "") -> Finish:
        """End the task (only from FINALIZING)."""
        return Finish(status, reason)

    # ---- loading -----------------------------------------------------------

    async def load(self) -> None:
        """Load intents, fills and funding from the store; make sure the next
        client order id is past every stored one."""
        await self.journal.load(self.store)

    # ---- the journal (see strategies/execution/journal.py) -------------------------

    @property
    def intents(self) -> dict[str, OrderIntent]:
        return self.journal.intents

    @property
    def open_intent_ids(self) -> dict[str, None]:
        return self.journal.open_intent_ids

    @property
    def fills(self) -> list[FillRecord]:
        return self.journal.fills

    @property
    def funding(self) -> list[FundingRecord]:
        return self.journal.funding

    def unresolved_intents(self) -> list[OrderIntent]:
        return self.journal.unresolved_intents()

    def new_intent(self, *args: Any, **kwargs: Any) -> OrderIntent:
        """:meth:`Journal.new_intent`: committed with the next transition or checkpoint."""
        return self.journal.new_intent(*args, **kwargs)

    def is_committed(self, client_order_id: str) -> bool:
        return self.journal.is_committed(client_order_id)

    def record_fill(self, fill: FillRecord) -> bool:
        return self.journal.record_fill(fill)

    # ---- the step ----------------------------------------------------------

    async def step(self) -> bool:
        """Run the current state's handler once and commit its outcome.

        Returns True when the state or status changed (the caller may step
        again at once), False when the task stays where it was (the caller
        waits for ``wake`` or a timer). Raises InvalidTransition for an
        undeclared edge and store errors (LeaseLost) unchanged.
        """
        if self._write_behind_error is not None:
            exc, self._write_behind_error = self._write_behind_error, None
            raise exc
        if self.status.is_terminal:
            return False
        nxt = self._control_next()
        if nxt is None:
            nxt = await self._handlers[self.state]()
        if nxt is None:
            if self.is_dirty():
                await self.checkpoint()
            return False
        if isinstance(nxt, Finish):
            if self.state is not S.FINALIZING:
                raise InvalidTransition(f"finish() is only allowed in FINALIZING, not {self.state.value}")
            await self._commit(
                TransitionRecord(task_id=self.task_id, src=self.state.value, dst=self.state.value,
                                 trigger=f"finish:{nxt.status.value}", reason=nxt.reason),
                status=nxt.status,
            )
            return True
        return await self._take(nxt)

    def fire(self, trigger: str) -> State:
        """Move along the declared edge ``trigger`` from the current state; returns the new state.

        The edge is looked up in the machine's own table (``Machine.events``). The machine has no
        conditions and no enter/exit callbacks, so firing an edge is exactly setting its
        destination -- what ``Event.trigger`` ends with, minus its per-call machinery (~15 us
        warm, several times that on a cold CPU, twice on the reaction path). Raises
        InvalidTransition for an undeclared edge.
        """
        event = self.machine.events.get(trigger)
        edges = event.transitions.get(self.fsm_state) if event is not None else None
        dest = edges[0].dest if edges else None
        if dest is None:
            raise InvalidTransition(f"no edge {self.fsm_state} --{trigger}--> declared")
        self.machine.set_state(dest, model=self)
        return self.state

    async def _take(self, nxt: Next) -> bool:
        src = self.state
        dst = self.fire(nxt.trigger)
        status = nxt.status
        if status is None:
            if nxt.trigger == "stop":
                status = TaskStatus.STOPPING
            elif nxt.trigger == "pause":
                status = TaskStatus.PAUSED
            elif nxt.trigger == "start":
                status = TaskStatus.RUNNING
        if status is TaskStatus.RUNNING and self.context.stop_requested:
            status = TaskStatus.STOPPING
        if status is None and self._status_dirty:
            status = self._pending_status()
        entered_before = self.state_entered_ms
        self.state_entered_ms = now_ms()
        try:
            # A bare transition (no intents, fills, status or control) precedes no side
            # effect: commit it with synchronous=NORMAL (durable against a process crash,
            # not a power cut, where resuming from the previous state is equally correct).
            await self._commit(
                TransitionRecord(task_id=self.task_id, src=src.value, dst=dst.value, trigger=nxt.trigger,
                                 reason=nxt.reason),
                status=status,
                durable=nxt.durable,
                write_behind=nxt.write_behind,
            )
        except BaseException:
            self.machine.set_state(src.value, model=self)
            self.state_entered_ms = entered_before
            raise
        return True

    def _control_next(self) -> Next | None:
        ctx = self.context
        if ctx.stop_requested and self.state in STOP_INTERRUPTIBLE:
            return self.go("stop", f"stop requested ({ctx.stop_reason or 'user'})")
        if ctx.pause_requested and not ctx.stop_requested and self.state in PAUSE_INTERRUPTIBLE:
            ctx.pause_requested = False
            return self.go("pause", "pause requested")
        return None

    # ---- commits -----------------------------------------------------------

    def is_dirty(self) -> bool:
        return self.journal.has_pending() or bool(self._controls_to_ack or self._status_dirty)

    async def checkpoint(self, reason: str = "", durable: bool = True) -> None:
        """Commit context, PnL and everything queued now, without a transition.

        Call before sending any queued intent that was not committed with a
        transition.
        """
        await self._commit(None, status=None, durable=durable)

    async def _commit(self, transition: TransitionRecord | None, status: TaskStatus | None,
                      durable: bool = True, write_behind: bool = False) -> None:
        if status is None and self._status_dirty:
            status = self._pending_status()
        if transition is not None:
            transition.ts_ms = now_ms()
        writes = self.journal.pending()
        fills, funding = writes.fills, writes.funding
        acks = list(self._controls_to_ack)
        if writes or acks or status is not None:
            # Anything that precedes or records a side effect is fsynced and waited for,
            # whatever the caller asked.
            durable, write_behind = True, False
        elif self._error_dirty:
            write_behind = False
        if self._write_behind_error is not None:
            exc, self._write_behind_error = self._write_behind_error, None
            raise exc
        fields = dict(
            state=self.state.value,
            state_entered_ms=self.state_entered_ms,
            context_json=_ctx_encoder.encode(self.context).decode(),
            pnl_json=self._pnl_json(bool(fills or funding or status is not None)),
            status=status,
            transition=transition,
            new_intents=writes.new_intents,
            intent_updates=writes.intent_updates,
            fills=fills,
            funding=funding,
            durable=durable,
            ack_controls=acks,
            last_error=self.last_error if self._error_dirty else None,
        )
        if write_behind:
            self.store.commit_step_nowait(self.task_id, self.owner_id, **fields).add_done_callback(
                self._write_behind_done)
            return
        self.committed_version = await self.store.commit_step(self.task_id, self.owner_id, **fields)
        if status is not None:
            self.status = status
        self.journal.committed(writes)
        del self._controls_to_ack[: len(acks)]
        self._status_dirty = False
        self._error_dirty = False

    _error_dirty = False
    _write_behind_error: BaseException | None = None
    _pnl_written_ms = 0
    #: the stored PnL is refreshed with every commit that books fills/funding or changes the
    #: status, else at most this often (marks move all the time; the live view has them)
    PNL_REFRESH_MS: ClassVar[int] = 1000

    def _pnl_json(self, booked: bool) -> str | None:
        """The PnL for this commit, or None to leave the stored one (saves computing it on the
        reaction path: planning intents changes no PnL)."""
        now = now_ms()
        if not booked and now - self._pnl_written_ms < self.PNL_REFRESH_MS:
            return None
        self._pnl_written_ms = now
        return _ctx_encoder.encode(self.pnl()).decode()

    def _write_behind_done(self, fut: asyncio.Future) -> None:
        if fut.cancelled():
            return
        exc = fut.exception()
        if exc is not None:
            self._write_behind_error = exc
            self.wake.set()
        else:
            self.committed_version = max(self.committed_version, fut.result())

    def set_error(self, text: str) -> None:
        """Remember the last error (shown in listings); committed with the next step."""
        self.last_error = text
        self._error_dirty = True
        self._status_dirty = True

    def _pending_status(self) -> TaskStatus | None:
        if self.context.stop_requested and self.status is TaskStatus.RUNNING:
            return TaskStatus.STOPPING
        return None

    # ---- control (called by the TaskManager) -------------------------------

    def request_stop(self, flatten: bool = False, reason: str = "user", control_id: int | None = None) -> None:
        """Ask the task to complete; takes effect at the next safe step.
        The control row is acknowledged in the commit that persists the request."""
        ctx = self.context
        if not ctx.stop_requested:
            ctx.stop_requested = True
            ctx.stop_reason = reason
        ctx.flatten_requested = ctx.flatten_requested or flatten
        if control_id is not None:
            self._controls_to_ack.append(control_id)
        self._status_dirty = True
        self.wake.set()

    def request_pause(self, control_id: int | None = None) -> None:
        """Ask the task to pause (to IDLE) at the next safe step."""
        self.context.pause_requested = True
        if control_id is not None:
            self._controls_to_ack.append(control_id)
        self._status_dirty = True
        self.wake.set()

    def planned_end_status(self) -> TaskStatus:
        """Terminal status for a normal end: ``completed`` for a planned end
        (duration, strategy exit), ``stopped`` for an operator stop/signal."""
        if self.context.halt_reason:
            return TaskStatus.HALTED
        if self.context.stop_requested and self.context.stop_reason in ("user", "signal"):
            return TaskStatus.STOPPED
        return TaskStatus.COMPLETED

    # ---- hooks -------------------------------------------------------------

    async def on_start(self, resumed: bool) -> None:
        """Called once by the runner before the first step (venue wiring; on
        ``resumed`` the strategy reconciles before continuing)."""

    async def on_shutdown(self) -> None:
        """Called once by the runner after the last step."""

    def stop_budget_s(self) -> float:
        """Seconds a graceful stop of this task may need (its own bounded settling steps); the
        runner waits at least this long, and at least its own stop timeout."""
        return 0.0

    def pnl(self) -> dict[str, str]:
        """PnL totals persisted with each checkpoint (decimal strings)."""
        return {}

    def live_view(self) -> dict[str, Any]:
        """Dashboard telemetry (JSON-serialisable)."""
        return {}

    # ---- default handlers: stay ---------------------------------------------

    async def on_idle(self) -> Next | None:
        return self.go("start", "started")

    async def on_syncing(self) -> Next | None:
        return None

    async def on_analyzing(self) -> Next | None:
        return None

    async def on_rebalancing(self) -> Next | None:
        return None

    async def on_managing_orders(self) -> Next | None:
        return None

    async def on_waiting_orders(self) -> Next | None:
        return None

    async def on_monitoring(self) -> Next | None:
        return None

    async def on_completing(self) -> Next | None:
        return self.go("completed", "nothing to complete")

    async def on_finalizing(self) -> Finish | None:
        return self.finish(self.planned_end_status(), self.context.halt_reason or self.context.stop_reason)
