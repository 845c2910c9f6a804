"""Run the simulator as a detached background process and find it again.

Runtime dir ``<home>/sim/`` (``home`` = ``$ARB_HOME``, default ``~/.arb-runner``):
``sim.json`` (the endpoints object incl. ``pid``; written by the simulator once
its ports are bound, removed on clean exit), ``sim.sqlite`` (engine state),
``keys.json`` (sim API keys, 0600), ``sim.log`` (stdout/stderr), ``.lock``.

``ensure_sim_running(home, scenario=None, speed=1.0, timeout_s=20,
paper_symbol=None, paper_endpoints=None, start_usdt=None, alias_symbols=1) -> dict``
reuses a healthy simulator of the same mode (replay / paper) serving at least
``alias_symbols`` symbols, or starts one in a new
session (so a crash of the runner leaves the venues up) and waits until it
answers ``GET /_sim/health``. ``stop_sim(home) -> bool`` asks it to shut down
(admin API, then SIGTERM, then SIGKILL). ``reset_state(home)`` deletes the
persisted accounts/orders (``sim reset``) so the next start funds a fresh
default account (1,000,000 USDT per venue unless configured).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class SimProcessError(RuntimeError):
    """The simulator could not be started/reached; the message says why."""


SimError = SimProcessError  # name used by exchanges.factory


def default_home() -> Path:
    return Path(os.environ.get("ARB_HOME") or Path.home() / ".arb-runner")


def sim_dir(home: Path) -> Path:
    return Path(home) / "sim"


def state_path(home: Path) -> Path:
    return sim_dir(home) / "sim.json"


def read_state(home: Path) -> dict | None:
    """The endpoints object of the last started simulator (None if absent/corrupt)."""
    try:
        return json.loads(state_path(home).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_state(home: Path, endpoints: dict) -> None:
    """Atomically write sim.json (mode 0600: it holds the sim's API secret)."""
    path = state_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(endpoints, fh, indent=1)
    os.replace(tmp, path)


def remove_state(home: Path, pid: int | None = None) -> None:
    """Remove sim.json (only if it belongs to ``pid`` when given)."""
    state = read_state(home)
    if state is not None and (pid is None or state.get("pid") == pid):
        with contextlib.suppress(OSError):
            state_path(home).unlink()


def reset_state(home: Path) -> list[Path]:
    """Delete the persisted engine state (sim.sqlite + WAL files, keys.json) so
    the next start creates a fresh, fully funded default account. Call only
    while no simulator runs. Returns the removed paths."""
    removed = []
    for name in ("sim.sqlite", "sim.sqlite-wal", "sim.sqlite-shm", "keys.json"):
        path = sim_dir(home) / name
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as dead
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def health(endpoints: dict, timeout_s: float = 1.0) -> dict | None:
    """``GET /_sim/health`` of a simulator, or None if it does not answer."""
    url = str(endpoints.get("admin_url", "")) + "/_sim/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310 - loopback only
            data = json.loads(resp.read())
            return data if data.get("ok") else None
    except (urllib.error.URLError, OSError, ValueError):
        return None


def sim_status(home: Path) -> dict | None:
    """Endpoints of a running, healthy simulator (None otherwise)."""
    state = read_state(home)
    if state and pid_alive(int(state.get("pid", 0))) and health(state):
        return state
    return None


def _log_tail(home: Path, lines: int = 15) -> str:
    try:
        return "\n".join((sim_dir(home) / "sim.log").read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def ensure_sim_running(home: Path, scenario: str | None = None, speed: float = 1.0, timeout_s: float = 20,
                       paper_symbol: str | None = None, paper_endpoints: dict[str, str] | None = None,
                       start_usdt: object = None, alias_symbols: int = 1) -> dict:
    """Return the endpoints of a healthy simulator, starting one in the
    background if needed (see module doc). Raises SimProcessError when it does
    not come up within ``timeout_s`` (message includes the log tail) or the
    scenario is unknown (the simulator exits 2 and lists the scenarios).

    ``paper_symbol`` starts it in paper mode (books from the venues' live public
    data, :mod:`exchanges.sim.recording.paper`); ``paper_endpoints`` overrides those URLs
    (passed to the child as ``$ARB_SIM_PAPER_ENDPOINTS``; tests point it at
    loopback). A running simulator is reused only if its mode matches: a replay
    simulator when paper is asked for (or the reverse) raises SimProcessError
    saying to stop it first. ``start_usdt`` funds a newly created sim account.
    ``alias_symbols`` N serves the recording under N symbol names
    (:mod:`exchanges.sim.recording.aliases`); a running simulator serving fewer symbols
    raises SimProcessError saying to stop it first.
    """
    home = Path(home)
    sim_dir(home).mkdir(parents=True, exist_ok=True)
    with open(sim_dir(home) / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        running = sim_status(home)
        if running is not None:
            is_paper = running.get("scenario") == "paper"
            if bool(paper_symbol) != is_paper:
                want = "paper" if paper_symbol else "replay"
                raise SimProcessError(f"a simulator in {'paper' if is_paper else 'replay'} mode is already running "
                                      f"for {home} (pid {running.get('pid')}) but {want} mode was asked for; "
                                      "stop it first with `run.py sim stop`")
            served = len(running.get("symbols") or [])
            if alias_symbols > 1 and served < alias_symbols:
                raise SimProcessError(f"the simulator running for {home} (pid {running.get('pid')}) serves {served} "
                                      f"symbol(s) but {alias_symbols} were asked for; stop it first with "
                                      "`run.py sim stop`")
            return running
        remove_state(home)
        cmd = [sys.executable, "-m", "exchanges.sim", "--home", str(home), "--port-base", "0", "--speed", str(speed),
               "--quiet"]
        if scenario and not paper_symbol:
            cmd += ["--scenario", scenario]
        if paper_symbol:
            cmd += ["--paper", paper_symbol]
        if start_usdt is not None:
            cmd += ["--start-usdt", str(start_usdt)]
        if alias_symbols != 1:
            cmd += ["--alias-symbols", str(int(alias_symbols))]
        env = dict(os.environ)
        if paper_endpoints:
            env["ARB_SIM_PAPER_ENDPOINTS"] = json.dumps(dict(paper_endpoints))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH", "")]))
        with open(sim_dir(home) / "sim.log", "ab") as log_fh:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log_fh, stderr=log_fh, cwd=str(PROJECT_ROOT),
                                    env=env, start_new_session=True, close_fds=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            code = proc.poll()
            if code is not None:
                raise SimProcessError(f"simulator exited with code {code}:\n{_log_tail(home)}")
            state = read_state(home)
            if state and state.get("pid") == proc.pid and health(state):
                return state
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        raise SimProcessError(f"simulator not healthy after {timeout_s} s:\n{_log_tail(home)}")


def stop_sim(home: Path, timeout_s: float = 10.0) -> bool:
    """Stop the simulator of ``home``; True if one was running and is now gone."""
    home = Path(home)
    state = read_state(home)
    if not state:
        return False
    pid = int(state.get("pid", 0))
    if not pid or not pid_alive(pid):
        remove_state(home)
        return False
    try:
        req = urllib.request.Request(state["admin_url"] + "/_sim/shutdown", data=b"{}", method="POST")
        urllib.request.urlopen(req, timeout=2).close()  # noqa: S310 - loopback only
    except (urllib.error.URLError, OSError, KeyError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while pid_alive(pid):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
            break
        time.sleep(0.05)
    remove_state(home, pid)
    return True
