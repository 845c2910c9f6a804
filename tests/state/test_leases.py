"""Leases on both backends: who may take one, the takeover compare-and-swap raced by two
connections, workers' claims (disjoint, only runnable tasks without a live lease), and, on
PostgreSQL, expiry judged by the server's clock so a host with a skewed clock never steals."""

from __future__ import annotations

import asyncio
import os

import pytest

from state.opener import open_store
from state.records import TaskRecord, TaskStatus
from tests.state.test_store_contract import new_task

PID = os.getpid()


async def wait_past(store, ms: int) -> None:
    """Await the database clock passing ``ms``."""
    while await store.now_ms() <= ms:
        await asyncio.sleep(0.005)


@pytest.fixture
async def two(db):
    """Two stores (two connections, as two processes would have) on one database."""
    a, b = await db.open(), await db.open()
    yield a, b
    await a.close()
    await b.close()


async def test_who_may_take_a_lease(two):
    store, _ = two
    await new_task(store, owner=None)
    assert await store.acquire_lease("abcabcabcabc", "o1", PID, "h", ttl_s=30)  # free
    assert not await store.acquire_lease("abcabcabcabc", "o2", PID, "h", ttl_s=30)  # live, someone else's
    assert await store.acquire_lease("abcabcabcabc", "o1", PID, "h", ttl_s=30)  # our own
    assert await store.heartbeat_many(["abcabcabcabc", "unknown"], "o1") == {"abcabcabcabc"}
    assert await store.heartbeat_many(["abcabcabcabc"], "o2") == set()
    rec = await store.get_task("abcabcabcabc")
    await wait_past(store, rec.heartbeat_ms)
    assert await store.acquire_lease("abcabcabcabc", "o2", PID, "h2", ttl_s=0)  # expired (TTL 0 ms)
    assert not await store.heartbeat("abcabcabcabc", "o1")  # the old owner learns it lost the lease
    await store.release_lease("abcabcabcabc", "o1")  # not ours any more: no effect
    assert (await store.get_task("abcabcabcabc")).owner_id == "o2"
    await store.release_lease("abcabcabcabc", "o2")
    rec = await store.get_task("abcabcabcabc")
    assert (rec.owner_id, rec.owner_pid, rec.owner_host, rec.heartbeat_ms) == (None, None, None, 0)


@pytest.mark.parametrize("how", ["cas", "expired"])
async def test_takeover_race_has_exactly_one_winner(two, how):
    a, b = two
    await new_task(a, owner="dead")
    for round_no in range(10):
        rec = await a.get_task("abcabcabcabc")
        if how == "cas":  # a crashed owner: both compare-and-swap on the owner and heartbeat they read
            take = dict(take_from=(rec.owner_id, rec.heartbeat_ms))
            ttl = 30.0
        else:  # an expired lease: both take it because its heartbeat is older than the TTL (0.1 s)
            await wait_past(a, rec.heartbeat_ms + 150)
            take, ttl = {}, 0.1
        won = await asyncio.gather(a.acquire_lease(rec.task_id, f"a{round_no}", PID, "ha", ttl, **take),
                                   b.acquire_lease(rec.task_id, f"b{round_no}", PID, "hb", ttl, **take))
        assert sorted(won) == [False, True], (round_no, won)
        owner = (await a.get_task(rec.task_id)).owner_id
        assert owner == (f"a{round_no}" if won[0] else f"b{round_no}")


