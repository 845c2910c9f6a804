"""Venue faults against a real runner: the task stays hedged, never trades on a stale book, settles
unknown outcomes by query, and recovers (or halts with a readable reason); the database stays intact.

One task (a large inventory target, so it places orders on all three venues about once a second) runs
while the test injects, one after the other, through the simulator's admin API (``exchanges/sim/faults.py``):
order rejections (Gate spot), 5xx (MEXC orders), 429 (Gate perp orders), accept-then-time-out (MEXC),
a frozen MEXC stream and dropped WebSockets on every venue. Each fault must actually fire.
"""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

from tests.e2e.harness import (
    DELTA_TOL_BASE,
    RunnerPool,
    SimAdmin,
    delta_of,
    integrity_ok,
    ledger_problems,
    list_tasks,
    run_cli,
    sequence_problems,
    show_task,
    task_prefix,
    task_row,
    wait_until,
    write_config,
)

MAX_BOOK_AGE_MS = 800
STALE_MARGIN_MS = 300  # the freeze is set by this process; the runner's clock reads the same wall time
FIRE_TIMEOUT_S = 8.0


def _now_ms() -> int:
    return int(time.time() * 1000)


def _fire(sim: SimAdmin, venue: str, fault: str, count: int = 1, **fields) -> tuple[int, int]:
    """Set ``fault`` = count on ``venue``; wait until it fired; returns (set_ms, fired_ms)."""
    before = sim.injected(venue, fault)
    set_ms = _now_ms()
    sim.set_fault(venue, **{fault: count}, **fields)
    wait_until(lambda: sim.injected(venue, fault) >= before + 1, FIRE_TIMEOUT_S, interval_s=0.05,
               what=f"{fault} to fire on {venue}")
    return set_ms, _now_ms()


def _intents_since(e2e_home: Path, db: Path, task_id: str, since_ms: int) -> list[dict]:
    return [i for i in show_task(e2e_home, db, task_id)["order_intents"] if i["created_ms"] >= since_ms]


