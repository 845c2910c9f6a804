"""Read-side shapes shared by the CLI (``tasks list/show --json``) and the dashboard.

Everything here is a pure function of store records (plus the current time and a
"is this pid alive" probe), so it is tested without a database.

Lease states (``lease`` key of ``tasks list``):

* ``none``    -- no owner recorded (never started, or released after finishing/pausing).
* ``live``    -- an owner heartbeats within the lease TTL (and, on this host, its pid lives).
* ``crashed`` -- the owner ran on this host and its pid is gone (counts as expired at once).
* ``stale``   -- the owner's heartbeat is older than the TTL (other host, hung, or pid reused).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec

LEASE_TTL_S = 5.0
"""A lease whose heartbeat is older than this is expired. The owner heartbeats every ~1 s."""

PNL_KEYS = (
    "realized_pnl_usdt",
    "unrealized_pnl_usdt",
    "fees_usdt",
    "funding_usdt",
    "net_delta_base",
    "trades",
    "volume_usdt",
)

TERMINAL_STATUSES = frozenset({"completed", "stopped", "failed", "halted"})


def field(obj: Any, name: str, default: Any = None) -> Any:
    """Attribute or mapping access with a default (records may be Structs or dicts)."""
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def enum_value(value: Any) -> Any:
    """``Enum`` -> its value; anything else unchanged."""
    return getattr(value, "value", value)


def this_host() -> str:
    return socket.gethostname()


def pid_alive(pid: int | None) -> bool:
    """True when a process with this pid exists on this host and is not a zombie."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            # "pid (comm) S ..." -- the state letter follows the last ')'.
            state = fh.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return True


def lease_state(
    record: Any,
    now_ms: int,
    *,
    ttl_s: float = LEASE_TTL_S,
    host: str | None = None,
    alive: Callable[[int | None], bool] = pid_alive,
) -> str:
    """``live`` | ``stale`` | ``crashed`` | ``none`` for one task record (see module doc)."""
    owner = field(record, "owner_id")
    if not owner:
        return "none"
    owner_host = field(record, "owner_host") or ""
    if owner_host == (host if host is not None else this_host()) and not alive(field(record, "owner_pid")):
        return "crashed"
    heartbeat_ms = field(record, "heartbeat_ms") or 0
    if now_ms - heartbeat_ms > ttl_s * 1000:
        return "stale"
    return "live"


def lease_expired(record: Any, now_ms: int, **kwargs: Any) -> bool:
    """True when another process may take the task over (no live owner)."""
    return lease_state(record, now_ms, **kwargs) != "live"


def parse_json(text: Any, default: Any) -> Any:
    """Decode a JSON text column (already-decoded values pass through)."""
    if text is None or text == "":
        return default
    if not isinstance(text, (str, bytes)):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return default


def pnl_of(record: Any) -> dict[str, str]:
    """The persisted PnL dict of a task with every standard key present ("0" if absent)."""
    pnl = parse_json(field(record, "pnl"), {}) or {}
    out = {key: str(pnl.get(key, "0")) for key in PNL_KEYS}
    for key, value in pnl.items():
        out.setdefault(key, str(value))
    return out


def net_pnl(pnl: Mapping[str, Any]) -> Decimal:
    """Net PnL in USDT: realized + unrealized - fees + funding (absent or malformed parts count 0).

    The one definition every view uses (``tasks list/show``, the dashboard, the summary); it is
    the ledger's own ``net_pnl_usdt`` (strategies/delta_neutral/ledger.py)."""
    parts = [dec(pnl.get(k)) or Decimal(0) for k in
             ("realized_pnl_usdt", "unrealized_pnl_usdt", "fees_usdt", "funding_usdt")]
    return parts[0] + parts[1] - parts[2] + parts[3]


def money(value: Any, places: int = 4) -> str:
    """USDT for people: fixed ``places`` decimals (default 4), no exponent; ``-`` when absent.
    The stored value stays exact; only the display rounds."""
    d = dec(value)
    if d is None:
        return "-"
    return f"{d:.{places}f}"


def quantity(value: Any, places: int | None = None) -> str:
    """A base quantity for people: exact (or rounded to ``places`` decimals), without exponent or
    trailing zeros; ``-`` when absent."""
    d = dec(value)
    if d is None:
        return "-"
    if places is not None:
        d = round(d, places)
    if d == d.to_integral_value():
        return f"{d:.0f}"
    return format(d.normalize(), "f")


def to_builtins(value: Any) -> Any:
    """msgspec Structs/enums/Decimals -> JSON-ready builtins (Decimals as strings)."""
    return msgspec.to_builtins(value)


