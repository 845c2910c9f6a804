"""Shared plumbing of bench/reaction.py and bench/scale.py (not a benchmark itself).

* :func:`sim_supports` tells whether the simulator's CLI has an option (``--alias-symbols``).
* :func:`start_sim` runs ``python -m exchanges.sim`` as a SEPARATE process in its
  own temp home (ephemeral ports), returns (process, endpoints); :func:`stop_proc`
  terminates it (SIGTERM, then SIGKILL after a grace period).
* :class:`Admin` wraps the simulator's admin API (``/_sim/book``, ``/_sim/orders``,
  ``/_sim/replay``, ``/_sim/accounts``) on one keep-alive aiohttp session.
* :func:`start_worker` runs ``bench/task_worker.py`` (N delta-neutral tasks in one
  TaskManager process, on a SQLite file or a PostgreSQL URL) and waits for its "ready" line.
* :func:`task_states` / :func:`task_states_any`: every task's state, status and unresolved intents,
  read straight from the runner's database (SQLite file; ``_any``: or PostgreSQL URL).
* :func:`pct` p50/p99 of a list of ms.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
VENUES = ("gate_spot", "gate_perp", "mexc_spot")


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    return env


def sim_supports(option: str) -> bool:
    """True when ``python -m exchanges.sim --help`` lists ``option`` (e.g. ``--alias-symbols``)."""
    out = subprocess.run([sys.executable, "-m", "exchanges.sim", "--help"], capture_output=True, text=True,
                         cwd=str(ROOT), env=_env(), timeout=60)
    return option in out.stdout


def start_sim(home: Path, scenario: str | None = None, extra_args: list[str] | None = None
              ) -> tuple[subprocess.Popen, dict]:
    """Start the simulator process (replay at real time, paused by the caller)."""
    cmd = [sys.executable, "-m", "exchanges.sim", "--home", str(home), "--port-base", "0", "--json", "--quiet"]
    if scenario:
        cmd += ["--scenario", scenario]
    cmd += extra_args or []
    log = open(home / "sim.out", "wb")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, cwd=str(ROOT), env=_env(), start_new_session=True)
    line = proc.stdout.readline()
    if not line:
        stop_proc(proc)
        raise RuntimeError(f"simulator did not start: {(home / 'sim.out').read_text()[-2000:]}")
    return proc, json.loads(line)


def start_worker(home: Path, endpoints_path: Path, db: Path | str, specs_path: Path,
                 name: str = "worker") -> tuple[subprocess.Popen, dict]:
    """Start the task worker (its output in ``home/<name>.out``); returns (process, its ready object
    {"tasks": [...], "pid": ...})."""
    cmd = [sys.executable, str(ROOT / "bench" / "task_worker.py"), "--endpoints", str(endpoints_path), "--db", str(db),
           "--specs", str(specs_path)]
    log = open(home / f"{name}.out", "wb")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, cwd=str(ROOT), env=_env(), start_new_session=True)
    line = proc.stdout.readline()
    if not line:
        stop_proc(proc)
        raise RuntimeError(f"task worker did not start: {(home / f'{name}.out').read_text()[-3000:]}")
    return proc, json.loads(line)


def stop_proc(proc: subprocess.Popen, grace_s: float = 20.0) -> None:
    """SIGTERM the process (its own session), SIGKILL it if it outlives ``grace_s``."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
    except ProcessLookupError:
        pass


