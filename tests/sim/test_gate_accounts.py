"""Gate account modes in the simulator (docs/venues.md 1.11), Gate-style JSON for
unrouted requests (1.2), and the futures history replay behind account_book and
position_close (1.10)."""

from __future__ import annotations

from decimal import Decimal as D

import aiohttp

from exchanges.models import Side, VenueId
from exchanges.sim.engine.types import SimFill, SimFunding
from exchanges.sim.gate.futures_history import account_book_json, replay
from tests.sim.conftest import SYM

ORDER = {"currency_pair": "NEIROETH_USDT", "side": "buy", "amount": "40", "price": "0.0490"}


async def test_unrouted_requests_answer_gate_json(sim):
    base = sim.endpoints["gate_spot"]["rest_url"]
    async with aiohttp.ClientSession() as s:
        async with s.get(base + "/spot/no_such_thing") as resp:
            assert resp.status == 404 and (await resp.json())["label"] == "NOT_FOUND"
        async with s.patch(base + "/spot/time") as resp:
            body = await resp.json()
            assert resp.status == 405 and body["label"] == "METHOD_NOT_ALLOWED" and body["message"]


async def test_classic_account_trades_from_spot_only(sim, gate):
    status, mode = await gate.call("GET", "/unified/unified_mode")
    assert status == 200 and mode["mode"] == "classic" and mode["settings"]["usdt_futures"] is False
    status, err = await gate.call("POST", "/spot/orders", body={**ORDER, "account": "unified", "text": "t-u0"})
    assert status == 400 and err["label"] == "INVALID_PARAM_VALUE"
    status, order = await gate.call("POST", "/spot/orders", body={**ORDER, "text": "t-c1"})
    assert status == 201 and order["account"] == "spot"


async def test_unified_mode_pools_spot_and_futures_balances(sim, gate):
    eng = sim.engine
    key = eng.default_account.api_key
    status, _ = await gate.call("POST", "/spot/orders", body={**ORDER, "text": "t-busy"})
    assert status == 201
    status, err = await gate.call("PUT", "/unified/unified_mode", body={"mode": "multi_currency"})
    assert status == 400 and "open orders" in err["message"]  # a switch needs a flat account
    await gate.call("DELETE", "/spot/orders")
    status, _ = await gate.call("PUT", "/unified/unified_mode", body={"mode": "multi_currency"})
    assert status == 204 and eng.default_account.gate_mode == "multi_currency"
    status, mode = await gate.call("GET", "/unified/unified_mode")
    assert mode["mode"] == "multi_currency" and mode["settings"]["usdt_futures"] is True

    status, unified = await gate.call("GET", "/unified/accounts")
    assert status == 200 and unified["balances"]["USDT"]["available"] == "20000"  # spot 10000 + futures 10000
    status, spot_accounts = await gate.call("GET", "/spot/accounts")
    assert status == 200 and spot_accounts == []
    status, err = await gate.call("POST", "/spot/orders", body={**ORDER, "account": "spot", "text": "t-u1"})
    assert status == 400 and "unified" in err["message"]
    status, order = await gate.call("POST", "/spot/orders", body={**ORDER, "account": "unified", "text": "t-u2"})
    assert status == 201 and order["account"] == "unified"
    status, order = await gate.call("POST", "/spot/orders", body={**ORDER, "text": "t-u3"})  # default: unified
    assert status == 201 and order["account"] == "unified"

    # a futures order's margin comes out of the same pool
    status, _ = await gate.call("POST", "/futures/usdt/orders", body={"contract": "NEIROETH_USDT", "size": 10,
                                                                      "price": "0.0501", "tif": "ioc"})
    assert status == 201
    _, unified = await gate.call("GET", "/unified/accounts", "currency=USDT")
    usdt = unified["balances"]["USDT"]
    pos = eng.positions(key, VenueId.GATE_PERP, SYM)[0]
    assert set(unified["balances"]) == {"USDT"} and D(usdt["freeze"]) == D("3.92") + pos.margin  # 2 x 40 x 0.049
    _, fut = await gate.call("GET", "/futures/usdt/accounts")
    assert D(fut["available"]) == D(usdt["available"])
    assert eng.balances(key, VenueId.GATE_PERP) == eng.balances(key, VenueId.GATE_SPOT)


async def test_mode_survives_a_restart_of_the_engine(sim):
    eng = sim.engine
    eng.set_gate_mode(eng.default_account.api_key, "single_currency")
    from exchanges.sim.engine.store import load_keys

    [saved] = load_keys(sim.sim_dir / "keys.json")
    assert saved.gate_mode == "single_currency" and saved.gate_unified


def _fill(trade_id: int, side: Side, qty: str, price: str, fee: str, ts_ms: int, text: str = "") -> SimFill:
    return SimFill(trade_id, trade_id, 1, VenueId.GATE_PERP, SYM, side, D(price), D(qty), D(qty) * 10, D(fee),
                   "USDT", False, ts_ms, text)


def test_history_replay_closes_flips_and_counts_back_balances():
    fills = [_fill(1, Side.SELL, "3", "2.0", "0.1", 1000, "t-open"),   # short 3 @ 2.0
             _fill(2, Side.BUY, "1", "1.5", "0.1", 2000),               # reduce: +1 x 10 x 0.5 = 5
             _fill(3, Side.BUY, "4", "1.0", "0.1", 3000, "t-flip")]     # close 2 (+20) and go long 2 @ 1.0
    funding = [SimFunding(1, VenueId.GATE_PERP, SYM, D("-0.3"), D("0.001"), 2500, D(-2), D("1.5"))]
    entries, closes = replay(fills, funding, {SYM: D(10)})
    assert [(e.kind, e.change) for e in entries] == [
        ("fee", D("-0.1")), ("fee", D("-0.1")), ("pnl", D("5.0")), ("fund", D("-0.3")), ("fee", D("-0.1")),
        ("pnl", D("20.0"))]
    [close] = closes
    assert (close["side"], close["accum_size"], close["max_size"], close["text"]) == ("short", "3", "3", "t-flip")
    assert (D(close["pnl_pnl"]), D(close["pnl_fee"]), D(close["pnl_fund"])) == (D(25), D("-0.3"), D("-0.3"))
    assert D(close["short_price"]) == D(2) and D(close["long_price"]) == D("1.166666666666666666666666667")
    book = account_book_json(entries, D(100))
    assert [D(e["balance"]) for e in book] == [D(100), D(80), D("80.1"), D("80.4"), D("75.4"), D("75.5")]


async def test_server_option_starts_the_account_in_a_unified_mode(tmp_path, tiny_recording):
    from exchanges.sim.recording.format import read_recording
    from exchanges.sim.server import SimServer

    server = SimServer(sim_dir=tmp_path / "u", recording=read_recording(tiny_recording), replay=False,
                       gate_account_mode="multi_currency")
    await server.start()
    try:
        acc = server.engine.default_account
        assert acc.gate_unified and acc.gate_mode == "multi_currency"
        assert server.engine.balances(acc.api_key, VenueId.GATE_PERP) == server.engine.balances(
            acc.api_key, VenueId.GATE_SPOT)
    finally:
        await server.stop()
