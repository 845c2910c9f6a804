"""Paper mode with no route to the venues: the simulator starts (with fallback rules) but its live
feeds cannot connect, so no book ever arrives. The task ends ``halted`` after ``sync_timeout_s``,
naming the venues and their feed errors, exit 1 (it used to sit in SYNCING and end ``completed``)."""

from __future__ import annotations

import os
from pathlib import Path

from tests.e2e.harness import PROJECT_ROOT, base_env, run_cli, write_config

OFFLINE_SHIM = PROJECT_ROOT / "tests" / "e2e" / "offline"


def test_paper_mode_offline_halts_naming_the_venues(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    config = write_config(tmp_path / "paper.toml", sync_timeout_s=3.0)
    env = base_env(home, PYTHONPATH=os.pathsep.join([str(OFFLINE_SHIM), str(PROJECT_ROOT)]))
    try:
        res = run_cli(home, "start", "--mode", "paper", "--symbol", "NEIROETH", "--config", str(config),
                      "--duration", "60", "--no-dashboard", "--db", str(tmp_path / "p.sqlite"), timeout_s=90,
                      env=env)
        out = res.stdout + res.stderr
        assert res.returncode == 1, out[-1500:]
        assert "halted" in res.stdout and "Traceback" not in out
        assert "no fresh books from gate_spot, mexc_spot, gate_perp within 3 s of syncing" in res.stdout
        paper = [ln for ln in res.stdout.splitlines() if ln.startswith("paper feed:")]
        assert paper and "gate_spot:" in paper[0] and "no network" in paper[0], res.stdout[-1500:]
    finally:
        run_cli(home, "sim", "stop", "--home", str(home), timeout_s=30, env=env)
