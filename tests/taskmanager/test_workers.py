"""Workers on one PostgreSQL database, as real processes (the CLI with the test strategy and the
file-backed venue; tests/taskmanager/conftest.py kills every process in teardown): tasks recorded
by ``tasks create`` are claimed by two workers with distinct host ids, one is SIGKILLed and the
other takes its tasks over within the lease TTL plus one reconcile, SIGTERM drains; a database
outage stops all trading and the work resumes when it is back; no client order id is ever sent
twice; passwords never reach the output, the log or the database; ``start`` and ``tasks resume``
work on PostgreSQL; a PostgreSQL URL without the driver is one line and exit 2."""

from __future__ import annotations

import asyncio
import collections
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import pytest

from state.opener import open_store
from state.records import IntentStatus, State, TaskStatus
from tests.taskmanager.conftest import ROOT, wait_until
from tests.taskmanager.test_cross_process import _assert_consistent, _config

pytestmark = pytest.mark.slow
TTL_S = 5.0


def venue_orders(venue_dir: Path) -> list[str]:
    path = venue_dir / "orders.jsonl"
    if not path.exists():
        return []
    return [json.loads(line)["client_order_id"] for line in path.read_text().splitlines() if line.strip()]


def create_tasks(procs, tmp_path: Path, n: int, **config) -> list[str]:
    cfg = _config(tmp_path, interval_s=0.05, **config)
    ids = []
    for _ in range(n):
        out = procs.run("tasks", "create", "--strategy", "tm_test", "--symbol", "NEIROETH", "--config", cfg)
        assert out.returncode == 0, out.stdout
        ids.append(out.stdout.split()[-1])
    return ids


async def trading_by(store, hosts: dict[str, int], min_intents: int = 2):
    """Truthy when each host in ``hosts`` owns that many tasks, each with ``min_intents`` intents."""
    tasks = await store.list_tasks()
    count = collections.Counter(t.owner_host for t in tasks)
    if any(count.get(h, 0) != n for h, n in hosts.items()):
        return None
    for t in tasks:
        if t.owner_host in hosts and len(await store.intents(t.task_id)) < min_intents:
            return None
    return tasks


async def assert_no_order_twice(store, venue_dir: Path, ids: list[str]) -> None:
    sent = venue_orders(venue_dir)
    dup = [k for k, v in collections.Counter(sent).items() if v > 1]
    assert not dup, f"client order ids sent twice: {dup[:3]}"
    journaled = {}
    for task_id in ids:
        for intent in await store.intents(task_id):
            journaled[intent.client_order_id] = intent
    assert set(sent) <= set(journaled), "an order at the venue without a journaled intent"
    for coid, intent in journaled.items():
        if intent.status is IntentStatus.NOT_SENT:
            assert coid not in sent, f"{coid} declared never placed, but the venue has it"


