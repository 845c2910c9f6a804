"""Alert kinds and the sink a strategy calls to raise one (the runner delivers them).

The TaskManager sets ``task.alert_sink`` on every task it drives to a callable that queues the
alert for the configured notifiers (``[notify]``: webhook, Telegram; taskmanager/notify.py) and
logs it; it never blocks and never raises. Outside a runner (tests, tools) the sink is
:func:`no_alert`. A strategy raises an alert with::

    self.alert_sink(AlertKind.SINGLE_LEG, "sold 120 bought 0 NEIROETH; hedged on the perp",
                    venue="mexc_spot", client_order_id=cid, imbalance_base="120")

The runner itself raises STARTED, HALTED, FAILED, COMPLETED and LOSS from the task's status and
PnL; SINGLE_LEG is the strategy's to raise (it alone knows that one leg of a pair filled).
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Protocol


class AlertKind(str, Enum):
    """What an alert is about (the ``events`` list of ``[notify]`` uses these values)."""

    STARTED = "started"  # a task started or was resumed in this process
    SINGLE_LEG = "single_leg"  # one leg of an arbitrage pair filled and the other did not
    HALTED = "halted"  # the task ended halted (invariant at risk: ledger mismatch, venue unreachable, ...)
    FAILED = "failed"  # the task ended failed (an exception; traceback in the journal)
    COMPLETED = "completed"  # the task ended normally (duration, exit rule)
    LOSS = "loss"  # net PnL fell below minus the [notify] loss_usdt threshold


class AlertSink(Protocol):
    """``sink(kind, message, **fields)``: queue an alert; returns at once, never raises."""

    def __call__(self, kind: AlertKind, message: str, **fields: Any) -> None: ...


def no_alert(kind: AlertKind, message: str, **fields: Any) -> None:
    """The default sink: drops the alert (no runner, or no ``[notify]`` configured)."""
