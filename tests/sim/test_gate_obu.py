"""Gate order_book_update fidelity (docs/venues.md 2.5): subscribed interval and
level honoured, others refused with error code 2, one merged frame per
interval, and a client applying the frames to a ``limit=level`` snapshot holds
exactly the simulator's top-``level`` book."""

from __future__ import annotations

import random
from decimal import Decimal as D

import aiohttp
import pytest

from exchanges.book import L2Book
from exchanges.models import VenueId
from exchanges.sim.gate.obu import ObuArgumentError, parse_payload
from tests.sim.conftest import SYM, wait_for
from tests.sim.test_gate_ws import WsReader

SPOT, PERP = VenueId.GATE_SPOT, VenueId.GATE_PERP


@pytest.mark.parametrize("payload,futures,spec", [
    (["NEIROETH_USDT", "20ms"], False, (20, 20)),
    (["neiroeth_usdt", "100ms"], False, (100, 100)),
    (["NEIROETH_USDT", "100ms", "100"], False, (100, 100)),
    (["NEIROETH_USDT", "100ms", "50"], True, (100, 50)),
    (["NEIROETH_USDT", "100ms"], True, (100, 100)),
    (["NEIROETH_USDT", "20ms", "20"], True, (20, 20)),
])
def test_payloads_the_venue_accepts(payload, futures, spec):
    parsed = parse_payload(payload, futures)
    assert (parsed.venue_symbol, parsed.interval_ms, parsed.level) == ("NEIROETH_USDT", *spec)


@pytest.mark.parametrize("payload,futures", [
    (["NEIROETH_USDT", "1000ms"], False), (["NEIROETH_USDT", "bogus"], False), (["NEIROETH_USDT", "20ms", "100"], False),
    (["NEIROETH_USDT", "100ms", "10"], True), (["NEIROETH_USDT", "20ms", "100"], True), (["NEIROETH_USDT", "1s"], True),
    ([], False),
])
def test_payloads_the_venue_refuses(payload, futures):
    with pytest.raises(ObuArgumentError):
        parse_payload(payload, futures)


async def test_refused_over_the_wire_with_code_2(sim):
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(sim.endpoints["gate_spot"]["ws_url"]) as ws:
            r = WsReader(ws)
            for i, interval in enumerate(("1000ms", "bogus"), start=1):
                bad = await r.send("spot.order_book_update", payload=["NEIROETH_USDT", interval], req_id=i)
                assert bad["error"]["code"] == 2 and bad["result"] == {"status": "fail"}
        async with session.ws_connect(sim.endpoints["gate_perp"]["ws_url"]) as ws:
            r = WsReader(ws)
            bad = await r.send("futures.order_book_update", payload=["NEIROETH_USDT", "100ms", "10"])
            assert bad["error"]["code"] == 2
    assert not sim.gate_hubs[0].obu.groups and not sim.gate_hubs[1].obu.groups


async def test_level_window_and_interval(sim):
    """20 levels: a change beyond the 20th level is not pushed; a level pushed out of
    the window is deleted (0); two subscriptions of different intervals both merge."""
    bids = [(D("0.0500") - D(i) * D("0.0001"), D(100 + i)) for i in range(30)]
    asks = [(D("0.0501") + D(i) * D("0.0001"), D(100 + i)) for i in range(30)]
    sim.engine.set_book(SPOT, SYM, bids, asks)
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(sim.endpoints["gate_spot"]["ws_url"]) as fast_ws, \
                session.ws_connect(sim.endpoints["gate_spot"]["ws_url"]) as slow_ws:
            fast, slow = WsReader(fast_ws), WsReader(slow_ws)
            await fast.send("spot.order_book_update", payload=["NEIROETH_USDT", "20ms"])
            await slow.send("spot.order_book_update", payload=["NEIROETH_USDT", "100ms"])
            deep = bids[25][0]
            sim.engine.set_book(SPOT, SYM, bids[:25] + [(deep, D(7))] + bids[26:], asks)  # 26th level only
            await wait_for(lambda: slow.of("spot.order_book_update"))  # 100 ms: the 20 ms group went long before
            assert fast.of("spot.order_book_update") == []  # outside the 20-level window
            assert len(slow.of("spot.order_book_update")) == 1  # inside the 100-level one
            better = D("0.05005")
            sim.engine.set_book(SPOT, SYM, [(better, D(1))] + bids, asks)  # a new best bid pushes #20 out
            frames = await wait_for(lambda: fast.of("spot.order_book_update"))
            slow_seen = len(slow.of("spot.order_book_update"))
            result = frames[0]["result"]
            assert result["l"] == "20"
            assert ["0.05005", "1"] in result["b"] and [str(bids[19][0]), "0"] in result["b"]
            assert slow_seen == 1  # the 20 ms group did not wait for the 100 ms one
            slow_frames = await wait_for(lambda: len(slow.of("spot.order_book_update")) >= 2
                                         and slow.of("spot.order_book_update"))
            assert slow_frames[-1]["result"]["l"] == "100" and ["0.05005", "1"] in slow_frames[-1]["result"]["b"]