def test_faults_hedged_fresh_books_resolved_by_query(clean_faults: SimAdmin, runners: RunnerPool,
                                                    e2e_home: Path, tmp_path: Path) -> None:
    sim = clean_faults
    db = tmp_path / "faults.sqlite"
    config = write_config(tmp_path / "faults.toml", position_usdt="1500", max_order_usdt="25",
                          entry_threshold_bps="2", rebalance_cooldown_s=1.0, max_book_age_ms=MAX_BOOK_AGE_MS,
                          order_timeout_s=2.0)
    runner = runners.spawn(["start", "--symbol", "NEIROETH", "--config", str(config), "--duration", "120",
                            "--no-dashboard", "--db", str(db)], "faults")
    task_id = wait_until(lambda: next(iter(list_tasks(e2e_home, db)), {}).get("task_id"), 20, what="task row")
    prefix = task_prefix(task_id)
    wait_until(lambda: len(sim.orders(prefix)) >= 3, 20, what="first orders")

    def alive() -> None:
        assert runner.alive(), f"runner exited {runner.proc.returncode}:\n{runner.output()[-2000:]}"

    # 1. Gate spot refuses the next orders: intents end rejected, nothing exists at the venue
    set_ms, fired_ms = _fire(sim, "gate_spot", "reject_orders", 2)
    rejected = wait_until(lambda: [i for i in _intents_since(e2e_home, db, task_id, set_ms - 50)
                                   if i["venue"] == "gate_spot" and i["status"] == "rejected"], 5,
                          interval_s=0.2, what="a rejected gate_spot intent")
    assert all(i["error"] for i in rejected)
    alive()

    # 2. MEXC answers 503 to the next order request (and its first query): unknown -> settled by query
    set_ms, fired_ms = _fire(sim, "mexc_spot", "error_5xx", 2, path_prefix="/api/v3/order")
    wait_until(lambda: [i for i in _intents_since(e2e_home, db, task_id, set_ms - 50)
                        if i["venue"] == "mexc_spot" and i["status"] == "not_sent"], 8, interval_s=0.2,
               what="the 5xx'd mexc intent settled as not sent")
    alive()

    # 3. Gate perp 429 on the next order request: the hedge is retried later, delta comes back
    set_ms, fired_ms = _fire(sim, "gate_perp", "rate_limit_429", 1, path_prefix="/api/v4/futures/usdt/orders")
    wait_until(lambda: delta_of(task_row(e2e_home, db, task_id)) <= DELTA_TOL_BASE, 8, interval_s=0.2,
               what="|delta| within tolerance after a 429 on the hedge venue")
    alive()

    # 4. MEXC accepts and fills the next order but never answers: resolved by query, booked once
    set_ms, fired_ms = _fire(sim, "mexc_spot", "timeout_after_accept", 1, timeout_hold_s=1.0)
    timed_out = [o for o in sim.orders(prefix) if o["venue"] == "mexc_spot" and o["recv_ms"] >= set_ms][0]

    def settled() -> dict | None:
        intents = {i["client_order_id"]: i for i in show_task(e2e_home, db, task_id)["order_intents"]}
        intent = intents.get(timed_out["cid"])
        return intent if intent and intent["status"] in ("filled", "canceled") else None

    intent = wait_until(settled, 10, interval_s=0.2, what="the timed-out order resolved by query")
    assert intent["status"] == timed_out["status"].replace("cancelled", "canceled"), (intent, timed_out)
    assert Decimal(intent["filled_qty"]) == Decimal(timed_out["filled_qty"]), (intent, timed_out)
    assert sum(1 for o in sim.orders(prefix) if o["cid"] == timed_out["cid"]) == 1
    alive()

    # 5. the MEXC stream freezes (socket open, nothing sent): no MEXC order and no arb from a stale book
    sim.clear_faults()
    # it is trading on MEXC right before the freeze, so an empty window below means something
    wait_until(lambda: [i for i in _intents_since(e2e_home, db, task_id, _now_ms() - 2500)
                        if i["venue"] == "mexc_spot"], 8, interval_s=0.2, what="MEXC orders before the freeze")
    freeze_ms = _now_ms()
    sim.set_fault("mexc_spot", ws="frozen")
    time.sleep(2.5)  # the fault window under test: the book ages past max_book_age_ms inside it
    thaw_ms = _now_ms()
    sim.set_fault("mexc_spot", ws="normal")
    stale_from = freeze_ms + MAX_BOOK_AGE_MS + STALE_MARGIN_MS
    stale_trades = [i for i in _intents_since(e2e_home, db, task_id, stale_from)
                    if i["created_ms"] <= thaw_ms and (i["venue"] == "mexc_spot" or i["leg"].startswith("arb"))]
    assert not stale_trades, stale_trades
    wait_until(lambda: [i for i in _intents_since(e2e_home, db, task_id, thaw_ms) if i["venue"] == "mexc_spot"],
               10, interval_s=0.2, what="MEXC orders again after the stream thawed")
    alive()

    # 6. every WebSocket dropped and refused for a while: nothing trades meanwhile, then it recovers
    drop_ms = _now_ms()
    sim.set_fault("*", ws="dropped")
    time.sleep(2.0)
    restore_ms = _now_ms()
    sim.clear_faults()
    during = [i for i in _intents_since(e2e_home, db, task_id, drop_ms + MAX_BOOK_AGE_MS + STALE_MARGIN_MS)
              if i["created_ms"] <= restore_ms]
    assert not during, during
    wait_until(lambda: _intents_since(e2e_home, db, task_id, restore_ms), 12, interval_s=0.2,
               what="new orders after the WebSockets came back")
    wait_until(lambda: delta_of(task_row(e2e_home, db, task_id)) <= DELTA_TOL_BASE, 8, interval_s=0.2,
               what="|delta| within tolerance after the drop")
    alive()

    # stop it; a clean finish (or a halt with a readable reason), hedged, ledger == simulator
    res = run_cli(e2e_home, "tasks", "stop", task_id, "--db", str(db), "--wait", "40")
    assert res.returncode in (0, 1), (res.returncode, res.stderr)
    rc = runner.wait(45)
    row = task_row(e2e_home, db, task_id)
    if row["status"] == "halted":
        assert rc == 1 and row["last_error"] and "Traceback" not in row["last_error"], row
    else:
        assert rc == 0 and row["status"] == "stopped", (rc, row, runner.output()[-1500:])
    assert delta_of(row) <= DELTA_TOL_BASE, row
    show = show_task(e2e_home, db, task_id)
    problems = ledger_problems(show, sim.orders(prefix), sim.fills(prefix), settled_before_ms=1 << 62)
    assert not problems, problems
    assert not sequence_problems(show), sequence_problems(show)
    assert integrity_ok(db) == "ok"
    assert "Traceback" not in runner.output()
