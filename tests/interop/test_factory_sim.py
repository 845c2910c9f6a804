"""``exchanges.factory.build_venues("sim", ...)`` end to end: the simulator as a real
background process (bundled ``neiroeth`` scenario), the three real connectors on its
endpoints, rules matching the scenario and books coming up."""

from __future__ import annotations

import contextlib

import pytest

from exchanges import clock
from exchanges.factory import build_venues
from exchanges.models import Symbol, VenueId
from exchanges.sim import process, scenarios
from tests.interop.helpers import wait_for

SYMBOL = Symbol("NEIROETH")


@pytest.fixture
def sim_home(tmp_path, monkeypatch):
    monkeypatch.setenv("ARB_HOME", str(tmp_path))
    try:
        yield tmp_path
    finally:
        process.stop_sim(tmp_path)


@pytest.mark.slow
async def test_build_venues_sim_starts_the_simulator_and_books_come_up(sim_home):
    venues = build_venues("sim", SYMBOL, home=sim_home)
    assert set(venues) == set(VenueId)
    state = process.sim_status(sim_home)
    assert state is not None and "NEIROETH" in state["symbols"]
    rules = scenarios.load("neiroeth").rules
    try:
        for vid, venue in venues.items():
            await venue.start()
            info = await venue.symbol_info(SYMBOL)
            want = rules[vid]
            assert (info.price_tick, info.size_step, info.min_size, info.contract_multiplier,
                    info.maker_fee_rate, info.taker_fee_rate) == (
                    want.price_tick, want.size_step, want.min_size, want.contract_multiplier,
                    want.maker_fee_rate, want.taker_fee_rate)
            await venue.watch_book(SYMBOL)
        for vid, venue in venues.items():
            top = await wait_for(lambda v=venue: (t := v.book_top(SYMBOL)) is not None and not t.stale and t,
                                 timeout_s=10, what=f"{vid.value} book")
            assert top.bid < top.ask and top.age_ms(clock.now_ms()) < 5000
        balances = await venues[VenueId.GATE_SPOT].balances()
        assert balances["USDT"].free > 0
        # a second build reuses the running simulator
        again = build_venues("sim", SYMBOL, home=sim_home)
        assert process.sim_status(sim_home)["pid"] == state["pid"]
        assert set(again) == set(VenueId)
    finally:
        for venue in venues.values():
            with contextlib.suppress(Exception):
                await venue.close()
    assert process.stop_sim(sim_home)
    assert process.sim_status(sim_home) is None
