"""Several processes opening one fresh database at once must all succeed (one migrates, the rest see it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_OPEN = (
    "import asyncio, sys\n"
    "from state.store import Store\n"
    "async def main():\n"
    "    store = await Store.open(sys.argv[1])\n"
    "    await store.close()\n"
    "asyncio.run(main())\n"
)


def test_concurrent_first_open_of_a_fresh_database(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    for attempt in range(3):
        db = tmp_path / f"race{attempt}.sqlite"
        procs = [subprocess.Popen([sys.executable, "-c", _OPEN, str(db)], cwd=root, stderr=subprocess.PIPE,
                                  text=True) for _ in range(4)]
        try:
            results = [(p.wait(timeout=60), p.stderr.read()) for p in procs]
        finally:
            for p in procs:
                p.kill()
        assert all(rc == 0 for rc, _ in results), results
