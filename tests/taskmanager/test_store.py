"""Store round-trip and migration behaviour as the runner relies on it: records survive a
reopen exactly, the file is 0600, a newer-schema or corrupt database is refused untouched."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
from decimal import Decimal

import pytest

from exchanges.models import Side, VenueId
from state.records import FillRecord, FundingRecord, IntentStatus, OrderIntent, State, TaskRecord, TaskStatus, \
    TransitionRecord
from state.store import SCHEMA_VERSION, Store, StoreError


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_round_trip_survives_reopen(tmp_path):
    path = tmp_path / "db.sqlite"
    store = await Store.open(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    await store.create_task(TaskRecord(task_id="abcabcabcabc", strategy="tm_test", symbol="NEIROETHUSDT",
                                       config='{"interval_s": 1}'))
    assert await store.acquire_lease("abcabcabcabc", "o1", os.getpid(), "h", ttl_s=5)
    intent = OrderIntent(client_order_id="arbabcabcabcabc000001", task_id="abcabcabcabc", seq=1,
                         venue=VenueId.MEXC_SPOT, symbol="NEIROETH_USDT", side=Side.SELL, qty=Decimal("123"),
                         price=Decimal("0.000035"), leg="arb_sell")
    fill = FillRecord(task_id="abcabcabcabc", venue=VenueId.MEXC_SPOT, trade_id="t1",
                      client_order_id=intent.client_order_id, side=Side.SELL, price=Decimal("0.000035"),
                      qty=Decimal("123"), qty_base=Decimal("123"), fee=Decimal("0.0000043"), fee_usdt=Decimal("0.0000043"))
    funding = FundingRecord(task_id="abcabcabcabc", venue=VenueId.GATE_PERP, ts_ms=5, amount_usdt=Decimal("-0.01"))
    version = await store.commit_step(
        "abcabcabcabc", "o1", state="ANALYZING", state_entered_ms=7, context_json='{"next_seq":2}',
        pnl_json='{"realized_pnl_usdt":"1.5"}', status=TaskStatus.RUNNING,
        transition=TransitionRecord(task_id="abcabcabcabc", src="SYNCING", dst="ANALYZING", trigger="synced",
                                    reason="ok"),
        new_intents=[intent], fills=[fill, fill], funding=[funding])
    await store.close()

    store = await Store.open(path)
    try:
        rec = await store.get_task("abcabcabcabc")
        assert (rec.state, rec.version, rec.status, rec.state_entered_ms) == (State.ANALYZING, version,
                                                                             TaskStatus.RUNNING, 7)
        assert rec.pnl == '{"realized_pnl_usdt":"1.5"}' and rec.config == '{"interval_s": 1}'
        (got,) = await store.intents("abcabcabcabc")
        assert got == intent and got.price == Decimal("0.000035") and got.status is IntentStatus.NEW
        assert await store.fills("abcabcabcabc") == [fill]  # booked once
        assert await store.funding("abcabcabcabc") == [funding]
        (tr,) = await store.transitions("abcabcabcabc")
        assert (tr.src, tr.dst, tr.trigger, tr.version) == ("SYNCING", "ANALYZING", "synced", version)
    finally:
        await store.close()


async def test_fresh_database_is_at_current_schema(tmp_path):
    path = tmp_path / "db.sqlite"
    for _ in range(2):  # create, then reopen: migrations are idempotent
        store = await Store.open(path)
        await store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"tasks", "transitions", "order_intents", "fills", "funding", "control"} <= tables


async def test_migrates_forward_from_an_empty_v0_file(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:  # a valid SQLite file at user_version 0
        conn.execute("CREATE TABLE unrelated (x)")
    store = await Store.open(path)
    await store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


async def test_newer_schema_refused_and_untouched(tmp_path):
    path = tmp_path / "new.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE future (x)")
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    before = _digest(path)
    with pytest.raises(StoreError) as err:
        await Store.open(path)
    assert "newer" in str(err.value) and "\n" not in str(err.value)
    assert _digest(path) == before
    assert not (tmp_path / "new.sqlite-wal").exists()


@pytest.mark.parametrize("content", [b"this is not a database at all" * 100, b"SQLite format 3\x00" + b"\xff" * 4000])
async def test_corrupt_file_refused_and_untouched(tmp_path, content):
    path = tmp_path / "corrupt.sqlite"
    path.write_bytes(content)
    before = _digest(path)
    with pytest.raises(StoreError):
        await Store.open(path)
    assert _digest(path) == before
