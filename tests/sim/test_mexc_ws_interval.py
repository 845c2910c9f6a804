"""The simulator's MEXC aggre topics honour their interval (docs/venues.md 4.3):
``@10ms`` aggregates ~10 ms of book changes per push, ``@100ms`` ~100 ms."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp

from exchanges.mexc.proto import mexc_push_pb2 as pb
from tests.sim.edge_fixtures import MEXC, SYM, mexc  # noqa: F401

DEPTH_10 = "spot@public.aggre.depth.v3.api.pb@10ms@NEIROETHUSDT"
DEPTH_100 = "spot@public.aggre.depth.v3.api.pb@100ms@NEIROETHUSDT"
BT_10 = "spot@public.aggre.bookTicker.v3.api.pb@10ms@NEIROETHUSDT"


async def _next_binary(ws, timeout_s: float = 2.0) -> pb.PushDataV3ApiWrapper:
    while True:
        msg = await asyncio.wait_for(ws.receive(), timeout_s)
        if msg.type is aiohttp.WSMsgType.BINARY:
            return pb.PushDataV3ApiWrapper.FromString(msg.data)
        if msg.type is not aiohttp.WSMsgType.TEXT:
            raise ConnectionError(f"closed: {msg.type}")


async def _subscribe(ws, *topics: str) -> None:
    await ws.send_str(json.dumps({"method": "SUBSCRIPTION", "params": list(topics)}))
    ack = json.loads((await asyncio.wait_for(ws.receive(), 2.0)).data)
    assert ack["msg"] == ",".join(topics)


async def test_10ms_depth_aggregates_a_burst_into_one_push(mexc):
    async with mexc.session.ws_connect(mexc.ws_url) as ws:
        await _subscribe(ws, DEPTH_10)
        first_id = mexc.engine.book(MEXC, SYM)[2] + 1
        for i in range(5):  # one synchronous burst: all inside one 10 ms window
            mexc.set_book([("0.050000", str(1000 + i))], [("0.050010", "1000")])
        push = await _next_binary(ws)
        depth = push.publicAggreDepths
        assert push.channel == DEPTH_10 and depth.eventType == "spot@public.aggre.depth.v3.api.pb@10ms"
        assert (int(depth.fromVersion), int(depth.toVersion)) == (first_id, first_id + 4)
        assert [(b.price, b.quantity) for b in depth.bids] == [("0.05", "1004"), ("0.04999", "0")]  # net change


async def test_10ms_topic_pushes_before_the_100ms_one(mexc):
    """Both windows open on the same change; the 10 ms push must come first, the
    100 ms one carries the same versions (same counter)."""
    async with mexc.session.ws_connect(mexc.ws_url) as ws:
        await _subscribe(ws, DEPTH_100, DEPTH_10, BT_10)
        mexc.set_book([("0.050000", "777")], [("0.050010", "1000")])
        channels = [(await _next_binary(ws)).channel for _ in range(3)]
        assert channels.index(DEPTH_10) < channels.index(DEPTH_100)
        assert channels.index(BT_10) < channels.index(DEPTH_100)


async def test_each_aggregated_push_is_logged_with_its_send_time(mexc):
    """``/_sim/book_log``'s ``pushed_perf_ns`` for MEXC comes from this log: the push that
    carried a change is stamped when it is sent, one interval after the change."""
    from exchanges.sim.mexc.context import MEXC_CONTEXT

    push_log = mexc.app[MEXC_CONTEXT].push_log
    async with mexc.session.ws_connect(mexc.ws_url) as ws:
        await _subscribe(ws, BT_10)
        changed_ns = time.perf_counter_ns()
        mexc.set_book([("0.050000", "4242")], [("0.050010", "1000")])
        version = mexc.engine.book(MEXC, SYM)[2]
        push = await _next_binary(ws)
        received_ns = time.perf_counter_ns()
    assert push.publicAggreBookTicker.bidQuantity == "4242"
    venue, symbol, last_id, sent_ns = push_log[-1]
    assert (venue, symbol, last_id) == ("mexc_spot", str(SYM), version)
    assert changed_ns + 9_000_000 <= sent_ns <= received_ns  # sent after the 10 ms window, before it arrived
