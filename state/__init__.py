"""Persistence: the SQLite store and its records."""
