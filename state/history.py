"""SQL of the ``task_history`` table (schema v2): sampled telemetry for charts and sparklines.

Each row is one sample of a running task: ``(task_id, ts_ms, data)`` where ``data`` is a JSON
object (see :func:`taskmanager.history.sample_of` for its keys). The runner appends at most one
row per task per second, and only when a value changed.

Retention (the table is bounded): a task keeps at most :data:`MAX_ROWS_PER_TASK` rows. When a
task reaches it, every second row of its older half is deleted (:func:`thin`), so the history
still spans the whole run, at half the resolution for its older part each time (one sample per
second for the last ~6 hours, then coarser). ``tasks prune`` deletes a task's rows with the task.

These functions run on the store's SQLite thread (``Store._write``/``_fetchall``): they take a
``sqlite3.Connection``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

#: rows kept per task before the older half is thinned (~6 h at the maximum rate of 1 row/s)
MAX_ROWS_PER_TASK = 20000

MIGRATION = """
CREATE TABLE task_history (
    task_id TEXT NOT NULL REFERENCES tasks(task_id),
    ts_ms INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX task_history_task ON task_history(task_id, ts_ms);
"""


def append(db: sqlite3.Connection, rows: Sequence[tuple[str, int, str]], check_ids: Iterable[str],
           max_rows: int = MAX_ROWS_PER_TASK) -> int:
    """Insert ``(task_id, ts_ms, data)`` rows in one transaction, then thin each task of
    ``check_ids`` that holds more than ``max_rows`` rows. Returns the number of rows deleted."""
    deleted = 0
    db.execute("BEGIN IMMEDIATE")
    try:
        db.executemany("INSERT INTO task_history (task_id, ts_ms, data) VALUES (?,?,?)", rows)
        for task_id in check_ids:
            deleted += thin(db, task_id, max_rows)
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return deleted


def thin(db: sqlite3.Connection, task_id: str, max_rows: int) -> int:
    """If ``task_id`` has more than ``max_rows`` rows, delete every second row of its oldest
    half (the first and last rows of that half stay). Returns the number of rows deleted."""
    (count,) = db.execute("SELECT count(*) FROM task_history WHERE task_id=?", (task_id,)).fetchone()
    if count <= max_rows:
        return 0
    half = count // 2
    cur = db.execute(
        "DELETE FROM task_history WHERE rowid IN (SELECT rowid FROM (SELECT rowid, row_number() OVER "
        "(ORDER BY ts_ms, rowid) AS n FROM task_history WHERE task_id=?) WHERE n < ? AND n % 2 = 0)",
        (task_id, half))
    return int(cur.rowcount)


#: ``(ts_ms, data)`` of one task from a time on, oldest first (params: task_id, since_ms)
ROWS_SQL = "SELECT ts_ms, data FROM task_history WHERE task_id=? AND ts_ms>=? ORDER BY ts_ms, rowid"
#: the newest rows of one task, newest first (params: task_id, since_ms, limit)
NEWEST_ROWS_SQL = ("SELECT ts_ms, data FROM task_history WHERE task_id=? AND ts_ms>=? "
                   "ORDER BY ts_ms DESC, rowid DESC LIMIT ?")
