"""How long and how often an edge was executable during a scan window (pure, no clock).

The caller feeds :meth:`EdgeWindow.observe` with its own timestamps (monotonic seconds) each
time a book of the symbol changes; the state observed holds until the next observation. Time
before the first observation counts as not executable (nothing was known), so a symbol whose
books never arrived scores zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class WindowFigures:
    """``duration_s`` of the window; ``share``: fraction of it (0..1) the edge was executable;
    ``openings``: how many times it became executable; ``longest_open_s``: the longest
    stretch; ``max_edge_bps``: the best edge seen (None if never computable); ``updates``:
    book updates observed."""

    duration_s: float
    share: float
    openings: int
    longest_open_s: float
    max_edge_bps: Decimal | None
    updates: int


class EdgeWindow:
    """Accumulates one symbol's executable time over a window starting at ``start_s``."""

    __slots__ = ("start_s", "_last_s", "_open", "_open_since_s", "_open_total_s", "_openings", "_longest_s",
                 "_max_edge", "updates")

    def __init__(self, start_s: float) -> None:
        self.start_s = start_s
        self._last_s = start_s
        self._open = False
        self._open_since_s = start_s
        self._open_total_s = 0.0
        self._openings = 0
        self._longest_s = 0.0
        self._max_edge: Decimal | None = None
        self.updates = 0

    def observe(self, t_s: float, executable: bool, edge_bps: Decimal | None) -> None:
        """Record the state at ``t_s`` (>= the previous observation; earlier times are clamped)."""
        t_s = max(t_s, self._last_s)
        self.updates += 1
        if edge_bps is not None and (self._max_edge is None or edge_bps > self._max_edge):
            self._max_edge = edge_bps
        if self._open:
            self._open_total_s += t_s - self._last_s
        if executable and not self._open:
            self._openings += 1
            self._open_since_s = t_s
        elif self._open and not executable:
            self._longest_s = max(self._longest_s, t_s - self._open_since_s)
        self._open = executable
        self._last_s = t_s

    def rebase(self, start_s: float) -> None:
        """Start the window at ``start_s`` from the state observed so far (an edge already
        executable counts as open from ``start_s``, one opening); accumulated time is dropped,
        updates and the best edge are kept."""
        self.start_s = start_s
        self._last_s = max(self._last_s, start_s)
        self._open_since_s = self._last_s
        self._open_total_s = 0.0
        self._longest_s = 0.0
        self._openings = 1 if self._open else 0

    def figures(self, end_s: float) -> WindowFigures:
        """The figures of the window ``[start_s, end_s]`` (the last state held until ``end_s``)."""
        end_s = max(end_s, self._last_s)
        total_open = self._open_total_s
        longest = self._longest_s
        if self._open:
            total_open += end_s - self._last_s
            longest = max(longest, end_s - self._open_since_s)
        duration = end_s - self.start_s
        share = min(1.0, total_open / duration) if duration > 0 else 0.0
        return WindowFigures(duration_s=duration, share=share, openings=self._openings, longest_open_s=longest,
                             max_edge_bps=self._max_edge, updates=self.updates)
