"""Scanner speed against a simulator serving many aliased symbols (a SEPARATE process).

1. Discovery + first ranking of ``--symbols`` (500) symbols, replay paused so the simulator only
   answers: :meth:`taskmanager.scan_run.Scanner.rest_round` in this process (fresh HTTP
   sessions every run: eight bulk requests, decoding, discovery, figures, ranking), and the
   whole command ``python run.py scan --mode sim --json --top 500`` as a user runs it
   (interpreter start and imports included). Same-run baselines: the eight bulk GETs alone
   (bodies read, nothing decoded) and ``python -c "import taskmanager.scan_run"`` (interpreter +
   imports). Target: <= 2 s wall.
2. A streaming window over the best ``--stream`` (100) symbols: the replay is resumed for those
   symbols only (``--speed`` x real time), then the scanner's window (WebSocket book tickers on
   the three venues, decoding, edges, window accounting) runs for ``--window-s`` seconds while
   a bare counter in ANOTHER process subscribes to the same streams and only counts data
   frames: "served" updates/s. The scanner prints updates/s received and processed, the CPU
   time it spent per update, and processed / served (1.0 = it kept up).

Usage: ``python bench/scan.py [--symbols 500] [--stream 100] [--runs 5] [--window-s 10]
[--speed 1]``. Numbers depend on the (shared, noisy) machine; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402

from bench._simproc import ROOT, Admin, start_sim, stop_proc  # noqa: E402
from exchanges.discovery.endpoints import DiscoveryEndpoints, sim_endpoints  # noqa: E402
from exchanges.discovery.stream import GATE_PAIRS_PER_REQUEST, MEXC_TOPIC, MEXC_TOPICS_PER_CONNECTION  # noqa: E402
from strategies.scanner.rank import ScanParams  # noqa: E402
from taskmanager.scan_run import Scanner, stream_totals  # noqa: E402

BULK = ("/spot/currency_pairs", "/spot/tickers", "/futures/usdt/contracts", "/futures/usdt/tickers")
MEXC_BULK = ("/api/v3/exchangeInfo", "/api/v3/defaultSymbols", "/api/v3/ticker/bookTicker", "/api/v3/ticker/24hr")


def spread(values: list[float]) -> str:
    return f"min {min(values):.3f} / median {statistics.median(values):.3f} / max {max(values):.3f} s"


async def raw_fetch(eps: DiscoveryEndpoints) -> float:
    """The eight bulk GETs alone (bodies read, nothing decoded); seconds."""
    t0 = time.perf_counter()
    async with aiohttp.ClientSession() as s:
        async def get(url: str) -> int:
            async with s.get(url, headers={"X-Gate-Size-Decimal": "1"}) as r:
                return len(await r.read())
        await asyncio.gather(*[get(eps.gate_rest + p) for p in BULK], *[get(eps.mexc_rest + p) for p in MEXC_BULK])
    return time.perf_counter() - t0


async def rest_rounds(eps: DiscoveryEndpoints, runs: int) -> tuple[list[float], int]:
    times, ranked = [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        scanner = Scanner(eps, ScanParams())
        try:
            result = await scanner.rest_round()
        finally:
            await scanner.close()
        times.append(time.perf_counter() - t0)
        ranked = len(result.rows)
    return times, ranked


def cli_runs(home: Path, runs: int, top: int) -> tuple[list[float], list[float], int]:
    env = dict(os.environ, ARB_HOME=str(home), PYTHONPATH=str(ROOT))
    scan_s, import_s, ranked = [], [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "run.py", "scan", "--mode", "sim", "--json", "--top", str(top)],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        scan_s.append(time.perf_counter() - t0)
        if out.returncode != 0:
            raise RuntimeError(f"scan exited {out.returncode}: {out.stderr[-500:]}")
        ranked = len(json.loads(out.stdout)["symbols"])
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import taskmanager.scan_run"], cwd=ROOT, env=env, check=True,
                       timeout=60)
        import_s.append(time.perf_counter() - t0)
    return scan_s, import_s, ranked


# ---- the bare counter (a separate process) ------------------------------------------------------


async def count_frames(eps: dict, names: dict, seconds: float) -> list[float]:
    """Subscribe like the scanner and note the arrival time (``time.monotonic()``, the same clock
    in every process of the machine) of every data frame; prints "ready" once subscribed."""
    stamps: list[float] = []
    started = asyncio.Event()

    async def gate(url: str, prefix: str, pairs: list[str]) -> None:
        headers = {"X-Gate-Size-Decimal": "1"} if prefix == "futures" else {}
        async with aiohttp.ClientSession() as s, s.ws_connect(url, headers=headers) as ws:
            for i in range(0, len(pairs), GATE_PAIRS_PER_REQUEST):
                await ws.send_str(json.dumps({"time": int(time.time()), "channel": f"{prefix}.book_ticker",
                                              "event": "subscribe", "payload": pairs[i:i + GATE_PAIRS_PER_REQUEST]}))
            async for msg in ws:
                if started.is_set() and '"event":"update"' in msg.data:
                    stamps.append(time.monotonic())

    async def mexc(url: str, symbols: list[str]) -> None:
        topics = [MEXC_TOPIC.format(interval="100ms", symbol=s) for s in symbols]
        async with aiohttp.ClientSession() as s, s.ws_connect(url) as ws:
            await ws.send_str(json.dumps({"method": "SUBSCRIPTION", "params": topics}))
            async for msg in ws:
                if started.is_set() and msg.type is aiohttp.WSMsgType.BINARY:
                    stamps.append(time.monotonic())

    mexc_names = names["mexc_spot"]
    tasks = [asyncio.create_task(gate(eps["gate_spot_ws"], "spot", names["gate_spot"])),
             asyncio.create_task(gate(eps["gate_perp_ws"], "futures", names["gate_perp"]))]
    tasks += [asyncio.create_task(mexc(eps["mexc_ws"], mexc_names[i:i + MEXC_TOPICS_PER_CONNECTION]))
              for i in range(0, len(mexc_names), MEXC_TOPICS_PER_CONNECTION)]
    await asyncio.sleep(0.5)  # subscriptions acknowledged; the initial tickers are not counted
    started.set()
    print("ready", flush=True)
    await asyncio.sleep(seconds)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return stamps


def counter_main(argv: list[str]) -> int:
    eps, names, seconds = json.loads(argv[0]), json.loads(argv[1]), float(argv[2])
    print(json.dumps(asyncio.run(count_frames(eps, names, seconds))), flush=True)
    return 0


# ---- phases -------------------------------------------------------------------------------------


async def streaming(eps: DiscoveryEndpoints, admin: Admin, stream: int, window_s: float) -> dict:
    """The scanner's window next to a bare counter (module doc). Rates are compared over the same
    interval: from the second to the last sample of ``scanner.processed`` (every 0.25 s)."""
    scanner = Scanner(eps, ScanParams())
    samples: list[tuple[float, int]] = []

    async def sample() -> None:
        while True:
            samples.append((time.monotonic(), scanner.processed))
            await asyncio.sleep(0.25)

    try:
        result = await scanner.rest_round()
        symbols = [r.base for r in result.rows[:stream]]
        names = {"gate_spot": [f"{b}_USDT" for b in symbols], "gate_perp": [f"{b}_USDT" for b in symbols],
                 "mexc_spot": [f"{b}USDT" for b in symbols]}
        await admin.resume_replay(symbols)
        eps_json = json.dumps({k: getattr(eps, k) for k in eps.__struct_fields__})
        counter = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--count-frames", eps_json, json.dumps(names), str(window_s + 2.0),
            stdout=asyncio.subprocess.PIPE, cwd=str(ROOT), limit=1 << 26)
        assert counter.stdout is not None
        assert (await counter.stdout.readline()).strip() == b"ready"
        sampler = asyncio.create_task(sample())
        cpu0 = time.process_time()
        result = await scanner.stream_window(result, window_s, max_symbols=stream)
        cpu_s = time.process_time() - cpu0
        sampler.cancel()
        stamps = json.loads(await counter.stdout.readline())
        await counter.wait()
    finally:
        await scanner.close()
    frames, updates, malformed = stream_totals(result)
    (a_s, a_n), (b_s, b_n) = samples[1], samples[-1]
    served = sum(1 for t in stamps if a_s < t <= b_s)
    return {"symbols": len(result.streamed), "window_s": result.window_s or window_s, "received": updates,
            "malformed": malformed, "cpu_s": cpu_s, "interval_s": b_s - a_s, "processed_in": b_n - a_n,
            "served_in": served}


async def main_async(args: argparse.Namespace) -> None:
    home = Path(tempfile.mkdtemp(prefix="bench-scan-"))
    proc, endpoints = start_sim(home, extra_args=["--alias-symbols", str(args.symbols), "--speed", str(args.speed)])
    admin = Admin(endpoints)
    try:
        eps = sim_endpoints(endpoints)
        await admin.pause_replay()
        print(f"simulator pid {proc.pid}: {args.symbols} aliased symbols, replay paused")
        raw = [await raw_fetch(eps) for _ in range(args.runs)]
        rounds, ranked = await rest_rounds(eps, args.runs)
        print(f"discovery + first ranking in this process ({ranked} symbols ranked, {args.runs} runs): {spread(rounds)}")
        print(f"  baseline, the eight bulk GETs alone (no decoding):       {spread(raw)}")
        scan_s, import_s, cli_ranked = cli_runs(home, args.runs, args.symbols)
        print(f"`run.py scan --mode sim --json --top {args.symbols}` wall time ({cli_ranked} ranked): {spread(scan_s)}"
              f"  [target <= 2 s: {'met' if max(scan_s) <= 2.0 else 'MISSED'}]")
        print(f"  baseline, interpreter + imports (`python -c 'import taskmanager.scan_run'`): {spread(import_s)}")
        s = await streaming(eps, admin, args.stream, args.window_s)
        span = s["interval_s"]
        served_rate, processed_rate = s["served_in"] / span, s["processed_in"] / span
        print(f"streaming window over {s['symbols']} symbols, {s['window_s']:.1f} s at replay speed {args.speed:g} "
              f"(rates over the same {span:.1f} s):")
        print(f"  served (a bare counter in another process): {served_rate:7.0f} updates/s")
        print(f"  processed by the scanner:                   {processed_rate:7.0f} updates/s "
              f"= {processed_rate / served_rate if served_rate else float('nan'):.3f} x served "
              f"({s['received']} received in the window, {s['malformed']} malformed)")
        print(f"  scanner CPU: {1e6 * s['cpu_s'] / max(s['received'], 1):.0f} us per update, "
              f"{100 * s['cpu_s'] / s['window_s']:.0f} % of one core")
    finally:
        await admin.close()
        stop_proc(proc)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--count-frames":
        sys.exit(counter_main(sys.argv[2:]))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--stream", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--window-s", type=float, default=10.0)
    parser.add_argument("--speed", type=float, default=1.0)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
