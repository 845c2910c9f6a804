"""End-to-end flow of DeltaNeutralTask against FakeVenues (freezegun time)."""

from decimal import Decimal as D

from freezegun import freeze_time

from state.records import State, TaskStatus

from .conftest import GP, GS, MS, PREFIX, set_books


async def test_build_up_then_arb(harness, fakes):
    with freeze_time("2026-01-01 00:00:00") as ft:
        set_books(fakes)
        task = await harness.open()
        await harness.run_until(lambda t: t.state is State.MONITORING and not t.context.building, 40)
        inv = task.ledger.spot_inventory()
        assert inv[GS] == D(2000) and inv[MS] == D(2000)
        assert task.ledger.inventory_base(GP) == D(-4000)
        assert abs(task.ledger.net_delta_base()) < 10
        # arb: Gate bid rich
        ft.tick(1)
        fakes[GS].set_book("0.05100", "300", "0.05110", "1000")
        await harness.run_until(lambda t: t.state is State.MONITORING and t.ledger.trades == 5, 10)
        print(harness.edges)
