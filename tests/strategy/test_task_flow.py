"""DeltaNeutralTask against FakeVenues: build-up, arb, hedging, stale books, stop/flatten."""

from decimal import Decimal as D

import msgspec
import pytest
from freezegun import freeze_time

from exchanges.models import OrderType, Side, TimeInForce
from state.records import IntentStatus, State, TaskStatus

from .conftest import GP, GS, MS, PREFIX, set_books, test_config
from .helpers import assert_delta_within_tolerance, assert_ledger_matches_venues, assert_no_duplicate_sends, build, orders_of

T0 = "2026-01-01 00:00:00"


async def test_build_up_then_arb(harness, fakes):
    harness.config = test_config(arb_legs="concurrent", arb_slippage_bps=0)  # the legacy concurrent legs
    with freeze_time(T0) as ft:
        set_books(fakes)
        task = await harness.open()
        await build(harness)
        inv = task.ledger.spot_inventory()
        assert inv[GS] == D(2000) and inv[MS] == D(2000)  # 100 USDT each at 0.05
        assert task.ledger.inventory_base(GP) == D(-4000)  # 400 contracts x 10, short
        assert harness.edges[:7] == [("IDLE", "SYNCING"), ("SYNCING", "ANALYZING"), ("ANALYZING", "REBALANCING"),
                                     ("REBALANCING", "MANAGING_ORDERS"), ("MANAGING_ORDERS", "WAITING_ORDERS"),
                                     ("WAITING_ORDERS", "ANALYZING"), ("ANALYZING", "MONITORING")]
        ft.tick(1)
        fakes[GS].set_book("0.05100", "300", "0.05110", "1000")  # Gate bid rich: 185 bps net
        await harness.run_until(lambda t: t.state is State.MONITORING and t.ledger.trades == 5, 10)
        sell = [o for o in orders_of(fakes[GS]) if o.side is Side.SELL][0]
        buy = [o for o in orders_of(fakes[MS]) if o.created_ms == sell.created_ms and o.side is Side.BUY][0]
        # both legs IOC limits at the quoted prices, same size (depth-limited)
        assert (sell.tif, sell.order_type, sell.price, sell.qty) == (TimeInForce.IOC, OrderType.LIMIT, D("0.05100"), D(300))
        assert (buy.tif, buy.price, buy.qty) == (TimeInForce.IOC, D("0.05000"), D(300))
        assert task.ledger.spot_inventory() == {GS: D(1700), MS: D(2300)}
        assert task.open_intent_ids == {}  # every intent settled: later passes skip the whole history
        assert_delta_within_tolerance(task)
        assert_ledger_matches_venues(task, fakes)
        assert_no_duplicate_sends(fakes)
        pnl = task.pnl()
        for key in ("realized_pnl_usdt", "unrealized_pnl_usdt", "fees_usdt", "funding_usdt", "net_delta_base",
                    "trades", "volume_usdt"):
            assert key in pnl
        assert D(pnl["realized_pnl_usdt"]) == D("0.3")  # (0.051 - 0.050) x 300 on Gate
        view = task.live_view()
        assert view["inventory_base"]["gate_spot"] == "1700"
        assert set(view["book_age_ms"]) == {"gate_spot", "mexc_spot", "gate_perp"}
        assert "sell_gate_spot_buy_mexc_spot_bps" in view["spreads_bps"]
        stored = await harness.store.get_task(task.task_id)
        assert '"trades":"5"' in stored.pnl


