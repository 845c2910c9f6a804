"""One recording served under several symbol names (`sim --alias-symbols N`): naming,
rules on every venue, per-alias books replayed from shifted positions, per-alias
matching and funding, admin book/replay by symbol, process option."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

import aiohttp
import pytest

from exchanges.models import OrderType, Side, Symbol, TimeInForce, VenueId
from exchanges.sim import process
from exchanges.sim.recording.aliases import alias_starts, alias_symbols, initial_books
from exchanges.sim.engine.book import level_map
from exchanges.sim.recording.format import read_recording
from exchanges.sim.recording.replay import Replayer
from exchanges.sim.server import SimServer
from tests.sim.conftest import SYM, wait_for

A1, A2 = Symbol("NEIRO001"), Symbol("NEIRO002")


def test_alias_names_and_bounds():
    assert alias_symbols(SYM, 1) == [SYM]
    assert [s.base for s in alias_symbols(SYM, 4)] == ["NEIROETH", "NEIRO001", "NEIRO002", "NEIRO003"]
    many = alias_symbols(SYM, 1001)
    assert many[-1].base == "NEIRO1000" and len({s.base for s in many}) == 1001
    assert all(s.quote == "USDT" for s in many)
    for bad in (0, -1, 10_001):
        with pytest.raises(ValueError):
            alias_symbols(SYM, bad)


def test_starts_are_deterministic_spread_and_alias0_starts_at_0(tiny_recording):
    events = read_recording(tiny_recording).load()
    starts = alias_starts(events, 3)
    assert starts == alias_starts(events, 3) and starts[0] == 0
    assert len(set(starts)) == 3  # shifted: not in lock-step
    assert alias_starts([], 3) == [0, 0, 0]


@pytest.fixture
async def aliased(tmp_path, tiny_recording):
    server = SimServer(sim_dir=tmp_path / "sim", recording=read_recording(tiny_recording), replay=True, speed=1.0,
                       alias_symbols=3)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_every_venue_lists_every_alias_with_the_same_rules(aliased):
    assert aliased.endpoints["symbols"] == ["NEIROETH", "NEIRO001", "NEIRO002"]
    eng = aliased.engine
    for venue in VenueId:
        infos = {i.symbol: i for i in eng.symbols(venue)}
        assert set(infos) == {SYM, A1, A2}
        base = infos[SYM]
        for alias in (A1, A2):
            info = infos[alias]
            assert (info.price_tick, info.size_step, info.min_size, info.min_notional, info.contract_multiplier,
                    info.maker_fee_rate, info.taker_fee_rate, info.funding_interval_s) == (
                base.price_tick, base.size_step, base.min_size, base.min_notional, base.contract_multiplier,
                base.maker_fee_rate, base.taker_fee_rate, base.funding_interval_s)
    async with aiohttp.ClientSession() as session:
        gate = aliased.endpoints["gate_spot"]["rest_url"]
        async with session.get(gate + "/spot/currency_pairs") as resp:
            assert {p["id"] for p in await resp.json()} == {"NEIROETH_USDT", "NEIRO001_USDT", "NEIRO002_USDT"}
        async with session.get(gate + "/futures/usdt/contracts") as resp:
            contracts = {c["name"]: c for c in await resp.json()}
        assert set(contracts) == {"NEIROETH_USDT", "NEIRO001_USDT", "NEIRO002_USDT"}
        assert contracts["NEIRO002_USDT"]["quanto_multiplier"] == contracts["NEIROETH_USDT"]["quanto_multiplier"]
        assert contracts["NEIRO002_USDT"]["funding_rate"] == contracts["NEIROETH_USDT"]["funding_rate"] != "0"
        async with session.get(aliased.endpoints["mexc_spot"]["rest_url"] + "/api/v3/exchangeInfo") as resp:
            assert {s["symbol"] for s in (await resp.json())["symbols"]} == {
                "NEIROETHUSDT", "NEIRO001USDT", "NEIRO002USDT"}
        async with session.get(gate + "/spot/order_book", params={"currency_pair": "NEIRO002_USDT"}) as resp:
            assert resp.status == 200 and (await resp.json())["bids"]


async def test_aliases_replay_from_shifted_books(aliased):
    events = aliased.recording.load()
    tops = {s: aliased.engine.book(VenueId.GATE_SPOT, s, 1)[0][0][0] for s in aliased.symbols}
    assert len(set(tops.values())) > 1  # not in lock-step
    await wait_for(lambda: aliased.ctx.replayer.events_applied >= 3 * len(events), timeout_s=5)
    for symbol in aliased.symbols:  # every alias is replayed (its book id advances)
        assert aliased.engine.book(VenueId.MEXC_SPOT, symbol)[2] > 1


def test_initial_books_are_the_snapshots_just_before_the_start(tiny_recording):
    events = read_recording(tiny_recording).load()
    venues = [VenueId.GATE_SPOT, VenueId.GATE_PERP, VenueId.MEXC_SPOT]
    assert initial_books(events, 0, venues) == {e.venue: e for e in events[:3]}  # nothing before: the first ones
    assert initial_books(events, 7, venues) == {events[6].venue: events[6], events[4].venue: events[4],
                                                events[5].venue: events[5]}


async def test_each_alias_matches_its_own_book_and_funds_its_own_position(aliased):
    eng = aliased.engine
    aliased.ctx.replayer.pause_book(VenueId.GATE_SPOT)  # the test owns the spot books
    aliased.ctx.replayer.pause_book(VenueId.GATE_PERP)
    for symbol in aliased.symbols:
        eng.set_book(VenueId.GATE_SPOT, symbol, [(D("0.0500"), D(100))], [(D("0.0501"), D(100))])
        eng.set_book(VenueId.GATE_PERP, symbol, [(D("0.0500"), D(100))], [(D("0.0501"), D(100))])
    key = eng.default_account.api_key
    order = eng.place_order(key, VenueId.GATE_SPOT, A1, Side.BUY, D(60), D("0.0501"), OrderType.LIMIT,
                            TimeInForce.IOC, client_order_id="t-a1")
    assert order.filled_qty == D(60) and order.symbol == A1
    assert eng.book(VenueId.GATE_SPOT, A1)[1] == [(D("0.0501"), D(40))]
    assert eng.book(VenueId.GATE_SPOT, SYM)[1] == [(D("0.0501"), D(100))]  # untouched
    assert eng.balances(key, VenueId.GATE_SPOT)["NEIRO001"].free > 0
    assert "NEIROETH" not in eng.balances(key, VenueId.GATE_SPOT)
    assert eng.get_order(key, VenueId.GATE_SPOT, A1, client_order_id="t-a1").id == order.id
    eng.place_order(key, VenueId.GATE_PERP, A2, Side.SELL, D(5), D("0.0500"), OrderType.LIMIT, TimeInForce.IOC)
    [pos] = eng.positions(key, VenueId.GATE_PERP, A2)
    assert pos.size == D(-5)
    assert eng.apply_funding(VenueId.GATE_PERP, A1, D("0.001")) == []  # nobody holds NEIRO001 perp
    paid = eng.apply_funding(VenueId.GATE_PERP, A2, D("0.001"))
    assert len(paid) == 1 and paid[0].symbol == A2 and paid[0].amount > 0  # shorts receive


async def test_admin_book_and_replay_take_any_alias(aliased):
    replayer = aliased.ctx.replayer
    admin = aliased.endpoints["admin_url"]
    async with aiohttp.ClientSession() as session:
        async with session.post(admin + "/_sim/book", json={"venue": "mexc_spot", "symbol": "NEIRO002",
                                                             "bid": "0.0400", "ask": "0.0401"}) as resp:
            assert resp.status == 200 and (await resp.json())["symbol"] == "NEIRO002USDT"
        assert replayer.is_paused(VenueId.MEXC_SPOT, A2) and not replayer.is_paused(VenueId.MEXC_SPOT, SYM)
        assert aliased.engine.book(VenueId.MEXC_SPOT, A2, 1)[0][0][0] == D("0.0400")
        async with session.post(admin + "/_sim/replay", json={"pause": ["gate_spot"], "symbols": ["NEIRO001"]}) as r:
            status = await r.json()
        assert status["paused_books"] == {"gate_spot": ["NEIRO001"], "mexc_spot": ["NEIRO002"]}
        async with session.post(admin + "/_sim/replay", json={"resume": True, "symbols": ["NEIRO002"]}) as r:
            assert (await r.json())["paused_books"] == {"gate_spot": ["NEIRO001"]}
        async with session.post(admin + "/_sim/replay", json={"pause": ["gate_perp"], "symbols": ["NOPE"]}) as r:
            assert r.status == 400 and "NOPE" in (await r.json())["error"]
        async with session.post(admin + "/_sim/replay", json={"pause": ["gate_spot", "gate_perp", "mexc_spot"]}) as r:
            assert (await r.json())["paused"] == ["gate_perp", "gate_spot", "mexc_spot"]
        async with session.post(admin + "/_sim/replay", json={"resume": True}) as r:
            body = await r.json()
            assert body["paused"] == [] and body["paused_books"] == {}


async def test_replay_without_loop_plays_each_alias_once_round(tiny_recording):
    rec = read_recording(tiny_recording)
    from exchanges.sim.recording.aliases import alias_rules
    from exchanges.sim.engine import SimEngine

    symbols = alias_symbols(rec.symbol, 3)
    eng = SimEngine(alias_rules(rec, symbols))
    try:
        events = rec.load()
        starts = alias_starts(events, 3)
        replayer = Replayer(eng, rec, speed=0, loop=False, symbols=symbols, starts=starts)
        await asyncio.wait_for(replayer.run(), 5)
        assert replayer.finished and replayer.loops == 1 and replayer.events_applied == 3 * len(events)
        for symbol, start in zip(symbols, starts):  # each ends on the snapshot just before its start
            last = initial_books(events, start, list(rec.rules)) if start else {
                e.venue: e for e in events}  # alias 0 ends on the last events
            for venue, event in last.items():
                assert dict(eng.book(venue, symbol)[0]) == level_map(event.bids)
    finally:
        eng.close()


def test_paper_mode_refuses_aliases():
    with pytest.raises(ValueError, match="paper"):
        SimServer(paper_symbol="NEIROETH", alias_symbols=2)


def test_background_process_serves_aliases_and_refuses_fewer(tmp_path):
    home = tmp_path / "home"
    try:
        endpoints = process.ensure_sim_running(home, alias_symbols=3)
        assert endpoints["symbols"] == ["NEIROETH", "NEIRO001", "NEIRO002"]
        assert process.ensure_sim_running(home, alias_symbols=2)["pid"] == endpoints["pid"]  # reused
        with pytest.raises(process.SimProcessError, match="serves 3 symbol"):
            process.ensure_sim_running(home, alias_symbols=5)
    finally:
        process.stop_sim(home)


def test_cli_refuses_a_bad_alias_count(tmp_path, capsys):
    import argparse

    from exchanges.sim.cli import add_sim_arguments, sim_main

    parser = argparse.ArgumentParser()
    add_sim_arguments(parser)
    args = parser.parse_args(["--home", str(tmp_path), "--alias-symbols", "0", "--quiet"])
    assert sim_main(args) == 2
    assert "alias count" in capsys.readouterr().err


async def test_gate_ws_pushes_only_the_subscribed_alias(aliased):
    import json

    aliased.ctx.replayer.pause_book(VenueId.GATE_SPOT)
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(aliased.endpoints["gate_spot"]["ws_url"]) as ws:
            await ws.send_str(json.dumps({"channel": "spot.order_book_update", "event": "subscribe",
                                          "payload": ["NEIRO001_USDT", "100ms"]}))
            assert json.loads((await ws.receive(timeout=2)).data)["result"] == {"status": "success"}
            aliased.engine.set_book(VenueId.GATE_SPOT, SYM, [(D("0.0300"), D(1))], [(D("0.0301"), D(1))])
            aliased.engine.set_book(VenueId.GATE_SPOT, A1, [(D("0.0310"), D(1))], [(D("0.0311"), D(1))])
            frame = json.loads((await ws.receive(timeout=2)).data)
            assert frame["result"]["s"] == "NEIRO001_USDT" and ["0.031", "1"] in frame["result"]["b"]
            await ws.send_str(json.dumps({"channel": "spot.order_book_update", "event": "unsubscribe",
                                          "payload": ["NEIRO001_USDT"]}))
            assert json.loads((await ws.receive(timeout=2)).data)["event"] == "unsubscribe"
            aliased.engine.set_book(VenueId.GATE_SPOT, A1, [(D("0.0320"), D(1))], [(D("0.0321"), D(1))])
            await ws.send_str(json.dumps({"channel": "spot.ping"}))
            assert json.loads((await ws.receive(timeout=2)).data)["channel"] == "spot.pong"  # no book frame before it
