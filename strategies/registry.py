"""Strategy registry: name -> StrategyTask subclass.

Strategies register themselves on import (``register(cls)``); :func:`get`
imports the bundled strategy packages lazily so the CLI can list and resume
tasks of any registered strategy.
"""

from __future__ import annotations

import importlib

from strategies.base import StrategyTask

_REGISTRY: dict[str, type[StrategyTask]] = {}
_BUNDLED = ("strategies.delta_neutral",)


def register(cls: type[StrategyTask]) -> type[StrategyTask]:
    """Register a task class under its ``strategy_name`` (usable as a decorator)."""
    _REGISTRY[cls.strategy_name] = cls
    return cls


def _load_bundled() -> None:
    for module in _BUNDLED:
        importlib.import_module(module)


def get(name: str) -> type[StrategyTask]:
    """The task class for ``name``; raises KeyError listing the known names."""
    if name not in _REGISTRY:
        _load_bundled()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown strategy {name!r}; known: {', '.join(sorted(_REGISTRY)) or 'none'}") from None


def names() -> list[str]:
    """Names of every registered strategy (the bundled ones included)."""
    _load_bundled()
    return sorted(_REGISTRY)
