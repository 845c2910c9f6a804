"""Bulk public answers of Gate and MEXC in the venues' own JSON shapes, for discovery tests and
for the local stand-in of the public endpoints (synthetic values; field names as documented in
docs/venues.md sections 1.3, 1.7, 1.8, 3.3, 3.4).

:class:`Coin` describes one coin on the three venues; :func:`gate_pairs` etc. render a list of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from exchanges.discovery import gate, mexc
from exchanges.discovery.types import EndpointFailure
from exchanges.models import VenueId

GS, GP, MS = VenueId.GATE_SPOT, VenueId.GATE_PERP, VenueId.MEXC_SPOT


@dataclass
class Coin:
    """One base coin quoted in USDT: prices, sizes and how each venue lists it."""

    base: str
    gs_bid: str = "1.0000"
    gs_ask: str = "1.0010"
    ms_bid: str = "0.9990"
    ms_ask: str = "1.0000"
    gp_bid: str = "1.0001"
    gp_ask: str = "1.0011"
    qty: str = "100000"
    contracts: str = "1000"
    multiplier: str = "1"
    funding_rate: str = "0.0001"
    funding_interval: int = 28800
    volume: str = "250000"
    gs_status: str | None = "tradable"  # None: not listed on Gate spot
    gp_status: str | None = "trading"  # None: no contract
    gp_in_delisting: bool = False
    ms_status: str | None = "1"  # None: not listed on MEXC
    ms_spot_allowed: bool = True
    ms_side_type: int = 1
    ms_api: bool = True  # in /api/v3/defaultSymbols
    extra: dict = field(default_factory=dict)


def gate_pairs(coins: list[Coin]) -> list[dict]:
    return [{"id": f"{c.base}_USDT", "base": c.base, "quote": "USDT", "fee": "0.2", "min_base_amount": "0.001",
             "min_quote_amount": "3", "max_quote_amount": "5000000", "amount_precision": 3, "precision": 7,
             "trade_status": c.gs_status, "sell_start": 0, "buy_start": 0, "type": "normal"}
            for c in coins if c.gs_status is not None]


def gate_spot_tickers(coins: list[Coin]) -> list[dict]:
    return [{"currency_pair": f"{c.base}_USDT", "last": c.gs_bid, "lowest_ask": c.gs_ask, "lowest_size": c.qty,
             "highest_bid": c.gs_bid, "highest_size": c.qty, "change_percentage": "0.5", "base_volume": "1",
             "quote_volume": c.volume, "high_24h": c.gs_ask, "low_24h": c.gs_bid}
            for c in coins if c.gs_status is not None]


def gate_contracts(coins: list[Coin]) -> list[dict]:
    return [{"name": f"{c.base}_USDT", "type": "direct", "quanto_multiplier": c.multiplier, "order_size_min": "1",
             "order_size_max": "1000000", "enable_decimal": False, "order_price_round": "0.0000001",
             "mark_price": c.gp_bid, "index_price": c.gp_bid, "last_price": c.gp_bid, "funding_rate": c.funding_rate,
             "funding_interval": c.funding_interval, "funding_next_apply": 1784131200, "maker_fee_rate": "-0.0001",
             "taker_fee_rate": "0.00075", "in_delisting": c.gp_in_delisting, "status": c.gp_status}
            for c in coins if c.gp_status is not None]


def gate_futures_tickers(coins: list[Coin]) -> list[dict]:
    return [{"contract": f"{c.base}_USDT", "last": c.gp_bid, "mark_price": c.gp_bid, "index_price": c.gp_bid,
             "funding_rate": c.funding_rate, "highest_bid": c.gp_bid, "highest_size": c.contracts,
             "lowest_ask": c.gp_ask, "lowest_size": c.contracts, "volume_24h_quote": c.volume,
             "volume_24h_settle": c.volume}
            for c in coins if c.gp_status is not None]


def mexc_exchange_info(coins: list[Coin]) -> dict:
    return {"timezone": "CST", "serverTime": 1700000000000, "symbols": [
        {"symbol": f"{c.base}USDT", "status": c.ms_status, "baseAsset": c.base, "baseAssetPrecision": 2,
         "quoteAsset": "USDT", "quotePrecision": 7, "quoteAssetPrecision": 7, "baseCommissionPrecision": 2,
         "quoteCommissionPrecision": 7, "orderTypes": ["LIMIT", "MARKET", "LIMIT_MAKER"],
         "isSpotTradingAllowed": c.ms_spot_allowed, "isMarginTradingAllowed": False, "quoteAmountPrecision": "1",
         "baseSizePrecision": "0", "permissions": ["SPOT"], "filters": [], "maxQuoteAmount": "2000000",
         "makerCommission": "0", "takerCommission": "0.0005", "tradeSideType": c.ms_side_type, **c.extra}
        for c in coins if c.ms_status is not None]}


def mexc_default_symbols(coins: list[Coin]) -> dict:
    return {"code": 200, "data": [f"{c.base}USDT" for c in coins if c.ms_status is not None and c.ms_api],
            "msg": None}


def mexc_book_tickers(coins: list[Coin]) -> list[dict]:
    return [{"symbol": f"{c.base}USDT", "bidPrice": c.ms_bid, "bidQty": c.qty, "askPrice": c.ms_ask, "askQty": c.qty}
            for c in coins if c.ms_status is not None]


def mexc_tickers_24h(coins: list[Coin]) -> list[dict]:
    return [{"symbol": f"{c.base}USDT", "priceChange": "0", "lastPrice": c.ms_bid, "volume": "1",
             "quoteVolume": c.volume, "openTime": 0, "closeTime": 0, "count": 10}
            for c in coins if c.ms_status is not None]


def b(obj: object) -> bytes:
    """JSON bytes of ``obj``."""
    return json.dumps(obj).encode()


def snapshots_of(coins: list[Coin], **override: object) -> dict:
    """The three venues' snapshots of ``coins``; ``override`` replaces an answer (JSON value,
    bytes or an EndpointFailure) by name: pairs, spot_tickers, contracts, futures_tickers, info,
    default, book, t24."""

    def pick(name: str, default: object) -> bytes | EndpointFailure:
        value = override.get(name, default)
        return value if isinstance(value, (bytes, EndpointFailure)) else b(value)

    return {
        GS: gate.spot_snapshot(pick("pairs", gate_pairs(coins)), pick("spot_tickers", gate_spot_tickers(coins))),
        GP: gate.perp_snapshot(pick("contracts", gate_contracts(coins)),
                               pick("futures_tickers", gate_futures_tickers(coins))),
        MS: mexc.snapshot(pick("info", mexc_exchange_info(coins)), pick("default", mexc_default_symbols(coins)),
                          pick("book", mexc_book_tickers(coins)), pick("t24", mexc_tickers_24h(coins))),
    }
