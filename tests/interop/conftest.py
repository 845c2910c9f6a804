"""Fixtures of the connector <-> simulator interop tests (see helpers.py)."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
import pytest

from exchanges.factory import venues_from_endpoints
from exchanges.sim.recording.format import read_recording
from exchanges.sim.server import SimServer
from tests.interop.helpers import Admin, write_recording


@pytest.fixture(scope="session")
def recording_path(tmp_path_factory):
    return write_recording(tmp_path_factory.mktemp("interop") / "interop.jsonl.gz")


@pytest.fixture
async def sim(tmp_path, recording_path):
    """The whole simulator in-process (engine + replay + Gate + MEXC + admin) on ephemeral
    loopback ports, replaying the interop recording in real time and looping."""
    server = SimServer(sim_dir=tmp_path / "sim", recording=read_recording(recording_path), speed=1.0, loop=True)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def admin(sim):
    async with aiohttp.ClientSession() as session:
        yield Admin(session, sim.endpoints["admin_url"])


@pytest.fixture
async def venues(sim):
    """The three real connectors, built exactly as the factory does, started."""
    built = venues_from_endpoints(sim.endpoints)
    try:
        for venue in built.values():
            await venue.start()
        yield built
    finally:
        for venue in built.values():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(venue.close(), 5)
