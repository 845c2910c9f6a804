"""The order-intent lifecycle, declared as data: (intent status, order event) -> intent status.

Every status change of an :class:`~state.records.OrderIntent` goes through
:meth:`strategies.execution.orders.OrderManager.apply`, which looks the move up in
:data:`INTENT_TRANSITIONS` and refuses (logs and counts, never applies) a move that is not
declared. The idea is NautilusTrader's order state table (``nautilus_trader/model/orders/base.pyx``,
``_ORDER_STATE_TABLE``); this table is the project's own, for intents rather than venue orders:

* an intent starts ``new`` when it is committed (invariant 1: intent before effect);
* sending it yields ``accepted`` (the venue knows it), a fill status, ``rejected`` (the venue said
  no), ``send_refused`` (refused locally before a byte left: stale book, lease fence, send
  deadline, local rate limiter) or ``send_unknown`` (timeout, disconnect, 5xx: the order may exist);
* ``unknown`` is settled only by a venue query by client order id (invariant 2), never by sending
  again; the query's "no such order" becomes ``never_placed`` only after the intent's send
  deadline has passed (invariant 4), because until then a request of a frozen process may still
  reach the venue;
* stale or repeated venue reports (an "open" push arriving after the REST answer said "filled")
  are declared moves that keep the status (``FILLED + accepted -> FILLED``).

Undeclared moves are anomalies (a venue reporting a fill for an intent declared never placed):
the order manager refuses them, counts them, and the reconciler turns them into a halt reason.
"""

from __future__ import annotations

from enum import Enum

from exchanges.models import OrderStatus
from state.records import IntentStatus

I = IntentStatus


class IntentEvent(str, Enum):
    """What happened to an intent's order (from our send, a venue answer, push or query)."""

    SEND_REFUSED = "send_refused"      # refused locally before sending (nothing left the process)
    SEND_UNKNOWN = "send_unknown"      # the send's outcome is unknown (timeout, disconnect, 5xx)
    REJECTED = "rejected"              # the venue definitively refused the order
    ACCEPTED = "accepted"              # the venue knows the order; open, nothing filled
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"              # canceled or expired (an IOC's unfilled rest) by the venue
    FORGOTTEN = "forgotten"            # the venue no longer knows an acknowledged, unfilled order
    NEVER_PLACED = "never_placed"      # a query after the send deadline: the venue never saw it


#: The declared lifecycle. A move not listed here is refused by ``OrderManager.apply``.
INTENT_TRANSITIONS: dict[tuple[IntentStatus, IntentEvent], IntentStatus] = {
    # committed, not (yet) known to have reached the venue
    (I.NEW, IntentEvent.SEND_REFUSED): I.NOT_SENT,
    (I.NEW, IntentEvent.SEND_UNKNOWN): I.UNKNOWN,
    (I.NEW, IntentEvent.REJECTED): I.REJECTED,
    (I.NEW, IntentEvent.ACCEPTED): I.OPEN,
    (I.NEW, IntentEvent.PARTIALLY_FILLED): I.PARTIALLY_FILLED,
    (I.NEW, IntentEvent.FILLED): I.FILLED,
    (I.NEW, IntentEvent.CANCELED): I.CANCELED,
    (I.NEW, IntentEvent.NEVER_PLACED): I.NOT_SENT,
    # the send's outcome is unknown: only the venue's answer to a query settles it
    (I.UNKNOWN, IntentEvent.REJECTED): I.REJECTED,
    (I.UNKNOWN, IntentEvent.ACCEPTED): I.OPEN,
    (I.UNKNOWN, IntentEvent.PARTIALLY_FILLED): I.PARTIALLY_FILLED,
    (I.UNKNOWN, IntentEvent.FILLED): I.FILLED,
    (I.UNKNOWN, IntentEvent.CANCELED): I.CANCELED,
    (I.UNKNOWN, IntentEvent.NEVER_PLACED): I.NOT_SENT,
    (I.UNKNOWN, IntentEvent.SEND_UNKNOWN): I.UNKNOWN,
    # working at the venue
    (I.OPEN, IntentEvent.ACCEPTED): I.OPEN,
    (I.OPEN, IntentEvent.PARTIALLY_FILLED): I.PARTIALLY_FILLED,
    (I.OPEN, IntentEvent.FILLED): I.FILLED,
    (I.OPEN, IntentEvent.CANCELED): I.CANCELED,
    (I.OPEN, IntentEvent.FORGOTTEN): I.CANCELED,
    (I.PARTIALLY_FILLED, IntentEvent.ACCEPTED): I.PARTIALLY_FILLED,       # stale "open" report
    (I.PARTIALLY_FILLED, IntentEvent.PARTIALLY_FILLED): I.PARTIALLY_FILLED,
    (I.PARTIALLY_FILLED, IntentEvent.FILLED): I.FILLED,
    (I.PARTIALLY_FILLED, IntentEvent.CANCELED): I.CANCELED,
    # final: stale and repeated reports keep the status
    (I.FILLED, IntentEvent.ACCEPTED): I.FILLED,
    (I.FILLED, IntentEvent.PARTIALLY_FILLED): I.FILLED,
    (I.FILLED, IntentEvent.FILLED): I.FILLED,
    (I.CANCELED, IntentEvent.ACCEPTED): I.CANCELED,
    (I.CANCELED, IntentEvent.PARTIALLY_FILLED): I.CANCELED,
    (I.CANCELED, IntentEvent.CANCELED): I.CANCELED,
    (I.CANCELED, IntentEvent.FORGOTTEN): I.CANCELED,
    (I.REJECTED, IntentEvent.REJECTED): I.REJECTED,
    (I.NOT_SENT, IntentEvent.SEND_REFUSED): I.NOT_SENT,
    (I.NOT_SENT, IntentEvent.NEVER_PLACED): I.NOT_SENT,
}

#: a venue order status -> the event it reports
EVENT_OF_ORDER_STATUS: dict[OrderStatus, IntentEvent] = {
    OrderStatus.OPEN: IntentEvent.ACCEPTED,
    OrderStatus.PARTIALLY_FILLED: IntentEvent.PARTIALLY_FILLED,
    OrderStatus.FILLED: IntentEvent.FILLED,
    OrderStatus.CANCELED: IntentEvent.CANCELED,
    OrderStatus.REJECTED: IntentEvent.REJECTED,
}


def next_status(status: IntentStatus, event: IntentEvent) -> IntentStatus | None:
    """The status after ``event``, or None when the move is not declared."""
    return INTENT_TRANSITIONS.get((status, event))


def mermaid() -> str:
    """The intent lifecycle as a Mermaid ``stateDiagram-v2`` (``python run.py tasks graph --orders``);
    self-moves (repeated or stale reports) are left out."""
    order = list(IntentStatus)
    lines = ["stateDiagram-v2", f"    [*] --> {I.NEW.value}"]
    moves = sorted(((s, e, d) for (s, e), d in INTENT_TRANSITIONS.items() if s is not d),
                   key=lambda m: (order.index(m[0]), order.index(m[2]), m[1].value))
    for src, event, dst in moves:
        lines.append(f"    {src.value} --> {dst.value}: {event.value}")
    for status in order:
        if status.is_final:
            lines.append(f"    {status.value} --> [*]")
    return "\n".join(lines) + "\n"


__all__ = ["EVENT_OF_ORDER_STATUS", "INTENT_TRANSITIONS", "IntentEvent", "mermaid", "next_status"]
