"""``pymexc`` (a widely used third-party MEXC client) against the simulator with
only its base URL changed: exchange info, book, account, IOC and LIMIT orders
with client ids, query by client id, open orders, cancel one and all, trades,
commission, listen key; errors decode as MEXC ``{"code","msg"}``."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from pymexc import spot as mexc_spot
from pymexc.base import MexcAPIError

from tests.interop.sdk_fixtures import off_loop, sdk_sim  # noqa: F401

S = "NEIROETHUSDT"


def _client(endpoints: dict) -> mexc_spot.HTTP:
    ep = endpoints["mexc_spot"]
    http = mexc_spot.HTTP(api_key=ep["api_key"], api_secret=ep["api_secret"])
    http.base_url = ep["rest_url"].removesuffix("/api/v3")
    return http


async def test_pymexc_flow(sdk_sim):  # noqa: F811
    http = _client(sdk_sim.endpoints)

    def markets() -> tuple:
        return (http.exchange_info(), http.exchange_info(symbol=S), http.default_symbols(),
                http.order_book(S, limit=5), http.ticker_24h(), http.ticker_price(symbol=S),
                http.ticker_book_price(S), http.account_information(), http.query_symbol_commission(S),
                http.get_currency_info())

    info, one, default, book, day, price, top, account, fee, coins = await off_loop(markets)
    assert {s["symbol"] for s in info["symbols"]} == {S, "NEIRO001USDT"} and one["symbols"][0]["symbol"] == S
    assert set(default["data"]) == {S, "NEIRO001USDT"}
    assert book["bids"][0] == ["0.05", "1000"] and book["asks"][0] == ["0.0501", "1000"] and book["lastUpdateId"]
    assert {t["symbol"] for t in day} == {S, "NEIRO001USDT"} and price == {"symbol": S, "price": "0.05005"}
    assert top["bidPrice"] == "0.05"
    assert {b["asset"]: b["free"] for b in account["balances"]}["USDT"] == "10000"
    assert fee["code"] == 0 and D(str(fee["data"]["takerCommission"])) == D("0.0005")
    assert {c["coin"] for c in coins} == {"NEIROETH", "NEIRO001", "USDT"}

    def trade() -> tuple:
        ioc = http.order(symbol=S, side="BUY", order_type="IMMEDIATE_OR_CANCEL", quantity="100",
                             price="0.0501", new_client_order_id="sdk1")
        ioc_q = http.query_order(S, orig_client_order_id="sdk1")
        gtc = http.order(symbol=S, side="BUY", order_type="LIMIT", quantity="100", price="0.04",
                             new_client_order_id="sdk2")
        http.order(symbol=S, side="BUY", order_type="LIMIT", quantity="100", price="0.041",
                       new_client_order_id="sdk3")
        open_orders = http.current_open_orders(S)
        one = http.cancel_order(S, orig_client_order_id="sdk2")
        rest = http.cancel_all_open_orders(S)
        after = http.current_open_orders(S)
        trades = http.account_trade_list(S, limit=5)
        key = http.create_listen_key()["listenKey"]
        kept = http.keep_alive_listen_key(key)
        keys = http.get_listen_keys()
        closed = http.close_listen_key(key)
        return ioc, ioc_q, gtc, open_orders, one, rest, after, trades, key, kept, keys, closed

    ioc, ioc_q, gtc, open_orders, one, rest, after, trades, key, kept, keys, closed = await off_loop(trade)
    assert ioc["type"] == "IMMEDIATE_OR_CANCEL" and isinstance(ioc["orderId"], str)
    assert (ioc_q["status"], ioc_q["executedQty"], ioc_q["clientOrderId"]) == ("FILLED", "100", "sdk1")
    assert {o["clientOrderId"] for o in open_orders} == {"sdk2", "sdk3"}
    assert (one["status"], one["orderId"]) == ("CANCELED", gtc["orderId"])
    assert [o["clientOrderId"] for o in rest] == ["sdk3"] and after == []
    assert [(t["price"], t["qty"], t["clientOrderId"]) for t in trades] == [("0.0501", "100", "sdk1")]
    assert kept == {"listenKey": key} and key in keys["listenKey"] and closed == {"listenKey": key}

    with pytest.raises(MexcAPIError, match="code=-2013"):
        await off_loop(lambda: http.query_order(S, orig_client_order_id="nope"))
    with pytest.raises(MexcAPIError, match="code=404"):
        await off_loop(lambda: http.call("GET", "/api/v3/noSuchEndpoint"))
