"""``run.py scan`` as a user meets it: bad input is one line and exit 2 with nothing started or
written; the table fits 120 columns and, with fewer columns, 80; the JSON names every unit."""

from __future__ import annotations

import json
from decimal import Decimal as D

import msgspec
import pytest

from exchanges.discovery.types import EndpointFailure
from exchanges.models import Symbol, VenueId
from exchanges.sim import process
from strategies.scanner.discovery import discover
from strategies.scanner.rank import FIELD_UNITS, ScanParams, build_row, rank_rows
from strategies.scanner.window import WindowFigures
from taskmanager.cli import main
from taskmanager.scan_run import RoundResult
from taskmanager.scan_view import compact, document, render, to_json
from tests.scanner.venue_json import Coin, snapshots_of


@pytest.mark.parametrize("argv", [
    ["--top", "0"], ["--top", "-3"], ["--top", "ten"], ["--min-edge-bps", "-1"], ["--min-edge-bps", "nan"],
    ["--min-edge-bps", "inf"], ["--quote", "BTC"], ["--quote", "USDC"], ["--window-s", "0"], ["--window-s", "-5"],
    ["--window-s", "inf"], ["--window-s", "99999"], ["--mode", "demo"], ["--rounds", "2"], ["--frobnicate"],
    ["--config", "/nonexistent/scan.toml"],
])
def test_bad_input_is_one_line_exit_2_and_starts_nothing(argv, tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    monkeypatch.setenv("ARB_HOME", str(home))
    rc = main(["scan", *argv])
    out, err = capsys.readouterr()
    assert rc == 2 and out == ""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err
    assert not home.exists() and process.sim_status(home) is None


def test_invalid_config_and_endpoints_are_bad_input(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ARB_HOME", str(tmp_path / "home"))
    cfg = tmp_path / "c.toml"
    cfg.write_text("position_usdt = -5\n")
    assert main(["scan", "--config", str(cfg)]) == 2
    assert "position_usdt: must be > 0" in capsys.readouterr().err
    monkeypatch.setenv("ARB_SCAN_ENDPOINTS", '{"gate_rest": 5}')
    assert main(["scan", "--mode", "paper"]) == 2
    assert capsys.readouterr().err.startswith("error: $ARB_SCAN_ENDPOINTS must be a JSON object")
    monkeypatch.setenv("ARB_SCAN_ENDPOINTS", '{"gate_reset": "http://x"}')
    assert main(["scan", "--mode", "paper"]) == 2
    assert "known keys: gate_rest" in capsys.readouterr().err
    assert not (tmp_path / "home").exists()


def test_config_sets_the_threshold_and_the_task_sizes(tmp_path, monkeypatch):
    from argparse import Namespace

    from taskmanager.scan import scan_params

    cfg = tmp_path / "c.toml"
    cfg.write_text("[delta_neutral]\nposition_usdt = 500\nmax_order_usdt = 40\nentry_threshold_bps = 7\n"
                   "gate_spot_fraction = 0.25\n")
    params = scan_params(Namespace(config=str(cfg), min_edge_bps=None))
    assert params == ScanParams(min_edge_bps=D(7), position_usdt=D(500), max_order_usdt=D(40),
                                gate_spot_fraction=D("0.25"))
    assert scan_params(Namespace(config=str(cfg), min_edge_bps=D(3))).min_edge_bps == D(3)


def _result() -> RoundResult:
    coins = [Coin("VERYLONGCOINNAME2024", gs_bid="1.0050", gs_ask="1.0060", volume="123456789012"),
             Coin("AAA", funding_rate="-0.00375", funding_interval=3600), Coin("BBB", ms_status=None),
             Coin("CCC", gp_status="delisted"), Coin("DDD", multiplier="10000")]
    coins += [Coin(f"X{i:03d}") for i in range(30)]
    snaps = snapshots_of(coins)
    snaps[VenueId.MEXC_SPOT].failures.append(EndpointFailure(VenueId.MEXC_SPOT, "/api/v3/ticker/24hr",
                                                             "HTTP 503 SERVER_ERROR: simulated outage"))
    snaps[VenueId.GATE_SPOT].malformed["/spot/tickers"] = 2
    found = discover({v: s.listings for v, s in snaps.items()}, "USDT")
    params = ScanParams()
    rows = []
    for i, sym in enumerate(found.symbols):
        markets = {v: s.markets[sym] for v, s in snaps.items() if sym in s.markets}
        window = WindowFigures(30.0, 0.25 * (i % 4), i % 5, 2.5, D("12.5"), 40 + i) if i % 2 else None
        rows.append(build_row(sym, markets, params, window))
    failures = [f for s in snaps.values() for f in s.failures]
    return RoundResult(2, 1700000000000, found, rank_rows(rows), snaps, appeared=[Symbol("X001")],
                       disappeared=[Symbol("GONE")], failures=failures, malformed={"gate_spot /spot/tickers": 2},
                       streamed=[Symbol("AAA")], window_s=30.0)


@pytest.mark.parametrize("width", [80, 100, 119, 120, 160])
def test_every_line_fits_the_width(width):
    text = render(_result(), "paper", ScanParams(), 40, width)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width, max(lines, key=len)
    header = next(line for line in lines if line.lstrip().startswith("#"))
    if width >= 120:
        assert "gs>ms bps" in header and "ms>gs bps" in header and "fund bps" in header and "opens" in header
    else:
        assert "best bps" in header and "ms>gs bps" not in header
    assert any("VERYLONG" in line and "~" in line for line in lines)  # a long name is cut, not dropped
    best = next(i for i, line in enumerate(lines) if line.startswith("best: "))
    assert "  python run.py start --symbol X016 --mode paper" in lines[best:best + 4]  # whole, never wrapped
    joined = " ".join(lines)
    assert "appeared since the last round: X001" in joined and "disappeared since the last round: GONE" in joined
    assert "failed: mexc_spot /api/v3/ticker/24hr: HTTP 503" in joined.replace("\n", " ")
    assert "malformed: gate_spot /spot/tickers: 2 entries skipped" in joined


def test_table_shows_at_most_top_rows():
    lines = render(_result(), "sim", ScanParams(), 3, 120).splitlines()
    first = next(i for i, line in enumerate(lines) if line.lstrip().startswith("# symbol")) + 1
    last = next(i for i, line in enumerate(lines) if line.startswith("best: "))
    assert [line.split()[0] for line in lines[first:last]] == ["1", "2", "3"]


def test_json_has_every_figure_with_its_unit_and_the_ranking_first():
    doc = json.loads(to_json(document(_result(), "paper", ScanParams(), None), pretty=False))
    assert list(doc)[:2] == ["schema", "symbols"] and doc["schema"] == "arb-scan/1"
    fields = set(msgspec.structs.asdict(_result().rows[0]))
    assert fields <= set(doc["units"]) and set(FIELD_UNITS) == fields
    assert fields == set(doc["symbols"][0])
    assert all(isinstance(r["best_edge_bps"], (str, type(None))) for r in doc["symbols"])  # Decimals as text
    assert doc["window"]["window_s"] == 30.0 and doc["appeared"] == ["X001USDT"]
    assert doc["excluded"] == [{"symbol": "BBBUSDT", "reasons": ["not listed on mexc_spot"]},
                               {"symbol": "CCCUSDT", "reasons": ["gate_perp: status delisted"]}]
    assert len(document(_result(), "paper", ScanParams(), 5)["symbols"]) == 5


def test_compact_numbers():
    assert [compact(D(x)) for x in ("0.35", "12.34", "1234", "45678", "7800000", "1200000000", "-0.5")] == [
        "0.35", "12.3", "1234", "45.7k", "7.8M", "1.2B", "-0.50"]
    assert compact(None) == "-"


def test_the_help_text_names_the_real_stream_cap():
    from taskmanager import scan, scan_run

    assert scan.STREAM_MAX == scan_run.STREAM_MAX_SYMBOLS
