"""History: what the sampler keeps (at most once a second, only on change, only while running), the bounded
table (thinning the older half), the v1 -> v2 migration, and the manager writing samples and raising alerts
from the snapshots of a real run."""

from __future__ import annotations

import json
import sqlite3

import pytest

from state import history
from state.records import State, TaskRecord, TaskStatus
from state.schema import MIGRATIONS
from state.store import SCHEMA_VERSION, Store
from strategies.alerts import AlertKind
from taskmanager.history import HistorySampler, sample_of
from taskmanager.manager import TaskManager
from tests.taskmanager.tm_strategy import TickerTask, fake_venue_factory


def _snap(status: str = "running", spread: str = "12.5", **kw) -> dict:
    base = {"status": status, "state": "MONITORING", "spreads_bps": {"sell_gate_spot_buy_mexc_spot_bps": spread},
            "mids": {"gate_spot": "0.0495"}, "net_delta_base": "3", "inventory_base": {"gate_spot": "2000"},
            "pnl": {"realized_pnl_usdt": "1.5", "unrealized_pnl_usdt": "-0.25", "fees_usdt": "0.5",
                    "funding_usdt": "0.01", "trades": "4"}, "updated_ms": 1, "open_orders": []}
    base.update(kw)
    return base


def test_sample_carries_the_charted_values_and_net_pnl():
    sample = sample_of(_snap())
    assert sample is not None and sample["net_pnl_usdt"] == "0.76" and sample["trades"] == "4"
    assert sample["spreads_bps"] == {"sell_gate_spot_buy_mexc_spot_bps": "12.5"} and "open_orders" not in sample
    assert sample_of(_snap(status="completed")) is None and sample_of(_snap(status="paused")) is None


def test_sampler_once_a_second_and_only_on_change():
    s = HistorySampler(check_every=3)
    assert s.offer("t", _snap(), 10_000) is not None
    assert s.offer("t", _snap(spread="13"), 10_500) is None  # too soon
    assert s.offer("t", _snap(), 11_000) is None  # a second later, but unchanged
    assert s.offer("t", _snap(updated_ms=99), 12_000) is None  # fields that are not sampled do not count
    row = s.offer("t", _snap(spread="13"), 12_000)
    assert row is not None and row[0] == "t" and row[1] == 12_000 and json.loads(row[2])["spreads_bps"]
    assert s.offer("u", _snap(), 12_000) is not None  # per task
    assert s.take_due_checks() == []
    assert s.offer("t", _snap(spread="14"), 13_000) is not None  # the third kept row of t
    assert s.take_due_checks() == ["t"] and s.take_due_checks() == []
    assert s.offer("t", _snap(status="completed", spread="15"), 14_000) is None


def _db_with_rows(n: int) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", isolation_level=None)
    for script in MIGRATIONS:
        for statement in script.split(";"):
            if statement.strip():
                db.execute(statement)
    db.execute("INSERT INTO tasks (task_id, strategy, symbol, mode, config, status, state, created_ms, updated_ms) "
               "VALUES ('t', 's', 'X', 'sim', '{}', 'running', 'IDLE', 0, 0)")
    history.append(db, [("t", i * 1000, json.dumps({"i": i})) for i in range(n)], [], max_rows=10**9)
    return db


def test_retention_thins_the_older_half_and_keeps_the_ends():
    db = _db_with_rows(100)
    assert history.thin(db, "t", 100) == 0  # at the bound: nothing to do
    history.append(db, [("t", 100_000, "{}")], ["t"], max_rows=100)
    ts = [r[0] for r in db.execute("SELECT ts_ms FROM task_history ORDER BY ts_ms")]
    assert len(ts) == 101 - 24 and ts[0] == 0 and ts[-1] == 100_000
    assert ts[-51:] == [i * 1000 for i in range(50, 101)]  # the newer half untouched, full resolution
    assert all(b - a == 2000 for a, b in zip(ts[:24], ts[1:25]))  # the older half at every second row


async def test_history_table_after_migration_from_v1(tmp_path):
    path = tmp_path / "v1.sqlite"
    with sqlite3.connect(path) as con:  # a database written by the previous version
        for statement in MIGRATIONS[0].split(";"):
            if statement.strip():
                con.execute(statement)
        con.execute("PRAGMA user_version=1")
    store = await Store.open(path)
    try:
        await store.create_task(TaskRecord(task_id="t", strategy="s", symbol="NEIROETHUSDT"))
        await store.append_history([("t", 1000, '{"a":1}')])  # reads: tests/state/test_history_contract.py
        assert await store.history("t") == [(1000, '{"a":1}')]
    finally:
        await store.close()
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


class _Notifier:
    """Collects what the manager would hand to the real notifier."""

    def __init__(self) -> None:
        from taskmanager.notify import NotifyConfig

        self.config = NotifyConfig()
        self.alerts: list = []

    def emit(self, alert) -> bool:
        self.alerts.append(alert)
        return True


@pytest.mark.parametrize("fail", [False, True])
async def test_manager_writes_history_and_raises_alerts(tmp_path, store, monkeypatch, fail):
    monkeypatch.setenv("TM_FAKE_VENUE_DIR", str(tmp_path / "venue"))
    cfg = {"interval_s": 0.5, "max_orders": 4, "fail_in_state": "MONITORING" if fail else ""}
    rec = TaskRecord(task_id="abcdefabcdef", strategy="tm_test", symbol="NEIROETHUSDT", config=json.dumps(cfg),
                     status=TaskStatus.RUNNING, state=State.IDLE)
    await store.create_task(rec)
    notifier = _Notifier()
    manager = TaskManager(store, telemetry_s=0.05, notifier=notifier)  # type: ignore[arg-type]
    await manager.acquire(await store.get_task(rec.task_id))
    task = TickerTask(await store.get_task(rec.task_id), store, fake_venue_factory("sim", None, tmp_path, live_confirmed=False),
                      manager.owner_id)
    manager.add(task, duration_s=None if fail else 2.5)
    task.alert_sink(AlertKind.SINGLE_LEG, "one leg filled", venue="gate_spot")  # the strategy's sink is wired
    await manager.run()
    kinds = [a.kind for a in notifier.alerts]
    assert kinds[0] is AlertKind.SINGLE_LEG and kinds[1] is AlertKind.STARTED
    assert kinds[-1] is (AlertKind.FAILED if fail else AlertKind.COMPLETED) and len(kinds) == 3
    rows = await store.history(rec.task_id)
    if not fail:
        assert 2 <= len(rows) <= 4  # ~2.5 s of running: at most one row a second
        samples = [json.loads(text) for _, text in rows]
        assert all(s.get("inventory_base") for s in samples) and samples[0] != samples[-1]
        assert all(b[0] - a[0] >= 1000 for a, b in zip(rows, rows[1:]))
