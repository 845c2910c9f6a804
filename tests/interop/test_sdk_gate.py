"""Gate's official SDK (``gate-api``) against the simulator with only its host
changed: loading markets, books, accounts, fees, spot and USDT-futures orders
(IOC/GTC with ``text``, by id and by text, lists, cancel one and all pairs),
trades, positions, reduce-only, position close, funding history, account book."""

from __future__ import annotations

from decimal import Decimal as D

import gate_api
import pytest
from gate_api.exceptions import GateApiException

from exchanges.models import VenueId
from tests.interop.sdk_fixtures import off_loop, sdk_sim  # noqa: F401
from tests.sim.conftest import SYM

P, C = "NEIROETH_USDT", "NEIROETH_USDT"


def _client(endpoints: dict) -> tuple[gate_api.SpotApi, gate_api.FuturesApi, gate_api.UnifiedApi]:
    ep = endpoints["gate_spot"]
    api = gate_api.ApiClient(gate_api.Configuration(host=ep["rest_url"], key=ep["api_key"], secret=ep["api_secret"]))
    return gate_api.SpotApi(api), gate_api.FuturesApi(api), gate_api.UnifiedApi(api)


async def test_gate_sdk_spot_flow(sdk_sim):  # noqa: F811
    spot, _, unified = _client(sdk_sim.endpoints)

    def markets() -> tuple:
        return (spot.list_currency_pairs(), spot.list_currencies(), spot.get_currency("USDT"),
                spot.get_currency_pair(P), spot.list_tickers(), spot.list_order_book(P, limit=5, with_id=True),
                spot.list_spot_accounts(), spot.get_fee(currency_pair=P), unified.get_unified_mode())

    pairs, currencies, usdt, pair, tickers, book, accounts, fee, mode = await off_loop(markets)
    assert {p.id for p in pairs} == {"NEIROETH_USDT", "NEIRO001_USDT"} and pair.trade_status == "tradable"
    assert {c.currency for c in currencies} == {"NEIROETH", "NEIRO001", "USDT"} and usdt.chains
    assert {t.currency_pair for t in tickers} == {p.id for p in pairs}
    assert (book.bids[0], book.asks[0]) == (["0.05", "1000"], ["0.0501", "1000"]) and book.id > 0
    assert {a.currency: a.available for a in accounts}["USDT"] == "10000"
    assert D(fee.taker_fee) == D("0.002") and mode.mode == "classic"

    def trade() -> tuple:
        ioc = spot.create_order(gate_api.Order(currency_pair=P, side="buy", amount="100", price="0.0501",
                                               time_in_force="ioc", text="t-sdk1"))
        by_id = spot.get_order(ioc.id, P)
        trades = spot.list_my_trades(currency_pair=P, order_id=ioc.id)
        gtc = spot.create_order(gate_api.Order(currency_pair=P, side="buy", amount="100", price="0.0400",
                                               text="t-sdk2"))
        other = spot.create_order(gate_api.Order(currency_pair="NEIRO001_USDT", side="buy", amount="100",
                                                 price="0.0400", text="t-sdk3"))
        by_text = spot.get_order("t-sdk2", P)
        open_p = spot.list_orders(P, "open")
        all_open = spot.list_all_open_orders()
        one = spot.cancel_order(gtc.id, P)
        gtc4 = spot.create_order(gate_api.Order(currency_pair=P, side="buy", amount="100", price="0.0400",
                                                text="t-sdk4"))
        cancelled = spot.cancel_orders()  # every pair
        finished = spot.list_orders(P, "finished", limit=10)
        return ioc, by_id, trades, gtc, other, by_text, open_p, all_open, one, gtc4, cancelled, finished

    ioc, by_id, trades, gtc, other, by_text, open_p, all_open, one, gtc4, cancelled, finished = await off_loop(trade)
    assert (ioc.status, ioc.filled_amount, ioc.text) == ("closed", "100", "t-sdk1")
    assert by_id.id == ioc.id and by_id.finish_as == "filled"
    assert [(t.price, t.amount, t.role) for t in trades] == [("0.0501", "100", "taker")]
    assert by_text.id == gtc.id and [o.id for o in open_p] == [gtc.id]
    assert {g.currency_pair for g in all_open} == {"NEIROETH_USDT", "NEIRO001_USDT"}
    assert one.status == "cancelled" and one.id == gtc.id
    assert {o.id for o in cancelled} == {gtc4.id, other.id} and all(o.succeeded for o in cancelled)
    assert {o.text for o in finished} >= {"t-sdk1", "t-sdk2", "t-sdk4"}
    assert not sdk_sim.engine.open_orders(sdk_sim.engine.default_account.api_key, VenueId.GATE_SPOT)

    with pytest.raises(GateApiException) as err:
        await off_loop(lambda: spot.get_currency_pair("NOPE_USDT"))
    assert err.value.label == "INVALID_CURRENCY_PAIR"


