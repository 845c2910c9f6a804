"""Dashboard rendering is a pure function of store data; logging redacts secrets and writes <db>.log."""

from __future__ import annotations

import io
import json
import logging
import os
import stat

from rich.console import Console

from state.records import State, TaskRecord, TaskStatus, TransitionRecord
from taskmanager import logsetup
from taskmanager.dashboard import STATE_STYLES, format_duration_s, gather, render, render_text, task_row
from taskmanager.views import lease_state, task_summary

NOW = 1_767_225_600_000


def _rec(**kw) -> TaskRecord:
    base = dict(task_id="0123456789ab", strategy="delta_neutral", symbol="NEIROETHUSDT", status=TaskStatus.RUNNING,
                state=State.MONITORING, state_entered_ms=NOW - 75_000, owner_id="o", owner_pid=os.getpid(),
                owner_host="h", heartbeat_ms=NOW - 500,
                pnl=json.dumps({"realized_pnl_usdt": "1.2345", "fees_usdt": "0.1", "net_delta_base": "0"}))
    base.update(kw)
    return TaskRecord(**base)


LIVE = {
    "spreads_bps": {"gate_spot>mexc_spot": "12.5", "mexc_spot>gate_spot": "-20.25"},
    "inventory_base": {"gate_spot": "1000", "mexc_spot": "950"},
    "perp_position_base": "-1950",
    "net_delta_base": "0",
    "open_orders": 2,
    "book_age_ms": {"gate_spot": 120, "gate_perp": 80, "mexc_spot": 300},
    "pnl": {"unrealized_pnl_usdt": "-0.5", "funding_usdt": "0.02"},
    "last_error": "",
}


def test_frame_contains_every_column_value():
    tr = TransitionRecord(task_id="0123456789ab", version=4, ts_ms=NOW - 1000, src="ANALYZING", dst="MANAGING_ORDERS",
                          trigger="trade", reason="edge 21 bps")
    text = render_text(render([_rec()], {"0123456789ab": LIVE}, [tr], NOW, host="h", alive=lambda pid: True),
                       width=250)
    for expected in ("0123456789ab", "NEIROETHUSDT", "running", "MONITORING", "1m15s", "gs>ms 12.5",
                     "ms>gs -20.2", "gs 1,000.00", "ms 950.00", "-1,950.00", "1.2345", "-0.5000", "0.1000",
                     "0.0200", "gp 80ms", "ANALYZING -> MANAGING_ORDERS (trade) - edge 21 bps"):
        assert expected in text, expected
    assert "(stale)" not in text and "(crashed)" not in text


def test_state_is_coloured_and_dead_owner_flagged():
    cells = task_row(_rec(state=State.WAITING_ORDERS), {}, NOW, host="h", alive=lambda pid: False)
    assert cells[3].style == STATE_STYLES["WAITING_ORDERS"]
    assert "(crashed)" in cells[2].plain
    stale = task_row(_rec(owner_host="elsewhere", heartbeat_ms=NOW - 60_000), {}, NOW, host="h")
    assert "(stale)" in stale[2].plain


def test_empty_and_missing_telemetry_render_placeholders():
    text = render_text(render([], {}, [], NOW), width=200)
    assert "no tasks" in text and "(none yet)" in text
    text = render_text(render([_rec(pnl="{}")], {}, [], NOW, host="h", alive=lambda pid: True), width=250)
    assert "0123456789ab" in text and " - " in text


def test_render_is_deterministic_for_the_same_data():
    args = ([_rec()], {"0123456789ab": LIVE}, [], NOW)
    kw = dict(host="h", alive=lambda pid: True)
    assert render_text(render(*args, **kw)) == render_text(render(*args, **kw))
    # and renders on a real coloured console without error
    console = Console(width=200, record=True, force_terminal=True, color_system="truecolor", file=io.StringIO())
    console.print(render(*args, **kw))
    assert "\x1b[" in console.export_text(styles=True)


def test_strategy_key_spellings_understood():
    live = {"spreads_bps": {"sell_gate_spot_buy_mexc_spot_bps": "3.25"}, "perp_base": "-40",
            "open_orders": [{"id": "a"}, {"id": "b"}]}
    cells = task_row(_rec(), live, NOW, host="h", alive=lambda pid: True)
    assert cells[5] == "gs>ms 3.2" and cells[7] == "-40.00" and cells[13] == "2"


def test_footer_omits_analyze_monitor_churn():
    trs = [TransitionRecord(task_id="0123456789ab", version=i, ts_ms=NOW - 100 + i, src=s, dst=d, trigger=t)
           for i, (s, d, t) in enumerate([("ANALYZING", "MANAGING_ORDERS", "trade")]
                                         + [("MONITORING", "ANALYZING", "signal"), ("ANALYZING", "MONITORING", "idle")] * 5)]
    text = render_text(render([_rec()], {}, trs, NOW, host="h", alive=lambda pid: True), width=250)
    assert "(trade)" in text and "(signal)" not in text and "10 recent ANALYZING<->MONITORING cycles" in text


def test_format_duration():
    assert [format_duration_s(s) for s in (-3, 5, 75, 3700)] == ["0s", "5s", "1m15s", "1h01m"]


def test_lease_states_and_summary():
    rec = _rec()
    assert lease_state(rec, NOW, host="h", alive=lambda pid: True) == "live"
    assert lease_state(rec, NOW, host="h", alive=lambda pid: False) == "crashed"
    assert lease_state(rec, NOW + 10_000, host="other", alive=lambda pid: True) == "stale"
    assert lease_state(_rec(owner_id=None), NOW) == "none"
    summary = task_summary(rec, NOW, host="h", alive=lambda pid: True)
    assert summary["realized_pnl_usdt"] == "1.2345" and summary["funding_usdt"] == "0"
    assert summary["created_at"].endswith("+00:00")


async def test_gather_reads_store(store):
    await store.create_task(_rec(owner_id=None))
    await store.put_live("0123456789ab", json.dumps(LIVE))
    await store.journal("0123456789ab", "note", "hello")
    tasks, live, transitions = await gather(store)
    assert [t.task_id for t in tasks] == ["0123456789ab"]
    assert live["0123456789ab"]["perp_position_base"] == "-1950"
    assert transitions[-1].reason == "hello"


def test_log_file_beside_db_and_secrets_redacted(tmp_path, monkeypatch, capsys):
    secret = "SECRETzq9Xw7Kp4LmN2vB8"
    monkeypatch.setenv("GATE_API_SECRET", secret)
    monkeypatch.setenv("MEXC_API_KEY", "mexckey-abcdef")
    db = tmp_path / "arb.sqlite"
    path = logsetup.setup_logging(db, console="plain")
    assert path == tmp_path / "arb.sqlite.log"
    log = logging.getLogger("taskmanager.test")
    log.info("connecting with key %s and secret %s", "mexckey-abcdef", secret)
    try:
        raise ValueError(f"signature {secret} rejected")
    except ValueError:
        log.exception("request failed")
    logsetup.reset_logging()
    text = path.read_text()
    assert "connecting with key *** and secret ***" in text and "ValueError: signature *** rejected" in text
    assert secret not in text and "mexckey-abcdef" not in text
    assert secret not in capsys.readouterr().err
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_redact_ignores_short_values():
    assert logsetup.secret_values({"A_KEY": "ab", "X_SECRET": "longvalue", "PATH": "/bin"}) == ["longvalue"]
    assert logsetup.redact("a longvalue b", ["longvalue"]) == "a *** b"
