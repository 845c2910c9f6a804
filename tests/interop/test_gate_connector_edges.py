"""Gate connector against the simulator: classic and unified account modes
(docs/venues.md 1.11), request-time refusals (read retried once, write never
resent), rate buckets per endpoint template, an already-final order's cancel
settled as "already gone" (1.12)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchanges.factory import venues_from_endpoints
from exchanges.models import OrderRequest, OrderStatus, Side, TimeInForce, VenueId
from exchanges.venue import NotFound, OrderRejected
from tests.interop.helpers import SYM
from tests.interop.test_orders import prepare

GS, GP = VenueId.GATE_SPOT, VenueId.GATE_PERP


async def _started(sim):
    built = venues_from_endpoints(sim.endpoints)
    for vid in (GS, GP):
        await built[vid].start()
    return built


async def _close(built) -> None:
    for venue in built.values():
        await venue.close()


async def test_classic_account_trades_from_spot_and_reads_spot_accounts(venues, admin, sim):
    venue, _, _ = await prepare(venues, admin, GS, user=False)
    assert await venue.account_mode() == "classic" and not await venue.is_unified()
    assert (await venue.balances())["USDT"].free == D(10000)
    order = await venue.place_order(OrderRequest("it-classic", SYM, Side.BUY, D(100), D("0.0400"),
                                                 tif=TimeInForce.GTC))
    assert order.status is OrderStatus.OPEN
    assert (await venues[GP].balances())["USDT"].free == D(10000)  # futures keep their own account


async def test_unified_account_detected_orders_and_pooled_balances(sim, admin):
    key = sim.engine.default_account.api_key
    sim.engine.set_gate_mode(key, "multi_currency")  # before the connector starts: detected at start
    built = await _started(sim)
    spot, perp = built[GS], built[GP]
    try:
        assert await spot.account_mode() == "multi_currency" and await perp.is_unified()
        pool = await spot.balances()  # the simulator's /spot/accounts is empty for a unified account
        assert pool["USDT"].free == D(20000)  # spot 10000 + futures 10000 in one pool
        await admin.book(GS, [("0.0500", "1000")], [("0.0501", "1000")])
        await spot.symbol_info(SYM)
        order = await spot.place_order(OrderRequest("it-unified", SYM, Side.BUY, D(100), D("0.0400"),
                                                    tif=TimeInForce.GTC))  # refused with account=spot
        assert order.status is OrderStatus.OPEN
        assert (await spot.balances())["USDT"].locked == D(4)
        assert (await perp.balances())["USDT"] == (await spot.balances())["USDT"]
    finally:
        await _close(built)


async def test_request_expired_read_is_retried_once_after_a_resync(venues, admin):
    venue = venues[GS]
    await venue.balances()  # offset measured
    venue.rest.time.offset_ms -= 120_000  # our idea of the venue clock is two minutes off
    balances = await venue.balances()  # REQUEST_EXPIRED -> resync -> the same GET once more
    assert balances["USDT"].free == D(10000) and abs(venue.rest.time.offset_ms) < 5_000


async def test_request_expired_write_is_never_resent(venues, admin, sim):
    venue, _, _ = await prepare(venues, admin, GS, user=False)
    venue.rest.time.offset_ms -= 120_000
    with pytest.raises(OrderRejected) as err:
        await venue.place_order(OrderRequest("it-expired", SYM, Side.BUY, D(100), D("0.0400"),
                                             tif=TimeInForce.GTC))
    assert err.value.code == "REQUEST_EXPIRED" and abs(venue.rest.time.offset_ms) < 5_000
    assert not [o for o in sim.engine.order_log(100) if o.client_order_id.endswith("it-expired")]


async def test_rate_buckets_are_per_endpoint_template_not_per_order_id(venues, admin):
    venue, _, _ = await prepare(venues, admin, GS, user=False)
    for i in range(4):
        await venue.place_order(OrderRequest(f"it-rb{i}", SYM, Side.BUY, D(100), D("0.0400"), tif=TimeInForce.GTC))
        await venue.get_order(SYM, f"it-rb{i}")
        await venue.cancel_order(SYM, f"it-rb{i}")
    keys = venue.rest.limiter.keys()
    assert "ep:DELETE /spot/orders/{id}" in keys and "ep:GET /spot/orders/{id}" in keys
    assert not [k for k in keys if any(ch.isdigit() for ch in k.split(" ", 1)[-1])], keys


@pytest.mark.parametrize("vid", [GS, GP], ids=lambda v: v.value)
async def test_cancel_of_an_already_cancelled_order_is_already_gone(venues, admin, vid):
    venue, _, _ = await prepare(venues, admin, vid, user=False)
    await venue.place_order(OrderRequest("it-cc", SYM, Side.BUY, D(100), D("0.0400"), tif=TimeInForce.GTC))
    assert (await venue.cancel_order(SYM, "it-cc")).status is OrderStatus.CANCELED
    with pytest.raises(NotFound) as err:  # ORDER_CANCELLED / ORDER_FINISHED: settled by query, not an error
        await venue.cancel_order(SYM, "it-cc")
    assert err.value.code in ("ORDER_CANCELLED", "ORDER_FINISHED")
    assert (await venue.get_order(SYM, "it-cc")).status is OrderStatus.CANCELED
