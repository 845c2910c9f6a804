"""Benchmark support and hot-path changes: order arrival stamps before fault
latency (Gate and MEXC), admin book publish stamps + /_sim/book_log, the
off-loop SQLite writer (flush/close durability), the replay's yielding and
all-paused idling, and the set_book fast path staying equivalent to the full
recomputation."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sqlite3
import time
from decimal import Decimal as D
from urllib.parse import urlencode

import aiohttp

from exchanges.models import OrderType, Side, TimeInForce, VenueId
from exchanges.sim.engine import SimEngine
from exchanges.sim.recording.format import read_recording
from exchanges.sim.recording.replay import Replayer
from tests.sim.conftest import SYM, gate, sim, wait_for  # noqa: F401


async def _admin(sim, method: str, path: str, body=None):  # noqa: F811
    async with aiohttp.ClientSession() as s:
        async with s.request(method, sim.endpoints["admin_url"] + path, json=body) as resp:
            return resp.status, await resp.json()


async def _mexc_order(sim, session, cid: str, price: str = "0.0300"):  # noqa: F811
    ep = sim.endpoints["mexc_spot"]
    query = urlencode([("symbol", "NEIROETHUSDT"), ("side", "BUY"), ("type", "IMMEDIATE_OR_CANCEL"),
                       ("quantity", "100"), ("price", price), ("newClientOrderId", cid),
                       ("timestamp", str(int(time.time() * 1000)))])
    sig = hmac.new(ep["api_secret"].encode(), query.encode(), hashlib.sha256).hexdigest()
    async with session.post(f"{ep['rest_url']}/api/v3/order?{query}&signature={sig}",
                            headers={"X-MEXC-APIKEY": ep["api_key"]}) as resp:
        return resp.status, await resp.json()


async def test_orders_are_stamped_on_arrival_before_fault_latency(sim, gate):  # noqa: F811
    await _admin(sim, "POST", "/_sim/faults", {"venue": "*", "latency_ms": 120})
    async with aiohttp.ClientSession() as session:
        status, _ = await _mexc_order(sim, session, "lat-mexc")
        mexc_done_ns = time.perf_counter_ns()
    assert status == 200
    status, _ = await gate.call("POST", "/spot/orders", body={
        "currency_pair": "NEIROETH_USDT", "side": "buy", "amount": "100", "price": "0.0300",
        "time_in_force": "ioc", "text": "t-lat"})
    gate_done_ns = time.perf_counter_ns()
    assert status == 201
    _, log = await _admin(sim, "GET", "/_sim/orders")
    stamps = {o["client_order_id"]: o["recv_perf_ns"] for o in log}
    # the 120 ms of injected latency come AFTER the arrival stamp
    assert mexc_done_ns - stamps["lat-mexc"] >= 120_000_000
    assert gate_done_ns - stamps["t-lat"] >= 120_000_000


async def test_admin_book_publish_stamps_and_book_log(sim):  # noqa: F811
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(sim.endpoints["gate_spot"]["ws_url"])
        await ws.send_str(json.dumps({"time": int(time.time()), "channel": "spot.book_ticker", "event": "subscribe",
                                      "payload": ["NEIROETH_USDT"]}))
        while json.loads((await ws.receive(timeout=3)).data).get("event") != "subscribe":
            pass
        await ws.send_str(json.dumps({"time": int(time.time()), "channel": "spot.order_book_update",
                                      "event": "subscribe", "payload": ["NEIROETH_USDT", "20ms"]}))
        while json.loads((await ws.receive(timeout=3)).data).get("event") != "subscribe":
            pass
        before_ns = time.perf_counter_ns()
        status, entry = await _admin(sim, "POST", "/_sim/book", {"venue": "gate_spot", "bid": "0.0480",
                                                                 "ask": "0.0481", "tag": "edge-1"})
        assert status == 200 and entry["changed"] and entry["tag"] == "edge-1"
        assert before_ns <= entry["publish_perf_ns"] <= entry["fanout_done_perf_ns"] <= time.perf_counter_ns()
        while True:  # the client sees the published top
            frame = json.loads((await ws.receive(timeout=3)).data)
            if frame.get("channel") == "spot.book_ticker" and frame["result"]["b"] == "0.048":
                break
        assert frame["result"]["u"] == entry["update_id"]
        while True:  # and, up to 20 ms later, the merged order_book_update carrying it
            frame = json.loads((await ws.receive(timeout=3)).data)
            if frame.get("channel") == "spot.order_book_update" and frame["result"]["u"] >= entry["update_id"]:
                break
        status, _ = await _mexc_order(sim, session, "react-1")
        assert status == 200
        await ws.close()
    _, log = await _admin(sim, "GET", "/_sim/orders")
    recv_ns = next(o["recv_perf_ns"] for o in log if o["client_order_id"] == "react-1")
    assert recv_ns > entry["publish_perf_ns"]  # publish -> order-received is measurable
    status, book_log = await _admin(sim, "GET", "/_sim/book_log?limit=5")
    assert status == 200 and book_log[-1]["pushed_perf_ns"] > entry["fanout_done_perf_ns"]  # the merged push
    assert {k: v for k, v in book_log[-1].items() if k != "pushed_perf_ns"} == entry
    assert (await _admin(sim, "GET", "/_sim/book_log?limit=x"))[0] == 400


def _infos(tiny_recording):
    return read_recording(tiny_recording).rules.values()


def test_store_writes_are_committed_off_thread_and_on_flush(tmp_path, tiny_recording):
    db = tmp_path / "s.sqlite"
    eng = SimEngine(_infos(tiny_recording), db_path=db, keys_path=tmp_path / "k.json")
    key = eng.default_account.api_key
    for i in range(50):
        eng.place_order(key, VenueId.GATE_SPOT, SYM, Side.BUY, D(30), D("0.0400"), OrderType.LIMIT,
                        TimeInForce.GTC, client_order_id=f"t-w{i}")
    assert eng.flush()
    other = sqlite3.connect(str(db))
    try:
        texts = {r[0] for r in other.execute("SELECT client_order_id FROM orders")}
    finally:
        other.close()
    assert {f"t-w{i}" for i in range(50)} <= texts
    eng.place_order(key, VenueId.GATE_SPOT, SYM, Side.BUY, D(30), D("0.0400"), OrderType.LIMIT, TimeInForce.GTC,
                    client_order_id="t-last")
    eng.close()  # drains the writer
    eng = SimEngine(_infos(tiny_recording), db_path=db, keys_path=tmp_path / "k.json")
    try:
        assert len(eng.open_orders(key, VenueId.GATE_SPOT)) == 51
        assert eng.balances(key, VenueId.GATE_SPOT)["USDT"].locked == D("0.0400") * 30 * 51
        assert eng.store.write_errors == 0
    finally:
        eng.close()


def test_set_book_fast_path_matches_full_recompute(tiny_recording):
    eng = SimEngine(_infos(tiny_recording))
    key = eng.default_account.api_key
    seen = []
    eng.subscribe_book(VenueId.MEXC_SPOT, SYM, seen.append)
    eng.set_book(VenueId.MEXC_SPOT, SYM, [("0.0500", "100"), ("0.0499", "200")], [("0.0501", "100")])
    eng.set_book(VenueId.MEXC_SPOT, SYM, [(D("0.0500"), D("100")), (D("0.0498"), D("50"))],
                 [(D("0.0501"), D("100")), (D("0.0502"), D("0"))])
    assert seen[-1].bids == [(D("0.0499"), D(0)), (D("0.0498"), D(50))] and seen[-1].asks == []
    # consume part of the ask, then a feed update that keeps that level: the consumption stays hidden
    eng.place_order(key, VenueId.MEXC_SPOT, SYM, Side.BUY, D(40), D("0.0501"), OrderType.LIMIT, TimeInForce.IOC)
    assert eng.book(VenueId.MEXC_SPOT, SYM)[1] == [(D("0.0501"), D(60))]
    eng.set_book(VenueId.MEXC_SPOT, SYM, [(D("0.0500"), D("100"))], [(D("0.0501"), D("100")), (D("0.0503"), D(7))])
    assert eng.book(VenueId.MEXC_SPOT, SYM)[1] == [(D("0.0501"), D(60)), (D("0.0503"), D(7))]
    eng.set_book(VenueId.MEXC_SPOT, SYM, [(D("0.0500"), D("100"))], [(D("0.0501"), D("90"))])  # level changed
    assert eng.book(VenueId.MEXC_SPOT, SYM)[1] == [(D("0.0501"), D(90))]
    ids = [u.first_id for u in seen]
    assert ids == list(range(1, len(ids) + 1))
    eng.close()


async def test_flat_out_replay_yields_and_idles_when_all_paused(tiny_recording):
    rec = read_recording(tiny_recording)
    eng = SimEngine(rec.rules.values())
    replayer = Replayer(eng, rec, speed=0, loop=True)
    replayer.paused.update(rec.rules)
    task = asyncio.get_running_loop().create_task(replayer.run())
    try:
        ticks = 0
        for _ in range(20):  # the loop stays responsive while everything is paused
            await asyncio.sleep(0.001)
            ticks += 1
        assert replayer.events_applied == 0 and ticks == 20
        replayer.paused.clear()
        await wait_for(lambda: replayer.loops >= 3, timeout_s=5)
        assert replayer.events_applied >= 3 * 18
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        eng.close()


def test_order_log_limit_and_venue_filter(tiny_recording):
    eng = SimEngine(_infos(tiny_recording))
    key = eng.default_account.api_key
    for i in range(3):
        for venue, cid in ((VenueId.GATE_SPOT, f"t-g{i}"), (VenueId.MEXC_SPOT, f"m{i}")):
            eng.place_order(key, venue, SYM, Side.BUY, D(30), D("0.0400"), OrderType.LIMIT, TimeInForce.GTC,
                            client_order_id=cid)
    assert [o.client_order_id for o in eng.order_log(2, VenueId.MEXC_SPOT)] == ["m1", "m2"]
    assert [o.client_order_id for o in eng.order_log(3)] == ["m1", "t-g2", "m2"]
    assert len(eng.order_log()) == 6 and eng.order_log(0) == []
    eng.close()


async def test_book_log_tells_when_a_mexc_change_was_pushed(sim):  # noqa: F811
    """MEXC ``aggre`` topics push once per interval: book_log's ``pushed_perf_ns`` is the
    send time of the first push that carried the change or a later state of the book."""
    topic = "spot@public.aggre.bookTicker.v3.api.pb@10ms@NEIROETHUSDT"
    async with aiohttp.ClientSession() as session:
        _, unseen = await _admin(sim, "POST", "/_sim/book", {"venue": "mexc_spot", "bid": "0.0481", "ask": "0.0482"})
        async with session.ws_connect(sim.endpoints["mexc_spot"]["ws_url"]) as ws:
            await ws.send_str(json.dumps({"method": "SUBSCRIPTION", "params": [topic]}))
            while (await ws.receive(timeout=3)).type is not aiohttp.WSMsgType.TEXT:
                pass  # the subscription ack
            _, entry = await _admin(sim, "POST", "/_sim/book", {"venue": "mexc_spot", "bid": "0.0479", "ask": "0.0482"})
            while (await ws.receive(timeout=3)).type is not aiohttp.WSMsgType.BINARY:
                pass
            received_ns = time.perf_counter_ns()
    _, log = await _admin(sim, "GET", "/_sim/book_log?limit=5")
    by_id = {e["update_id"]: e for e in log}
    pushed_ns = by_id[entry["update_id"]]["pushed_perf_ns"]
    assert entry["publish_perf_ns"] + 9_000_000 <= pushed_ns <= received_ns
    assert by_id[unseen["update_id"]]["pushed_perf_ns"] == pushed_ns  # nobody subscribed before: superseded
