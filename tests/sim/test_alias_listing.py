"""``sim --alias-listing``: aliased symbols absent or untradable on one venue, shown in each
venue's own spelling (Gate spot ``trade_status``, Gate perp ``status``, MEXC ``status`` /
``isSpotTradingAllowed`` / ``defaultSymbols``), and refused specs."""

from __future__ import annotations

import aiohttp
import pytest

from exchanges.models import Symbol, VenueId
from exchanges.sim.recording.format import read_recording
from exchanges.sim.recording.listing import ListingState, parse_listing
from exchanges.sim.server import SimServer
from taskmanager.cli import main
from tests.sim.conftest import SYM

SYMBOLS = [SYM, Symbol("NEIRO001"), Symbol("NEIRO002"), Symbol("NEIRO003")]


def test_parse_listing_spec():
    spec = "NEIRO001:mexc_spot=absent, NEIRO002_USDT:gate_perp=delisted,NEIRO003:MEXC_SPOT=Disabled"
    assert parse_listing(spec, SYMBOLS) == {
        (VenueId.MEXC_SPOT, SYMBOLS[1]): ListingState.ABSENT,
        (VenueId.GATE_PERP, SYMBOLS[2]): ListingState.OFF,
        (VenueId.MEXC_SPOT, SYMBOLS[3]): ListingState.OFF,
    }
    assert parse_listing(None, SYMBOLS) == {} and parse_listing(" , ", SYMBOLS) == {}


@pytest.mark.parametrize("spec, message", [
    ("NEIRO001", "is not SYMBOL:VENUE=STATE"),
    ("NEIRO001:mexc_spot", "is not SYMBOL:VENUE=STATE"),
    ("NEIRO001:binance=absent", "unknown venue 'binance'"),
    ("NEIRO001:gate_spot=gone", "unknown state 'gone'"),
    ("NEIRO009:gate_spot=absent", "'NEIRO009' is not a served symbol"),
    ("bad/sym!:gate_spot=absent", "is not a served symbol"),
])
def test_bad_listing_specs_are_refused(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_listing(spec, SYMBOLS)


def test_sim_cli_refuses_a_bad_listing_with_exit_2(tmp_path, capsys):
    rc = main(["sim", "--home", str(tmp_path), "--alias-symbols", "3", "--alias-listing", "NEIRO007:gate_spot=off",
               "--quiet"])
    assert rc == 2 and "is not a served symbol" in capsys.readouterr().err


async def test_listing_states_in_each_venues_spelling(tmp_path, tiny_recording):
    server = SimServer(sim_dir=tmp_path / "sim", recording=read_recording(tiny_recording), replay=False,
                       alias_symbols=4, alias_listing="NEIRO001:gate_spot=absent,NEIRO002:gate_perp=delisted,"
                                                      "NEIRO003:mexc_spot=disabled,NEIRO003:gate_spot=off")
    await server.start()
    try:
        gate, mexc = server.endpoints["gate_spot"]["rest_url"], server.endpoints["mexc_spot"]["rest_url"]
        async with aiohttp.ClientSession() as s:
            async with s.get(gate + "/spot/currency_pairs") as r:
                pairs = {p["id"]: p["trade_status"] for p in await r.json()}
            async with s.get(gate + "/futures/usdt/contracts") as r:
                contracts = {c["name"]: c["status"] for c in await r.json()}
            async with s.get(mexc + "/api/v3/exchangeInfo") as r:
                info = {x["symbol"]: (x["status"], x["isSpotTradingAllowed"]) for x in (await r.json())["symbols"]}
            async with s.get(mexc + "/api/v3/defaultSymbols") as r:
                api = (await r.json())["data"]
    finally:
        await server.stop()
    assert pairs == {"NEIROETH_USDT": "tradable", "NEIRO002_USDT": "tradable", "NEIRO003_USDT": "untradable"}
    assert contracts["NEIRO002_USDT"] == "delisted" and contracts["NEIRO001_USDT"] == "trading"
    assert info["NEIRO003USDT"] == ("2", False) and info["NEIRO001USDT"] == ("1", True)
    assert sorted(api) == ["NEIRO001USDT", "NEIRO002USDT", "NEIROETHUSDT"]
