"""Checkpoint benchmark: latency of one FSM transition + durable commit, and the cost of the
``transitions`` machinery per step.

    python bench/checkpoint.py [--steps 2000] [--dir /path/on/the/disk/to/test] [--backend sqlite|postgresql|both]

Prints p50/p90/p99/max of ``await task.step()`` where each step takes one edge
(MONITORING -signal-> ANALYZING -idle-> MONITORING) and commits journal row + context + PnL in
one ``synchronous=FULL`` transaction on a temporary WAL database (target p99 <= 1 ms), then
the same with ``durable=False`` commits, then the pure CPU cost of a step against a null store,
and of the ``transitions`` machine alone (edge lookup + set_state, as ``step()`` fires an edge) --
the machinery's overhead. ``--backend postgresql`` (or ``both``, the default) measures the same
durable and relaxed steps on a PostgreSQL server started for the run (tests/pgserver.py; default
settings: fsync on, ``synchronous_commit`` on for durable steps), on loopback, in ``--dir``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from state.records import State, TaskRecord  # noqa: E402
from state.opener import open_store  # noqa: E402
from strategies.base import StrategyTask  # noqa: E402


class PingPong(StrategyTask):
    """Trivial strategy: every step takes one edge between ANALYZING and MONITORING."""

    strategy_name = "bench_pingpong"

    async def on_analyzing(self):
        return self.go("idle", "bench")

    async def on_monitoring(self):
        return self.go("signal", "bench")


class NullStore:
    """Accepts commits without I/O (isolates step()'s CPU cost)."""

    def __init__(self) -> None:
        self.version = 0

    async def commit_step(self, *args, **kwargs) -> int:
        self.version += 1
        return self.version


def _pct(samples_us: list[float]) -> str:
    ordered = sorted(samples_us)
    q = lambda p: ordered[min(len(ordered) - 1, int(p * len(ordered)))]  # noqa: E731
    return (f"p50 {q(0.50):8.1f} us   p90 {q(0.90):8.1f} us   p99 {q(0.99):8.1f} us   "
            f"max {ordered[-1]:8.1f} us   mean {statistics.fmean(ordered):8.1f} us")


async def _steps(task: StrategyTask, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        assert await task.step()
        out.append((time.perf_counter_ns() - t0) / 1000)
    return out


async def main(steps: int, directory: str | None, backends: tuple[str, ...]) -> None:
    durable = {backend: await _durable_steps(steps, directory, backend) for backend in backends}
    await _cpu_only(steps, durable.get("sqlite") or durable[backends[0]])


async def _durable_steps(steps: int, directory: str | None, backend: str) -> list[float]:
    """Durable then relaxed steps on ``backend``; returns the durable samples (us)."""
    pg = None
    if backend == "postgresql":
        from tests.pgserver import PgServer

        if directory:
            os.environ["TMPDIR"] = directory  # the server's data directory goes there too
        pg = await asyncio.to_thread(lambda: PgServer(fast=False).start())
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        location = await asyncio.to_thread(pg.create_database) if pg else str(Path(tmp) / "bench.sqlite")
        store = await open_store(location)
        try:
            rec = TaskRecord(task_id="bench0000001", strategy="bench_pingpong", symbol="NEIROETHUSDT",
                             state=State.MONITORING)
            await store.create_task(rec)
            assert await store.acquire_lease(rec.task_id, "bench", os.getpid(), "bench", ttl_s=60)
            task = PingPong(await store.get_task(rec.task_id), store, {}, "bench")
            await task.load()
            await _steps(task, 200)  # warm-up
            durable = await _steps(task, steps)
            what = "synchronous=FULL, WAL" if pg is None else "PostgreSQL, synchronous_commit=on, loopback"
            print(f"[{backend}] transition + durable commit ({what}) x{steps}:")
            print("  " + _pct(durable))
            ok = sorted(durable)[int(0.99 * len(durable))] <= 1000
            print(f"  target p99 <= 1 ms: {'met' if ok else 'NOT met'} (filesystem of {pg.base if pg else tmp})")

            from strategies import base

            commit = base.StrategyTask._commit

            async def commit_normal(self, transition, status, durable=True, write_behind=False):
                return await commit(self, transition, status, durable=False)

            base.StrategyTask._commit = commit_normal
            try:
                relaxed = await _steps(task, steps)
            finally:
                base.StrategyTask._commit = commit
            relaxed_what = "synchronous=NORMAL" if pg is None else "synchronous_commit=off"
            print(f"[{backend}] transition + commit ({relaxed_what}) x{steps}:")
            print("  " + _pct(relaxed))
        finally:
            await store.close()
            if pg is not None:
                await asyncio.to_thread(pg.stop)
    return durable


async def _cpu_only(steps: int, durable: list[float]) -> None:
    null_task = PingPong(TaskRecord(task_id="bench0000002", strategy="bench_pingpong", symbol="NEIROETHUSDT",
                                    state=State.MONITORING), NullStore(), {}, "bench")  # type: ignore[arg-type]
    await _steps(null_task, 200)
    cpu = await _steps(null_task, steps)
    print(f"step() CPU only (null store: handler + machine + context/PnL encoding) x{steps}:")
    print("  " + _pct(cpu))

    machine_only = []
    for i in range(steps):
        trigger = "signal" if null_task.state is State.MONITORING else "idle"
        t0 = time.perf_counter_ns()
        null_task.fire(trigger)
        machine_only.append((time.perf_counter_ns() - t0) / 1000)
    print(f"transitions machinery alone (edge lookup in the machine's table + set_state, as step() does) x{steps}:")
    print("  " + _pct(machine_only))
    share = statistics.median(machine_only) / statistics.median(durable) * 100
    print(f"machinery overhead per step: {statistics.median(machine_only):.1f} us median "
          f"= {share:.1f} % of a durable step, {statistics.median(machine_only) / statistics.median(cpu) * 100:.0f} % "
          f"of step() CPU")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--dir", default=None, help="directory for the temporary database (default: $TMPDIR)")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    ns = parser.parse_args()
    asyncio.run(main(ns.steps, ns.dir, ("sqlite", "postgresql") if ns.backend == "both" else (ns.backend,)))
