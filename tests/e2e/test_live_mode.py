"""Live mode is gated (explicit ``--live`` and keys from the environment) and, with no network, fails
with one readable reason, non-zero, well within 60 s; the keys never reach a file or the console.

"No network" is the ``offline`` sitecustomize shim (tests/e2e/offline): name resolution and connects
to anything but loopback fail in that process, so these tests never touch the real venues.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from tests.e2e.harness import SECRET, base_env, run_cli

KEY_VARS = ("GATE_API_KEY", "GATE_API_SECRET", "GATEIO_API_KEY", "GATEIO_API_SECRET", "GATEIO_SECRET_KEY",
            "GATE_SECRET", "MEXC_API_KEY", "MEXC_API_SECRET", "MEXC_SECRET_KEY", "MEXC_SECRET")


def _no_tasks(db: Path) -> bool:
    if not db.exists():
        return True
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute("SELECT count(*) FROM tasks").fetchone()[0] == 0
    finally:
        con.close()


def _refused(res) -> str:
    assert res.returncode == 2, (res.returncode, res.stdout[-500:], res.stderr[-500:])
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    assert SECRET not in res.stdout + res.stderr
    return lines[0]


def test_live_needs_confirmation_then_keys(tmp_path: Path) -> None:
    home = tmp_path / "home"
    db = tmp_path / "live.sqlite"
    args = ["start", "--symbol", "NEIROETH", "--mode", "live", "--no-dashboard", "--db", str(db)]
    line = _refused(run_cli(home, *args, env=base_env(home)))  # keys present, no --live
    assert "--live" in line
    no_keys = {k: v for k, v in base_env(home, secrets=False).items() if k not in KEY_VARS}
    line = _refused(run_cli(home, *args, "--live", env=no_keys))
    assert "GATE_API_KEY" in line or "MEXC_API_KEY" in line, line
    assert _no_tasks(db)
    assert not (home / "sim").exists(), "a refused live start started the simulator"


def _wait_offline(runner) -> tuple[int, float]:
    """Exit status and seconds since spawn; fails if the runner is still alive 60 s after its spawn."""
    rc = runner.wait(max(1.0, 60 - (time.monotonic() - runner.started_mono)))
    return rc, time.monotonic() - runner.started_mono


def test_live_without_network_halts_with_reason(background_runs: dict) -> None:
    runner = background_runs["live_offline"]
    rc, elapsed_s = _wait_offline(runner)
    out = runner.output()
    assert rc == 1, out[-1500:]
    assert elapsed_s < 60
    assert "Traceback" not in out
    reasons = [line for line in out.splitlines() if line.strip().startswith("reason:")]
    assert reasons and "cannot reach" in reasons[-1] and "api.gateio.ws" in reasons[-1], out[-1500:]
    assert SECRET not in out


def test_live_without_network_with_duration_fails_fast(background_runs: dict) -> None:
    """As an operator would run it: ``--duration`` given; non-zero, < 60 s, no traceback."""
    runner = background_runs["live_offline_duration"]
    rc, elapsed_s = _wait_offline(runner)
    out = runner.output()
    assert rc != 0 and elapsed_s < 60, (rc, elapsed_s, out[-1500:])
    assert "Traceback" not in out and SECRET not in out


def test_live_without_network_with_duration_ends_with_reason(background_runs: dict) -> None:
    runner = background_runs["live_offline_duration"]
    runner.wait(60)
    out = runner.output()
    assert "could not finish stopping" not in out, out[-800:]
    assert any(line.strip().startswith("reason:") and "cannot reach" in line for line in out.splitlines()), out[-800:]


def test_live_runs_leave_no_secret(background_runs: dict) -> None:
    for name in ("live_offline", "live_offline_duration"):
        background_runs[name].wait(60)
    home: Path = background_runs["live_home"]
    files = [p for p in home.rglob("*") if p.is_file()]
    assert any(p.name.endswith(".log") and p.stat().st_size > 0 for p in files), files
    assert any(p.name.endswith(".sqlite") for p in files), files
    leaked = [str(p) for p in files if SECRET.encode() in p.read_bytes()]
    assert not leaked, leaked
    assert os.environ.get("GATE_API_KEY") != SECRET  # the secret lives only in the children's environment
