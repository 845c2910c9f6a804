"""Orders, fills, balances and private streams through the real connectors against the
in-process simulator, on a deterministic book set through the admin API."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchanges.models import (
    FillEvent,
    OrderEvent,
    OrderRequest,
    OrderStatus,
    Side,
    TimeInForce,
    VenueId,
)
from tests.interop.helpers import RULES, SYM, Admin, Recorder, wait_for

ALL = list(VenueId)
BIDS = [("0.0500", "1000"), ("0.0490", "2000")]
ASKS = [("0.0510", "1000"), ("0.0520", "3000")]


async def prepare(venues, admin: Admin, vid: VenueId, *, user: bool = True):
    """Fixed book on ``vid``, its rules cached, its private streams subscribed."""
    venue = venues[vid]
    await admin.book(vid, BIDS, ASKS)
    info = await venue.symbol_info(SYM)
    rec = Recorder()
    venue.add_listener(rec)
    if user:
        await venue.watch_user(SYM)
    return venue, info, rec


def taker_fee(vid: VenueId, qty: D, quote_cost: D) -> tuple[D, str]:
    """Expected taker fee of a buy: spot in base (qty x rate), perp in USDT (notional x rate)."""
    rate = D(RULES[vid.value]["taker_fee_rate"])
    if vid is VenueId.GATE_PERP:
        return quote_cost * rate, "USDT"
    return qty * rate, SYM.base


def final_order_event(rec: Recorder, cid: str):
    evs = [e.order for e in rec.of(OrderEvent) if e.order.client_order_id == cid]
    return evs[-1] if evs and evs[-1].status.is_final else None


@pytest.mark.parametrize("vid", ALL, ids=lambda v: v.value)
async def test_ioc_buy_sweeping_two_levels_fills_at_real_prices(venues, admin, vid):
    venue, info, rec = await prepare(venues, admin, vid)
    mult = info.contract_multiplier
    before = await venue.balances()
    cid = "it-ioc-full"
    order = await venue.place_order(OrderRequest(cid, SYM, Side.BUY, D(1500), D("0.0520"), tif=TimeInForce.IOC))
    # 1000 @ 0.0510 + 500 @ 0.0520: real average, not the limit price
    quote_cost = (D(1000) * D("0.0510") + D(500) * D("0.0520")) * mult
    avg = quote_cost / (D(1500) * mult)
    fee, fee_asset = taker_fee(vid, D(1500), quote_cost)
    assert order.client_order_id == cid and order.venue is vid
    if order.status is not OrderStatus.FILLED:  # an acknowledgement may precede the fill report
        order = await venue.get_order(SYM, cid)
    assert order.status is OrderStatus.FILLED
    assert order.filled_qty == D(1500)
    assert abs(order.avg_price - avg) < D("1e-9")

    got = await venue.get_order(SYM, cid)
    assert (got.status, got.filled_qty, got.side) == (OrderStatus.FILLED, D(1500), Side.BUY)
    assert abs(got.avg_price - avg) < D("1e-9")

    fills = await venue.order_fills(SYM, cid)
    assert sorted((f.price, f.qty) for f in fills) == [(D("0.0510"), D(1000)), (D("0.0520"), D(500))]
    assert all(f.client_order_id == cid and f.side is Side.BUY and not f.is_maker for f in fills)
    assert all(f.qty_base == f.qty * mult for f in fills)
    assert sum(f.fee for f in fills) == fee and {f.fee_asset for f in fills} == {fee_asset}
    assert len({f.trade_id for f in fills}) == 2

    # private stream: the final order and both fills, with execution price, fee and fee asset
    ev_order = await wait_for(lambda: final_order_event(rec, cid), what="final OrderEvent")
    assert ev_order.status is OrderStatus.FILLED and ev_order.filled_qty == D(1500)
    await wait_for(lambda: len([e for e in rec.of(FillEvent) if e.fill.client_order_id == cid]) >= 2,
                   what="2 FillEvents")
    ws_fills = [e.fill for e in rec.of(FillEvent) if e.fill.client_order_id == cid]
    assert sorted((f.price, f.qty) for f in ws_fills) == [(D("0.0510"), D(1000)), (D("0.0520"), D(500))]
    assert sum(f.fee for f in ws_fills) == fee and {f.fee_asset for f in ws_fills} == {fee_asset}
    assert {f.trade_id for f in ws_fills} == {f.trade_id for f in fills}

    after = await venue.balances()
    if vid is VenueId.GATE_PERP:
        pos = await venue.positions(SYM)
        assert len(pos) == 1
        p = pos[0]
        assert p.size_contracts == D(1500) and p.size_base == D(1500) * mult
        assert abs(p.entry_price - avg) < D("1e-9")
        assert (await venue.positions()) == pos  # the all-contracts listing agrees
        # the futures account paid the fee; margin moved from free to locked
        assert after["USDT"].total == before["USDT"].total - fee
        assert after["USDT"].locked > 0
    else:
        assert after["USDT"].total == before["USDT"].total - quote_cost
        assert after[SYM.base].total == D(1500) - fee
        assert await venue.positions(SYM) == []


@pytest.mark.parametrize("vid", ALL, ids=lambda v: v.value)
async def test_ioc_partial_fill_ends_cancelled_with_fill(venues, admin, vid):
    venue, info, rec = await prepare(venues, admin, vid)
    cid = "it-ioc-part"
    order = await venue.place_order(OrderRequest(cid, SYM, Side.BUY, D(1500), D("0.0510"), tif=TimeInForce.IOC))
    if not order.status.is_final:
        order = await venue.get_order(SYM, cid)
    assert order.status is OrderStatus.CANCELED and order.filled_qty == D(1000)
    assert order.avg_price == D("0.0510")
    got = await venue.get_order(SYM, cid)
    assert (got.status, got.filled_qty) == (OrderStatus.CANCELED, D(1000))
    fills = await venue.order_fills(SYM, cid)
    assert [(f.price, f.qty) for f in fills] == [(D("0.0510"), D(1000))]
    ev = await wait_for(lambda: final_order_event(rec, cid), what="final OrderEvent")
    assert ev.status is OrderStatus.CANCELED and ev.filled_qty == D(1000)
    assert await venue.open_orders(SYM) == []


@pytest.mark.parametrize("vid", ALL, ids=lambda v: v.value)
async def test_gtc_rests_then_cancel(venues, admin, vid):
    venue, info, rec = await prepare(venues, admin, vid)
    mult = info.contract_multiplier
    before = await venue.balances()
    cid = "it-gtc-rest"
    order = await venue.place_order(OrderRequest(cid, SYM, Side.BUY, D(100), D("0.0400"), tif=TimeInForce.GTC))
    assert order.status is OrderStatus.OPEN and order.filled_qty == 0
    assert order.price == D("0.0400") and order.qty == D(100)
    got = await venue.get_order(SYM, cid)
    assert got.status is OrderStatus.OPEN and got.venue_order_id == order.venue_order_id
    opens = await venue.open_orders(SYM)
    assert [o.client_order_id for o in opens] == [cid]
    assert opens[0].status is OrderStatus.OPEN
    ev = await wait_for(lambda: [e.order for e in rec.of(OrderEvent) if e.order.client_order_id == cid],
                        what="OrderEvent for the resting order")
    assert ev[0].status is OrderStatus.OPEN
    resting = await venue.balances()
    if vid is VenueId.GATE_PERP:
        assert resting["USDT"].locked > before["USDT"].locked  # order margin
    else:  # spot: the quote is locked while the order rests
        assert resting["USDT"].locked == before["USDT"].locked + D(100) * D("0.0400") * mult
        assert resting["USDT"].total == before["USDT"].total

    cancelled = await venue.cancel_order(SYM, cid)
    assert cancelled.status is OrderStatus.CANCELED and cancelled.filled_qty == 0
    assert cancelled.client_order_id == cid
    got = await venue.get_order(SYM, cid)  # after cancel (Gate spot: no longer by text -> history)
    assert got.status is OrderStatus.CANCELED and got.venue_order_id == order.venue_order_id
    assert await venue.open_orders(SYM) == []
    assert await venue.order_fills(SYM, cid) == []
    await wait_for(lambda: final_order_event(rec, cid), what="cancel OrderEvent")
    after = await venue.balances()
    assert after["USDT"] == before["USDT"]


@pytest.mark.parametrize("vid", ALL, ids=lambda v: v.value)
async def test_resting_gtc_fills_as_maker_when_the_book_crosses(venues, admin, vid):
    venue, info, rec = await prepare(venues, admin, vid)
    cid = "it-gtc-maker"
    await venue.place_order(OrderRequest(cid, SYM, Side.BUY, D(100), D("0.0505"), tif=TimeInForce.GTC))
    await admin.book(vid, [("0.0495", "1000")], [("0.0503", "1000")])  # the ask now crosses our bid
    ev = await wait_for(lambda: final_order_event(rec, cid), what="maker fill OrderEvent")
    assert ev.status is OrderStatus.FILLED and ev.filled_qty == D(100)
    fills = await venue.order_fills(SYM, cid)
    assert [(f.price, f.qty, f.is_maker) for f in fills] == [(D("0.0505"), D(100), True)]
    rate = D(RULES[vid.value]["maker_fee_rate"])
    expected_fee = (D(100) * D("0.0505") * info.contract_multiplier * rate if vid is VenueId.GATE_PERP
                    else D(100) * rate)
    assert fills[0].fee == expected_fee
