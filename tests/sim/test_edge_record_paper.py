"""record.py and paper.py offline, against a fake of the venues' public endpoints on 127.0.0.1."""

from __future__ import annotations

import argparse
import asyncio
from decimal import Decimal as D

from exchanges.models import MarketType, VenueId
from exchanges.sim.recording import record as rec_mod
from exchanges.sim.recording.paper import PaperFeed, paper_recording
from exchanges.sim.recording.format import read_recording
from tests.sim.edge_fixtures import SYM, fake_live, make_engine  # noqa: F401


async def test_record_to_file_and_replayable(fake_live, tmp_path):
    out = tmp_path / "live.jsonl.gz"
    count = await rec_mod.record("NEIROETH", 0.01, out, endpoints=fake_live)  # 0.6 s
    assert count > 10
    rec = read_recording(out)
    assert rec.symbol == SYM and rec.malformed_lines == 0
    assert rec.symbol_info(VenueId.GATE_SPOT).min_notional == D(3)
    assert rec.symbol_info(VenueId.GATE_SPOT).taker_fee_rate == D("0.001")
    perp = rec.symbol_info(VenueId.GATE_PERP)
    assert perp.market_type is MarketType.PERP and perp.contract_multiplier == D(10)
    assert rec.symbol_info(VenueId.MEXC_SPOT).size_step == D("0.01")
    events = rec.load()
    venues = {e.venue for e in events}
    assert venues == set(VenueId)
    first_perp = next(e for e in events if e.venue is VenueId.GATE_PERP)
    assert first_perp.bids[0] == (D("0.051"), D(100)) and first_perp.asks[0][1] == D(200)
    first_mexc = next(e for e in events if e.venue is VenueId.MEXC_SPOT)
    assert first_mexc.bids[0] == (D("0.049"), D("12.5"))
    assert [e.t_ms for e in events] == sorted(e.t_ms for e in events)


async def test_main_record_cli_entry(fake_live, tmp_path):
    out = tmp_path / "cli.jsonl.gz"
    args = argparse.Namespace(symbol="NEIROETH_USDT", minutes=0.005, out=out, endpoints=fake_live)
    # main_record runs its own event loop (as the CLI does): run it in a thread, the fake serves on ours
    assert await asyncio.to_thread(rec_mod.main_record, args) == 0
    assert read_recording(out).load()
    assert rec_mod.main_record(argparse.Namespace(symbol="bad symbol!", minutes=0.01, out=out)) == 2


async def test_paper_feed_drives_engine_books(fake_live, tmp_path):
    recording = await paper_recording("NEIROETH", tmp_path, endpoints=fake_live)
    assert recording.symbol_info(VenueId.GATE_PERP).contract_multiplier == D(10)
    engine = make_engine(tmp_path)
    feed = PaperFeed(engine, SYM, endpoints=fake_live)
    await feed.start()
    try:
        for _ in range(500):
            if all(feed.updates[v] >= 3 for v in VenueId):
                break
            await asyncio.sleep(0.01)
        assert all(feed.updates[v] >= 3 for v in VenueId), feed.updates
        bids, asks, update_id = engine.book(VenueId.GATE_PERP, SYM)
        assert bids[0][0] >= D("0.051") and asks[0][1] == D(200) and update_id > 0
        assert feed.feed.malformed >= 1  # the fake's "not json" frame was counted, not raised
    finally:
        await feed.stop()
        engine.close()
