"""Dashboard frames rendered at fixed widths: every task's id, mode, status, state and net PnL whole, no line
wider than the terminal, the layout chosen by width, connection states, SYNCING's wait reason, finished tasks
without live-looking figures, and the one-task detail view."""

from __future__ import annotations

import io
import json
import os
from decimal import Decimal

import pytest
from rich.console import Console

from state.records import FillRecord, State, TaskRecord, TaskStatus, TransitionRecord
from taskmanager.dash_detail import render_detail, sparkline
from taskmanager.dash_table import Health, format_age_ms, format_duration_s, task_view
from taskmanager.dashboard import gather, render, render_text

NOW = 1_767_225_600_000
KW = dict(host="h", alive=lambda pid: True)


def _rec(task_id: str, **kw) -> TaskRecord:
    base = dict(task_id=task_id, strategy="delta_neutral", symbol="NEIROETHUSDT", mode="sim",
                status=TaskStatus.RUNNING, state=State.MONITORING, state_entered_ms=NOW - 75_000, owner_id="o",
                owner_pid=os.getpid(), owner_host="h", heartbeat_ms=NOW - 500,
                pnl=json.dumps({"realized_pnl_usdt": "1.23456", "unrealized_pnl_usdt": "-0.5", "fees_usdt": "0.1",
                                "funding_usdt": "0.02", "net_delta_base": "0"}))
    base.update(kw)
    return TaskRecord(**base)


def _live(**kw) -> dict:
    base = {
        "status": "running", "state": "MONITORING", "updated_ms": NOW - 200, "state_entered_ms": NOW - 4000,
        "spreads_bps": {"sell_gate_spot_buy_mexc_spot_bps": "12.5", "sell_mexc_spot_buy_gate_spot_bps": "-20.25"},
        "inventory_base": {"gate_spot": "2000", "mexc_spot": "1950"},
        "inventory_pct": {"gate_spot": "99.5", "mexc_spot": "97.0"}, "inventory_floor_pct": "30.0",
        "low_inventory": [], "perp_base": "-3950", "net_delta_base": "0", "delta_tolerance_base": "10",
        "open_orders": [{"id": "arbX1", "venue": "gate_spot", "side": "sell", "qty": "5", "price": "0.05",
                         "status": "open", "leg": "arb_sell"}],
        "book_age_ms": {"gate_spot": 120, "gate_perp": 80, "mexc_spot": 300},
        "connection": {v: {"state": "up", "detail": ""} for v in ("gate_perp", "gate_spot", "mexc_spot")},
        "mids": {"gate_spot": "0.0495", "mexc_spot": "0.04951", "gate_perp": "0.04949"},
        "inventory_target_base": {"gate_spot": "2010", "mexc_spot": "2010"},
        "pnl": {"unrealized_pnl_usdt": "-0.4", "funding_usdt": "0.02"},
        "uptime_s": 65.0, "time_left_s": None, "duration_left_s": 55.0, "waiting_for": "", "last_error": "",
    }
    base.update(kw)
    return base


def _fleet() -> tuple[list[TaskRecord], dict]:
    """Five tasks that between them use the widest values of every column."""
    tasks = [
        _rec("0123456789ab", mode="live"),
        _rec("a1b2c3d4e5f6", mode="paper", state=State.SYNCING),
        _rec("bbbbbbbbbbbb", state=State.MANAGING_ORDERS, symbol="NEIROETHUSDT",
             pnl=json.dumps({"realized_pnl_usdt": "-1234.56789", "fees_usdt": "12.3", "net_delta_base": "-1500.25"})),
        _rec("cccccccccccc", status=TaskStatus.COMPLETED, state=State.FINALIZING, owner_id=None),
        _rec("dddddddddddd", status=TaskStatus.HALTED, state=State.FINALIZING, owner_id=None,
             last_error="cannot reach mexc_spot: OSError: connection refused"),
    ]
    down = {"gate_spot": {"state": "up", "detail": ""}, "gate_perp": {"state": "connecting", "detail": ""},
            "mexc_spot": {"state": "down", "detail": "OSError: connection refused"}}
    live = {
        "0123456789ab": _live(),
        "a1b2c3d4e5f6": _live(state="SYNCING", connection=down, book_age_ms={"gate_spot": 50},
                              waiting_for="connecting gate_perp, mexc_spot (OSError: connection refused)"),
        "bbbbbbbbbbbb": _live(state="MANAGING_ORDERS", pnl={}, net_delta_base="-1500.25",
                              low_inventory=["mexc_spot"], inventory_pct={"gate_spot": "180.0", "mexc_spot": "20.0"},
                              connection={**_live()["connection"], "gate_perp": {"state": "reconnecting",
                                                                                 "detail": "stream resyncing"}}),
        # a finished task whose last telemetry still looks live: it must not be shown as live
        "cccccccccccc": _live(status="running"),
    }
    return tasks, live


def _net(task_id: str, tasks, live) -> str:
    rec = next(t for t in tasks if t.task_id == task_id)
    return f"{task_view(rec, live.get(task_id, {}), NOW, **KW).net:.4f}"


