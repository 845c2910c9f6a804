"""Venue behaviours the connectors rely on that the simulator must reproduce (documented in
docs/venues.md). A failure here is a simulator fidelity bug, not a connector bug."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchanges.models import OrderRequest, OrderStatus, Side, TimeInForce, VenueId
from exchanges.venue import NotFound
from tests.interop.helpers import SYM
from tests.interop.test_orders import prepare


async def test_gate_spot_text_lookup_works_only_while_open(venues, admin):
    venue, _, _ = await prepare(venues, admin, VenueId.GATE_SPOT, user=False)
    await venue.place_order(OrderRequest("it-txt-open", SYM, Side.BUY, D(100), D("0.0400"), tif=TimeInForce.GTC))
    raw = await venue.rest.private("GET", "/spot/orders/t-it-txt-open", [("currency_pair", SYM.gate)])
    assert b"t-it-txt-open" in raw  # open: the text resolves
    await venue.place_order(OrderRequest("it-txt-done", SYM, Side.BUY, D(100), D("0.0510")))
    with pytest.raises(NotFound):  # finished: only the exchange id resolves (section 1.5)
        await venue.rest.private("GET", "/spot/orders/t-it-txt-done", [("currency_pair", SYM.gate)])
    # the connector still finds it (finished-orders fallback)
    assert (await venue.get_order(SYM, "it-txt-done")).status is OrderStatus.FILLED
