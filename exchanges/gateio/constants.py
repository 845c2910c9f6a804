"""Gate.io API v4 facts: URLs, paths, channel names, error labels, rate limits.

Source: docs/venues.md sections 1 (REST) and 2 (WebSocket), which cite the venue's pages.
"""

from __future__ import annotations

REST_URL = "https://api.gateio.ws/api/v4"  # section 1.1 (spot and futures share the host)
SPOT_WS_URL = "wss://api.gateio.ws/ws/v4/"  # section 2.1
PERP_WS_URL = "wss://fx-ws.gateio.ws/v4/ws/usdt"  # section 2.1

SETTLE = "usdt"  # futures paths are /futures/usdt/... (section 1.1)

# Every size field as a (possibly decimal) string on futures (section 1.7, pitfall 8.1).
SIZE_DECIMAL_HEADER = {"X-Gate-Size-Decimal": "1"}

TEXT_PREFIX = "t-"  # client order id prefix (section 1.6)
TEXT_MAX_BYTES = 28  # bytes allowed after "t-" (section 1.6)
TEXT_CHARSET = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-.")

# order_book_update subscriptions (docs/venues.md 2.5): the venue merges changes per interval;
# spot "20ms" carries 20 levels ("100ms": 100), futures "20ms" only level "20". The fastest
# interval keeps a change at most ~20 ms inside the venue. The REST snapshot the diffs are applied
# to asks for the same number of levels (a deeper snapshot would keep levels no diff updates).
BOOK_UPDATE_INTERVAL = "20ms"
BOOK_LEVELS = 20
PERP_BOOK_LEVEL = str(BOOK_LEVELS)
BOOK_SNAPSHOT_LIMIT = BOOK_LEVELS
# [?] Gate documents no maximum WebSocket connection age (MEXC: 24 h): no proactive rotation.
WS_MAX_AGE_S: float | None = None

PING_INTERVAL_S = 5.0  # GWS default (section 2.3)
IDLE_TIMEOUT_S = 20.0  # no frame (not even a pong) for this long => reconnect
TIME_RESYNC_S = 600.0  # re-measure the server-time offset this often

# Error labels (docs/venues.md 1.12: Gate APIv4 "Error label" table). Everything else on a 4xx
# is a venue refusal (OrderRejected).
AUTH_LABELS = frozenset({
    "INVALID_KEY", "INVALID_SIGNATURE", "MISSING_REQUIRED_HEADER", "INVALID_CREDENTIALS", "IP_FORBIDDEN",
    "READ_ONLY", "FORBIDDEN", "ACCOUNT_LOCKED", "SUB_ACCOUNT_LOCKED", "USER_NOT_FOUND",
})
# The request's Timestamp (or X-Gate-Exptime) was refused: resync the clock offset; a read is
# retried once, a write is a definite refusal (never sent twice).
TIME_LABELS = frozenset({"REQUEST_EXPIRED"})
NOT_FOUND_LABELS = frozenset({"ORDER_NOT_FOUND", "CLIENT_ID_NOT_FOUND", "POSITION_NOT_FOUND"})
# The order exists but is no longer open (filled, cancelled, finished): NotFound ("already gone"),
# so the caller settles the order by querying it instead of recording an error.
ORDER_FINAL_LABELS = frozenset({"ORDER_CLOSED", "ORDER_CANCELLED", "ORDER_FINISHED"})
SYMBOL_NOT_FOUND_LABELS = frozenset({"INVALID_CURRENCY_PAIR", "CONTRACT_NOT_FOUND", "CURRENCY_PAIR_NOT_FOUND",
                                     "INVALID_CURRENCY"})
RATE_LABELS = frozenset({"TOO_MANY_REQUESTS", "TOO_FAST"})
UNKNOWN_LABELS = frozenset({"SERVER_ERROR", "INTERNAL", "TOO_BUSY"})

# Rate limits [?] (issue 3 / section 1: spot order placement 10 req/s per market,
# 200 req/10 s per endpoint). Applied to every endpoint as a conservative default.
ENDPOINT_LIMIT = (200, 10.0)
SPOT_ORDER_PER_MARKET_LIMIT = (10, 1.0)
PERP_ORDER_PER_CONTRACT_LIMIT = (10, 1.0)  # [?] not documented; same safe value as spot
LIMITER_MAX_WAIT_S = 0.5  # wait at most this long for a local token, else RateLimited
RATE_LIMIT_PENALTY_S = 1.0  # after a venue 429 without Retry-After, hold the endpoint this long
# Path segments that are ids: a rate bucket is per endpoint TEMPLATE ("/spot/orders/{id}"), never
# per order id or name (docs/venues.md 1.13: limits are per endpoint).
ID_COLLECTIONS = frozenset({"orders", "currency_pairs", "currencies", "contracts", "positions", "price_orders"})

# Account modes (docs/venues.md 1.11): classic, or one of the unified modes.
CLASSIC_MODE = "classic"
UNIFIED_ACCOUNT = "unified"
SPOT_ACCOUNT = "spot"

# WS error codes meaning authentication failure (section 2.2).
WS_AUTH_ERROR_CODES = frozenset({4, 6, 11})
