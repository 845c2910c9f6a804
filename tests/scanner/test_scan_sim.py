"""The scanner against the simulator over loopback: aliased symbols with tiny prices and a
contract multiplier of 10000, one missing on MEXC, one delisted on the perp, one disabled on
MEXC (``--alias-listing``); discovery, figures, ranking order, the streaming window re-ranking
by executable time, refused streams, and ``scan --mode sim`` reusing a running simulator."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal as D
from pathlib import Path

import pytest

from exchanges.discovery.endpoints import sim_endpoints
from exchanges.discovery.stream import BookTickerStreams
from exchanges.models import Symbol, VenueId
from exchanges.sim import process
from exchanges.sim.recording.format import RecEvent, RecordingWriter, make_header, read_recording
from exchanges.sim.server import SimServer
from strategies.scanner.rank import ScanParams
from taskmanager.cli import main
from taskmanager.scan_run import Scanner
from tests.sim.conftest import wait_for

GS, GP, MS = VenueId.GATE_SPOT, VenueId.GATE_PERP, VenueId.MEXC_SPOT
PEPE, P1, P2, P3, P4, P5 = (Symbol(b) for b in ("PEPE", "PEPE001", "PEPE002", "PEPE003", "PEPE004", "PEPE005"))
TICK = "0.0000001"
RULES = {
    "gate_spot": {"price_tick": TICK, "size_step": "1", "min_size": "1", "min_notional": "3", "contract_multiplier": "1",
                  "maker_fee_rate": "0.001", "taker_fee_rate": "0.001"},
    "gate_perp": {"price_tick": TICK, "size_step": "1", "min_size": "1", "min_notional": "0",
                  "contract_multiplier": "10000", "maker_fee_rate": "0.0002", "taker_fee_rate": "0.0005",
                  "funding_interval_s": 28800, "funding_rates": [[0, "0.0001"]]},
    "mexc_spot": {"price_tick": TICK, "size_step": "1", "min_size": "1", "min_notional": "1", "contract_multiplier": "1",
                  "maker_fee_rate": "0", "taker_fee_rate": "0.0005"},
}
LISTING = "PEPE001:mexc_spot=absent,PEPE002:gate_perp=delisted,PEPE003:mexc_spot=disabled"
# (Gate spot bid, ask), (MEXC bid, ask) per symbol; the perp sits at 0.0000351 / 0.0000352
BOOKS = {
    PEPE: (("0.0000352", "0.0000353"), ("0.0000349", "0.0000350")),  # sell Gate, buy MEXC: +42.1 bps
    P4: (("0.0000351", "0.0000352"), ("0.0000349", "0.0000350")),  # sell Gate, buy MEXC: +13.5 bps
    P5: (("0.0000352", "0.0000353"), ("0.0000356", "0.0000357")),  # sell MEXC, buy Gate: +69.9 bps
}


def set_books(server: SimServer, symbol: Symbol, gs: tuple[str, str], ms: tuple[str, str]) -> None:
    big = D(10) ** 9
    server.engine.set_book(GS, symbol, [(D(gs[0]), big)], [(D(gs[1]), big)])
    server.engine.set_book(MS, symbol, [(D(ms[0]), big)], [(D(ms[1]), big)])
    server.engine.set_book(GP, symbol, [(D("0.0000351"), D(1000))], [(D("0.0000352"), D(1000))])


def write_recording(path: Path) -> Path:
    header = make_header(PEPE, int(time.time() * 1000), RULES, source="test", notes="synthetic tiny prices")
    with RecordingWriter(path, header) as writer:
        for venue in (GS, GP, MS):
            writer.write(RecEvent(0, venue, [(D("0.0000350"), D(10) ** 6)], [(D("0.0000351"), D(10) ** 6)]))
    return path


@pytest.fixture
async def pepe_sim(tmp_path):
    server = SimServer(sim_dir=tmp_path / "sim", recording=read_recording(write_recording(tmp_path / "pepe.jsonl.gz")),
                       replay=False, alias_symbols=6, alias_listing=LISTING)
    await server.start()
    try:
        for symbol in (PEPE, P1, P2, P3, P4, P5):
            gs, ms = BOOKS.get(symbol, BOOKS[P4])
            set_books(server, symbol, gs, ms)
        yield server
    finally:
        await server.stop()


async def test_discovery_excludes_missing_delisted_and_disabled_and_ranks_by_edge(pepe_sim):
    scanner = Scanner(sim_endpoints(pepe_sim.endpoints), ScanParams(min_edge_bps=D(10)))
    try:
        result = await scanner.rest_round()
    finally:
        await scanner.close()
    assert result.discovery.symbols == [PEPE, P4, P5]
    assert {e.symbol: e.reasons for e in result.discovery.excluded} == {
        P1: ("not listed on mexc_spot",), P2: ("gate_perp: status delisted",), P3: ("mexc_spot: status 2 (pause)",)}
    assert [r.base for r in result.rows] == ["PEPE005", "PEPE", "PEPE004"]
    assert [r.best_direction for r in result.rows] == ["mexc_spot>gate_spot", "gate_spot>mexc_spot",
                                                       "gate_spot>mexc_spot"]
    pepe = result.rows[1]
    cost = D("0.0000350") * D("1.0005")  # MEXC ask plus its 0.05 % taker fee
    assert pepe.edge_gs_ms_bps == ((D("0.0000352") * D("0.999") - cost) / cost * 10000).quantize(D("0.01"))
    assert pepe.edge_gs_ms_bps == D("42.06") and pepe.fees_bps == D("15.00")
    assert pepe.edge_ms_gs_bps is not None and pepe.edge_ms_gs_bps < 0
    assert pepe.contract_multiplier == D(10000) and pepe.contract_usdt == D("0.3525")  # 10000 x Gate mid 0.00003525
    assert pepe.hedge_contracts == D(567)  # 200 USDT / 0.00003525 = 5,673,758.9 base / 10000, rounded down
    assert pepe.hedgeable and pepe.min_position_usdt == D("6.00") and pepe.eligible
    assert pepe.trade_qty_base == D(714285)  # 25 USDT / 0.000035 at the MEXC ask
    assert pepe.funding_bps == D("1.00") and pepe.funding_interval_s == 28800
    assert result.failures == [] and result.malformed == {}


async def test_window_reranks_by_how_long_the_edge_was_executable(pepe_sim):
    scanner = Scanner(sim_endpoints(pepe_sim.endpoints), ScanParams(min_edge_bps=D(30)))
    try:
        result = await scanner.rest_round()
        assert [r.base for r in result.rows] == ["PEPE005", "PEPE", "PEPE004"]
        window = asyncio.create_task(scanner.stream_window(result, 1.5))
        # the window counts and has seen PEPE005's executable books at least once
        await wait_for(lambda: scanner.window_started_s is not None and P5 in scanner.windows
                       and scanner.windows[P5].updates >= 1, timeout_s=5)
        # PEPE005's edge goes away early in the window: Gate spot's ask jumps above MEXC's bid
        pepe_sim.engine.set_book(GS, P5, [(D("0.0000352"), D(10) ** 9)], [(D("0.0000360"), D(10) ** 9)])
        result = await window
    finally:
        await scanner.close()
    rows = {r.base: r for r in result.rows}
    assert [r.base for r in result.rows] == ["PEPE", "PEPE005", "PEPE004"]
    assert rows["PEPE"].edge_share is not None and rows["PEPE"].edge_share > 0.5 and rows["PEPE"].edge_openings == 1
    assert 0 < rows["PEPE005"].edge_share < rows["PEPE"].edge_share and rows["PEPE005"].edge_openings == 1
    assert rows["PEPE005"].best_edge_bps is not None and rows["PEPE005"].best_edge_bps < 0  # from the streamed book
    assert rows["PEPE004"].edge_share == 0 and rows["PEPE004"].edge_openings == 0  # 13.5 bps < 30
    assert all(r.window_updates for r in result.rows) and 1.5 <= result.window_s < 4
    assert sorted(s.base for s in result.streamed) == ["PEPE", "PEPE004", "PEPE005"]


async def test_streams_isolate_a_refused_symbol_and_keep_the_others(pepe_sim):
    seen: list[tuple[VenueId, str]] = []
    streams = BookTickerStreams(sim_endpoints(pepe_sim.endpoints),
                                {GS: ["PEPE_USDT", "NOPE_USDT", "PEPE004_USDT"], MS: ["PEPEUSDT", "PEPE001USDT"]},
                                lambda venue, name, quote: seen.append((venue, name)))
    await streams.start()
    try:
        await wait_for(lambda: (GS, "PEPE004_USDT") in seen and "NOPE_USDT" in streams.stats[GS].refused, 5)
        assert streams.connections == 2
        assert streams.stats[GS].refused == {"NOPE_USDT": "unknown currency pair NOPE_USDT"}
        pepe_sim.engine.set_book(MS, PEPE, [(D("0.0000348"), D(5))], [(D("0.0000350"), D(5))])
        await wait_for(lambda: (MS, "PEPEUSDT") in seen and "PEPE001USDT" in streams.stats[MS].refused, 5)
        assert streams.stats[MS].refused["PEPE001USDT"].startswith("Not Subscribed successfully!")
        assert streams.stats[GS].malformed == 0 and streams.stats[MS].malformed == 0
    finally:
        await streams.close()


def test_scan_sim_mode_uses_the_running_simulator(tmp_path, monkeypatch, capsys, loop_thread):
    home = tmp_path / "home"

    async def start() -> SimServer:
        server = SimServer(sim_dir=process.sim_dir(home), scenario="neiroeth", alias_symbols=4, replay=False)
        await server.start()
        return server

    server = loop_thread.run(start())
    try:
        process.write_state(home, server.endpoints)  # as `run.py sim` does; pid = this process
        for symbol, (gs, ms) in zip(server.symbols, BOOKS.values()):
            loop_thread.loop.call_soon_threadsafe(set_books, server, symbol, gs, ms)
        loop_thread.run(asyncio.sleep(0))
        monkeypatch.setenv("ARB_HOME", str(home))
        rc = main(["scan", "--mode", "sim", "--json", "--min-edge-bps", "5"])
        out, err = capsys.readouterr()
    finally:
        loop_thread.run(server.stop())
    assert rc == 0, err
    assert "started the local simulator" not in err
    doc = json.loads(out)
    assert sorted(r["base"] for r in doc["symbols"]) == ["NEIRO001", "NEIRO002", "NEIRO003", "NEIROETH"]
    assert doc["symbols"][0]["base"] == "NEIRO002" and doc["symbols"][0]["best_edge_bps"] is not None
    assert doc["start_command"] == "python run.py start --symbol NEIRO002 --mode sim"


async def test_a_stop_request_cuts_the_window_short_and_says_so(pepe_sim):
    scanner = Scanner(sim_endpoints(pepe_sim.endpoints), ScanParams())
    stop = asyncio.Event()
    try:
        result = await scanner.rest_round()
        window = asyncio.create_task(scanner.stream_window(result, 60.0, stop=stop))
        await wait_for(lambda: scanner.processed >= 3, timeout_s=5)
        stop.set()  # what Ctrl-C / SIGTERM do in `scan --watch`
        result = await asyncio.wait_for(window, 5)
    finally:
        await scanner.close()
    assert result.interrupted and result.window_s is not None and result.window_s < 10
    assert all(r.window_updates is not None for r in result.rows)
