"""Fixtures shared by every test directory: one throwaway PostgreSQL server per session (started on
first use, stopped at the end even on failure), a fresh database per test, and ``db``: a database
of each backend for the store's contract tests (parametrised ``sqlite`` / ``postgresql``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from state.api import Backend, TaskStore
from state.errors import IntegrityViolation
from state.opener import open_store
from tests.pgserver import PgServer


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = PgServer(fast=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """A new empty database on the session's server (dropped afterwards)."""
    url = pg_server.create_database()
    yield url
    try:
        pg_server.drop_database(url)
    except Exception:  # noqa: BLE001 - the server is thrown away at the end anyway
        pass


class Db:
    """One database of either backend: :meth:`open` opens a new store on it (reopen = open again)."""

    def __init__(self, backend: Backend, location: str) -> None:
        self.backend = backend
        self.location = location
        #: what a duplicate client order id raises on this backend
        self.integrity_error: type[Exception] = (sqlite3.IntegrityError if backend is Backend.SQLITE
                                                 else IntegrityViolation)

    async def open(self) -> TaskStore:
        return await open_store(self.location)


@pytest.fixture(params=[Backend.SQLITE, Backend.POSTGRESQL], ids=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    if request.param is Backend.SQLITE:
        yield Db(Backend.SQLITE, str(tmp_path / "db.sqlite"))
        return
    yield Db(Backend.POSTGRESQL, request.getfixturevalue("pg_url"))