async def test_gate_sdk_futures_flow(sdk_sim):  # noqa: F811
    _, fut, _ = _client(sdk_sim.endpoints)

    def markets() -> tuple:
        return (fut.list_futures_contracts("usdt"), fut.get_futures_contract("usdt", C),
                fut.list_futures_tickers("usdt"), fut.list_futures_order_book("usdt", C, limit=5, with_id=True),
                fut.list_futures_accounts("usdt"), fut.get_futures_fee("usdt", contract=C))

    contracts, contract, tickers, book, account, fee = await off_loop(markets)
    assert {c.name for c in contracts} == {"NEIROETH_USDT", "NEIRO001_USDT"}
    assert contract.quanto_multiplier == "10" and contract.funding_interval == 28800
    assert {t.contract for t in tickers} == {c.name for c in contracts} and tickers[0].funding_rate
    assert book.asks[0].p == "0.0501" and book.id > 0
    assert account.total == "10000" and D(fee[C].taker_fee) == D("0.0005")

    def trade() -> tuple:
        short = fut.create_futures_order("usdt", gate_api.FuturesOrder(contract=C, size=-2, price="0", tif="ioc",
                                                                       text="t-fsdk1"))
        pos = fut.list_positions("usdt")
        reduce = fut.create_futures_order("usdt", gate_api.FuturesOrder(contract=C, size=2, price="0", tif="ioc",
                                                                        reduce_only=True, text="t-fsdk2"))
        too_much = None
        try:
            fut.create_futures_order("usdt", gate_api.FuturesOrder(contract=C, size=1, price="0", tif="ioc",
                                                                   reduce_only=True, text="t-fsdk3"))
        except GateApiException as exc:
            too_much = exc.label
        gtc = fut.create_futures_order("usdt", gate_api.FuturesOrder(contract=C, size=1, price="0.0400", tif="gtc",
                                                                     text="t-fsdk4"))
        other = fut.create_futures_order("usdt", gate_api.FuturesOrder(contract="NEIRO001_USDT", size=1,
                                                                       price="0.0400", tif="gtc", text="t-fsdk5"))
        by_text = fut.get_futures_order("usdt", "t-fsdk4")
        by_id = fut.get_futures_order("usdt", str(gtc.id))
        listed = fut.list_futures_orders("usdt", status="open")
        one = fut.cancel_futures_order("usdt", str(other.id))
        gtc6 = fut.create_futures_order("usdt", gate_api.FuturesOrder(contract="NEIRO001_USDT", size=1,
                                                                      price="0.0400", tif="gtc", text="t-fsdk6"))
        cancelled = fut.cancel_futures_orders("usdt")  # every contract
        trades = fut.get_my_trades("usdt", limit=10)
        closes = fut.list_position_close("usdt", limit=5)
        return short, pos, reduce, too_much, gtc, by_text, by_id, listed, one, gtc6, cancelled, trades, closes

    short, pos, reduce, too_much, gtc, by_text, by_id, listed, one, gtc6, cancelled, trades, closes = \
        await off_loop(trade)
    assert (short.status, short.finish_as, D(short.size)) == ("finished", "filled", D(-2))
    assert [(p.contract, D(p.size)) for p in pos if D(p.size)] == [(C, D(-2))]
    assert reduce.finish_as == "filled" and too_much == "REDUCE_ONLY_FAIL"
    assert by_text.id == gtc.id == by_id.id and {o.text for o in listed} == {"t-fsdk4", "t-fsdk5"}
    assert one.finish_as == "cancelled"
    assert {o.id for o in cancelled} == {gtc.id, gtc6.id}
    assert [(D(t.size), t.text) for t in trades][:2] == [(D(2), "t-fsdk2"), (D(-2), "t-fsdk1")]
    [close] = closes
    assert (close.contract, close.side, close.accum_size, close.max_size) == (C, "short", "2", "2")
    assert D(close.pnl_fee) < 0 and D(close.pnl) == D(close.pnl_pnl) + D(close.pnl_fee) + D(close.pnl_fund)
    assert not sdk_sim.engine.open_orders(sdk_sim.engine.default_account.api_key, VenueId.GATE_PERP)

    await off_loop(lambda: fut.create_futures_order("usdt", gate_api.FuturesOrder(
        contract=C, size=-1, price="0", tif="ioc", text="t-fsdk7")))
    [payment] = sdk_sim.engine.apply_funding(VenueId.GATE_PERP, SYM, rate=D("0.001"))

    def history() -> tuple:
        return (fut.list_futures_funding_rate_history("usdt", C), fut.list_futures_account_book("usdt", limit=20),
                fut.list_futures_account_book("usdt", type="fund"))

    rates, book, fund = await off_loop(history)
    assert rates[0].r == "0.001"
    assert [e.type for e in book][:1] == ["fund"] and {"fee", "pnl", "fund"} <= {e.type for e in book}
    assert [(e.type, D(e.change)) for e in fund] == [("fund", payment.amount)]
    assert D(book[0].balance) == D((await off_loop(lambda: fut.list_futures_accounts("usdt"))).total)
