"""Fixtures of the scanner tests: a local stand-in for the venues' public endpoints, and an
event loop in a background thread so the synchronous CLI (``main([...])`` runs
``asyncio.run``) can scan servers the test started. Everything binds ephemeral loopback
ports and is stopped by its fixture, even on failure."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Coroutine, Iterator
from typing import Any

import pytest

from taskmanager.logsetup import reset_logging
from tests.scanner.fake_public import FakePublic
from tests.scanner.venue_json import Coin


class LoopThread:
    """An asyncio loop running in a daemon thread; :meth:`run` executes a coroutine on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, Any], timeout_s: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    lt = LoopThread()
    try:
        yield lt
    finally:
        lt.close()


def default_coins() -> list[Coin]:
    return [Coin("AAA", gs_bid="1.0050", gs_ask="1.0060"),  # sell Gate 1.005, buy MEXC 1.000: ~30 bps after fees
            Coin("BBB"),  # Gate 1.000/1.001 vs MEXC 0.999/1.000: negative both ways
            Coin("CCC", gp_status="delisted"),
            Coin("DDD", ms_status="2")]


@pytest.fixture
def fake_public(loop_thread: LoopThread) -> Iterator[FakePublic]:
    """The stand-in, served from ``loop_thread`` (usable from sync CLI tests)."""
    fake = FakePublic(default_coins())
    loop_thread.run(fake.start())
    try:
        yield fake
    finally:
        loop_thread.run(fake.stop())


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(autouse=True)
def _no_logging_leak() -> Iterator[None]:
    yield
    reset_logging()