async def test_arb_legs_are_sent_concurrently(harness, fakes):
    """arb_legs = "concurrent": both legs are in flight at the same time (asyncio.gather), not one
    after the other."""
    import asyncio

    harness.config = test_config(arb_legs="concurrent", arb_slippage_bps=0)  # the legacy concurrent legs

    entered: list[str] = []
    both_in = asyncio.Event()
    for v in (GS, MS):
        orig = fakes[v].place_order

        async def gated(req, orig=orig, v=v):
            if req.client_order_id in arb_ids:
                entered.append(v.value)
                if len(entered) == 2:
                    both_in.set()
                await asyncio.wait_for(both_in.wait(), timeout=2)
            return await orig(req)

        fakes[v].place_order = gated
    arb_ids: set[str] = set()
    with freeze_time(T0) as ft:
        set_books(fakes)
        task = await harness.open()
        await build(harness)
        ft.tick(1)
        fakes[GS].set_book("0.05100", "300", "0.05110", "1000")
        await harness.run_until(lambda t: t.state is State.MANAGING_ORDERS)
        arb_ids.update(task.context.batch)
        await harness.step()
    assert sorted(entered) == ["gate_spot", "mexc_spot"]
    assert all(task.intents[c].status is IntentStatus.FILLED for c in arb_ids)


async def test_stale_books_never_trade(harness, fakes):
    """Invariant 6: no order from a book older than max_book_age_ms or flagged stale."""
    with freeze_time(T0) as ft:
        set_books(fakes)
        task = await harness.open()
        await build(harness)
        n_orders = sum(len(f.place_calls) for f in fakes.values())
        # a rich spread, but Gate's book is flagged stale
        fakes[GS].set_book("0.05100", "300", "0.05110", "1000", stale=True)
        for _ in range(4):
            await harness.step()
        # a rich spread, but the other book is too old
        ft.tick(1)
        fakes[GS].set_book("0.05100", "300", "0.05110", "1000")
        ft.tick(3.5)  # MEXC book now 4.5 s old > 3 s
        fakes[GS].set_book("0.05100", "300", "0.05110", "1000")
        for _ in range(4):
            await harness.step()
        assert sum(len(f.place_calls) for f in fakes.values()) == n_orders
        assert task.state in (State.MONITORING, State.ANALYZING)
        # a book goes stale between planning and sending: the intent is refused, not sent
        set_books(fakes)
        fakes[GS].set_book("0.05100", "300", "0.05110", "1000")
        await harness.run_until(lambda t: t.state is State.MANAGING_ORDERS)
        fakes[MS].set_book("0.04999", "1000", "0.05000", "1000", stale=True)
        await harness.step()
        statuses = sorted(task.intents[c].status.value for c in task.context.batch)
        assert "not_sent" in statuses
        mexc_cid = [c for c in task.context.batch if task.intents[c].venue is MS][0]
        assert mexc_cid not in fakes[MS].place_calls


async def test_partial_fill_is_hedged_immediately(harness, fakes):
    """A fill that changes net spot is hedged on the perp at once, before the order completes."""
    harness.config = test_config(arb_legs="concurrent", arb_slippage_bps=0)  # the legacy concurrent legs
    with freeze_time(T0) as ft:
        set_books(fakes)
        task = await harness.open()
        await build(harness)
        ft.tick(1)
        fakes[MS].hold_matching = True  # MEXC leaves our buy open; fills scripted below
        fakes[GS].set_book("0.05100", "300", "0.05110", "1000")
        await harness.run_until(lambda t: t.state is State.WAITING_ORDERS)
        buy_cid = [c for c in task.intents if task.intents[c].leg == "arb_buy"][-1]
        perp_before = len(fakes[GP].place_calls)
        # Gate sold 300 already: net spot -300 => hedged at once (30 contracts bought back)
        await harness.step()
        assert len(fakes[GP].place_calls) == perp_before + 1
        assert task.state is State.WAITING_ORDERS
        assert_delta_within_tolerance(task)
        fakes[MS].fill_order(buy_cid, "120", "0.05000")  # partial fill event
        await harness.step()
        hedge = fakes[GP].orders[fakes[GP].place_calls[-1]]
        assert len(fakes[GP].place_calls) == perp_before + 2 and hedge.side is Side.SELL and hedge.qty == D(12)
        assert task.intents[buy_cid].status is IntentStatus.PARTIALLY_FILLED  # still open
        assert_delta_within_tolerance(task)
        fakes[MS].hold_matching = False
        ft.tick(6)  # order_timeout_s: cancel the rest
        await harness.run_until(lambda t: t.state is State.MONITORING, 10)
        assert task.intents[buy_cid].status is IntentStatus.CANCELED
        assert_delta_within_tolerance(task)
        assert_ledger_matches_venues(task, fakes)
        assert_no_duplicate_sends(fakes)


