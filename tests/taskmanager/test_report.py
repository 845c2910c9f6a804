"""tasks report: the series built from history samples and fills, a real PNG (and a self-contained HTML page),
the one-line error without matplotlib, and a task without history."""

from __future__ import annotations

import json
import struct
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from state.records import FillRecord, State, TaskRecord, TaskStatus
from taskmanager import report
from taskmanager.cli import main
from tests.taskmanager.tm_strategy import fake_venue_factory

T0 = 1_767_225_600_000
KEY = "sell_gate_spot_buy_mexc_spot_bps"


def _record() -> TaskRecord:
    return TaskRecord(task_id="3f9c2a71d0be", strategy="delta_neutral", symbol="NEIROETHUSDT", mode="sim",
                      status=TaskStatus.COMPLETED, state=State.FINALIZING,
                      pnl=json.dumps({"realized_pnl_usdt": "0.5", "fees_usdt": "0.2", "trades": "2"}))


def _history(n: int = 30) -> list[tuple[int, str]]:
    return [(T0 + i * 1000, json.dumps({
        "net_pnl_usdt": str(Decimal("0.01") * i), "net_delta_base": str(i % 5), "delta_tolerance_base": "10",
        "spreads_bps": {KEY: str(i - 15), "sell_mexc_spot_buy_gate_spot_bps": str(15 - i)},
        "entry_spread_bps": {KEY: "25.03", "sell_mexc_spot_buy_gate_spot_bps": "25.02"},
        "inventory_base": {"gate_spot": str(2000 - i), "mexc_spot": str(2000 + i)},
        "inventory_target_base": {"gate_spot": "2000", "mexc_spot": "2000"}, "inventory_floor_pct": "30.0",
    })) for i in range(n)]


def _fills() -> list[FillRecord]:
    return [FillRecord(task_id="3f9c2a71d0be", venue="gate_spot", trade_id=f"t{i}", client_order_id=f"arbc{i}",
                       side=side, price=Decimal("0.0495"), qty=Decimal(100), qty_base=Decimal(100),
                       fee=Decimal("0.005"), fee_asset="USDT", ts_ms=T0 + 10_500 + i * 3000)
            for i, side in enumerate(("buy", "sell"))]


def test_report_data_series():
    data = report.report_data(_record(), _history(), _fills())
    assert len(data.pnl.values) == 30 and data.pnl.values[-1] == pytest.approx(0.29)
    assert set(data.spreads) == {KEY, "sell_mexc_spot_buy_gate_spot_bps"} and data.spreads[KEY].label == "sell gs / buy ms"
    assert data.entry[KEY].values[0] == pytest.approx(25.03)
    assert data.floor["gate_spot"].values[0] == pytest.approx(600.0)  # 30 % of 2000
    assert data.tolerance.values[0] == 10.0
    assert [(round(v, 2), s) for _, v, s in data.fills] == [(0.10, "buy"), (0.13, "sell")]  # PnL at the fill time
    assert data.summary["net PnL USDT"] == "0.3000" and "net PnL 0.3000 USDT" in data.title
    with pytest.raises(report.NoHistory):
        report.report_data(_record(), [], [])


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", png[16:24])


def test_png_and_html():
    pytest.importorskip("matplotlib")
    data = report.report_data(_record(), _history(), _fills())
    png = report.render_png(data)
    assert _png_size(png) == (1200, 1000)
    page = report.render_html(data, png)
    assert page.startswith("<!doctype html>") and "data:image/png;base64," in page and "arbc1" in page
    assert "<th>net PnL USDT</th><td>0.3000</td>" in page and "http" not in page  # self-contained


def test_cli_report_writes_the_png_beside_the_db(capsys, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.setenv("TM_FAKE_VENUE_DIR", str(tmp_path / "venue"))
    cfg = tmp_path / "t.json"
    cfg.write_text(json.dumps({"interval_s": 0.05, "max_orders": 3}))
    db = tmp_path / "r.sqlite"
    assert main(["start", "--strategy", "tm_test", "--symbol", "NEIROETH", "--config", str(cfg), "--duration", "1.2",
                 "--db", str(db), "--no-dashboard"], venue_factory=fake_venue_factory) == 0
    task_id = capsys.readouterr().out.splitlines()[0].split()[1]
    assert main(["tasks", "report", task_id[:6], "--db", str(db)]) == 0
    out = capsys.readouterr().out.strip()
    path = tmp_path / f"report-{task_id}.png"
    assert out == f"report of task {task_id} written to {path}"
    assert _png_size(path.read_bytes())[0] >= 600
    html = tmp_path / "page.html"
    assert main(["tasks", "report", task_id, "--html", "--out", str(html), "--db", str(db)]) == 0
    assert "data:image/png;base64," in html.read_text()


def test_missing_matplotlib_is_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    rc = main(["tasks", "report", "abc", "--db", str(tmp_path / "x.sqlite")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err == [f"error: {report.INSTALL_HINT}"] and 'pip install -e ".[report]"' in err[0]
    assert not Path(tmp_path / "x.sqlite").exists()
