"""Client order id rules per venue: Gate ``text`` must be ``t-`` + <= 28 chars of
[0-9A-Za-z_.-]; MEXC ``newClientOrderId`` is 1..32 chars of [0-9A-Za-z_-] and
round-trips exactly (REST, trades, private WS); duplicates refused while open."""

from __future__ import annotations

import json
from decimal import Decimal as D

import aiohttp
import pytest

from exchanges.mexc.proto import mexc_push_pb2 as pb
from exchanges.models import OrderType, Side, TimeInForce, VenueId
from exchanges.sim.engine import SimEngine
from exchanges.sim.engine.types import SimError
from exchanges.sim.recording.format import read_recording
from tests.sim.conftest import SYM, gate, sim  # noqa: F401
from tests.sim.edge_fixtures import mexc  # noqa: F401

NEW = {"symbol": "NEIROETHUSDT", "side": "BUY", "type": "LIMIT", "quantity": "100", "price": "0.04"}


async def test_mexc_client_ids_round_trip_exactly(mexc):  # noqa: F811
    for cid in ("plain1", "t-looks-like-gate", "A" * 32, "under_score-dash"):
        status, ack = await mexc.signed("POST", "/api/v3/order", {**NEW, "newClientOrderId": cid})
        assert status == 200, (cid, ack)
        status, order = await mexc.signed("GET", "/api/v3/order", {"symbol": "NEIROETHUSDT", "origClientOrderId": cid})
        assert status == 200 and order["clientOrderId"] == cid and order["orderId"] == ack["orderId"]
    assert {o.client_order_id for o in mexc.engine.open_orders(mexc.api_key, VenueId.MEXC_SPOT)} >= {
        "plain1", "t-looks-like-gate"}
    status, opened = await mexc.signed("GET", "/api/v3/openOrders", {"symbol": "NEIROETHUSDT"})
    assert "t-looks-like-gate" in [o["clientOrderId"] for o in opened]
    status, cancelled = await mexc.signed("DELETE", "/api/v3/order", {"symbol": "NEIROETHUSDT",
                                                                      "origClientOrderId": "t-looks-like-gate"})
    assert status == 200 and cancelled["clientOrderId"] == "t-looks-like-gate" and cancelled["status"] == "CANCELED"


async def test_mexc_client_id_syntax_and_duplicates(mexc):  # noqa: F811
    for bad in ("A" * 33, "has.dot", "spa ce"):
        status, body = await mexc.signed("POST", "/api/v3/order", {**NEW, "newClientOrderId": bad})
        assert status == 400 and body["code"] == 33333, (bad, body)
    assert (await mexc.signed("POST", "/api/v3/order", {**NEW, "newClientOrderId": "dup-1"}))[0] == 200
    status, body = await mexc.signed("POST", "/api/v3/order", {**NEW, "newClientOrderId": "dup-1"})
    assert status == 400 and body["code"] == -2010
    assert len(mexc.engine.open_orders(mexc.api_key, VenueId.MEXC_SPOT)) == 1


async def test_mexc_fill_carries_the_raw_client_id_in_trades_and_private_ws(mexc):  # noqa: F811
    status, body = await mexc.signed("POST", "/api/v3/userDataStream")
    ws = await mexc.session.ws_connect(f"{mexc.ws_url}?listenKey={body['listenKey']}")
    try:
        await ws.send_str(json.dumps({"method": "SUBSCRIPTION", "params": ["spot@private.deals.v3.api.pb"]}))
        ack = await ws.receive(timeout=3)
        assert ack.type is aiohttp.WSMsgType.TEXT
        status, _ = await mexc.signed("POST", "/api/v3/order", {
            "symbol": "NEIROETHUSDT", "side": "BUY", "type": "IMMEDIATE_OR_CANCEL", "quantity": "100",
            "price": "0.05001", "newClientOrderId": "t-raw_7"})
        assert status == 200
        deal = None
        while deal is None:
            msg = await ws.receive(timeout=3)
            if msg.type is aiohttp.WSMsgType.BINARY:
                wrapper = pb.PushDataV3ApiWrapper.FromString(msg.data)
                if wrapper.WhichOneof("body") == "privateDeals":
                    deal = wrapper.privateDeals
        assert deal.clientOrderId == "t-raw_7"
    finally:
        await ws.close()
    status, trades = await mexc.signed("GET", "/api/v3/myTrades", {"symbol": "NEIROETHUSDT"})
    assert [t["clientOrderId"] for t in trades] == ["t-raw_7"]


