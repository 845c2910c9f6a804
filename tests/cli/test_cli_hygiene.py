"""CLI hygiene as a new user meets it: --version and the console script, read-only commands creating
nothing, refused commands leaving nothing behind, quiet pipes, one-line internal errors naming the log file,
NaN/inf and control characters refused, sim options validated, --running, prune, unique id prefixes,
--help with a description and an example and only the options that do something, the summary's net line
and --json, tables in tasks show."""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from exchanges.clock import now_ms
from state.records import State, TaskRecord, TaskStatus
from state.store import Store
from taskmanager import __version__, logsetup
from taskmanager.cli import main
from tests.taskmanager.tm_strategy import fake_venue_factory

ROOT = Path(__file__).resolve().parents[2]


def _run(capsys, *argv: str, factory=fake_venue_factory) -> tuple[int, str, str]:
    rc = main(list(argv), venue_factory=factory)
    out, err = capsys.readouterr()
    return rc, out, err


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def _files(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*")) if directory.exists() else []


def _seed(db: Path, records: list[TaskRecord]) -> None:
    async def go() -> None:
        store = await Store.open(db)
        try:
            for rec in records:
                await store.create_task(rec)
        finally:
            await store.close()

    asyncio.run(go())


def _task(task_id: str, status: TaskStatus = TaskStatus.COMPLETED, **kw) -> TaskRecord:
    state = State.FINALIZING if status.is_terminal else State.MONITORING
    return TaskRecord(task_id=task_id, strategy="tm_test", symbol="NEIROETHUSDT", status=status, state=state, **kw)


@pytest.fixture
def ran(tmp_path, capsys, monkeypatch) -> tuple[str, str]:
    """A completed tm_test task with 3 fills; returns (db, task id)."""
    monkeypatch.setenv("TM_FAKE_VENUE_DIR", str(tmp_path / "venue"))
    cfg = tmp_path / "t.json"
    cfg.write_text(json.dumps({"interval_s": 0.01, "max_orders": 3}))
    db = str(tmp_path / "ran.sqlite")
    rc, out, _ = _run(capsys, "start", "--strategy", "tm_test", "--symbol", "NEIROETH", "--config", str(cfg),
                      "--duration", "0.5", "--db", db, "--no-dashboard")
    assert rc == 0, out
    return db, out.splitlines()[0].split()[1]


def test_version_and_console_script(capsys):
    rc, out, _ = _run(capsys, "--version")
    assert rc == 0 and out.strip() == f"arb-runner {__version__}" and __version__ == importlib.metadata.version(
        "arb-runner")
    scripts = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="console_scripts")}
    assert scripts.get("arb") == "taskmanager.cli:main"


def test_read_only_commands_create_nothing(capsys, tmp_path):
    db = tmp_path / "typo" / "x.sqlite"
    rc, out, err = _run(capsys, "tasks", "list", "--db", str(db))
    assert rc == 0 and f"no database at {db}" in out and not err
    rc, out, _ = _run(capsys, "tasks", "list", "--json", "--db", str(db))
    assert rc == 0 and json.loads(out) == []
    rc, out, _ = _run(capsys, "dashboard", "--once", "--db", str(db))
    assert rc == 0 and "no database" in out
    for argv in (["tasks", "show", "abc"], ["dashboard", "abc", "--once"], ["tasks", "report", "abc"],
                 ["tasks", "resume", "abc"], ["tasks", "stop", "abc"], ["tasks", "prune", "--before", "1"]):
        rc, _, err = _run(capsys, *argv, "--db", str(db))
        assert rc == 2 and "no database at" in _one_error_line(err), argv
    assert _run(capsys, "tasks", "graph")[0] == 0
    assert not (tmp_path / "typo").exists() and _files(tmp_path) == []


def test_read_only_commands_on_an_existing_db_add_no_file(capsys, ran, tmp_path):
    db, task_id = ran
    Path(db + ".log").unlink()
    before = _files(tmp_path)
    for argv in (["tasks", "list"], ["tasks", "list", "--json"], ["tasks", "show", task_id],
                 ["tasks", "show", task_id, "--json"], ["dashboard", "--once"], ["dashboard", task_id, "--once"]):
        assert _run(capsys, *argv, "--db", db)[0] == 0, argv
    assert _files(tmp_path) == before


