"""Gate v4 REST protocol over loopback: signatures, spot + futures order lifecycle, accounts."""

from __future__ import annotations

import time
from decimal import Decimal as D

from exchanges.models import VenueId
from tests.sim.conftest import SYM


async def test_public_endpoints(gate):
    status, body = await gate.call("GET", "/spot/time", signed=False)
    assert status == 200 and abs(body["server_time"] - time.time() * 1000) < 5000
    status, pair = await gate.call("GET", "/spot/currency_pairs/NEIROETH_USDT", signed=False)
    assert pair["precision"] == 4 and pair["amount_precision"] == 0 and pair["min_quote_amount"] == "1"
    status, book = await gate.call("GET", "/spot/order_book", "currency_pair=NEIROETH_USDT&limit=5&with_id=true",
                                   signed=False)
    assert status == 200 and isinstance(book["id"], int) and book["asks"][0] == ["0.0501", "100"]
    status, contract = await gate.call("GET", "/futures/usdt/contracts/NEIROETH_USDT", signed=False)
    assert contract["quanto_multiplier"] == "10" and contract["order_price_round"] == "0.0001"
    status, fbook = await gate.call("GET", "/futures/usdt/order_book", "contract=NEIROETH_USDT&with_id=true",
                                    signed=False, headers={"X-Gate-Size-Decimal": "1"})
    assert fbook["bids"][0] == {"p": "0.05", "s": "100"}
    status, err = await gate.call("GET", "/spot/currency_pairs/NOPE_USDT", signed=False)
    assert status == 400 and err["label"] == "INVALID_CURRENCY_PAIR"


async def test_auth_failures(gate):
    status, body = await gate.call("GET", "/spot/accounts", secret="0" * 64)
    assert status == 401 and body["label"] == "INVALID_SIGNATURE"
    status, body = await gate.call("GET", "/spot/accounts", key="nokey")
    assert status == 401 and body["label"] == "INVALID_KEY"
    status, body = await gate.call("GET", "/spot/accounts", ts=str(int(time.time()) - 3600))
    assert status == 401 and body["label"] == "REQUEST_EXPIRED"
    # signature over a different query is refused
    status, body = await gate.call("GET", "/spot/accounts", query="currency=USDT")
    assert status == 200 and body[0]["currency"] == "USDT" and body[0]["available"] == "10000"
    status, detail = await gate.call("GET", "/account/detail")
    assert detail["user_id"] == gate.user_id


async def test_spot_order_lifecycle_partial_fill_and_cancel(gate, sim):
    order = {"currency_pair": "NEIROETH_USDT", "type": "limit", "side": "buy", "amount": "150", "price": "0.0501",
             "time_in_force": "ioc", "text": "t-ioc1"}
    status, placed = await gate.call("POST", "/spot/orders", body=order)
    assert status == 201, placed
    assert placed["status"] == "cancelled" and placed["finish_as"] == "ioc"
    assert placed["filled_amount"] == "100" and placed["left"] == "50" and placed["avg_deal_price"] == "0.0501"
    gtc = {**order, "amount": "100", "price": "0.0490", "time_in_force": "gtc", "text": "t-gtc1"}
    status, resting = await gate.call("POST", "/spot/orders", body=gtc)
    assert status == 201 and resting["status"] == "open"
    status, dup = await gate.call("POST", "/spot/orders", body=gtc)
    assert status == 400 and dup["label"] == "DUPLICATE_TEXT"
    status, bad = await gate.call("POST", "/spot/orders", body={**gtc, "text": "no-prefix"})
    assert status == 400
    status, by_text = await gate.call("GET", "/spot/orders/t-gtc1", "currency_pair=NEIROETH_USDT")
    assert by_text["id"] == resting["id"]
    status, open_list = await gate.call("GET", "/spot/orders", "currency_pair=NEIROETH_USDT&status=open")
    assert [o["id"] for o in open_list] == [resting["id"]]
    # the book moves through our bid: maker fill of 60
    sim.engine.set_book(VenueId.GATE_SPOT, SYM, [(D("0.0480"), D("10"))], [(D("0.0489"), D("60"))])
    status, partial = await gate.call("GET", f"/spot/orders/{resting['id']}", "currency_pair=NEIROETH_USDT")
    assert partial["filled_amount"] == "60" and partial["status"] == "open"
    status, cancelled = await gate.call("DELETE", f"/spot/orders/{resting['id']}", "currency_pair=NEIROETH_USDT")
    assert status == 200 and cancelled["status"] == "cancelled" and cancelled["left"] == "40"
    status, again = await gate.call("DELETE", f"/spot/orders/{resting['id']}", "currency_pair=NEIROETH_USDT")
    assert status == 400 and again["label"] == "ORDER_CANCELLED"  # the order exists, already cancelled
    status, trades = await gate.call("GET", "/spot/my_trades", f"currency_pair=NEIROETH_USDT&order_id={resting['id']}")
    assert len(trades) == 1 and trades[0]["role"] == "maker" and trades[0]["price"] == "0.049"
    status, accounts = await gate.call("GET", "/spot/accounts")
    usdt = next(a for a in accounts if a["currency"] == "USDT")
    assert D(usdt["locked"]) == 0
    assert D(usdt["available"]) == D(10000) - D("5.01") - D("60") * D("0.0490")


