"""A throwaway PostgreSQL server for the tests and the benches (never used by the product).

:class:`PgServer` runs ``initdb`` and ``pg_ctl`` from the Debian binaries (the newest
``/usr/lib/postgresql/*/bin``, or ``$ARB_PG_BIN``) in a temporary directory, listening on a free
loopback port only (no Unix socket outside that directory), with trust authentication for the user
``arb``. The server refuses to run as root, so as root every server command runs as the
unprivileged ``postgres`` user (the Debian package creates it). :meth:`PgServer.stop` stops it
(immediate mode) and removes the directory; call it in a ``finally``.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Any

USER = "arb"


def pg_bindir() -> Path:
    """``$ARB_PG_BIN`` or the newest ``/usr/lib/postgresql/<version>/bin`` with an ``initdb``."""
    if os.environ.get("ARB_PG_BIN"):
        return Path(os.environ["ARB_PG_BIN"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: [int(x) if x.isdigit() else 0 for x in p.parent.parent.name.split(".")])
    if not found:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin "
                           "(Debian: apt-get install postgresql; .ci/run does)")
    return found[-1].parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgServer:
    """One PostgreSQL server in a temporary directory. ``fast``: no fsync (tests); the benches keep
    the defaults so a commit costs what it costs on a real server."""

    def __init__(self, fast: bool = True) -> None:
        self.bindir = pg_bindir()
        self.fast = fast
        self.base: Path | None = None
        self.port = 0
        self._as: dict[str, Any] = {}

    @property
    def data(self) -> Path:
        assert self.base is not None
        return self.base / "data"

    def _run(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        assert self.base is not None
        return subprocess.run([str(self.bindir / args[0]), *args[1:]], cwd=self.base, capture_output=True,
                              text=True, timeout=timeout, check=check, **self._as)

    def start(self) -> "PgServer":
        """initdb + start on a free loopback port; raises RuntimeError with the server's log on failure."""
        self.base = Path(tempfile.mkdtemp(prefix="arb-pg-"))
        if os.geteuid() == 0:  # postgres refuses to run as root
            pw = pwd.getpwnam("postgres")
            os.chown(self.base, pw.pw_uid, pw.pw_gid)
            self._as = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": [],
                        "env": {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}}
        try:
            self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", USER, "-E", "UTF8", "--no-sync",
                      "--no-instructions", timeout=120)
            self._start_server()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_server(self, port: int = 0) -> None:
        settings = "-c fsync=off -c full_page_writes=off -c synchronous_commit=on" if self.fast else ""
        for _attempt in range(3):
            self.port = port or free_port()
            proc = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.base / "server.log"), "-w", "-t", "60",
                             "-o", f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 "
                                   f"-c max_connections=200 {settings}", "start", check=False, timeout=90)
            if proc.returncode == 0:
                return
            if port:
                break
        log = (self.base / "server.log").read_text(errors="replace")[-2000:] if self.base else ""
        raise RuntimeError(f"PostgreSQL did not start: {proc.stdout}{proc.stderr}\n{log}")

    def kill(self) -> None:
        """Stop the server at once (immediate mode), keeping its data: :meth:`restart` brings it back."""
        if self.base is not None and (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)

    def restart(self) -> None:
        """Start the killed server again on the same port."""
        self._start_server(self.port)

    def stop(self) -> None:
        """Stop the server and remove its directory (idempotent)."""
        try:
            self.kill()
        finally:
            if self.base is not None:
                shutil.rmtree(self.base, ignore_errors=True)
                self.base = None

    def url(self, dbname: str = "postgres", password: str = "") -> str:
        auth = f"{USER}:{password}" if password else USER
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its URL."""
        name = name or "t_" + uuid.uuid4().hex[:12]
        asyncio.run(self._admin(f'CREATE DATABASE "{name}"'))
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        asyncio.run(self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    async def _admin(self, sql: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.url(), timeout=30)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()


__all__ = ["PgServer", "USER", "free_port", "pg_bindir"]
