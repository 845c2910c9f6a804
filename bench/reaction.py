"""Reaction latency of a delta-neutral task against the simulator (issue 6, "Speed").

Measures, per event, the time from the simulator PUBLISHING a book update that makes a
cross-spot arbitrage profitable to the simulator RECEIVING the first resulting order request
(``GET /_sim/orders`` -> ``recv_perf_ns``). "Publishing" is when the simulator hands the update to
the venue's public stream, its frames queued to every connection (``GET /_sim/book_log`` ->
``pushed_perf_ns``): at once on Gate (after the simulator's own book processing); on MEXC with
the next push of the ``aggre ...@10ms`` topic, which MEXC sends once per 10 ms window
(docs/venues.md 4.3), so a change waits up to 10 ms inside the venue before anyone can see
it. That wait is the venue's, not the task's; it is printed separately ("book change -> first
order"). All stamps are ``time.perf_counter_ns`` (CLOCK_MONOTONIC: one clock for every process
on the machine).

Setup: the simulator runs as a separate process in a temp ``ARB_HOME`` (replay paused, books set
by the bench); one task runs in a separate worker process (``bench/task_worker.py``: a real
TaskManager, real connectors over loopback, a real SQLite file with fsync). The task builds a
small inventory (position 40 USDT, orders <= 4 USDT); once the build-up is over, for each event:
books without edge on every venue, wait until the task is back in MONITORING with nothing in
flight, publish a rich bid one order deep on ONE spot venue (alternating Gate spot / MEXC spot,
so the inventory round-trips), wait for both legs to reach the simulator, reset the book. Events
are at least ``--min-interval-s`` apart (Gate allows 10 spot orders/s per market; a faster
bench would measure our rate limiter). The bench process stays idle while the task reacts.
Nothing is asserted.

Baselines measured in the same simulator process before the task starts:
* ``ws``: publish -> a bare aiohttp WebSocket client receives the Gate ``spot.book_ticker`` frame;
* ``bare reaction``: publish -> that bare client, on the frame, sends one MEXC order -> simulator
  receives it (``bench/sim.py``'s measurement): the floor for any client in Python.

Usage: ``python bench/reaction.py [--events 1000] [--baseline-events 1000] [--min-interval-s 0.12]``.
``BENCH_WORKER_PATCH=file.py`` instruments the worker; ``BENCH_REACTION_DUMP=out.json`` writes the
raw stamps; ``BENCH_REACTION_KEEP=copy.sqlite`` keeps the runner's database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402

from bench._simproc import Admin, pct, start_sim, start_worker, stop_proc, task_states, wait_until  # noqa: E402

CALM = {"gate_spot": ("0.049990", "0.050000"), "mexc_spot": ("0.049990", "0.050000"),
        "gate_perp": ("0.049990", "0.050010")}
RICH_BID = "0.050500"  # ~85 bps net over the other venue's ask
ARB_QTY = "80"  # base: one arb order of max_order_usdt at ~0.05 (the rich bid's depth)
TASK_CONFIG = {"position_usdt": "40", "max_order_usdt": "4"}


_refresh = [0]


async def set_calm(admin: Admin, venues=("gate_spot", "mexc_spot", "gate_perp")) -> None:
    """Books without edge; the quantity alternates so every call is a real update (books that do
    not change age, and the task never trades on a book older than max_book_age_ms)."""
    _refresh[0] += 1
    qty = str(1000000 + _refresh[0] % 2)
    for v in venues:
        await admin.book(v, *CALM[v], qty=qty)


async def keep_fresh(admin: Admin, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await set_calm(admin)
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except asyncio.TimeoutError:
            pass


async def ws_baseline(admin: Admin, endpoints: dict, count: int) -> list[float]:
    """publish (gate_spot top) -> a bare client receives the spot.book_ticker frame, in ms."""
    out = []
    async with aiohttp.ClientSession() as s, s.ws_connect(endpoints["gate_spot"]["ws_url"]) as ws:
        await ws.send_str(json.dumps({"time": int(time.time()), "channel": "spot.book_ticker", "event": "subscribe",
                                      "payload": ["NEIROETH_USDT"]}))
        for i in range(count):
            bid = "0.04998" if i % 2 else "0.04997"
            task = asyncio.ensure_future(admin.book("gate_spot", bid, "0.050000"))
            while True:
                msg = await ws.receive(timeout=5)
                t_recv = time.perf_counter_ns()
                data = json.loads(msg.data)
                if data.get("event") == "update" and data["result"]["b"] == bid:
                    break
            entry = await task
            out.append((t_recv - entry["publish_perf_ns"]) / 1e6)
    return out


def _our_id(venue_client_id: str) -> str:
    """Our client order id from the venue's field (Gate carries it as ``text`` = ``t-<id>``)."""
    return venue_client_id[2:] if venue_client_id.startswith("t-") else venue_client_id


