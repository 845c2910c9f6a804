"""Build the bundled ``neiroeth`` scenario from real recordings (hftbacktest's
Binance sample data and a Gate/MEXC funding-rate history, named below) kept in a
data folder outside the project; dev-time only: its output is committed, the
runtime never needs this script or that folder.

Usage::

    python -m exchanges.sim.recording.scenario_build --data DIR [--out DIR]

Derivation (also written into the recording header ``notes`` and the scenario
README; every constant below is named and documented):

* Source: hftbacktest's Binance BTCUSDT recordings of 2024-08-08 23:54:14 ->
  23:59:59 UTC (MIT, ``LICENSE-hftbacktest.txt``): spot and USD-M perp raw
  streams, each with one REST depth snapshot (1000 levels), incremental
  ``depth`` diffs and ``bookTicker`` updates, all stamped by the same local
  receive clock (``local_ts_ns``), which is the time base used here.
* L2 book per source venue: snapshot + diffs with ``u > lastUpdateId``
  (absolute quantities, 0 deletes); the best level is overridden by the
  latest bookTicker (levels inside it removed). The top ``DEPTH_LEVELS``
  levels of each side are taken after rescaling.
* Roles: Binance spot -> ``gate_spot``; Binance USD-M perp -> ``gate_perp``;
  ``mexc_spot`` is DERIVED from the Binance spot book as it was
  ``MEXC_LAG_MS`` earlier, every price multiplied by ``(1 + premium(t))``,
  where premium is a seeded (``PREMIUM_SEED``) Ornstein-Uhlenbeck process with
  mean 0, stationary sd ``PREMIUM_SD_BPS`` and mean-reversion time
  ``PREMIUM_TAU_S``, stepped every ``PREMIUM_STEP_MS``. That makes cross-venue
  gaps beyond the taker fees of both venues + ~5-10 bps appear every few
  seconds while most of the time the venues are within fees.
* Rescaling: price x ``PRICE_SCALE`` (61,837.63 -> ~0.04947 USDT); base
  quantity x ``QTY_SCALE`` (so notional is x ``PRICE_SCALE*QTY_SCALE`` =
  0.02: a 3.8 BTC level worth ~234k USDT becomes ~4.7k USDT); MEXC quantities
  additionally x ``MEXC_QTY_FACTOR`` (thinner book); perp quantity in
  contracts = base / ``PERP_MULTIPLIER``. Bids are rounded DOWN and asks UP to
  the tick, quantities DOWN to the size step; levels that collapse onto one
  tick are summed; levels that round to 0 are dropped.
* Throttle: per venue, only the newest snapshot of each ``MIN_GAP_MS`` time
  bucket is kept (at its own time); unchanged snapshots are not repeated.
* Funding: the last ``FUNDING_COUNT`` real Gate.io ETH-USDT funding rates
  (8 h rates ending 2023-12-31 16:00 UTC, MIT, supervik/
  historical-funding-rates-fetcher) replayed one per ``FUNDING_INTERVAL_S``
  (60 s, deliberately short so funding happens in a short session).
"""

from __future__ import annotations

import argparse
import bisect
import csv
import gzip
import json
import math
import random
import shutil
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path

from sortedcontainers import SortedDict

from exchanges.models import VenueId
from exchanges.sim.recording.format import RecEvent, RecordingWriter, make_header

OUT_DIR = Path(__file__).resolve().parents[1] / "scenarios" / "neiroeth"
BINANCE = "binance_spot_usdm_BTCUSDT_20240808_hftbacktest"
FUNDING = "funding_rates_gateio_mexc"

PRICE_SCALE = Decimal("0.0000008")
QTY_SCALE = Decimal("25000")
MEXC_QTY_FACTOR = Decimal("0.6")
PERP_MULTIPLIER = Decimal("10")
DEPTH_LEVELS = 10
MIN_GAP_MS = 50
MEXC_LAG_MS = 300
PREMIUM_SEED = 20240808
PREMIUM_SD_BPS = 11.0
PREMIUM_TAU_S = 1.5
PREMIUM_STEP_MS = 100
FUNDING_COUNT = 12
FUNDING_INTERVAL_S = 60

