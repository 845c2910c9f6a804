"""Crash harness: SIGKILL a real runner again and again while it trades against the simulator, resume it
with ``tasks resume``, and check the crash-safety invariants (docs/design.md section 6) after every kill.

Kinds of kill, interleaved (22 kills in all):

* ``C`` -- a deterministic crash point (``tests/e2e/crashpoints.py``, injected by ``tests/e2e/crashhook``): ``before_send:N`` (intent committed,
  request not sent) or ``after_send:N`` (request sent, response received, caller never sees it);
* ``T`` -- the test SIGKILLs the runner at a random moment after it has reconciled and is hedged (the
  strategy builds inventory and trades all along, so the moment falls anywhere in a trading session);
* ``R`` -- ``random:P`` crash points (seeded), with a random timer kill as a fallback.

After every kill: no client order id reached the simulator twice, every order the simulator received
is in the ledger, and every order placed before the last reconciliation is settled in the ledger exactly
as the simulator has it (status, filled quantity, trade ids, quantities, prices). After every ``T``
resume: |net delta| is back within tolerance within a few seconds. Finally a clean resume completes
the task, and the ledger's inventory per venue equals what the simulator's fills add up to.
"""

from __future__ import annotations

import random
import time
from decimal import Decimal
from pathlib import Path

from tests.e2e.harness import (
    DELTA_TOL_BASE,
    Runner,
    RunnerPool,
    SimAdmin,
    delta_of,
    integrity_ok,
    ledger_problems,
    list_tasks,
    sequence_problems,
    show_task,
    task_prefix,
    task_row,
    wait_until,
    write_config,
)

SEED = 20240808
CRASH_POINTS = ["before_send:1", "after_send:1", "before_send:2", "after_send:3", "before_send:3",
                "after_send:2", "before_send:1", "after_send:1"]
#: one letter per resume: C = crash point, T = timer kill once hedged, R = random crash point / timer
SCHEDULE = "TCTRCTCTRCTCTRCTCTRCT"  # 21 resumes + the killed start = 22 kills
CRASH_WAIT_S = 8.0  # a crash point fires on the first orders after resume; fallback kill after this
DELTA_WAIT_S = 6.0


def _resume(runners: RunnerPool, task_id: str, db: Path, name: str, duration_s: float, **env: str) -> Runner:
    return runners.spawn(["tasks", "resume", task_id, "--duration", str(duration_s), "--no-dashboard",
                          "--db", str(db)], name, **env)


def _wait_exit(runner: Runner, timeout_s: float) -> int | None:
    try:
        return runner.wait(timeout_s)
    except Exception:  # noqa: BLE001 - subprocess.TimeoutExpired: still alive
        return None


def _reconciled(e2e_home: Path, db: Path, task_id: str, runner: Runner) -> dict | None:
    """The task row once ``runner`` owns the task and has left the state it resumed in (its first step
    reconciles every unresolved intent before any transition)."""
    assert runner.alive(), f"runner exited {runner.proc.returncode} early:\n{runner.output()[-1500:]}"
    row = task_row(e2e_home, db, task_id)
    if row.get("owner_pid") == runner.pid and int(row.get("state_entered_ms") or 0) >= runner.started_ms:
        return row
    return None


def _check_after_kill(sim: SimAdmin, e2e_home: Path, db: Path, task_id: str, settled_before_ms: int) -> dict:
    """Ledger vs simulator after a kill (retried briefly: the simulator's store commits every ~20 ms)."""
    prefix = task_prefix(task_id)
    last: list[str] = []

    def consistent() -> dict | None:
        nonlocal last
        show = show_task(e2e_home, db, task_id)
        last = ledger_problems(show, sim.orders(prefix), sim.fills(prefix), settled_before_ms)
        return None if last else show

    try:
        return wait_until(consistent, 2.0, interval_s=0.2, what="ledger == simulator")
    except AssertionError:
        raise AssertionError("ledger differs from the simulator: " + "; ".join(last[:8])) from None


def _sim_inventory(sim_fills: list[dict], base: str) -> dict[str, Decimal]:
    """Net base quantity per venue from the simulator's fills (spot fees paid in base reduce it)."""
    inv: dict[str, Decimal] = {}
    for f in sim_fills:
        sign = 1 if f["side"] == "buy" else -1
        qty = sign * Decimal(f["qty_base"])
        if f["venue"] != "gate_perp" and f.get("fee_asset", "").upper() == base:
            qty -= Decimal(f["fee"])
        inv[f["venue"]] = inv.get(f["venue"], Decimal(0)) + qty
    return inv


