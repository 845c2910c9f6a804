"""Arbitrage legs on a replayed scenario: how many pairs complete, how many end single-legged.

Runs the full stack for ``--duration`` seconds: the simulator as a separate process replaying a
scenario in real time (``neiroeth`` or ``stmx``, or a recording path), one delta-neutral task in a
separate worker process (``bench/task_worker.py``: a real TaskManager, real connectors over
loopback, a real SQLite file), then stops the task gracefully (SIGTERM) and reads it back with
``run.py tasks show --json``. Prints, per run and as a range over ``--runs``:

* arbitrage pairs (arb decisions with at least one leg filled; decisions where nothing filled are
  counted apart as "missed"), single-legged pairs (sold != bought) and their share;
* fill ratio per venue: filled / requested base quantity over the arb legs sent there;
* quoted edge (net of both taker fees, at decision, from the journal) vs realized edge (from the
  fills' prices and real fees, on the matched quantity), in bps, mean and p10, over complete pairs;
* fees and net PnL (the task's ledger, USDT);
* time with any spot venue below its inventory floor: min_inventory_fraction x the inventory it
  held after the last build-up fill (the ``inventory_floor`` check's measure), in s and % of the run
  after the build-up.

Nothing is asserted. ``--config key=value`` overrides the task config (repeatable);
``--latency-ms venue=ms`` adds the simulator's latency fault (before every REST answer and WS push)
on a venue; ``--markdown`` prints the range as one README table row.

Usage: ``python bench/legs.py --scenario stmx --duration 600 [--runs 3] [--config arb_legs=concurrent]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._simproc import ROOT, Admin, _env, dump_tails, start_sim, start_worker, stop_proc  # noqa: E402

D = Decimal
ZERO = D(0)
SPOT = ("gate_spot", "mexc_spot")
ARB_LEGS = ("arb_sell", "arb_buy")
TASK_CONFIG = {"position_usdt": "200", "max_order_usdt": "25"}


@dataclass
class Pair:
    """One arbitrage decision: its two legs (intents as dicts) and the quoted net edge."""

    sell: dict
    buy: dict
    quoted_bps: float | None = None

    @property
    def sold(self) -> Decimal:
        return D(self.sell.get("filled_qty") or 0)

    @property
    def bought(self) -> Decimal:
        return D(self.buy.get("filled_qty") or 0)

    @property
    def traded(self) -> bool:
        return self.sold > 0 or self.bought > 0

    @property
    def complete(self) -> bool:
        return self.traded and self.sold == self.bought


@dataclass
class RunFigures:
    pairs: int = 0
    single: int = 0
    complete: int = 0
    missed: int = 0
    fill_ratio: dict[str, float] = field(default_factory=dict)
    quoted_mean: float = float("nan")
    quoted_p10: float = float("nan")
    realized_mean: float = float("nan")
    realized_p10: float = float("nan")
    fees_usdt: float = 0.0
    net_pnl_usdt: float = 0.0
    below_floor_s: float = 0.0
    below_floor_pct: float = 0.0
    end_state: str = ""

    @property
    def single_share(self) -> float:
        return self.single / self.pairs if self.pairs else 0.0


def _quoted_edges(transitions: list[dict]) -> list[float]:
    """Net edges (bps) of the arb decisions, in order, from their ``trade`` journal reasons
    ("arb sell ... @ 12.3 bps net", "rebalance via arb: ... @ 4.1 bps net")."""
    out = []
    for t in transitions:
        reason = t.get("reason") or ""
        if t.get("trigger") == "trade" and "arb" in reason.split(":")[0] and " bps net" in reason:
            out.append(float(reason.rsplit("@", 1)[1].split("bps")[0]))
    return out


def arb_pairs(intents: list[dict], transitions: list[dict]) -> list[Pair]:
    """Pairs of arb legs: an ``arb_sell`` intent and the ``arb_buy`` planned with it (the next
    sequence number), in plan order, with their quoted edges when the journal has one per pair."""
    legs = sorted((i for i in intents if i["leg"] in ARB_LEGS), key=lambda i: i["seq"])
    pairs, k = [], 0
    while k + 1 < len(legs):
        a, b = legs[k], legs[k + 1]
        if a["leg"] == "arb_sell" and b["leg"] == "arb_buy" and b["seq"] == a["seq"] + 1:
            pairs.append(Pair(a, b))
            k += 2
        else:
            k += 1
    edges = _quoted_edges(transitions)
    if len(edges) == len(pairs):
        for p, e in zip(pairs, edges):
            p.quoted_bps = e
    return pairs


def _p10(values: list[float]) -> float:
    if not values:
        return float("nan")
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=10, method="inclusive")[0]


def realized_bps(pair: Pair, fills_by_cid: dict[str, list[dict]]) -> float | None:
    """Edge actually captured on the matched quantity: (sell proceeds - buy cost - both fees)
    / buy cost, in bps, at the fills' average prices and real fees (USDT)."""
    matched = min(pair.sold, pair.bought)
    if matched <= 0:
        return None

    def side(cid: str) -> tuple[Decimal, Decimal, Decimal]:
        fills = fills_by_cid.get(cid, [])
        qty = sum((D(f["qty_base"]) for f in fills), ZERO)
        notional = sum((D(f["qty_base"]) * D(f["price"]) for f in fills), ZERO)
        fee = sum((D(f.get("fee_usdt") or 0) for f in fills), ZERO)
        return qty, notional, fee

    sq, sn, sf = side(pair.sell["client_order_id"])
    bq, bn, bf = side(pair.buy["client_order_id"])
    if sq <= 0 or bq <= 0:
        return None
    sell_px, buy_px = sn / sq, bn / bq
    proceeds = sell_px * matched - sf * matched / sq
    cost = buy_px * matched + bf * matched / bq
    return float((proceeds - cost) / cost * 10000)


