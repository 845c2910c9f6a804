"""Fixtures for MEXC connector tests: a loopback fake venue and a connector pointed at it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from exchanges.mexc.spot import MexcSpotVenue
from tests.mexc.fake_mexc import API_KEY, API_SECRET, FakeMexc


@pytest.fixture
async def fake() -> AsyncIterator[FakeMexc]:
    server = FakeMexc()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def venue(fake: FakeMexc) -> AsyncIterator[MexcSpotVenue]:
    v = MexcSpotVenue(rest_url=fake.rest_url, ws_url=fake.ws_url, api_key=API_KEY, api_secret=API_SECRET,
                      request_timeout_s=2.0)
    try:
        yield v
    finally:
        await v.close()


@pytest.fixture
async def public_venue(fake: FakeMexc) -> AsyncIterator[MexcSpotVenue]:
    v = MexcSpotVenue(rest_url=fake.rest_url, ws_url=fake.ws_url)
    try:
        yield v
    finally:
        await v.close()


async def wait_until(cond: Callable[[], bool], timeout_s: float = 5.0, what: str = "condition") -> None:
    """Poll ``cond`` until true; fail the test after ``timeout_s``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not cond():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