@pytest.mark.parametrize("argv", [
    ["start", "--symbol", "NEIRO\x1bETH"],
    ["start", "--symbol", "NEIROETH\n"],
    ["start", "--symbol", "NEIROETH", "--strategy", "nope"],
    ["start", "--symbol", "NEIROETH", "--mode", "live"],
    ["start", "--symbol", "NEIROETH", "--duration", "inf"],
    ["start", "--symbol", "NEIROETH", "--duration", "nan"],
])
def test_refused_start_leaves_nothing(capsys, tmp_path, argv):
    rc, _, err = _run(capsys, *argv, "--db", str(tmp_path / "d" / "f.sqlite"), "--no-dashboard")
    assert rc == 2
    line = _one_error_line(err)
    if "\x1b" in argv[2] or "\n" in argv[2]:
        assert "control character" in line
    assert _files(tmp_path) == []


def test_start_refused_by_the_venues_leaves_nothing(capsys, tmp_path):
    def unknown_symbol(mode, symbol, home, *, live_confirmed):
        raise ValueError(f"unknown symbol {symbol.base}: the simulator serves NEIROETH")

    rc, _, err = _run(capsys, "start", "--strategy", "tm_test", "--symbol", "NEIRO_USDT", "--db",
                      str(tmp_path / "f.sqlite"), "--no-dashboard", factory=unknown_symbol)
    assert rc == 2 and "unknown symbol NEIRO" in _one_error_line(err)
    assert _files(tmp_path) == []


@pytest.mark.parametrize("line,field", [("position_usdt = nan", "position_usdt"), ("position_usdt = inf", "position_usdt"),
                                        ("order_timeout_s = inf", "order_timeout_s"),
                                        ("order_timeout_s = nan", "order_timeout_s"),
                                        ("[delta_neutral]\nmax_loss_usdt = -inf", "max_loss_usdt")])
def test_nan_and_infinity_refused_with_the_field_named(capsys, tmp_path, line, field):
    cfg = tmp_path / "c.toml"
    cfg.write_text(line + "\n")
    db = tmp_path / "db" / "cfg.sqlite"
    rc, _, err = _run(capsys, "start", "--symbol", "NEIROETH", "--config", str(cfg), "--db", str(db),
                      "--no-dashboard")
    assert rc == 2 and f"{field}: must be a finite number" in _one_error_line(err)
    assert not db.parent.exists()


@pytest.mark.parametrize("argv", [["sim", "--port-base", "70000"], ["sim", "--port-base", "80"],
                                  ["sim", "--speed", "nan"], ["sim", "--speed", "-1"], ["sim", "--speed", "inf"],
                                  ["record", "--symbol", "NEIROETH", "--out", "x", "--minutes", "0"]])
def test_sim_options_validated(capsys, tmp_path, argv):
    rc, _, err = _run(capsys, *argv, "--home", str(tmp_path)) if argv[0] == "sim" else _run(capsys, *argv)
    assert rc == 2 and "must be" in _one_error_line(err)
    assert _files(tmp_path) == []


def test_pipe_into_head_ends_quietly(tmp_path):
    """Output much larger than the pipe buffer, read by `head -n 1`: exit 0, nothing on stderr (the JSON
    through print(), the tables through rich, whose own broken-pipe handler would exit 1)."""
    db = tmp_path / "many.sqlite"
    _seed(db, [_task(f"{i:012x}", last_error="x" * 300) for i in range(400)]
          + [_task("big000000000", config=json.dumps({"pad": "x" * 100_000}))])
    env = dict(os.environ, ARB_HOME=str(tmp_path / "home"), PYTHONPATH=str(ROOT))
    for argv in (["tasks", "list", "--json"], ["tasks", "list"], ["tasks", "show", "big0"]):
        cmd = " ".join([sys.executable, str(ROOT / "run.py"), *argv, "--db", str(db)]) + " 2>err.txt | head -n 1"
        proc = subprocess.run(["bash", "-o", "pipefail", "-c", cmd + " >/dev/null"], cwd=tmp_path, env=env, timeout=60)
        err = (tmp_path / "err.txt").read_text()
        assert proc.returncode == 0 and err == "", (argv, proc.returncode, err)


