"""Hedgeable or refused at ``start``: the strategy's check (fake venues) and the CLI's exit 2 with
one line naming the smallest position_usdt that works, nothing created."""

from __future__ import annotations

from decimal import Decimal as D

from exchanges.venue import OutcomeUnknown
from strategies.delta_neutral import hedgeable
from strategies.delta_neutral.task import DeltaNeutralTask
from taskmanager.cli import main

from .conftest import GP, set_books, test_config


async def test_start_refusal_asks_the_perp_for_multiplier_and_price(fakes):
    set_books(fakes)  # perp mid 0.05, 10 NEIROETH per contract: 0.5 USDT a contract
    line = await DeltaNeutralTask.start_refusal(test_config(position_usdt=D(2)), fakes)
    assert line is not None and line.endswith("the smallest position_usdt that works is 5")
    assert "one NEIROETH_USDT contract is 10 NEIROETH = 0.5000 USDT" in line
    assert fakes[GP].calls["close"] == 1 and not fakes[GP].started  # nothing left open
    assert await DeltaNeutralTask.start_refusal(test_config(position_usdt=D(5)), fakes) is None


async def test_a_perp_that_cannot_be_asked_is_left_to_syncing(fakes):
    set_books(fakes)
    fakes[GP].fail_next("symbol_info", OutcomeUnknown("timeout"))
    assert await hedgeable.start_refusal(test_config(position_usdt=D(2)), fakes) is None


def test_cli_start_refuses_an_unhedgeable_position_and_creates_nothing(tmp_path, fakes, capsys):
    set_books(fakes)
    cfg = tmp_path / "tiny.toml"
    cfg.write_text('position_usdt = "2"\nmax_order_usdt = "1"\n')
    db = tmp_path / "sub" / "t.sqlite"
    db.parent.mkdir()

    def factory(mode, symbol, home, *, live_confirmed):
        return fakes

    rc = main(["start", "--symbol", "NEIROETH", "--config", str(cfg), "--no-dashboard", "--db", str(db)],
              venue_factory=factory)
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if x.strip()]
    assert rc == 2 and len(lines) == 1, err
    assert lines[0].startswith("error: position_usdt: 2 cannot be hedged in whole perp contracts")
    assert "smallest position_usdt that works is 5" in lines[0] and "Traceback" not in err
    assert not db.exists() and not list(db.parent.glob("t.sqlite-*"))  # no database, no task
