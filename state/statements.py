"""Statement runners of :class:`state.store.Store`: plain functions that run on the store worker's
thread (through ``Store._write`` / ``Store._fetchall``) or, for step groups, on the loop thread
(state/commit.py). Each takes the ``sqlite3.Connection`` first."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import msgspec

# Batch runners use a few multi-row statements rather than one statement per row: every statement
# (and every fetched row) releases and re-takes the GIL on the SQLite thread, and each re-take can
# wait a whole switch interval (5 ms) while the event loop is busy, delaying the commits queued behind.

CHUNK = 250  # rows per multi-row statement (stays far below SQLite's 32766 bound parameters)


def heartbeat_many(db: sqlite3.Connection, ids: list[str], owner_id: str, ts: int) -> list[str]:
    """Refresh the leases of ``ids`` held by ``owner_id``; returns the ids still held (one transaction)."""
    held: list[str] = []
    db.execute("BEGIN IMMEDIATE")
    try:
        for i in range(0, len(ids), CHUNK):
            chunk = ids[i:i + CHUNK]
            marks = ",".join("?" * len(chunk))
            db.execute(f"UPDATE tasks SET heartbeat_ms=? WHERE owner_id=? AND task_id IN ({marks})",
                       [ts, owner_id, *chunk])
            (joined,) = db.execute(f"SELECT json_group_array(task_id) FROM tasks WHERE owner_id=? "
                                   f"AND task_id IN ({marks})", [owner_id, *chunk]).fetchone()
            held += msgspec.json.decode(joined)
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return held


def claim_many(db: sqlite3.Connection, columns: str, statuses: list[str], modes: list[str], expired_before_ms: int,
               limit: int, owner: tuple[str, int, str, int]) -> list[tuple[Any, ...]]:
    """Take up to ``limit`` runnable tasks (status in ``statuses``, mode in ``modes``) that have no owner
    or a heartbeat before ``expired_before_ms``, oldest first; ``owner`` = (id, pid, host, now ms).
    Returns their rows (``columns``) as now held, each followed by the previous owner id and host."""
    if not statuses or not modes or limit <= 0:
        return []
    owner_id, pid, host, ts = owner
    db.execute("BEGIN IMMEDIATE")
    try:
        picked = db.execute(
            f"SELECT task_id, owner_id, owner_host FROM tasks WHERE status IN ({','.join('?' * len(statuses))}) "
            f"AND mode IN ({','.join('?' * len(modes))}) AND (owner_id IS NULL OR heartbeat_ms < ?) "
            "ORDER BY created_ms, task_id LIMIT ?", [*statuses, *modes, expired_before_ms, limit]).fetchall()
        out: list[tuple[Any, ...]] = []
        for task_id, previous_owner, previous_host in picked:
            db.execute("UPDATE tasks SET owner_id=?, owner_pid=?, owner_host=?, heartbeat_ms=?, updated_ms=?, "
                       "started_ms=CASE WHEN started_ms=0 THEN ? ELSE started_ms END WHERE task_id=?",
                       (owner_id, pid, host, ts, ts, ts, task_id))
            row = db.execute(f"SELECT {columns} FROM tasks WHERE task_id=?", (task_id,)).fetchone()
            out.append((*row, previous_owner, previous_host))
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return out


def put_live_many(db: sqlite3.Connection, params: list) -> None:
    """Upsert telemetry rows (flat ``task_id, updated_ms, data`` triples) in one transaction."""
    db.execute("BEGIN IMMEDIATE")
    try:
        step = 3 * CHUNK
        for i in range(0, len(params), step):
            chunk = params[i:i + step]
            db.execute("INSERT INTO task_live (task_id, updated_ms, data) VALUES "
                       + ",".join(["(?,?,?)"] * (len(chunk) // 3))
                       + " ON CONFLICT(task_id) DO UPDATE SET updated_ms=excluded.updated_ms, data=excluded.data",
                       chunk)
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def execute(db: sqlite3.Connection, sql: str, params: Sequence[Any]) -> int:
    """One autocommit statement; returns its rowcount."""
    return db.execute(sql, params).rowcount


def insert(db: sqlite3.Connection, sql: str, params: Sequence[Any]) -> int:
    """One INSERT; returns the new row's id."""
    rowid = db.execute(sql, params).lastrowid
    assert rowid is not None
    return int(rowid)


def fetch(db: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    return db.execute(sql, params).fetchall()


def split_sql(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


__all__ = ["CHUNK", "claim_many", "execute", "fetch", "heartbeat_many", "insert", "put_live_many", "split_sql"]
