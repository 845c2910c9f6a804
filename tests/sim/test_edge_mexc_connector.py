"""The project's own MEXC connector (exchanges/mexc) against the simulator, unchanged."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

from exchanges.mexc.spot import MexcSpotVenue
from exchanges.models import FillEvent, OrderRequest, OrderStatus, OrderType, Side, TimeInForce, VenueId
from tests.sim.edge_fixtures import SYM, mexc  # noqa: F401


async def _until(cond, timeout_s=5.0):
    for _ in range(int(timeout_s / 0.01)):
        if cond():
            return True
        await asyncio.sleep(0.01)
    return cond()


async def test_connector_round_trip(mexc):
    venue = MexcSpotVenue(rest_url=mexc.rest_url, ws_url=mexc.ws_url, api_key=mexc.api_key,
                          api_secret=mexc.api_secret)
    events = []
    venue.add_listener(events.append)
    await venue.start()
    try:
        info = await venue.symbol_info(SYM)
        assert info.price_tick == D("0.000001") and info.size_step == D("0.01") and info.min_notional == D(1)
        assert info.taker_fee_rate == D("0.0005") and info.tradable
        await venue.watch_book(SYM)
        assert await _until(lambda: venue.book_top(SYM) is not None and not venue.book_top(SYM).stale)
        mexc.set_book([("0.050002", "500")], [("0.050011", "700")])
        assert await _until(lambda: venue.book_top(SYM).bid == D("0.050002"))
        await venue.watch_user(SYM)
        order = await venue.place_order(OrderRequest("c-1", SYM, side=Side.BUY,
                                                     qty=D("1000"), price=D("0.050011"),
                                                     order_type=OrderType.LIMIT, tif=TimeInForce.IOC))
        assert order.status is OrderStatus.CANCELED and order.filled_qty == D("700")
        fills = await venue.order_fills(SYM, "c-1")
        assert [f.qty for f in fills] == [D("700")] and fills[0].fee_asset == "NEIROETH"
        assert await _until(lambda: any(isinstance(e, FillEvent) for e in events))
        balances = await venue.balances()
        assert balances["NEIROETH"].free == D("700") - fills[0].fee
        assert venue.venue_id is VenueId.MEXC_SPOT
    finally:
        await venue.close()