@pytest.mark.parametrize("width", [80, 120, 200])
def test_frame_fits_width_with_every_essential_whole(width):
    tasks, live = _fleet()
    trs = [TransitionRecord(task_id="0123456789ab", version=9, ts_ms=NOW - 1000, src="ANALYZING",
                            dst="MANAGING_ORDERS", trigger="trade", reason="edge 21.3 bps gate_spot>mexc_spot " * 5)]
    text = render_text(render(tasks, live, trs, NOW, width=width, **KW), width=width)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width
    for rec in tasks:
        row = next(line for line in lines if line.startswith(rec.task_id))  # the id starts its row, whole
        assert rec.task_id in row
        for word in (rec.status.value, rec.state.value, "LIVE" if rec.mode == "live" else rec.mode):
            assert word in text, (rec.task_id, word)
        assert _net(rec.task_id, tasks, live) in text, rec.task_id
    assert "-1246.8679" in text  # realized - fees, 4 decimals
    assert "ANALYZING -> MANAGING_ORDERS (trade)" in text


def test_layout_grows_with_width():
    tasks, live = _fleet()
    usual = [t for t in tasks if t.task_id != "bbbbbbbbbbbb"]
    at80 = render_text(render(usual, live, [], NOW, width=80, **KW), width=80)
    at120 = render_text(render(tasks, live, [], NOW, width=120, **KW), width=120)
    at200 = render_text(render(tasks, live, [], NOW, width=200, **KW), width=200)
    assert "books" in at80 and "spread bps" not in at80 and "inventory" not in at80 and "NEIROETH" in at80
    assert "0123456789ab NEIROETH LIVE" in at80 and "300ms" in at80  # worst book age of the live task
    extreme = render_text(render(tasks, live, [], NOW, width=80, **KW), width=80)
    assert "books" in extreme and "NEIROETH" not in extreme  # the symbol gives way first
    for word in ("inventory", "spread bps", "venues", "gs>ms 12.5", "ms>gs -20.2", "gs 99.5%", "perp -3950",
                 "fee 0.1000", "fnd 0.0200", "up 1m05s", "left 55s", "gp up 80ms"):
        assert word in at120, word
    assert "realized" in at200 and "unrealized" in at200 and "open" in at200 and "in state" in at200


def test_connection_states_and_health_marks():
    tasks, live = _fleet()
    text = render_text(render(tasks, live, [], NOW, width=80, **KW), width=80)
    paper = next(line for line in text.splitlines() if line.startswith("a1b2c3d4e5f6"))
    assert "conn" in paper or "down" in paper
    assert paper.rstrip().endswith(Health.BAD.value)
    assert "a1b2c3d4e5f6 mexc_spot down (OSError: connection refused)" in text
    assert "a1b2c3d4e5f6 waiting for connecting gate_perp, mexc_spot" in text
    busy = next(line for line in text.splitlines() if line.startswith("bbbbbbbbbbbb"))
    assert "gp recon" in busy and busy.rstrip().endswith(Health.WARN.value)
    assert "bbbbbbbbbbbb gate_perp reconnecting" in text
    assert "bbbbbbbbbbbb low inventory: mexc_spot 20.0% (floor 30.0%)" in text
    assert "bbbbbbbbbbbb delta -1500.25 beyond tolerance 10" in text
    wide = render_text(render(tasks, live, [], NOW, width=120, **KW), width=120)
    assert "ms 20.0%!" in wide and "ms down" in wide and "gp reconnecting" in wide
    # the paper task's spreads rest on a book that is down: no frozen value
    paper_rows = wide.split("a1b2c3d4e5f6", 1)[1].split("bbbbbbbbbbbb", 1)[0]
    assert "gs>ms -" in paper_rows and "12.5" not in paper_rows and "gs>ms 12.5" in wide
    assert next(line for line in text.splitlines() if line.startswith("0123456789ab")).rstrip().endswith("✓")


def test_finished_task_shows_no_live_figures():
    tasks, live = _fleet()
    done = tasks[3]
    for width in (80, 120, 200):
        text = render_text(render([done], live, [], NOW, width=width, **KW), width=width)
        row = next(line for line in text.splitlines() if line.startswith(done.task_id))
        assert "completed" in row and "running" not in row
        assert "gs>ms" not in text and "ms" not in row.replace("FINALIZING", "") and "up 1m" not in text
    view = task_view(done, live["cccccccccccc"], NOW, **KW)
    assert not view.live and view.spreads == {} and view.conns == {} and view.health is Health.IDLE
    assert view.pnl["unrealized_pnl_usdt"] == "-0.5"  # the stored figure, not the last live mark (-0.4)


def test_stale_telemetry_and_dead_owner_are_not_live():
    rec = _rec("0123456789ab")
    old = task_view(rec, _live(updated_ms=NOW - 60_000), NOW, **KW)
    assert not old.live and old.spreads == {}
    crashed = task_view(rec, _live(), NOW, host="h", alive=lambda pid: False)
    assert not crashed.live and crashed.health is Health.BAD
    assert "owner crashed" in crashed.notes[0] and "tasks resume 0123456789ab" in crashed.notes[0]


