"""Crash points: a test proxy that SIGKILLs the runner around ``place_order``.

Injected into runner processes by ``tests/e2e/crashhook/sitecustomize.py`` (that directory first
on ``PYTHONPATH``), which wraps ``exchanges.factory.build_venues``; the product has no hook.

Used by the end-to-end crash harness (``tests/e2e``) to kill a runner process at
the two places crash safety is hardest (docs/design.md section 6, invariants 1-3):

* ``before_send``: the strategy has committed the order intent (invariant 1) and
  called ``place_order``, but the request has not left the process. On resume the
  intent must be found unknown to the venue and settled as never sent.
* ``after_send``: the request went out and the venue's response came back, but the
  process dies before the caller sees it. On resume the order must be found at
  the venue by its client order id (never sent again) and its fills booked.

``ARB_CRASH_AT`` selects the point (unset or empty = no proxy at all):

* ``before_send:N`` / ``after_send:N`` -- on the N-th ``place_order`` call of
  this process (counted across all three venues, N >= 1);
* ``random:P`` -- each ``place_order`` kills with probability P (0 <= P <= 1),
  at ``before_send`` or ``after_send`` with equal odds; the generator is seeded
  with ``ARB_CRASH_SEED`` (an integer; default: unseeded).

Before killing, one line ``crashpoint: SIGKILL at <point> (place_order #N,
<venue> <client order id>)`` is written to stderr so a harness can tell which
point fired. The kill is ``os.kill(os.getpid(), SIGKILL)``: no cleanup, no
``finally`` blocks, no flush of anything but that line -- a real crash.
"""

from __future__ import annotations

import os
import random
import signal
import sys
from collections.abc import Mapping
from typing import Any

from exchanges.models import Order, OrderRequest, VenueId
from exchanges.venue import Venue

ENV_AT = "ARB_CRASH_AT"
ENV_SEED = "ARB_CRASH_SEED"
POINTS = ("before_send", "after_send")


class CrashSpecError(ValueError):
    """``ARB_CRASH_AT`` is malformed; the message names the variable and the accepted forms."""


class CrashPlan:
    """When to kill: parsed ``ARB_CRASH_AT`` (+ ``ARB_CRASH_SEED``), shared by the wrapped venues.

    ``decide()`` is called once per ``place_order`` and returns the point to kill at
    (``"before_send"`` / ``"after_send"``) or None, and the 1-based call number.
    """

    def __init__(self, spec: str, seed: str | None = None) -> None:
        kind, sep, arg = spec.strip().partition(":")
        self.kind = kind.strip().lower()
        self.calls = 0
        self.nth = 0
        self.probability = 0.0
        self._rng: random.Random | None = None
        try:
            if not sep:
                raise ValueError("missing ':'")
            if self.kind in POINTS:
                self.nth = int(arg)
                if self.nth < 1:
                    raise ValueError("N must be >= 1")
            elif self.kind == "random":
                self.probability = float(arg)
                if not 0.0 <= self.probability <= 1.0:
                    raise ValueError("P must be within [0, 1]")
                self._rng = random.Random(int(seed)) if seed not in (None, "") else random.Random()
            else:
                raise ValueError(f"unknown point {self.kind!r}")
        except ValueError as exc:
            raise CrashSpecError(f"{ENV_AT}={spec!r}: {exc}; use before_send:N, after_send:N or random:P") from None

    def decide(self) -> tuple[str | None, int]:
        """Count one ``place_order`` call; the point to kill at (or None) and the call number."""
        self.calls += 1
        if self.kind in POINTS:
            return (self.kind if self.calls == self.nth else None), self.calls
        assert self._rng is not None
        if self._rng.random() < self.probability:
            return POINTS[self._rng.randrange(2)], self.calls
        return None, self.calls


def _die(point: str, call_no: int, venue: str, client_order_id: str) -> None:
    """Write one line to stderr, then SIGKILL this process (never returns)."""
    try:
        sys.stderr.write(f"crashpoint: SIGKILL at {point} (place_order #{call_no}, {venue} {client_order_id})\n")
        sys.stderr.flush()
    finally:
        os.kill(os.getpid(), signal.SIGKILL)


class CrashingVenue:
    """A :class:`~exchanges.venue.Venue` proxy that may SIGKILL the process around ``place_order``.

    Every other attribute and method is the wrapped venue's own (``__getattr__``).
    """

    def __init__(self, inner: Venue, plan: CrashPlan) -> None:
        self._inner = inner
        self._plan = plan
        self.venue_id = inner.venue_id
        self.market_type = inner.market_type

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def place_order(self, request: OrderRequest) -> Order:
        """The wrapped ``place_order``, with a kill before the request or after its response."""
        point, call_no = self._plan.decide()
        cid = request.client_order_id
        if point == "before_send":
            _die(point, call_no, self.venue_id.value, cid)
        try:
            order = await self._inner.place_order(request)
        except Exception:
            if point == "after_send":  # the response (an error) came back: die before the caller sees it
                _die(point, call_no, self.venue_id.value, cid)
            raise
        if point == "after_send":
            _die(point, call_no, self.venue_id.value, cid)
        return order


def plan_from_env(env: Mapping[str, str] | None = None) -> CrashPlan | None:
    """The crash plan of ``ARB_CRASH_AT`` (None when unset or empty). Raises CrashSpecError."""
    env = os.environ if env is None else env
    spec = env.get(ENV_AT, "")
    if not spec.strip():
        return None
    return CrashPlan(spec, env.get(ENV_SEED))


def wrap_venues(venues: dict[VenueId, Venue], plan: CrashPlan | None) -> dict[VenueId, Venue]:
    """``venues`` wrapped in :class:`CrashingVenue` sharing ``plan``; ``venues`` itself when plan is None."""
    if plan is None:
        return venues
    return {vid: CrashingVenue(v, plan) for vid, v in venues.items()}  # type: ignore[misc]
