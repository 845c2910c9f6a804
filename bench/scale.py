"""Many tasks in one process: reaction p99 and resident memory for N = 1, 10, 50, 100 (issue 6).

For each N the simulator (a separate process, temp ARB_HOME, replay paused) gets N fresh
accounts, and ONE worker process (``bench/task_worker.py``: one TaskManager, N delta-neutral tasks,
each with its own connectors, SQLite journal with fsync) builds each task's small inventory. Then
for each round: books without edge (refreshed so nothing goes stale), wait until every task is
back in MONITORING with nothing in flight, publish a rich bid on one spot venue (alternating Gate
spot / MEXC spot), wait until every task's first order reached the simulator, reset.
Reaction = the update leaving the simulator on the venue stream (``GET /_sim/book_log``
``pushed_perf_ns``: at once on Gate, with the next 10 ms aggregated push on MEXC; as in
bench/reaction.py) -> that task's first order ``recv_perf_ns``. The rich bid is one order deep.
RSS = psutil resident memory of the worker after the rounds.

Symbols (``--symbols``): with simulator aliasing (``sim --alias-symbols N``, used when the
simulator supports it) every task trades ITS OWN symbol (NEIROETH, NEIRO001, ...: one recording
served under N names). Patterns (``--patterns``, run in turn on the same worker): ``one`` -- each
round ONE task (round robin) gets an edge on its symbol while the N-1 others keep running (on calm,
refreshed books; ``--replay``: on their own replayed markets), reaction from that publish; ``herd``
-- each round every symbol gets an edge at once (posted concurrently), reaction of a task from ITS
symbol's publish: the worst case, N tasks competing for one event loop and one SQLite connection.
Without aliasing all tasks trade NEIROETH from separate sim accounts (herd only).

The worker prints its store's group-commit counters on exit (``commit stats ...``), shown per N.

Several processes, one database (``--workers K``, ``--backend sqlite|postgresql|both``): the N tasks
are spread over K worker processes (task i in worker i mod K) sharing ONE database: the SQLite file
or a PostgreSQL database on a throwaway server (tests/pgserver.py, default settings: fsync on).
Each backend runs with 1 worker and then with K, in the same run, and the summary checks the
targets: herd p99 with K workers <= 0.6 x the 1-worker figure (per backend), and pattern ``one``
p99 on PostgreSQL <= 1.5 x the SQLite 1-worker figure.

Usage: ``python bench/scale.py [--sizes 1,10,50,100] [--samples 200] [--symbols auto|alias|shared]
[--workers K] [--backend sqlite|postgresql|both]`` (a few minutes per backend and worker count;
every process it starts is stopped on exit, errors included).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil  # noqa: E402

from bench._simproc import (  # noqa: E402
    Admin, close_state_readers, pct, sim_supports, start_sim, start_worker, stop_proc, task_states_any, wait_until)
from bench.reaction import ARB_QTY, CALM, RICH_BID, TASK_CONFIG, _our_id, _refresh, first_orders  # noqa: E402


async def calm_all(admin: Admin, symbols: list[str]) -> None:
    """Books without edge on every venue of every symbol (real updates: the quantity alternates)."""
    _refresh[0] += 1
    qty = str(1000000 + _refresh[0] % 2)
    await asyncio.gather(*(admin.book(v, *CALM[v], qty=qty, symbol=sym) for sym in symbols for v in CALM))


async def _rounds_herd(admin: Admin, n: int, samples: int, ids: list[str], task_symbols: list[str],
                       distinct: list[str], all_settled) -> tuple[int, dict[str, list[tuple[int, str]]]]:
    """Every round: all tasks settled, then a rich bid on every symbol at once; wait for every task's
    first order. Returns (rounds, task id -> [(publish_perf_ns of its symbol, venue)])."""
    rounds = max(3, -(-samples // n))
    publishes: dict[str, list[tuple[int, str]]] = {t: [] for t in ids}
    for r in range(rounds):
        await calm_all(admin, distinct)
        await wait_until(all_settled, 60, 0.01, f"N={n}: all tasks settled before round {r}")
        await asyncio.sleep(0.05)
        venue = "gate_spot" if r % 2 == 0 else "mexc_spot"
        entries = await asyncio.gather(*(admin.book(venue, RICH_BID, "0.050510", symbol=sym, bid_qty=ARB_QTY,
                                                    tag=f"n{n}r{r}{sym}") for sym in distinct))
        first_pub = min(e["publish_perf_ns"] for e in entries)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            # the poll costs the simulator CPU while the tasks react: only the new orders, every 50 ms
            # (the latency is the simulator's own receive stamp, so polling less never changes it)
            await asyncio.sleep(0.05)
            orders = await admin.orders(6 * n + 10, since_perf_ns=first_pub)
            reacted = {_our_id(o["client_order_id"])[3:15] for o in orders
                       if _our_id(o["client_order_id"]).startswith("arb")}
            if len(reacted & set(ids)) >= n:
                break
        await asyncio.gather(*(admin.book(venue, *CALM[venue], symbol=sym) for sym in distinct))
        logged = {e.get("tag"): e for e in await admin.book_log(4 * len(distinct) + 10)}
        by_symbol = {sym: _pushed(logged.get(f"n{n}r{r}{sym}"), entry) for sym, entry in zip(distinct, entries)}
        for tid, sym in zip(ids, task_symbols):
            publishes[tid].append((by_symbol[sym], venue))
    return rounds, publishes


def _pushed(logged: dict | None, entry: dict) -> int:
    """When the update left the simulator on the venue stream (book_log ``pushed_perf_ns``;
    bench/reaction.py's definition), else its publish time."""
    return (logged or {}).get("pushed_perf_ns") or entry["publish_perf_ns"]


async def _rounds_one(admin: Admin, n: int, samples: int, ids: list[str], task_symbols: list[str], db: Path | str,
                      replay: bool) -> tuple[int, dict[str, list[tuple[int, str]]]]:
    """Each round one task (round robin) gets an edge on ITS symbol while the N-1 others run (with
    ``replay`` on their own replayed markets, else on calm books). Same return as _rounds_herd."""
    rounds = max(samples, n)
    publishes: dict[str, list[tuple[int, str]]] = {t: [] for t in ids}
    if replay:
        await admin.resume_replay()
    last_fresh = next_round_mono = 0.0
    for r in range(rounds):
        k = r % n
        tid, sym = ids[k], task_symbols[k]
        if replay:
            await admin.pause_replay([sym])
        await asyncio.gather(*(admin.book(v, *CALM[v], symbol=sym) for v in CALM))
        if not replay and time.monotonic() - last_fresh > 1.0:  # keep the idle tasks' books fresh
            await calm_all(admin, sorted(set(task_symbols)))
            last_fresh = time.monotonic()

        async def settled(tid=tid) -> bool:
            st = (await task_states_any(db)).get(tid)
            return bool(st) and st[0] == "MONITORING" and st[2] == 0

        await wait_until(settled, 60, 0.005, f"N={n}: task {tid} settled before round {r}")
        await asyncio.sleep(0.03)  # the calm books reached the task
        venue = "gate_spot" if (r // n) % 2 == 0 else "mexc_spot"
        await asyncio.sleep(max(0.0, next_round_mono - time.monotonic()))
        next_round_mono = time.monotonic() + MIN_ROUND_S
        entry = await admin.book(venue, RICH_BID, "0.050510", symbol=sym, bid_qty=ARB_QTY, tag=f"n{n}r{r}")
        deadline = time.monotonic() + 20
        await asyncio.sleep(0.03)  # stay idle while the task reacts
        while time.monotonic() < deadline:
            orders = await admin.orders(50, since_perf_ns=entry["publish_perf_ns"])
            if any(_our_id(o["client_order_id"]).startswith(f"arb{tid}") for o in orders):
                break
            await asyncio.sleep(0.005)
        await admin.book(venue, *CALM[venue], symbol=sym)
        logged = {e.get("tag"): e for e in await admin.book_log(10)}
        publishes[tid].append((_pushed(logged.get(f"n{n}r{r}"), entry), venue))
        if replay:
            await wait_until(settled, 60, 0.005, f"N={n}: task {tid} settled after round {r}")
            await admin.resume_replay([sym])
    if replay:
        await admin.pause_replay()
    return rounds, publishes


async def one_size(home: Path, admin: Admin, endpoints: dict, n: int, samples: int, symbols: list[str] | None,
                   patterns: list[str], replay: bool = False, db: str | None = None, workers: int = 1,
                   tag: str = "") -> list[dict]:
    """Run N tasks; ``symbols`` (aliasing) gives task i the symbol ``symbols[i]``, None = all on NEIROETH.
    ``patterns``: run in order on the same workers: "herd" (every task gets an edge at once) and/or
    "one" (one task at a time, the others running; ``replay``: on their replayed markets). ``db``: the
    database (default a SQLite file in the run's directory); ``workers``: processes sharing it."""
    task_symbols = symbols[:n] if symbols else ["NEIROETH"] * n
    distinct = sorted(set(task_symbols))
    accounts = [await admin.create_account(f"scale{tag}{n}-{i}") for i in range(n)]
    specs = [{"symbol": sym, "config": TASK_CONFIG, "api_key": a["api_key"], "api_secret": a["api_secret"]}
             for sym, a in zip(task_symbols, accounts)]
    run_dir = home / f"{tag}n{n}"
    run_dir.mkdir()
    (run_dir / "endpoints.json").write_text(json.dumps(endpoints))
    db = db or str(run_dir / "arb.sqlite")
    workers = max(1, min(workers, n))
    procs, held = [], []
    try:
        for w in range(workers):  # worker w drives tasks w, w + K, w + 2K, ...
            (run_dir / f"specs{w}.json").write_text(json.dumps(specs[w::workers]))
            proc, ready = start_worker(run_dir, run_dir / "endpoints.json", db, run_dir / f"specs{w}.json",
                                       f"worker{w}")
            procs.append(proc)
            held.append(ready["tasks"])
        ids = [held[i % workers][i // workers] for i in range(n)]

        async def all_settled() -> bool:
            st = await task_states_any(db)
            return all(st.get(t, ("",))[0] == "MONITORING" and st[t][2] == 0 for t in ids)

        t_build = time.monotonic()
        deadline = time.monotonic() + 120 + n
        while True:  # build-up: keep the books fresh meanwhile
            await calm_all(admin, distinct)
            if await all_settled():
                await asyncio.sleep(3)  # build rounds are >= 1 s apart: be sure it is over
                await calm_all(admin, distinct)
                if await all_settled():
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"N={n}: build-up not finished in time: {await task_states_any(db)}")
            await asyncio.sleep(0.5)
        build_s = time.monotonic() - t_build
        rss_idle = sum(psutil.Process(p.pid).memory_info().rss for p in procs)
        results = []
        for pattern in patterns:
            cpu_before = _cpu_s(procs)
            if pattern == "herd":
                rounds, publishes = await _rounds_herd(admin, n, samples, ids, task_symbols, distinct, all_settled)
            else:
                rounds, publishes = await _rounds_one(admin, n, samples, ids, task_symbols, db, replay)
            cpu = {k: (v - cpu_before.get(k, 0.0)) * 1000 / rounds for k, v in _cpu_s(procs).items()}
            rss = sum(psutil.Process(p.pid).memory_info().rss for p in procs)
            orders = await admin.orders(1000000)
            lat_all, lat_gate = [], []
            for tid in ids:
                lat_all += first_orders(orders, [p for p, _ in publishes[tid]], f"arb{tid}")
                lat_gate += first_orders(orders, [p for p, v in publishes[tid] if v == "gate_spot"], f"arb{tid}")
            expected = sum(len(v) for v in publishes.values())
            if os.environ.get("BENCH_SCALE_DUMP"):  # raw stamps for offline analysis
                Path(os.environ["BENCH_SCALE_DUMP"], f"n{n}-{pattern}.json").write_text(json.dumps(
                    {"publishes": publishes, "orders": [o for o in orders if o.get("client_order_id", "").startswith("arb")]}))
            results.append({"n": n, "pattern": pattern + ("+replay" if replay and pattern == "one" else ""),
                            "rounds": rounds, "samples": len(lat_all), "expected": expected,
                            "p50": pct(lat_all)[0], "p99": pct(lat_all)[1], "gate_p99": pct(lat_gate)[1],
                            "rss_mb": rss / 2**20, "rss_idle_mb": rss_idle / 2**20, "build_s": build_s,
                            "symbols": len(distinct), "workers": len(procs), "cpu_ms_per_round": cpu})
        return results
    except BaseException:
        out = run_dir / "worker0.out"
        if out.exists():
            print(f"--- worker0.out (tail)\n{out.read_text()[-3000:]}", file=sys.stderr)
        raise
    finally:
        for w, proc in enumerate(procs):
            stop_proc(proc, grace_s=60)
            stats = _commit_stats(run_dir / f"worker{w}.out")
            if stats:
                print(f"{tag}N={n}: worker {w} store {stats}", flush=True)
        await close_state_readers()


#: processes whose CPU time is reported per round: the simulator's and the PostgreSQL server's
CPU_PIDS: dict[str, int] = {}


def _cpu_s(workers: list) -> dict[str, float]:
    """CPU seconds (user + system) used so far by the workers, the simulator and the database server."""
    def used(pid: int, children: bool = False) -> float:
        try:
            proc = psutil.Process(pid)
            procs = [proc] + (proc.children(recursive=True) if children else [])
            return sum(sum(p.cpu_times()[:2]) for p in procs)
        except psutil.Error:
            return 0.0

    out = {"workers": sum(used(p.pid) for p in workers)}
    for name, pid in CPU_PIDS.items():
        out[name] = used(pid, children=name == "postgres")
    return out


#: a task's rounds are at least this far apart (Gate allows 10 spot orders/s per market)
MIN_ROUND_S = 0.12


def _commit_stats(path: Path) -> str:
    """The worker's last ``commit stats`` line (printed on exit), or ''."""
    if not path.exists():
        return ""
    lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.startswith("commit stats")]
    return lines[-1] if lines else ""


async def run(sizes: list[int], samples: int, symbols_mode: str, patterns: list[str], replay: bool,
              workers: int = 1, backends: tuple[str, ...] = ("sqlite",)) -> None:
    alias = symbols_mode == "alias" or (symbols_mode == "auto" and sim_supports("--alias-symbols"))
    if not alias:
        patterns = ["herd"]  # one symbol: every task reacts to every publish
        replay = False
    pg = None
    if "postgresql" in backends:
        from tests.pgserver import PgServer

        pg = PgServer(fast=False).start()  # default durability: fsync on, synchronous_commit on
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        home = Path(tmp)
        sim, endpoints = start_sim(home, extra_args=["--alias-symbols", str(max(sizes))] if alias else None)
        CPU_PIDS["sim"] = sim.pid
        if pg is not None:
            CPU_PIDS["postgres"] = int((pg.data / "postmaster.pid").read_text().split()[0])
        symbols = list(endpoints.get("symbols", [])) if alias else None
        print(f"symbols: {f'one per task (simulator aliasing, {len(symbols)} served)' if alias else 'NEIROETH shared, one sim account per task'}; "
              f"patterns: {', '.join(patterns)}{'; others on replayed markets' if replay else ''}; "
              f"backends: {', '.join(backends)}; workers: {', '.join(map(str, sorted({1, workers})))}", flush=True)
        admin = Admin(endpoints)
        results = []
        try:
            await admin.pause_replay()
            for backend in backends:
                for k in sorted({1, workers}):
                    for n in sizes:
                        tag = f"{backend[:2]}{k}w"
                        db = await asyncio.to_thread(pg.create_database) if backend == "postgresql" and pg else None
                        for res in await one_size(home, admin, endpoints, n, samples, symbols, patterns, replay,
                                                  db=db, workers=k, tag=tag):
                            res["backend"] = backend
                            results.append(res)
                            print(f"{backend} x{res['workers']} N={n} {res['pattern']}: {res['samples']}/"
                                  f"{res['expected']} reactions over {res['rounds']} rounds, p50 {res['p50']:.1f} ms, "
                                  f"p99 {res['p99']:.1f} ms (gate-triggered p99 {res['gate_p99']:.1f} ms), RSS "
                                  f"{res['rss_mb']:.0f} MB (after build-up {res['rss_idle_mb']:.0f} MB), build-up "
                                  f"{res['build_s']:.0f} s; CPU per round: " + ", ".join(
                                      f"{k} {v:.0f} ms" for k, v in res["cpu_ms_per_round"].items()), flush=True)
        finally:
            await admin.close()
            stop_proc(sim)
            if pg is not None:
                pg.stop()
        print("\nbackend     workers     N  pattern      symbols  reactions  p50 ms  p99 ms  gate p99 ms  RSS MB")
        for r in results:
            print(f"{r['backend']:<10}  {r['workers']:>7}  {r['n']:>4}  {r['pattern']:<11}  {r['symbols']:>7}  "
                  f"{r['samples']:>9}  {r['p50']:>6.1f}  {r['p99']:>6.1f}  {r['gate_p99']:>11.1f}  {r['rss_mb']:>6.0f}")
        _targets(results, workers)


def _targets(results: list[dict], workers: int) -> None:
    """The issue's targets, from figures of this run: herd p99 with K workers <= 0.6 x one worker's (same
    backend and N), and ``one`` p99 on PostgreSQL (one worker) <= 1.5 x SQLite's (one worker)."""
    fig = {(r["backend"], r["workers"], r["n"], r["pattern"].split("+")[0]): r["p99"] for r in results}
    for (backend, k, n, pattern), p99 in sorted(fig.items()):
        base = fig.get((backend, 1, n, pattern))
        if pattern == "herd" and k == workers > 1 and base:
            ok = p99 <= 0.6 * base
            print(f"target {backend} N={n} herd: {k} workers p99 {p99:.1f} ms = {p99 / base:.2f} x one worker's "
                  f"{base:.1f} ms (<= 0.6): {'met' if ok else 'NOT met'}")
        lite = fig.get(("sqlite", 1, n, pattern))
        if backend == "postgresql" and pattern == "one" and k == 1 and lite:
            ok = p99 <= 1.5 * lite
            print(f"target N={n} one: PostgreSQL p99 {p99:.1f} ms = {p99 / lite:.2f} x SQLite's {lite:.1f} ms "
                  f"(<= 1.5): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,50,100")
    parser.add_argument("--samples", type=int, default=200, help="reactions to collect per N and pattern")
    parser.add_argument("--symbols", choices=("auto", "alias", "shared"), default="auto",
                        help="alias: each task on its own symbol (simulator --alias-symbols); shared: all on "
                             "NEIROETH with separate sim accounts (herd only); auto: alias when the simulator has it")
    parser.add_argument("--patterns", default="one,herd",
                        help="comma list: one (one task at a time gets an edge while the others run), herd (all at once)")
    parser.add_argument("--replay", action="store_true",
                        help="pattern one: the other tasks' symbols replay the recording meanwhile (market load)")
    parser.add_argument("--workers", type=int, default=1,
                        help="also run with the tasks spread over this many worker processes on one database")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="sqlite",
                        help="the database: a SQLite file, a PostgreSQL server started for the run, or both")
    args = parser.parse_args()
    asyncio.run(run([int(x) for x in args.sizes.split(",")], args.samples, args.symbols,
                    [p.strip() for p in args.patterns.split(",") if p.strip()], args.replay, max(1, args.workers),
                    ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)))
