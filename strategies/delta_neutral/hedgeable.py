"""Hedgeable or refused: a position the perp cannot hedge in whole contracts is refused at ``start``.

The perp hedges in whole contracts (``contract_multiplier`` base each, Gate ``quanto_multiplier``:
docs in the Gate API v4 ``Contract`` model), rounded toward zero, so up to one contract of the spot
inventory always stays unhedged. A configuration is hedgeable when one contract is worth at most
``max_unhedged_fraction`` of ``position_usdt``; otherwise ``start`` refuses it with one line naming
the smallest ``position_usdt`` that works at the contract's multiplier and the current price
(exit 2, nothing created). A residual below one contract that remains during a run (a single leg
smaller than a contract) is reported as such (:func:`strategies.delta_neutral.report.delta_text`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import ROUND_CEILING, Decimal

from exchanges.models import Symbol, VenueId
from exchanges.venue import Venue, VenueError

from strategies.delta_neutral.config import DeltaNeutralConfig

log = logging.getLogger(__name__)
PERP = VenueId.GATE_PERP


def contract_value_usdt(contract_multiplier: Decimal, price: Decimal) -> Decimal:
    """Notional of one perp contract (USDT): multiplier x price."""
    return contract_multiplier * price


def smallest_position_usdt(contract_multiplier: Decimal, price: Decimal, max_unhedged_fraction: Decimal) -> Decimal:
    """The smallest whole-USDT ``position_usdt`` for which one contract is at most
    ``max_unhedged_fraction`` of it: ceil(multiplier x price / fraction). Raises ValueError for a
    non-positive fraction."""
    if max_unhedged_fraction <= 0:
        raise ValueError("max_unhedged_fraction must be > 0")
    need = contract_value_usdt(contract_multiplier, price) / max_unhedged_fraction
    return max(Decimal(1), need.to_integral_value(rounding=ROUND_CEILING))


def hedge_refusal(config: DeltaNeutralConfig, contract_multiplier: Decimal, price: Decimal,
                  contract: str) -> str | None:
    """Why ``config`` cannot be hedged in whole contracts of ``contract`` at ``price`` (one line,
    naming the smallest position_usdt that works), or None when it can. A non-positive price or
    multiplier (nothing known) is not a reason to refuse."""
    if price <= 0 or contract_multiplier <= 0:
        return None
    one = contract_value_usdt(contract_multiplier, price)
    if one <= config.max_unhedged_fraction * config.position_usdt:
        return None
    least = smallest_position_usdt(contract_multiplier, price, config.max_unhedged_fraction)
    return (f"position_usdt: {config.position_usdt} cannot be hedged in whole perp contracts: one {contract} "
            f"contract is {contract_multiplier} {config.symbol_obj.base} = {one:.4f} USDT at {price}, more than "
            f"max_unhedged_fraction {config.max_unhedged_fraction} of the position; the smallest position_usdt "
            f"that works is {least}")


async def start_refusal(config: DeltaNeutralConfig, venues: Mapping[VenueId, Venue]) -> str | None:
    """Ask the perp venue for the contract's multiplier and mark price and check the configuration
    (:func:`hedge_refusal`). A venue that cannot be asked is not a reason to refuse: the task's
    SYNCING reports it. The perp venue is closed again either way (the task connects for itself)."""
    venue = venues.get(PERP)
    if venue is None:
        return None
    symbol: Symbol = config.symbol_obj
    connectors = logging.getLogger("exchanges")
    level = connectors.level
    connectors.setLevel(max(level, logging.WARNING))  # the task's own start logs the connection
    try:
        await venue.start()
        info = await venue.symbol_info(symbol)
        funding = await venue.funding_rate(symbol)
    except (VenueError, OSError) as exc:
        log.warning("start check: %s unavailable (%s: %s); the task will report it", PERP.value,
                    type(exc).__name__, exc)
        return None
    finally:
        await venue.close()  # the task connects for itself (and a refused start leaves nothing open)
        connectors.setLevel(level)
    price = (funding.mark_price or funding.index_price) if funding is not None else Decimal(0)
    return hedge_refusal(config, info.contract_multiplier, price, info.venue_symbol)


__all__ = ["contract_value_usdt", "hedge_refusal", "smallest_position_usdt", "start_refusal"]
