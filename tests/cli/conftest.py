"""CLI test fixtures: logging handlers installed by a command are removed after each test."""

import pytest

from taskmanager import logsetup


@pytest.fixture(autouse=True)
def _reset_logging(monkeypatch, tmp_path):
    monkeypatch.delenv("ARB_DB", raising=False)
    monkeypatch.setenv("ARB_HOME", str(tmp_path / "home"))
    yield
    logsetup.reset_logging()
