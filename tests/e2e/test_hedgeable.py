"""``start`` against the simulator refuses a position the perp cannot hedge in whole contracts:
one line naming the smallest position_usdt that works at the contract's multiplier and price,
exit 2, no database and no task."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.harness import SimAdmin, run_cli, write_config


def test_unhedgeable_position_refused_with_the_smallest_that_works(sim: SimAdmin, e2e_home: Path,
                                                                   tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "tiny.toml", position_usdt="3", max_order_usdt="1")
    db = tmp_path / "tiny.sqlite"
    res = run_cli(e2e_home, "start", "--symbol", "NEIROETH", "--config", str(cfg), "--duration", "5",
                  "--no-dashboard", "--db", str(db))
    assert res.returncode == 2, (res.stdout[-500:], res.stderr[-500:])
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stdout + res.stderr, res.stderr
    # one NEIROETH_USDT contract is 10 NEIROETH (scenario README), ~0.495 USDT: 0.1 of 5 USDT
    assert lines[0].startswith("error: position_usdt: 3 cannot be hedged in whole perp contracts"), lines[0]
    assert lines[0].endswith("the smallest position_usdt that works is 5"), lines[0]
    assert not db.exists()