def test_internal_error_is_one_line_naming_the_log_file(capsys, ran, monkeypatch):
    db, task_id = ran
    from taskmanager import read_commands

    def boom(args, venue_factory=None):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(read_commands, "cmd_tasks_list", boom)
    logsetup.reset_logging()  # as in a fresh process: the fixture's start left its handlers installed
    rc, out, err = _run(capsys, "tasks", "list", "--db", db)
    line = _one_error_line(err)
    assert rc == 1 and line == f"error: internal error: RuntimeError: kaboom (traceback in {db}.log)"
    log_text = Path(db + ".log").read_text()
    assert "Traceback" in log_text and "RuntimeError: kaboom" in log_text


def test_list_running_and_full_ids_at_80_columns(capsys, tmp_path):
    db = tmp_path / "l.sqlite"
    _seed(db, [_task("a00000000001"), _task("b00000000002", TaskStatus.RUNNING, owner_id=None),
               _task("c00000000003", TaskStatus.HALTED)])
    rc, out, _ = _run(capsys, "tasks", "list", "--running", "--json", "--db", str(db))
    assert rc == 0 and [r["task_id"] for r in json.loads(out)] == ["b00000000002"]
    rows = json.loads(_run(capsys, "tasks", "list", "--json", "--db", str(db))[1])
    assert all("net_pnl_usdt" in r for r in rows)
    from taskmanager.dashboard import render_text
    from taskmanager.read_commands import _list_table
    from taskmanager.views import task_summary

    summaries = [task_summary(r, now_ms()) for r in (_task("a00000000001"), _task("c00000000003", TaskStatus.HALTED))]
    text = render_text(_list_table(summaries, 80), width=80)
    assert "a00000000001" in text and "c00000000003" in text and "halted" in text and "net PnL" in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_prune_deletes_old_finished_tasks_only(capsys, tmp_path):
    db = tmp_path / "p.sqlite"
    old = now_ms() - 40 * 86_400_000
    _seed(db, [_task("a00000000001"), _task("b00000000002", TaskStatus.RUNNING), _task("c00000000003")])
    import sqlite3

    with sqlite3.connect(db) as con:
        con.execute("UPDATE tasks SET updated_ms=? WHERE task_id IN ('a00000000001', 'b00000000002')", (old,))
        con.execute("INSERT INTO task_history (task_id, ts_ms, data) VALUES ('a00000000001', 1, '{}')")
        con.execute("INSERT INTO transitions (task_id, version, ts_ms, src, dst, trigger) "
                    "VALUES ('a00000000001', 1, 1, 'IDLE', 'SYNCING', 'start')")
    rc, out, _ = _run(capsys, "tasks", "prune", "--before", "30", "--dry-run", "--db", str(db))
    assert rc == 0 and "would delete task a00000000001" in out and "b00000000002" not in out
    rc, out, _ = _run(capsys, "tasks", "prune", "--before", "30", "--db", str(db))
    assert rc == 0 and "deleted 1 finished task(s)" in out
    with sqlite3.connect(db) as con:
        assert {r[0] for r in con.execute("SELECT task_id FROM tasks")} == {"b00000000002", "c00000000003"}
        for table in ("task_history", "transitions"):
            assert con.execute(f"SELECT count(*) FROM {table} WHERE task_id='a00000000001'").fetchone()[0] == 0
    rc, _, err = _run(capsys, "tasks", "prune", "--before", "-1", "--db", str(db))
    assert rc == 2 and "days" in _one_error_line(err)


