"""Which backend ``--db`` / ``$ARB_DB`` selects, and that the password never shows in its name."""

from __future__ import annotations

from pathlib import Path

from state.api import Backend
from state.opener import resolve


def test_db_argument_or_environment_selects_the_backend(monkeypatch, tmp_path):
    monkeypatch.setenv("ARB_HOME", str(tmp_path))
    monkeypatch.delenv("ARB_DB", raising=False)
    assert resolve(None).path == tmp_path / "arb.sqlite" and resolve(None).backend is Backend.SQLITE
    assert resolve("~/x.sqlite").path == Path.home() / "x.sqlite"
    monkeypatch.setenv("ARB_DB", "postgres://arb:s3cret@db.example:6543/tasks?password=other&sslmode=require")
    env = resolve(None)
    assert env.backend is Backend.POSTGRESQL and env.url.startswith("postgres://arb:s3cret@")
    assert env.display == "postgres://arb@db.example:6543/tasks?sslmode=require"
    assert "s3cret" not in repr(env) + str(env) and "other" not in str(env)
    assert env.log_base == tmp_path / "pg-db.example-6543-tasks"
    assert resolve(str(tmp_path / "a.sqlite")).backend is Backend.SQLITE  # --db wins over ARB_DB