class Admin:
    """The simulator admin API on one session."""

    def __init__(self, endpoints: dict) -> None:
        self.url = endpoints["admin_url"]
        self.session = aiohttp.ClientSession()

    async def close(self) -> None:
        await self.session.close()

    async def _post(self, path: str, body: dict) -> dict:
        async with self.session.post(self.url + path, json=body) as resp:
            data = await resp.json()
            if resp.status != 200:
                raise RuntimeError(f"{path}: {resp.status} {data}")
            return data

    async def book(self, venue: str, bid: str, ask: str, qty: str = "1000000", symbol: str | None = None,
                   tag: str | None = None, bid_qty: str | None = None, ask_qty: str | None = None) -> dict:
        body = {"venue": venue, "bid": bid, "ask": ask, "bid_qty": bid_qty or qty, "ask_qty": ask_qty or qty,
                "tag": tag}
        if symbol:
            body["symbol"] = symbol
        return await self._post("/_sim/book", body)

    async def book_log(self, limit: int = 1000) -> list[dict]:
        async with self.session.get(self.url + "/_sim/book_log", params={"limit": str(limit)}) as resp:
            return await resp.json()

    async def pause_replay(self, symbols: list[str] | None = None) -> dict:
        body: dict = {"pause": list(VENUES)}
        if symbols:
            body["symbols"] = symbols
        return await self._post("/_sim/replay", body)

    async def resume_replay(self, symbols: list[str] | None = None) -> dict:
        body: dict = {"resume": True}
        if symbols:
            body["symbols"] = symbols
        return await self._post("/_sim/replay", body)

    async def faults(self, venue: str, **fields: object) -> dict:
        """Set fault fields on a venue (``POST /_sim/faults``), e.g. ``faults("mexc_spot", latency_ms=20)``."""
        return await self._post("/_sim/faults", dict(fields, venue=venue))

    async def create_account(self, label: str) -> dict:
        return await self._post("/_sim/accounts", {"create": True, "label": label})

    async def orders(self, limit: int = 100000, since_perf_ns: int = 0) -> list[dict]:
        """The simulator's order log (``GET /_sim/orders``): the last ``limit``, only those received
        after ``since_perf_ns`` when given (so a poll while tasks react serializes only new orders)."""
        params = {"limit": str(limit)}
        if since_perf_ns:
            params["since_perf_ns"] = str(since_perf_ns)
        async with self.session.get(self.url + "/_sim/orders", params=params) as resp:
            return await resp.json()


def dump_tails(home: Path, names: tuple[str, ...] = ("worker.out", "sim.out")) -> None:
    """Print the tail of each process log in ``home`` to stderr (after a failed bench run)."""
    for name in names:
        if (home / name).exists():
            print(f"--- {name} (tail)\n{(home / name).read_text()[-3000:]}", file=sys.stderr)


def task_states(db: Path) -> dict[str, tuple[str, str, int]]:
    """task_id -> (state, status, unresolved intents) read straight from the runner's SQLite (WAL)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        rows = conn.execute("SELECT task_id, state, status FROM tasks").fetchall()
        open_rows = dict(conn.execute(
            "SELECT task_id, COUNT(*) FROM order_intents WHERE status IN ('new','open','partially_filled','unknown') "
            "GROUP BY task_id").fetchall())
    finally:
        conn.close()
    return {r[0]: (r[1], r[2], open_rows.get(r[0], 0)) for r in rows}


_UNRESOLVED = "('new','open','partially_filled','unknown')"
_pg_conns: dict[str, object] = {}


async def task_states_any(db: Path | str) -> dict[str, tuple[str, str, int]]:
    """:func:`task_states` for a SQLite file or a PostgreSQL URL (one query, a connection kept per URL)."""
    text = str(db)
    if not text.startswith(("postgresql://", "postgres://")):
        return task_states(Path(text))
    import asyncpg

    conn = _pg_conns.get(text)
    if conn is None:
        conn = _pg_conns[text] = await asyncpg.connect(text)
    rows = await conn.fetch(  # type: ignore[attr-defined]
        "SELECT t.task_id, t.state, t.status, (SELECT COUNT(*) FROM order_intents i WHERE i.task_id=t.task_id "
        f"AND i.status IN {_UNRESOLVED}) AS open FROM tasks t")
    return {r["task_id"]: (r["state"], r["status"], int(r["open"])) for r in rows}


async def close_state_readers() -> None:
    for conn in _pg_conns.values():
        await conn.close()  # type: ignore[attr-defined]
    _pg_conns.clear()


async def wait_until(cond, timeout_s: float, poll_s: float = 0.005, what: str = "condition"):
    """Poll ``cond()`` (sync, or returning an awaitable) until truthy; returns its value; raises
    TimeoutError naming ``what``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        value = cond()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(poll_s)


def pct(values_ms: list[float]) -> tuple[float, float]:
    """(p50, p99) in ms."""
    if len(values_ms) < 2:
        return (values_ms[0], values_ms[0]) if values_ms else (float("nan"), float("nan"))
    q = statistics.quantiles(values_ms, n=100, method="inclusive")
    return statistics.median(values_ms), q[98]
