"""MONITORING watches books itself: book updates without anything to do add no journal row;
an edge signals ANALYZING which always acts; a timer re-analyses every reanalyze_s.
SYNCING that cannot reach a venue gives up after sync_timeout_s and ends halted."""

from decimal import Decimal as D

from freezegun import freeze_time

from exchanges.venue import VenueError
from state.records import State, TaskStatus

from .conftest import GS, MS, Harness, set_books, test_config
from .helpers import build

T0 = "2026-01-01 00:00:00"


async def _rows(h) -> int:
    return len(await h.store.transitions(h.task.task_id))


async def test_book_updates_without_edge_add_no_journal_rows(harness, fakes):
    with freeze_time(T0) as ft:
        set_books(fakes)
        task = await harness.open()
        await build(harness)
        before = await _rows(harness)
        for i in range(40):  # 40 book updates that move the books but never open an edge
            ft.tick(0.05)
            bid = "0.04998" if i % 2 else "0.04999"
            set_books(fakes, gs=(bid, "0.05000"), ms=(bid, "0.05000"))
            assert await harness.step() is False
            assert task.state is State.MONITORING
        assert await _rows(harness) == before
        # the periodic re-analysis: one round trip through ANALYZING, nothing else
        ft.tick(task.config.reanalyze_s)
        set_books(fakes)
        await harness.step()
        assert task.state is State.ANALYZING
        await harness.step()
        assert task.state is State.MONITORING
        journal = (await harness.store.transitions(task.task_id))[before:]
        assert [(t.trigger, t.reason) for t in journal] == [("signal", "timer"), ("idle", "nothing to do")]


async def test_edge_signal_always_leads_to_a_trade(harness, fakes):
    with freeze_time(T0) as ft:
        set_books(fakes)
        task = await harness.open()
        await build(harness)
        before = await _rows(harness)
        ft.tick(1)
        fakes[GS].set_book("0.05100", "300", "0.05110", "1000")
        await harness.step()
        assert task.state is State.ANALYZING
        await harness.step()
        assert task.state is State.MANAGING_ORDERS
        journal = (await harness.store.transitions(task.task_id))[before:]
        assert journal[0].trigger == "signal" and journal[0].reason.startswith("arb sell gate_spot buy mexc_spot")
        assert journal[1].trigger == "trade" and journal[1].reason.startswith(journal[0].reason + "; ")
        assert journal[1].reason.endswith("first (FOK)")  # the journal names the leg sent first


async def test_opportunistic_rebalance_through_the_arb(harness, fakes):
    """MEXC short of target: a small edge (under the entry threshold) in the needed direction
    is taken as a cross-spot trade, never as a paired spread-crossing rebalance."""
    with freeze_time(T0) as ft:
        set_books(fakes)
        task = await harness.open()
        await build(harness)
        ft.tick(1)
        trades = task.ledger.trades
        fakes[MS].set_book("0.05199", "900", "0.05200", "1000")  # MEXC rich: sell 900 on MEXC, buy on Gate
        await harness.run_until(lambda t: t.state is State.MONITORING and t.ledger.trades >= trades + 2, 10)
        inv = task.ledger.spot_inventory()
        assert inv[MS] < D(2000) * task.config.rebalance_trigger_fraction
        ft.tick(1)
        # ~5 bps net in the needed direction (sell Gate, buy MEXC): below entry (10), above rebalance (0)
        set_books(fakes, gs=("0.050100", "0.050110"), ms=("0.049990", "0.050000"))
        await harness.run_until(lambda t: t.state is State.MANAGING_ORDERS, 5)
        legs = {task.intents[c].leg: task.intents[c] for c in task.context.batch}
        assert set(legs) == {"arb_sell", "arb_buy"}
        assert legs["arb_buy"].venue is MS and legs["arb_sell"].venue is GS
        assert legs["arb_buy"].qty <= D(2000) - inv[MS]


class Unreachable(VenueError):
    pass


async def test_syncing_gives_up_when_a_venue_cannot_be_reached(tmp_path, fakes):
    h = Harness(tmp_path / "db.sqlite", fakes, test_config(sync_timeout_s=15.0))
    try:
        with freeze_time(T0) as ft:
            for _ in range(100):
                fakes[GS].fail_next("start", OSError("Cannot connect to host api.gateio.ws:443 [Name or service "
                                                     "not known]"))
            task = await h.open()
            await h.step()  # IDLE -> SYNCING
            for _ in range(14):
                await h.step()
                assert task.state is State.SYNCING
                ft.tick(1)
            assert "cannot reach gate_spot" in task.last_error
            ft.tick(1.5)
            await h.run_until(lambda t: t.status.is_terminal, 5)
            assert task.status is TaskStatus.HALTED
            assert task.context.halt_reason.startswith("cannot reach gate_spot: OSError: Cannot connect")
            stored = await h.store.get_task(task.task_id)
            assert stored.status is TaskStatus.HALTED
            assert not any(f.place_calls for f in fakes.values())
    finally:
        await h.close()
