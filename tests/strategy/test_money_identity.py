"""The money identity: whatever the fills, the ledger's net PnL (realized + unrealized - fees +
funding) equals the cash flows (USDT received minus paid, fees in USDT, funding) plus the coins
held valued at mid, to 1e-10 USDT; and a ledger rebuilt from the stored fills equals the live one.

Hypothesis drives random sequences over both spot venues and the perp: partial fills, fees in
base and in quote, drifting prices, funding settlements, and restarts that rebuild the ledger."""

from __future__ import annotations

import os
from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchanges.models import Side
from state.records import FillRecord, FundingRecord, TaskRecord
from state.store import Store
from strategies.delta_neutral.ledger import Ledger
from tests.leases import steal_lease

from .conftest import GP, GS, MS

BASE = "NEIROETH"
TOL = D("1e-10")

prices = st.decimals(min_value=D("0.000035"), max_value=D("2"), places=6)
qtys = st.decimals(min_value=D("0.01"), max_value=D("5000"), places=2)
fee_rates = st.sampled_from([D(0), D("0.0005"), D("0.001"), D("0.002")])
venues = st.sampled_from([GS, MS, GP])


@st.composite
def sequences(draw):
    """A list of ("fill", FillRecord) / ("funding", amount) / ("restart", None) events."""
    events, held = [], {GS: D(0), MS: D(0)}
    for n in range(draw(st.integers(1, 40))):
        kind = draw(st.sampled_from(["fill", "fill", "fill", "funding", "restart"]))
        if kind == "funding":
            events.append(("funding", draw(st.decimals(min_value=D("-1"), max_value=D("1"), places=8))))
            continue
        if kind == "restart":
            events.append(("restart", None))
            continue
        venue, price, qty = draw(venues), draw(prices), draw(qtys)
        side = draw(st.sampled_from([Side.BUY, Side.SELL]))
        fee_asset, fee = "USDT", (qty * price * draw(fee_rates)).quantize(D("1e-10"))
        if venue is not GP:
            if side is Side.SELL:
                qty = min(qty, held[venue])  # spot sells only what it holds (fees included)
                if qty <= 0:
                    continue
            if draw(st.booleans()):  # Gate spot charges a buy's fee in the coin bought
                fee_asset, fee = BASE, (qty * draw(fee_rates)).quantize(D("0.01"))
                if side is Side.SELL and fee > held[venue] - qty:
                    fee = D(0)
            held[venue] += qty * side.sign - (fee if fee_asset == BASE else 0)
        events.append(("fill", FillRecord(task_id="t", venue=venue, trade_id=f"{n}", client_order_id="arbt1",
                                          side=side, price=price, qty=qty if venue is not GP else qty / 10,
                                          qty_base=qty, fee=fee, fee_asset=fee_asset, ts_ms=10_000 - n)))
    mids = {v: draw(prices) for v in (GS, MS, GP)}
    return events, mids


def cash_flow_identity(fills: list[FillRecord], funding: list[D], mids: dict) -> D:
    """USDT received minus paid, minus quote fees, plus funding, plus coins held at mid."""
    cash, coins = D(0), {GS: D(0), MS: D(0), GP: D(0)}
    for f in fills:
        cash -= f.qty_base * f.price * f.side.sign
        coins[f.venue] += f.qty_base * f.side.sign
        if f.fee_asset == BASE:
            coins[f.venue] -= f.fee
        else:
            cash -= f.fee
    return cash + sum(funding, D(0)) + sum((coins[v] * mids[v] for v in coins), D(0))


def rebuilt(fills: list[FillRecord], funding: list[D]) -> Ledger:
    led = Ledger(base=BASE)
    for f in fills:
        led.book(f)
    for amount in funding:
        led.apply_funding(amount)
    return led


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequences())
def test_net_pnl_equals_the_cash_flow_identity_and_rebuilds_equal_live(case):
    events, mids = case
    live, fills, funding = Ledger(base=BASE), [], []
    for kind, item in events:
        if kind == "fill":
            fee_usdt = live.book(item)
            assert fee_usdt is not None and fee_usdt >= 0
            fills.append(item)
        elif kind == "funding":
            live.apply_funding(item)
            funding.append(item)
        else:  # a restart: the ledger comes back from the journal, in booking order
            again = rebuilt(fills, funding)
            assert again.totals(mids) == live.totals(mids)
            live = again
    net = live.net_pnl_usdt(mids)
    assert abs(net - cash_flow_identity(fills, funding, mids)) <= TOL
    assert abs(live.realized_pnl_usdt() + live.unrealized_pnl_usdt(mids) - live.fees_usdt + live.funding_usdt
               - net) <= TOL
    assert rebuilt(fills, funding).totals(mids) == live.totals(mids)


@pytest.fixture
async def store(tmp_path):
    s = await Store.open(tmp_path / "db.sqlite")
    yield s
    await s.close()


async def test_store_returns_fills_in_booking_order_not_time_order(store):
    """Average-cost PnL depends on the order of the fills: the store must give them back as they
    were booked (a late fill can carry an older venue time), so a rebuilt ledger equals the live one."""
    await store.create_task(TaskRecord(task_id="t", strategy="delta_neutral", symbol="NEIROETHUSDT"))
    assert await steal_lease(store, "t", "o1", os.getpid(), "h")
    booked = [
        FillRecord(task_id="t", venue=GS, trade_id="a", client_order_id="arbt1", side=Side.BUY, price=D("1"),
                   qty=D(100), qty_base=D(100), ts_ms=300),
        FillRecord(task_id="t", venue=GS, trade_id="b", client_order_id="arbt1", side=Side.SELL, price=D("1.5"),
                   qty=D(50), qty_base=D(50), ts_ms=100),
        FillRecord(task_id="t", venue=GS, trade_id="c", client_order_id="arbt1", side=Side.BUY, price=D("2"),
                   qty=D(100), qty_base=D(100), ts_ms=200),
    ]
    for f in booked:
        await store.commit_step("t", "o1", state="MONITORING", state_entered_ms=0, context_json="{}",
                                pnl_json=None, fills=[f], funding=[FundingRecord(task_id="t", venue=GP,
                                                                                  ts_ms=f.ts_ms, amount_usdt=D(0))])
    stored = await store.fills("t")
    assert [f.trade_id for f in stored] == ["a", "b", "c"]
    mids = {GS: D("1.8")}
    assert rebuilt(stored, []).totals(mids) == rebuilt(booked, []).totals(mids)
    assert rebuilt(sorted(booked, key=lambda f: f.ts_ms), []).totals(mids) != rebuilt(booked, []).totals(mids)
