"""Stateful property test: random book moves, partial fills, rejects, unknown outcomes,
timeouts and process restarts against FakeVenues. After every step: no client order id
sent twice, the ledger equals the venues' record of our fills, the FSM only takes
declared edges; once orders settle, |delta| is back within tolerance."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections import Counter
from decimal import Decimal as D
from pathlib import Path

from freezegun import freeze_time
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tests.fake_venue import FakeVenue
from state.records import State
from strategies.base import declared_edges
from strategies.delta_neutral import policy

from .conftest import GP, GS, MS, PREFIX, Harness, make_infos, test_config

DECLARED_PAIRS = {(s, d) for s, _, d in declared_edges()}
VENUES = (GS, MS, GP)


class DeltaNeutralMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        shm = Path("/dev/shm")
        self.dir = Path(tempfile.mkdtemp(prefix="dn-stateful-", dir=shm if shm.is_dir() else None))
        self.freezer = freeze_time("2026-01-01 00:00:00")
        self.ft = self.freezer.start()
        infos = make_infos()
        self.fakes = {v: FakeVenue(infos[v], {"USDT": D(2000)}) for v in VENUES}
        self.mid = {GS: D("0.05"), MS: D("0.05"), GP: D("0.05")}
        self.h = Harness(self.dir / "db.sqlite", self.fakes, test_config(single_leg_timeout_s=3.0))
        self._refresh()
        self.run(self.h.open())
        self.run(self._steps(30))  # initial build-up (faults come later)

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        try:
            self.run(self.h.close())
        finally:
            self.loop.close()
            self.freezer.stop()
            shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def task(self):
        return self.h.task

    def _refresh(self, depth: str = "5000") -> None:
        for v in VENUES:
            m = self.mid[v]
            self.fakes[v].set_book(str(m - D("0.00001")), depth, str(m + D("0.00001")), depth)

    async def _steps(self, n: int) -> None:
        for _ in range(n):
            if self.task.status.is_terminal:
                return
            await self.h.step()

    # ---- rules --------------------------------------------------------------------

    @rule(v=st.sampled_from(VENUES), bps=st.integers(-150, 150), depth=st.sampled_from(["0", "50", "400", "5000"]))
    def move_book(self, v, bps, depth):
        self.mid[v] = (self.mid[v] * (1 + D(bps) / 10000)).quantize(D("0.000001"))
        m = self.mid[v]
        self.fakes[v].set_book(str(m - D("0.00001")), depth, str(m + D("0.00001")), depth)

    @rule(rich=st.sampled_from([GS, MS]), bps=st.integers(20, 250), depth=st.sampled_from(["30", "400", "5000"]),
          n=st.integers(1, 6))
    def arb_edge(self, rich, bps, depth, n):
        """The rich venue's bid rises above the other's ask; the task should arb it."""
        cheap = MS if rich is GS else GS
        self.mid[rich] = (self.mid[cheap] * (1 + D(bps) / 10000)).quantize(D("0.000001"))
        m = self.mid[rich]
        self.fakes[rich].set_book(str(m - D("0.00001")), depth, str(m + D("0.00001")), depth)
        self.run(self._steps(n))

    @rule(v=st.sampled_from(VENUES), kind=st.sampled_from(["reject", "unknown_lost", "unknown_accepted"]))
    def inject_fault(self, v, kind):
        self.fakes[v].fail_next_place(kind)

    @rule(v=st.sampled_from(VENUES), qty=st.sampled_from(["1", "10", "37"]))
    def partial_fill_next(self, v, qty):
        self.fakes[v].cap_next_fill(qty)

    @rule(v=st.sampled_from(VENUES), hold=st.booleans())
    def hold_matching(self, v, hold):
        self.fakes[v].hold_matching = hold

    @rule(v=st.sampled_from(VENUES), fraction=st.sampled_from([D("0.3"), D("1")]))
    def fill_a_held_order(self, v, fraction):
        fake = self.fakes[v]
        open_ours = [o for o in fake.orders.values() if o.client_order_id.startswith(PREFIX)
                     and not o.status.is_final]
        if open_ours:
            o = open_ours[0]
            qty = max(fake.info.size_step, (o.remaining_qty * fraction) // fake.info.size_step * fake.info.size_step)
            if qty <= o.remaining_qty and (fake.is_perp or o.side.value == "buy" or fake.base_balance() >= qty):
                fake.fill_order(o.client_order_id, qty)

    @rule(n=st.integers(1, 6))
    def step(self, n):
        self.run(self._steps(n))

    @rule(seconds=st.sampled_from([0.5, 2, 6]), refresh=st.booleans())
    def tick(self, seconds, refresh):
        self.ft.tick(seconds)
        if refresh:
            self._refresh()

    @rule()
    def restart(self):
        self.run(self.h.crash_and_restart())

    @precondition(lambda self: not self.task.status.is_terminal)
    @rule()
    def settle(self):
        """Calm market: faults off, deep fresh books; orders settle and delta must come back."""
        calm = sum(self.mid.values()) / 3
        self.mid = {v: calm.quantize(D("0.000001")) for v in VENUES}  # no edge left
        for f in self.fakes.values():
            f.hold_matching = False
            f._place_faults.clear()
            f._fill_caps.clear()
        for _ in range(12):
            self.ft.tick(2)
            self._refresh()
            self.run(self._steps(8))
            t = self.task
            if t.status.is_terminal or (t.state is State.MONITORING and not t.unresolved_intents()
                                        and t.context.single_leg is None and self._delta_ok()):
                break
        if not self.task.status.is_terminal:
            assert not self.task.unresolved_intents()
            assert self._delta_ok(), (self.task.ledger.net_delta_base(), self.task.last_error)

    def _delta_ok(self) -> bool:
        t = self.task
        if GP not in t.infos:
            return True
        return abs(t.ledger.net_delta_base()) <= policy.delta_tolerance_base(t.config, t.infos[GP])

    # ---- invariants -------------------------------------------------------------------

    @invariant()
    def no_client_order_id_sent_twice(self):
        calls = Counter(c for f in self.fakes.values() for c in f.place_calls)
        assert not [c for c, n in calls.items() if n > 1]

    @invariant()
    def ledger_equals_venue_fills(self):
        venue = {(f.venue.value, f.trade_id) for fk in self.fakes.values() for f in fk.our_fills(PREFIX)}
        booked = {(f.venue.value, f.trade_id) for f in self.task.fills}
        assert booked <= venue  # never a fill the venue did not make
        if not self.task.orders.pending_events:  # everything delivered has been drained: equal
            if self.task.connections.connected and not self.task.unresolved_intents():
                assert booked == venue

    @invariant()
    def only_declared_edges(self):
        assert all(e in DECLARED_PAIRS for e in self.h.edges), self.h.edges

    @invariant()
    def never_halts_on_a_ledger_mismatch(self):
        reason = self.task.context.halt_reason
        assert not reason or "unknown outcome" in reason or "fresh books" in reason or "stale" in reason, reason


TestDeltaNeutralStateful = DeltaNeutralMachine.TestCase
TestDeltaNeutralStateful.settings = settings(max_examples=30, stateful_step_count=40, deadline=None, database=None,
                                             suppress_health_check=list(HealthCheck))
