"""History samples and ``tasks prune`` on BOTH backends: the same reads (oldest first, from a time,
the newest N), the same retention (every second row of the older half once a task holds too many),
and pruning that deletes only finished tasks, with every row that refers to them."""

from __future__ import annotations

import sqlite3

import asyncpg

from state import history as lite_history
from state.api import Backend
from state.pg import history as pg_history
from state.records import TaskRecord, TaskStatus


async def test_history_reads_are_the_same_on_both_backends(db):
    store = await db.open()
    try:
        await store.create_task(TaskRecord(task_id="t", strategy="s", symbol="NEIROETHUSDT"))
        await store.append_history([("t", 1000, '{"a":1}'), ("t", 2000, '{"a":2}'), ("t", 3000, '{"a":3}')])
        assert await store.history("t") == [(1000, '{"a":1}'), (2000, '{"a":2}'), (3000, '{"a":3}')]
        assert await store.history("t", since_ms=2000) == [(2000, '{"a":2}'), (3000, '{"a":3}')]
        assert await store.history("t", limit=2) == [(2000, '{"a":2}'), (3000, '{"a":3}')]
        assert await store.history("nobody") == []
    finally:
        await store.close()


async def _thinned_timestamps(db) -> list[int]:
    """100 rows, then one more with a bound of 100: the retention pass of each backend."""
    rows = [("t", i * 1000, "{}") for i in range(100)]
    if db.backend is Backend.SQLITE:
        con = sqlite3.connect(db.location, isolation_level=None)
        try:
            lite_history.append(con, rows, [], max_rows=10**9)
            lite_history.append(con, [("t", 100_000, "{}")], ["t"], max_rows=100)
            return [r[0] for r in con.execute("SELECT ts_ms FROM task_history ORDER BY ts_ms")]
        finally:
            con.close()
    conn = await asyncpg.connect(db.location)
    try:
        await pg_history.append(conn, rows, [], max_rows=10**9)
        await pg_history.append(conn, [("t", 100_000, "{}")], ["t"], max_rows=100)
        return [r["ts_ms"] for r in await conn.fetch("SELECT ts_ms FROM task_history ORDER BY ts_ms")]
    finally:
        await conn.close()


async def test_retention_thins_the_older_half_the_same_way_on_both_backends(db):
    store = await db.open()
    try:
        await store.create_task(TaskRecord(task_id="t", strategy="s", symbol="NEIROETHUSDT"))
    finally:
        await store.close()
    ts = await _thinned_timestamps(db)
    assert len(ts) == 101 - 24 and ts[0] == 0 and ts[-1] == 100_000
    assert ts[-51:] == [i * 1000 for i in range(50, 101)]  # the newer half untouched
    assert all(b - a == 2000 for a, b in zip(ts[:24], ts[1:25]))  # the older half at every second row


async def test_prune_deletes_only_finished_tasks_with_all_their_rows(db):
    store = await db.open()
    try:
        for task_id, status in (("done", TaskStatus.COMPLETED), ("live", TaskStatus.RUNNING)):
            await store.create_task(TaskRecord(task_id=task_id, strategy="s", symbol="NEIROETHUSDT", status=status))
            await store.append_history([(task_id, 1000, "{}")])
            await store.put_live(task_id, "{}")
        far_future = 2 ** 62
        old = await store.finished_tasks_before(far_future)
        assert [(t, s) for t, s, _ in old] == [("done", "completed")]
        assert await store.finished_tasks_before(0) == []
        # a task that is running is never deleted, even when named
        assert await store.delete_tasks(["done", "live"]) == 1
        assert await store.get_task("done") is None and await store.history("done") == []
        assert "done" not in await store.get_live()
        assert (await store.get_task("live")) is not None and len(await store.history("live")) == 1
    finally:
        await store.close()
    reopened = await db.open()
    try:
        assert [r.task_id for r in await reopened.list_tasks()] == ["live"]
    finally:
        await reopened.close()


