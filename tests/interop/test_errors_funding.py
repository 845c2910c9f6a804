"""Error taxonomy through the real connectors against simulator faults, and perp funding."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchanges import clock
from exchanges.factory import venues_from_endpoints
from exchanges.models import OrderRequest, OrderStatus, Side, TimeInForce, VenueId
from exchanges.venue import AuthError, NotFound, OrderRejected, OutcomeUnknown, RateLimited
from tests.interop.helpers import SYM, Admin
from tests.interop.test_orders import ASKS, BIDS

ALL = list(VenueId)


def ioc_buy(cid: str, qty: str = "100", price: str = "0.0510") -> OrderRequest:
    return OrderRequest(cid, SYM, Side.BUY, D(qty), D(price), tif=TimeInForce.IOC)


@pytest.mark.parametrize("vid", ALL, ids=lambda v: v.value)
async def test_bad_secret_is_auth_error(sim, vid):
    endpoints = {k: (dict(v, api_secret="0" * 64) if isinstance(v, dict) else v) for k, v in sim.endpoints.items()}
    venue = venues_from_endpoints(endpoints)[vid]
    try:
        await venue.start()
        await venue.symbol_info(SYM)  # public: works without a valid secret
        with pytest.raises(AuthError):
            await venue.balances()
        with pytest.raises(AuthError):
            await venue.place_order(ioc_buy("it-auth"))
    finally:
        await venue.close()
    assert not [o for o in sim.engine.order_log(100) if o.client_order_id.endswith("it-auth")]


@pytest.mark.parametrize("vid", ALL, ids=lambda v: v.value)
async def test_unknown_client_order_id_is_not_found(venues, vid):
    venue = venues[vid]
    with pytest.raises(NotFound):
        await venue.get_order(SYM, "it-never-sent")
    with pytest.raises(NotFound):
        await venue.cancel_order(SYM, "it-never-sent")


@pytest.mark.parametrize("vid", ALL, ids=lambda v: v.value)
async def test_insufficient_balance_is_rejected_by_the_venue(venues, admin: Admin, vid):
    venue = venues[vid]
    await admin.book(vid, BIDS, ASKS)
    with pytest.raises(OrderRejected) as err:  # 1,000,000 x 0.0510 (x10 on the perp) >> 10,000 USDT
        await venue.place_order(OrderRequest("it-poor", SYM, Side.BUY, D(1_000_000), D("0.0510"),
                                             tif=TimeInForce.GTC))
    assert not err.value.local
    with pytest.raises(NotFound):
        await venue.get_order(SYM, "it-poor")
    if vid is not VenueId.GATE_PERP:  # selling base we do not hold
        with pytest.raises(OrderRejected) as err:
            await venue.place_order(OrderRequest("it-nobase", SYM, Side.SELL, D(100), D("0.0500")))
        assert not err.value.local


@pytest.mark.parametrize("vid", ALL, ids=lambda v: v.value)
async def test_5xx_fault_is_outcome_unknown(venues, admin: Admin, vid):
    venue = venues[vid]
    await admin.book(vid, BIDS, ASKS)
    await venue.symbol_info(SYM)
    await admin.faults(vid.value, error_5xx=1, error_status=503)
    with pytest.raises(OutcomeUnknown):
        await venue.place_order(ioc_buy("it-5xx"))
    with pytest.raises(NotFound):  # the injected 503 came before the order was handled
        await venue.get_order(SYM, "it-5xx")
    order = await venue.place_order(ioc_buy("it-5xx-after"))  # the fault fired once
    assert order.client_order_id == "it-5xx-after"


@pytest.mark.parametrize("vid", ALL, ids=lambda v: v.value)
async def test_429_fault_is_rate_limited(venues, admin: Admin, vid):
    venue = venues[vid]
    await admin.book(vid, BIDS, ASKS)
    await venue.symbol_info(SYM)
    await admin.faults(vid.value, rate_limit_429=1)
    with pytest.raises(RateLimited) as err:
        await venue.place_order(ioc_buy("it-429"))
    assert err.value.retry_after_s > 0
    with pytest.raises(NotFound):
        await venue.get_order(SYM, "it-429")


@pytest.mark.parametrize("vid", ALL, ids=lambda v: v.value)
async def test_accept_then_timeout_is_outcome_unknown_and_get_order_finds_it(venues, admin: Admin, vid):
    venue = venues[vid]
    await admin.book(vid, BIDS, ASKS)
    await venue.symbol_info(SYM)
    # test speed: a 0.5 s request timeout instead of 5 s (the session is rebuilt with it)
    await venue.rest.http.close()
    venue.rest.http.timeout_s = 0.5
    await admin.faults(vid.value, timeout_after_accept=1, timeout_hold_s=1.2)
    with pytest.raises(OutcomeUnknown):
        await venue.place_order(ioc_buy("it-timeout"))
    order = await venue.get_order(SYM, "it-timeout")  # resolve, never re-send
    assert order.status is OrderStatus.FILLED and order.filled_qty == D(100)
    assert order.avg_price == D("0.0510")


async def test_funding_rate_and_payments_on_the_perp(venues, admin: Admin):
    perp = venues[VenueId.GATE_PERP]
    await admin.book(VenueId.GATE_PERP, BIDS, ASKS)
    fr = await perp.funding_rate(SYM)
    assert fr is not None and fr.venue is VenueId.GATE_PERP
    assert fr.rate == D("0.0001") and fr.interval_s == 28800
    assert fr.next_funding_ms > clock.now_ms() - 1000
    since_ms = clock.now_ms() - 1000
    assert await perp.funding_payments(SYM, since_ms) == []
    order = await perp.place_order(ioc_buy("it-fund-long", qty="200"))
    assert order.status is OrderStatus.FILLED
    before = (await perp.balances())["USDT"]
    settled = await admin.funding(VenueId.GATE_PERP, rate="0.001")
    assert len(settled) == 1
    payments = await perp.funding_payments(SYM, since_ms)
    assert len(payments) == 1
    pay = payments[0]
    assert pay.amount == D(settled[0]["amount"]) and pay.amount < 0  # positive rate: the long pays
    assert pay.rate == D("0.001") and pay.asset == "USDT" and pay.symbol == SYM
    after = (await perp.balances())["USDT"]
    assert after.total == before.total + pay.amount
    assert await perp.funding_payments(SYM, pay.ts_ms + 1000) == []


@pytest.mark.parametrize("vid", [VenueId.GATE_SPOT, VenueId.MEXC_SPOT], ids=lambda v: v.value)
async def test_spot_venues_have_no_funding_or_positions(venues, vid):
    venue = venues[vid]
    assert await venue.funding_rate(SYM) is None
    assert await venue.funding_payments(SYM, 0) == []
    assert await venue.positions() == []


async def test_gate_spot_fee_lookup_failure_is_not_cached_for_good(venues, admin: Admin, monkeypatch):
    from exchanges.gateio import base

    spot = venues[VenueId.GATE_SPOT]
    await admin.faults("gate_spot", error_5xx=1, path_prefix="/api/v4/spot/fee")
    first = await spot.symbol_info(SYM)  # /spot/fee failed: rules from the pair's fee field
    faults = await admin._call("GET", "/_sim/faults")
    assert faults["gate_spot"]["injected"].get("error_5xx") == 1  # the fee lookup really failed
    assert SYM in spot._info_provisional
    monkeypatch.setattr(base, "PROVISIONAL_INFO_RETRY_S", 0.0)
    second = await spot.symbol_info(SYM)  # re-fetched: the user's fees now
    assert (second.maker_fee_rate, second.taker_fee_rate) == (D("0.001"), D("0.002"))
    assert second.price_tick == first.price_tick and SYM not in spot._info_provisional
    monkeypatch.setattr(base, "PROVISIONAL_INFO_RETRY_S", 30.0)
    assert await spot.symbol_info(SYM) is second  # complete rules stay cached
