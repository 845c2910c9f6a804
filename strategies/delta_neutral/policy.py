"""Pure decision functions of the delta-neutral strategy: no I/O, no clock.

Everything here is a function of books (:class:`BookTop`), trading rules
(:class:`SymbolInfo`), the task-owned inventory and the config. All values are
Decimal; tiny prices (0.000035) stay exact. Units are in the names: ``_base``
(base coin), ``_contracts`` (perp contracts; 1 contract = ``contract_multiplier``
base, Gate ``quanto_multiplier``, docs/venues.md 1.7), ``_usdt``, ``_bps``.

Rounding rules (seed_origin_review 7.2 #8, 8.5): sizes round DOWN to the step,
contracts round toward zero, and nothing is ever rounded UP to a minimum: an
order below a venue minimum is simply not planned.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal

from exchanges.models import BookTop, Side, SymbolInfo, TimeInForce, VenueId
from strategies.execution.market import book_after_taking, book_is_fresh

from strategies.delta_neutral.config import DeltaNeutralConfig

#: re-exported from the market view (strategies and tests read them here)
MARKET_FUNCTIONS = (book_after_taking, book_is_fresh)

ZERO = Decimal(0)
BPS = Decimal(10000)
SPOT_VENUES: tuple[VenueId, VenueId] = (VenueId.GATE_SPOT, VenueId.MEXC_SPOT)
PERP = VenueId.GATE_PERP


# ---- rounding ---------------------------------------------------------------


def floor_to_step(qty: Decimal, step: Decimal) -> Decimal:
    """Largest multiple of ``step`` <= ``qty`` for qty >= 0 (toward zero for negatives).

    ``step <= 0`` means no step (qty returned unchanged)."""
    if step <= 0:
        return qty
    return (qty / step).to_integral_value(rounding=ROUND_DOWN) * step


def round_price(price: Decimal, tick: Decimal, side: Side) -> Decimal:
    """Round a limit price to the tick on the *passive* side: a buy rounds down,
    a sell rounds up, so rounding never makes an order more aggressive."""
    if tick <= 0:
        return price
    mode = ROUND_FLOOR if side is Side.BUY else ROUND_CEILING
    return (price / tick).to_integral_value(rounding=mode) * tick


def common_floor(qty: Decimal, steps: list[Decimal]) -> Decimal:
    """Round ``qty`` down until it is a multiple of every step (ZERO if none found).

    Used so both arb legs trade the same base quantity (the smaller rounded leg)."""
    q = qty
    for _ in range(32):
        nxt = q
        for s in steps:
            nxt = floor_to_step(nxt, s)
        if nxt == q:
            return q
        q = nxt
    return ZERO


def meets_minimums(info: SymbolInfo, qty: Decimal, price: Decimal) -> bool:
    """True when ``qty`` (venue order unit) at ``price`` satisfies min size and min notional.

    On the perp the notional is qty x multiplier x price (docs/venues.md 1.7)."""
    if qty <= 0:
        return False
    if info.min_size > 0 and qty < info.min_size:
        return False
    notional = qty * info.contract_multiplier * price
    return not (info.min_notional > 0 and notional < info.min_notional)


# ---- edge -------------------------------------------------------------------


def edge_bps(sell_bid: Decimal, buy_ask: Decimal, sell_fee_rate: Decimal, buy_fee_rate: Decimal) -> Decimal:
    """Executable edge of selling at ``sell_bid`` and buying at ``buy_ask``, net of both
    taker fees, in bps of the buy cost: ((bid(1-f_s) - ask(1+f_b)) / ask(1+f_b)) x 1e4.

    Raises ValueError if ``buy_ask`` <= 0."""
    if buy_ask <= 0:
        raise ValueError("buy_ask must be > 0")
    proceeds = sell_bid * (1 - sell_fee_rate)
    cost = buy_ask * (1 + buy_fee_rate)
    return (proceeds - cost) / cost * BPS


def gross_spread_bps(sell_bid: Decimal, buy_ask: Decimal) -> Decimal:
    """(bid - ask) / ask in bps, before fees (for display)."""
    return (sell_bid - buy_ask) / buy_ask * BPS if buy_ask > 0 else ZERO


@dataclass(frozen=True)
class ArbPlan:
    """Two IOC limit legs of equal base quantity: sell on ``sell_venue`` at
    ``sell_price``, buy on ``buy_venue`` at ``buy_price``."""

    sell_venue: VenueId
    buy_venue: VenueId
    qty_base: Decimal
    sell_price: Decimal
    buy_price: Decimal
    edge_bps: Decimal


def size_arb(
    sell_book: BookTop,
    buy_book: BookTop,
    sell_info: SymbolInfo,
    buy_info: SymbolInfo,
    sell_inventory_base: Decimal,
    buy_quote_free_usdt: Decimal,
    max_order_usdt: Decimal,
    depth_fraction: Decimal = Decimal(1),
) -> Decimal:
    """Base quantity for one arb (ZERO if nothing valid).

    Bounded by ``depth_fraction`` of both top-of-book quantities, the sellable inventory on the
    sell venue (the caller takes the inventory floor off), the free quote on the buy venue
    (including its taker fee) and ``max_order_usdt`` at the buy price; each leg rounded down to
    its venue step, the smaller rounded leg used for both (re-rounded to both steps), then checked
    against every minimum. Never exceeds a balance; never rounds up."""
    ask = buy_book.ask
    if ask <= 0 or sell_book.bid <= 0:
        return ZERO
    cap = min(
        sell_book.bid_qty * depth_fraction,
        buy_book.ask_qty * depth_fraction,
        max(sell_inventory_base, ZERO),
        max(buy_quote_free_usdt, ZERO) / (ask * (1 + buy_info.taker_fee_rate)),
        max_order_usdt / ask,
    )
    if cap <= 0:
        return ZERO
    sell_leg = floor_to_step(cap, sell_info.size_step)
    buy_leg = floor_to_step(cap, buy_info.size_step)
    qty = common_floor(min(sell_leg, buy_leg), [sell_info.size_step, buy_info.size_step])
    if not meets_minimums(sell_info, qty, sell_book.bid) or not meets_minimums(buy_info, qty, ask):
        return ZERO
    return qty


def best_arb(
    books: Mapping[VenueId, BookTop],
    infos: Mapping[VenueId, SymbolInfo],
    inventory_base: Mapping[VenueId, Decimal],
    quote_free_usdt: Mapping[VenueId, Decimal],
    config: DeltaNeutralConfig,
) -> ArbPlan | None:
    """The better of the two cross-spot directions whose net edge exceeds
    ``entry_threshold_bps`` and has a valid size, or None. Uses only the CURRENT
    books (seed_origin_review 7.2 #5): sell at the bid, buy at the ask.
    ``inventory_base`` is what may be sold per venue (inventory above its floor)."""
    best: ArbPlan | None = None
    for sell_v, buy_v in ((SPOT_VENUES[0], SPOT_VENUES[1]), (SPOT_VENUES[1], SPOT_VENUES[0])):
        sb, bb = books.get(sell_v), books.get(buy_v)
        if sb is None or bb is None or bb.ask <= 0:
            continue
        e = edge_bps(sb.bid, bb.ask, infos[sell_v].taker_fee_rate, infos[buy_v].taker_fee_rate)
        if e <= config.entry_threshold_bps:
            continue
        qty = size_arb(sb, bb, infos[sell_v], infos[buy_v], inventory_base.get(sell_v, ZERO),
                       quote_free_usdt.get(buy_v, ZERO), config.max_order_usdt, config.arb_depth_fraction)
        if qty <= 0:
            continue
        plan = ArbPlan(sell_v, buy_v, qty, sb.bid, bb.ask, e)
        if best is None or plan.edge_bps > best.edge_bps:
            best = plan
    return best


# ---- delta and hedge ----------------------------------------------------------


def net_delta_base(spot_inventory_base: Mapping[VenueId, Decimal] | list[Decimal],
                   perp_contracts: Decimal, contract_multiplier: Decimal) -> Decimal:
    """Signed net delta in base: spot inventory on both venues plus the SIGNED perp
    position (contracts x multiplier; a short is negative). The side comes from the
    position's sign, never assumed (seed_origin_review 7.2 #13)."""
    values = spot_inventory_base.values() if isinstance(spot_inventory_base, Mapping) else spot_inventory_base
    return sum(values, ZERO) + perp_contracts * contract_multiplier


def delta_tolerance_base(config: DeltaNeutralConfig, perp_info: SymbolInfo) -> Decimal:
    """max(delta_tolerance_base, one contract in base, one min-size order in base)."""
    one = perp_info.contract_multiplier * max(perp_info.size_step, perp_info.min_size, Decimal(0))
    return max(config.delta_tolerance_base, perp_info.contract_multiplier, one)


def hedge_contracts(delta_base: Decimal, perp_info: SymbolInfo) -> Decimal:
    """Signed perp contracts that bring ``delta_base`` toward zero: -delta/multiplier,
    rounded TOWARD ZERO to the contract step (never up: 7.2 #8); ZERO if below the
    perp minimum size. Negative = sell (add short)."""
    mult = perp_info.contract_multiplier
    if mult <= 0 or delta_base == 0:
        return ZERO
    raw = -delta_base / mult
    step = perp_info.size_step if perp_info.size_step > 0 else Decimal(1)
    c = floor_to_step(abs(raw), step)
    if c <= 0 or (perp_info.min_size > 0 and c < perp_info.min_size):
        return ZERO
    return c if raw > 0 else -c


@dataclass(frozen=True)
class PlannedOrder:
    """One order the policy wants: ``qty`` in the venue order unit (contracts on the perp)."""

    venue: VenueId
    side: Side
    qty: Decimal
    price: Decimal
    leg: str
    reduce_only: bool = False
    tif: TimeInForce = TimeInForce.IOC


def hedge_order(delta_base: Decimal, perp_book: BookTop, perp_info: SymbolInfo,
                slippage_bps: Decimal, perp_contracts: Decimal = ZERO, reduce_only: bool = False,
                leg: str = "hedge") -> PlannedOrder | None:
    """Perp IOC limit that hedges ``delta_base`` (None if below one contract / minimum).

    Priced ``slippage_bps`` through the top (sell below the bid, buy above the ask),
    rounded to the tick on the passive side. With ``reduce_only`` the size is
    capped at the open position (it can only shrink it)."""
    c = hedge_contracts(delta_base, perp_info)
    if c == 0:
        return None
    side = Side.BUY if c > 0 else Side.SELL
    qty = abs(c)
    if reduce_only:
        if (side is Side.BUY and perp_contracts >= 0) or (side is Side.SELL and perp_contracts <= 0):
            return None
        qty = min(qty, floor_to_step(abs(perp_contracts), perp_info.size_step))
    slip = slippage_bps / BPS
    raw_price = perp_book.bid * (1 - slip) if side is Side.SELL else perp_book.ask * (1 + slip)
    price = round_price(raw_price, perp_info.price_tick, side)
    if price <= 0 or not meets_minimums(perp_info, qty, price):
        return None
    return PlannedOrder(PERP, side, qty, price, leg, reduce_only)


# ---- rebalance ----------------------------------------------------------------


def spot_targets_base(config: DeltaNeutralConfig, mids: Mapping[VenueId, Decimal]) -> dict[VenueId, Decimal]:
    """Target base inventory per spot venue: position_usdt x fraction / mid."""
    fractions = {VenueId.GATE_SPOT: config.gate_spot_fraction, VenueId.MEXC_SPOT: config.mexc_spot_fraction}
    return {v: (config.position_usdt * fractions[v] / mids[v]) if mids.get(v, ZERO) > 0 else ZERO
            for v in SPOT_VENUES}


def _spot_buy(venue: VenueId, want_base: Decimal, book: BookTop, info: SymbolInfo,
              quote_free_usdt: Decimal, max_order_usdt: Decimal, leg: str) -> PlannedOrder | None:
    if book.ask <= 0:
        return None
    cap = min(want_base, book.ask_qty, max_order_usdt / book.ask,
              max(quote_free_usdt, ZERO) / (book.ask * (1 + info.taker_fee_rate)))
    qty = floor_to_step(cap, info.size_step)
    if not meets_minimums(info, qty, book.ask):
        return None
    return PlannedOrder(venue, Side.BUY, qty, book.ask, leg)


def rebalance_plan(
    books: Mapping[VenueId, BookTop],
    infos: Mapping[VenueId, SymbolInfo],
    inventory_base: Mapping[VenueId, Decimal],
    quote_free_usdt: Mapping[VenueId, Decimal],
    perp_contracts: Decimal,
    config: DeltaNeutralConfig,
    building: bool,
    include_pair: bool = True,
) -> list[PlannedOrder]:
    """Orders that move the task back toward its targets.

    * ``building`` (initial build-up): buy spot on each venue still short of
      (1 - build_tolerance_fraction) x target, up to max_order_usdt per order.
    * otherwise: a venue below ``min_inventory_fraction`` x target is bought back
      toward target, paired with an equal sell on a venue above its target (so
      total inventory does not grow); only with ``include_pair`` (the forced
      rebalance: the task normally rebalances through the cross-spot arb).
    * a perp hedge when the CURRENT |delta| exceeds max(delta_tolerance_base, one
      contract); planned spot orders are hedged per fill as they execute.
    """
    mids = {v: books[v].mid for v in SPOT_VENUES if v in books}
    targets = spot_targets_base(config, mids)
    orders: list[PlannedOrder] = []
    for v in SPOT_VENUES:
        if v not in books:
            continue
        have, target = inventory_base.get(v, ZERO), targets[v]
        if building:
            if have < target * (1 - config.build_tolerance_fraction):
                o = _spot_buy(v, target - have, books[v], infos[v], quote_free_usdt.get(v, ZERO),
                              config.max_order_usdt, "build")
                if o:
                    orders.append(o)
        elif include_pair and have < target * config.min_inventory_fraction:
            other = SPOT_VENUES[1] if v == SPOT_VENUES[0] else SPOT_VENUES[0]
            excess = inventory_base.get(other, ZERO) - targets.get(other, ZERO)
            if excess <= 0 or other not in books:
                continue
            buy = _spot_buy(v, min(target - have, excess), books[v], infos[v],
                            quote_free_usdt.get(v, ZERO), config.max_order_usdt, "rebalance_buy")
            if buy is None:
                continue
            qty = common_floor(min(buy.qty, excess), [infos[v].size_step, infos[other].size_step])
            sb = books[other]
            if meets_minimums(infos[v], qty, buy.price) and meets_minimums(infos[other], qty, sb.bid):
                orders.append(PlannedOrder(v, Side.BUY, qty, buy.price, "rebalance_buy"))
                orders.append(PlannedOrder(other, Side.SELL, qty, sb.bid, "rebalance_sell"))
            break  # one pair at a time
    perp_info, perp_book = infos.get(PERP), books.get(PERP)
    if perp_info is not None and perp_book is not None:
        # Only the CURRENT delta: planned spot orders are hedged per fill as they execute.
        delta = net_delta_base(inventory_base, perp_contracts, perp_info.contract_multiplier)
        if abs(delta) > delta_tolerance_base(config, perp_info):
            h = hedge_order(delta, perp_book, perp_info, config.hedge_slippage_bps)
            if h:
                orders.append(h)
    return orders


# ---- exit -----------------------------------------------------------------------


def exit_reason(
    config: DeltaNeutralConfig,
    *,
    stop_requested: bool,
    elapsed_s: float,
    net_pnl_usdt: Decimal,
    funding_rate: Decimal | None,
    spot_mid: Decimal | None,
    perp_mid: Decimal | None,
) -> str | None:
    """Why the task should end now, or None. Reasons: ``stop``, ``max_duration``,
    ``max_loss`` (net PnL <= -max_loss_usdt), ``funding`` (our short pays more
    than exit_funding_rate_bps per interval), ``basis`` (|perp/spot - 1| > exit_basis_bps)."""
    if stop_requested:
        return "stop"
    if config.max_duration_s > 0 and elapsed_s >= config.max_duration_s:
        return "max_duration"
    if config.max_loss_usdt > 0 and net_pnl_usdt <= -config.max_loss_usdt:
        return "max_loss"
    if config.exit_funding_rate_bps > 0 and funding_rate is not None:
        if funding_rate * BPS < -config.exit_funding_rate_bps:
            return "funding"
    if config.exit_basis_bps > 0 and spot_mid and perp_mid and spot_mid > 0:
        if abs(perp_mid - spot_mid) / spot_mid * BPS > config.exit_basis_bps:
            return "basis"
    return None


# ---- single leg and unwind ------------------------------------------------------


def single_leg_order(
    policy: str,
    sell_venue: VenueId,
    buy_venue: VenueId,
    sell_filled_base: Decimal,
    buy_filled_base: Decimal,
    sell_price: Decimal,
    buy_price: Decimal,
    books: Mapping[VenueId, BookTop],
    infos: Mapping[VenueId, SymbolInfo],
    inventory_base: Mapping[VenueId, Decimal],
    price_limit_bps: Decimal,
) -> PlannedOrder | None:
    """The order that fixes a one-sided arb, or None (policy ``hedge``, balanced legs,
    nothing valid within the price limit).

    ``complete``: trade the missing quantity of the short leg on ITS venue, at a
    limit at most ``price_limit_bps`` worse than that leg's original price.
    ``reverse``: undo the excess of the long leg on ITS venue within the same limit.
    The perp hedge placed per fill keeps delta within tolerance meanwhile."""
    diff = buy_filled_base - sell_filled_base  # > 0: bought more than sold
    if policy == "hedge" or diff == 0:
        return None
    lim = price_limit_bps / BPS
    if policy == "complete":
        if diff > 0:  # sell the missing quantity where the sell leg was
            venue, side, ref, qty = sell_venue, Side.SELL, sell_price * (1 - lim), diff
        else:
            venue, side, ref, qty = buy_venue, Side.BUY, buy_price * (1 + lim), -diff
    elif policy == "reverse":
        if diff > 0:  # sell back the excess bought
            venue, side, ref, qty = buy_venue, Side.SELL, buy_price * (1 - lim), diff
        else:
            venue, side, ref, qty = sell_venue, Side.BUY, sell_price * (1 + lim), -diff
    else:
        raise ValueError(f"unknown single_leg_policy {policy!r}")
    book, info = books.get(venue), infos[venue]
    if book is None:
        return None
    if side is Side.SELL:
        qty = min(qty, inventory_base.get(venue, ZERO), book.bid_qty)
        if book.bid < ref:
            return None
    else:
        qty = min(qty, book.ask_qty)
        if book.ask > ref:
            return None
    price = round_price(ref, info.price_tick, side)
    qty = floor_to_step(qty, info.size_step)
    if not meets_minimums(info, qty, price):
        return None
    return PlannedOrder(venue, side, qty, price, f"single_leg_{policy}")


def unwind_spot_orders(books: Mapping[VenueId, BookTop], infos: Mapping[VenueId, SymbolInfo],
                       inventory_base: Mapping[VenueId, Decimal], slippage_bps: Decimal) -> list[PlannedOrder]:
    """IOC sells of the task-owned spot inventory (flatten), limited by bid depth,
    rounded down; dust below a venue minimum is left (never rounded up)."""
    out: list[PlannedOrder] = []
    for v in SPOT_VENUES:
        book, info = books.get(v), infos.get(v)
        inv = inventory_base.get(v, ZERO)
        if book is None or info is None or inv <= 0 or book.bid <= 0:
            continue
        price = round_price(book.bid * (1 - slippage_bps / BPS), info.price_tick, Side.SELL)
        qty = floor_to_step(min(inv, book.bid_qty), info.size_step)
        if meets_minimums(info, qty, price):
            out.append(PlannedOrder(v, Side.SELL, qty, price, "unwind"))
    return out
