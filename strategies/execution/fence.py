"""The lease fence: no order request leaves a process that cannot prove it holds the task's lease.

A takeover happens only once the owner's heartbeat is older than the lease TTL (or its pid is
dead). The owner therefore may send while its last *confirmed* heartbeat is younger than the TTL
minus a safety margin, measured on the monotonic clock: a process frozen (SIGSTOP, a VM pause, a
long GC) past that point refuses every send when it wakes up, before its supervisor even notices
that the lease is gone. The runner confirms the fence with the monotonic time at which each
successful heartbeat was *issued* (earlier than the row's stored time, so conservative).

Each intent also carries a send deadline (wall clock, ms) after which it is never sent; the same
deadline goes to the venue with the request (Gate ``X-Gate-Exptime``, MEXC ``recvWindow``: see
docs/venues.md), so a request that leaves just before a freeze and arrives late is refused by
the venue itself. A new owner declares an unresolved intent never-placed only after its deadline
(plus :data:`CLOCK_SKEW_MARGIN_MS`) has passed and a query by client order id finds nothing
(docs/design.md section 6, invariant 4).
"""

from __future__ import annotations

from exchanges import clock

#: the lease TTL of the runner (``taskmanager``): a heartbeat older than this is expired
DEFAULT_LEASE_TTL_S = 5.0
#: sends stop this long before the lease could be taken over (heartbeat write latency, clock rate)
FENCE_MARGIN_S = 1.5
#: an intent not sent within this time of its commit is never sent (and the venue refuses it)
SEND_WINDOW_MS = 3000
#: a new owner waits this much past an intent's send deadline before trusting "no such order"
#: (hosts' wall clocks may disagree by this much; the venue judges the deadline by its own clock)
CLOCK_SKEW_MARGIN_MS = 2000


class LeaseFence:
    """Whether this process may send orders for one task right now.

    ``ttl_s``: the lease TTL; sends are allowed while the last confirmed heartbeat is younger
    than ``ttl_s - margin_s`` (monotonic seconds). Not confirmed yet (or :meth:`lose` called):
    every send is refused.
    """

    def __init__(self, ttl_s: float = DEFAULT_LEASE_TTL_S, margin_s: float = FENCE_MARGIN_S) -> None:
        self.ttl_s = ttl_s
        self.margin_s = margin_s
        self._confirmed_mono: float | None = None
        self._lost = False

    def confirm(self, issued_mono: float) -> None:
        """A heartbeat (or lease acquisition) issued at monotonic ``issued_mono`` succeeded."""
        if self._confirmed_mono is None or issued_mono > self._confirmed_mono:
            self._confirmed_mono = issued_mono
        self._lost = False

    def lose(self) -> None:
        """The lease is gone (a heartbeat found another owner): refuse every send from now on."""
        self._lost = True

    def valid_for_s(self, now_mono: float | None = None) -> float:
        """Seconds for which sends remain allowed (<= 0: refused now)."""
        if self._lost or self._confirmed_mono is None:
            return 0.0
        now = clock.monotonic_s() if now_mono is None else now_mono
        return self._confirmed_mono + self.ttl_s - self.margin_s - now

    def refusal(self, now_mono: float | None = None) -> str | None:
        """Why a send must not leave now, or None when the lease is provably held."""
        if self._lost:
            return "lease lost: another process owns the task"
        if self._confirmed_mono is None:
            return "lease not confirmed by a heartbeat yet"
        now = clock.monotonic_s() if now_mono is None else now_mono
        age = now - self._confirmed_mono
        if age >= self.ttl_s - self.margin_s:
            return f"lease not confirmed for {age:.1f} s (TTL {self.ttl_s:g} s): this process may have lost it"
        return None


def send_deadline_ms(created_ms: int) -> int:
    """The wall-clock deadline (ms) after which an intent committed at ``created_ms`` is never sent."""
    return created_ms + SEND_WINDOW_MS


__all__ = ["CLOCK_SKEW_MARGIN_MS", "DEFAULT_LEASE_TTL_S", "FENCE_MARGIN_S", "LeaseFence", "SEND_WINDOW_MS",
           "send_deadline_ms"]
