"""The task FSM, declared once as data: the nine states and every edge (``transitions`` format).

Check it against docs/design.md section 5 at a glance; :mod:`strategies.base` builds the machine of
every task from it and applies each edge at one choke point (``StrategyTask.step``).
"""

from __future__ import annotations

from typing import Any

from transitions import Machine

from state.records import State

S = State

#: The one declaration of the task FSM (``transitions`` format).
TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "start", "source": S.IDLE.value, "dest": S.SYNCING.value},
    {"trigger": "synced", "source": S.SYNCING.value, "dest": S.ANALYZING.value},
    {"trigger": "rebalance", "source": S.ANALYZING.value, "dest": S.REBALANCING.value},
    {"trigger": "trade", "source": S.ANALYZING.value, "dest": S.MANAGING_ORDERS.value},
    {"trigger": "idle", "source": S.ANALYZING.value, "dest": S.MONITORING.value},
    {"trigger": "orders_planned", "source": S.REBALANCING.value, "dest": S.MANAGING_ORDERS.value},
    {"trigger": "nothing_to_do", "source": S.REBALANCING.value, "dest": S.MONITORING.value},
    {"trigger": "orders_sent", "source": S.MANAGING_ORDERS.value, "dest": S.WAITING_ORDERS.value},
    {"trigger": "orders_settled", "source": S.WAITING_ORDERS.value, "dest": S.ANALYZING.value},
    {"trigger": "signal", "source": S.MONITORING.value, "dest": S.ANALYZING.value},
    {"trigger": "exit", "source": [S.SYNCING.value, S.ANALYZING.value, S.MONITORING.value],
     "dest": S.COMPLETING.value},
    {"trigger": "stop", "source": [S.SYNCING.value, S.ANALYZING.value, S.REBALANCING.value, S.MONITORING.value],
     "dest": S.COMPLETING.value},
    {"trigger": "pause", "source": [S.SYNCING.value, S.ANALYZING.value, S.MONITORING.value],
     "dest": S.IDLE.value},
    {"trigger": "completed", "source": S.COMPLETING.value, "dest": S.FINALIZING.value},
]

#: States in which a pending stop request is taken at once by ``step()``
#: (no order of ours is in flight there). Elsewhere the handler first settles.
STOP_INTERRUPTIBLE = frozenset({S.ANALYZING, S.REBALANCING, S.MONITORING})
#: States in which a pending pause request is taken at once.
PAUSE_INTERRUPTIBLE = frozenset({S.ANALYZING, S.MONITORING})


def declared_edges() -> set[tuple[str, str, str]]:
    """All (source, trigger, dest) triples of :data:`TRANSITIONS`."""
    edges = set()
    for t in TRANSITIONS:
        sources = t["source"] if isinstance(t["source"], list) else [t["source"]]
        for src in sources:
            edges.add((src, t["trigger"], t["dest"]))
    return edges


def build_machine(model: Any = None, initial: State = S.IDLE) -> Machine:
    """A ``transitions`` Machine over the nine states; the model's current
    state lives in its ``fsm_state`` attribute. Unknown edges raise MachineError."""
    return Machine(
        model=model if model is not None else "self",
        states=[s.value for s in State],
        transitions=TRANSITIONS,
        initial=initial.value,
        auto_transitions=False,
        model_attribute="fsm_state",
        ignore_invalid_triggers=False,
    )


def mermaid() -> str:
    """The FSM as a Mermaid ``stateDiagram-v2`` (``python run.py tasks graph``)."""
    lines = ["stateDiagram-v2", f"    [*] --> {S.IDLE.value}"]
    for src, trigger, dest in sorted(declared_edges(), key=lambda e: (list(State).index(State(e[0])), e[1])):
        lines.append(f"    {src} --> {dest}: {trigger}")
    lines.append(f"    {S.FINALIZING.value} --> [*]")
    return "\n".join(lines) + "\n"


__all__ = ["PAUSE_INTERRUPTIBLE", "STOP_INTERRUPTIBLE", "TRANSITIONS", "build_machine", "declared_edges", "mermaid"]