def first_orders(orders: list[dict], publishes: list[int], prefix: str) -> list[float]:
    """For each publish, ms to the first of our orders received before the next publish."""
    recvs = sorted(o["recv_perf_ns"] for o in orders
                   if _our_id(o.get("client_order_id") or "").startswith(prefix) and o.get("recv_perf_ns"))
    out, j = [], 0
    bounds = publishes[1:] + [float("inf")]
    for pub, nxt in zip(publishes, bounds):
        while j < len(recvs) and recvs[j] <= pub:
            j += 1
        if j < len(recvs) and recvs[j] < nxt:
            out.append((recvs[j] - pub) / 1e6)
    return out


def leg_times(orders: list[dict], publishes: list[int], prefix: str) -> list[tuple[float, float, str]]:
    """For each publish with both spot legs received before the next publish: (ms to the first
    leg, ms to the second leg, venue of the first leg). A sequential second leg waits for the
    first leg's answer: its time includes one more venue round trip."""
    spot = [o for o in orders if o.get("recv_perf_ns") and o.get("venue") in ("gate_spot", "mexc_spot")
            and _our_id(o.get("client_order_id") or "").startswith(prefix)]
    spot.sort(key=lambda o: o["recv_perf_ns"])
    out, j = [], 0
    bounds = publishes[1:] + [float("inf")]
    for pub, nxt in zip(publishes, bounds):
        while j < len(spot) and spot[j]["recv_perf_ns"] <= pub:
            j += 1
        legs = []
        k = j
        while k < len(spot) and spot[k]["recv_perf_ns"] < nxt and len(legs) < 2:
            if not legs or spot[k]["venue"] != legs[0]["venue"]:
                legs.append(spot[k])
            k += 1
        if len(legs) == 2:
            out.append(((legs[0]["recv_perf_ns"] - pub) / 1e6, (legs[1]["recv_perf_ns"] - pub) / 1e6, legs[0]["venue"]))
    return out


