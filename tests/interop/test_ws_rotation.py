"""Proactive replacement of a websocket before the venue's connection-age limit
(MEXC: 24 h, docs/venues.md 4.1), tested with a limit of a fraction of a second:
the successor is subscribed before the old socket closes, no disconnect is
reported, nothing the old socket received is lost, and the books stay synced."""

from __future__ import annotations

import asyncio
import contextlib

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

from exchanges.mexc.spot import MexcSpotVenue
from exchanges.models import ConnectionEvent, Symbol
from exchanges.transport import WsClient
from tests.interop.helpers import wait_for


async def test_ws_client_rotates_with_overlap_and_loses_nothing():
    connections: list[int] = []
    open_now: set[int] = set()
    overlaps: list[int] = []

    async def handler(ws):
        n = len(connections)
        connections.append(n)
        open_now.add(n)
        try:
            await ws.recv()  # the subscription
            overlaps.append(len(open_now))  # how many sockets were open when this one subscribed
            for i in range(1000):
                await ws.send(f"{n}:{i}")
                await asyncio.sleep(0.005)
        except ConnectionClosed:
            pass
        finally:
            open_now.discard(n)

    frames: list[str] = []
    disconnects: list[str] = []
    async with serve(handler, "127.0.0.1", 0) as server:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        holder: dict[str, WsClient] = {}

        async def on_connect() -> None:
            await holder["c"].send("subscribe")

        client = WsClient(url, venue="test", stream="ws", on_message=frames.append, on_connect=on_connect,
                          on_disconnect=disconnects.append, max_age_s=0.3)
        holder["c"] = client
        await client.start()
        try:
            await wait_for(lambda: client.rotations >= 3, timeout_s=10, what="3 rotations")
        finally:
            await client.close()
    assert disconnects == [] and client.connect_count == client.rotations + 1
    assert overlaps[1:] and all(n == 2 for n in overlaps[1:])  # each successor subscribed while the old was open
    by_conn: dict[str, list[int]] = {}
    for frame in frames:
        conn, i = frame.split(":")
        by_conn.setdefault(conn, []).append(int(i))
    for seq in by_conn.values():  # per connection, what was delivered is a gap-free prefix
        assert seq == list(range(len(seq)))
    assert len(by_conn) >= 3


async def test_mexc_venue_rotates_before_the_limit_and_its_book_stays_synced(sim):
    ep = sim.endpoints["mexc_spot"]
    venue = MexcSpotVenue(rest_url=ep["rest_url"].removesuffix("/api/v3"), ws_url=ep["ws_url"], ws_max_age_s=0.4)
    symbol = Symbol("NEIROETH")
    events: list = []
    venue.add_listener(events.append)
    try:
        await venue.start()
        await venue.watch_book(symbol)
        await wait_for(lambda: venue.book_top(symbol) is not None and not venue.book_top(symbol).stale,
                       timeout_s=10, what="synced book")
        book = venue.books.book(symbol)
        snapshots = venue.books.snapshots_fetched
        conn = venue._public_conn()
        await wait_for(lambda: conn.client.rotations >= 3, timeout_s=10, what="3 rotations")
        seq_before = book.seq
        await wait_for(lambda: book.seq > seq_before, timeout_s=10, what="book updates after rotating")
    finally:
        with contextlib.suppress(Exception):
            await venue.close()
    assert not [e for e in events if isinstance(e, ConnectionEvent) and not e.connected]
    assert book.gap_count == 0 and book.synced and not book.stale
    assert venue.books.snapshots_fetched == snapshots  # never resynced
