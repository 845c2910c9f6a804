"""Gate v4 public market-data shapes that cover many symbols at once: spot
currencies, spot tickers and USDT-futures tickers (docs/venues.md sections
1.3 and 1.8; Gate APIv4 "Spot" -> "List all currencies' details", "Retrieve
ticker information", "Futures" -> "List futures tickers").

Prices are the engine's marks (mid of the shown book) and best levels; the
24 h figures are :meth:`~exchanges.sim.engine.core.SimEngine.stats_24h`
(marks sampled by the engine's tick, volumes from the simulator's own fills).
``change_percentage`` is a percentage with two decimals, as Gate sends it.
"""

from __future__ import annotations

from decimal import Decimal

from exchanges import clock
from exchanges.models import ZERO, SymbolInfo, VenueId
from exchanges.sim.engine import SimEngine
from exchanges.sim.gate.common import fmt
from exchanges.sim.gate.format import size_out

CHAIN = "ETH"  # the simulated deposit/withdrawal chain of every currency
HUNDRED = Decimal(100)
CENT = Decimal("0.01")


def currency_names(engine: SimEngine) -> list[str]:
    """Every asset the simulated Gate venues trade (bases and quotes), sorted."""
    names: set[str] = set()
    for venue in (VenueId.GATE_SPOT, VenueId.GATE_PERP):
        for info in engine.symbols(venue):
            names.update((info.symbol.base, info.symbol.quote))
    return sorted(names)


def currency_json(name: str) -> dict:
    """One ``Currency`` object (``GET /spot/currencies[/{currency}]``)."""
    return {"currency": name, "name": name, "delisted": False, "withdraw_disabled": False,
            "withdraw_delayed": False, "deposit_disabled": False, "trade_disabled": False,
            "fixed_rate": "", "chain": CHAIN,
            "chains": [{"name": CHAIN, "addr": "", "withdraw_disabled": False, "withdraw_delayed": False,
                        "deposit_disabled": False}]}


def _percent(ratio: Decimal) -> str:
    return fmt((ratio * HUNDRED).quantize(CENT))


def spot_ticker_json(engine: SimEngine, info: SymbolInfo, now_ms: int | None = None) -> dict:
    """One spot ``Ticker`` (``GET /spot/tickers``); empty strings for a missing side."""
    now_ms = now_ms if now_ms is not None else clock.now_ms()
    bids, asks, _ = engine.book(info.venue, info.symbol, 1)
    stats = engine.stats_24h(info.venue, info.symbol, now_ms)
    return {"currency_pair": info.venue_symbol, "last": fmt(stats.last),
            "lowest_ask": fmt(asks[0][0]) if asks else "", "lowest_size": fmt(asks[0][1]) if asks else "",
            "highest_bid": fmt(bids[0][0]) if bids else "", "highest_size": fmt(bids[0][1]) if bids else "",
            "change_percentage": _percent(stats.change_ratio), "base_volume": fmt(stats.base_volume),
            "quote_volume": fmt(stats.quote_volume), "high_24h": fmt(stats.high), "low_24h": fmt(stats.low)}


def open_interest_contracts(engine: SimEngine, info: SymbolInfo) -> Decimal:
    """Contracts held long across every simulated account (= held short)."""
    total = ZERO
    for account in engine.accounts():
        for pos in engine.positions(account.api_key, info.venue, info.symbol):
            total += max(pos.size, ZERO)
    return total


def futures_ticker_json(engine: SimEngine, info: SymbolInfo, size_decimal: bool, now_ms: int | None = None) -> dict:
    """One ``FuturesTicker`` (``GET /futures/usdt/tickers``): sizes in contracts
    (int, or decimal strings with ``X-Gate-Size-Decimal: 1``), funding rate
    as a ratio per funding interval."""
    now_ms = now_ms if now_ms is not None else clock.now_ms()
    bids, asks, _ = engine.book(info.venue, info.symbol, 1)
    stats = engine.stats_24h(info.venue, info.symbol, now_ms)
    rate, _, _ = engine.funding_info(info.venue, info.symbol)
    contracts_24h = stats.base_volume / info.contract_multiplier if info.contract_multiplier else ZERO
    mark = fmt(stats.last)
    return {"contract": info.venue_symbol, "last": mark, "change_percentage": _percent(stats.change_ratio),
            "change_price": fmt(stats.change),
            "total_size": fmt(open_interest_contracts(engine, info)), "low_24h": fmt(stats.low),
            "high_24h": fmt(stats.high), "volume_24h": fmt(contracts_24h),
            "volume_24h_base": fmt(stats.base_volume), "volume_24h_quote": fmt(stats.quote_volume),
            "volume_24h_settle": fmt(stats.quote_volume), "volume_24h_usd": fmt(stats.quote_volume),
            "mark_price": mark, "index_price": mark, "funding_rate": fmt(rate), "funding_rate_indicative": fmt(rate),
            "quanto_base_rate": "",
            "lowest_ask": fmt(asks[0][0]) if asks else "", "lowest_size": size_out(asks[0][1], size_decimal) if asks else "",
            "highest_bid": fmt(bids[0][0]) if bids else "",
            "highest_size": size_out(bids[0][1], size_decimal) if bids else ""}