async def test_gate_text_rule_applies_to_gate_only(gate):  # noqa: F811
    body = {"currency_pair": "NEIROETH_USDT", "side": "buy", "amount": "100", "price": "0.0400"}
    for bad in ("no-prefix", "t-" + "x" * 29, "t-bad!"):
        status, err = await gate.call("POST", "/spot/orders", body={**body, "text": bad})
        assert status == 400 and err["label"] == "INVALID_PARAM_VALUE", (bad, err)
    status, ok = await gate.call("POST", "/spot/orders", body={**body, "text": "t-" + "x" * 28})
    assert status == 201 and ok["text"] == "t-" + "x" * 28
    status, err = await gate.call("POST", "/spot/orders", body={**body, "text": "t-" + "x" * 28})
    assert status == 400  # duplicate text of an open order


def test_engine_rules_per_venue_and_old_mexc_ids_migrate(tmp_path, tiny_recording):
    rec = read_recording(tiny_recording)
    paths = {"db_path": tmp_path / "s.sqlite", "keys_path": tmp_path / "k.json"}
    eng = SimEngine(rec.rules.values(), **paths)
    key = eng.default_account.api_key
    place = lambda venue, cid: eng.place_order(key, venue, SYM, Side.BUY, D(100), D("0.04"),  # noqa: E731
                                               OrderType.LIMIT, TimeInForce.GTC, client_order_id=cid)
    assert place(VenueId.MEXC_SPOT, "nogateprefix").client_order_id == "nogateprefix"
    with pytest.raises(SimError):
        place(VenueId.GATE_SPOT, "nogateprefix")
    with pytest.raises(SimError):
        place(VenueId.GATE_PERP, "nogateprefix")
    # simulate a database written before the fix: MEXC ids stored as "t-" + id
    place(VenueId.MEXC_SPOT, "t-legacy")
    eng.set_book(VenueId.MEXC_SPOT, SYM, [(D("0.0500"), D(100))], [(D("0.0501"), D(100))])
    filled = eng.place_order(key, VenueId.MEXC_SPOT, SYM, Side.BUY, D(10), D(1), OrderType.LIMIT,
                             TimeInForce.IOC, client_order_id="t-legacyfill")  # crosses: leaves a fill
    assert eng.fills(key, VenueId.MEXC_SPOT, SYM, order_id=filled.id)
    eng.store.set_meta("mexc_cid_raw", "0")
    eng.close()
    eng = SimEngine(rec.rules.values(), **paths)
    try:
        assert eng.get_order(key, VenueId.MEXC_SPOT, SYM, client_order_id="legacy").client_order_id == "legacy"
        assert eng.get_order(key, VenueId.MEXC_SPOT, SYM, client_order_id="nogateprefix")
        # fills are frozen records: the migration replaces them (it used to crash the start-up)
        assert {f.client_order_id for f in eng.fills(key, VenueId.MEXC_SPOT, SYM, order_id=filled.id)} == {
            "legacyfill"}
    finally:
        eng.close()
    eng = SimEngine(rec.rules.values(), **paths)  # migrates once only: a real "t-x" id would survive now
    try:
        assert eng.get_order(key, VenueId.MEXC_SPOT, SYM, client_order_id="legacy")
    finally:
        eng.close()