async def test_two_workers_failover_within_the_ttl_and_drain_on_sigterm(procs, tmp_path, pg_url):
    procs.db = pg_url
    ids = create_tasks(procs, tmp_path, 4)
    store = await open_store(pg_url)
    try:
        a = procs.spawn("worker", "--host-id", "host-a", "--max-tasks", "2", name="worker-a")
        await wait_until(lambda: trading_by(store, {"host-a": 2}), timeout_s=30)
        b = procs.spawn("worker", "--host-id", "host-b", "--max-tasks", "4", "--no-dashboard", "--log-level", "INFO",
                        name="worker-b")  # the options start takes are accepted too
        await wait_until(lambda: trading_by(store, {"host-a": 2, "host-b": 2}), timeout_s=30)
        listed = procs.run("tasks", "list", "--json")
        assert sorted(t["owner_host"] for t in json.loads(listed.stdout)) == ["host-a"] * 2 + ["host-b"] * 2
        assert "host-a" in procs.run("tasks", "list").stdout

        victims = {t.task_id: len(await store.intents(t.task_id)) for t in await store.list_tasks()
                   if t.owner_host == "host-a"}
        a.send_signal(signal.SIGKILL)
        a.wait(timeout=5)
        killed = time.monotonic()

        async def taken_over():
            tasks = {t.task_id: t for t in await store.list_tasks()}
            if not all(t.owner_host == "host-b" for t in tasks.values()):
                return False
            for tid, n in victims.items():
                if len(await store.intents(tid)) <= n:
                    return False  # not trading again yet
            return True

        await wait_until(taken_over, timeout_s=25)
        took_s = time.monotonic() - killed
        assert took_s < TTL_S + 6, f"takeover took {took_s:.1f} s"  # TTL + claim interval + one reconcile
        assert "took over an expired lease" in procs.output(b) and b.poll() is None

        b.send_signal(signal.SIGTERM)  # drain: finish the steps, release the leases, exit 0
        assert b.wait(timeout=30) == 0, procs.output(b)[-2000:]
        for rec in await store.list_tasks():
            assert (rec.owner_id, rec.status) == (None, TaskStatus.RUNNING)  # released, for another worker
        out = procs.output(b)
        assert "4 released" in out and "Traceback" not in out
        await assert_no_order_twice(store, procs.venue_dir, ids)
    finally:
        await store.close()


async def test_database_outage_stops_all_sends_and_the_worker_resumes_its_tasks(procs, tmp_path, pg_server, pg_url):
    url = procs.db = pg_url
    ids = create_tasks(procs, tmp_path, 2)
    store = await open_store(url)
    worker = procs.spawn("worker", "--host-id", "host-a", name="worker")
    try:
        await wait_until(lambda: trading_by(store, {"host-a": 2}), timeout_s=30)
    finally:
        await store.close()
    pg_server.kill()
    try:
        await asyncio.sleep(1.0)
        after_1s = len(venue_orders(procs.venue_dir))
        await asyncio.sleep(TTL_S)  # longer than the lease fence allows sends without a heartbeat
        assert len(venue_orders(procs.venue_dir)) == after_1s, "orders sent while the database was away"
        assert worker.poll() is None, procs.output(worker)[-2000:]
    finally:
        pg_server.restart()
    store = await open_store(url)
    try:
        async def trading_again():
            return len(venue_orders(procs.venue_dir)) >= after_1s + 4 and await trading_by(store, {"host-a": 2})

        await wait_until(trading_again, timeout_s=30)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
        out = procs.output(worker)
        assert "database unreachable" in out and "Traceback" not in out
        await assert_no_order_twice(store, procs.venue_dir, ids)
    finally:
        await store.close()


async def test_start_sigkill_and_resume_on_postgresql(procs, tmp_path, pg_url):
    procs.db = pg_url
    cfg = _config(tmp_path, interval_s=0.02, self_kill_at_seq=3, max_orders=6)
    proc = procs.spawn("start", "--strategy", "tm_test", "--symbol", "NEIROETH", "--config", cfg, name="victim")
    assert proc.wait(timeout=20) == -signal.SIGKILL
    store = await open_store(pg_url)
    try:
        (rec,) = await store.list_tasks()
        assert (rec.status, rec.state) == (TaskStatus.RUNNING, State.MANAGING_ORDERS)
        assert json.loads(procs.run("tasks", "list", "--json").stdout)[0]["lease"] == "crashed"
        resumed = procs.run("tasks", "resume", rec.task_id, "--duration", "1")
        assert resumed.returncode == 0, resumed.stdout
        await _assert_consistent(store, procs.venue_dir, rec.task_id, resumed_from="MANAGING_ORDERS")
    finally:
        await store.close()


