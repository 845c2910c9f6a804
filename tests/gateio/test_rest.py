"""Gate REST against a local fake server: exact signed bytes, server-time offset, error mapping,
client-order-id mapping, local refusals, units."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from decimal import Decimal as D

import pytest

from exchanges import clock
from exchanges.gateio import GatePerpVenue, GateSpotVenue
from exchanges.models import OrderRequest, OrderStatus, OrderType, Side, Symbol, TimeInForce
from exchanges.venue import AuthError, NotFound, OrderRejected, OutcomeUnknown, RateLimited
from tests.gateio.conftest import KEY, SECRET, FakeGate

SYM = Symbol("NEIROETH")
PAIR = {"id": "NEIROETH_USDT", "base": "NEIROETH", "quote": "USDT", "fee": "0.2", "min_base_amount": "10",
        "min_quote_amount": "3", "amount_precision": 1, "precision": 6, "trade_status": "tradable"}
CONTRACT = {"name": "NEIROETH_USDT", "type": "direct", "quanto_multiplier": "10", "order_price_round": "0.00001",
            "order_size_min": 1, "order_size_max": 100000, "funding_rate": "0.0001", "funding_interval": 28800,
            "funding_next_apply": 1700003600.0, "mark_price": "0.05", "index_price": "0.0501",
            "maker_fee_rate": "-0.0001", "taker_fee_rate": "0.00075", "status": "trading", "in_delisting": False}
SPOT_ORDER = {"id": "555", "text": "t-cid1", "create_time_ms": "1700000000123", "status": "open",
              "currency_pair": "NEIROETH_USDT", "type": "limit", "side": "buy", "amount": "100.5", "price": "0.05",
              "time_in_force": "ioc", "left": "100.5", "filled_total": "0", "fee": "0", "fee_currency": "NEIROETH"}
PERP_ORDER = {"id": 299207900263708423, "text": "t-cid2", "contract": "NEIROETH_USDT", "size": "-3", "left": "-1",
              "price": "0.05", "fill_price": "0.0501", "tif": "ioc", "status": "finished", "finish_as": "ioc",
              "is_reduce_only": True, "create_time": 1700000000.5}


def check_signature(rec, expected_path: str) -> None:
    body_hash = hashlib.sha512(rec.body).hexdigest()
    payload = f"{rec.method}\n{expected_path}\n{rec.query}\n{body_hash}\n{rec.headers['Timestamp']}"
    assert rec.headers["KEY"] == KEY
    assert rec.headers["SIGN"] == hmac.new(SECRET.encode(), payload.encode(), hashlib.sha512).hexdigest()


async def spot(fake: FakeGate, keys: bool = True, timeout_s: float = 2.0) -> GateSpotVenue:
    v = GateSpotVenue(rest_url=fake.url, api_key=KEY if keys else "", api_secret=SECRET if keys else "",
                      request_timeout_s=timeout_s)
    fake.reply("GET", "/spot/currency_pairs/NEIROETH_USDT", 200, PAIR)
    fake.reply("GET", "/spot/fee", 200, {"maker_fee": "0.0015", "taker_fee": "0.001"})
    await v.start()
    return v


async def perp(fake: FakeGate) -> GatePerpVenue:
    v = GatePerpVenue(rest_url=fake.url, api_key=KEY, api_secret=SECRET, request_timeout_s=2.0)
    fake.reply("GET", "/futures/usdt/contracts/NEIROETH_USDT", 200, CONTRACT)
    await v.start()
    return v


async def test_spot_place_order_exact_signed_bytes_and_offset(fake_gate: FakeGate) -> None:
    fake_gate.time_skew_ms = 100_000  # venue clock 100 s ahead
    v = await spot(fake_gate)
    try:
        fake_gate.reply("POST", "/spot/orders", 201, SPOT_ORDER)
        order = await v.place_order(OrderRequest("cid1", SYM, Side.BUY, D("100.57"), D("0.0500009"), tif=TimeInForce.IOC))
        rec = fake_gate.last("POST", "/spot/orders")
        check_signature(rec, "/api/v4/spot/orders")
        assert json.loads(rec.body) == {"text": "t-cid1", "currency_pair": "NEIROETH_USDT", "type": "limit",
                                        "account": "spot", "side": "buy", "amount": "100.5", "price": "0.05",
                                        "time_in_force": "ioc"}
        assert abs(int(rec.headers["Timestamp"]) - (clock.now_s() + 100)) <= 2
        assert order.client_order_id == "cid1" and order.venue_order_id == "555" and order.status is OrderStatus.OPEN
        info = await v.symbol_info(SYM)
        assert (info.price_tick, info.size_step, info.min_size, info.min_notional) == (D("0.000001"), D("0.1"), D(10), D(3))
        assert (info.maker_fee_rate, info.taker_fee_rate) == (D("0.0015"), D("0.001"))
    finally:
        await v.close()


async def test_spot_local_refusals(fake_gate: FakeGate) -> None:
    v = await spot(fake_gate)
    try:
        cases = [
            (OrderRequest("a1", SYM, Side.BUY, D("9.99"), D("1")), "QTY_TOO_SMALL"),
            (OrderRequest("a2", SYM, Side.BUY, D("0.05"), D("1")), "QTY_TOO_SMALL"),
            (OrderRequest("a3", SYM, Side.BUY, D("50"), D("0.05")), "NOTIONAL_TOO_SMALL"),
            (OrderRequest("bad id!", SYM, Side.BUY, D("100"), D("0.05")), "BAD_CLIENT_ID"),
            (OrderRequest("x" * 29, SYM, Side.BUY, D("100"), D("0.05")), "BAD_CLIENT_ID"),
            (OrderRequest("a4", SYM, Side.BUY, D("100"), None), "BAD_PRICE"),
            (OrderRequest("a5", SYM, Side.BUY, D("100"), None, order_type=OrderType.MARKET), "MARKET_BUY_UNSUPPORTED"),
        ]
        for req, code in cases:
            with pytest.raises(OrderRejected) as ei:
                await v.place_order(req)
            assert ei.value.local and ei.value.code == code, (req, ei.value)
        assert not [r for r in fake_gate.requests if r.method == "POST"]
    finally:
        await v.close()


@pytest.mark.parametrize("status,label,exc", [
    (400, "BALANCE_NOT_ENOUGH", OrderRejected),
    (400, "INVALID_PARAM_VALUE", OrderRejected),
    (400, "ORDER_POC_IMMEDIATE", OrderRejected),
    (500, "SERVER_ERROR", OutcomeUnknown),
    (502, "", OutcomeUnknown),
    (429, "TOO_MANY_REQUESTS", RateLimited),
    (400, "TOO_MANY_REQUESTS", RateLimited),
    (401, "INVALID_SIGNATURE", AuthError),
    (400, "INVALID_KEY", AuthError),
    (403, "REQUEST_EXPIRED", OrderRejected),  # a write whose time was refused: definite refusal, not resent
])
async def test_error_mapping(fake_gate: FakeGate, status: int, label: str, exc: type) -> None:
    v = await spot(fake_gate)
    try:
        fake_gate.reply("POST", "/spot/orders", status, {"label": label, "message": "nope"} if label else "bad gateway")
        with pytest.raises(exc) as ei:
            await v.place_order(OrderRequest("e1", SYM, Side.SELL, D("100"), D("0.05")))
        if exc is OrderRejected:
            assert not ei.value.local and ei.value.code == label
    finally:
        await v.close()


async def test_timeout_is_outcome_unknown(fake_gate: FakeGate) -> None:
    v = await spot(fake_gate, timeout_s=0.3)
    try:
        await v.symbol_info(SYM)

        async def slow(rec):
            await asyncio.sleep(2)
            return 201, SPOT_ORDER

        fake_gate.routes[("POST", "/api/v4/spot/orders")] = slow
        with pytest.raises(OutcomeUnknown):
            await v.place_order(OrderRequest("t1", SYM, Side.BUY, D("100"), D("0.05")))
        assert len([r for r in fake_gate.requests if r.method == "POST"]) == 1  # never re-sent
    finally:
        await v.close()


async def test_no_keys_public_ok_private_auth_error(fake_gate: FakeGate) -> None:
    v = await spot(fake_gate, keys=False)
    try:
        info = await v.symbol_info(SYM)
        assert info.taker_fee_rate == D("0.002")  # pair fee 0.2 % without keys
        with pytest.raises(AuthError):
            await v.balances()
        with pytest.raises(AuthError):
            await v.watch_user(SYM)
    finally:
        await v.close()


async def test_unknown_symbol_not_found(fake_gate: FakeGate) -> None:
    v = await spot(fake_gate)
    try:
        fake_gate.reply("GET", "/spot/currency_pairs/NOPE_USDT", 400, {"label": "INVALID_CURRENCY_PAIR", "message": "x"})
        with pytest.raises(NotFound):
            await v.symbol_info(Symbol("NOPE"))
    finally:
        await v.close()


async def test_spot_get_order_falls_back_to_finished_list_and_fills(fake_gate: FakeGate) -> None:
    v = await spot(fake_gate)
    try:
        fake_gate.reply("GET", "/spot/orders/t-cid1", 404, {"label": "ORDER_NOT_FOUND", "message": "gone"})
        done = dict(SPOT_ORDER, status="closed", left="0", filled_amount="100.5", filled_total="5.025",
                    avg_deal_price="0.05", fee="0.2", fee_currency="NEIROETH", finish_as="filled")
        fake_gate.reply("GET", "/spot/orders", 200, [dict(SPOT_ORDER, text="t-other", id="1"), done])
        order = await v.get_order(SYM, "cid1")
        assert order.status is OrderStatus.FILLED and order.avg_price == D("0.05") and order.fee == D("0.2")
        assert fake_gate.last("GET", "/spot/orders").query == "currency_pair=NEIROETH_USDT&status=finished&limit=100"
        fake_gate.reply("GET", "/spot/my_trades", 200, [
            {"id": "9", "create_time_ms": "1700000000123.456", "currency_pair": "NEIROETH_USDT", "side": "buy",
             "role": "taker", "amount": "100.5", "price": "0.0499", "order_id": "555", "fee": "0.2",
             "fee_currency": "NEIROETH", "text": "t-cid1"}])
        fills = await v.order_fills(SYM, "cid1")
        rec = fake_gate.last("GET", "/spot/my_trades")
        assert rec.query == "currency_pair=NEIROETH_USDT&order_id=555"
        check_signature(rec, "/api/v4/spot/my_trades")
        f = fills[0]
        assert (f.client_order_id, f.price, f.qty, f.qty_base, f.fee, f.fee_asset, f.ts_ms) == (
            "cid1", D("0.0499"), D("100.5"), D("100.5"), D("0.2"), "NEIROETH", 1700000000123)
        fake_gate.reply("DELETE", "/spot/orders/555", 404, {"label": "ORDER_NOT_FOUND", "message": "gone"})
        with pytest.raises(NotFound):
            await v.cancel_order(SYM, "cid1")
        check_signature(fake_gate.last("DELETE", "/spot/orders/555"), "/api/v4/spot/orders/555")
    finally:
        await v.close()


async def test_spot_balances(fake_gate: FakeGate) -> None:
    v = await spot(fake_gate)
    try:
        fake_gate.reply("GET", "/spot/accounts", 200, [{"currency": "USDT", "available": "10.5", "locked": "1"}])
        bal = await v.balances()
        assert bal["USDT"].free == D("10.5") and bal["USDT"].total == D("11.5")
    finally:
        await v.close()


async def test_perp_order_units_and_headers(fake_gate: FakeGate) -> None:
    v = await perp(fake_gate)
    try:
        fake_gate.reply("POST", "/futures/usdt/orders", 201, PERP_ORDER)
        order = await v.place_order(OrderRequest("cid2", SYM, Side.SELL, D("3.7"), D("0.050004"),
                                                 tif=TimeInForce.IOC, reduce_only=True))
        rec = fake_gate.last("POST", "/futures/usdt/orders")
        check_signature(rec, "/api/v4/futures/usdt/orders")
        assert rec.headers["X-Gate-Size-Decimal"] == "1"
        assert json.loads(rec.body) == {"contract": "NEIROETH_USDT", "size": "-3", "price": "0.05001", "tif": "ioc",
                                        "text": "t-cid2", "reduce_only": True}
        assert order.side is Side.SELL and order.qty == D(3) and order.filled_qty == D(2)
        assert order.status is OrderStatus.CANCELED and order.avg_price == D("0.0501")
        assert order.venue_order_id == "299207900263708423" and order.reduce_only
        info = await v.symbol_info(SYM)
        assert (info.contract_multiplier, info.price_tick, info.min_size, info.maker_fee_rate) == (
            D(10), D("0.00001"), D(1), D("-0.0001"))
        with pytest.raises(OrderRejected) as ei:
            await v.place_order(OrderRequest("cid3", SYM, Side.BUY, D("0.5"), D("0.05")))
        assert ei.value.local
        fake_gate.reply("GET", "/futures/usdt/my_trades", 200, [
            {"id": 77, "create_time": 1700000001.25, "contract": "NEIROETH_USDT", "order_id": "299207900263708423",
             "size": -2, "price": "0.0501", "role": "taker", "text": "t-cid2", "fee": "0.0007515"}])
        fills = await v.order_fills(SYM, "cid2")
        assert fake_gate.last("GET", "/futures/usdt/my_trades").query == "contract=NEIROETH_USDT&order=299207900263708423"
        f = fills[0]
        assert (f.side, f.qty, f.qty_base, f.price, f.fee, f.fee_asset, f.ts_ms, f.trade_id) == (
            Side.SELL, D(2), D(20), D("0.0501"), D("0.0007515"), "USDT", 1700000001250, "77")
    finally:
        await v.close()


async def test_perp_account_positions_funding(fake_gate: FakeGate) -> None:
    v = await perp(fake_gate)
    try:
        fake_gate.reply("GET", "/futures/usdt/accounts", 200, {"total": "100", "available": "80", "currency": "USDT"})
        assert (await v.balances())["USDT"].locked == D(20)
        fake_gate.reply("GET", "/futures/usdt/positions/NEIROETH_USDT", 200,
                        {"contract": "NEIROETH_USDT", "size": "-4", "entry_price": "0.05", "mark_price": "0.051",
                         "unrealised_pnl": "-0.04", "margin": "1", "leverage": "5"})
        (pos,) = await v.positions(SYM)
        assert pos.size_contracts == D(-4) and pos.size_base == D(-40)
        rate = await v.funding_rate(SYM)
        assert rate.rate == D("0.0001") and rate.interval_s == 28800 and rate.next_funding_ms == 1700003600000
        fake_gate.reply("GET", "/futures/usdt/account_book", 200, [
            {"time": 1700006400.0, "change": "0.002", "type": "fund", "text": "NEIROETH_USDT:fund", "contract": ""},
            {"time": 1700006400.0, "change": "0.5", "type": "fund", "text": "BTC_USDT:fund", "contract": "BTC_USDT"}])
        fake_gate.reply("GET", "/futures/usdt/funding_rate", 200, [{"t": 1700006400, "r": "0.0001"}])
        (pay,) = await v.funding_payments(SYM, 1700000000000)
        assert pay.amount == D("0.002") and pay.rate == D("0.0001") and pay.ts_ms == 1700006400000
        assert fake_gate.last("GET", "/futures/usdt/account_book").query == "type=fund&from=1700000000&limit=1000"
    finally:
        await v.close()


async def test_local_rate_limiter_refuses_burst(fake_gate: FakeGate) -> None:
    v = await spot(fake_gate)
    try:
        fake_gate.reply("POST", "/spot/orders", 201, SPOT_ORDER)
        for i in range(10):
            await v.place_order(OrderRequest(f"r{i}", SYM, Side.BUY, D("100"), D("0.05")))
        v.rest.limiter._buckets["spot.orders:NEIROETH_USDT"].refill_per_s = 0.01  # next slot ~100 s away
        with pytest.raises(RateLimited):
            await v.place_order(OrderRequest("r10", SYM, Side.BUY, D("100"), D("0.05")))
        assert len([r for r in fake_gate.requests if r.method == "POST"]) == 10
    finally:
        await v.close()


@pytest.mark.parametrize("status,body", [(404, "404: Not Found"), (404, {"label": "NOT_FOUND", "message": "x"})])
async def test_account_mode_endpoint_missing_means_classic(fake_gate: FakeGate, status: int, body) -> None:
    fake_gate.reply("GET", "/unified/unified_mode", status, body)
    v = await spot(fake_gate)
    try:
        assert await v.account_mode() == "classic" and not await v.is_unified()
    finally:
        await v.close()


async def test_account_mode_unreadable_is_not_guessed(fake_gate: FakeGate) -> None:
    fake_gate.reply("GET", "/unified/unified_mode", 503, {"label": "SERVER_ERROR", "message": "busy"})
    v = await spot(fake_gate)
    try:
        with pytest.raises(OutcomeUnknown):
            await v.account_mode()
        fake_gate.reply("GET", "/unified/unified_mode", 200, {"mode": "multi_currency"})
        assert await v.is_unified()  # read again once the venue answers
    finally:
        await v.close()
