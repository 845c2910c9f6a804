"""Simulator speed: book updates per second published to one WebSocket client,
and the round-trip time of a place-order request, on loopback.

Runs the whole simulator in-process (``SimServer``, in-memory state, ephemeral
ports) on the bundled ``neiroeth`` scenario replayed as fast as possible, then:

1. Gate spot ``spot.order_book_update`` (one frame per book change) for
   ``--seconds``: frames/s received and book update ids/s covered;
2. MEXC ``spot@public.aggre.depth.v3.api.pb@10ms`` protobuf pushes/s (each
   aggregates up to 10 ms of changes, as the venue does);
3. ``--orders`` signed ``POST /api/v3/order`` (MEXC, IOC far from the book,
   so nothing fills) one after another on a keep-alive connection: p50/p99/max
   round-trip ms, first while the replay runs flat out (worst case: the loop
   is busy publishing books), then with the replay paused.

Usage: ``python bench/sim.py [--seconds 3] [--orders 300]``. Numbers depend on
the machine; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402

from exchanges.mexc.proto import mexc_push_pb2 as pb  # noqa: E402
from exchanges.sim.server import SimServer  # noqa: E402


async def gate_book_rate(ws_url: str, seconds: float) -> tuple[float, float]:
    frames, ids, first_u, last_u = 0, 0, None, None
    async with aiohttp.ClientSession() as s, s.ws_connect(ws_url) as ws:
        await ws.send_str(json.dumps({"time": int(time.time()), "channel": "spot.order_book_update",
                                      "event": "subscribe", "payload": ["NEIROETH_USDT", "100ms"]}))
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            try:
                msg = await ws.receive(timeout=0.5)
            except asyncio.TimeoutError:
                continue
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(msg.data)
            if data.get("event") == "update":
                frames += 1
                result = data["result"]
                first_u = result["U"] if first_u is None else first_u
                last_u = result["u"]
        elapsed = time.perf_counter() - start
    if first_u is not None:
        ids = last_u - first_u + 1
    return frames / elapsed, ids / elapsed


async def mexc_depth_rate(ws_url: str, seconds: float) -> float:
    pushes = 0
    topic = "spot@public.aggre.depth.v3.api.pb@10ms@NEIROETHUSDT"
    async with aiohttp.ClientSession() as s, s.ws_connect(ws_url) as ws:
        await ws.send_str(json.dumps({"method": "SUBSCRIPTION", "params": [topic]}))
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            try:
                msg = await ws.receive(timeout=0.5)
            except asyncio.TimeoutError:
                continue
            if msg.type is aiohttp.WSMsgType.BINARY:
                if pb.PushDataV3ApiWrapper.FromString(msg.data).WhichOneof("body") == "publicAggreDepths":
                    pushes += 1
            elif msg.type is not aiohttp.WSMsgType.TEXT:
                break
        elapsed = time.perf_counter() - start
    return pushes / elapsed


async def order_rtt_ms(rest_url: str, api_key: str, secret: str, count: int, tag: str) -> list[float]:
    rtts = []
    async with aiohttp.ClientSession() as s:
        for i in range(count):
            params = [("symbol", "NEIROETHUSDT"), ("side", "BUY"), ("type", "IMMEDIATE_OR_CANCEL"),
                      ("quantity", "100"), ("price", "0.03"), ("newClientOrderId", f"bench-{tag.strip()}-{i}"),
                      ("timestamp", str(int(time.time() * 1000))), ("recvWindow", "5000")]
            query = urlencode(params)
            sig = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
            t0 = time.perf_counter()
            async with s.post(f"{rest_url}/api/v3/order?{query}&signature={sig}",
                              headers={"X-MEXC-APIKEY": api_key}) as resp:
                await resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"order refused: {resp.status} {await resp.text()}")
            rtts.append((time.perf_counter() - t0) * 1000)
    return rtts


async def main(seconds: float, orders: int) -> None:
    server = SimServer(sim_dir=None, scenario="neiroeth", speed=0, loop=True)
    endpoints = await server.start()
    try:
        frames_s, ids_s = await gate_book_rate(endpoints["gate_spot"]["ws_url"], seconds)
        print(f"gate_spot spot.order_book_update: {frames_s:,.0f} frames/s to one client "
              f"({ids_s:,.0f} book update ids/s)")
        pushes_s = await mexc_depth_rate(endpoints["mexc_spot"]["ws_url"], seconds)
        print(f"mexc_spot aggre.depth@10ms protobuf: {pushes_s:,.0f} pushes/s to one client")
        ep = endpoints["mexc_spot"]
        for label in ("replay flat out", "replay paused"):
            if label == "replay paused":
                server.ctx.replayer.paused.update(server.recording.rules)
            rtts = await order_rtt_ms(ep["rest_url"], ep["api_key"], ep["api_secret"], orders, label.split()[1][:6])
            q = statistics.quantiles(rtts, n=100)
            print(f"mexc_spot POST /api/v3/order round trip, {len(rtts)} orders ({label}): "
                  f"p50 {statistics.median(rtts):.2f} ms, p99 {q[98]:.2f} ms, max {max(rtts):.2f} ms")
    finally:
        await server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--orders", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.orders))