TICK = Decimal("0.000001")
RULES = {
    VenueId.GATE_SPOT: {"price_tick": "0.000001", "size_step": "1", "min_size": "1", "min_notional": "3",
                        "contract_multiplier": "1", "maker_fee_rate": "0.001", "taker_fee_rate": "0.001"},
    VenueId.GATE_PERP: {"price_tick": "0.000001", "size_step": "1", "min_size": "1", "min_notional": "0",
                        "contract_multiplier": str(PERP_MULTIPLIER), "maker_fee_rate": "0.0002",
                        "taker_fee_rate": "0.0005", "funding_interval_s": FUNDING_INTERVAL_S},
    VenueId.MEXC_SPOT: {"price_tick": "0.000001", "size_step": "0.01", "min_size": "0.01", "min_notional": "1",
                        "contract_multiplier": "1", "maker_fee_rate": "0", "taker_fee_rate": "0.0005"},
}


class _Book:
    """A Binance L2 book rebuilt from the REST snapshot plus diffs. Sorted by
    float price (for ordering only); the exact source strings are kept."""

    def __init__(self) -> None:
        self.bids = SortedDict()  # -price -> (price str, qty str)
        self.asks = SortedDict()  # price -> (price str, qty str)
        self.last_id = -1
        self.bt: tuple[str, str, str, str] | None = None

    def snapshot(self, data: dict) -> None:
        self.bids = SortedDict({-float(p): (p, q) for p, q in data["bids"]})
        self.asks = SortedDict({float(p): (p, q) for p, q in data["asks"]})
        self.last_id = int(data["lastUpdateId"])

    def diff(self, data: dict) -> None:
        if self.last_id < 0 or int(data["u"]) <= self.last_id:
            return
        for side, sign, levels in ((self.bids, -1.0, data["b"]), (self.asks, 1.0, data["a"])):
            for p, q in levels:
                if float(q) == 0.0:
                    side.pop(sign * float(p), None)
                else:
                    side[sign * float(p)] = (p, q)

    def top(self, n: int) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """Top ``3n`` source levels per side (rounding may merge some)."""
        bb, bq, ba, aq = self.bt
        fbb, fba = float(bb), float(ba)
        bids = [(Decimal(bb), Decimal(bq))]
        start = self.bids.bisect_right(-fbb)
        for key in self.bids.islice(start, start + n * 3):
            p, q = self.bids[key]
            bids.append((Decimal(p), Decimal(q)))
        asks = [(Decimal(ba), Decimal(aq))]
        start = self.asks.bisect_right(fba)
        for key in self.asks.islice(start, start + n * 3):
            p, q = self.asks[key]
            asks.append((Decimal(p), Decimal(q)))
        return bids, asks


def _read_stream(path: Path):
    """Yield (local_ts_ms float, kind, data) from an hftbacktest raw .gz file."""
    with gzip.open(path, "rt") as fh:
        for line in fh:
            ts, _, body = line.partition(" ")
            msg = json.loads(body)
            t_ms = int(ts) / 1e6
            if "stream" not in msg:
                yield t_ms, "snapshot", msg
            elif "@depth" in msg["stream"]:
                yield t_ms, "diff", msg["data"]
            elif msg["stream"].endswith("@bookTicker"):
                yield t_ms, "bt", msg["data"]


def _rescale(bids, asks, price_mult: Decimal, qty_mult: Decimal, step: Decimal, n: int):
    """Rescale, round (bids down, asks up, qty down), merge same-tick levels."""
    out = []
    for levels, rounding in ((bids, ROUND_FLOOR), (asks, ROUND_CEILING)):
        merged: dict[Decimal, Decimal] = {}
        for p, q in levels:
            price = (p * price_mult).quantize(TICK, rounding=rounding)
            merged[price] = merged.get(price, Decimal(0)) + q * qty_mult
        rows = []
        for price in sorted(merged, reverse=rounding is ROUND_FLOOR):
            qty = (merged[price] / step).to_integral_value(rounding=ROUND_FLOOR) * step
            if qty > 0 and price > 0:
                rows.append((price, qty.normalize() if qty != qty.to_integral() else qty.quantize(Decimal(1))))
        out.append(rows[:n])
    return out[0], out[1]