async def test_perp_hedges_are_real_ioc_limits_with_perp_rules(harness, fakes):
    """seed 7.2 #7 / #15: perp orders are IOC limits priced and sized with perp values."""
    with freeze_time(T0):
        set_books(fakes, gp=("0.05200", "0.05210"))
        await harness.open()
        await build(harness)
    perp_orders = orders_of(fakes[GP])
    assert perp_orders
    for o in perp_orders:
        assert o.order_type is OrderType.LIMIT and o.tif is TimeInForce.IOC and o.price is not None
        assert o.qty == o.qty.to_integral_value()  # whole contracts
        assert o.price <= D("0.05200")  # priced off the PERP bid, not the spot book


async def test_wallet_is_not_the_position(harness, fakes):
    """seed 7.2 #10: coins in the wallet the task did not buy are neither sold nor hedged."""
    fakes[GS].free["NEIROETH"] = D(1_000_000)
    harness.config = harness.config.__class__(**{**{f: getattr(harness.config, f) for f in harness.config.__struct_fields__},
                                                 "max_order_usdt": D(1000)})
    with freeze_time(T0) as ft:
        set_books(fakes)
        task = await harness.open()
        await build(harness)
        assert task.ledger.inventory_base(GS) == D(2000)
        assert task.ledger.inventory_base(GP) == D(-4000)  # hedges only what it bought
        ft.tick(1)
        fakes[GS].set_book("0.05100", "100000", "0.05110", "100000")
        fakes[MS].set_book("0.04990", "100000", "0.05000", "100000")
        for _ in range(30):
            await harness.step()
            assert task.ledger.inventory_base(GS) >= 0
            assert fakes[GS].free["NEIROETH"] >= D(1_000_000)  # the foreign coins were never sold
        sold = sum(o.filled_qty for o in orders_of(fakes[GS]) if o.side is Side.SELL)
        assert sold > 0
        first_sell = [o for o in orders_of(fakes[GS]) if o.side is Side.SELL][0]
        # sized by the task-owned inventory above its floor (0.3 x its build-up target 2000.2), not the wallet
        assert first_sell.qty == D(1399)


async def test_foreign_orders_never_canceled(harness, fakes):
    """seed 7.2 #11: start-up and stop never cancel orders we did not create."""
    for v in (GS, MS, GP):
        fakes[v].add_foreign_order(f"manual{v.value}", Side.BUY, D(1), D("0.01"))
    fakes[GS].add_foreign_order(f"{PREFIX}999999", Side.BUY, D(100), D("0.01"))  # ours by prefix, unjournaled
    with freeze_time(T0):
        set_books(fakes)
        task = await harness.open()
        await build(harness)
        task.request_stop(flatten=False, reason="user")
        await harness.run_until(lambda t: t.status.is_terminal, 10)
    for v in (GS, MS, GP):
        assert f"manual{v.value}" not in fakes[v].cancel_calls
        assert not fakes[v].orders[f"manual{v.value}"].status.is_final
    assert f"{PREFIX}999999" in fakes[GS].cancel_calls
    assert task.status is TaskStatus.STOPPED


async def test_user_stop_keeps_positions_and_ends_stopped(harness, fakes):
    with freeze_time(T0):
        set_books(fakes)
        task = await harness.open()
        await build(harness)
        n = sum(len(f.place_calls) for f in fakes.values())
        task.request_stop(flatten=False, reason="user")
        await harness.run_until(lambda t: t.status.is_terminal, 10)
    assert task.status is TaskStatus.STOPPED
    assert sum(len(f.place_calls) for f in fakes.values()) == n
    assert task.ledger.inventory_base(GS) == D(2000)
    rec = await harness.store.get_task(task.task_id)
    assert rec.status is TaskStatus.STOPPED


