"""The database schema: forward migrations, one SQL script per version (``PRAGMA user_version``).

Version N of a database has run ``MIGRATIONS[:N]``; :meth:`state.store.Store.open` runs the rest,
each in its own transaction. Never edit a released migration: append a new one, and its PostgreSQL
twin to ``state/pg/schema.py`` (tests/state/test_migrations.py compares the two schemas).
"""

from __future__ import annotations

from state.history import MIGRATION as HISTORY_MIGRATION

MIGRATIONS: list[str] = [
    # v1
    """
    CREATE TABLE tasks (
        task_id TEXT PRIMARY KEY,
        strategy TEXT NOT NULL,
        symbol TEXT NOT NULL,
        mode TEXT NOT NULL,
        config TEXT NOT NULL,
        status TEXT NOT NULL,
        state TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        state_entered_ms INTEGER NOT NULL DEFAULT 0,
        owner_id TEXT,
        owner_pid INTEGER,
        owner_host TEXT,
        heartbeat_ms INTEGER NOT NULL DEFAULT 0,
        version INTEGER NOT NULL DEFAULT 0,
        context TEXT NOT NULL DEFAULT '{}',
        pnl TEXT NOT NULL DEFAULT '{}',
        last_error TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE transitions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        task_id TEXT NOT NULL REFERENCES tasks(task_id),
        version INTEGER NOT NULL,
        ts_ms INTEGER NOT NULL,
        src TEXT NOT NULL,
        dst TEXT NOT NULL,
        trigger TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX transitions_task ON transitions(task_id, id);
    CREATE TABLE order_intents (
        client_order_id TEXT PRIMARY KEY,
        task_id TEXT NOT NULL REFERENCES tasks(task_id),
        seq INTEGER NOT NULL,
        status TEXT NOT NULL,
        updated_ms INTEGER NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX order_intents_task ON order_intents(task_id, seq);
    CREATE TABLE fills (
        task_id TEXT NOT NULL REFERENCES tasks(task_id),
        venue TEXT NOT NULL,
        trade_id TEXT NOT NULL,
        client_order_id TEXT NOT NULL,
        ts_ms INTEGER NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (task_id, venue, trade_id)
    );
    CREATE TABLE funding (
        task_id TEXT NOT NULL REFERENCES tasks(task_id),
        venue TEXT NOT NULL,
        ts_ms INTEGER NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (task_id, venue, ts_ms)
    );
    CREATE TABLE control (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        task_id TEXT NOT NULL REFERENCES tasks(task_id),
        action TEXT NOT NULL,
        flatten INTEGER NOT NULL DEFAULT 0,
        created_ms INTEGER NOT NULL,
        acked_ms INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX control_pending ON control(task_id, acked_ms);
    CREATE TABLE task_live (
        task_id TEXT PRIMARY KEY,
        updated_ms INTEGER NOT NULL,
        data TEXT NOT NULL
    );
    """,
    # v2: sampled telemetry for charts (state/history.py: retention, SQL)
    HISTORY_MIGRATION,
    # v3: what a worker needs to run a task recorded by `tasks create` (the planned run length) and
    # when the task was first driven (a failover keeps the same end)
    """
    ALTER TABLE tasks ADD COLUMN duration_s REAL NOT NULL DEFAULT 0;
    ALTER TABLE tasks ADD COLUMN started_ms INTEGER NOT NULL DEFAULT 0;
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)

__all__ = ["MIGRATIONS", "SCHEMA_VERSION"]