async def test_claims_take_only_runnable_tasks_without_a_live_lease_and_never_the_same_twice(db, two):
    a, b = two
    runnable = [f"new{i:09d}" for i in range(8)]
    for tid in runnable:
        await new_task(a, tid, owner=None)
    await new_task(a, "expired00000", owner="crashed-worker")
    await new_task(a, "live00000000", owner="live-worker")
    await new_task(a, "paused000000", owner=None, status=TaskStatus.PAUSED)
    await new_task(a, "done00000000", owner=None, status=TaskStatus.COMPLETED)
    await new_task(a, "livemode0000", owner=None, mode="live")
    expired = await a.get_task("expired00000")
    await wait_past(a, expired.heartbeat_ms + 50)
    assert await a.heartbeat("live00000000", "live-worker")  # fresh: younger than 50 ms

    claims_a, claims_b = await asyncio.gather(a.claim_tasks("wa", PID, "host-a", 0.05, 6, ["sim", "paper"]),
                                              b.claim_tasks("wb", PID, "host-b", 0.05, 6, ["sim", "paper"]))
    got_a = {c.record.task_id for c in claims_a}
    got_b = {c.record.task_id for c in claims_b}
    assert not got_a & got_b
    assert got_a | got_b == set(runnable) | {"expired00000"}
    for claim in claims_a + claims_b:
        owner, host = ("wa", "host-a") if claim in claims_a else ("wb", "host-b")
        assert (claim.record.owner_id, claim.record.owner_host) == (owner, host) and claim.record.started_ms > 0
        assert claim.previous_owner == ("crashed-worker" if claim.record.task_id == "expired00000" else None)
        stored = await a.get_task(claim.record.task_id)
        assert (stored.owner_id, stored.started_ms) == (owner, claim.record.started_ms)
    assert (await a.get_task("live00000000")).owner_id == "live-worker"
    assert await a.claim_tasks("wc", PID, "host-c", 30, 10, ["sim", "paper"]) == []  # nothing left
    assert [c.record.task_id for c in await a.claim_tasks("wc", PID, "c", 30, 10, ["live"])] == ["livemode0000"]

    # a released task is claimable again; the first start time is kept (a failover keeps the same end)
    first = await a.get_task(runnable[0])
    await a.release_lease(runnable[0], first.owner_id)
    (again,) = await b.claim_tasks("wd", PID, "host-d", 30, 10, ["sim"])
    assert (again.record.task_id, again.record.started_ms) == (runnable[0], first.started_ms)


@pytest.fixture
async def pg_two(pg_url):
    """Two PostgreSQL stores on one database (SQLite lives on one host: its clock is the database's,
    and its file lock serializes writers, so the next tests are PostgreSQL's alone)."""
    a, b = await open_store(pg_url), await open_store(pg_url)
    yield a, b
    await a.close()
    await b.close()


async def test_postgresql_judges_expiry_by_the_server_clock(pg_two, monkeypatch):
    owner, thief = pg_two
    await new_task(owner, owner="o1")
    import state.pg.store as pg_store

    real = pg_store.now_ms
    monkeypatch.setattr(pg_store, "now_ms", lambda: real() + 60_000)  # this host's clock runs 60 s ahead
    assert not await thief.acquire_lease("abcabcabcabc", "thief", PID, "skewed", ttl_s=5)
    assert await thief.claim_tasks("thief", PID, "skewed", 5, 10, ["sim"]) == []
    assert await owner.heartbeat("abcabcabcabc", "o1")
    rec = await owner.get_task("abcabcabcabc")
    assert abs(rec.heartbeat_ms - await owner.now_ms()) < 5_000  # the heartbeat is the server's time, not ours
    await owner.create_task(TaskRecord(task_id="other0000000", strategy="x", symbol="NEIROETHUSDT"))
    (claim,) = await thief.claim_tasks("thief", PID, "skewed", 5, 10, ["sim"])
    assert abs(claim.record.started_ms - await owner.now_ms()) < 5_000


async def test_postgresql_claims_skip_rows_another_transaction_holds(pg_url, pg_two):
    import asyncpg

    store = pg_two[0]

    for n in range(3):
        await new_task(store, f"task{n:08d}", owner=None)
    holder = await asyncpg.connect(pg_url)
    try:
        held = holder.transaction()
        await held.start()  # as a commit group in flight would: the row is locked, not yet changed
        await holder.execute("SELECT 1 FROM tasks WHERE task_id='task00000001' FOR UPDATE")
        claims = await asyncio.wait_for(store.claim_tasks("w", PID, "h", 30, 10, ["sim"]), 5)  # never waits
        assert [c.record.task_id for c in claims] == ["task00000000", "task00000002"]
        await held.rollback()
        (late,) = await store.claim_tasks("w2", PID, "h2", 30, 10, ["sim"])
        assert late.record.task_id == "task00000001"
    finally:
        await holder.close()