def below_floor_time(detail: dict, end_ms: int) -> tuple[float, float]:
    """Seconds (and % of the time after the build-up) during which a spot venue held less than
    min_inventory_fraction x its inventory after the last build-up fill."""
    frac = D(str(detail["config"].get("min_inventory_fraction", "0.3")))
    leg = {i["client_order_id"]: i["leg"] for i in detail["order_intents"]}
    fills = sorted(detail["fills"], key=lambda f: (f["ts_ms"], f["trade_id"]))
    inv = {v: ZERO for v in SPOT}
    last_build = max((k for k, f in enumerate(fills) if leg.get(f["client_order_id"]) == "build"), default=None)
    if last_build is None:
        return 0.0, 0.0
    base: dict[str, Decimal] = {}
    below_since: int | None = None
    total_ms = 0
    start_ms = fills[last_build]["ts_ms"]
    for k, f in enumerate(fills):
        if f["venue"] in inv:
            fee_base = D(f["fee"]) if f["fee_asset"] not in ("USDT", "") and f["side"] == "buy" else ZERO
            inv[f["venue"]] += D(f["qty_base"]) - fee_base if f["side"] == "buy" else -D(f["qty_base"])
        if k == last_build:
            base = dict(inv)
        elif base:
            low = any(base[v] > 0 and inv[v] < frac * base[v] for v in SPOT)
            if low and below_since is None:
                below_since = f["ts_ms"]
            elif not low and below_since is not None:
                total_ms += f["ts_ms"] - below_since
                below_since = None
    if below_since is not None:
        total_ms += max(0, end_ms - below_since)
    span = max(1, end_ms - start_ms)
    return total_ms / 1000, 100.0 * total_ms / span


