"""What every simulator protocol layer receives: the engine, the faults and
run metadata. Protocol modules expose ``setup_routes(app, ctx)`` (or similar)
and read everything through this object."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from exchanges import clock
from exchanges.sim.engine import SimEngine
from exchanges.sim.faults import Faults


@dataclass
class SimContext:
    """``engine`` and ``faults`` are shared by all venues of one simulator
    process; ``scenario`` names the replayed scenario (or "" / "paper");
    ``started_ms`` is the process start time (epoch ms)."""

    engine: SimEngine
    faults: Faults = field(default_factory=Faults)
    scenario: str = ""
    started_ms: int = field(default_factory=clock.now_ms)
    shutdown_requested: bool = False
    replayer: Any = None  # exchanges.sim.recording.replay.Replayer when replaying
    paper_feed: Any = None  # exchanges.sim.recording.paper.PaperFeed in paper mode
    #: (venue, symbol, last update id, perf_counter_ns) of each aggregated public push (MEXC
    #: ``aggre`` topics are sent once per interval, not at once): when a book change actually
    #: left the simulator; read by ``GET /_sim/book_log`` (``pushed_perf_ns``).
    push_log: deque = field(default_factory=lambda: deque(maxlen=4000))
