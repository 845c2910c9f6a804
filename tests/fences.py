"""Test fence: a lease fence that always allows sends, for tests that drive a task's ``step()``
directly (under freezegun, with no runner heartbeating its lease). The runner's real fence is
exercised by tests/strategy/test_fence.py and the e2e freeze/takeover test."""

from __future__ import annotations

from strategies.execution.fence import LeaseFence


class HeldFence(LeaseFence):
    """Always held (unless :meth:`lose` was called)."""

    def __init__(self) -> None:
        super().__init__()
        self.confirm(0.0)

    def valid_for_s(self, now_mono: float | None = None) -> float:
        return 0.0 if self._lost else 3600.0

    def refusal(self, now_mono: float | None = None) -> str | None:
        return "lease lost: another process owns the task" if self._lost else None
