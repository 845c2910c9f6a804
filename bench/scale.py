"""Many tasks in one process: reaction p99 and resident memory for N = 1, 10, 50, 100 (issue 6).

For each N the simulator (a separate process, temp ARB_HOME, replay paused) gets N fresh
accounts, and ONE worker process (``bench/task_worker.py``: one TaskManager, N delta-neutral tasks,
each with its own connectors, SQLite journal with fsync) builds each task's small inventory. Then
for each round: books without edge (refreshed so nothing goes stale), wait until every task is
back in MONITORING with nothing in flight, publish a rich bid on one spot venue (alternating Gate
spot / MEXC spot), wait until every task's first order reached the simulator, reset.
Reaction = simulator ``publish_perf_ns`` -> that task's first order ``recv_perf_ns``. RSS =
psutil resident memory of the worker after the rounds.

All tasks trade the SAME symbol (NEIROETH) from separate sim accounts: the simulator serves one
recording under one symbol name (aliasing one recording as several symbols is requested in
/work/coord/SIM_BUGS.md). Every task still decodes its own book streams and reacts to every
publish, so the load per task is the same as with distinct symbols.

Usage: ``python bench/scale.py [--sizes 1,10,50,100] [--samples 200]`` (a few minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil  # noqa: E402

from bench._simproc import Admin, pct, start_sim, start_worker, stop_proc, task_states, wait_until  # noqa: E402
from bench.reaction import CALM, RICH_BID, TASK_CONFIG, first_orders, set_calm  # noqa: E402


async def one_size(home: Path, admin: Admin, endpoints: dict, n: int, samples: int) -> dict:
    accounts = [await admin.create_account(f"scale{n}-{i}") for i in range(n)]
    specs = [{"symbol": "NEIROETH", "config": TASK_CONFIG, "api_key": a["api_key"], "api_secret": a["api_secret"]}
             for a in accounts]
    run_dir = home / f"n{n}"
    run_dir.mkdir()
    (run_dir / "endpoints.json").write_text(json.dumps(endpoints))
    (run_dir / "specs.json").write_text(json.dumps(specs))
    db = run_dir / "arb.sqlite"
    worker, ready = start_worker(run_dir, run_dir / "endpoints.json", db, run_dir / "specs.json")
    ids = ready["tasks"]
    try:
        def all_settled() -> bool:
            st = task_states(db)
            return all(st.get(t, ("",))[0] == "MONITORING" and st[t][2] == 0 for t in ids)

        t_build = time.monotonic()
        deadline = time.monotonic() + 120
        while True:  # build-up: keep the books fresh meanwhile
            await set_calm(admin)
            if all_settled():
                await asyncio.sleep(3)  # build rounds are >= 1 s apart: be sure it is over
                await set_calm(admin)
                if all_settled():
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"N={n}: build-up not finished in 120 s: {task_states(db)}")
            await asyncio.sleep(0.5)
        build_s = time.monotonic() - t_build
        rss_idle = psutil.Process(worker.pid).memory_info().rss
        rounds = max(3, -(-samples // n))
        publishes: list[tuple[int, str]] = []
        for r in range(rounds):
            await set_calm(admin)
            await wait_until(all_settled, 60, 0.01, f"N={n}: all tasks settled before round {r}")
            await asyncio.sleep(0.05)
            venue = "gate_spot" if r % 2 == 0 else "mexc_spot"
            entry = await admin.book(venue, RICH_BID, "0.050510", tag=f"n{n}r{r}")
            publishes.append((entry["publish_perf_ns"], venue))
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                orders = await admin.orders(6 * n + 10)
                reacted = {o["client_order_id"][3:15] for o in orders if o["recv_perf_ns"] > entry["publish_perf_ns"]
                           and o["client_order_id"].startswith("arb")}
                if len(reacted & set(ids)) >= n:
                    break
                await asyncio.sleep(0.01)
            await admin.book(venue, *CALM[venue])
        rss = psutil.Process(worker.pid).memory_info().rss
        orders = await admin.orders(1000000)
        lat_all, lat_gate = [], []
        pubs = [p for p, _ in publishes]
        gate_pubs = [p for p, v in publishes if v == "gate_spot"]
        for tid in ids:
            lat_all += first_orders(orders, pubs, f"arb{tid}")
            lat_gate += first_orders(orders, gate_pubs, f"arb{tid}")
        return {"n": n, "rounds": rounds, "samples": len(lat_all), "expected": rounds * n, "p50": pct(lat_all)[0],
                "p99": pct(lat_all)[1], "gate_p99": pct(lat_gate)[1], "rss_mb": rss / 2**20,
                "rss_idle_mb": rss_idle / 2**20, "build_s": build_s}
    finally:
        stop_proc(worker, grace_s=60)


async def run(sizes: list[int], samples: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        home = Path(tmp)
        sim, endpoints = start_sim(home)
        admin = Admin(endpoints)
        results = []
        try:
            await admin.pause_replay()
            for n in sizes:
                res = await one_size(home, admin, endpoints, n, samples)
                results.append(res)
                print(f"N={n:>3}: {res['samples']}/{res['expected']} reactions over {res['rounds']} rounds, "
                      f"p50 {res['p50']:.1f} ms, p99 {res['p99']:.1f} ms (gate-triggered p99 {res['gate_p99']:.1f} ms), "
                      f"RSS {res['rss_mb']:.0f} MB (after build-up {res['rss_idle_mb']:.0f} MB), "
                      f"build-up {res['build_s']:.0f} s", flush=True)
        finally:
            await admin.close()
            stop_proc(sim)
        print("\n   N  reactions  p50 ms  p99 ms  gate p99 ms  RSS MB")
        for r in results:
            print(f"{r['n']:>4}  {r['samples']:>9}  {r['p50']:>6.1f}  {r['p99']:>6.1f}  {r['gate_p99']:>11.1f}  "
                  f"{r['rss_mb']:>6.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,50,100")
    parser.add_argument("--samples", type=int, default=200, help="reactions to collect per N (at least 3 rounds)")
    args = parser.parse_args()
    asyncio.run(run([int(x) for x in args.sizes.split(",")], args.samples))
