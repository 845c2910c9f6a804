"""Bench helper process: N delta-neutral tasks driven by ONE TaskManager against the simulator.

``python bench/task_worker.py --endpoints E.json --db DB|URL --specs S.json`` where S.json is a list of
``{"symbol": "NEIROETH", "config": {...}, "api_key": "...", "api_secret": "..."}`` (api key/secret
optional: the endpoints' own are used). Every task gets its own connectors
(``exchanges.factory.venues_from_endpoints``). Prints one JSON line ``{"pid", "tasks": [ids]}``
once the tasks are added, then runs until SIGTERM/SIGINT, which stops every task gracefully.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import msgspec  # noqa: E402

from exchanges import clock  # noqa: E402
from exchanges.factory import venues_from_endpoints  # noqa: E402
from state.records import State, TaskRecord, TaskStatus  # noqa: E402
from state.opener import open_store  # noqa: E402
from strategies.delta_neutral import DeltaNeutralTask, load_config  # noqa: E402
from taskmanager.manager import TaskManager  # noqa: E402


async def main(endpoints_path: str, db: str, specs_path: str) -> None:
    endpoints = json.loads(Path(endpoints_path).read_text())
    specs = json.loads(Path(specs_path).read_text())
    store = await open_store(db)
    manager = TaskManager(store)
    ids = []
    try:
        for spec in specs:
            config = load_config(None, dict(spec.get("config", {}), symbol=spec["symbol"]))
            eps = dict(endpoints)
            if spec.get("api_key"):
                eps = {k: (dict(v, api_key=spec["api_key"], api_secret=spec["api_secret"]) if isinstance(v, dict)
                           and "rest_url" in v else v) for k, v in endpoints.items()}
            now = clock.now_ms()
            record = TaskRecord(
                task_id=uuid.uuid4().hex[:12], strategy="delta_neutral", symbol=str(config.symbol_obj), mode="sim",
                config=msgspec.json.encode(config).decode(), status=TaskStatus.RUNNING, state=State.IDLE,
                created_ms=now, state_entered_ms=now, owner_id=manager.owner_id, owner_pid=manager.pid,
                owner_host=manager.host, heartbeat_ms=now)
            await store.create_task(record)
            manager.add(DeltaNeutralTask(record, store, venues_from_endpoints(eps), manager.owner_id))
            ids.append(record.task_id)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, manager.request_stop_all)
        print(json.dumps({"pid": manager.pid, "tasks": ids}), flush=True)
        await manager.run()
    finally:
        await store.close()
        stats = getattr(store, "commit_stats", None)  # absent in stores without group commit
        if stats:
            print(f"commit stats: {stats['steps']} steps in {stats['groups']} groups "
                  f"(largest {stats['max_group']})", file=sys.stderr, flush=True)


if __name__ == "__main__":
    import os

    if os.environ.get("BENCH_WORKER_PATCH"):  # optional instrumentation module (profiling the hot path)
        import importlib.util

        spec = importlib.util.spec_from_file_location("bench_patch", os.environ["BENCH_WORKER_PATCH"])
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--endpoints", required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--specs", required=True)
    a = p.parse_args()
    asyncio.run(main(a.endpoints, a.db, a.specs))
