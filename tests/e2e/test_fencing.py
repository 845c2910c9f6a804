"""Process tests of the lease fence and the takeover compare-and-swap (issue "Execution core",
breaks 1 and 2), against the simulator with real runner processes.

* Freeze/takeover: the owner is frozen (SIGSTOP) past its lease while trading, another process
  resumes the task, then the frozen owner is thawed (SIGCONT). Nothing the frozen owner had
  committed reaches the venue after the takeover; no intent is declared never placed although the
  venue has it; the ledger equals the simulator's order log.
* Double resume: two ``tasks resume`` of a crashed task at the same instant: exactly one takes the
  lease and drives the task, the other exits 2 with one line naming the owner, never driving it.
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
import urllib.request
from decimal import Decimal
from pathlib import Path

from strategies.execution.fence import SEND_WINDOW_MS
from tests.e2e.harness import (
    RunnerPool,
    SimAdmin,
    duplicate_ids,
    list_tasks,
    show_task,
    task_prefix,
    wait_until,
    write_config,
)

CYCLES = 5
FREEZE_S = 6.5  # past the 5 s lease TTL
SEED = 20261202


class GapPump:
    """Alternating cross-venue gaps on MEXC (through the admin API) so the task keeps trading."""

    def __init__(self, sim: SimAdmin) -> None:
        self.sim = sim
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "GapPump":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)

    def _run(self) -> None:
        k = 0
        while not self.stop.is_set():
            try:
                book = self.sim.get("/_sim/health")["books"]["gate_spot"]["NEIROETHUSDT"]
                bid, ask = Decimal(book["bid"]), Decimal(book["ask"])
                lo, hi, ref = ((Decimal("0.994"), Decimal("0.996"), bid) if k % 2 == 0
                               else (Decimal("1.004"), Decimal("1.006"), ask))
                body = {"venue": "mexc_spot", "bid": str((ref * lo).quantize(Decimal("0.000001"))),
                        "ask": str((ref * hi).quantize(Decimal("0.000001"))), "bid_qty": "20000",
                        "ask_qty": "20000", "pause_replay": False}
                req = urllib.request.Request(self.sim.url + "/_sim/book", data=json.dumps(body).encode(),
                                             method="POST", headers={"Content-Type": "application/json"})
                urllib.request.urlopen(req, timeout=2).read()  # noqa: S310 - loopback only
            except Exception:  # noqa: BLE001 - the pump must keep going through hiccups
                pass
            k += 1
            self.stop.wait(0.15)


def _task_id(e2e_home: Path, db: Path) -> str:
    return wait_until(lambda: next(iter(list_tasks(e2e_home, db)), {}).get("task_id"), 30, what="task row")


def test_frozen_owner_never_sends_after_a_takeover(sim: SimAdmin, runners: RunnerPool, e2e_home: Path,
                                                   tmp_path: Path) -> None:
    rng = random.Random(SEED)
    db = tmp_path / "zombie.sqlite"
    config = write_config(tmp_path / "zombie.toml", entry_threshold_bps="2")
    with GapPump(sim):
        owner = runners.spawn(["start", "--symbol", "NEIROETH", "--config", str(config), "--duration", "40",
                               "--no-dashboard", "--db", str(db)], "owner0")
        task_id = _task_id(e2e_home, db)
        prefix = task_prefix(task_id)
        wait_until(lambda: len(sim.orders(prefix)) >= 6, 40, what="the build-up and first arbs")
        windows: list[tuple[int, int, int]] = []  # (frozen at, takeover started, thawed at) wall ms
        for n in range(1, CYCLES + 1):
            time.sleep(rng.uniform(0.5, 1.5))
            os.kill(owner.pid, signal.SIGSTOP)
            frozen_ms = int(time.time() * 1000)
            time.sleep(FREEZE_S)
            resumer = runners.spawn(["tasks", "resume", task_id, "--duration", "25", "--no-dashboard", "--db",
                                     str(db)], f"owner{n}")
            taken_ms = int(time.time() * 1000)
            time.sleep(1.5)
            os.kill(owner.pid, signal.SIGCONT)
            windows.append((frozen_ms, taken_ms, int(time.time() * 1000)))
            time.sleep(1.0)
            owner = resumer
        for r in runners.runners:
            try:
                r.wait(90)
            except Exception:  # noqa: BLE001 - reported by the checks below
                r.kill()
    show = show_task(e2e_home, db, task_id)
    orders = sim.orders(prefix)
    intents = {i["client_order_id"]: i for i in show["order_intents"]}
    assert len(orders) >= 10, f"too little trading to test anything: {len(orders)} orders"
    assert not duplicate_ids(orders)
    assert not [o["cid"] for o in orders if o["cid"] not in intents], "venue orders without an intent"
    zombie = [o["cid"] for o in orders for frozen, taken, _ in windows
              if intents[o["cid"]]["created_ms"] < frozen and o["recv_ms"] > taken]
    assert not zombie, f"orders committed before a freeze reached the venue after the takeover: {zombie}"
    late = [o["cid"] for o in orders if o["recv_ms"] > intents[o["cid"]]["created_ms"] + SEND_WINDOW_MS + 500]
    assert not late, f"orders reached the venue after their send deadline: {late}"
    ghosts = [o["cid"] for o in orders if intents[o["cid"]]["status"] in ("not_sent", "rejected")
              and o.get("status") != "rejected"]
    assert not ghosts, f"intents declared never placed that the venue has: {ghosts}"
    mismatch = [o["cid"] for o in orders
                if Decimal(intents[o["cid"]]["filled_qty"] or 0) != Decimal(o.get("filled_qty") or 0)]
    assert not mismatch, f"ledger filled quantity differs from the venue: {mismatch}"
    assert show["status"] in ("completed", "stopped"), show["status"]


def test_two_simultaneous_resumes_one_owner_the_other_exits_2(sim: SimAdmin, runners: RunnerPool, e2e_home: Path,
                                                               tmp_path: Path) -> None:
    db = tmp_path / "race.sqlite"
    owner = runners.spawn(["start", "--symbol", "NEIROETH", "--duration", "120", "--no-dashboard", "--db", str(db)],
                          "race-start")
    task_id = _task_id(e2e_home, db)
    wait_until(lambda: len(sim.orders(task_prefix(task_id))) >= 3, 40, what="first orders")
    for n in range(5):
        owner.kill()
        a = runners.spawn(["tasks", "resume", task_id, "--duration", "120", "--no-dashboard", "--db", str(db)],
                          f"race{n}a")
        b = runners.spawn(["tasks", "resume", task_id, "--duration", "120", "--no-dashboard", "--db", str(db)],
                          f"race{n}b")
        loser = wait_until(lambda: next((r for r in (a, b) if not r.alive()), None), 30, what="the loser exiting")
        winner = b if loser is a else a
        assert loser.proc.returncode == 2, loser.output()[-800:]
        assert winner.alive(), winner.output()[-800:]
        wait_until(lambda: "took over" in winner.output(), 10, what="the winner's takeover line")
        lines = [ln for ln in loser.output().splitlines() if ln.startswith("error:")]
        assert len(lines) == 1 and "taken over by pid" in lines[0] and str(winner.pid) in lines[0], loser.output()
        assert "took over" not in loser.output()
        owner = winner
    owner.proc.send_signal(signal.SIGINT)
    assert owner.wait(60) == 0, owner.output()[-800:]
