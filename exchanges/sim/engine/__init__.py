"""The simulator's engine: books (:mod:`.book`), matching (:mod:`.match`),
accounts and fills (:mod:`.ledger`), persistence (:mod:`.store`) and value
types (:mod:`.types`), driven by :class:`~exchanges.sim.engine.core.SimEngine`.

This package knows nothing about any venue's wire format; the protocol
packages (:mod:`exchanges.sim.gate`, :mod:`exchanges.sim.mexc`) call it.
"""

from exchanges.sim.engine.core import SimEngine

__all__ = ["SimEngine"]
