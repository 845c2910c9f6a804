"""Private push shapes as the venues document them (docs/venues.md 2.6, 4.4):
Gate ``spot.orders`` times as strings, ``futures.orders`` numbers and a string
user id; MEXC order pushes in the venue's status order."""

from __future__ import annotations

from decimal import Decimal as D

import aiohttp

from exchanges.models import OrderType, Side, TimeInForce
from tests.sim.conftest import SYM, wait_for
from tests.sim.edge_fixtures import MEXC, mexc  # noqa: F401
from tests.sim.test_edge_mexc_ws import _recv_push, _subscribe
from tests.sim.test_gate_ws import WsReader


async def test_gate_spot_orders_push_times_as_strings(sim, gate):
    ep = sim.endpoints["gate_spot"]
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(ep["ws_url"]) as ws:
            r = WsReader(ws)
            await r.send("spot.orders", payload=["!all"], auth_secret=ep["api_secret"], key=ep["api_key"])
            status, _ = await gate.call("POST", "/spot/orders", body={
                "currency_pair": "NEIROETH_USDT", "side": "buy", "amount": "40", "price": "0.0490", "text": "t-typ"})
            assert status == 201
            [frame] = await wait_for(lambda: r.of("spot.orders"))
    item = frame["result"][0]
    for key in ("create_time", "create_time_ms", "update_time", "update_time_ms", "amount", "price", "left"):
        assert isinstance(item[key], str), key
    assert item["create_time_ms"].isdigit() and int(item["create_time_ms"]) // 1000 == int(item["create_time"])
    assert item["user"] == ep["user_id"] and item["event"] == "put" and item["text"] == "t-typ"


async def test_gate_futures_orders_push_numbers_and_string_user(sim, gate):
    ep = sim.endpoints["gate_perp"]
    uid = str(ep["user_id"])
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(ep["ws_url"]) as ws:  # no X-Gate-Size-Decimal: sizes are ints
            r = WsReader(ws)
            await r.send("futures.orders", payload=[uid, "!all"], auth_secret=ep["api_secret"], key=ep["api_key"])
            status, _ = await gate.call("POST", "/futures/usdt/orders", body={
                "contract": "NEIROETH_USDT", "size": 20, "price": "0.0501", "tif": "ioc", "text": "t-ftyp"})
            assert status == 201
            frames = await wait_for(lambda: [f for f in r.of("futures.orders")
                                             if f["result"][0]["status"] == "finished"])
    item = frames[-1]["result"][0]
    for key in ("price", "fill_price", "tkfr", "mkfr"):
        assert isinstance(item[key], float), key
    for key in ("size", "left", "id", "create_time", "create_time_ms", "finish_time", "finish_time_ms", "iceberg"):
        assert isinstance(item[key], int) and not isinstance(item[key], bool), key
    assert item["user"] == uid and "update_time" not in item
    assert (item["size"], item["left"], item["finish_as"]) == (20, 0, "filled")


async def _order_statuses(mexc, ws, place) -> list[int]:
    place()
    statuses: list[int] = []
    while not statuses or statuses[-1] not in (2, 4, 5):
        statuses.append((await _recv_push(ws, "privateOrders")).privateOrders.status)
    return statuses


async def test_mexc_order_pushes_follow_the_venue_status_order(mexc):  # noqa: F811
    _, body = await mexc.signed("POST", "/api/v3/userDataStream")
    key = mexc.engine.default_account.api_key
    mexc.set_book([("0.0500", "1000")], [("0.0501", "1000"), ("0.0502", "1000")])
    async with mexc.session.ws_connect(f"{mexc.ws_url}?listenKey={body['listenKey']}") as ws:
        await _subscribe(ws, "spot@private.orders.v3.api.pb")

        def ioc(qty: str, price: str):
            return lambda: mexc.engine.place_order(key, MEXC, SYM, Side.BUY, D(qty), D(price), OrderType.LIMIT,
                                                   TimeInForce.IOC)

        assert await _order_statuses(mexc, ws, ioc("500", "0.0501")) == [1, 2]  # filled by one match
        assert await _order_statuses(mexc, ws, ioc("1000", "0.0502")) == [1, 3, 2]  # two levels, two matches
        assert await _order_statuses(mexc, ws, ioc("5000", "0.0502")) == [1, 3, 5]  # IOC remainder cancelled
        order = mexc.engine.place_order(key, MEXC, SYM, Side.SELL, D("100"), D("0.0510"), OrderType.LIMIT,
                                        TimeInForce.GTC)
        assert (await _recv_push(ws, "privateOrders")).privateOrders.status == 1
        assert await _order_statuses(mexc, ws, lambda: mexc.engine.cancel_order(key, MEXC, SYM,
                                                                                order_id=order.id)) == [4]