async def run(events: int, baseline_events: int, min_interval_s: float) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-reaction-") as tmp:
        home = Path(tmp)
        sim, endpoints = start_sim(home)
        worker = None
        admin = Admin(endpoints)
        try:
            await admin.pause_replay()
            await set_calm(admin)
            ws_ms = await ws_baseline(admin, endpoints, baseline_events)
            from bench.sim import reaction_ms  # the bare client's publish -> order received

            bare_ms = await reaction_ms(endpoints, baseline_events)
            await set_calm(admin)
            (home / "endpoints.json").write_text(json.dumps(endpoints))
            (home / "specs.json").write_text(json.dumps([{"symbol": "NEIROETH", "config": TASK_CONFIG}]))
            db = home / "arb.sqlite"
            worker, ready = start_worker(home, home / "endpoints.json", db, home / "specs.json")
            task_id = ready["tasks"][0]

            def settled():
                st = task_states(db).get(task_id)
                return st if st and st[0] == "MONITORING" and st[2] == 0 else None

            def built():
                """Build-up over (context.building False) and settled: only arbitrage is left."""
                st = settled()
                if st is None:
                    return None
                conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
                try:
                    (context,) = conn.execute("SELECT context FROM tasks WHERE task_id=?", (task_id,)).fetchone()
                finally:
                    conn.close()
                return st if not json.loads(context).get("building", True) else None

            stop_fresh = asyncio.Event()
            fresher = asyncio.ensure_future(keep_fresh(admin, stop_fresh))
            await wait_until(built, 120, 0.05, "build-up")
            stop_fresh.set()
            await fresher
            last_fresh = time.monotonic()
            entries: list[dict] = []
            prefix = f"arb{task_id}"
            t0 = time.monotonic()
            next_event_mono = 0.0
            for i in range(events):
                await wait_until(settled, 30, 0.005, f"task settled before event {i}")
                if time.monotonic() - last_fresh > 1.0:
                    await set_calm(admin)
                    last_fresh = time.monotonic()
                await asyncio.sleep(max(0.02, next_event_mono - time.monotonic()))  # calm books reached the task
                next_event_mono = time.monotonic() + min_interval_s
                venue = "gate_spot" if i % 2 == 0 else "mexc_spot"
                # the rich bid is exactly one order deep: the task's sell consumes it (one arb per event)
                entry = await admin.book(venue, RICH_BID, "0.050510", bid_qty=ARB_QTY, tag=f"e{i}")
                entry["venue"] = venue

                async def legs_arrived() -> bool:
                    recent = [o for o in await admin.orders(8) if o["recv_perf_ns"] > entry["publish_perf_ns"]
                              and _our_id(o.get("client_order_id") or "").startswith(prefix)]
                    return {o["venue"] for o in recent} >= {"gate_spot", "mexc_spot"}

                deadline = time.monotonic() + 10
                await asyncio.sleep(0.03)  # stay idle while the task reacts: polling would compete for the 2 cores
                while not await legs_arrived():
                    if time.monotonic() > deadline:
                        print(f"event {i}: no order within 10 s (task state {task_states(db).get(task_id)})")
                        break
                    await asyncio.sleep(0.005)
                await admin.book(venue, *CALM[venue])
                logged = {e.get("tag"): e for e in await admin.book_log(10)}
                entry["pushed_perf_ns"] = (logged.get(f"e{i}") or {}).get("pushed_perf_ns")
                entries.append(entry)
            elapsed = time.monotonic() - t0
            orders = await admin.orders(100000)
            conn_rows = task_states(db)[task_id]
            if os.environ.get("BENCH_REACTION_DUMP"):  # raw stamps for offline breakdowns
                Path(os.environ["BENCH_REACTION_DUMP"]).write_text(json.dumps({"entries": entries, "orders": orders}))
        except BaseException:
            for name in ("worker.out", "sim.out"):
                if (home / name).exists():
                    print(f"--- {name} (tail)\n{(home / name).read_text()[-3000:]}", file=sys.stderr)
            if (home / "arb.sqlite").exists():
                print(f"task states: {task_states(home / 'arb.sqlite')}", file=sys.stderr)
            raise
        finally:
            await admin.close()
            if worker is not None:
                stop_proc(worker)
            stop_proc(sim)
            if os.environ.get("BENCH_REACTION_KEEP"):  # keep the runner's database for inspection
                import shutil

                shutil.copy(home / "arb.sqlite", os.environ["BENCH_REACTION_KEEP"])
        pushed = [e for e in entries if e.get("pushed_perf_ns")]
        lat = first_orders(orders, [e["pushed_perf_ns"] for e in pushed], prefix)
        raw = first_orders(orders, [e["publish_perf_ns"] for e in entries], prefix)
        p50, p99 = pct(lat)
        w50, w99 = pct(ws_ms)
        b50, b99 = pct(bare_ms)
        print(f"events: {len(lat)} of {events} published in {elapsed:.1f} s (task ended in {conn_rows[0]}, "
              f"{conn_rows[1]})")
        print(f"task reaction, update pushed by the venue stream -> first order received: p50 {p50:.2f} ms, "
              f"p99 {p99:.2f} ms, max {max(lat):.2f} ms (target p99 <= 5 ms: {'met' if p99 <= 5 else 'MISSED'})")
        for v in ("gate_spot", "mexc_spot"):
            a, b = pct(first_orders(orders, [e["pushed_perf_ns"] for e in pushed if e["venue"] == v], prefix))
            print(f"  edge on {v}: p50 {a:.2f} ms, p99 {b:.2f} ms")
        legs = leg_times(orders, [e["pushed_perf_ns"] for e in pushed], prefix)
        if legs:
            f50, f99 = pct([a for a, _, _ in legs])
            s50, s99 = pct([b for _, b, _ in legs])
            g50, g99 = pct([b - a for a, b, _ in legs])
            firsts = ", ".join(f"{v} {sum(1 for *_, w in legs if w == v)}" for v in ("gate_spot", "mexc_spot"))
            print(f"  both spot legs received in {len(legs)} events: first leg p50 {f50:.2f} ms, p99 {f99:.2f} ms; "
                  f"second leg p50 {s50:.2f} ms, p99 {s99:.2f} ms (second - first p50 {g50:.2f} ms, p99 {g99:.2f} ms); "
                  f"first leg on: {firsts}")
        r50, r99 = pct(raw)
        m50, m99 = pct(first_orders(orders, [e["publish_perf_ns"] for e in entries if e["venue"] == "mexc_spot"],
                                    prefix))
        print(f"book change in the simulator -> first order, incl. MEXC's aggregation window (aggre @10ms): "
              f"p50 {r50:.2f} ms, p99 {r99:.2f} ms; edge on mexc_spot alone p50 {m50:.2f} ms, p99 {m99:.2f} ms")
        print(f"baseline ws (publish -> bare client frame), {len(ws_ms)} events: p50 {w50:.2f} ms, p99 {w99:.2f} ms; "
              f"ratio task/baseline p50 {p50 / w50:.1f}x, p99 {p99 / w99:.1f}x")
        print(f"baseline bare reaction (publish -> bare client's order received), {len(bare_ms)} events: "
              f"p50 {b50:.2f} ms, p99 {b99:.2f} ms; ratio task/bare p50 {p50 / b50:.1f}x, p99 {p99 / b99:.1f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--baseline-events", type=int, default=1000)
    parser.add_argument("--min-interval-s", type=float, default=0.12,
                        help="at least this long between two events (Gate allows 10 spot orders/s per market)")
    args = parser.parse_args()
    asyncio.run(run(args.events, args.baseline_events, args.min_interval_s))
