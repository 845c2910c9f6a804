"""The CLI contract: bad input -> one line + exit 2 (never a traceback), JSON shapes of
``tasks list/show``, the FSM graph, the DB file mode, ``dashboard --once`` and ``--db``/``ARB_DB``."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from state.store import SCHEMA_VERSION
from taskmanager.cli import main
from tests.taskmanager.tm_strategy import fake_venue_factory

ROOT = Path(__file__).resolve().parents[2]
STATES = ("IDLE", "SYNCING", "ANALYZING", "REBALANCING", "MANAGING_ORDERS", "WAITING_ORDERS", "MONITORING",
          "COMPLETING", "FINALIZING")


def _run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv), venue_factory=fake_venue_factory)
    out, err = capsys.readouterr()
    return rc, out, err


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err
    return lines[0]


@pytest.fixture
def db(tmp_path) -> str:
    return str(tmp_path / "cli.sqlite")


@pytest.fixture
def ran_task(tmp_path, db, capsys, monkeypatch) -> str:
    """A completed tm_test task (a few fills) in ``db``; returns its id."""
    monkeypatch.setenv("TM_FAKE_VENUE_DIR", str(tmp_path / "venue"))
    cfg = tmp_path / "t.json"
    cfg.write_text(json.dumps({"interval_s": 0.01, "max_orders": 3}))
    rc, out, _ = _run_cli(capsys, "start", "--strategy", "tm_test", "--symbol", "NEIROETH", "--config", str(cfg),
                          "--duration", "1.5", "--db", db, "--no-dashboard")
    assert rc == 0, out
    first = out.splitlines()[0]
    assert first.startswith("task ") and " started" in first
    return first.split()[1]


@pytest.mark.parametrize("argv", [
    ["frobnicate"],
    ["tasks"],
    ["tasks", "frob"],
    ["start"],
    ["start", "--symbol", "bad/sym!!"],
    ["start", "--symbol", "NEIROETH", "--duration", "-5"],
    ["start", "--symbol", "NEIROETH", "--duration", "abc"],
    ["start", "--symbol", "NEIROETH", "--mode", "moon"],
    ["start", "--symbol", "NEIROETH", "--mode", "live"],
    ["start", "--symbol", "NEIROETH", "--strategy", "nope"],
    ["start", "--strategy", "tm_test", "--symbol", "NEIROETH", "--config", "/nonexistent/cfg.json"],
    ["tasks", "show", "no-such-task"],
    ["tasks", "resume", "no-such-task"],
    ["tasks", "stop", "no-such-task"],
    ["tasks", "pause", "no-such-task"],
    ["tasks", "resume", "abc", "--duration", "-1"],
])
def test_bad_input_one_line_exit_2(capsys, db, argv):
    rc, out, err = _run_cli(capsys, *argv, "--db", db) if argv[0] != "frobnicate" else _run_cli(capsys, *argv)
    assert rc == 2
    _one_error_line(err)


def test_unreadable_config_names_the_file(capsys, db, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    rc, _, err = _run_cli(capsys, "start", "--strategy", "tm_test", "--symbol", "NEIROETH", "--config", str(bad),
                          "--db", db)
    assert rc == 2 and "config" in _one_error_line(err)


@pytest.mark.parametrize("kind", ["newer", "corrupt"])
def test_refused_database_exit_2_and_untouched(capsys, tmp_path, kind):
    path = tmp_path / f"{kind}.sqlite"
    if kind == "newer":
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE t (x)")
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 5}")
    else:
        path.write_bytes(b"garbage" * 500)
    before = path.read_bytes()
    for argv in (["tasks", "list", "--json"], ["tasks", "show", "x"], ["dashboard", "--once"]):
        rc, _, err = _run_cli(capsys, *argv, "--db", str(path))
        assert rc == 2
        line = _one_error_line(err)
        assert ("newer" in line) if kind == "newer" else ("not an SQLite database" in line or "not usable" in line)
    assert path.read_bytes() == before


def test_live_without_keys_exit_2(capsys, db, monkeypatch):
    for name in list(os.environ):
        if "KEY" in name or "SECRET" in name:
            monkeypatch.delenv(name)
    rc, _, err = main(["start", "--symbol", "NEIROETH", "--mode", "live", "--live", "--db", db]), *capsys.readouterr()
    assert rc == 2 and "GATE_API_KEY" in _one_error_line(err)


def test_list_json_shape_and_db_mode(capsys, db, ran_task):
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600
    rc, out, _ = _run_cli(capsys, "tasks", "list", "--json", "--db", db)
    assert rc == 0
    rows = json.loads(out)
    assert isinstance(rows, list) and len(rows) == 1
    row = rows[0]
    for key in ("task_id", "strategy", "symbol", "status", "state", "created_at", "updated_at", "owner_pid",
                "realized_pnl_usdt", "fees_usdt", "funding_usdt", "net_delta_base", "unrealized_pnl_usdt", "lease"):
        assert key in row, key
    assert (row["task_id"], row["strategy"], row["status"], row["state"], row["lease"]) == (
        ran_task, "tm_test", "completed", "FINALIZING", "none")


def test_show_json_shape(capsys, db, ran_task):
    rc, out, _ = _run_cli(capsys, "tasks", "show", ran_task, "--json", "--db", db)
    assert rc == 0
    d = json.loads(out)
    for key in ("task_id", "status", "state", "config", "transitions", "order_intents", "fills", "pnl"):
        assert key in d, key
    assert d["config"]["max_orders"] == 3 and d["pnl"]["trades"] == "3"
    assert len(d["order_intents"]) == 3 and len(d["fills"]) == 3
    for intent in d["order_intents"]:
        assert {"client_order_id", "venue", "side", "qty", "price", "status"} <= set(intent)
        assert intent["status"] == "filled" and intent["venue"] == "gate_spot"
    triggers = [t["trigger"] for t in d["transitions"]]
    assert triggers[0] == "start" and "stop" in triggers and triggers[-1] == "finish:completed"


def test_text_outputs_and_summary(capsys, db, ran_task):
    rc, out, _ = _run_cli(capsys, "tasks", "list", "--db", db)
    assert rc == 0 and ran_task in out and "completed" in out
    rc, out, _ = _run_cli(capsys, "tasks", "show", ran_task, "--db", db)
    assert rc == 0 and "order intents (3)" in out and f"arb{ran_task}000001" in out
    rc, out, _ = _run_cli(capsys, "tasks", "stop", ran_task, "--db", db)
    assert rc == 0 and "already completed" in out
    rc, _, err = _run_cli(capsys, "tasks", "resume", ran_task, "--db", db)
    assert rc == 2 and "already completed" in _one_error_line(err)


def test_dashboard_once(capsys, db, ran_task):
    rc, out, _ = _run_cli(capsys, "dashboard", "--once", "--db", db, "--width", "250")
    assert rc == 0
    assert ran_task in out and "completed" in out and "FINALIZING" in out and "last transitions" in out


def test_graph_has_nine_states(capsys):
    rc, out, _ = _run_cli(capsys, "tasks", "graph")
    assert rc == 0 and out.startswith("stateDiagram-v2")
    for state in STATES:
        assert state in out


def test_arb_db_env_is_the_default(capsys, tmp_path, monkeypatch):
    target = tmp_path / "env.sqlite"
    monkeypatch.setenv("ARB_DB", str(target))
    monkeypatch.setenv("TM_FAKE_VENUE_DIR", str(tmp_path / "venue"))
    rc, out, _ = _run_cli(capsys, "tasks", "list", "--json")
    assert rc == 0 and json.loads(out) == [] and not target.exists()  # read-only: nothing created
    cfg = tmp_path / "t.json"
    cfg.write_text(json.dumps({"interval_s": 0.01, "max_orders": 1}))
    rc, out, _ = _run_cli(capsys, "start", "--strategy", "tm_test", "--symbol", "NEIROETH", "--config", str(cfg),
                          "--duration", "0.3", "--no-dashboard")
    assert rc == 0 and target.exists() and (tmp_path / "env.sqlite.log").exists()
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    rc, out, _ = _run_cli(capsys, "tasks", "list", "--json")
    assert rc == 0 and len(json.loads(out)) == 1


def test_real_process_exit_codes_and_no_traceback(tmp_path):
    """run.py itself, as a user runs it: bad input exits 2 with one line; the graph works."""
    env = dict(os.environ, ARB_HOME=str(tmp_path / "home"), PYTHONPATH=str(ROOT))
    db = str(tmp_path / "p.sqlite")
    for argv in (["frobnicate"], ["tasks", "show", "nope", "--db", db],
                 ["start", "--symbol", "NEIROETH", "--duration", "-5", "--db", db, "--no-dashboard"]):
        proc = subprocess.run([sys.executable, "run.py", *argv], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode == 2, argv
        assert "Traceback" not in proc.stderr + proc.stdout
        assert len((proc.stderr + proc.stdout).strip().splitlines()) == 1
    proc = subprocess.run([sys.executable, "run.py", "tasks", "list", "--json", "--db", db], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and json.loads(proc.stdout) == []
