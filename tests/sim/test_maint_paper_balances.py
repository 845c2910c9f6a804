"""Paper mode end to end (background process fed by a fake live public feed on
127.0.0.1), starting balances (process default, --start-usdt, scenario header)
and ``sim reset``."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import urllib.error
import urllib.request
from decimal import Decimal as D

import pytest

from exchanges.models import VenueId
from exchanges.sim import process
from exchanges.sim.cli import sim_main
from exchanges.sim.recording.paper import paper_endpoints
from exchanges.sim.recording.format import read_recording
from exchanges.sim.server import SimServer
from tests.sim.conftest import SYM, gate_sign
from tests.sim.edge_fixtures import fake_live  # noqa: F401


def _get(url: str) -> dict | list:
    with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - loopback
        return json.loads(resp.read())


def _gate_signed(endpoints: dict, method: str, path: str, body: dict | None = None) -> dict:
    text = json.dumps(body) if body else ""
    ts = str(int(time.time()))
    ep = endpoints["gate_spot"]
    req = urllib.request.Request(ep["rest_url"] + path, data=text.encode() or None, method=method, headers={
        "KEY": ep["api_key"], "Timestamp": ts, "Content-Type": "application/json",
        "SIGN": gate_sign(ep["api_secret"], method, "/api/v4" + path.split("?")[0],
                          path.split("?", 1)[1] if "?" in path else "", text, ts)})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310 - loopback
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return {"http_status": exc.code, **json.loads(exc.read())}


@pytest.fixture
def home(tmp_path):
    yield tmp_path / "home"
    process.stop_sim(tmp_path / "home")


@pytest.mark.slow
async def test_background_paper_sim_is_fed_by_the_live_feed(home, fake_live):  # noqa: F811
    ep = await asyncio.to_thread(process.ensure_sim_running, home, paper_symbol="NEIROETH",
                                 paper_endpoints=fake_live, timeout_s=20)
    try:
        assert ep["scenario"] == "paper" and ep["symbols"] == ["NEIROETH"]
        health = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            health = await asyncio.to_thread(_get, ep["admin_url"] + "/_sim/health")
            if all(n >= 3 for n in health["paper"]["updates"].values()):
                break
            await asyncio.sleep(0.05)
        assert all(n >= 3 for n in health["paper"]["updates"].values()), health
        assert health["paper"]["malformed"] >= 1  # the fake's "not json" frame was counted
        # the books are the fake feed's tops (perp base 0.051, MEXC 0.049 + i/1e6)
        assert D(health["books"]["gate_perp"]["NEIROETHUSDT"]["bid"]) >= D("0.051")
        assert D("0.049") <= D(health["books"]["mexc_spot"]["NEIROETHUSDT"]["bid"]) < D("0.050")
        # symbol rules came from the fake's REST metadata (min_base_amount 10)
        pair = await asyncio.to_thread(_get, ep["gate_spot"]["rest_url"] + "/spot/currency_pairs/NEIROETH_USDT")
        assert D(pair["min_base_amount"]) == D(10)
        # a simulated fill against the live top, from the 1,000,000 USDT process default
        ask = D(health["books"]["gate_spot"]["NEIROETHUSDT"]["ask"])
        order = await asyncio.to_thread(_gate_signed, ep, "POST", "/spot/orders", {
            "currency_pair": "NEIROETH_USDT", "side": "buy", "amount": "100", "price": str(ask + D("0.001")),
            "time_in_force": "ioc", "text": "t-paper1"})
        assert order.get("finish_as") == "filled", order
        accounts = await asyncio.to_thread(_get, ep["admin_url"] + "/_sim/accounts")
        assert D(accounts[0]["balances"]["mexc_spot"]["USDT"]["free"]) == D(1_000_000)
        # a replay simulator is not silently handed out while the paper one runs
        with pytest.raises(process.SimProcessError, match="paper mode"):
            await asyncio.to_thread(process.ensure_sim_running, home)
    finally:  # stop before the fake feed shuts down (it waits for open streams)
        await asyncio.to_thread(process.stop_sim, home)


def test_paper_endpoints_parsing(monkeypatch):
    monkeypatch.delenv("ARB_SIM_PAPER_ENDPOINTS", raising=False)
    assert paper_endpoints() == {}
    monkeypatch.setenv("ARB_SIM_PAPER_ENDPOINTS", '{"mexc_ws": "ws://127.0.0.1:1/ws"}')
    assert paper_endpoints() == {"mexc_ws": "ws://127.0.0.1:1/ws"}
    assert paper_endpoints('{"gate_rest": "http://127.0.0.1:2/api/v4"}') == {"gate_rest": "http://127.0.0.1:2/api/v4"}
    for bad in ('{"bogus": "x"}', "[1]", "not json", '{"mexc_ws": 5}'):
        with pytest.raises(ValueError):
            paper_endpoints(bad)


def _args(home, **kw) -> argparse.Namespace:
    base = dict(action="run", scenario=None, symbol=None, port_base=0, speed=1.0, no_loop=False, json=True,
                home=home, quiet=True, paper=None, paper_endpoints=None, start_usdt=None)
    base.update(kw)
    return argparse.Namespace(**base)


def test_cli_refuses_bad_paper_endpoints_and_start_usdt(tmp_path, capsys):
    assert sim_main(_args(tmp_path, paper="NEIROETH", paper_endpoints='{"nope": "x"}')) == 2
    assert "unknown paper endpoint" in capsys.readouterr().err
    assert sim_main(_args(tmp_path, start_usdt="-5")) == 2
    assert sim_main(_args(tmp_path, start_usdt="lots")) == 2


async def test_starting_balances_flag_header_and_library_default(tmp_path, tiny_recording):
    rec = read_recording(tiny_recording)
    cases = [  # (server kwargs, header starting_balances, expected gate_perp USDT)
        ({}, None, D(10_000)),
        ({"fallback_balances": {v: {"USDT": D(1_000_000)} for v in VenueId}}, None, D(1_000_000)),
        ({"fallback_balances": {v: {"USDT": D(1_000_000)} for v in VenueId}},
         {"gate_perp": {"USDT": "250000"}, "gate_spot": {"USDT": "7", "NEIROETH": "1000"}}, D(250_000)),
        ({"starting_balances": {VenueId.GATE_PERP: {"USDT": D(42)}}}, {"gate_perp": {"USDT": "250000"}}, D(42)),
    ]
    for i, (kwargs, header_balances, expected) in enumerate(cases):
        rec.header.pop("starting_balances", None)
        if header_balances:
            rec.header["starting_balances"] = header_balances
        server = SimServer(sim_dir=tmp_path / f"s{i}", recording=rec, replay=False, **kwargs)
        await server.start()
        try:
            acc = server.engine.default_account.api_key
            assert server.engine.balances(acc, VenueId.GATE_PERP)["USDT"].free == expected, i
            if header_balances and "gate_spot" in header_balances and not kwargs.get("starting_balances"):
                assert server.engine.balances(acc, VenueId.GATE_SPOT)["NEIROETH"].free == D(1000)
        finally:
            await server.stop()


async def test_persisted_account_keeps_balances_until_reset(tmp_path, tiny_recording):
    home = tmp_path / "home"
    rec = read_recording(tiny_recording)
    big = {v: {"USDT": D(1_000_000)} for v in VenueId}
    server = SimServer(sim_dir=process.sim_dir(home), recording=rec, replay=False, fallback_balances=big)
    await server.start()
    key = server.engine.default_account.api_key
    server.engine.set_balance(key, VenueId.MEXC_SPOT, "USDT", D(5))  # a run spent it
    await server.stop()
    server = SimServer(sim_dir=process.sim_dir(home), recording=rec, replay=False, fallback_balances=big)
    await server.start()
    assert server.engine.default_account.api_key == key
    assert server.engine.balances(key, VenueId.MEXC_SPOT)["USDT"].free == D(5)
    await server.stop()
    assert sim_main(_args(home, action="reset")) == 0  # the CLI's `sim reset` (no simulator running)
    assert not (process.sim_dir(home) / "sim.sqlite").exists() and not (process.sim_dir(home) / "keys.json").exists()
    server = SimServer(sim_dir=process.sim_dir(home), recording=rec, replay=False, fallback_balances=big)
    await server.start()
    try:
        fresh = server.engine.default_account.api_key
        assert fresh != key and server.engine.balances(fresh, VenueId.MEXC_SPOT)["USDT"].free == D(1_000_000)
        assert server.engine.symbol_info(VenueId.GATE_SPOT, SYM)
    finally:
        await server.stop()
