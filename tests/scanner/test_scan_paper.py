"""``scan --mode paper|live`` against a local stand-in for the venues' public endpoints
(``$ARB_SCAN_ENDPOINTS``): one bulk request per venue and endpoint, JSON with units, partial
ranking when a venue fails, exit 1 only when none answered, malformed answers in the footer,
a streaming window with malformed and refused frames, and rounds that see symbols appear and
disappear."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from taskmanager.cli import main
from tests.scanner.venue_json import Coin

ENV = "ARB_SCAN_ENDPOINTS"


def scan(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(["scan", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_paper_json_ranks_with_one_request_per_endpoint(fake_public, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv(ENV, fake_public.endpoints_json())
    monkeypatch.setenv("ARB_HOME", str(tmp_path / "home"))
    rc, out, err = scan(capsys, "--mode", "paper", "--json")
    assert rc == 0, err
    doc = json.loads(out)
    assert next(v for v in doc.values() if isinstance(v, list)) is doc["symbols"]
    assert [r["base"] for r in doc["symbols"]] == ["AAA", "BBB"]
    aaa = doc["symbols"][0]
    assert aaa["best_direction"] == "gate_spot>mexc_spot" and aaa["rank"] == 1
    # sell Gate spot 1.005 less its 0.2 % fee, buy MEXC 1.000 plus 0.05 %: (1.00299 - 1.0005) / 1.0005
    assert aaa["edge_gs_ms_bps"] == "24.89" and aaa["fees_bps"] == "25.00"
    assert aaa["funding_bps"] == "1.00" and aaa["funding_apr_pct"] == "10.9500"
    assert aaa["volume_24h_usdt"] == "250000.0000"
    assert set(doc["units"]) >= set(aaa) and doc["units"]["best_edge_bps"].startswith("bps")
    assert doc["start_command"] == "python run.py start --symbol AAA --mode paper"
    assert {e["symbol"]: e["reasons"] for e in doc["excluded"]} == {
        "CCCUSDT": ["gate_perp: status delisted"], "DDDUSDT": ["mexc_spot: status 2 (pause)"]}
    assert doc["failed"] == [] and doc["malformed"] == {} and doc["window"] is None
    assert sorted(fake_public.requests.values()) == [1] * 8  # one bulk request per venue and endpoint
    assert not (tmp_path / "home").exists()  # paper mode starts no simulator and writes nothing


def test_live_mode_reads_the_same_public_data_and_prints_a_live_start_command(fake_public, monkeypatch, capsys):
    monkeypatch.setenv(ENV, fake_public.endpoints_json())
    rc, out, _ = scan(capsys, "--mode", "live", "--top", "1", "--width", "120")
    assert rc == 0
    assert "best: AAA (eligible, edge now 24.9 bps gs>ms); start a task on it with:\n" \
           "  python run.py start --symbol AAA --mode live --live\n" in out
    table = [line for line in out.splitlines() if line.startswith("  1 ")]
    assert len(table) == 1 and "AAA" in table[0] and not any(line.startswith("  2 ") for line in out.splitlines())


def test_an_unreachable_venue_gives_a_partial_ranking_naming_it(fake_public, monkeypatch, capsys, closed_port):
    monkeypatch.setenv(ENV, fake_public.endpoints_json(mexc_port=closed_port))
    rc, out, err = scan(capsys, "--mode", "paper", "--width", "120")
    assert rc == 0, err
    assert "partial: no listing from mexc_spot; ranked without it" in out
    assert "failed: mexc_spot /api/v3/exchangeInfo:" in out and "Traceback" not in out + err
    assert "AAA" in out and "DDD" in out  # DDD was only refused by MEXC, which did not answer


def test_no_venue_answering_is_exit_1_with_one_line(monkeypatch, capsys, closed_port):
    monkeypatch.setenv(ENV, json.dumps({"gate_rest": f"http://127.0.0.1:{closed_port}/api/v4",
                                        "mexc_rest": f"http://127.0.0.1:{closed_port}"}))
    rc, out, err = scan(capsys, "--mode", "paper")
    assert rc == 1 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no venue answered (gate_spot /spot/currency_pairs:")


def test_malformed_answers_and_failed_endpoints_are_in_the_footer(fake_public, monkeypatch, capsys):
    fake_public.raw["/api/v4/spot/tickers"] = b'[{"currency_pair": "AAA_USDT"}, {"currency_pair": 7}]'
    fake_public.status["/api/v3/ticker/24hr"] = 503
    fake_public.raw["/api/v4/futures/usdt/tickers"] = b"<html>"
    monkeypatch.setenv(ENV, fake_public.endpoints_json())
    rc, out, _ = scan(capsys, "--mode", "paper", "--width", "120")
    assert rc == 0
    assert "malformed: gate_spot /spot/tickers: 1 entry skipped" in out
    assert "malformed: gate_perp /futures/usdt/tickers: 1 entry skipped" in out
    assert "failed: gate_perp /futures/usdt/tickers: malformed answer: not a JSON array" in out
    assert "failed: mexc_spot /api/v3/ticker/24hr: HTTP 503 SERVER_ERROR: simulated outage" in out


def test_window_counts_malformed_frames_and_reports_refused_symbols(fake_public, monkeypatch, capsys):
    fake_public.ws_refuse = {"BBB"}  # listed by REST, unknown to the streams
    monkeypatch.setenv(ENV, fake_public.endpoints_json())
    rc, out, err = scan(capsys, "--mode", "paper", "--json", "--window-s", "0.5")
    assert rc == 0, err
    doc = json.loads(out)
    window = doc["window"]
    assert window["symbols"] == ["AAA", "BBB"] and 0.5 <= window["window_s"] < 5
    assert window["malformed_frames"] >= 3  # one per connection: Gate spot, Gate perp, MEXC
    assert window["updates"] >= 3  # AAA's ticker on each venue: Gate retried AAA alone after the refusal
    aaa = next(r for r in doc["symbols"] if r["base"] == "AAA")
    assert aaa["window_updates"] >= 2 and aaa["edge_share"] is not None
    assert sorted(doc["stream_refused"]) == [
        "gate_perp BBB_USDT: unknown currency pair BBB_USDT", "gate_spot BBB_USDT: unknown currency pair BBB_USDT",
        "mexc_spot BBBUSDT: Not Subscribed successfully! [spot@public.aggre.bookTicker.v3.api.pb@100ms@BBBUSDT]. "
        "Reason： Blocked!"]


def test_watch_rounds_report_symbols_that_appear_and_disappear(fake_public, monkeypatch, capsys):
    first = [Coin("AAA"), Coin("BBB")]
    fake_public.rounds = [first, [Coin("BBB"), Coin("EEE")]]
    monkeypatch.setenv(ENV, fake_public.endpoints_json())
    rc, out, err = scan(capsys, "--mode", "paper", "--json", "--watch", "--rounds", "2", "--window-s", "0.2")
    assert rc == 0, err
    docs = [json.loads(line) for line in out.splitlines()]
    assert [d["round"] for d in docs] == [1, 2]
    assert docs[0]["appeared"] == [] and docs[0]["disappeared"] == []
    assert docs[1]["appeared"] == ["EEEUSDT"] and docs[1]["disappeared"] == ["AAAUSDT"]
    assert sorted(r["base"] for r in docs[1]["symbols"]) == ["BBB", "EEE"]


def test_a_stream_that_never_connects_is_named_and_the_window_still_ends(fake_public, monkeypatch, capsys,
                                                                         closed_port):
    eps = json.loads(fake_public.endpoints_json())
    eps["mexc_ws"] = f"ws://127.0.0.1:{closed_port}/ws"
    monkeypatch.setenv(ENV, json.dumps(eps))
    rc, out, err = scan(capsys, "--mode", "paper", "--window-s", "0.4", "--width", "120")
    assert rc == 0, err
    assert "stream down: mexc_spot never connected during the window (its REST figures are used)" in out
    assert "window: " in out and "AAA" in out


@pytest.mark.slow
def test_ctrl_c_ends_a_watch_with_the_interrupted_round_and_exit_0(fake_public, tmp_path):
    env = dict(os.environ, ARB_SCAN_ENDPOINTS=fake_public.endpoints_json(), ARB_HOME=str(tmp_path / "home"))
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "run.py", "scan", "--mode", "paper", "--watch", "--window-s", "60"],
                            cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while fake_public.ws_subscribed < 3:  # the window's three streams are subscribed: it is running
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "Traceback" not in out + err and err == ""
    assert "round 1" in out and "s (interrupted) over 2 symbol(s)" in out and "round 2" not in out
