"""End-to-end fixtures: ONE simulator process for the session in an isolated ARB_HOME, and pools of
runner subprocesses that are SIGKILLed in teardown even when a test fails."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from exchanges.sim import process as sim_process
from tests.e2e.harness import PROJECT_ROOT, PY, RunnerPool, SimAdmin, base_env, wait_until


@pytest.fixture(scope="session")
def e2e_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The isolated ``ARB_HOME`` of every process of the e2e session (simulator and runners)."""
    return tmp_path_factory.mktemp("e2e-home")


def _read_endpoints(out_path: Path) -> dict | None:
    try:
        for line in out_path.read_text(errors="replace").splitlines():
            line = line.strip()
            if line.startswith("{"):
                return json.loads(line)
    except (OSError, ValueError):
        return None
    return None


@pytest.fixture(scope="session")
def sim(e2e_home: Path) -> Iterator[SimAdmin]:
    """The simulator (bundled NEIROETH scenario, real time) as a background process of this session.

    Started with ``run.py sim --port-base 0 --json``; runners of the same ``ARB_HOME`` find and reuse
    it. Stopped (admin shutdown, then SIGKILL of its process group) in teardown."""
    out_path = e2e_home / "sim-stdout.txt"
    with open(out_path, "wb") as out:
        proc = subprocess.Popen([PY, str(PROJECT_ROOT / "run.py"), "sim", "--port-base", "0", "--json",
                                 "--home", str(e2e_home)], stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, cwd=str(PROJECT_ROOT),
                                env=base_env(e2e_home, secrets=True), start_new_session=True)
    try:
        def ready() -> dict | None:
            assert proc.poll() is None, f"simulator exited {proc.returncode}: {out_path.read_text()[-800:]}"
            endpoints = _read_endpoints(out_path)
            return endpoints if endpoints and sim_process.health(endpoints) else None

        endpoints = wait_until(ready, 30, what="simulator health")
        yield SimAdmin(endpoints, sim_process.sim_dir(e2e_home) / "sim.sqlite")
    finally:
        with contextlib.suppress(Exception):
            sim_process.stop_sim(e2e_home, timeout_s=5)
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            proc.wait(timeout=10)


@pytest.fixture
def clean_faults(sim: SimAdmin) -> Iterator[SimAdmin]:
    """The simulator with no faults before and after the test (cleared even when it fails)."""
    sim.clear_faults()
    try:
        yield sim
    finally:
        with contextlib.suppress(Exception):
            sim.clear_faults()


@pytest.fixture
def runners(e2e_home: Path, tmp_path: Path) -> Iterator[RunnerPool]:
    """Runner subprocesses of one test; every one still alive is SIGKILLed in teardown."""
    pool = RunnerPool(e2e_home, tmp_path)
    try:
        yield pool
    finally:
        pool.close()


MAIN_DURATION_S = 20
PAIR_DURATION_S = 8
OFFLINE_SHIM = Path(__file__).resolve().parent / "offline"


@pytest.fixture(scope="session")
def background_runs(sim: SimAdmin, e2e_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Runners started together on first use, so their wall time overlaps (tests wait on them):

    * ``main``: the main job, ``start --symbol NEIROETH --duration 20 --no-dashboard`` (own database);
    * ``pair``: two tasks in two processes sharing one database (``pair_db``);
    * ``owned``: a third task on ``pair_db`` that runs until a test stops it (``tasks stop``);
    * ``live_offline`` (and ``live_offline_duration``, with ``--duration 2``): ``--mode live --live``
      with keys in the environment and no network (the ``offline`` sitecustomize shim first on
      PYTHONPATH), their own ``ARB_HOME`` (``live_home``) and databases.

    Every runner has the fake keys of :data:`harness.SECRET` in its environment."""
    work = tmp_path_factory.mktemp("jobs")
    pool = RunnerPool(e2e_home, work)
    try:
        main_db, pair_db = work / "main.sqlite", work / "pair.sqlite"
        main = pool.spawn(["start", "--symbol", "NEIROETH", "--duration", str(MAIN_DURATION_S),
                           "--no-dashboard", "--db", str(main_db)], "main")
        pair = [pool.spawn(["start", "--symbol", "NEIROETH", "--duration", str(PAIR_DURATION_S),
                            "--no-dashboard", "--db", str(pair_db)], f"pair{i}") for i in (1, 2)]
        owned = pool.spawn(["start", "--symbol", "NEIROETH", "--duration", "90", "--no-dashboard",
                            "--db", str(pair_db)], "owned")
        live_home = work / "live-home"
        live_home.mkdir()
        live_pool = RunnerPool(live_home, work)
        offline = {"PYTHONPATH": os.pathsep.join([str(OFFLINE_SHIM), str(PROJECT_ROOT)])}
        live = ["start", "--symbol", "NEIROETH", "--mode", "live", "--live", "--no-dashboard"]
        pool.runners.append(live_pool.spawn([*live, "--db", str(live_home / "live.sqlite")], "live_offline",
                                            **offline))
        pool.runners.append(live_pool.spawn([*live, "--duration", "2", "--db", str(live_home / "live2.sqlite")],
                                            "live_offline_duration", **offline))
        yield {"main": main, "main_db": main_db, "pair": pair, "pair_db": pair_db, "work": work, "owned": owned,
               "live_offline": pool.runners[-2], "live_offline_duration": pool.runners[-1], "live_home": live_home}
    finally:
        pool.close()


def now_ms() -> int:
    return int(time.time() * 1000)