@pytest.mark.parametrize("venue,interval,level", [(SPOT, "20ms", 20), (PERP, "20ms", 20), (PERP, "100ms", 50)])
async def test_frames_on_a_level_snapshot_rebuild_the_venue_book(sim, gate, venue, interval, level):
    """Random book changes (some deep, some crossing the window edge), some within one
    interval, some apart; the client's book must equal the venue's top-``level``."""
    rng = random.Random(7)
    futures = venue is PERP
    prefix = "futures" if futures else "spot"

    def random_book() -> tuple[list, list]:
        n_b, n_a = rng.randint(level - 5, level + 15), rng.randint(level - 5, level + 15)
        bids = [(D("0.0500") - D(i) * D("0.0001"), D(rng.randint(1, 50))) for i in range(n_b + 10)]
        asks = [(D("0.0501") + D(i) * D("0.0001"), D(rng.randint(1, 50))) for i in range(n_a + 10)]
        return rng.sample(bids, n_b), rng.sample(asks, n_a)

    sim.engine.set_book(venue, SYM, *random_book())
    endpoint = sim.endpoints[venue.value]
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(endpoint["ws_url"], headers={"X-Gate-Size-Decimal": "1"}) as ws:
            r = WsReader(ws)
            payload = ["NEIROETH_USDT", interval] + ([str(level)] if futures else [])
            await r.send(f"{prefix}.order_book_update", payload=payload)
            path = "/futures/usdt/order_book" if futures else "/spot/order_book"
            key = "contract" if futures else "currency_pair"
            _, snap = await gate.call("GET", path, f"{key}=NEIROETH_USDT&limit={level}&with_id=true", signed=False)
            book = L2Book()

            def levels(side: list) -> list:
                return [(D(x["p"]), D(x["s"])) if futures else (D(x[0]), D(x[1])) for x in side]

            book.apply_snapshot(levels(snap["bids"]), levels(snap["asks"]), snap["id"], 0)
            applied = 0
            for step in range(24):
                sim.engine.set_book(venue, SYM, *random_book())
                if step % 3 == 2:  # let this interval's frame go before the next changes
                    await wait_for(lambda: not any(g.scheduled for g in sim.gate_hubs[futures].obu.groups.values()))
            await wait_for(lambda: not any(g.scheduled for g in sim.gate_hubs[futures].obu.groups.values()))
            frames = await wait_for(lambda: r.of(f"{prefix}.order_book_update"))
            await wait_for(lambda: r.of(f"{prefix}.order_book_update")[-1]["result"]["u"]
                           == sim.engine.book(venue, SYM)[2])
            for frame in r.of(f"{prefix}.order_book_update"):
                res = frame["result"]
                assert res["l"] == str(level)
                outcome = book.apply_diff(res["U"], res["u"], levels(res["b"]), levels(res["a"]), 0)
                applied += outcome.name == "APPLIED"
            assert applied >= 8 and len(frames) <= 24
            want_b, want_a, want_id = sim.engine.book(venue, SYM, level)
            got_b, got_a = book.depth(level)
            assert book.seq == want_id and got_b == want_b and got_a == want_a
