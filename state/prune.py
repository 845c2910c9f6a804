"""SQL of ``tasks prune``: delete finished tasks with every row that refers to them.

Runs on the store's SQLite thread (``Store._write``): the function takes a ``sqlite3.Connection``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from state.records import TaskStatus

#: tables holding rows of a task, children first (``tasks`` itself is deleted last)
TASK_TABLES = ("task_history", "task_live", "control", "funding", "fills", "order_intents", "transitions")
_TERMINAL = tuple(s.value for s in TaskStatus if s.is_terminal)


#: ``(task_id, status, updated_ms)`` of the finished tasks last updated before a time
#: (params: the terminal statuses, then before_ms)
FINISHED_BEFORE_SQL = (f"SELECT task_id, status, updated_ms FROM tasks WHERE status IN ({','.join('?' * len(_TERMINAL))})"
                       " AND updated_ms<? ORDER BY updated_ms")


def finished_before_params(before_ms: int) -> tuple:
    """Parameters of :data:`FINISHED_BEFORE_SQL`."""
    return (*_TERMINAL, before_ms)


def delete_tasks(db: sqlite3.Connection, task_ids: Sequence[str]) -> int:
    """Delete the given tasks (only those whose status is terminal, checked again inside the
    transaction) and all their rows, in one transaction. Returns the number of tasks deleted."""
    done = 0
    db.execute("BEGIN IMMEDIATE")
    try:
        for task_id in task_ids:
            row = db.execute("SELECT status FROM tasks WHERE task_id=?", (task_id,)).fetchone()
            if row is None or row[0] not in _TERMINAL:
                continue
            for table in TASK_TABLES:
                db.execute(f"DELETE FROM {table} WHERE task_id=?", (task_id,))
            db.execute("DELETE FROM tasks WHERE task_id=?", (task_id,))
            done += 1
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return done
