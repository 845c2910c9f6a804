"""E2E_BUGS.md #2: a stop while SYNCING cannot reach the venues must not hang in COMPLETING."""

from __future__ import annotations

from freezegun import freeze_time

from state.records import State, TaskStatus

from .conftest import GS, Harness, set_books, test_config

T0 = "2026-01-01 00:00:00"
NO_NET = "Cannot connect to host api.gateio.ws:443 [Name or service not known]"


async def test_stop_while_syncing_unreachable_halts_at_once_with_the_reason(tmp_path, fakes):
    h = Harness(tmp_path / "db.sqlite", fakes, test_config(sync_timeout_s=15.0))
    try:
        with freeze_time(T0):  # the clock never moves: nothing may wait for a timeout
            for _ in range(100):
                fakes[GS].fail_next("start", OSError(NO_NET))
            task = await h.open()
            await h.step()  # IDLE -> SYNCING
            await h.step()  # first connection attempt fails
            assert task.state is State.SYNCING and "cannot reach gate_spot" in task.last_error
            task.request_stop(reason="duration")
            await h.run_until(lambda t: t.status.is_terminal, 6)
            assert task.status is TaskStatus.HALTED
            assert task.context.halt_reason.startswith(f"cannot reach gate_spot: OSError: {NO_NET}")
            assert (await h.store.get_task(task.task_id)).status is TaskStatus.HALTED
            assert ("SYNCING", "COMPLETING") in h.edges
            assert not any(f.place_calls or f.cancel_calls for f in fakes.values())
    finally:
        await h.close()


async def test_stop_while_syncing_reachable_ends_stopped(tmp_path, fakes):
    h = Harness(tmp_path / "db.sqlite", fakes, test_config())
    try:
        with freeze_time(T0):
            set_books(fakes)
            task = await h.open()
            await h.step()  # IDLE -> SYNCING
            task.request_stop(reason="user")
            await h.run_until(lambda t: t.status.is_terminal, 8)
            assert task.status is TaskStatus.STOPPED and not task.context.halt_reason
            assert not any(f.place_calls for f in fakes.values())
    finally:
        await h.close()
