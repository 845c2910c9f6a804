"""Test helper: take a task's lease from whoever holds it (a compare-and-swap on the holder the
test just read), as a thief process or a crashed owner's successor would."""

from __future__ import annotations

from typing import Any


async def steal_lease(store: Any, task_id: str, owner_id: str, pid: int, host: str) -> bool:
    """Take the lease of ``task_id`` from its current holder (whoever it is); True on success."""
    rec = await store.get_task(task_id)
    assert rec is not None, f"no task {task_id}"
    return await store.acquire_lease(task_id, owner_id, pid, host, ttl_s=5,
                                     take_from=(rec.owner_id, rec.heartbeat_ms))