def test_kill9_resume_keeps_ledger_and_hedge(sim: SimAdmin, runners: RunnerPool, e2e_home: Path,
                                            tmp_path: Path) -> None:
    rng = random.Random(SEED)
    db = tmp_path / "crash.sqlite"
    # a large target keeps the task building (orders every second) across all resumes; arbs at 2 bps
    config = write_config(tmp_path / "crash.toml", position_usdt="1500", max_order_usdt="25",
                          entry_threshold_bps="2", rebalance_cooldown_s=1.0)
    kills = {"before_send": 0, "after_send": 0, "timer": 0, "random": 0}
    delta_checks = 0

    first = runners.spawn(["start", "--symbol", "NEIROETH", "--config", str(config), "--duration", "120",
                           "--no-dashboard", "--db", str(db)], "run00", ARB_CRASH_AT="after_send:1")
    rc = _wait_exit(first, 30)
    assert rc == -9, f"start with after_send:1 exited {rc}:\n{first.output()[-1500:]}"
    assert "crashpoint: SIGKILL at after_send (place_order #1" in first.output()
    kills["after_send"] += 1
    task_id = list_tasks(e2e_home, db)[0]["task_id"]
    show = _check_after_kill(sim, e2e_home, db, task_id, settled_before_ms=0)
    assert show["order_intents"], "the killed start committed no intent"
    settled_before_ms = 0
    crash_iter = iter(CRASH_POINTS)

    for n, kind in enumerate(SCHEDULE, start=1):
        name = f"run{n:02d}{kind}"
        if kind == "C":
            spec = next(crash_iter)
            runner = _resume(runners, task_id, db, name, 60, ARB_CRASH_AT=spec)
            rc = _wait_exit(runner, CRASH_WAIT_S)
            point = spec.split(":")[0]
            if rc is None:  # no order in time: still a kill, at a random point
                runner.kill()
                kills["timer"] += 1
            else:
                assert rc == -9, f"{name} exited {rc}:\n{runner.output()[-1500:]}"
                assert f"crashpoint: SIGKILL at {point}" in runner.output(), runner.output()[-1500:]
                kills[point] += 1
        elif kind == "R":
            runner = _resume(runners, task_id, db, name, 60, ARB_CRASH_AT="random:0.3",
                             ARB_CRASH_SEED=str(rng.randrange(1 << 30)))
            rc = _wait_exit(runner, rng.uniform(1.0, 3.5))
            if rc is None:
                runner.kill()
                kills["timer"] += 1
            else:
                assert rc == -9, f"{name} exited {rc}:\n{runner.output()[-1500:]}"
                assert "crashpoint: SIGKILL at" in runner.output()
                kills["random"] += 1
        else:
            runner = _resume(runners, task_id, db, name, 60)
            wait_until(lambda: _reconciled(e2e_home, db, task_id, runner), 10, interval_s=0.1,
                       what=f"{name} to reconcile")
            wait_until(lambda: delta_of(task_row(e2e_home, db, task_id)) <= DELTA_TOL_BASE, DELTA_WAIT_S,
                       interval_s=0.1, what=f"|delta| <= {DELTA_TOL_BASE} after resume {name}")
            delta_checks += 1
            time.sleep(rng.uniform(0.0, 1.5))  # the kill lands at a random point of the session
            assert runner.alive(), f"{name} exited {runner.proc.returncode}:\n{runner.output()[-1500:]}"
            runner.kill()
            kills["timer"] += 1
        show = show_task(e2e_home, db, task_id)
        if any(t["ts_ms"] >= runner.started_ms for t in show.get("transitions") or []):
            settled_before_ms = runner.started_ms  # this runner got through its reconciliation
        _check_after_kill(sim, e2e_home, db, task_id, settled_before_ms)

    total = sum(kills.values())
    assert total >= 20, kills
    assert kills["before_send"] >= 3 and kills["after_send"] >= 3, kills
    assert delta_checks >= 8

    final = _resume(runners, task_id, db, "final", 3)
    rc = _wait_exit(final, 40)
    assert rc == 0, f"final resume exited {rc}:\n{final.output()[-1500:]}"
    row = task_row(e2e_home, db, task_id)
    assert row["status"] == "completed", row
    assert delta_of(row) <= DELTA_TOL_BASE, row
    show = _check_after_kill(sim, e2e_home, db, task_id, settled_before_ms=1 << 62)
    assert not sequence_problems(show), sequence_problems(show)
    assert show["fills"], "no fills at all"
    prefix = task_prefix(task_id)
    sim_inv = _sim_inventory(sim.fills(prefix), "NEIROETH")
    pnl = show["pnl"]
    for venue in ("gate_spot", "mexc_spot", "gate_perp"):
        ledger_inv = Decimal(str(pnl.get(f"inventory_{venue}_base", "0")))
        assert ledger_inv == sim_inv.get(venue, Decimal(0)), (venue, ledger_inv, sim_inv)
    assert integrity_ok(db) == "ok"
    print(f"\ncrash harness: kills {kills} (total {total}), {delta_checks} delta checks, "
          f"{len(show['order_intents'])} intents, {len(show['fills'])} fills")
