"""Reaction latency of a delta-neutral task against the simulator (issue 6, "Speed").

Measures, per event, the time from the simulator PUBLISHING a book update that makes a
cross-spot arbitrage profitable (``POST /_sim/book`` -> ``publish_perf_ns``) to the simulator
RECEIVING the first resulting order request (``GET /_sim/orders`` -> ``recv_perf_ns``). Both
stamps are ``time.perf_counter_ns`` (CLOCK_MONOTONIC: one clock for every process on the machine).

Setup: the simulator runs as a separate process in a temp ``ARB_HOME`` (replay paused, books set
by the bench); one task runs in a separate worker process (``bench/task_worker.py``: a real
TaskManager, real connectors over loopback, a real SQLite file with fsync). The task builds a
small inventory (position 40 USDT, orders <= 4 USDT), then for each event: books without edge
on every venue, wait until the task is back in MONITORING with nothing in flight, publish a
rich bid on ONE spot venue (alternating Gate spot / MEXC spot, so the inventory round-trips),
wait for both legs to reach the simulator, reset the book. Nothing is asserted.

Baselines measured in the same simulator process before the task starts:
* ``ws``: publish -> a bare aiohttp WebSocket client receives the Gate ``spot.book_ticker`` frame;
* ``bare reaction``: publish -> that bare client, on the frame, sends one MEXC order -> simulator
  receives it (``bench/sim.py``'s measurement): the floor for any client in Python.

Usage: ``python bench/reaction.py [--events 1000] [--baseline-events 1000]``.
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

import aiohttp  # noqa: E402

from bench._simproc import Admin, pct, start_sim, start_worker, stop_proc, task_states, wait_until  # noqa: E402

CALM = {"gate_spot": ("0.049990", "0.050000"), "mexc_spot": ("0.049990", "0.050000"),
        "gate_perp": ("0.049990", "0.050010")}
RICH_BID = "0.050500"  # ~85 bps net over the other venue's ask
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


def first_orders(orders: list[dict], publishes: list[int], prefix: str) -> list[float]:
    """For each publish, ms to the first of our orders received before the next publish."""
    recvs = sorted(o["recv_perf_ns"] for o in orders
                   if o.get("client_order_id", "").startswith(prefix) and o.get("recv_perf_ns"))
    out, j = [], 0
    bounds = publishes[1:] + [float("inf")]
    for pub, nxt in zip(publishes, bounds):
        while j < len(recvs) and recvs[j] <= pub:
            j += 1
        if j < len(recvs) and recvs[j] < nxt:
            out.append((recvs[j] - pub) / 1e6)
    return out


async def run(events: int, baseline_events: int) -> None:
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

            stop_fresh = asyncio.Event()
            fresher = asyncio.ensure_future(keep_fresh(admin, stop_fresh))
            await wait_until(settled, 60, 0.05, "build-up")
            await asyncio.sleep(3)  # build-up rounds are 1 s apart: make sure it is over
            await wait_until(settled, 60, 0.05, "build-up")
            stop_fresh.set()
            await fresher
            last_fresh = time.monotonic()
            publishes: list[int] = []
            venues_used: list[str] = []
            seen = 0
            t0 = time.monotonic()
            for i in range(events):
                await wait_until(settled, 30, 0.002, f"task settled before event {i}")
                if time.monotonic() - last_fresh > 1.0:
                    await set_calm(admin)
                    last_fresh = time.monotonic()
                await asyncio.sleep(0.02)  # the calm books reached the task
                venue = "gate_spot" if i % 2 == 0 else "mexc_spot"
                entry = await admin.book(venue, RICH_BID, "0.050510", tag=f"e{i}")
                publishes.append(entry["publish_perf_ns"])
                venues_used.append(venue)

                async def legs_arrived() -> bool:
                    return sum(1 for o in await admin.orders(8) if o["recv_perf_ns"] > entry["publish_perf_ns"]) >= 2

                deadline = time.monotonic() + 10
                while not await legs_arrived():
                    if time.monotonic() > deadline:
                        print(f"event {i}: no order within 10 s (task state {task_states(db).get(task_id)})")
                        break
                    await asyncio.sleep(0.002)
                await admin.book(venue, *CALM[venue])
                seen += 1
            elapsed = time.monotonic() - t0
            orders = await admin.orders(100000)
            lat = first_orders(orders, publishes, f"arb{task_id}")
            by_venue = {v: first_orders(orders, [p for p, u in zip(publishes, venues_used) if u == v], f"arb{task_id}")
                        for v in ("gate_spot", "mexc_spot")}
            conn_rows = task_states(db)[task_id]
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
        p50, p99 = pct(lat)
        w50, w99 = pct(ws_ms)
        b50, b99 = pct(bare_ms)
        print(f"events: {len(lat)} of {events} published in {elapsed:.1f} s (task ended in {conn_rows[0]}, "
              f"{conn_rows[1]})")
        print(f"task reaction publish -> first order received: p50 {p50:.2f} ms, p99 {p99:.2f} ms, "
              f"max {max(lat):.2f} ms")
        for v, vals in by_venue.items():
            a, b = pct(vals)
            print(f"  edge on {v}: {len(vals)} events, p50 {a:.2f} ms, p99 {b:.2f} ms")
        print(f"baseline ws (publish -> bare client frame), {len(ws_ms)} events: p50 {w50:.2f} ms, p99 {w99:.2f} ms; "
              f"ratio task/baseline p50 {p50 / w50:.1f}x, p99 {p99 / w99:.1f}x")
        print(f"baseline bare reaction (publish -> bare client's order received), {len(bare_ms)} events: "
              f"p50 {b50:.2f} ms, p99 {b99:.2f} ms; ratio task/bare p50 {p50 / b50:.1f}x, p99 {p99 / b99:.1f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--baseline-events", type=int, default=1000)
    args = parser.parse_args()
    asyncio.run(run(args.events, args.baseline_events))