async def test_futures_lifecycle_sizes_and_positions(gate):
    hdr = {"X-Gate-Size-Decimal": "1"}
    status, placed = await gate.call("POST", "/futures/usdt/orders", headers=hdr,
                                     body={"contract": "NEIROETH_USDT", "size": "-30", "price": "0.0500", "tif": "ioc",
                                           "text": "t-short1"})
    assert status == 201, placed
    assert placed["size"] == "-30" and placed["left"] == "0" and placed["status"] == "finished"
    assert placed["finish_as"] == "filled" and placed["fill_price"] == "0.05"
    status, pos = await gate.call("GET", "/futures/usdt/positions/NEIROETH_USDT")
    assert pos["size"] == -30 and pos["entry_price"] == "0.05"  # ints without the header
    status, pos_dec = await gate.call("GET", "/futures/usdt/positions/NEIROETH_USDT", headers=hdr)
    assert pos_dec["size"] == "-30"
    status, acct = await gate.call("GET", "/futures/usdt/accounts")
    assert D(acct["position_margin"]) == D(30) * 10 * D("0.05") / 10
    status, rest = await gate.call("POST", "/futures/usdt/orders",
                                   body={"contract": "NEIROETH_USDT", "size": 5, "price": "0.0400", "text": "t-rest1"})
    assert rest["status"] == "open" and rest["size"] == 5
    status, got = await gate.call("GET", "/futures/usdt/orders/t-rest1")
    assert got["id"] == rest["id"]
    status, gone = await gate.call("DELETE", f"/futures/usdt/orders/{rest['id']}")
    assert gone["finish_as"] == "cancelled"
    status, close = await gate.call("POST", "/futures/usdt/orders",
                                    body={"contract": "NEIROETH_USDT", "size": 0, "price": "0", "tif": "ioc",
                                          "close": True})
    assert status == 201 and close["is_close"] and close["size"] == 30
    status, trades = await gate.call("GET", "/futures/usdt/my_trades", "contract=NEIROETH_USDT")
    assert len(trades) == 2 and trades[-1]["size"] == -30
    status, err = await gate.call("POST", "/futures/usdt/orders",
                                  body={"contract": "NEIROETH_USDT", "size": 1, "price": "0.0501", "tif": "poc"})
    assert status == 400 and err["label"] == "ORDER_POC_IMMEDIATE"


async def test_funding_applied_and_listed(gate, sim):
    await gate.call("POST", "/futures/usdt/orders", body={"contract": "NEIROETH_USDT", "size": -10, "price": "0",
                                                          "tif": "ioc"})
    payments = sim.engine.tick(now_ms=sim.engine.funding_info(VenueId.GATE_PERP, SYM)[2])
    assert len(payments) == 1 and payments[0].amount > 0
    status, book = await gate.call("GET", "/futures/usdt/account_book", "type=fund")
    assert status == 200 and book[0]["type"] == "fund" and D(book[0]["change"]) == payments[0].amount
    status, rates = await gate.call("GET", "/futures/usdt/funding_rate", "contract=NEIROETH_USDT", signed=False)
    assert rates[0]["r"] == "0.0001"
