"""Simulator speed: book updates per second published to one WebSocket client,
and the round-trip time of a place-order request, on loopback.

Runs the whole simulator in-process (``SimServer``, in-memory state, ephemeral
ports) on the bundled ``neiroeth`` scenario replayed as fast as possible, then:

1. Gate spot ``spot.order_book_update`` at ``20ms`` (one merged frame per 20 ms
   interval, as the venue sends them; docs/venues.md 2.5) for ``--seconds``:
   frames/s received and book update ids/s covered;
2. MEXC ``spot@public.aggre.depth.v3.api.pb@10ms`` protobuf pushes/s (each
   aggregates up to 10 ms of changes, as the venue does);
3. ``--orders`` signed ``POST /api/v3/order`` (MEXC, IOC far from the book,
   so nothing fills) one after another on a keep-alive connection: p50/p99/max
   round-trip ms, first while the replay runs flat out (worst case: the loop
   is busy publishing books), then with the replay paused.

The in-process simulator persists to a temporary SQLite store (as the real
one does). Then, unless ``--no-process``, the same simulator runs as a
SEPARATE process (``python -m exchanges.sim``, once per ``--process-speeds``
value: 0 = replay flat out on gate_perp and mexc_spot, the worst case; 1 =
the real-time replay a task run sees) and measures:

4. the same MEXC order round trip from this process;
5. reaction: ``POST /_sim/book`` on gate_spot (admin, stamps
   ``publish_perf_ns``) -> this process receives the ``spot.book_ticker``
   frame and at once sends a MEXC order -> the simulator stamps the order's
   ``recv_perf_ns`` on arrival. ``recv_perf_ns - publish_perf_ns``
   (``time.perf_counter_ns``, CLOCK_MONOTONIC, same clock machine-wide on
   Linux) is the simulator-side + minimal-client reaction latency, p50/p99.

Usage: ``python bench/sim.py [--seconds 3] [--orders 300] [--reactions 200]
[--no-process] [--process-speeds 0,1]``. Numbers depend on the machine; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import statistics
import subprocess
import sys
import tempfile
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
                                      "event": "subscribe", "payload": ["NEIROETH_USDT", "20ms"]}))
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
            signed = _order_query(secret, f"bench-{tag.strip()}-{i}")
            t0 = time.perf_counter()
            async with s.post(f"{rest_url}/api/v3/order?{signed}",
                              headers={"X-MEXC-APIKEY": api_key}) as resp:
                await resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"order refused: {resp.status} {await resp.text()}")
            rtts.append((time.perf_counter() - t0) * 1000)
    return rtts


def _order_query(secret: str, cid: str) -> str:
    params = [("symbol", "NEIROETHUSDT"), ("side", "BUY"), ("type", "IMMEDIATE_OR_CANCEL"),
              ("quantity", "100"), ("price", "0.03"), ("newClientOrderId", cid),
              ("timestamp", str(int(time.time() * 1000))), ("recvWindow", "5000")]
    query = urlencode(params)
    return f"{query}&signature={hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()}"


def _summary(values_ms: list[float]) -> str:
    q = statistics.quantiles(values_ms, n=100)
    return f"p50 {statistics.median(values_ms):.2f} ms, p99 {q[98]:.2f} ms, max {max(values_ms):.2f} ms"


async def reaction_ms(endpoints: dict, count: int) -> list[float]:
    """Admin publishes a gate_spot top; on its book_ticker frame we send a MEXC
    order at once; latency = order recv_perf_ns - publish_perf_ns."""
    ep = endpoints["mexc_spot"]
    admin = endpoints["admin_url"]
    published: dict[str, int] = {}
    async with aiohttp.ClientSession() as s, s.ws_connect(endpoints["gate_spot"]["ws_url"]) as ws:
        await ws.send_str(json.dumps({"time": int(time.time()), "channel": "spot.book_ticker", "event": "subscribe",
                                      "payload": ["NEIROETH_USDT"]}))
        for i in range(count):
            bid = f"0.04{i % 2}000"  # alternate so every publish changes the top
            async with s.post(f"{admin}/_sim/book", json={"venue": "gate_spot", "bid": bid, "ask": "0.050000",
                                                          "tag": f"r{i}"}) as resp:
                entry = await resp.json()
            published[f"react{i}"] = entry["publish_perf_ns"]
            while True:  # wait for our top, then react at once
                msg = await ws.receive(timeout=5)
                data = json.loads(msg.data)
                if data.get("event") == "update" and data["result"]["b"] == bid.rstrip("0"):
                    break
            async with s.post(f"{ep['rest_url']}/api/v3/order?{_order_query(ep['api_secret'], f'react{i}')}",
                              headers={"X-MEXC-APIKEY": ep["api_key"]}) as resp:
                await resp.read()
        async with s.get(f"{admin}/_sim/orders", params={"limit": str(count * 2), "venue": "mexc_spot"}) as resp:
            log = await resp.json()
    recv = {o["client_order_id"]: o["recv_perf_ns"] for o in log}
    return [(recv[cid] - pub) / 1e6 for cid, pub in published.items() if cid in recv]


async def separate_process(orders: int, reactions: int, speed: float) -> None:
    mode = "replay flat out" if speed <= 0 else f"replay at speed {speed:g}"
    with tempfile.TemporaryDirectory(prefix="bench-sim-") as home:
        proc = subprocess.Popen([sys.executable, "-m", "exchanges.sim", "--home", home, "--port-base", "0",
                                 "--speed", str(speed), "--json", "--quiet"], stdout=subprocess.PIPE,
                                cwd=str(Path(__file__).resolve().parents[1]))
        try:
            endpoints = json.loads(await asyncio.to_thread(proc.stdout.readline))
            ep = endpoints["mexc_spot"]
            rtts = await order_rtt_ms(ep["rest_url"], ep["api_key"], ep["api_secret"], orders, "proc")
            print(f"[separate process, {mode}] mexc_spot POST /api/v3/order round trip, {len(rtts)} orders: "
                  f"{_summary(rtts)}")
            lat = await reaction_ms(endpoints, reactions)
            print(f"[separate process, {mode} on gate_perp+mexc_spot] reaction publish(gate_spot top) -> "
                  f"MEXC order received by the simulator, {len(lat)} samples: {_summary(lat)}")
        finally:
            proc.terminate()
            proc.wait(timeout=15)


async def main(seconds: float, orders: int, reactions: int, process: bool, process_speeds: list[float]) -> None:
    tmp = tempfile.TemporaryDirectory(prefix="bench-sim-")
    server = SimServer(sim_dir=Path(tmp.name), scenario="neiroeth", speed=0, loop=True)
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
        tmp.cleanup()
    if process:
        for speed in process_speeds:
            await separate_process(orders, reactions, speed)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--reactions", type=int, default=200)
    parser.add_argument("--no-process", action="store_true", help="skip the separate-process measurements")
    parser.add_argument("--process-speeds", default="0,1",
                        help="replay speeds for the separate-process runs (0 = flat out; 1 = real time)")
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.orders, args.reactions, not args.no_process,
                     [float(x) for x in args.process_speeds.split(",") if x.strip()]))
