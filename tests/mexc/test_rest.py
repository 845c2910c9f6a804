"""REST against a loopback fake: exact signed query, rounding, local refusals, error mapping, id mapping."""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal
from urllib.parse import parse_qsl

import pytest

from exchanges.mexc.spot import MexcSpotVenue
from exchanges.models import OrderRequest, OrderStatus, Side, Symbol, TimeInForce
from exchanges.venue import AuthError, NotFound, OrderRejected, OutcomeUnknown, RateLimited
from tests.mexc.fake_mexc import API_SECRET, FakeMexc

NEIRO = Symbol("NEIROETH")


def _req(cid: str = "t1-0001", qty: str = "200", price: str = "0.05", side: Side = Side.BUY,
         tif: TimeInForce = TimeInForce.GTC) -> OrderRequest:
    return OrderRequest(client_order_id=cid, symbol=NEIRO, side=side, qty=Decimal(qty), price=Decimal(price), tif=tif)


async def test_symbol_info_rules(public_venue: MexcSpotVenue) -> None:
    info = await public_venue.symbol_info(NEIRO)
    assert info.venue_symbol == "NEIROETHUSDT"
    assert info.price_tick == Decimal("0.00001") and info.size_step == Decimal("0.01")
    assert info.min_size == Decimal(1) and info.min_notional == Decimal(5)
    assert info.maker_fee_rate == 0 and info.taker_fee_rate == Decimal("0.0005")
    assert info.tradable


async def test_symbol_info_unknown_symbol(public_venue: MexcSpotVenue) -> None:
    with pytest.raises(NotFound):
        await public_venue.symbol_info(Symbol("NOPE"))


async def test_private_without_keys_raises_auth_and_sends_nothing(public_venue: MexcSpotVenue, fake: FakeMexc) -> None:
    with pytest.raises(AuthError):
        await public_venue.balances()
    with pytest.raises(AuthError):
        await public_venue.watch_user(NEIRO)
    assert not [r for r in fake.requests if r["path"] in ("/api/v3/account", "/api/v3/userDataStream")]


