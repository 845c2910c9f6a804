"""``task_history`` and ``tasks prune`` on PostgreSQL: the same rows and the same retention as
:mod:`state.history` and :mod:`state.prune` (SQLite), written for asyncpg.

The functions take one asyncpg connection (the store acquires it from its pool) and run in one
transaction each. ``task_history.id`` (BIGSERIAL) is the insertion order SQLite keeps in ``rowid``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from state.history import MAX_ROWS_PER_TASK
from state.prune import TASK_TABLES, finished_before_params

#: schema v2 on PostgreSQL (SQLite: :data:`state.history.MIGRATION`)
MIGRATION = """
CREATE TABLE task_history (
    id BIGSERIAL PRIMARY KEY,
    task_id TEXT NOT NULL REFERENCES tasks(task_id),
    ts_ms BIGINT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX task_history_task ON task_history(task_id, ts_ms);
"""

_THIN_SQL = ("DELETE FROM task_history WHERE id IN (SELECT id FROM (SELECT id, row_number() OVER "
             "(ORDER BY ts_ms, id) AS n FROM task_history WHERE task_id=$1) t WHERE n < $2 AND n % 2 = 0)")
#: ``(ts_ms, data)`` of one task from a time on, oldest first (params: task_id, since_ms)
ROWS_SQL = "SELECT ts_ms, data FROM task_history WHERE task_id=$1 AND ts_ms>=$2 ORDER BY ts_ms, id"
#: the newest rows of one task, newest first (params: task_id, since_ms, limit)
NEWEST_ROWS_SQL = ("SELECT ts_ms, data FROM task_history WHERE task_id=$1 AND ts_ms>=$2 "
                   "ORDER BY ts_ms DESC, id DESC LIMIT $3")


async def append(conn: Any, rows: Sequence[tuple[str, int, str]], check_ids: Iterable[str],
                 max_rows: int = MAX_ROWS_PER_TASK) -> int:
    """Insert ``(task_id, ts_ms, data)`` rows, then thin each task of ``check_ids`` holding more
    than ``max_rows`` rows (every second row of its oldest half), in one transaction. Returns the
    number of rows deleted."""
    deleted = 0
    async with conn.transaction():
        if rows:
            await conn.executemany("INSERT INTO task_history (task_id, ts_ms, data) VALUES ($1,$2,$3)", rows)
        for task_id in check_ids:
            count = await conn.fetchval("SELECT count(*) FROM task_history WHERE task_id=$1", task_id)
            if count > max_rows:
                status = await conn.execute(_THIN_SQL, task_id, count // 2)
                deleted += int(status.split()[-1])
    return deleted


def finished_before_sql() -> tuple[str, tuple[Any, ...]]:
    """``(sql, params)`` of the finished tasks last updated before a time (see
    :data:`state.prune.FINISHED_BEFORE_SQL`); the params are completed by the caller."""
    terminal = finished_before_params(0)[:-1]
    marks = ",".join(f"${i + 1}" for i in range(len(terminal)))
    sql = (f"SELECT task_id, status, updated_ms FROM tasks WHERE status IN ({marks}) "
           f"AND updated_ms<${len(terminal) + 1} ORDER BY updated_ms")
    return sql, terminal


async def delete_tasks(conn: Any, task_ids: Sequence[str]) -> int:
    """Delete the given tasks whose status is terminal (checked again under a row lock) with all
    their rows, in one transaction. Returns the number of tasks deleted."""
    terminal = finished_before_params(0)[:-1]
    done = 0
    async with conn.transaction():
        for task_id in task_ids:
            status = await conn.fetchval("SELECT status FROM tasks WHERE task_id=$1 FOR UPDATE", task_id)
            if status is None or status not in terminal:
                continue
            for table in TASK_TABLES:
                await conn.execute(f"DELETE FROM {table} WHERE task_id=$1", task_id)
            await conn.execute("DELETE FROM tasks WHERE task_id=$1", task_id)
            done += 1
    return done


__all__ = ["MIGRATION", "NEWEST_ROWS_SQL", "ROWS_SQL", "append", "delete_tasks", "finished_before_sql"]
