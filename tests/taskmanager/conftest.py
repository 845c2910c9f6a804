"""Fixtures for the runner tests: temp stores, real subprocesses (always killed), polling helpers."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from state.store import Store
from taskmanager import logsetup

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _reset_logging():
    yield
    logsetup.reset_logging()


@pytest.fixture
async def store(tmp_path):
    s = await Store.open(tmp_path / "db.sqlite")
    yield s
    await s.close()


async def wait_until(predicate: Callable, timeout_s: float = 10.0, interval_s: float = 0.02):
    """Poll ``predicate`` (sync or async) until truthy; return its value or fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        await asyncio.sleep(interval_s)


class Procs:
    """Starts real runner processes (the CLI with the test strategy and the file-backed venue)."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.procs: list[subprocess.Popen] = []
        self.venue_dir = tmp_path / "venue"
        self.venue_dir.mkdir(exist_ok=True)
        self.db = tmp_path / "db.sqlite"

    def env(self) -> dict:
        env = dict(os.environ)
        env["TM_FAKE_VENUE_DIR"] = str(self.venue_dir)
        env["ARB_HOME"] = str(self.tmp_path / "home")
        env["PYTHONPATH"] = str(ROOT)
        env.pop("ARB_DB", None)
        return env

    def spawn(self, *args: str, name: str = "proc") -> subprocess.Popen:
        out = open(self.tmp_path / f"{name}-{len(self.procs)}.out", "wb")
        drives = args[0] == "start" or (args[0] == "tasks" and args[1] in ("resume", "stop", "pause"))
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.taskmanager.proc_main", *args, "--db", str(self.db),
             *(["--no-dashboard"] if drives else [])],
            cwd=ROOT, env=self.env(), stdout=out, stderr=subprocess.STDOUT)
        proc.out_path = out.name  # type: ignore[attr-defined]
        out.close()
        self.procs.append(proc)
        return proc

    def run(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess:
        """Run a CLI command to completion (also tracked for teardown)."""
        proc = self.spawn(*args, name="run")
        try:
            proc.wait(timeout=timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        text = Path(proc.out_path).read_text()
        return subprocess.CompletedProcess(proc.args, proc.returncode, text, "")

    def output(self, proc: subprocess.Popen) -> str:
        return Path(proc.out_path).read_text()

    def kill_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.wait()


@pytest.fixture
def procs(tmp_path):
    p = Procs(tmp_path)
    yield p
    p.kill_all()
