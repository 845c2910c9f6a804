"""Ingest benchmark: recorded book frames -> decode -> local book update, messages/s per venue.

Run: ``python -m bench.ingest [--frames N]`` from the project root.

One function per venue (``bench_gate_spot``, ``bench_gate_perp``, ... ``bench_mexc_spot`` is
added by the MEXC connector); ``main`` runs every function listed in ``BENCHES`` that exists.

Gate: the real ``order_book_update`` frames of the cryptofeed captures (tests/fixtures/gateio)
are applied after their REST snapshot; the diffs that apply cleanly are then re-numbered into a
continuous ``U``/``u`` sequence and repeated (levels are absolute, so repeating them is a valid
book history) and pre-encoded to bytes. The timed loop is exactly the connector's frame handler
(``GateVenueBase._on_frame``: msgspec decode + sequence check + SortedDict update + O(1) top
cache). Target: >= 100,000 Gate book updates/s on one core.
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable
from pathlib import Path

import msgspec

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"

_RECV = re.compile(r"^(\d+(?:\.\d+)?): (.*)$")
_HTTP = re.compile(r"^(\S+) -> (\d+(?:\.\d+)?): (.*)$")


def _gate_frames(prefix: str, channel: str, n_frames: int) -> tuple[list[bytes], dict[str, tuple[list, list, int]]]:
    """Frames (bytes) of ``channel`` renumbered into a continuous sequence per symbol, and the
    per-symbol snapshot ``(bids, asks, id)`` to start from (REST capture)."""
    from exchanges.gateio import schemas as S

    snaps: dict[str, tuple[list, list, int]] = {}
    is_perp = channel.startswith("futures")
    book_type = S.FuturesOrderBook if is_perp else S.SpotOrderBook
    for line in (FIXTURES / "gateio" / f"{prefix}.http.0.0").read_text().splitlines():
        m = _HTTP.match(line)
        if m:
            key = re.search(r"(?:currency_pair|contract)=([A-Z0-9_]+)", m.group(1)).group(1)
            b = msgspec.json.decode(m.group(3), type=book_type)
            conv = (lambda lv: (lv.p, lv.s)) if is_perp else (lambda lv: (lv[0], lv[1]))
            snaps[key] = ([conv(x) for x in b.bids], [conv(x) for x in b.asks], b.id)
    per_symbol: dict[str, list[dict]] = {}
    for line in (FIXTURES / "gateio" / f"{prefix}.ws.1.0").read_text().splitlines():
        m = _RECV.match(line)
        if not m:
            continue
        msg = msgspec.json.decode(m.group(2))
        if msg.get("channel") == channel and msg.get("event") == "update":
            r = msg["result"]
            snap = snaps.get(r["s"])
            if snap is not None and r["u"] > snap[2]:
                per_symbol.setdefault(r["s"], []).append(msg)
    frames: list[bytes] = []
    next_id = {s: snaps[s][2] + 1 for s in per_symbol}
    cycle = [m for msgs in zip(*per_symbol.values()) for m in msgs] or [m for v in per_symbol.values() for m in v]
    while len(frames) < n_frames:
        for msg in cycle:
            r = dict(msg["result"])
            s = r["s"]
            r["U"] = r["u"] = next_id[s]
            next_id[s] += 1
            frames.append(msgspec.json.encode({**msg, "result": r}))
            if len(frames) >= n_frames:
                break
    return frames, {s: snaps[s] for s in per_symbol}


def _run_gate(venue_cls: type, prefix: str, channel: str, n_frames: int) -> tuple[float, int, int]:
    from exchanges.models import Symbol

    frames, snaps = _gate_frames(prefix, channel, n_frames)
    venue = venue_cls()
    books = {}
    for vs, (bids, asks, seq) in snaps.items():
        bs = venue.track_book(Symbol.parse(vs))
        bs.book.apply_snapshot(bids, asks, seq, 0)
        books[vs] = bs
    on_frame = venue._on_frame
    t0 = time.perf_counter()
    for f in frames:
        on_frame(f)
    elapsed = time.perf_counter() - t0
    synced = sum(1 for bs in books.values() if bs.book.synced and bs.top() is not None)
    gaps = sum(bs.book.gap_count for bs in books.values()) + venue.malformed_frames
    return len(frames) / elapsed, synced, gaps


def bench_gate_spot(n_frames: int) -> str:
    from exchanges.gateio import GateSpotVenue

    rate, synced, errors = _run_gate(GateSpotVenue, "GATEIO", "spot.order_book_update", n_frames)
    return f"gate_spot  spot.order_book_update     {rate:>10,.0f} msg/s  ({n_frames} frames, {synced} books synced, {errors} gaps/malformed)"


def bench_gate_perp(n_frames: int) -> str:
    from exchanges.gateio import GatePerpVenue

    rate, synced, errors = _run_gate(GatePerpVenue, "GATEIO_FUTURES", "futures.order_book_update", n_frames)
    return f"gate_perp  futures.order_book_update  {rate:>10,.0f} msg/s  ({n_frames} frames, {synced} books synced, {errors} gaps/malformed)"


def bench_mexc_spot(n_frames: int) -> str:
    """MEXC protobuf ``aggre.depth`` frames through decode + book update (bench/ingest_mexc.py)."""
    from bench.ingest_mexc import bench_mexc_spot as run

    return run(n_frames)


bench_mexc = bench_mexc_spot


BENCHES: list[str] = ["bench_gate_spot", "bench_gate_perp", "bench_mexc_spot"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200_000, help="frames replayed per venue")
    args = parser.parse_args(argv)
    for name in BENCHES:
        fn: Callable[[int], str] | None = globals().get(name)
        if fn is None:
            print(f"{name}: not available")
            continue
        print(fn(args.frames))


if __name__ == "__main__":
    main()