def figures(detail: dict) -> RunFigures:
    """The bench's figures from a ``tasks show --json`` object."""
    out = RunFigures(end_state=f"{detail['status']}/{detail['state']}")
    fills_by_cid: dict[str, list[dict]] = {}
    for f in detail["fills"]:
        fills_by_cid.setdefault(f["client_order_id"], []).append(f)
    pairs = arb_pairs(detail["order_intents"], detail["transitions"])
    traded = [p for p in pairs if p.traded]
    out.pairs = len(traded)
    out.missed = len(pairs) - len(traded)
    out.complete = sum(1 for p in traded if p.complete)
    out.single = out.pairs - out.complete
    asked: dict[str, Decimal] = {v: ZERO for v in SPOT}
    got: dict[str, Decimal] = {v: ZERO for v in SPOT}
    for p in pairs:
        for leg in (p.sell, p.buy):
            if leg["status"] not in ("not_sent", "new"):
                asked[leg["venue"]] += D(leg["qty"])
                got[leg["venue"]] += D(leg.get("filled_qty") or 0)
    out.fill_ratio = {v: float(got[v] / asked[v]) if asked[v] else float("nan") for v in SPOT}
    complete = [p for p in traded if p.complete]
    quoted = [p.quoted_bps for p in complete if p.quoted_bps is not None]
    realized = [r for p in complete if (r := realized_bps(p, fills_by_cid)) is not None]
    if quoted:
        out.quoted_mean, out.quoted_p10 = statistics.fmean(quoted), _p10(quoted)
    if realized:
        out.realized_mean, out.realized_p10 = statistics.fmean(realized), _p10(realized)
    pnl = detail.get("pnl", {})
    out.fees_usdt = float(pnl.get("fees_usdt", 0) or 0)
    out.net_pnl_usdt = float(pnl.get("net_pnl_usdt", 0) or 0)
    end_ms = max([t["ts_ms"] for t in detail["transitions"]] or [0])
    out.below_floor_s, out.below_floor_pct = below_floor_time(detail, end_ms)
    return out


def _run_cli(args: list[str]) -> str:
    res = subprocess.run([sys.executable, str(ROOT / "run.py"), *args], capture_output=True, text=True,
                         cwd=str(ROOT), env=_env(), timeout=120)
    if res.returncode != 0:
        raise RuntimeError(f"run.py {' '.join(args)}: exit {res.returncode}: {res.stderr[-500:]}")
    return res.stdout


async def one_run(scenario: str, duration_s: float, config: dict[str, str], latency: dict[str, int],
                  keep: Path | None = None) -> RunFigures:
    """One full-stack run; returns its figures."""
    with tempfile.TemporaryDirectory(prefix="bench-legs-") as tmp:
        home = Path(tmp)
        sim, endpoints = start_sim(home, scenario)
        worker = None
        admin = Admin(endpoints)
        try:
            for venue, ms in latency.items():
                await admin.faults(venue, latency_ms=ms)
            symbol = endpoints.get("symbols", [None])[0] or endpoints.get("symbol") or "NEIROETH"
            (home / "endpoints.json").write_text(json.dumps(endpoints))
            (home / "specs.json").write_text(json.dumps([{"symbol": symbol, "config": config}]))
            db = home / "arb.sqlite"
            worker, ready = start_worker(home, home / "endpoints.json", db, home / "specs.json")
            task_id = ready["tasks"][0]
            deadline = time.monotonic() + duration_s
            while time.monotonic() < deadline:
                if worker.poll() is not None:
                    raise RuntimeError(f"task worker exited early: {(home / 'worker.out').read_text()[-2000:]}")
                await asyncio.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
            stop_proc(worker, grace_s=90)
            worker = None
            detail = json.loads(_run_cli(["tasks", "show", task_id, "--json", "--db", str(db)]))
            if keep is not None:
                keep.write_text(json.dumps(detail))
        except BaseException:
            dump_tails(home)
            raise
        finally:
            await admin.close()
            if worker is not None:
                stop_proc(worker)
            stop_proc(sim)
    return figures(detail)


def _fmt_range(values: list[float], digits: int = 1, pct: bool = False) -> str:
    vals = [v for v in values if v == v]  # drop NaN
    if not vals:
        return "-"
    scale = 100.0 if pct else 1.0
    lo, hi = min(vals) * scale, max(vals) * scale
    suffix = " %" if pct else ""
    if abs(hi - lo) < 10 ** -digits:
        return f"{lo:.{digits}f}{suffix}"
    sep = " to " if lo < 0 or hi < 0 else "-"
    return f"{lo:.{digits}f}{sep}{hi:.{digits}f}{suffix}"


