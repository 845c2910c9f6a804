"""Errors of every store backend (SQLite and PostgreSQL raise the same ones).

``state.store`` re-exports :class:`StoreError` and :class:`LeaseLost` under their old names.
"""

from __future__ import annotations


class StoreError(Exception):
    """The database cannot be used (newer schema, corrupt, unreachable, driver missing). One-line message."""


class LeaseLost(StoreError):
    """A commit was attempted by a process that no longer owns the task's lease."""


class StoreUnavailable(StoreError):
    """The database cannot be reached right now (connection lost, server shutting down). Whether the
    failed write was committed is unknown: the caller stops driving the task (it never trades on an
    uncommitted intent) and lets its lease expire; whoever takes it over reloads and reconciles."""


class IntegrityViolation(StoreError):
    """A write broke a uniqueness or reference rule (a duplicate client order id): nothing of that
    step was written. (The SQLite backend raises ``sqlite3.IntegrityError`` for the same case.)"""


__all__ = ["IntegrityViolation", "LeaseLost", "StoreError", "StoreUnavailable"]
