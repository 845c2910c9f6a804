"""Engine unit tests: matching, reservations, consumption memory, perp positions, funding, persistence."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchanges.models import MarketType, OrderStatus, OrderType, Side, Symbol, SymbolInfo, TimeInForce, VenueId
from exchanges.sim.engine import SimEngine
from exchanges.sim.engine.types import BookUpdate, FillUpdate, OrderUpdate, SimError

SYM = Symbol("NEIROETH", "USDT")
SPOT = VenueId.GATE_SPOT
PERP = VenueId.GATE_PERP


def _infos() -> list[SymbolInfo]:
    spot = SymbolInfo(SPOT, SYM, "NEIROETH_USDT", MarketType.SPOT, D("0.0001"), D("1"), D("1"), D("1"),
                      maker_fee_rate=D("0.001"), taker_fee_rate=D("0.002"))
    perp = SymbolInfo(PERP, SYM, "NEIROETH_USDT", MarketType.PERP, D("0.0001"), D("1"), D("1"), D("0"),
                      contract_multiplier=D("10"), maker_fee_rate=D("0.0002"), taker_fee_rate=D("0.0005"),
                      funding_interval_s=28800)
    return [spot, perp]


@pytest.fixture
def engine(tmp_path):
    eng = SimEngine(_infos(), db_path=tmp_path / "sim.sqlite", keys_path=tmp_path / "keys.json")
    eng.set_book(SPOT, SYM, [(D("0.0500"), D("100")), (D("0.0499"), D("200"))],
                 [(D("0.0501"), D("100")), (D("0.0502"), D("300"))])
    eng.set_book(PERP, SYM, [(D("0.0500"), D("50"))], [(D("0.0501"), D("50")), (D("0.0502"), D("50"))])
    yield eng
    eng.close()


def test_ioc_partial_fill_consumes_levels_and_fees(engine):
    key = engine.default_account.api_key
    order = engine.place_order(key, SPOT, SYM, Side.BUY, D("150"), D("0.0501"), tif=TimeInForce.IOC,
                               client_order_id="t-a1")
    assert order.status is OrderStatus.CANCELED and order.finish_as == "ioc"
    assert order.filled_qty == D("100") and order.avg_price == D("0.0501")
    bal = engine.balances(key, SPOT)
    assert bal["NEIROETH"].free == D("100") - D("0.2")  # taker fee in base
    assert bal["USDT"].free == D("10000") - D("5.01") and bal["USDT"].locked == 0
    # the consumed level stays consumed until the feed changes it
    again = engine.place_order(key, SPOT, SYM, Side.BUY, D("50"), D("0.0501"), tif=TimeInForce.IOC)
    assert again.filled_qty == 0
    bids, asks, _ = engine.book(SPOT, SYM)
    assert asks[0] == (D("0.0502"), D("300"))
    engine.set_book(SPOT, SYM, [(D("0.0500"), D("100"))], [(D("0.0501"), D("80"))])
    third = engine.place_order(key, SPOT, SYM, Side.BUY, D("50"), D("0.0501"), tif=TimeInForce.IOC)
    assert third.filled_qty == D("50")


def test_gtc_rests_then_fills_as_maker_and_cancel_releases(engine):
    key = engine.default_account.api_key
    updates = []
    engine.subscribe_account(key, SPOT, updates.append)
    order = engine.place_order(key, SPOT, SYM, Side.BUY, D("100"), D("0.0500"), client_order_id="t-gtc")
    assert order.status is OrderStatus.OPEN
    assert engine.balances(key, SPOT)["USDT"].locked == D("5.0000")
    with pytest.raises(SimError) as err:
        engine.place_order(key, SPOT, SYM, Side.BUY, D("10"), D("0.0500"), client_order_id="t-gtc")
    assert err.value.label == "DUPLICATE_TEXT"
    engine.set_book(SPOT, SYM, [(D("0.0498"), D("100"))], [(D("0.0499"), D("60"))])
    assert order.filled_qty == D("60") and order.status is OrderStatus.PARTIALLY_FILLED
    fills = engine.fills(key, SPOT, order_id=order.id)
    assert fills[0].is_maker and fills[0].price == D("0.0500") and fills[0].fee == D("0.06")
    cancelled = engine.cancel_order(key, SPOT, SYM, client_order_id="t-gtc")
    assert cancelled.status is OrderStatus.CANCELED
    bal = engine.balances(key, SPOT)["USDT"]
    assert bal.locked == 0 and bal.free == D("10000") - D("3.0")
    assert any(isinstance(u, FillUpdate) for u in updates)
    assert [u.event for u in updates if isinstance(u, OrderUpdate)][0] == "put"
    assert [u.event for u in updates if isinstance(u, OrderUpdate)][-1] == "finish"
    with pytest.raises(SimError):
        engine.cancel_order(key, SPOT, SYM, client_order_id="t-gtc")


def test_post_only_and_fok_and_balance_checks(engine):
    key = engine.default_account.api_key
    with pytest.raises(SimError) as err:
        engine.place_order(key, SPOT, SYM, Side.BUY, D("100"), D("0.0501"), tif=TimeInForce.POST_ONLY)
    assert err.value.label == "ORDER_POC_IMMEDIATE"
    fok = engine.place_order(key, SPOT, SYM, Side.BUY, D("1000"), D("0.0502"), tif=TimeInForce.FOK)
    assert fok.filled_qty == 0 and fok.finish_as == "fok"
    with pytest.raises(SimError) as err:
        engine.place_order(key, SPOT, SYM, Side.SELL, D("100"), D("0.0500"))
    assert err.value.label == "BALANCE_NOT_ENOUGH"
    mkt = engine.place_order(key, SPOT, SYM, Side.BUY, D("0"), order_type=OrderType.MARKET, quote_qty=D("10"))
    assert mkt.filled_qty > 0 and mkt.status is OrderStatus.FILLED


def test_perp_position_margin_pnl_and_funding(engine):
    key = engine.default_account.api_key
    books: list[BookUpdate] = []
    engine.subscribe_book(PERP, SYM, books.append)
    short = engine.place_order(key, PERP, SYM, Side.SELL, D("20"), D("0.0500"), tif=TimeInForce.IOC)
    assert short.filled_qty == D("20")
    assert books and books[-1].bids == [(D("0.0500"), D("30"))]
    [pos] = engine.positions(key, PERP, SYM)
    assert pos.size == D("-20") and pos.entry_price == D("0.0500")
    usdt = engine.balances(key, PERP)["USDT"]
    fee = D("20") * 10 * D("0.05") * D("0.0005")
    assert usdt.total == D("10000") - fee
    assert usdt.locked == pos.margin == D("20") * 10 * D("0.05") / 10
    with pytest.raises(SimError):
        engine.place_order(key, PERP, SYM, Side.SELL, D("1"), D("0.0500"), reduce_only=True)
    engine.set_funding_rate(PERP, SYM, D("0.001"))
    [payment] = engine.apply_funding(PERP, SYM)
    assert payment.amount == D("20") * 10 * engine.mark_price(PERP, SYM) * D("0.001")  # shorts receive
    close = engine.place_order(key, PERP, SYM, Side.BUY, D("0"), order_type=OrderType.MARKET, is_close=True)
    assert close.filled_qty == D("20") and engine.positions(key, PERP, SYM)[0].size == 0
    assert engine.balances(key, PERP)["USDT"].locked == 0


def test_persistence_across_restart(tmp_path):
    eng = SimEngine(_infos(), db_path=tmp_path / "s.sqlite", keys_path=tmp_path / "k.json")
    eng.set_book(SPOT, SYM, [(D("0.0500"), D("100"))], [(D("0.0501"), D("100"))])
    key = eng.default_account.api_key
    eng.place_order(key, SPOT, SYM, Side.BUY, D("40"), D("0.0501"), tif=TimeInForce.IOC, client_order_id="t-x")
    resting = eng.place_order(key, SPOT, SYM, Side.BUY, D("40"), D("0.0490"), client_order_id="t-rest")
    eng.close()
    eng2 = SimEngine(_infos(), db_path=tmp_path / "s.sqlite", keys_path=tmp_path / "k.json")
    assert eng2.default_account.api_key == key
    assert eng2.get_order(key, SPOT, client_order_id="t-x").filled_qty == D("40")
    assert [o.id for o in eng2.open_orders(key, SPOT)] == [resting.id]
    assert eng2.balances(key, SPOT)["NEIROETH"].free == D("40") * (1 - D("0.002"))
    assert len(eng2.fills(key, SPOT)) == 1
    eng2.set_book(SPOT, SYM, [(D("0.0480"), D("100"))], [(D("0.0489"), D("100"))])
    assert eng2.get_order(key, SPOT, order_id=resting.id).status is OrderStatus.FILLED
    newer = eng2.place_order(key, SPOT, SYM, Side.BUY, D("100"), D("0.0400"))
    assert newer.id > resting.id
    eng2.close()