def test_unique_prefixes_accepted_and_ambiguous_refused(capsys, ran):
    db, task_id = ran
    for argv in (["tasks", "show", task_id[:4]], ["tasks", "stop", task_id[:5]], ["dashboard", task_id[:3], "--once"]):
        rc, out, _ = _run(capsys, *argv, "--db", db)
        assert rc == 0 and task_id in out, argv
    rc, _, err = _run(capsys, "tasks", "resume", task_id[:4], "--db", db)
    assert rc == 2 and f"task {task_id} is already completed" in _one_error_line(err)
    _seed(Path(db), [_task(task_id[:2] + "0" * 10), _task(task_id[:2] + "1" * 10)])
    rc, _, err = _run(capsys, "tasks", "show", task_id[:2], "--db", db)
    assert rc == 2 and "ambiguous" in _one_error_line(err) and "3 tasks match" in err


@pytest.mark.parametrize("argv", [["start"], ["tasks", "list"], ["tasks", "show"], ["tasks", "resume"],
                                  ["tasks", "stop"], ["tasks", "pause"], ["tasks", "graph"], ["tasks", "report"],
                                  ["tasks", "prune"], ["dashboard"], ["sim"], ["record"], ["tasks"], []])
def test_every_help_has_a_description_and_an_example(capsys, argv):
    rc, out, _ = _run(capsys, *argv, "--help")
    assert rc == 0
    head = out.split("\n\n")
    assert head[0].startswith("usage: ") and len(head[1].strip().splitlines()) == 1  # one-line description
    assert "\nexample:\n  run.py " in out


def test_options_offered_only_where_they_do_something(capsys):
    helps = {" ".join(a): _run(capsys, *a, "--help")[1] for a in (
        ["tasks", "list"], ["tasks", "show"], ["tasks", "graph"], ["dashboard"], ["start"], ["tasks", "resume"])}
    for name in ("tasks list", "tasks show", "tasks graph", "dashboard"):
        assert "--no-dashboard" not in helps[name] and "--log-level" not in helps[name], name
    assert "--db" not in helps["tasks graph"]
    for name in ("start", "tasks resume"):
        assert all(opt in helps[name] for opt in ("--no-dashboard", "--log-level", "--log-json", "--json", "--db"))
    rc, _, err = _run(capsys, "tasks", "list", "--no-dashboard")
    assert rc == 2 and "unrecognized arguments: --no-dashboard" in _one_error_line(err)


def test_summary_ends_with_the_net_line_and_has_a_json_form(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("TM_FAKE_VENUE_DIR", str(tmp_path / "venue"))
    cfg = tmp_path / "t.json"
    cfg.write_text(json.dumps({"interval_s": 0.01, "max_orders": 2}))
    db = str(tmp_path / "s.sqlite")
    args = ["start", "--strategy", "tm_test", "--symbol", "NEIROETH", "--config", str(cfg), "--duration", "0.3",
            "--db", db, "--no-dashboard"]
    rc, out, _ = _run(capsys, *args)
    lines = out.strip().splitlines()
    assert rc == 0 and lines[-1] == "net PnL 0.0000 USDT (realized + unrealized - fees + funding)"
    import re

    trades = next(re.fullmatch(r"  trades (\d+)  volume (\d+\.\d{4}) USDT", line) for line in lines
                  if line.startswith("  trades"))
    assert trades and Decimal(trades[2]) == Decimal("0.5") * int(trades[1])  # 4 decimals (tm_test: 0.5 a fill)
    rc, out, err = _run(capsys, *args, "--json")
    summary = json.loads(out)  # stdout is exactly one JSON object
    assert rc == 0 and summary["status"] == "completed" and summary["exit_status"] == 0
    assert summary["net_pnl_usdt"] == "0" and int(summary["trades"]) >= 1 and "started" in err


def test_show_prints_tables_and_json_is_unchanged(capsys, ran):
    db, task_id = ran
    rc, out, _ = _run(capsys, "tasks", "show", task_id, "--db", db)
    assert rc == 0
    for header in ("order intents (3)", "client order id", "fills (3)", "transitions (", "net PnL 0.0000 USDT"):
        assert header in out, header
    assert f"arb{task_id}000001 gate_spot" in " ".join(out.split())
    rc, out, _ = _run(capsys, "tasks", "show", task_id, "--json", "--db", db)
    d = json.loads(out)
    assert {"order_intents", "fills", "transitions", "pnl", "config", "net_pnl_usdt"} <= set(d)