async def test_tasks_create_records_a_runnable_task_and_refuses_bad_input(procs, tmp_path, db):
    procs.db = db.location
    cfg = _config(tmp_path, interval_s=0.05)
    out = procs.run("tasks", "create", "--strategy", "tm_test", "--symbol", "NEIROETH", "--config", cfg,
                    "--duration", "7.5", "--json")
    assert out.returncode == 0, out.stdout
    made = json.loads(out.stdout)
    assert (made["status"], made["state"], made["lease"], made["duration_s"]) == ("running", "IDLE", "none", 7.5)
    plain = procs.run("tasks", "create", "--strategy", "tm_test", "--symbol", "NEIROETH", "--config", cfg)
    assert plain.returncode == 0 and len(plain.stdout.strip()) == 12, plain.stdout
    for bad in (["--duration", "-1"], ["--symbol", "bad/sym!!"], ["--config", "/nonexistent/cfg.json"], ["--mode", "live"], ["--strategy", "nope"]):
        args = ["tasks", "create", "--strategy", "tm_test", "--symbol", "NEIROETH", *bad]
        res = procs.run(*args)
        assert res.returncode == 2 and res.stdout.startswith("error: ") and res.stdout.count("\n") == 1, res.stdout
    store = await db.open()
    try:
        recs = await store.list_tasks()
        assert sorted(r.task_id for r in recs) == sorted([made["task_id"], plain.stdout.strip()])
        assert {(r.owner_id, r.duration_s) for r in recs} == {(None, 7.5), (None, 0.0)}
    finally:
        await store.close()


async def test_passwords_never_reach_the_output_the_log_or_the_database(procs, tmp_path, pg_url, monkeypatch):
    secret, env_secret = "pw-s3cret-4242", "pgpass-s3cret-777"
    monkeypatch.setenv("PGPASSWORD", env_secret)  # read by the driver; trust auth ignores both
    procs.db = pg_url.replace("//arb@", f"//arb:{secret}@")
    outputs = [procs.run("tasks", "create", "--strategy", "tm_test", "--symbol", "NEIROETH").stdout,
               procs.run("tasks", "list").stdout]
    worker = procs.spawn("worker", "--max-tasks", "1", name="worker")
    store = await open_store(pg_url)
    try:
        await wait_until(lambda: _has_intents(store), timeout_s=30)
    finally:
        await store.close()
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    outputs.append(procs.output(worker))
    procs.db = procs.db.rsplit("/", 1)[0] + "/nosuchdb"
    refused = procs.run("tasks", "list")
    assert refused.returncode == 2 and "arb@127.0.0.1" in refused.stdout
    outputs.append(refused.stdout)
    logs = [p.read_text() for p in (tmp_path / "home").glob("*.log")]
    assert logs and any("serving postgresql://arb@127.0.0.1" in o for o in outputs)
    conn = await asyncpg.connect(pg_url)
    try:
        rows = []
        for table in ("tasks", "transitions", "order_intents", "fills", "task_live", "control"):
            rows += [str(tuple(r)) for r in await conn.fetch(f"SELECT * FROM {table}")]
        dump = " ".join(rows)
    finally:
        await conn.close()
    assert "NEIROETHUSDT" in dump
    for text in [*outputs, *logs, dump]:
        assert secret not in text and env_secret not in text


async def _has_intents(store) -> bool:
    tasks = await store.list_tasks()
    return bool(tasks) and len(await store.intents(tasks[0].task_id)) >= 2


def test_a_postgresql_url_without_the_driver_is_one_line_and_exit_2(tmp_path):
    code = ("import sys; sys.modules['asyncpg'] = None; from taskmanager.cli import main; "
            "sys.exit(main(sys.argv[1:]))")
    out = subprocess.run([sys.executable, "-c", code, "tasks", "list", "--db", "postgresql://arb:pw@127.0.0.1:9/x"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env={"PATH": "/usr/bin:/bin", "ARB_HOME": str(tmp_path), "PYTHONPATH": str(ROOT)})
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert 'pip install -e ".[postgres]"' in out.stderr and ":pw@" not in out.stderr
