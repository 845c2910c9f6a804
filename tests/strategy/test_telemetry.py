"""The telemetry behind live_view: executable spreads and edges in both directions, the entry spread, inventory
against target and floor, per-venue connection states, what SYNCING waits for, uptime and time left; and
DeltaNeutralTask.live_view on fake venues (SYNCING with a venue down, then MONITORING)."""

from __future__ import annotations

from decimal import Decimal as D

from freezegun import freeze_time

from exchanges.venue import VenueError
from state.records import State
from strategies.delta_neutral import policy, telemetry
from strategies.delta_neutral.telemetry import ConnState

from .conftest import GP, GS, MS, book, set_books, test_config
from .helpers import build

T0 = "2026-01-01 00:00:00"
KEY_GS_MS = "sell_gate_spot_buy_mexc_spot_bps"
KEY_MS_GS = "sell_mexc_spot_buy_gate_spot_bps"


def test_spreads_edges_and_entry_spread_both_directions(infos):
    books = {GS: book(GS, "0.05100", "0.05110"), MS: book(MS, "0.04990", "0.05000")}
    out = telemetry.spreads(books, infos, D(10))
    assert out["spreads_bps"] == {KEY_GS_MS: "200.00", KEY_MS_GS: "-234.83"}
    assert out["edges_bps"][KEY_GS_MS] == str(round(policy.edge_bps(D("0.051"), D("0.05"), D("0.001"), D("0.0005")), 2))
    # at the entry spread the edge after fees is exactly the threshold
    entry = telemetry.entry_spread_bps(D(10), D("0.001"), D("0.0005"))
    ask = D("0.05")
    bid = ask * (1 + entry / 10000)
    assert abs(policy.edge_bps(bid, ask, D("0.001"), D("0.0005")) - D(10)) < D("1e-20")
    assert out["entry_spread_bps"][KEY_GS_MS] == str(round(entry, 2)) == "25.03"
    assert telemetry.spreads({GS: books[GS]}, infos, D(10)) == {"spreads_bps": {}, "edges_bps": {},
                                                              "entry_spread_bps": {}}


def test_inventory_against_target_and_floor():
    cfg = test_config(position_usdt=D(200), min_inventory_fraction=D("0.3"))
    mids = {GS: D("0.05"), MS: D("0.05")}
    out = telemetry.inventory({GS: D(2000), MS: D(500)}, mids, cfg, building=False)
    assert out["inventory_target_base"] == {"gate_spot": "2000", "mexc_spot": "2000"}
    assert out["inventory_pct"] == {"gate_spot": "100.0", "mexc_spot": "25.0"}
    assert out["inventory_floor_pct"] == "30.0" and out["low_inventory"] == ["mexc_spot"]
    assert telemetry.inventory({GS: D(0), MS: D(0)}, mids, cfg, building=True)["low_inventory"] == []
    assert telemetry.inventory({GS: D(0)}, {}, cfg, building=False)["inventory_pct"] == {}


def test_connection_states():
    now = 10_000
    fresh, old = book(GS, "1", "2", ts_ms=now - 100), book(GS, "1", "2", ts_ms=now - 5000)
    assert telemetry.connection(ready=False, error="", book=None, now_ms=now, max_book_age_ms=3000) == (
        ConnState.CONNECTING, "")
    assert telemetry.connection(ready=False, error="OSError: refused", book=None, now_ms=now,
                                max_book_age_ms=3000) == (ConnState.DOWN, "OSError: refused")
    assert telemetry.connection(ready=True, error="", book=None, now_ms=now, max_book_age_ms=3000)[0] is \
        ConnState.RECONNECTING
    stale_flag = book(GS, "1", "2", ts_ms=now, stale=True)
    assert telemetry.connection(ready=True, error="", book=stale_flag, now_ms=now, max_book_age_ms=3000)[0] is \
        ConnState.RECONNECTING
    assert telemetry.connection(ready=True, error="", book=old, now_ms=now, max_book_age_ms=3000) == (
        ConnState.STALE, "book 5000 ms old")
    assert telemetry.connection(ready=True, error="", book=fresh, now_ms=now, max_book_age_ms=3000) == (ConnState.UP, "")
    err = "gate_spot: OSError: refused; mexc_spot: TimeoutError: timed out"
    assert telemetry.venue_error(err, MS) == "TimeoutError: timed out" and telemetry.venue_error(err, GP) == ""


def test_waiting_for_and_timing():
    conn = {"gate_spot": {"state": "up", "detail": ""}, "mexc_spot": {"state": "down", "detail": "OSError: refused"},
            "gate_perp": {"state": "connecting", "detail": ""}}
    assert telemetry.waiting_for(conn, connected=False, reconciled=False) == \
        "connecting mexc_spot (OSError: refused), gate_perp"
    assert telemetry.waiting_for(conn, connected=True, reconciled=False).startswith("reconciling orders")
    assert telemetry.waiting_for(conn, connected=True, reconciled=True) == "fresh books from mexc_spot, gate_perp"
    assert telemetry.timing(started_ms=0, now_ms=5000, max_duration_s=0) == {"uptime_s": 0.0, "time_left_s": None}
    assert telemetry.timing(started_ms=1000, now_ms=61_000, max_duration_s=100) == {"uptime_s": 60.0,
                                                                                   "time_left_s": 40.0}


async def test_live_view_while_syncing_with_a_venue_down_then_monitoring(harness, fakes):
    with freeze_time(T0) as ft:
        set_books(fakes)
        original = fakes[MS].start

        async def refuse() -> None:
            raise VenueError("connection refused", venue="mexc_spot")

        fakes[MS].start = refuse
        task = await harness.open()
        await harness.run_until(lambda t: t.state is State.SYNCING)
        await harness.step()
        view = task.live_view()
        assert view["connection"]["mexc_spot"]["state"] == "down"
        assert "connection refused" in view["connection"]["mexc_spot"]["detail"]
        assert view["connection"]["gate_spot"]["state"] == "up"
        assert view["waiting_for"].startswith("connecting mexc_spot (VenueError: connection refused")
        fakes[MS].start = original
        ft.tick(2)
        await build(harness)
        view = task.live_view()
        assert view["waiting_for"] == "" and {c["state"] for c in view["connection"].values()} == {"up"}
        assert set(view["spreads_bps"]) == set(view["edges_bps"]) == {KEY_GS_MS, KEY_MS_GS}
        assert view["entry_threshold_bps"] == "10" and view["entry_spread_bps"][KEY_GS_MS] == "25.03"
        assert view["inventory_pct"] == {"gate_spot": "100.0", "mexc_spot": "100.0"} and view["low_inventory"] == []
        assert view["delta_tolerance_base"] == "10" and view["mids"]["gate_perp"] == "0.05000"
        ft.tick(30)
        fakes[GS].set_book("0.04999", "100000", "0.05000", "100000")
        assert task.live_view()["uptime_s"] >= 30.0 and task.live_view()["time_left_s"] is None
