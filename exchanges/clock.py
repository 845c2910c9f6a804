"""The project's one clock.

Every wall-clock read in the project goes through these functions so that
``freezegun`` can drive time in tests (it patches ``time.time`` and
``time.monotonic``). Do not call ``time.time()`` or ``datetime.now()``
directly anywhere else.
"""

from __future__ import annotations

import time


def now_s() -> float:
    """Wall-clock UTC time in seconds since the epoch (float)."""
    return time.time()


def now_ms() -> int:
    """Wall-clock UTC time in integer milliseconds since the epoch."""
    return int(time.time() * 1000)


def monotonic_s() -> float:
    """Monotonic seconds, for measuring intervals (never for timestamps)."""
    return time.monotonic()
