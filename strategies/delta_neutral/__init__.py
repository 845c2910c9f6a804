"""The 3-venue delta-neutral strategy (Gate spot + MEXC spot inventory, short Gate USDT perp).

Importing the package registers :class:`DeltaNeutralTask` under ``"delta_neutral"``.
"""

from strategies.delta_neutral.config import ConfigError, DeltaNeutralConfig, load_config
from strategies.delta_neutral.task import DeltaNeutralContext, DeltaNeutralTask
from strategies.registry import register

register(DeltaNeutralTask)

__all__ = ["ConfigError", "DeltaNeutralConfig", "DeltaNeutralContext", "DeltaNeutralTask", "load_config"]
