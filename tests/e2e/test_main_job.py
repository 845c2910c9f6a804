"""The main job as a user runs it, several runners against one database, and bad input.

The runners of ``background_runs`` (conftest) run concurrently against the session's simulator: the
main job (``start --symbol NEIROETH --duration 20 --no-dashboard``, its own database) and two tasks in
two processes sharing a second database. Every runner has fake venue keys in its environment; the last
test greps every file the session wrote for them.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

from tests.e2e.harness import (
    DELTA_TOL_BASE,
    SECRET,
    RunnerPool,
    SimAdmin,
    delta_of,
    integrity_ok,
    list_tasks,
    run_cli,
    sequence_problems,
    show_task,
    wait_until,
    write_config,
)


def _first_line_task_id(output: str) -> str:
    for line in output.splitlines():
        if line.startswith("task ") and " started" in line:
            return line.split()[1]
    raise AssertionError(f"no 'task <id> started' line in:\n{output[-1500:]}")


def test_processes_share_one_db_and_owned_task_refused(background_runs: dict, e2e_home: Path) -> None:
    jobs = background_runs
    db = jobs["pair_db"]
    owned = jobs["owned"]
    owned_id = wait_until(lambda: "started" in owned.output() and _first_line_task_id(owned.output()), 30,
                          what="owned task started")
    row = wait_until(lambda: next((t for t in list_tasks(e2e_home, db)
                                   if t["task_id"] == owned_id and t["lease"] == "live"), None), 15,
                     what="a live lease on the owned task")
    # a second runner on a task owned by a live process: one line, exit 2, the owner keeps it
    res = run_cli(e2e_home, "tasks", "resume", owned_id, "--duration", "5", "--no-dashboard", "--db", str(db))
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in res.stderr, res.stderr
    after = next(t for t in list_tasks(e2e_home, db) if t["task_id"] == owned_id)
    assert after["owner_pid"] == row["owner_pid"] == owned.pid and after["status"] == "running", after
    # stopped from another process through the database
    res = run_cli(e2e_home, "tasks", "stop", owned_id, "--db", str(db), "--wait", "40")
    assert res.returncode == 0, (res.stdout, res.stderr)
    assert owned.wait(40) == 0, owned.output()[-1500:]

    ids = []
    for runner in jobs["pair"]:
        assert runner.wait(60) == 0, runner.output()[-1500:]
        ids.append(_first_line_task_id(runner.output()))
    assert len({*ids, owned_id}) == 3
    rows = {t["task_id"]: t for t in list_tasks(e2e_home, db)}
    assert set(rows) == {*ids, owned_id}
    assert rows[owned_id]["status"] == "stopped", rows[owned_id]
    for task_id in [*ids, owned_id]:
        if task_id != owned_id:
            assert rows[task_id]["status"] == "completed", rows[task_id]
        assert delta_of(rows[task_id]) <= DELTA_TOL_BASE, rows[task_id]
        show = show_task(e2e_home, db, task_id)
        assert show["fills"], f"task {task_id} never traded"
        assert not sequence_problems(show)
        assert all(i["client_order_id"].startswith("arb" + task_id) for i in show["order_intents"])
    assert integrity_ok(db) == "ok"


def test_main_job_completes_with_summary(background_runs: dict, e2e_home: Path) -> None:
    jobs = background_runs
    main = jobs["main"]
    rc = main.wait(90)
    out = main.output()
    assert rc == 0, out[-2000:]
    assert "Traceback" not in out
    for words in ("trades", "volume", "realized PnL", "unrealized PnL", "fees", "funding", "final net delta"):
        assert words in out, f"summary lacks {words!r}:\n{out[-1500:]}"
    rows = list_tasks(e2e_home, jobs["main_db"])
    assert len(rows) == 1 and rows[0]["status"] == "completed", rows
    assert delta_of(rows[0]) <= DELTA_TOL_BASE, rows[0]
    show = show_task(e2e_home, jobs["main_db"], rows[0]["task_id"])
    assert len(show["fills"]) > 0, "no fills"
    assert int(rows[0]["trades"]) == len(show["fills"])
    assert integrity_ok(jobs["main_db"]) == "ok"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_error_line(res) -> str:
    assert res.returncode == 2, (res.returncode, res.stdout[-500:], res.stderr[-500:])
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    return lines[0]


def test_bad_input_one_line_exit_2_no_side_effects(sim: SimAdmin, e2e_home: Path, tmp_path: Path) -> None:
    db = tmp_path / "bad.sqlite"
    assert run_cli(e2e_home, "tasks", "list", "--db", str(db)).returncode == 0  # read-only: creates nothing
    assert not db.exists()
    start = ["start", "--duration", "5", "--no-dashboard", "--db", str(db)]

    line = _one_error_line(run_cli(e2e_home, *start, "--symbol", "NOSUCHCOIN"))
    assert "NOSUCHCOIN" in line
    neg = write_config(tmp_path / "neg.toml", position_usdt="-5")
    line = _one_error_line(run_cli(e2e_home, *start, "--symbol", "NEIROETH", "--config", str(neg)))
    assert "position_usdt" in line
    neg2 = write_config(tmp_path / "neg2.toml", max_order_usdt="-1")
    line = _one_error_line(run_cli(e2e_home, *start, "--symbol", "NEIROETH", "--config", str(neg2)))
    assert "max_order_usdt" in line
    assert not db.exists() and not (tmp_path / "bad.sqlite.log").exists()  # refused input leaves nothing behind

    newer = tmp_path / "newer.sqlite"
    con = sqlite3.connect(newer)
    con.execute("CREATE TABLE future (x)")
    con.execute("PRAGMA user_version = 999")
    con.commit()
    con.close()
    newer_digest = _digest(newer)
    for args in (["start", "--symbol", "NEIROETH", "--duration", "5", "--no-dashboard"], ["tasks", "list", "--json"]):
        line = _one_error_line(run_cli(e2e_home, *args, "--db", str(newer)))
        assert "newer" in line and "999" in line, line
    assert _digest(newer) == newer_digest


def test_secrets_never_written(background_runs: dict, e2e_home: Path, sim: SimAdmin) -> None:
    """Every runner ran with fake venue keys in its environment: no file of the session holds them."""
    jobs = background_runs
    for runner in [jobs["main"], *jobs["pair"], jobs["live_offline"], jobs["live_offline_duration"]]:
        runner.wait(90)
    for runner in [jobs["main"], *jobs["pair"], jobs["owned"]]:
        assert runner.proc.returncode == 0, runner.output()[-1500:]
    leaked = []
    for path in [*e2e_home.rglob("*"), *jobs["work"].rglob("*")]:
        if path.is_file() and SECRET.encode() in path.read_bytes():
            leaked.append(str(path))
    for runner in [jobs["main"], *jobs["pair"], jobs["owned"], jobs["live_offline"], jobs["live_offline_duration"]]:
        assert runner.out_path.exists()
        if SECRET in runner.output():
            leaked.append(str(runner.out_path))
    assert not leaked, leaked
    assert (jobs["main_db"].parent / (jobs["main_db"].name + ".log")).stat().st_size > 0
    assert json.dumps(show_task(e2e_home, jobs["main_db"], list_tasks(e2e_home, jobs["main_db"])[0]["task_id"])
                      ).find(SECRET) < 0