def task_summary(record: Any, now_ms: int, **lease_kwargs: Any) -> dict[str, Any]:
    """One element of ``tasks list --json``."""
    pnl = pnl_of(record)
    return {
        "task_id": field(record, "task_id"),
        "strategy": field(record, "strategy"),
        "symbol": field(record, "symbol"),
        "mode": field(record, "mode"),
        "status": enum_value(field(record, "status")),
        "state": enum_value(field(record, "state")),
        "created_at": iso_ms(field(record, "created_ms")),
        "updated_at": iso_ms(field(record, "updated_ms")),
        "created_ms": field(record, "created_ms"),
        "updated_ms": field(record, "updated_ms"),
        "state_entered_ms": field(record, "state_entered_ms"),
        "owner_pid": field(record, "owner_pid"),
        "owner_host": field(record, "owner_host"),
        "heartbeat_ms": field(record, "heartbeat_ms"),
        "lease": lease_state(record, now_ms, **lease_kwargs),
        "version": field(record, "version"),
        "realized_pnl_usdt": pnl["realized_pnl_usdt"],
        "unrealized_pnl_usdt": pnl["unrealized_pnl_usdt"],
        "fees_usdt": pnl["fees_usdt"],
        "funding_usdt": pnl["funding_usdt"],
        "net_pnl_usdt": str(net_pnl(pnl)),
        "net_delta_base": pnl["net_delta_base"],
        "trades": pnl["trades"],
        "volume_usdt": pnl["volume_usdt"],
        "last_error": field(record, "last_error") or "",
    }


def task_detail(
    record: Any,
    *,
    intents: Iterable[Any],
    fills: Iterable[Any],
    funding: Iterable[Any],
    transitions: Iterable[Any],
    now_ms: int,
    **lease_kwargs: Any,
) -> dict[str, Any]:
    """The object printed by ``tasks show --json``."""
    out = task_summary(record, now_ms, **lease_kwargs)
    out["config"] = parse_json(field(record, "config"), {})
    out["context"] = parse_json(field(record, "context"), {})
    out["pnl"] = pnl_of(record)
    out["order_intents"] = [to_builtins(i) for i in intents]
    out["fills"] = [to_builtins(f) for f in fills]
    out["funding"] = [to_builtins(f) for f in funding]
    out["transitions"] = [to_builtins(t) for t in transitions]
    return out


def iso_ms(ms: Any) -> str | None:
    """Epoch milliseconds -> ISO-8601 UTC with milliseconds (``None`` stays ``None``)."""
    if ms is None:
        return None
    from datetime import datetime, timezone

    return datetime.fromtimestamp(int(ms) / 1000, tz=timezone.utc).isoformat(timespec="milliseconds")


def dec(value: Any) -> Decimal | None:
    """Parse a decimal-ish value; None when absent or malformed."""
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def pnl_summary(record: Any, *, outcome: str = "finished", exit_status: int | None = None) -> dict[str, Any]:
    """The end-of-run summary as one JSON-ready object (``start --json`` and friends): id, status,
    state, outcome, exit status, the exact PnL strings, ``net_pnl_usdt`` and the reason."""
    pnl = pnl_of(record)
    out: dict[str, Any] = {
        "task_id": field(record, "task_id"),
        "status": enum_value(field(record, "status")),
        "state": enum_value(field(record, "state")),
        "outcome": outcome,
        "exit_status": exit_status,
    }
    out.update({k: pnl[k] for k in PNL_KEYS})
    out["net_pnl_usdt"] = str(net_pnl(pnl))
    out["last_error"] = field(record, "last_error") or ""
    return out


def pnl_summary_lines(record: Any) -> list[str]:
    """Human summary printed when ``start``/``resume`` finishes; money to 4 decimals, and the
    last line is the net PnL."""
    pnl = pnl_of(record)
    return [
        f"task {field(record, 'task_id')} {enum_value(field(record, 'status'))} "
        f"(state {enum_value(field(record, 'state'))})",
        f"  trades {pnl['trades']}  volume {money(pnl['volume_usdt'])} USDT",
        f"  realized PnL {money(pnl['realized_pnl_usdt'])} USDT  unrealized PnL "
        f"{money(pnl['unrealized_pnl_usdt'])} USDT",
        f"  fees {money(pnl['fees_usdt'])} USDT  funding {money(pnl['funding_usdt'])} USDT",
        f"  final net delta {quantity(pnl['net_delta_base'])} base",
        f"net PnL {money(net_pnl(pnl))} USDT (realized + unrealized - fees + funding)",
    ]