async def test_signed_order_exact_query_and_offset(venue: MexcSpotVenue, fake: FakeMexc) -> None:
    fake.time_offset_ms = 250_000  # venue clock far ahead: only the measured offset makes this pass
    await venue.start()
    order = await venue.place_order(_req(qty="123.456", price="0.050017"))
    sent = fake.last("/api/v3/order", "POST")
    payload, _, sig = sent["query"].rpartition("&signature=")
    assert sig == hmac.new(API_SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()
    pairs = parse_qsl(payload)
    assert [k for k, _ in pairs] == ["symbol", "side", "type", "quantity", "price", "newClientOrderId",
                                     "timestamp", "recvWindow"]
    params = dict(pairs)
    assert params["symbol"] == "NEIROETHUSDT" and params["side"] == "BUY" and params["type"] == "LIMIT"
    assert params["quantity"] == "123.45"  # rounded DOWN to step 0.01
    assert params["price"] == "0.05001"  # buy price rounded down to tick
    assert params["newClientOrderId"] == "t1-0001" and params["recvWindow"] == "5000"
    assert abs(int(params["timestamp"]) - (sent["ts_ms"] + fake.time_offset_ms)) < 1000
    assert sent["headers"]["X-MEXC-APIKEY"] == "test-key"
    assert order.client_order_id == "t1-0001" and order.venue_order_id.startswith("C02__")
    assert order.status is OrderStatus.OPEN and order.qty == Decimal("123.45")


async def test_sell_price_rounds_up_to_tick(venue: MexcSpotVenue, fake: FakeMexc) -> None:
    await venue.place_order(_req(side=Side.SELL, price="0.050011"))
    assert dict(parse_qsl(fake.last("/api/v3/order", "POST")["query"]))["price"] == "0.05002"


async def test_ioc_type_state_and_fills(venue: MexcSpotVenue, fake: FakeMexc) -> None:
    order = await venue.place_order(_req(cid="t1-ioc", tif=TimeInForce.IOC, qty="100"))
    assert dict(parse_qsl(fake.last("/api/v3/order", "POST")["query"]))["type"] == "IMMEDIATE_OR_CANCEL"
    assert order.status is OrderStatus.FILLED and order.filled_qty == Decimal(100)
    assert order.avg_price == Decimal("0.05")
    fills = await venue.order_fills(NEIRO, "t1-ioc")
    assert [f.price for f in fills] == [Decimal("0.05"), Decimal("0.04999")]  # real execution prices
    assert sum(f.qty for f in fills) == Decimal(100)
    assert all(f.fee == Decimal("0.01") and f.fee_asset == "USDT" and f.client_order_id == "t1-ioc" for f in fills)
    assert dict(parse_qsl(fake.last("/api/v3/myTrades")["query"]))["orderId"] == order.venue_order_id


@pytest.mark.parametrize("qty,price,why", [("0.5", "0.05", "below min size"), ("0.004", "0.05", "rounds to 0"),
                                           ("50", "0.05", "notional 2.5 < 5")])
async def test_below_minimum_refused_locally(venue: MexcSpotVenue, fake: FakeMexc, qty: str, price: str,
                                             why: str) -> None:
    with pytest.raises(OrderRejected) as err:
        await venue.place_order(_req(qty=qty, price=price))
    assert err.value.local, why
    assert not [r for r in fake.requests if r["path"] == "/api/v3/order"]


async def test_not_tradable_refused_locally(venue: MexcSpotVenue, fake: FakeMexc) -> None:
    fake.rules[0]["status"] = "2"
    assert not (await venue.symbol_info(NEIRO)).tradable
    with pytest.raises(OrderRejected) as err:
        await venue.place_order(_req())
    assert err.value.local


@pytest.mark.parametrize("status,body,exc", [
    (400, {"code": 30004, "msg": "Insufficient position"}, OrderRejected),
    (400, {"code": 30002, "msg": "The minimum transaction volume cannot be less than: 5USDT"}, OrderRejected),
    (400, {"code": 700002, "msg": "Signature for this request is not valid."}, AuthError),
    (400, {"code": 10072, "msg": "Api key info invalid"}, AuthError),
    (429, {"code": 429, "msg": "Too many requests"}, RateLimited),
    (503, "Service Unavailable", OutcomeUnknown),
    (200, "not json at all", OutcomeUnknown),
])
async def test_error_mapping_place_order(venue: MexcSpotVenue, fake: FakeMexc, status: int, body: object,
                                         exc: type) -> None:
    fake.fail_next[("POST", "/api/v3/order")] = [(status, body)]
    with pytest.raises(exc) as err:
        await venue.place_order(_req())
    if exc is OrderRejected:
        assert not err.value.local and err.value.code == str(body["code"])  # type: ignore[index]
    assert len([r for r in fake.requests if r["path"] == "/api/v3/order" and r["method"] == "POST"]) == 1


async def test_timeout_is_outcome_unknown_and_not_resent(fake: FakeMexc) -> None:
    v = MexcSpotVenue(rest_url=fake.rest_url, ws_url=fake.ws_url, api_key="test-key", api_secret=API_SECRET,
                      request_timeout_s=0.3)
    try:
        await v.symbol_info(NEIRO)
        fake.delay_next[("POST", "/api/v3/order")] = 1.0
        with pytest.raises(OutcomeUnknown):
            await v.place_order(_req())
        assert len([r for r in fake.requests if r["path"] == "/api/v3/order"]) == 1
    finally:
        await v.close()


@pytest.mark.parametrize("code", [700003, 10073])
async def test_request_time_refused_resyncs_and_retries_a_read_once(venue: MexcSpotVenue, fake: FakeMexc,
                                                                     code: int) -> None:
    await venue.start()
    fake.fail_next[("GET", "/api/v3/account")] = [(400, {"code": code, "msg": "request time refused"})]
    time_calls = len([r for r in fake.requests if r["path"] == "/api/v3/time"])
    assert (await venue.balances())["USDT"].free == Decimal("1000.5")
    assert len([r for r in fake.requests if r["path"] == "/api/v3/time"]) == time_calls + 1
    assert len([r for r in fake.requests if r["path"] == "/api/v3/account"]) == 2


@pytest.mark.parametrize("code", [700003, 10073])
async def test_request_time_refused_never_resends_a_write(venue: MexcSpotVenue, fake: FakeMexc, code: int) -> None:
    await venue.start()
    await venue.symbol_info(NEIRO)
    fake.fail_next[("POST", "/api/v3/order")] = [(400, {"code": code, "msg": "request time refused"})]
    time_calls = len([r for r in fake.requests if r["path"] == "/api/v3/time"])
    with pytest.raises(OrderRejected) as err:
        await venue.place_order(_req())
    assert err.value.code == str(code) and not err.value.local
    assert len([r for r in fake.requests if r["path"] == "/api/v3/time"]) == time_calls + 1  # clock re-synced
    assert len([r for r in fake.requests if r["path"] == "/api/v3/order" and r["method"] == "POST"]) == 1


async def test_ip_ban_holds_every_request_until_retry_after(venue: MexcSpotVenue, fake: FakeMexc) -> None:
    from exchanges import clock
    from exchanges.models import ConnectionEvent

    await venue.start()
    events: list = []
    venue.add_listener(events.append)
    fake.fail_next[("GET", "/api/v3/account")] = [(418, {"code": 418, "msg": "banned"})]
    fake.reply_headers = {"retry-after": "120"}  # lower-case header name
    with pytest.raises(RateLimited) as err:
        await venue.balances()
    assert err.value.code == "418" and err.value.retry_after_s == 120
    [ban] = [e for e in events if isinstance(e, ConnectionEvent)]
    assert ban.stream == "rest" and not ban.connected and "418" in ban.detail
    sent = len(fake.requests)
    for call in (venue.balances(), venue.get_order(NEIRO, "x"), venue.rest.depth("NEIROETHUSDT")):
        with pytest.raises(RateLimited) as held:
            await call
        assert held.value.code == "IP_BANNED" and 0 < held.value.retry_after_s <= 120
    assert len(fake.requests) == sent  # nothing reached the venue
    venue.rest.banned_until_s = clock.monotonic_s() - 1  # the ban is over
    assert (await venue.balances())["USDT"].free == Decimal("1000.5")


async def test_waf_403_is_a_rate_limit_not_an_auth_error(venue: MexcSpotVenue, fake: FakeMexc) -> None:
    await venue.start()
    fake.fail_next[("GET", "/api/v3/account")] = [(403, "<html>blocked</html>")]
    fake.reply_headers = {"RETRY-AFTER": "7"}
    with pytest.raises(RateLimited) as err:
        await venue.balances()
    assert err.value.code == "403" and err.value.retry_after_s == 7


async def test_retry_after_header_read_in_any_case(venue: MexcSpotVenue, fake: FakeMexc) -> None:
    await venue.start()
    fake.fail_next[("GET", "/api/v3/account")] = [(429, {"code": 429, "msg": "too many"})]
    fake.reply_headers = {"retry-after": "3"}
    with pytest.raises(RateLimited) as err:
        await venue.balances()
    assert err.value.retry_after_s == 3


@pytest.mark.parametrize("code", [602, 700002, 10072, 401])
async def test_credentials_codes_are_auth_errors(venue: MexcSpotVenue, fake: FakeMexc, code: int) -> None:
    await venue.start()
    fake.fail_next[("GET", "/api/v3/account")] = [(400, {"code": code, "msg": "credentials"})]
    with pytest.raises(AuthError) as err:
        await venue.balances()
    assert err.value.code == str(code)


async def test_fees_are_the_accounts_own_from_trade_fee(venue: MexcSpotVenue, fake: FakeMexc) -> None:
    info = await venue.symbol_info(NEIRO)
    assert (info.maker_fee_rate, info.taker_fee_rate) == (Decimal("0.0001"), Decimal("0.0004"))
    assert dict(parse_qsl(fake.last("/api/v3/tradeFee", "GET")["query"]))["symbol"] == "NEIROETHUSDT"


async def test_fee_lookup_failure_falls_back_and_is_retried(venue: MexcSpotVenue, fake: FakeMexc) -> None:
    from freezegun import freeze_time

    with freeze_time("2026-01-01 00:00:00") as frozen:
        fake.fail_next[("GET", "/api/v3/tradeFee")] = [(500, {"code": 500, "msg": "internal"})]
        info = await venue.symbol_info(NEIRO)
        assert info.taker_fee_rate == Decimal("0.0005")  # exchangeInfo's rate, provisional
        assert (await venue.symbol_info(NEIRO)).taker_fee_rate == Decimal("0.0005")  # cached for now
        frozen.tick(31)
        assert (await venue.symbol_info(NEIRO)).taker_fee_rate == Decimal("0.0004")


async def test_real_bad_signature_from_server_is_auth_error(fake: FakeMexc) -> None:
    v = MexcSpotVenue(rest_url=fake.rest_url, ws_url=fake.ws_url, api_key="test-key", api_secret="wrong")
    try:
        with pytest.raises(AuthError) as err:
            await v.balances()
        assert err.value.code == "700002"
    finally:
        await v.close()


async def test_get_cancel_by_client_id_and_not_found(venue: MexcSpotVenue, fake: FakeMexc) -> None:
    await venue.place_order(_req(cid="t1-gtc"))
    got = await venue.get_order(NEIRO, "t1-gtc")
    assert got.status is OrderStatus.OPEN and got.client_order_id == "t1-gtc"
    assert dict(parse_qsl(fake.last("/api/v3/order", "GET")["query"]))["origClientOrderId"] == "t1-gtc"
    assert [o.client_order_id for o in await venue.open_orders(NEIRO)] == ["t1-gtc"]
    cancelled = await venue.cancel_order(NEIRO, "t1-gtc")
    assert cancelled.status is OrderStatus.CANCELED
    assert dict(parse_qsl(fake.last("/api/v3/order", "DELETE")["query"]))["origClientOrderId"] == "t1-gtc"
    with pytest.raises(NotFound):
        await venue.cancel_order(NEIRO, "t1-gtc")  # -2011 already gone
    with pytest.raises(NotFound):
        await venue.get_order(NEIRO, "never-sent")  # -2013
    assert await venue.order_fills(NEIRO, "t1-gtc") == []


async def test_balances(venue: MexcSpotVenue) -> None:
    bals = await venue.balances()
    assert bals["USDT"].free == Decimal("1000.5") and bals["USDT"].locked == Decimal(10)
    assert bals["NEIROETH"].total == Decimal(5000)
    assert await venue.positions() == [] and await venue.funding_rate(NEIRO) is None


async def test_rules_unavailable_is_local_refusal(venue: MexcSpotVenue, fake: FakeMexc) -> None:
    fake.fail_next[("GET", "/api/v3/exchangeInfo")] = [(503, "busy")]
    with pytest.raises(OrderRejected) as err:
        await venue.place_order(_req())
    assert err.value.local and err.value.code == "NO_RULES"
    assert not [r for r in fake.requests if r["path"] == "/api/v3/order"]


async def test_429_drains_endpoint_bucket(venue: MexcSpotVenue, fake: FakeMexc) -> None:
    await venue.symbol_info(NEIRO)
    fake.fail_next[("POST", "/api/v3/order")] = [(429, {"code": 429, "msg": "Too many requests"})]
    with pytest.raises(RateLimited):
        await venue.place_order(_req(cid="a"))
    with pytest.raises(RateLimited) as err:  # refused locally: the bucket is drained after a 429
        await venue.place_order(_req(cid="b"))
    assert err.value.code == "LOCAL_RATE_LIMIT"
    assert len([r for r in fake.requests if r["path"] == "/api/v3/order"]) == 1
    with pytest.raises(NotFound):  # other endpoints are not blocked: the outcome can be resolved
        await venue.get_order(NEIRO, "a")
