"""FakeVenue behaviour the strategy tests rely on."""

from decimal import Decimal as D

import pytest

from tests.fake_venue import FakeVenue
from exchanges.models import FillEvent, OrderRequest, OrderStatus, OrderType, PositionEvent, Side, TimeInForce
from exchanges.venue import NotFound, OrderRejected, OutcomeUnknown, Venue

from .conftest import GP, GS, SYM


def req(cid, side, qty, price, tif=TimeInForce.IOC, reduce_only=False):
    return OrderRequest(cid, SYM, side, D(qty), D(price), OrderType.LIMIT, tif, reduce_only)


async def test_protocol_and_partial_ioc_fill(fakes):
    v = fakes[GS]
    assert isinstance(v, Venue)
    events = []
    v.add_listener(events.append)
    v.set_book("0.049", "1000", "0.050", "300")
    o = await v.place_order(req("a1", Side.BUY, "500", "0.050"))
    assert o.status is OrderStatus.CANCELED and o.filled_qty == D(300) and o.avg_price == D("0.050")
    f = (await v.order_fills(SYM, "a1"))[0]
    assert f.fee == D("0.015") and f.fee_asset == "USDT"
    assert v.free["NEIROETH"] == D(300) and v.free["USDT"] == D(1000) - D(15) - D("0.015")
    assert v.book.ask_qty == 0  # consumed
    assert any(isinstance(e, FillEvent) for e in events)


async def test_faults_and_not_found(fakes):
    v = fakes[GS]
    v.set_book("0.049", "1000", "0.050", "1000")
    v.fail_next_place("unknown_lost")
    with pytest.raises(OutcomeUnknown):
        await v.place_order(req("b1", Side.BUY, "100", "0.050"))
    with pytest.raises(NotFound):
        await v.get_order(SYM, "b1")
    v.fail_next_place("unknown_accepted")
    with pytest.raises(OutcomeUnknown):
        await v.place_order(req("b2", Side.BUY, "100", "0.050"))
    assert (await v.get_order(SYM, "b2")).filled_qty == D(100)
    v.fail_next_place("reject")
    with pytest.raises(OrderRejected):
        await v.place_order(req("b3", Side.BUY, "100", "0.050"))
    with pytest.raises(OrderRejected):  # insufficient base
        await v.place_order(req("b4", Side.SELL, "1000", "0.049"))
    with pytest.raises(OrderRejected):  # duplicate id
        await v.place_order(req("b2", Side.BUY, "100", "0.050"))
    assert v.place_calls == ["b1", "b2", "b3", "b4", "b2"]


async def test_perp_position_multiplier_reduce_only_and_funding(fakes):
    v = fakes[GP]
    v.set_book("0.050", "1000", "0.051", "1000")
    events = []
    v.add_listener(events.append)
    await v.place_order(req("p1", Side.SELL, "3", "0.050"))
    pos = (await v.positions(SYM))[0]
    assert pos.size_contracts == D(-3) and pos.size_base == D(-30)
    assert any(isinstance(e, PositionEvent) for e in events)
    with pytest.raises(OrderRejected):
        await v.place_order(req("p2", Side.SELL, "1", "0.050", reduce_only=True))
    o = await v.place_order(req("p3", Side.BUY, "5", "0.051", reduce_only=True))
    assert o.filled_qty == D(3)  # capped at the position
    v.position_contracts = D(-10)
    pay = v.pay_funding("0.0001", "0.05", ts_ms=5)
    assert pay.amount == D("0.0005")  # short receives: 100 base * 0.05 * 0.0001
    assert (await v.funding_payments(SYM, 0)) == [pay]


async def test_foreign_orders_listed_and_held_matching(fakes):
    v = fakes[GS]
    v.add_foreign_order("manual1", Side.BUY, D(10), D("0.01"))
    v.hold_matching = True
    v.set_book("0.049", "1000", "0.050", "1000")
    await v.place_order(req("h1", Side.BUY, "100", "0.050", tif=TimeInForce.GTC))
    assert {o.client_order_id for o in await v.open_orders(SYM)} == {"manual1", "h1"}
    v.fill_order("h1", "40", "0.0495")
    assert (await v.get_order(SYM, "h1")).status is OrderStatus.PARTIALLY_FILLED
    v.expire_order("h1")
    with pytest.raises(NotFound):
        await v.cancel_order(SYM, "h1")
    assert [o.client_order_id for o in await v.open_orders(SYM)] == ["manual1"]


async def test_base_fee_asset(infos):
    v = FakeVenue(infos[GS], {"USDT": D(100)}, fee_asset="NEIROETH")
    v.set_book("0.049", "1000", "0.050", "1000")
    await v.place_order(req("x", Side.BUY, "100", "0.050"))
    assert v.free["NEIROETH"] == D("99.9")