def _premium_series(duration_ms: int) -> list[float]:
    """OU premium (fraction) on a PREMIUM_STEP_MS grid, deterministic by seed."""
    rng = random.Random(PREMIUM_SEED)
    dt = PREMIUM_STEP_MS / 1000
    a = math.exp(-dt / PREMIUM_TAU_S)
    sd = PREMIUM_SD_BPS / 1e4
    noise = sd * math.sqrt(1 - a * a)
    x, out = 0.0, []
    for _ in range(duration_ms // PREMIUM_STEP_MS + 2):
        out.append(x)
        x = a * x + noise * rng.gauss(0.0, 1.0)
    return out


def _throttle(events: list[tuple[int, tuple]], gap_ms: int = MIN_GAP_MS) -> list[tuple[int, tuple]]:
    """Keep the newest state of each ``gap_ms`` (default MIN_GAP_MS) time bucket (stamped with its
    own time), dropping states equal to the previously kept one."""
    out: list[tuple[int, tuple]] = []
    for i, (t, state) in enumerate(events):
        nxt = events[i + 1][0] if i + 1 < len(events) else None
        if nxt is not None and nxt // gap_ms == t // gap_ms:
            continue  # a newer state in the same bucket supersedes this one
        if not out or state != out[-1][1]:
            out.append((t, state))
    return out


def _source_states(path: Path) -> tuple[float, list[tuple[float, tuple]]]:
    """Replay one raw stream; return (snapshot local ms, [(t_ms, (bids, asks))])
    in BTC space, one entry per bookTicker/diff after the snapshot."""
    book = _Book()
    snap_ms = None
    states: list[tuple[float, tuple]] = []
    for t_ms, kind, data in _read_stream(path):
        if kind == "snapshot":
            book.snapshot(data)
            snap_ms = t_ms
            continue
        if kind == "diff":
            book.diff(data)
        else:
            book.bt = (data["b"], data["B"], data["a"], data["A"])
        if snap_ms is not None and book.bt is not None:
            states.append((t_ms, book.top(DEPTH_LEVELS)))
    assert snap_ms is not None, f"{path}: no depth snapshot"
    return snap_ms, states


def _funding_rates(data_dir: Path) -> list[tuple[int, Decimal]]:
    path = data_dir / FUNDING / "ETH-USDT_gate_2020-01-01_2024-01-01_funding_history.csv"
    with open(path) as fh:
        rows = list(csv.DictReader(fh))
    last = rows[-FUNDING_COUNT:]
    return [(i * FUNDING_INTERVAL_S * 1000, Decimal(r["Funding Rate"])) for i, r in enumerate(last)], last


def build(data_dir: Path, out_dir: Path = OUT_DIR) -> Path:
    """Build ``out_dir/recording.jsonl.gz`` and copy the licence files beside
    it. Returns the recording path."""
    src = data_dir / BINANCE
    spot_snap, spot_states = _source_states(src / "binance_spot_btcusdt_20240808.gz")
    perp_snap, perp_states = _source_states(src / "binance_usdm_btcusdt_20240808.gz")
    t0 = math.ceil(max(spot_snap, perp_snap))
    start_ms = t0
    end_ms = int(min(spot_states[-1][0], perp_states[-1][0]))
    duration = end_ms - t0

    def rel(states):
        out, before = [], None
        for t, st in states:
            if t < t0:
                before = st
                continue
            out.append((int(t - t0), st))
        if before is not None:
            out.insert(0, (0, before))
        return [(t, st) for t, st in out if t <= duration]

    spot_rel, perp_rel = rel(spot_states), rel(perp_states)
    spot_qty = QTY_SCALE
    perp_qty = QTY_SCALE / PERP_MULTIPLIER
    mexc_qty = QTY_SCALE * MEXC_QTY_FACTOR
    one = Decimal(1)

    gate_spot = [(t, _rescale(b, a, PRICE_SCALE, spot_qty, one, DEPTH_LEVELS)) for t, (b, a) in spot_rel]
    gate_perp = [(t, _rescale(b, a, PRICE_SCALE, perp_qty, one, DEPTH_LEVELS)) for t, (b, a) in perp_rel]

    premium = _premium_series(duration)
    spot_times = [t for t, _ in spot_rel]
    mexc_times = sorted({t + MEXC_LAG_MS for t in spot_times if t + MEXC_LAG_MS <= duration}
                        | set(range(0, duration + 1, PREMIUM_STEP_MS)))
    mexc = []
    for t in mexc_times:
        i = bisect.bisect_right(spot_times, t - MEXC_LAG_MS) - 1
        b, a = spot_rel[max(i, 0)][1]
        mult = PRICE_SCALE * (one + Decimal(repr(premium[t // PREMIUM_STEP_MS])).quantize(Decimal("1e-8")))
        mexc.append((t, _rescale(b, a, mult, mexc_qty, Decimal("0.01"), DEPTH_LEVELS)))

    merged: list[RecEvent] = []
    for venue, series in ((VenueId.GATE_SPOT, gate_spot), (VenueId.GATE_PERP, gate_perp), (VenueId.MEXC_SPOT, mexc)):
        for t, (b, a) in _throttle([(t, (tuple(b), tuple(a))) for t, (b, a) in series]):
            merged.append(RecEvent(t, venue, list(b), list(a)))
    order = {VenueId.GATE_SPOT: 0, VenueId.GATE_PERP: 1, VenueId.MEXC_SPOT: 2}
    merged.sort(key=lambda e: (e.t_ms, order[e.venue]))

    funding, funding_rows = _funding_rates(data_dir)
    header = make_header(
        "NEIROETH", start_ms, RULES,
        source=("hftbacktest (MIT) Binance BTCUSDT spot + USD-M perp, 2024-08-08 23:54:14-23:59:59 UTC, "
                "commit 5f3ec40b2afb764e0fea112f941ed85523ef4e88; funding: supervik/historical-funding-rates-"
                "fetcher (MIT) Gate ETH-USDT, commit 66a085bc68147df2dd3360a25ac6e9f38e7077b5"),
        notes=(f"gate_spot <- Binance spot L2 (snapshot+diffs, top overridden by bookTicker); gate_perp <- "
               f"Binance USD-M L2; mexc_spot <- Binance spot book {MEXC_LAG_MS} ms earlier x (1+premium), "
               f"premium = OU(seed {PREMIUM_SEED}, sd {PREMIUM_SD_BPS} bps, tau {PREMIUM_TAU_S} s, step "
               f"{PREMIUM_STEP_MS} ms). price x {PRICE_SCALE:f}; base qty x {QTY_SCALE} (mexc x "
               f"{MEXC_QTY_FACTOR} more); perp contracts = base / {PERP_MULTIPLIER}; bids floor / asks ceil "
               f"to tick {TICK}; qty floor to step; top {DEPTH_LEVELS} levels; newest snapshot per venue per "
               f"{MIN_GAP_MS} ms bucket. Funding: Gate ETH-USDT 8h rates {funding_rows[0]['Date']} .. "
               f"{funding_rows[-1]['Date']} UTC, one per {FUNDING_INTERVAL_S} s (shortened interval)."),
        funding_rates={VenueId.GATE_PERP: funding},
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "recording.jsonl.gz"
    with RecordingWriter(path, header) as writer:
        for event in merged:
            writer.write(event)
    shutil.copyfile(src / "LICENSE-hftbacktest.txt", out_dir / "LICENSE-hftbacktest.txt")
    shutil.copyfile(data_dir / FUNDING / "LICENSE-historical-funding-rates-fetcher.txt",
                    out_dir / "LICENSE-historical-funding-rates-fetcher.txt")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True,
                        help=f"folder holding {BINANCE}/ and {FUNDING}/ (the source recordings)")
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    path = build(args.data, args.out)
    print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
