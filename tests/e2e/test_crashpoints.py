"""tests/e2e/crashpoints.py (the ARB_CRASH_AT crash proxy, injected by tests/e2e/crashhook) and the e2e
ledger checker itself."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.e2e import crashpoints
from tests.e2e.crashpoints import CrashingVenue, CrashPlan, CrashSpecError, plan_from_env, wrap_venues
from tests.e2e.harness import PROJECT_ROOT, base_env, ledger_problems, sequence_problems


@pytest.mark.parametrize("spec", ["before_send", "before_send:0", "after_send:-1", "after_send:x", "random:2",
                                  "random:-0.1", "random:", "sometimes:1", ":3"])
def test_bad_spec_refused(spec: str) -> None:
    with pytest.raises(CrashSpecError, match="ARB_CRASH_AT"):
        CrashPlan(spec)


def test_nth_call_only() -> None:
    plan = CrashPlan("after_send:3")
    assert [plan.decide() for _ in range(4)] == [(None, 1), (None, 2), ("after_send", 3), (None, 4)]


def test_random_is_seeded_and_bounded() -> None:
    plan_a, plan_b = CrashPlan("random:0.5", "7"), CrashPlan("random:0.5", "7")
    seq_a = [plan_a.decide()[0] for _ in range(50)]
    assert seq_a == [plan_b.decide()[0] for _ in range(50)]
    assert {"before_send", "after_send", None} == set(seq_a)
    never, always = CrashPlan("random:0", "1"), CrashPlan("random:1", "1")
    assert all(never.decide()[0] is None for _ in range(100))
    assert all(always.decide()[0] in crashpoints.POINTS for _ in range(100))


def test_unset_means_no_proxy() -> None:
    assert plan_from_env({}) is None and plan_from_env({"ARB_CRASH_AT": "  "}) is None
    venues = {"x": object()}
    assert wrap_venues(venues, None) is venues  # type: ignore[arg-type]


def test_proxy_delegates() -> None:
    class Inner:
        venue_id = "v"
        market_type = "spot"

        def book_top(self, symbol):
            return ("top", symbol)

    proxy = CrashingVenue(Inner(), CrashPlan("before_send:5"))  # type: ignore[arg-type]
    assert proxy.venue_id == "v" and proxy.book_top("S") == ("top", "S")


def test_malformed_spec_is_refused_before_anything_starts(tmp_path: Path) -> None:
    """The crash shim refuses a malformed ARB_CRASH_AT with one line and exit 2, before a simulator
    or database exists (and the product itself never reads the variable)."""
    home = tmp_path / "home"
    env = base_env(home, ARB_CRASH_AT="before_send:zero")
    res = subprocess.run([sys.executable, str(PROJECT_ROOT / "run.py"), "start", "--symbol", "NEIROETH",
                          "--no-dashboard", "--db", str(tmp_path / "x.sqlite")], capture_output=True, text=True,
                         env=env, timeout=60, cwd=str(PROJECT_ROOT), check=False)
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip().splitlines() == [res.stderr.strip()] and "ARB_CRASH_AT" in res.stderr
    assert not (home / "sim").exists() and not (tmp_path / "x.sqlite").exists()


def test_product_has_no_crash_hook() -> None:
    for path in (PROJECT_ROOT / "exchanges").rglob("*.py"):
        assert "ARB_CRASH" not in path.read_text(), path


_CHILD = textwrap.dedent("""
    import asyncio, sys
    from tests.e2e.crashpoints import CrashingVenue, plan_from_env
    from exchanges.models import VenueId, MarketType

    class Inner:
        venue_id = VenueId.GATE_SPOT
        market_type = MarketType.SPOT
        async def place_order(self, request):
            print("sent", request, flush=True)
            return "order-" + request

    class Req(str):
        client_order_id = property(lambda self: str(self))

    async def main():
        venue = CrashingVenue(Inner(), plan_from_env())
        for n in range(3):
            print("returned", await venue.place_order(Req(f"cid{n}")), flush=True)

    asyncio.run(main())
""")


@pytest.mark.parametrize(("spec", "sent", "returned"), [("before_send:2", ["cid0"], ["order-cid0"]),
                                                        ("after_send:2", ["cid0", "cid1"], ["order-cid0"])])
def test_sigkill_at_the_point(spec: str, sent: list[str], returned: list[str]) -> None:
    env = {"ARB_CRASH_AT": spec, "PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin"}
    res = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, env=env, timeout=30,
                         cwd=str(PROJECT_ROOT), check=False)
    assert res.returncode == -9, res.stderr
    lines = res.stdout.split("\n")
    assert [ln.split()[1] for ln in lines if ln.startswith("sent")] == sent
    assert [ln.split()[1] for ln in lines if ln.startswith("returned")] == returned
    point = spec.split(":")[0]
    assert f"crashpoint: SIGKILL at {point} (place_order #2, gate_spot cid1)" in res.stderr


def _intent(cid: str, seq: int, status: str = "filled", filled: str = "5", created: int = 100) -> dict:
    return {"client_order_id": cid, "seq": seq, "venue": "gate_spot", "side": "buy", "qty": "5", "price": "0.1",
            "status": status, "filled_qty": filled, "created_ms": created, "error": ""}


def test_ledger_checker_catches_mismatches() -> None:
    show = {"order_intents": [_intent("arbT000001", 1), _intent("arbT000002", 2, status="new", filled="0")],
            "fills": [{"client_order_id": "arbT000001", "venue": "gate_spot", "trade_id": "9", "qty": "5",
                       "price": "0.1"}]}
    order = {"cid": "arbT000001", "venue": "gate_spot", "side": "buy", "qty": "5", "price": "0.1",
             "status": "filled", "filled_qty": "5", "recv_ms": 100}
    fill = {"cid": "arbT000001", "venue": "gate_spot", "trade_id": 9, "qty": "5", "price": "0.1"}
    assert ledger_problems(show, [order], [fill], settled_before_ms=50) == []
    assert any("still new" in p for p in ledger_problems(show, [order], [fill], settled_before_ms=200))
    assert any("sent twice" in p for p in ledger_problems(show, [order, order], [fill], 50))
    assert any("no intent" in p for p in ledger_problems(show, [order, {**order, "cid": "arbT000003"}], [fill], 50))
    assert any("ledger fills" in p for p in ledger_problems(show, [order], [{**fill, "price": "0.2"}], 200))
    assert not sequence_problems(show)
    assert sequence_problems({"order_intents": [_intent("arbT000001", 1), _intent("arbT000001", 1)]})
    assert any("gaps" in p for p in sequence_problems({"order_intents": [_intent("arbT000001", 1),
                                                                       _intent("arbT000003", 3)]}))
