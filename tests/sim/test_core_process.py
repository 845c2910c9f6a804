"""Background simulator process: start, reuse, persistence across a restart, stop; replay driver."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from decimal import Decimal as D

import pytest

from exchanges.models import VenueId
from exchanges.sim import process
from exchanges.sim.engine import SimEngine
from exchanges.sim.recording.format import read_recording
from exchanges.sim.recording.replay import Replayer
from tests.sim.conftest import SYM, gate_sign


def _signed(endpoints: dict, method: str, path: str, body: dict | None = None) -> dict:
    text = json.dumps(body) if body else ""
    ts = str(int(time.time()))
    ep = endpoints["gate_spot"]
    req = urllib.request.Request(ep["rest_url"] + path, data=text.encode() or None, method=method, headers={
        "KEY": ep["api_key"], "Timestamp": ts, "Content-Type": "application/json",
        "SIGN": gate_sign(ep["api_secret"], method, "/api/v4" + path.split("?")[0],
                          path.split("?", 1)[1] if "?" in path else "", text, ts)})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


@pytest.fixture
def home(tmp_path):
    yield tmp_path / "home"
    process.stop_sim(tmp_path / "home")


@pytest.mark.slow
def test_background_sim_restart_keeps_accounts_and_orders(home, tiny_recording):
    first = process.ensure_sim_running(home, scenario=str(tiny_recording), speed=0, start_usdt="123456")
    assert process.ensure_sim_running(home, scenario=str(tiny_recording))["pid"] == first["pid"]  # reused
    placed = _signed(first, "POST", "/spot/orders", {"currency_pair": "NEIROETH_USDT", "side": "buy",
                                                     "amount": "100", "price": "0.0400", "text": "t-persist"})
    assert placed["status"] == "open"
    assert process.stop_sim(home) and process.sim_status(home) is None
    second = process.ensure_sim_running(home, scenario=str(tiny_recording))
    assert second["pid"] != first["pid"] and second["gate_spot"]["api_key"] == first["gate_spot"]["api_key"]
    again = _signed(second, "GET", "/spot/orders/t-persist?currency_pair=NEIROETH_USDT")
    assert again["id"] == placed["id"] and again["status"] == "open"
    usdt = next(a for a in _signed(second, "GET", "/spot/accounts") if a["currency"] == "USDT")
    assert D(usdt["locked"]) == D("4") and D(usdt["available"]) == D("123456") - D("4")


def test_unknown_scenario_fails_clearly(home):
    with pytest.raises(process.SimProcessError) as err:
        process.ensure_sim_running(home, scenario="no-such-scenario", timeout_s=15)
    assert "available scenarios" in str(err.value)


async def test_replay_drives_books_and_holds(tmp_path, tiny_recording):
    rec = read_recording(tiny_recording)
    engine = SimEngine(rec.rules.values())
    seen = []
    engine.subscribe_book(VenueId.GATE_SPOT, SYM, seen.append)
    replayer = Replayer(engine, rec, speed=0, loop=False)
    await asyncio.wait_for(replayer.run(), 5)
    assert replayer.finished and replayer.events_applied == 18
    ids = [u.first_id for u in seen]
    assert ids == list(range(1, len(ids) + 1)) and len(ids) >= 3
    bids, asks, _ = engine.book(VenueId.GATE_SPOT, SYM)
    assert [p for p, _ in bids] == [D("0.0499"), D("0.0498")]  # the last snapshot is held
    engine.close()
