"""Schema versions on both backends: the same tables and columns at every version, forward
migration of an older database keeping its rows, a database from a newer version refused (exit 2,
one line) and left untouched, and concurrent first opens of a fresh PostgreSQL database."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from state.api import Backend
from state.errors import StoreError
from state.opener import open_store
from state.pg.schema import PG_MIGRATIONS, PG_SCHEMA_VERSION
from state.schema import MIGRATIONS, SCHEMA_VERSION

ROOT = Path(__file__).resolve().parents[2]
OLD_ROW = ("abcabcabcabc", "tm_test", "NEIROETHUSDT", "sim", "{}", "running", "IDLE", 1, 2)


def sqlite_columns(path: Path) -> dict[str, list[str]]:
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' "
                                             "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return {t: [r[1] for r in conn.execute(f"PRAGMA table_info({t})")] for t in tables}


async def pg_fetch(url: str, sql: str, *args) -> list:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def pg_columns(url: str) -> dict[str, list[str]]:
    rows = await pg_fetch(url, "SELECT table_name, column_name FROM information_schema.columns "
                               "WHERE table_schema='public' ORDER BY table_name, ordinal_position")
    out: dict[str, list[str]] = {}
    for r in rows:
        out.setdefault(r["table_name"], []).append(r["column_name"])
    return out


async def pg_run(url: str, script: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(script)
    finally:
        await conn.close()


async def test_both_backends_have_the_same_tables_and_columns(tmp_path, pg_url):
    assert PG_SCHEMA_VERSION == SCHEMA_VERSION == len(MIGRATIONS) == len(PG_MIGRATIONS)
    for location in (str(tmp_path / "db.sqlite"), pg_url):
        await (await open_store(location)).close()
    lite = sqlite_columns(tmp_path / "db.sqlite")
    pg = await pg_columns(pg_url)
    assert pg.pop("arb_schema") == ["version"]  # PostgreSQL's user_version
    assert pg["fills"].pop(0) == "id"  # the booking order SQLite keeps in its rowid
    assert pg["task_history"].pop(0) == "id"  # likewise the sample order
    lite.pop("sqlite_sequence", None)
    assert pg == lite


async def make_v1(db) -> None:
    """A database at schema version 1 holding one task."""
    if db.backend is Backend.SQLITE:
        with sqlite3.connect(db.location) as conn:
            conn.executescript(MIGRATIONS[0])
            conn.execute("INSERT INTO tasks (task_id, strategy, symbol, mode, config, status, state, created_ms, "
                         "updated_ms) VALUES (?,?,?,?,?,?,?,?,?)", OLD_ROW)
            conn.execute("PRAGMA user_version=1")
        return
    await pg_run(db.location, "CREATE TABLE arb_schema (version INTEGER NOT NULL); INSERT INTO arb_schema VALUES (1);"
                 + PG_MIGRATIONS[0])
    conn = await asyncpg.connect(db.location)
    try:
        await conn.execute("INSERT INTO tasks (task_id, strategy, symbol, mode, config, status, state, created_ms, "
                           "updated_ms) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)", *OLD_ROW)
    finally:
        await conn.close()


async def schema_version(db) -> int:
    if db.backend is Backend.SQLITE:
        with sqlite3.connect(db.location) as conn:
            return conn.execute("PRAGMA user_version").fetchone()[0]
    return (await pg_fetch(db.location, "SELECT version FROM arb_schema"))[0]["version"]


async def test_an_old_database_migrates_forward_keeping_its_rows(db):
    await make_v1(db)
    for _ in range(2):  # migrate, then reopen: nothing left to do
        store = await db.open()
        try:
            rec = await store.get_task("abcabcabcabc")
            assert (rec.symbol, rec.created_ms, rec.duration_s, rec.started_ms) == ("NEIROETHUSDT", 1, 0.0, 0)
        finally:
            await store.close()
    assert await schema_version(db) == SCHEMA_VERSION


async def test_a_newer_database_is_refused_untouched_with_exit_2(db, tmp_path):
    await make_v1(db)
    if db.backend is Backend.SQLITE:
        with sqlite3.connect(db.location) as conn:
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
        before = Path(db.location).read_bytes()
    else:
        await pg_run(db.location, f"UPDATE arb_schema SET version={SCHEMA_VERSION + 1}")
        before = await pg_columns(db.location)
    with pytest.raises(StoreError, match="newer"):
        await db.open()
    env = dict(os.environ, ARB_HOME=str(tmp_path / "home"))
    out = subprocess.run([sys.executable, "run.py", "tasks", "list", "--db", db.location], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "newer" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr + out.stdout
    after = Path(db.location).read_bytes() if db.backend is Backend.SQLITE else await pg_columns(db.location)
    assert after == before and await schema_version(db) == SCHEMA_VERSION + 1


async def test_concurrent_first_opens_of_a_fresh_postgresql_database(pg_url):
    stores = await asyncio.gather(*(open_store(pg_url) for _ in range(4)))
    for store in stores:
        await store.close()
    assert (await pg_fetch(pg_url, "SELECT version FROM arb_schema"))[0]["version"] == SCHEMA_VERSION