async def test_stop_flatten_unwinds_with_reduce_only(harness, fakes):
    """Kill switch: spot sold, perp closed with reduce_only."""
    with freeze_time(T0):
        set_books(fakes)
        task = await harness.open()
        await build(harness)
        task.request_stop(flatten=True, reason="user")
        await harness.run_until(lambda t: t.status.is_terminal, 30)
    assert task.status is TaskStatus.STOPPED
    assert task.ledger.inventory_base(GS) == 0 and task.ledger.inventory_base(MS) == 0
    assert task.ledger.inventory_base(GP) == 0
    closes = [o for o in orders_of(fakes[GP]) if o.side is Side.BUY]
    assert closes and all(o.reduce_only for o in closes)
    assert fakes[GP].position_contracts == 0
    assert_ledger_matches_venues(task, fakes)


async def test_duration_stop_ends_completed(harness, fakes):
    with freeze_time(T0):
        set_books(fakes)
        task = await harness.open()
        await build(harness)
        task.request_stop(flatten=False, reason="duration")
        await harness.run_until(lambda t: t.status.is_terminal, 10)
    assert task.status is TaskStatus.COMPLETED


@pytest.mark.parametrize("cfg, reason", [({"max_duration_s": 30.0}, "max_duration"),
                                         ({"max_loss_usdt": D("1")}, "max_loss")])
async def test_risk_limits_end_the_task_completed(tmp_path, fakes, cfg, reason):
    from .conftest import Harness, test_config

    h = Harness(tmp_path / "db.sqlite", fakes, test_config(**cfg))
    try:
        with freeze_time(T0) as ft:
            set_books(fakes)
            task = await h.open()
            await build(h)
            ft.tick(31)
            if reason == "max_loss":  # spot drops 10 %, perp does not follow: a loss > 1 USDT
                set_books(fakes, gs=("0.04499", "0.04500"), ms=("0.04499", "0.04500"))
            else:
                set_books(fakes)
            await h.run_until(lambda t: t.status.is_terminal, 20)
        assert task.status is TaskStatus.COMPLETED
        assert task.context.exit_reason == reason
        rec = await h.store.get_task(task.task_id)
        assert rec.status is TaskStatus.COMPLETED
    finally:
        await h.close()


async def test_funding_is_booked(harness, fakes):
    with freeze_time(T0) as ft:
        set_books(fakes)
        task = await harness.open()
        await build(harness)
        ft.tick(10)
        fakes[GP].pay_funding("0.0001", "0.05")  # short receives 4000 x 0.05 x 0.0001 = 0.02
        for _ in range(3):
            ft.tick(61)
            set_books(fakes)
            await harness.step()
        assert task.ledger.funding_usdt == D("0.02")
        assert D(task.pnl()["funding_usdt"]) == D("0.02")
        assert [f.amount_usdt for f in await harness.store.funding(task.task_id)] == [D("0.02")]


async def test_tiny_prices_trade_exactly(tmp_path):
    """Prices below 0.0001 (e.g. 0.0000350) go through build-up, hedge and arb exactly."""
    from tests.fake_venue import FakeVenue

    from .conftest import Harness, make_infos, test_config

    infos = make_infos(tick="0.0000001", mult="10000")
    fakes = {v: FakeVenue(infos[v], {"USDT": D(1000)}) for v in (GS, MS, GP)}
    h = Harness(tmp_path / "db.sqlite", fakes, test_config())
    try:
        with freeze_time(T0) as ft:
            for v in (GS, MS, GP):
                fakes[v].set_book("0.0000349", "1000000000", "0.0000350", "1000000000")
            task = await h.open()
            await build(h)
            assert task.ledger.inventory_base(GS) == D(100) / D("0.0000350") // 1  # 2857142 base
            assert_delta_within_tolerance(task)
            ft.tick(1)
            fakes[GS].set_book("0.0000356", "1000000", "0.0000357", "1000000")  # ~150 bps gross
            await h.run_until(lambda t: t.ledger.trades == 5 and t.state is State.MONITORING, 10)
            sell = [o for o in orders_of(fakes[GS]) if o.side is Side.SELL][0]
            assert sell.price == D("0.0000356") and sell.qty == D(1000000)
            assert task.ledger.position(GS).realized_pnl_usdt == (D("0.0000356") - D("0.0000350")) * 1000000
            assert_ledger_matches_venues(task, fakes)
    finally:
        await h.close()


