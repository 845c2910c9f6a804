"""Pure arithmetic of the scanner: cross-spot edge, top-of-book depth, hedge, funding, basis.

No I/O, no clock. Decimal throughout, so tiny prices (0.000035) and large contract
multipliers (10000) stay exact. Units are in the names: ``_bps``, ``_usdt``, ``_base``
(base units), ``_contracts`` (perp contracts; one contract = ``contract_multiplier`` base
units, Gate ``quanto_multiplier``, docs/venues.md section 1.7), ``_pct``.

The edge, the rounding and the minimum checks are the strategy's own functions
(``strategies/delta_neutral/policy.py``: ``edge_bps``, ``gross_spread_bps``, ``floor_to_step``,
``common_floor``, ``meets_minimums``), so a scan ranks by exactly what a task would trade on:
sell at the bid on one spot venue, buy at the ask on the other, net of both taker fees, in bps
of the buy cost; sizes round DOWN to each venue's step; nothing is rounded up to a minimum.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from exchanges.discovery.types import Market, Quote
from exchanges.models import SymbolInfo, VenueId
from strategies.delta_neutral.policy import common_floor, edge_bps, floor_to_step, gross_spread_bps, meets_minimums

__all__ = ["Direction", "Hedge", "basis_bps", "common_floor", "direction", "edge_bps", "floor_to_step",
           "funding_apr_pct", "funding_bps", "gross_spread_bps", "hedge", "meets_minimums", "mid", "min_order_usdt"]

ZERO = Decimal(0)
ONE = Decimal(1)
BPS = Decimal(10000)
HUNDRED = Decimal(100)
CENT = Decimal("0.01")
SECONDS_PER_YEAR = 365 * 24 * 3600


def min_order_usdt(info: SymbolInfo, price: Decimal) -> Decimal:
    """Smallest order notional (USDT) ``info`` accepts at ``price``: the larger of its minimum
    notional and its minimum size times price (times the multiplier on the perp)."""
    return max(info.min_notional, info.min_size * info.contract_multiplier * price)


@dataclass(frozen=True, slots=True)
class Direction:
    """One cross-spot trade: sell on ``sell_venue`` at its bid, buy on ``buy_venue`` at its ask.

    ``edge_bps`` net of both taker fees, ``spread_bps`` before them, ``fees_bps`` both taker
    fees. ``sell_top_usdt``/``buy_top_usdt``: notional shown at the two tops; ``depth_usdt``
    the smaller. ``trade_qty_base``: what one trade could take (both tops, ``max_order_usdt``
    at the ask, rounded down to both steps); ``trade_usdt`` its cost at the ask;
    ``min_order_usdt`` the larger of the two legs' minimum orders; ``depth_ok`` when the trade
    meets every minimum of both legs; ``edge_usdt`` what one such trade nets (USDT)."""

    sell_venue: VenueId
    buy_venue: VenueId
    edge_bps: Decimal
    spread_bps: Decimal
    fees_bps: Decimal
    sell_top_usdt: Decimal
    buy_top_usdt: Decimal
    depth_usdt: Decimal
    trade_qty_base: Decimal
    trade_usdt: Decimal
    min_order_usdt: Decimal
    depth_ok: bool
    edge_usdt: Decimal


def direction(sell: Market, buy: Market, max_order_usdt: Decimal) -> Direction | None:
    """The trade selling on ``sell`` and buying on ``buy`` (spot markets, sizes in base), or
    None when either book is missing or not positive."""
    sq, bq = sell.quote, buy.quote
    if sq is None or bq is None or sq.bid <= 0 or bq.ask <= 0:
        return None
    s_info, b_info = sell.info, buy.info
    edge = edge_bps(sq.bid, bq.ask, s_info.taker_fee_rate, b_info.taker_fee_rate)
    cap_base = min(sq.bid_qty, bq.ask_qty, max_order_usdt / bq.ask)
    qty = common_floor(max(cap_base, ZERO), [s_info.size_step, b_info.size_step])
    depth_ok = meets_minimums(s_info, qty, sq.bid) and meets_minimums(b_info, qty, bq.ask)
    trade_usdt = qty * bq.ask
    sell_top, buy_top = sq.bid * sq.bid_qty, bq.ask * bq.ask_qty
    return Direction(
        sell_venue=s_info.venue, buy_venue=b_info.venue, edge_bps=edge, spread_bps=gross_spread_bps(sq.bid, bq.ask),
        fees_bps=(s_info.taker_fee_rate + b_info.taker_fee_rate) * BPS, sell_top_usdt=sell_top,
        buy_top_usdt=buy_top, depth_usdt=min(sell_top, buy_top), trade_qty_base=qty, trade_usdt=trade_usdt,
        min_order_usdt=max(min_order_usdt(s_info, sq.bid), min_order_usdt(b_info, bq.ask)),
        depth_ok=depth_ok, edge_usdt=trade_usdt * edge / BPS if depth_ok else ZERO,
    )


@dataclass(frozen=True, slots=True)
class Hedge:
    """The short perp that hedges ``position_usdt`` of spot at ``price``.

    ``contracts``: floor(base / multiplier) to the contract step (never rounded up);
    ``contract_usdt``: one contract's notional; ``residual_base``: spot base left unhedged;
    ``min_position_usdt``: the smallest position (USDT, rounded up to the cent) that is
    hedgeable in whole contracts AND whose spot legs (``gate_spot_fraction`` on Gate spot, the
    rest on MEXC spot) each meet their venue's minimum order; ``hedgeable``: position_usdt is
    at least that."""

    contracts: Decimal
    contract_usdt: Decimal
    residual_base: Decimal
    min_position_usdt: Decimal
    hedgeable: bool


def hedge(position_usdt: Decimal, price: Decimal, perp: SymbolInfo, gate_spot: SymbolInfo | None,
          mexc_spot: SymbolInfo | None, gate_spot_fraction: Decimal) -> Hedge:
    """Hedge figures (see :class:`Hedge`). ``price`` (quote per base) must be > 0,
    ``gate_spot_fraction`` in (0, 1); a missing spot venue adds no minimum.

    Raises ValueError for a non-positive price or a fraction outside (0, 1)."""
    if price <= 0:
        raise ValueError("price must be > 0")
    if not ZERO < gate_spot_fraction < ONE:
        raise ValueError("gate_spot_fraction must be in (0, 1)")
    multiplier = perp.contract_multiplier if perp.contract_multiplier > 0 else ONE
    base = position_usdt / price
    contracts = floor_to_step(base / multiplier, perp.size_step)
    min_contracts = max(perp.min_size, perp.size_step, ZERO) or ONE
    contract_usdt = multiplier * price
    floors = [min_contracts * contract_usdt]
    if gate_spot is not None:
        floors.append(min_order_usdt(gate_spot, price) / gate_spot_fraction)
    if mexc_spot is not None:
        floors.append(min_order_usdt(mexc_spot, price) / (ONE - gate_spot_fraction))
    min_position = max(floors).quantize(CENT, rounding=ROUND_CEILING)
    return Hedge(contracts=contracts, contract_usdt=contract_usdt, residual_base=base - contracts * multiplier,
                 min_position_usdt=min_position,
                 hedgeable=contracts >= min_contracts and position_usdt >= max(floors))


def funding_bps(rate: Decimal) -> Decimal:
    """A funding rate (fraction per interval) in bps per interval; positive: longs pay shorts,
    so the hedge (a short) earns it (Gate ``funding_rate``, docs/venues.md 1.7)."""
    return rate * BPS


def funding_apr_pct(rate: Decimal, interval_s: int) -> Decimal | None:
    """The funding rate annualised without compounding, in percent:
    ``rate x (365 d / interval) x 100``; None when the interval is not positive."""
    if interval_s <= 0:
        return None
    return rate * Decimal(SECONDS_PER_YEAR) / Decimal(interval_s) * HUNDRED


def basis_bps(perp_price: Decimal, spot_price: Decimal) -> Decimal:
    """``(perp - spot) / spot x 1e4``. Raises ValueError if ``spot_price`` <= 0."""
    if spot_price <= 0:
        raise ValueError("spot_price must be > 0")
    return (perp_price - spot_price) / spot_price * BPS


def mid(quote: Quote | None) -> Decimal | None:
    """Mid price of a two-sided positive book, else None."""
    if quote is None or quote.bid <= 0 or quote.ask <= 0:
        return None
    return (quote.bid + quote.ask) / 2
