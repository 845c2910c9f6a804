"""The trade log: one INFO line per order event, written by the order manager
(:class:`strategies.execution.orders.OrderManager`) on the ``arb.trade`` logger.

Every order sent, acknowledged, filled (each fill), cancelled, rejected or resolved by query is
written as ONE log record by :func:`trade_log`::

    from strategies.execution.tradelog import TradeEvent, trade_log

    trade_log(log, TradeEvent.FILLED, task_id=task.task_id, venue=VenueId.GATE_SPOT,
              client_order_id="arb3f9c2a71d0be000007", side=Side.BUY, qty=Decimal("120"),
              price=Decimal("0.04951"), fee=Decimal("0.0059412"), fee_asset="USDT", trade_id="88123")

prints (plain log file)::

    2026-01-01 00:00:00,000 INFO    strategies.delta_neutral: trade filled task=3f9c2a71d0be venue=gate_spot
    client_order_id=arb3f9c2a71d0be000007 side=buy qty=120 price=0.04951 fee=0.0059412 USDT trade_id=88123

(one line) and, with ``--log-json``, one JSON object whose top-level keys are ``event``, ``task_id``,
``venue``, ``client_order_id``, ``side``, ``qty``, ``price``, ``fee``, ``fee_asset`` and every extra
keyword (decimals as strings, exact). The record carries those fields in its ``arb_fields`` attribute
(:data:`FIELDS_ATTR`); :class:`taskmanager.logsetup.JsonLinesFormatter` emits them.

Secrets: the handlers' redaction filter (:class:`taskmanager.logsetup.SecretRedactor`) applies to the
line and to every string field, so a key that slipped into a field still never reaches a file.
This module only uses the standard library, so any layer may import it.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from enum import Enum
from typing import Any

#: LogRecord attribute holding the structured fields of a trade-log (or any) record.
FIELDS_ATTR = "arb_fields"


class TradeEvent(str, Enum):
    """What happened to an order (the word after ``trade`` in the line)."""

    SENT = "sent"  # the request left the process (its intent was committed first)
    ACKED = "acked"  # the venue accepted it (venue order id known)
    FILLED = "filled"  # one fill (execution): one line per fill, with its trade id
    CANCELLED = "cancelled"  # cancelled (by us, by IOC expiry, or by the venue)
    REJECTED = "rejected"  # the venue (or a local check) refused it: definitive
    RESOLVED = "resolved"  # an unknown outcome settled by querying the venue by client order id
    UNKNOWN = "unknown"  # the send's outcome is unknown (timeout, 5xx): settled later by query
    NOT_SENT = "not_sent"  # never sent (refused locally) or proved never placed


def field_text(value: Any) -> str:
    """A field as it appears in the line: enums by value, Decimals exact without exponent."""
    value = getattr(value, "value", value)
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _json_value(value: Any) -> Any:
    value = getattr(value, "value", value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return field_text(value)


def trade_log(
    logger: logging.Logger,
    event: TradeEvent,
    *,
    task_id: str,
    venue: Any,
    client_order_id: str,
    side: Any,
    qty: Any,
    price: Any,
    fee: Any = None,
    fee_asset: str = "",
    **extra: Any,
) -> None:
    """Write ONE INFO record for an order event (see module docstring for the shape).

    ``venue`` and ``side`` may be enums (their value is used) or strings; ``qty``, ``price`` and
    ``fee`` Decimals (or None when unknown, e.g. a market order's price: shown as ``-``).
    ``extra`` keywords (``trade_id``, ``venue_order_id``, ``status``, ``filled_qty``, ``reason``,
    ...) are appended as ``key=value`` in the order given; None values are left out. Never raises
    for a value it cannot format (the log must not break trading)."""
    fields: dict[str, Any] = {
        "event": _json_value(event), "task_id": task_id, "venue": _json_value(venue),
        "client_order_id": client_order_id, "side": _json_value(side), "qty": _json_value(qty),
        "price": _json_value(price),
    }
    if fee is not None:
        fields["fee"] = _json_value(fee)
        fields["fee_asset"] = fee_asset
    for key, value in extra.items():
        if value is not None:
            fields[key] = _json_value(value)
    parts = [f"trade {fields['event']}", f"task={task_id}", f"venue={fields['venue']}",
             f"client_order_id={client_order_id}", f"side={fields['side']}",
             f"qty={'-' if qty is None else field_text(qty)}", f"price={'-' if price is None else field_text(price)}"]
    if fee is not None:
        parts.append(f"fee={field_text(fee)}{' ' + fee_asset if fee_asset else ''}")
    for key, value in extra.items():
        if value is not None:
            text = field_text(value)
            parts.append(f"{key}={' '.join(text.split()) or '-'}")  # one line, always
    logger.info(" ".join(parts), extra={FIELDS_ATTR: fields})
