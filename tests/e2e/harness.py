"""Helpers of the end-to-end tests: real processes, the simulator's admin API, ledger checks.

Everything here talks to real processes over loopback: ``run.py`` subprocesses (runners and
reading commands) and the background simulator (admin API, its SQLite file read-only).
"""

from __future__ import annotations

import collections
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
#: a fake secret put into every runner's environment; it must never appear in any file or output
SECRET = "SECRETe2eZq9Xw7Kp4LmN2vB8"
SECRET_VARS = ("GATE_API_KEY", "GATE_API_SECRET", "MEXC_API_KEY", "MEXC_API_SECRET")
#: |net delta| tolerance of the NEIROETH scenario: one perp contract = 10 base (scenario README)
DELTA_TOL_BASE = Decimal(10)
#: sitecustomize that wraps the runner's venues in crash proxies when ARB_CRASH_AT is set
CRASH_HOOK = Path(__file__).resolve().parent / "crashhook"
FINAL_INTENT = {"filled", "canceled", "rejected", "not_sent"}


def wait_until(predicate: Callable[[], Any], timeout_s: float, interval_s: float = 0.05,
               what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns a truthy value (returned); AssertionError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(interval_s)


def base_env(home: Path, secrets: bool = True, **extra: str) -> dict[str, str]:
    """Environment of a child process: isolated ``ARB_HOME``, no inherited crash hook or DB."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("ARB_DB", "ARB_CRASH_AT", "ARB_CRASH_SEED") and not k.startswith("PYTEST")}
    env["ARB_HOME"] = str(home)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")]))
    env["PYTHONUNBUFFERED"] = "1"
    if secrets:
        for name in SECRET_VARS:
            env[name] = SECRET
    env.update(extra)
    if env.get("ARB_CRASH_AT"):  # the crash proxy is injected by the test shim, not by the product
        env["PYTHONPATH"] = os.pathsep.join([str(CRASH_HOOK), env["PYTHONPATH"]])
    return env


class Runner:
    """One ``run.py`` subprocess whose stdout+stderr go to a file."""

    def __init__(self, proc: subprocess.Popen, out_path: Path, started_ms: int) -> None:
        self.proc = proc
        self.out_path = out_path
        self.started_ms = started_ms  # wall clock, comparable with the runner's own timestamps
        self.started_mono = time.monotonic()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=10)

    def wait(self, timeout_s: float) -> int:
        return self.proc.wait(timeout=timeout_s)

    def output(self) -> str:
        try:
            return self.out_path.read_text(errors="replace")
        except OSError:
            return ""


class RunnerPool:
    """Spawns runner subprocesses and SIGKILLs every one still alive in :meth:`close`."""

    def __init__(self, home: Path, out_dir: Path) -> None:
        self.home = home
        self.out_dir = out_dir
        self.runners: list[Runner] = []

    def spawn(self, args: Iterable[str], name: str, **env: str) -> Runner:
        out_path = self.out_dir / f"{name}.out"
        with open(out_path, "wb") as out:
            proc = subprocess.Popen([PY, str(PROJECT_ROOT / "run.py"), *args], stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT, cwd=str(PROJECT_ROOT),
                                    env=base_env(self.home, **env))
        runner = Runner(proc, out_path, int(time.time() * 1000))
        self.runners.append(runner)
        return runner

    def close(self) -> None:
        for runner in self.runners:
            try:
                runner.kill()
            except Exception:  # noqa: BLE001 - teardown must reach every process
                pass


def run_cli(home: Path, *args: str, timeout_s: float = 60, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess:
    """Run ``run.py ARGS`` to completion (stdout and stderr captured as text)."""
    return subprocess.run([PY, str(PROJECT_ROOT / "run.py"), *args], capture_output=True, text=True,
                          cwd=str(PROJECT_ROOT), env=env or base_env(home), timeout=timeout_s, check=False)


def cli_json(home: Path, *args: str) -> Any:
    """``run.py ARGS --json`` parsed; AssertionError with the output when it fails."""
    res = run_cli(home, *args, "--json", timeout_s=30)
    assert res.returncode == 0, f"{' '.join(args)} exited {res.returncode}: {res.stderr.strip()[-500:]}"
    return json.loads(res.stdout)


def list_tasks(home: Path, db: Path) -> list[dict]:
    return cli_json(home, "tasks", "list", "--db", str(db))


def show_task(home: Path, db: Path, task_id: str) -> dict:
    return cli_json(home, "tasks", "show", task_id, "--db", str(db))


def task_row(home: Path, db: Path, task_id: str) -> dict:
    rows = [r for r in list_tasks(home, db) if r["task_id"] == task_id]
    assert rows, f"task {task_id} not listed"
    return rows[0]


def delta_of(row: dict) -> Decimal:
    return abs(Decimal(str(row.get("net_delta_base") or "0")))


# ---- the simulator ---------------------------------------------------------------------------------


class SimAdmin:
    """Admin API + read-only view of the simulator's SQLite file."""

    def __init__(self, endpoints: dict, sim_db: Path) -> None:
        self.endpoints = endpoints
        self.url = endpoints["admin_url"]
        self.sim_db = sim_db

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310 - loopback only
            raw = resp.read()
        return json.loads(raw) if raw else None

    def get(self, path: str) -> Any:
        return self._call("GET", path)

    def post(self, path: str, body: Any) -> Any:
        return self._call("POST", path, body)

    def delete(self, path: str) -> Any:
        return self._call("DELETE", path)

    def set_fault(self, venue: str, **fields: Any) -> Any:
        return self.post("/_sim/faults", {"venue": venue, **fields})

    def clear_faults(self) -> None:
        self.delete("/_sim/faults")

    def injected(self, venue: str, fault: str) -> int:
        """How many times ``fault`` fired on ``venue`` since the simulator started."""
        return int(self.get("/_sim/faults").get(venue, {}).get("injected", {}).get(fault, 0))

    def orders(self, prefix: str) -> list[dict]:
        """Every order the simulator received whose client order id (Gate ``t-`` removed) starts with ``prefix``."""
        out = []
        for order in self.get("/_sim/orders?limit=1000000"):
            cid = norm_cid(order.get("client_order_id") or "")
            if cid.startswith(prefix):
                out.append({**order, "cid": cid})
        return out

    def fills(self, prefix: str) -> list[dict]:
        """The simulator's executions of our orders (read-only from its SQLite file)."""
        con = sqlite3.connect(f"file:{self.sim_db}?mode=ro", uri=True, timeout=5)
        try:
            rows = con.execute("SELECT data FROM fills").fetchall()
        finally:
            con.close()
        out = []
        for (data,) in rows:
            fill = json.loads(data)
            cid = norm_cid(fill.get("client_order_id") or "")
            if cid.startswith(prefix):
                out.append({**fill, "cid": cid})
        return out


def norm_cid(text: str) -> str:
    """Gate stores our id as its ``text`` field with the mandatory ``t-`` prefix."""
    return text[2:] if text.startswith("t-") else text


def task_prefix(task_id: str) -> str:
    """Client order ids of a task: ``arb`` + task id + sequence (strategies/delta_neutral)."""
    return "arb" + task_id


# ---- invariants -------------------------------------------------------------------------------------


def duplicate_ids(sim_orders: list[dict]) -> list[str]:
    counts = collections.Counter(o["cid"] for o in sim_orders)
    return sorted(cid for cid, n in counts.items() if n > 1)


def ledger_problems(show: dict, sim_orders: list[dict], sim_fills: list[dict], settled_before_ms: int) -> list[str]:
    """Mismatches between the runner's ledger (``tasks show --json``) and the simulator's records.

    * no client order id reached the simulator twice; no intent failed as a duplicate;
    * every order the simulator received is an intent (same venue, side, price, qty) -- intent before effect;
    * every order received before ``settled_before_ms`` (a completed reconciliation) is settled in the
      ledger: final status, same filled quantity, and exactly the simulator's fills (trade id, qty, price);
    * no intent created before ``settled_before_ms`` is still unresolved (new/unknown/open).
    """
    problems: list[str] = []
    dups = duplicate_ids(sim_orders)
    if dups:
        problems.append(f"client order ids sent twice: {dups[:5]}")
    intents = {i["client_order_id"]: i for i in show.get("order_intents") or []}
    for intent in intents.values():
        if "duplicate" in (intent.get("error") or "").lower():
            problems.append(f"intent {intent['client_order_id']} refused as a duplicate: {intent['error']}")
    ledger_fills: dict[str, set] = collections.defaultdict(set)
    for f in show.get("fills") or []:
        ledger_fills[f["client_order_id"]].add((f["venue"], str(f["trade_id"]), Decimal(f["qty"]),
                                                 Decimal(f["price"])))
    sim_fills_by: dict[str, set] = collections.defaultdict(set)
    for f in sim_fills:
        sim_fills_by[f["cid"]].add((f["venue"], str(f["trade_id"]), Decimal(f["qty"]), Decimal(f["price"])))
    for order in sim_orders:
        cid = order["cid"]
        intent = intents.get(cid)
        if intent is None:
            problems.append(f"simulator has {order['venue']} order {cid} ({order['status']}) with no intent")
            continue
        if intent["venue"] != order["venue"] or intent["side"] != order["side"]:
            problems.append(f"{cid}: intent {intent['venue']} {intent['side']} vs sim {order['venue']} {order['side']}")
        if order.get("price") is not None and Decimal(intent["price"]) != Decimal(order["price"]):
            problems.append(f"{cid}: intent price {intent['price']} vs sim {order['price']}")
        if not order.get("reduce_only") and Decimal(intent["qty"]) != Decimal(order["qty"]):
            problems.append(f"{cid}: intent qty {intent['qty']} vs sim {order['qty']}")
        if order.get("recv_ms", 0) >= settled_before_ms:
            continue
        if intent["status"] not in FINAL_INTENT:
            problems.append(f"{cid}: still {intent['status']} after reconciliation (sim: {order['status']})")
        if Decimal(intent.get("filled_qty") or "0") != Decimal(order.get("filled_qty") or "0"):
            problems.append(f"{cid}: ledger filled {intent.get('filled_qty')} vs sim {order.get('filled_qty')}")
        if ledger_fills.get(cid, set()) != sim_fills_by.get(cid, set()):
            problems.append(f"{cid}: ledger fills {sorted(ledger_fills.get(cid, set()))} "
                            f"vs sim {sorted(sim_fills_by.get(cid, set()))}")
    sim_cids = {o["cid"] for o in sim_orders}
    for cid in ledger_fills:
        if cid not in sim_cids:
            problems.append(f"ledger has fills of {cid}, which the simulator never received")
    for intent in intents.values():
        if intent["created_ms"] < settled_before_ms and intent["status"] not in FINAL_INTENT:
            problems.append(f"{intent['client_order_id']} created before the last reconciliation is "
                            f"still {intent['status']}")
    return problems


def sequence_problems(show: dict) -> list[str]:
    """Intents are numbered 1, 2, ..., n without repeats or gaps (none lost), in creation order; each id
    ends with its zero-padded sequence."""
    intents = show.get("order_intents") or []
    seqs = [int(i["seq"]) for i in intents]
    problems = []
    if len(set(seqs)) != len(seqs):
        problems.append("repeated intent sequence numbers")
    if sorted(set(seqs)) != list(range(1, len(set(seqs)) + 1)):
        missing = sorted(set(range(1, max(seqs, default=0) + 1)) - set(seqs))
        problems.append(f"intent sequence has gaps (missing {missing[:10]})")
    for intent in intents:
        if not intent["client_order_id"].endswith(f"{int(intent['seq']):06d}"):
            problems.append(f"{intent['client_order_id']} does not end with its sequence {intent['seq']}")
    by_seq = sorted(intents, key=lambda i: int(i["seq"]))
    for a, b in zip(by_seq, by_seq[1:]):
        if b["created_ms"] < a["created_ms"]:
            problems.append(f"intent seq {b['seq']} created before seq {a['seq']}")
    return problems


def integrity_ok(db: Path) -> str:
    """``PRAGMA integrity_check`` of a runner database, opened read-only."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return str(con.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        con.close()


def write_config(path: Path, **values: Any) -> Path:
    """A strategy config file (TOML; strings for decimals)."""
    lines = []
    for key, value in values.items():
        lines.append(f"{key} = {json.dumps(value) if not isinstance(value, bool) else str(value).lower()}")
    path.write_text("\n".join(lines) + "\n")
    return path