def test_halted_task_names_its_reason_and_live_badge_is_red():
    tasks, live = _fleet()
    text = render_text(render(tasks, live, [], NOW, width=80, **KW), width=80)
    assert "dddddddddddd halted: cannot reach mexc_spot: OSError: connection refused" in text
    console = Console(width=120, record=True, force_terminal=True, color_system="truecolor", file=io.StringIO())
    console.print(render(tasks[:1], live, [], NOW, width=120, **KW))
    styled = console.export_text(styles=True)
    assert "LIVE" in styled and ";41m" in styled  # bold white on a red background


def test_title_sums_net_pnl_per_mode_in_cents():
    tasks, live = _fleet()
    text = render_text(render(tasks, live, [], NOW, width=120, **KW), width=120)
    title = text.splitlines()[0]
    assert title.startswith("arb-runner  5 tasks, 3 running")
    assert "LIVE 0.75" in title and "paper 0.75" in title  # 1.23456 - 0.4 - 0.1 + 0.02 = 0.75456


def test_footer_omits_analyze_monitor_churn_and_empty_frame():
    trs = [TransitionRecord(task_id="0123456789ab", version=i, ts_ms=NOW - 100 + i, src=s, dst=d, trigger=t)
           for i, (s, d, t) in enumerate([("ANALYZING", "MANAGING_ORDERS", "trade")]
                                         + [("MONITORING", "ANALYZING", "signal"), ("ANALYZING", "MONITORING", "idle")] * 5)]
    text = render_text(render([_rec("0123456789ab")], {}, trs, NOW, width=120, **KW), width=120)
    assert "(trade)" in text and "(signal)" not in text and "10 recent ANALYZING<->MONITORING cycles" in text
    empty = render_text(render([], {}, [], NOW, width=80), width=80)
    assert "no tasks" in empty and "(none yet)" in empty


def test_render_is_deterministic():
    tasks, live = _fleet()
    assert render_text(render(tasks, live, [], NOW, width=120, **KW)) == render_text(
        render(tasks, live, [], NOW, width=120, **KW))


def test_formatting_helpers():
    assert [format_duration_s(s) for s in (-3, 5, 75, 3700)] == ["0s", "5s", "1m15s", "1h01m"]
    assert [format_age_ms(v) for v in (None, 84, 1234, 45_000)] == ["-", "84ms", "1.2s", "45s"]
    assert sparkline([], 10) == "" and sparkline([1, 1, 1], 10) == "▄▄▄"
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7], 8) == "▁▂▃▄▅▆▇█"
    assert len(sparkline(list(range(1000)), 20)) == 20 and sparkline(list(range(1000)), 20)[-1] == "█"


@pytest.mark.parametrize("width", [80, 120])
def test_detail_view(width):
    rec = _rec("0123456789ab", mode="live")
    history = [(NOW - 60_000 + i * 1000, json.dumps({
        "net_pnl_usdt": str(Decimal("0.1") * i), "spreads_bps": {"sell_gate_spot_buy_mexc_spot_bps": str(i - 30)},
        "entry_spread_bps": {"sell_gate_spot_buy_mexc_spot_bps": "25.03"}})) for i in range(60)]
    fills = [FillRecord(task_id="0123456789ab", venue="gate_spot", trade_id=f"t{i}", client_order_id=f"arb0123456789ab{i:06d}",
                        side="buy", price=Decimal("0.0495"), qty=Decimal("505"), qty_base=Decimal("505"),
                        fee=Decimal("0.505"), fee_asset="NEIROETH", ts_ms=NOW - 5000 + i) for i in range(12)]
    trs = [TransitionRecord(task_id="0123456789ab", version=i, ts_ms=NOW - 3000 + i, src="ANALYZING",
                            dst="MANAGING_ORDERS", trigger="trade", reason=f"edge {i} bps") for i in range(3)]
    text = render_text(render_detail(rec, _live(), fills=fills, transitions=trs, history=history, now_ms=NOW,
                                     width=width, **KW), width=width)
    assert max(len(line) for line in text.splitlines()) <= width
    for word in ("task 0123456789ab", "LIVE", "running", "MONITORING", "net PnL 0.7546", "legs", "gate_spot",
                 "mexc_spot", "gate_perp", "perp -3950", "99.5%", "open orders (1)", "arbX1", "last fills (10 of 12)",
                 "arb0123456789ab000011", "last transitions", "edge 2 bps", "delta 0 base (tolerance 10)",
                 "entry 25.03", "last 5.9000 USDT"):
        assert word in text, word
    assert "▁" in text and "█" in text  # the sparklines


async def test_gather_reads_store(store):
    await store.create_task(_rec("0123456789ab", owner_id=None))
    await store.put_live("0123456789ab", json.dumps(_live()))
    await store.journal("0123456789ab", "note", "hello")
    tasks, live, transitions = await gather(store)
    assert [t.task_id for t in tasks] == ["0123456789ab"]
    assert live["0123456789ab"]["perp_base"] == "-3950"
    assert transitions[-1].reason == "hello"
