"""MEXC ingest benchmark: protobuf ``aggre.depth`` frames -> decode -> local book update.

Run: ``python -m bench.ingest_mexc [--frames N]`` from the project root
(``bench.ingest`` imports :func:`bench_mexc_spot` too).

There is no recorded MEXC depth stream in the project, so the frames are synthetic but
shaped like the real ones (docs/venues.md section 4.5 example: channel, symbol,
sendTime, 1-3 absolute bid/ask levels per push, continuous ``fromVersion``/``toVersion``),
around a NEIROETH-like price (0.05, tick 0.00001). They are pre-encoded with the project's
own protobuf module. The timed loop is exactly the connector's public frame handler
(``MexcWsConnection._on_frame``: protobuf parse + version check + SortedDict update + O(1)
top cache + BookEvent emission to one listener).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

if str(Path(__file__).resolve().parent.parent) not in sys.path:  # run as a script from the project root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from exchanges.mexc.proto import mexc_push_pb2 as pb  # noqa: E402

_SYMBOL = "NEIROETHUSDT"
_CHANNEL = f"spot@public.aggre.depth.v3.api.pb@100ms@{_SYMBOL}"
_START_VERSION = 43296363236


def _frames(n_frames: int, seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    out: list[bytes] = []
    version = _START_VERSION
    for _ in range(n_frames):
        msg = pb.PushDataV3ApiWrapper(channel=_CHANNEL, symbol=_SYMBOL, sendTime=1754741322152)
        body = msg.publicAggreDepths
        body.eventType = "spot@public.aggre.depth.v3.api.pb@100ms"
        span = rng.randint(1, 20)
        body.fromVersion, body.toVersion = str(version + 1), str(version + span)
        version += span
        for _ in range(rng.randint(1, 3)):
            side = body.bids if rng.random() < 0.5 else body.asks
            ticks = rng.randint(0, 40)
            price = Decimal("0.04999") - ticks * Decimal("0.00001") if side is body.bids \
                else Decimal("0.05000") + ticks * Decimal("0.00001")
            qty = "0" if rng.random() < 0.25 else f"{rng.randint(1, 500000) / 100:.2f}"
            side.add(price=f"{price:.5f}", quantity=qty)
        out.append(msg.SerializeToString())
    return out


def bench_mexc_spot(n_frames: int) -> str:
    """Replay ``n_frames`` depth pushes through the connector; returns a one-line report."""
    from exchanges.mexc.spot import MexcSpotVenue
    from exchanges.models import Symbol

    frames = _frames(n_frames)
    venue = MexcSpotVenue(rest_url="http://127.0.0.1:9", ws_url="ws://127.0.0.1:9/ws")
    events = [0]

    def count(_event: object) -> None:
        events[0] += 1

    venue.add_listener(count)
    symbol = Symbol.parse(_SYMBOL)
    venue.books.track(symbol)
    book = venue.books.book(symbol)
    assert book is not None
    bids = [(Decimal("0.04999") - i * Decimal("0.00001"), Decimal(1000)) for i in range(50)]
    asks = [(Decimal("0.05000") + i * Decimal("0.00001"), Decimal(1000)) for i in range(50)]
    book.apply_snapshot(bids, asks, _START_VERSION, 0)
    on_frame = venue._public_conn()._on_frame

    t0 = time.perf_counter()
    for frame in frames:
        on_frame(frame)
    elapsed = time.perf_counter() - t0

    t1 = time.perf_counter()
    parse = pb.PushDataV3ApiWrapper.FromString
    for frame in frames:
        parse(frame)
    decode_only = len(frames) / (time.perf_counter() - t1)
    top = venue.book_top(symbol)
    state = "synced" if top is not None and not top.stale else "NOT synced"
    from bench.ingest import book_digest

    return (f"mexc_spot  aggre.depth (protobuf)       {len(frames) / elapsed:>10,.0f} msg/s  "
            f"({len(frames)} frames, book {state}, {book.gap_count} gaps, {venue._public_conn().malformed} "
            f"malformed, {events[0]} events, state {book_digest({_SYMBOL: book})}; protobuf decode alone "
            f"{decode_only:,.0f} msg/s)")


bench_mexc = bench_mexc_spot  # name used in the task brief


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200_000, help="frames replayed")
    print(bench_mexc_spot(parser.parse_args(argv).frames))


if __name__ == "__main__":
    main()