def describe(f: RunFigures) -> str:
    ratio = ", ".join(f"{v} {r:.2f}" for v, r in f.fill_ratio.items())
    return (f"pairs {f.pairs} (complete {f.complete}, single-legged {f.single} = {100 * f.single_share:.1f} %; "
            f"missed both {f.missed}); fill ratio {ratio}; quoted edge mean {f.quoted_mean:.1f} / p10 "
            f"{f.quoted_p10:.1f} bps, realized mean {f.realized_mean:.1f} / p10 {f.realized_p10:.1f} bps; fees "
            f"{f.fees_usdt:.4f} USDT, net PnL {f.net_pnl_usdt:.4f} USDT; below floor {f.below_floor_s:.1f} s "
            f"({f.below_floor_pct:.1f} %); ended {f.end_state}")


def markdown_row(label: str, runs: list[RunFigures]) -> str:
    cols = [
        label,
        _fmt_range([r.pairs for r in runs], 0),
        _fmt_range([r.complete for r in runs], 0),
        _fmt_range([r.single for r in runs], 0) + " (" + _fmt_range([r.single_share for r in runs], 1, pct=True) + ")",
        " / ".join(_fmt_range([r.fill_ratio.get(v, float("nan")) for r in runs], 2) for v in SPOT),
        _fmt_range([r.quoted_mean for r in runs]) + " / " + _fmt_range([r.quoted_p10 for r in runs]),
        _fmt_range([r.realized_mean for r in runs]) + " / " + _fmt_range([r.realized_p10 for r in runs]),
        _fmt_range([r.fees_usdt for r in runs], 2),
        _fmt_range([r.net_pnl_usdt for r in runs], 2),
        _fmt_range([r.below_floor_s for r in runs], 0) + " s",
    ]
    return "| " + " | ".join(cols) + " |"


MARKDOWN_HEADER = ("| run | arb pairs | complete | single-legged (share) | fill ratio gate / mexc | quoted edge mean / p10 "
                   "(bps) | realized edge mean / p10 (bps) | fees (USDT) | net PnL (USDT) | below floor |\n"
                   "|---|---|---|---|---|---|---|---|---|---|")


def _pairs(items: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"{what}: expected key=value, got {item!r}")
        out[key.strip()] = value.strip()
    return out


async def main(args: argparse.Namespace) -> None:
    config = dict(TASK_CONFIG, **_pairs(args.config, "--config"))
    latency = {k: int(v) for k, v in _pairs(args.latency_ms, "--latency-ms").items()}
    runs = []
    for n in range(args.runs):
        keep = Path(f"{args.keep}.{n}.json") if args.keep else None
        fig = await one_run(args.scenario, args.duration, config, latency, keep)
        runs.append(fig)
        print(f"run {n + 1}/{args.runs} ({args.scenario}, {args.duration:g} s, config {config}"
              f"{', latency ' + str(latency) if latency else ''}): {describe(fig)}", flush=True)
    if args.markdown:
        print(MARKDOWN_HEADER)
        print(markdown_row(args.label or args.scenario, runs))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="stmx", help="bundled scenario name or recording path")
    parser.add_argument("--duration", type=float, default=600.0, help="seconds the task runs (build-up included)")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--config", action="append", default=[], metavar="KEY=VALUE", help="task config override")
    parser.add_argument("--latency-ms", action="append", default=[], metavar="VENUE=MS",
                        help="simulator latency fault on a venue (gate_spot, gate_perp, mexc_spot)")
    parser.add_argument("--markdown", action="store_true", help="also print the range as a README table row")
    parser.add_argument("--label", default="", help="first column of the markdown row")
    parser.add_argument("--keep", default="", metavar="PREFIX", help="write each run's tasks show JSON to PREFIX.N.json")
    asyncio.run(main(parser.parse_args()))