async def test_no_second_arb_into_liquidity_we_already_took(harness, fakes):
    """After an arb, the venue's stream may still show the bid we sold into (MEXC pushes once
    per 10-100 ms): the task counts its own take against that book and does not send a second
    arb into it (one leg would fill alone); a newer book from the venue is traded again."""
    with freeze_time(T0) as ft:
        set_books(fakes)
        task = await harness.open()
        await build(harness)
        ft.tick(1)
        rich = msgspec.structs.replace(fakes[MS].set_book("0.05100", "300", "0.05110", "1000"), seq=7)
        fakes[MS].book = rich  # MEXC bid rich, 300 deep, update id 7
        place = fakes[MS].place_order

        async def lagging_stream(req):  # the fill consumed the bid; the stream still shows it
            out = await place(req)
            fakes[MS].book = rich
            return out

        fakes[MS].place_order = lagging_stream
        await harness.run_until(lambda t: t.state is State.MONITORING and t.ledger.trades == 5, 10)
        sells = [o for o in orders_of(fakes[MS]) if o.side is Side.SELL]
        assert [o.qty for o in sells] == [D(300)]
        for i in range(5):  # the venue keeps showing book 7, only "touched" as still current
            ft.tick(0.3)
            fakes[MS].book = msgspec.structs.replace(rich, ts_ms=rich.ts_ms + 300 * (i + 1))
            await harness.step()
        assert [o.qty for o in orders_of(fakes[MS]) if o.side is Side.SELL] == [D(300)]
        assert task.state is State.MONITORING
        fakes[MS].place_order = place
        ft.tick(0.1)
        fakes[MS].set_book("0.05100", "300", "0.05110", "1000")  # a new book from the venue: the level again
        await harness.run_until(lambda t: t.state is State.MONITORING and t.ledger.trades == 7, 10)
        assert [o.qty for o in orders_of(fakes[MS]) if o.side is Side.SELL] == [D(300), D(300)]
        assert_delta_within_tolerance(task)
        assert_no_duplicate_sends(fakes)


async def test_leg_whose_request_leaves_at_once_is_sent_first(harness, fakes):
    """The arb sells on Gate and buys on MEXC; MEXC's request leaves the process at once
    (order_write_at_once), Gate's a loop turn later: the MEXC leg is started first, and both
    are still in flight together (arb_legs = "concurrent")."""
    harness.config = test_config(arb_legs="concurrent", arb_slippage_bps=0)  # the legacy concurrent legs
    calls: list[str] = []
    for v in (GS, MS):
        orig = fakes[v].place_order

        async def recorded(req, orig=orig, v=v):
            calls.append(f"{v.value}:{req.side.value}")
            return await orig(req)

        fakes[v].place_order = recorded
    fakes[MS].order_write_at_once = True
    with freeze_time(T0) as ft:
        set_books(fakes)
        await harness.open()
        await build(harness)
        calls.clear()
        ft.tick(1)
        fakes[GS].set_book("0.05100", "300", "0.05110", "1000")  # sell Gate, buy MEXC
        await harness.run_until(lambda t: t.state is State.WAITING_ORDERS)
    assert calls[:2] == ["mexc_spot:buy", "gate_spot:sell"]
