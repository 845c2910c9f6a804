"""Shared fixtures for the delta-neutral strategy tests: synthetic (clearly made-up)
symbol rules at a NEIROETH-like price, and FakeVenues for the three venues."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.fake_venue import FakeVenue
from exchanges.models import BookTop, MarketType, Symbol, SymbolInfo, VenueId

SYM = Symbol("NEIROETH", "USDT")
GS, MS, GP = VenueId.GATE_SPOT, VenueId.MEXC_SPOT, VenueId.GATE_PERP


def make_infos(tick: str = "0.000001", mult: str = "10") -> dict[VenueId, SymbolInfo]:
    """Synthetic rules: Gate spot step 1 / min notional 3 / taker 0.1 %; MEXC step 0.01 /
    min notional 1 / taker 0.05 %; Gate perp 1 contract = ``mult`` base, taker 0.05 %."""
    return {
        GS: SymbolInfo(GS, SYM, SYM.gate, MarketType.SPOT, D(tick), D("1"), D("1"), D("3"),
                       maker_fee_rate=D("0.001"), taker_fee_rate=D("0.001")),
        MS: SymbolInfo(MS, SYM, SYM.mexc, MarketType.SPOT, D(tick), D("0.01"), D("0"), D("1"),
                       maker_fee_rate=D("0"), taker_fee_rate=D("0.0005")),
        GP: SymbolInfo(GP, SYM, SYM.gate, MarketType.PERP, D(tick), D("1"), D("1"), D("0"),
                       contract_multiplier=D(mult), maker_fee_rate=D("0.0002"),
                       taker_fee_rate=D("0.0005"), funding_interval_s=28800),
    }


def book(venue: VenueId, bid: str, ask: str, bid_qty: str = "100000", ask_qty: str = "100000",
         ts_ms: int = 0, stale: bool = False) -> BookTop:
    return BookTop(venue, SYM, D(bid), D(bid_qty), D(ask), D(ask_qty), ts_ms, stale=stale)


@pytest.fixture
def infos() -> dict[VenueId, SymbolInfo]:
    return make_infos()


@pytest.fixture
def fakes(infos) -> dict[VenueId, FakeVenue]:
    return {
        GS: FakeVenue(infos[GS], {"USDT": D("1000"), "NEIROETH": D("0")}),
        MS: FakeVenue(infos[MS], {"USDT": D("1000"), "NEIROETH": D("0")}),
        GP: FakeVenue(infos[GP], {"USDT": D("1000")}),
    }


# ---- task harness ------------------------------------------------------------

import os  # noqa: E402

import msgspec  # noqa: E402

from state.records import TaskRecord  # noqa: E402
from state.store import Store  # noqa: E402
from strategies.delta_neutral.config import DeltaNeutralConfig  # noqa: E402
from strategies.delta_neutral.task import DeltaNeutralTask  # noqa: E402
from strategies.base import declared_edges  # noqa: E402
from tests.fences import HeldFence  # noqa: E402
from tests.leases import steal_lease  # noqa: E402

TASK_ID = "abcdef012345"
PREFIX = f"arb{TASK_ID}"
EDGES = declared_edges()


def test_config(**kw) -> DeltaNeutralConfig:
    base = dict(position_usdt=D("200"), max_order_usdt=D("100"), rebalance_cooldown_s=0.0,
                order_timeout_s=5.0, max_book_age_ms=3000)
    base.update(kw)
    return DeltaNeutralConfig(**base)


test_config.__test__ = False  # not a test


def set_books(fakes, gs=("0.04999", "0.05000"), ms=("0.04999", "0.05000"), gp=("0.04999", "0.05001"),
              qty="100000", stale=False):
    for v, (bid, ask) in ((GS, gs), (MS, ms), (GP, gp)):
        fakes[v].set_book(bid, qty, ask, qty, stale=stale)


class Harness:
    """A DeltaNeutralTask on a real Store (tmp SQLite) and FakeVenues; records every
    transition taken so tests can check only declared edges were used."""

    def __init__(self, path, fakes, config: DeltaNeutralConfig):
        self.path, self.fakes, self.config = path, fakes, config
        self.store: Store | None = None
        self.task: DeltaNeutralTask | None = None
        self.edges: list[tuple[str, str]] = []

    async def open(self, create: bool = True) -> DeltaNeutralTask:
        self.store = await Store.open(self.path)
        if create:
            await self.store.create_task(TaskRecord(task_id=TASK_ID, strategy="delta_neutral",
                                                    symbol="NEIROETHUSDT",
                                                    config=msgspec.json.encode(self.config).decode()))
        assert await steal_lease(self.store, TASK_ID, "owner-1", os.getpid(), "h")
        rec = await self.store.get_task(TASK_ID)
        self.task = DeltaNeutralTask(rec, self.store, self.fakes, "owner-1", fence=HeldFence())
        await self.task.load()
        await self.task.on_start(not create)
        return self.task

    async def crash_and_restart(self) -> DeltaNeutralTask:
        """Drop the task object without any shutdown (a crash) and resume from the store."""
        for f in self.fakes.values():
            f.listeners.clear()
        await self.store.close()
        return await self.open(create=False)

    async def step(self) -> bool:
        src = self.task.state
        changed = await self.task.step()
        if self.task.state != src:
            self.edges.append((src.value, self.task.state.value))
        return changed

    async def run_until(self, cond, max_steps: int = 50) -> None:
        for _ in range(max_steps):
            if cond(self.task):
                return
            await self.step()
        assert cond(self.task), f"condition not reached; state {self.task.state} error {self.task.last_error}"

    async def close(self):
        if self.store is not None:
            await self.store.close()


@pytest.fixture
async def harness(tmp_path, fakes):
    h = Harness(tmp_path / "db.sqlite", fakes, test_config())
    yield h
    await h.close()
