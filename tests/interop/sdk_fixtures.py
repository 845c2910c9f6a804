"""A simulator for the third-party client tests: two symbols (NEIROETH and the
alias NEIRO001), no replay, known books on every venue; the clients are
synchronous, so tests run them in a worker thread while the loop serves."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal as D
from typing import TypeVar

import pytest

from exchanges.models import Symbol, VenueId
from exchanges.sim.recording.format import read_recording
from exchanges.sim.server import SimServer
from tests.sim.conftest import SYM, write_tiny_recording

ALIAS = Symbol("NEIRO001")
BIDS = [(D("0.0500"), D("1000")), (D("0.0499"), D("2000"))]
ASKS = [(D("0.0501"), D("1000")), (D("0.0502"), D("3000"))]
T = TypeVar("T")


@pytest.fixture
async def sdk_sim(tmp_path):
    recording = write_tiny_recording(tmp_path / "tiny.jsonl.gz")
    server = SimServer(sim_dir=tmp_path / "sim", recording=read_recording(recording), replay=False, alias_symbols=2)
    await server.start()
    try:
        for venue in VenueId:
            for symbol in (SYM, ALIAS):
                server.engine.set_book(venue, symbol, BIDS, ASKS)
        yield server
    finally:
        await server.stop()


async def off_loop(fn: Callable[[], T]) -> T:
    """Run a blocking client call in a thread; the simulator keeps serving."""
    return await asyncio.to_thread(fn)
