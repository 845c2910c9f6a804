"""WsClient reconnect backoff: reset only after a healthy connection (real data frame or
``stable_after_s`` up), so an accept-then-drop server is retried with growing delays."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from websockets.asyncio.server import serve

from exchanges.transport import WsClient
from tests.interop.helpers import wait_for


@contextlib.asynccontextmanager
async def ws_server(handler):
    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}"


async def drop_at_once(ws):
    await ws.close()


async def ack_then_drop(ws):
    await ws.send('{"event": "subscribe", "result": {"status": "success"}}')
    await ws.close()


async def data_then_drop(ws):
    await ws.send('{"data": 1}')
    await ws.close()


def client(url: str, on_message=lambda frame: None, **kw) -> WsClient:
    return WsClient(url, venue="test", stream="ws", on_message=on_message, backoff_initial_s=0.01,
                    backoff_max_s=5.0, **kw)


@pytest.mark.parametrize("handler", [drop_at_once, ack_then_drop], ids=["drop", "ack-then-drop"])
async def test_accept_then_drop_backs_off_exponentially(handler):
    async with ws_server(handler) as url:
        c = client(url)
        await c.start()
        try:
            await wait_for(lambda: c.reconnect_attempt >= 5, what="5 drops")
        finally:
            await c.close()
    # never reset: the attempt counter grew with every drop and so did the delay
    assert c.reconnect_attempt >= 5 and c.connect_count - c.reconnect_attempt <= 1
    assert c.last_backoff_s >= 0.01 * 2 ** 3 * 0.8
    assert c.backoff_delay_s(c.reconnect_attempt) > c.backoff_delay_s(0) * 4


async def test_backoff_resets_after_a_real_data_frame():
    holder: dict[str, WsClient] = {}

    def on_message(frame):
        holder["c"].note_data()  # the owner says: this was a data frame

    async with ws_server(data_then_drop) as url:
        c = holder["c"] = client(url, on_message=on_message)
        await c.start()
        try:
            await wait_for(lambda: c.connect_count >= 5, what="5 connects")
        finally:
            await c.close()
    assert c.reconnect_attempt <= 1
    assert c.last_backoff_s <= 0.01 * 1.2


async def test_backoff_resets_after_a_connection_stayed_up():
    async def hold_then_drop(ws):
        await asyncio.sleep(0.15)
        await ws.close()

    async with ws_server(hold_then_drop) as url:
        c = client(url, stable_after_s=0.1)
        await c.start()
        try:
            await wait_for(lambda: c.connect_count >= 3, what="3 connects")
        finally:
            await c.close()
    assert c.reconnect_attempt <= 1

    async with ws_server(hold_then_drop) as url:  # same server, but not up long enough to count
        c = client(url, stable_after_s=10.0)
        await c.start()
        try:
            await wait_for(lambda: c.reconnect_attempt >= 3, what="3 unhealthy connects in a row")
        finally:
            await c.close()
    assert c.connect_count - c.reconnect_attempt <= 1  # no connection ever reset the backoff
