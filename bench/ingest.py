"""Ingest benchmark: recorded book frames -> decode -> local book update, messages/s per venue.

Run: ``python bench/ingest.py [--frames N] [--runs R]`` (or ``python -m bench.ingest``) from the
project root.

One function per venue (``bench_gate_spot``, ``bench_gate_perp``, ... ``bench_mexc_spot`` is
added by the MEXC connector); ``main`` runs every function listed in ``BENCHES`` that exists.

Gate: the real ``order_book_update`` frames of the cryptofeed captures (tests/fixtures/gateio)
are applied after their REST snapshot; the diffs that apply cleanly are then re-numbered into a
continuous ``U``/``u`` sequence and repeated (levels are absolute, so repeating them is a valid
book history) and pre-encoded to bytes. The timed loop is exactly the connector's frame handler
(``GateVenueBase._on_frame``: msgspec decode + sequence check + SortedDict update + O(1) top
cache). MEXC: bench/ingest_mexc.py.

Targets on the 2-core development machine, one core: Gate spot >= 200,000, Gate perp and MEXC
``aggre.depth`` >= 150,000 frames decoded and applied per second. Each venue runs ``--runs``
times (default 3) and the range is printed: the machine is shared, so single figures vary a lot.

Book state: every run prints a digest of the final books (``state``); with the default 200,000
frames it must equal ``BASELINE_STATE``, the digests of the code before the hot-path rewrite
(commit 0067e03): the speed-up changed no book.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script (python bench/ingest.py): import the project from its root
    sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"

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
    return len(frames) / elapsed, synced, gaps, book_digest({vs: bs.book for vs, bs in books.items()})


def book_digest(books: dict) -> str:
    """Short sha256 of every book's final state (update id, every level of both sides, the
    cached top): equal digests = identical books."""
    h = hashlib.sha256()
    for name in sorted(books):
        book = books[name]
        bids, asks = book.depth(10**9)
        h.update(f"{name}|{book.seq}|{book.synced}|{book.top_tuple()}|{bids}|{asks}\n".encode())
    return h.hexdigest()[:16]


def bench_gate_spot(n_frames: int) -> str:
    from exchanges.gateio import GateSpotVenue

    rate, synced, errors, digest = _run_gate(GateSpotVenue, "GATEIO", "spot.order_book_update", n_frames)
    return (f"gate_spot  spot.order_book_update     {rate:>10,.0f} msg/s  ({n_frames} frames, {synced} books synced, "
            f"{errors} gaps/malformed, state {digest})")


def bench_gate_perp(n_frames: int) -> str:
    from exchanges.gateio import GatePerpVenue

    rate, synced, errors, digest = _run_gate(GatePerpVenue, "GATEIO_FUTURES", "futures.order_book_update", n_frames)
    return (f"gate_perp  futures.order_book_update  {rate:>10,.0f} msg/s  ({n_frames} frames, {synced} books synced, "
            f"{errors} gaps/malformed, state {digest})")


def bench_mexc_spot(n_frames: int) -> str:
    """MEXC protobuf ``aggre.depth`` frames through decode + book update (bench/ingest_mexc.py)."""
    from bench.ingest_mexc import bench_mexc_spot as run

    return run(n_frames)


bench_mexc = bench_mexc_spot


BENCHES: list[str] = ["bench_gate_spot", "bench_gate_perp", "bench_mexc_spot"]
DEFAULT_FRAMES = 200_000
# final-book digests with DEFAULT_FRAMES frames, measured on the code before the hot-path rewrite
BASELINE_STATE = {"bench_gate_spot": "5b907228ab3f3cff", "bench_gate_perp": "023ea3ef85d4274b",
                  "bench_mexc_spot": "400a26500dfa4e1e"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=DEFAULT_FRAMES, help="frames replayed per venue")
    parser.add_argument("--runs", type=int, default=3, help="runs per venue (the range is printed)")
    args = parser.parse_args(argv)
    for name in BENCHES:
        fn: Callable[[int], str] | None = globals().get(name)
        if fn is None:
            print(f"{name}: not available")
            continue
        rates = []
        for _ in range(max(1, args.runs)):
            line = fn(args.frames)
            rates.append(float(line.split("msg/s")[0].split()[-1].replace(",", "")))
            state = re.search(r"state ([0-9a-f]{16})", line)
            if args.frames == DEFAULT_FRAMES and state:
                same = state.group(1) == BASELINE_STATE[name]
                line += "  [state == baseline]" if same else "  [STATE DIFFERS FROM THE BASELINE]"
            print(line)
        print(f"{name.removeprefix('bench_')}: {min(rates):,.0f} - {max(rates):,.0f} msg/s over {len(rates)} runs")


if __name__ == "__main__":
    main()
