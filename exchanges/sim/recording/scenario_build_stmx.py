"""Build the bundled ``stmx`` scenario: two spot venues from two different real order books.

Usage (dev-time only; the output is committed and runtime never needs this script)::

    python -m exchanges.sim.recording.scenario_build_stmx [--source DIR] [--out DIR]

Everything it reads is inside the project, in ``exchanges/sim/scenarios/stmx/source/`` (each file
with its licence beside it; provenance in the scenario README). Derivation (every constant below is
named; the README says the same in prose):

* Books: hftbacktest's Binance BTCUSDT raw streams of 2024-08-08 23:54:14 -> 23:59:59 UTC (MIT):
  spot and USD-M perp, each one REST depth snapshot plus depth diffs plus bookTicker, all stamped by
  one local receive clock (the time base here). L2 book per source = snapshot + diffs with
  ``u > lastUpdateId``, best level overridden by the latest bookTicker (shared with the
  ``neiroeth`` builder: :func:`exchanges.sim.recording.scenario_build._source_states`).
* Roles: Binance spot -> ``gate_spot``; Binance USD-M perp -> ``mexc_spot`` AND ``gate_perp``. The
  two spot venues are two different real books that move independently (the perp leads, spot
  follows by tens to hundreds of ms, each with its own microstructure), replayed in real time.
* Prices: every level is moved to the pair's price level and its distance from the reference is
  stretched ``STRETCH`` times in log space: ``p' = PRICE_LEVEL * (p / ref) ** STRETCH``.
  ``ref`` is the spot mid at t = 0 for the spot book and that times the window's mean perp/spot
  basis for the perp book (so the perp-derived MEXC book is centred on the spot book: a spot venue
  has no funding basis). ``gate_perp`` is the MEXC book times that real mean basis
  (``exp(mean log basis)``, about -3.7 bps). The stretch is the one step that is not a unit change:
  BTC's cross-book noise (0.5 bps) never beats the 15 bps of taker fees of a small-cap pair; the
  stretched coin moves like one ``STRETCH`` times as volatile as BTC that hour (about 11 % over the
  window), with the timing and shape of every move real.
* Quantities: base = BTC x ``QTY_SCALE`` (a 3.8 BTC level worth ~234k USDT becomes ~106k STMX,
  ~460 USDT: a small-cap book); perp contracts = base / the contract's ``quanto_multiplier``.
  Bids are rounded DOWN and asks UP to the tick, quantities DOWN to the size step; levels landing
  on one tick are summed; the top ``DEPTH_LEVELS`` levels are kept.
* Throttle: per venue, the newest state of each ``MIN_GAP_MS`` bucket (20 ms: Gate's fastest
  ``order_book_update`` interval), unchanged states dropped.
* Rules: Gate spot and Gate perp rules of the real STMX_USDT (Gate's own ``currency_pairs`` and
  ``futures/usdt/contracts`` answers in cryptofeed's captures), fees from the venues' published
  VIP-0 schedules (``FEES``); MEXC has no capture: its tick, step and minimum are Gate spot's.
* Funding: the last ``FUNDING_COUNT`` real Gate BTC-USDT 8 h rates, one per ``FUNDING_INTERVAL_S``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import shutil
from decimal import Decimal
from pathlib import Path

from exchanges.models import VenueId
from exchanges.sim.recording.format import RecEvent, RecordingWriter, make_header
from exchanges.sim.recording.scenario_build import TICK, _rescale, _source_states, _throttle

SCENARIO_DIR = Path(__file__).resolve().parents[1] / "scenarios" / "stmx"
SOURCE_DIR = SCENARIO_DIR / "source"
SPOT_STREAM = "binance_spot_btcusdt_20240808.gz"
PERP_STREAM = "binance_usdm_btcusdt_20240808.gz"
GATE_RULES = "gate_stmx_usdt_rules.json"
FUNDING_CSV = "BTC-USDT_gate_2020-01-01_2024-01-01_funding_history.csv"
LICENCES = ("LICENSE-hftbacktest.txt", "LICENSE-cryptofeed.txt", "LICENSE-historical-funding-rates-fetcher.txt")

SYMBOL = "STMX"
#: Gate STMX_USDT mark price in the 2023-05-24 contract capture (USDT)
PRICE_LEVEL = Decimal("0.004369")
STRETCH = 25
QTY_SCALE = Decimal("28000")
DEPTH_LEVELS = 10
MIN_GAP_MS = 20
FUNDING_COUNT = 12
FUNDING_INTERVAL_S = 60
#: VIP-0 fee rates: Gate spot 0.1 %/0.1 % (gate.com/fee), Gate USDT perp 0.02 %/0.05 % (gate.com/fee,
#: futures), MEXC spot 0 %/0.05 % (MEXC Learn, "Calculation of fees in spot trading")
FEES = {VenueId.GATE_SPOT: ("0.001", "0.001"), VenueId.GATE_PERP: ("0.0002", "0.0005"),
        VenueId.MEXC_SPOT: ("0", "0.0005")}


def _step(decimals: int) -> Decimal:
    return Decimal(1).scaleb(-decimals)


def gate_rules(source: Path = SOURCE_DIR) -> dict[VenueId, dict]:
    """Header rules per venue from the captured Gate STMX_USDT objects (see module docstring)."""
    data = json.loads((source / GATE_RULES).read_text())
    pair, contract = data["spot_currency_pair"], data["futures_contract"]
    spot = {"price_tick": str(_step(int(pair["precision"]))), "size_step": str(_step(int(pair["amount_precision"]))),
            "min_size": str(_step(int(pair["amount_precision"]))), "min_notional": str(pair["min_quote_amount"]),
            "contract_multiplier": "1"}
    perp = {"price_tick": str(contract["order_price_round"]), "size_step": "1",
            "min_size": str(contract["order_size_min"]), "min_notional": "0",
            "contract_multiplier": str(contract["quanto_multiplier"]), "funding_interval_s": FUNDING_INTERVAL_S}
    rules = {VenueId.GATE_SPOT: spot, VenueId.GATE_PERP: perp, VenueId.MEXC_SPOT: dict(spot)}
    for venue, (maker, taker) in FEES.items():
        rules[venue].update(maker_fee_rate=maker, taker_fee_rate=taker)
    return rules


def _mid(state: tuple) -> float:
    bids, asks = state
    return (float(bids[0][0]) + float(asks[0][0])) / 2


def mean_log_basis(spot: list[tuple[float, tuple]], perp: list[tuple[float, tuple]], step_ms: int = 10) -> float:
    """Mean of log(perp mid / spot mid) sampled every ``step_ms`` over the common window."""
    t, end = max(spot[0][0], perp[0][0]), min(spot[-1][0], perp[-1][0])
    i = j = 0
    total, n = 0.0, 0
    while t <= end:
        while i + 1 < len(spot) and spot[i + 1][0] <= t:
            i += 1
        while j + 1 < len(perp) and perp[j + 1][0] <= t:
            j += 1
        total += math.log(_mid(perp[j][1]) / _mid(spot[i][1]))
        n += 1
        t += step_ms
    return total / n


def stretch_levels(levels: list[tuple[Decimal, Decimal]], ref: Decimal, factor: Decimal = Decimal(1)
                   ) -> list[tuple[Decimal, Decimal]]:
    """``PRICE_LEVEL * factor * (p / ref) ** STRETCH`` for every level price (quantities unchanged)."""
    return [(PRICE_LEVEL * factor * (p / ref) ** STRETCH, q) for p, q in levels]


def _relative(states: list[tuple[float, tuple]], t0: float, duration: int) -> list[tuple[int, tuple]]:
    """States at offsets from ``t0`` (the last state before it moved to offset 0), within ``duration``."""
    out, before = [], None
    for t, st in states:
        if t < t0:
            before = st
        elif t - t0 <= duration:
            out.append((int(t - t0), st))
    return ([(0, before)] if before is not None else []) + out


def _funding(source: Path) -> tuple[list[tuple[int, Decimal]], list[dict]]:
    with open(source / FUNDING_CSV) as fh:
        rows = list(csv.DictReader(fh))[-FUNDING_COUNT:]
    return [(i * FUNDING_INTERVAL_S * 1000, Decimal(r["Funding Rate"])) for i, r in enumerate(rows)], rows


def build(source: Path = SOURCE_DIR, out_dir: Path = SCENARIO_DIR) -> Path:
    """Write ``out_dir/recording.jsonl.gz`` (deterministic: gzip mtime 0) and the licence files
    beside it. Returns the recording path."""
    spot_snap, spot_states = _source_states(source / SPOT_STREAM)
    perp_snap, perp_states = _source_states(source / PERP_STREAM)
    t0 = math.ceil(max(spot_snap, perp_snap))
    duration = int(min(spot_states[-1][0], perp_states[-1][0]) - t0)
    basis = mean_log_basis(spot_states, perp_states)
    spot_rel = _throttle(_relative(spot_states, t0, duration), MIN_GAP_MS)
    perp_rel = _throttle(_relative(perp_states, t0, duration), MIN_GAP_MS)
    ref_spot = (spot_rel[0][1][0][0][0] + spot_rel[0][1][1][0][0]) / 2
    basis_factor = Decimal(repr(math.exp(basis))).quantize(Decimal("1e-12"))
    ref_perp = ref_spot * basis_factor
    rules = gate_rules(source)
    assert all(Decimal(r["price_tick"]) == TICK for r in rules.values()), "_rescale rounds to the 0.000001 tick"
    spot_step = Decimal(rules[VenueId.GATE_SPOT]["size_step"])
    multiplier = Decimal(rules[VenueId.GATE_PERP]["contract_multiplier"])
    one = Decimal(1)

    series: dict[VenueId, list[tuple[int, tuple]]] = {v: [] for v in FEES}
    for t, (bids, asks) in spot_rel:
        b, a = _rescale(stretch_levels(bids, ref_spot), stretch_levels(asks, ref_spot), one, QTY_SCALE, spot_step,
                        DEPTH_LEVELS)
        series[VenueId.GATE_SPOT].append((t, (tuple(b), tuple(a))))
    for t, (bids, asks) in perp_rel:
        b, a = _rescale(stretch_levels(bids, ref_perp), stretch_levels(asks, ref_perp), one, QTY_SCALE, spot_step,
                        DEPTH_LEVELS)
        series[VenueId.MEXC_SPOT].append((t, (tuple(b), tuple(a))))
        b, a = _rescale(stretch_levels(bids, ref_perp, basis_factor), stretch_levels(asks, ref_perp, basis_factor),
                        one, QTY_SCALE / multiplier, one, DEPTH_LEVELS)
        series[VenueId.GATE_PERP].append((t, (tuple(b), tuple(a))))
    order = {VenueId.GATE_SPOT: 0, VenueId.GATE_PERP: 1, VenueId.MEXC_SPOT: 2}
    events = [RecEvent(t, venue, list(b), list(a)) for venue, states in series.items()
              for t, (b, a) in _throttle(states, MIN_GAP_MS)]
    events.sort(key=lambda e: (e.t_ms, order[e.venue]))

    funding, rows = _funding(source)
    header = make_header(
        SYMBOL, t0, rules,
        source=("hftbacktest (MIT) Binance BTCUSDT spot + USD-M perp raw streams, 2024-08-08 23:54:14-23:59:59 UTC, "
                "commit 5f3ec40b2afb764e0fea112f941ed85523ef4e88; Gate STMX_USDT rules: Gate API answers captured by "
                "cryptofeed (XFree86-1.1) commit ce58c2a0015040aa2271e80bac783d74fa2cdcff; funding: supervik/"
                "historical-funding-rates-fetcher (MIT) Gate BTC-USDT, commit 66a085bc68147df2dd3360a25ac6e9f38e7077b5"),
        notes=(f"gate_spot <- Binance spot L2; mexc_spot <- Binance USD-M perp L2 (two independent real books); "
               f"gate_perp <- the same perp book x its mean basis {basis_factor}. price' = {PRICE_LEVEL} x "
               f"(p/ref)^{STRETCH} (ref: spot mid at t=0, x the mean basis for the perp book); base qty x "
               f"{QTY_SCALE}; perp contracts = base / {multiplier}; bids floor / asks ceil to the tick; qty floor to "
               f"the step; top {DEPTH_LEVELS} levels; newest state per venue per {MIN_GAP_MS} ms. Funding: Gate "
               f"BTC-USDT 8h rates {rows[0]['Date']} .. {rows[-1]['Date']} UTC, one per {FUNDING_INTERVAL_S} s."),
        funding_rates={VenueId.GATE_PERP: funding},
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "recording.jsonl.gz"
    with RecordingWriter(path, header) as writer:
        for event in events:
            writer.write(event)
    for name in LICENCES:
        shutil.copyfile(source / name, out_dir / name)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE_DIR)
    parser.add_argument("--out", type=Path, default=SCENARIO_DIR)
    args = parser.parse_args(argv)
    path = build(args.source, args.out)
    print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
