"""The two legs of a cross-spot arbitrage: which goes first, how each is priced (pure: no I/O, no clock).

Sequential legs (``arb_legs = "sequential"``, the default): the leg most likely to miss is sent
first, as fill-or-kill at its quote; the other leg is sent only once the first filled, as an IOC
priced up to ``arb_slippage_bps`` through its quote. A first leg that misses leaves nothing
behind (no single leg, nothing to hedge); the second leg is aimed at the quote least likely to be
gone, and may spend part of the edge to get filled. Cost: the second leg leaves one venue round
trip later; the first leaves as fast as before.

Which leg is likely to miss: the one whose quote is on the laggier book. Two venues show one
market with different delays; when one book has moved and the other has not yet, the lagging
book's quote is the stale one, and a faster trader (or the venue's own next update) takes it away
before our order lands (on ``stmx``, Gate's 100 ms book updates make its quotes the ones missed:
README, "Arbitrage legs"). Books whose information is about equally old: the thinner quote (less
displayed quantity for our size) goes first; else the sell leg.

Concurrent legs (``arb_legs = "concurrent"``): both IOC at once, each up to half the slippage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from exchanges.models import Side, SymbolInfo, TimeInForce, VenueId

from strategies.delta_neutral.config import DeltaNeutralConfig
from strategies.delta_neutral.policy import BPS, ArbPlan, PlannedOrder, common_floor, meets_minimums, round_price

ZERO = Decimal(0)
#: books whose information ages differ by at most this (ms) are "equally laggy"
LAG_TIE_MS = 5
#: at most this share of the quoted net edge is spent on slippage
MAX_EDGE_SPENT = Decimal("0.5")


@dataclass(frozen=True)
class LegQuote:
    """What a leg is aimed at: its venue's quote on its side (a sell takes the bid, a buy the ask),
    the quantity displayed there (venue units, after our own recent takes) and how old that book's
    information is (ms, :func:`strategies.execution.market.info_age_ms`)."""

    venue: VenueId
    side: Side
    displayed_qty: Decimal
    info_age_ms: int


def first_side(sell: LegQuote, buy: LegQuote, tie_ms: int = LAG_TIE_MS) -> Side:
    """The side of the leg to send first (the one most likely to miss): the leg on the book whose
    information is older by more than ``tie_ms``; else the thinner quote; else the sell leg."""
    lag_ms = sell.info_age_ms - buy.info_age_ms
    if lag_ms > tie_ms:
        return Side.SELL
    if lag_ms < -tie_ms:
        return Side.BUY
    return Side.BUY if buy.displayed_qty < sell.displayed_qty else Side.SELL


def slippage_bps(edge_bps: Decimal, wanted_bps: Decimal, legs: int) -> Decimal:
    """Slippage per slipped leg (bps): ``wanted_bps``, but all ``legs`` together never spend more
    than :data:`MAX_EDGE_SPENT` of the quoted net ``edge_bps``; never negative."""
    if legs <= 0 or edge_bps <= 0 or wanted_bps <= 0:
        return ZERO
    return min(wanted_bps, edge_bps * MAX_EDGE_SPENT / legs)


def through_price(price: Decimal, side: Side, slip_bps: Decimal, tick: Decimal) -> Decimal:
    """``price`` moved ``slip_bps`` through the quote (a sell lower, a buy higher), rounded to the
    tick on the passive side, so rounding never adds slippage."""
    if slip_bps <= 0:
        return price
    factor = 1 - slip_bps / BPS if side is Side.SELL else 1 + slip_bps / BPS
    return round_price(price * factor, tick, side)


@dataclass(frozen=True)
class ArbLegPlan:
    """The two orders of one arb. ``first`` is the side sent first (None: both at once)."""

    sell: PlannedOrder
    buy: PlannedOrder
    first: Side | None

    @property
    def ordered(self) -> tuple[PlannedOrder, PlannedOrder]:
        """(first, second) in send order (sell first when concurrent)."""
        return (self.buy, self.sell) if self.first is Side.BUY else (self.sell, self.buy)


def plan_arb_legs(arb: ArbPlan, sell_quote: LegQuote, buy_quote: LegQuote, infos: Mapping[VenueId, SymbolInfo],
                  buy_quote_free_usdt: Decimal, config: DeltaNeutralConfig) -> ArbLegPlan | None:
    """The two orders of ``arb`` under ``config.arb_legs`` (see module docstring), or None when the
    size no longer fits the buy venue's free quote at the slipped price (or its minimums).

    Sequential: first leg FOK at its quote, second IOC ``slippage_bps(edge, arb_slippage_bps, 1)``
    through its quote. Concurrent: both IOC, each ``slippage_bps(edge, arb_slippage_bps, 2)``."""
    si, bi = infos[arb.sell_venue], infos[arb.buy_venue]
    sequential = config.arb_legs == "sequential"
    first = first_side(sell_quote, buy_quote) if sequential else None
    slip = slippage_bps(arb.edge_bps, config.arb_slippage_bps, 1 if sequential else 2)
    sell_slip = slip if first is not Side.SELL else ZERO
    buy_slip = slip if first is not Side.BUY else ZERO
    sell_price = through_price(arb.sell_price, Side.SELL, sell_slip, si.price_tick)
    buy_price = through_price(arb.buy_price, Side.BUY, buy_slip, bi.price_tick)
    qty = arb.qty_base
    if buy_price > arb.buy_price:  # the buy reserves quote at its limit: keep it affordable
        affordable = max(buy_quote_free_usdt, ZERO) / (buy_price * (1 + bi.taker_fee_rate))
        qty = common_floor(min(qty, affordable), [si.size_step, bi.size_step])
    if not meets_minimums(si, qty, sell_price) or not meets_minimums(bi, qty, buy_price):
        return None

    def tif(side: Side) -> TimeInForce:
        return TimeInForce.FOK if side is first else TimeInForce.IOC

    return ArbLegPlan(
        sell=PlannedOrder(arb.sell_venue, Side.SELL, qty, sell_price, "arb_sell", tif=tif(Side.SELL)),
        buy=PlannedOrder(arb.buy_venue, Side.BUY, qty, buy_price, "arb_buy", tif=tif(Side.BUY)),
        first=first,
    )


__all__ = ["LAG_TIE_MS", "MAX_EDGE_SPENT", "ArbLegPlan", "LegQuote", "first_side", "plan_arb_legs", "slippage_bps",
           "through_price"]
