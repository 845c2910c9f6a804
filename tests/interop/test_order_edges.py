"""More order paths against the simulator: duplicate ids, post-only, cancel of a finished
order, lookups from a fresh connector (no cached venue ids), short perp positions and the
position/balance stream events."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchanges.factory import venues_from_endpoints
from exchanges.models import (
    BalanceEvent,
    OrderRequest,
    OrderStatus,
    PositionEvent,
    Side,
    TimeInForce,
    VenueId,
)
from exchanges.venue import NotFound, OrderRejected
from tests.interop.helpers import SYM, wait_for
from tests.interop.test_orders import prepare

ALL = list(VenueId)


@pytest.mark.parametrize("vid", ALL, ids=lambda v: v.value)
async def test_duplicate_client_order_id_is_rejected(venues, admin, vid):
    venue, _, _ = await prepare(venues, admin, vid, user=False)
    req = OrderRequest("it-dup", SYM, Side.BUY, D(100), D("0.0400"), tif=TimeInForce.GTC)
    await venue.place_order(req)
    with pytest.raises(OrderRejected) as err:
        await venue.place_order(req)
    assert not err.value.local
    assert len(await venue.open_orders(SYM)) == 1


@pytest.mark.parametrize("vid", ALL, ids=lambda v: v.value)
async def test_post_only_that_would_take_is_rejected(venues, admin, vid):
    venue, _, _ = await prepare(venues, admin, vid, user=False)
    with pytest.raises(OrderRejected) as err:
        await venue.place_order(OrderRequest("it-poc", SYM, Side.BUY, D(100), D("0.0510"),
                                             tif=TimeInForce.POST_ONLY))
    assert not err.value.local
    assert await venue.open_orders(SYM) == []
    rest = await venue.place_order(OrderRequest("it-poc-ok", SYM, Side.BUY, D(100), D("0.0500"),
                                                tif=TimeInForce.POST_ONLY))
    assert rest.status is OrderStatus.OPEN


@pytest.mark.parametrize("vid", ALL, ids=lambda v: v.value)
async def test_cancel_of_a_filled_order_is_not_found(venues, admin, vid):
    venue, _, _ = await prepare(venues, admin, vid, user=False)
    await venue.place_order(OrderRequest("it-filled", SYM, Side.BUY, D(100), D("0.0510")))
    with pytest.raises(NotFound):
        await venue.cancel_order(SYM, "it-filled")
    assert (await venue.get_order(SYM, "it-filled")).status is OrderStatus.FILLED


@pytest.mark.parametrize("vid", ALL, ids=lambda v: v.value)
async def test_fresh_connector_finds_orders_by_client_id_after_fill_and_cancel(sim, venues, admin, vid):
    """What a restarted runner does: no cached venue order ids, only client ids."""
    venue, _, _ = await prepare(venues, admin, vid, user=False)
    await venue.place_order(OrderRequest("it-f-fill", SYM, Side.BUY, D(100), D("0.0510")))
    await venue.place_order(OrderRequest("it-f-rest", SYM, Side.BUY, D(100), D("0.0400"), tif=TimeInForce.GTC))
    await venue.place_order(OrderRequest("it-f-cxl", SYM, Side.BUY, D(100), D("0.0400"), tif=TimeInForce.GTC))
    await venue.cancel_order(SYM, "it-f-cxl")
    fresh = venues_from_endpoints(sim.endpoints)[vid]
    try:
        await fresh.start()
        filled = await fresh.get_order(SYM, "it-f-fill")
        assert (filled.status, filled.filled_qty, filled.avg_price) == (OrderStatus.FILLED, D(100), D("0.0510"))
        assert (await fresh.get_order(SYM, "it-f-rest")).status is OrderStatus.OPEN
        assert (await fresh.get_order(SYM, "it-f-cxl")).status is OrderStatus.CANCELED
        fills = await fresh.order_fills(SYM, "it-f-fill")
        assert [(f.price, f.qty, f.client_order_id) for f in fills] == [(D("0.0510"), D(100), "it-f-fill")]
        cancelled = await fresh.cancel_order(SYM, "it-f-rest")
        assert cancelled.status is OrderStatus.CANCELED
    finally:
        await fresh.close()


async def test_perp_short_position_is_signed_and_streams_position_events(venues, admin):
    perp, info, rec = await prepare(venues, admin, VenueId.GATE_PERP)
    order = await perp.place_order(OrderRequest("it-short", SYM, Side.SELL, D(300), D("0.0500")))
    assert order.status is OrderStatus.FILLED and order.side is Side.SELL
    [pos] = await perp.positions(SYM)
    assert pos.size_contracts == D(-300) and pos.size_base == D(-300) * info.contract_multiplier
    assert pos.entry_price == D("0.0500")
    ev = await wait_for(lambda: [e.position for e in rec.of(PositionEvent) if e.position.size_contracts == -300],
                        what="PositionEvent of the short")
    assert ev[-1].size_base == D(-3000) and ev[-1].symbol == SYM
    # close it with a reduce-only buy: the position disappears
    close = await perp.place_order(OrderRequest("it-close", SYM, Side.BUY, D(300), D("0.0510"), reduce_only=True))
    assert close.status is OrderStatus.FILLED
    assert await perp.positions(SYM) == []
    await wait_for(lambda: any(e.position.size_contracts == 0 for e in rec.of(PositionEvent)),
                   what="PositionEvent of the closed position")


@pytest.mark.parametrize("vid", [VenueId.GATE_SPOT, VenueId.MEXC_SPOT], ids=lambda v: v.value)
async def test_spot_balance_events_follow_a_fill(venues, admin, vid):
    venue, _, rec = await prepare(venues, admin, vid)
    await venue.place_order(OrderRequest("it-bal", SYM, Side.BUY, D(100), D("0.0510")))
    rest = await venue.balances()
    want = {"USDT": rest["USDT"].total, SYM.base: rest[SYM.base].total}
    await wait_for(lambda: all(any(e.balance.asset == a and e.balance.total == t for e in rec.of(BalanceEvent))
                               for a, t in want.items()), what="BalanceEvents matching REST balances")
