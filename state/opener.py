"""Where the tasks live, and opening the right store for it.

``--db`` (else ``$ARB_DB``, else ``$ARB_HOME/arb.sqlite``) is either a SQLite file path (the
default backend) or a PostgreSQL URL, ``postgresql://user@host:port/dbname`` (``postgres://`` too).
A password may be in the URL, in ``$PGPASSWORD`` or in ``~/.pgpass`` (read by the driver, asyncpg);
it is never printed, logged or stored: every message shows :attr:`DbLocation.display`, the URL
without its password. PostgreSQL needs the optional extra ``pip install -e ".[postgres]"``; without
it, opening a URL raises :class:`~state.errors.StoreError` with one line saying so.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from state.api import Backend, TaskStore
from state.errors import StoreError

_PG_SCHEMES = ("postgresql", "postgres")
MISSING_DRIVER = ('a PostgreSQL database needs the asyncpg driver, which is not installed: '
                  'pip install -e ".[postgres]"')


@dataclass(frozen=True)
class DbLocation:
    """A resolved ``--db``: a SQLite ``path`` or a PostgreSQL ``url`` (with any password: never show it)."""

    backend: Backend
    path: Path | None = None
    url: str = field(default="", repr=False)

    @property
    def display(self) -> str:
        """The path, or the URL without its password (safe for messages and logs)."""
        return str(self.path) if self.path is not None else redact_url(self.url)

    @property
    def log_base(self) -> Path:
        """The file the log sits beside (``<log_base>.log``): the SQLite file itself, else a name
        under ``$ARB_HOME`` made from the server and database (``pg-127.0.0.1-5432-arb``)."""
        if self.path is not None:
            return self.path
        from state.store import arb_home

        parts = urlsplit(self.url)
        where = "-".join(filter(None, [parts.hostname or "local", str(parts.port or ""), parts.path.strip("/")]))
        return arb_home() / ("pg-" + (re.sub(r"[^A-Za-z0-9._]+", "-", where).strip("-") or "default"))

    def exists(self) -> bool:
        """SQLite: the file exists. PostgreSQL: always True (the server refuses an unknown
        database when it is opened)."""
        return self.path.exists() if self.path is not None else True

    @property
    def parent(self) -> Path:
        """Where files that belong beside the database go (reports): the SQLite file's folder,
        else the folder of :attr:`log_base`."""
        return self.log_base.parent

    def __str__(self) -> str:
        return self.display


def is_postgres_url(text: str) -> bool:
    """True for ``postgresql://...`` and ``postgres://...``."""
    return text.split("://", 1)[0].lower() in _PG_SCHEMES and "://" in text


def redact_url(url: str) -> str:
    """``url`` without a password in its user part or in a ``password=`` query parameter."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, hostinfo = netloc.rsplit("@", 1)
        netloc = userinfo.split(":", 1)[0] + "@" + hostinfo
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() != "password"])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def resolve(db: str | os.PathLike[str] | None = None) -> DbLocation:
    """``db`` (``--db``), else ``$ARB_DB``, else ``$ARB_HOME/arb.sqlite``, as a :class:`DbLocation`."""
    text = os.fspath(db) if db else os.environ.get("ARB_DB", "")
    if text and is_postgres_url(text):
        return DbLocation(Backend.POSTGRESQL, url=text)
    if text:
        return DbLocation(Backend.SQLITE, path=Path(text).expanduser())
    from state.store import default_db_path

    return DbLocation(Backend.SQLITE, path=default_db_path())


async def open_store(db: DbLocation | str | os.PathLike[str] | None = None) -> TaskStore:
    """Open (creating and migrating forward) the store ``db`` names. Raises StoreError (one line) for
    a refused database (newer schema, corrupt, unreachable) or a PostgreSQL URL without asyncpg."""
    location = db if isinstance(db, DbLocation) else resolve(db)
    if location.backend is Backend.POSTGRESQL:
        try:
            import asyncpg  # noqa: F401 - the optional driver
        except ImportError:
            raise StoreError(MISSING_DRIVER) from None
        from state.pg.store import PgStore

        return await PgStore.open(location.url)
    from state.store import Store

    return await Store.open(location.path)


__all__ = ["DbLocation", "MISSING_DRIVER", "is_postgres_url", "open_store", "redact_url", "resolve"]
