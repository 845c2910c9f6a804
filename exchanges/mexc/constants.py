"""MEXC spot v3 constants: URLs, paths, topics, request weights, error codes.

Facts from docs/venues.md sections 3 and 4 (MDOC = mexcdevelop/apidocs
``spot_v3_en``). Values marked ``[?]`` are not verifiable offline; they are
chosen so that being wrong costs throughput, never correctness.
"""

from __future__ import annotations

from exchanges.models import OrderStatus, TimeInForce

VENUE_NAME = "mexc_spot"

DEFAULT_REST_URL = "https://api.mexc.com"
DEFAULT_WS_URL = "wss://wbs-api.mexc.com/ws"  # section 4.1; wbs.mexc.com (JSON) is dead

# ---- REST paths (section 3) -------------------------------------------------
PATH_TIME = "/api/v3/time"
PATH_PING = "/api/v3/ping"
PATH_EXCHANGE_INFO = "/api/v3/exchangeInfo"
PATH_DEPTH = "/api/v3/depth"
PATH_ORDER = "/api/v3/order"
PATH_OPEN_ORDERS = "/api/v3/openOrders"
PATH_ACCOUNT = "/api/v3/account"
PATH_MY_TRADES = "/api/v3/myTrades"
PATH_USER_DATA_STREAM = "/api/v3/userDataStream"
PATH_TRADE_FEE = "/api/v3/tradeFee"  # the account's own maker/taker rates (docs/venues.md 3.5)

HEADER_API_KEY = "X-MEXC-APIKEY"  # section 3.1

DEFAULT_RECV_WINDOW_MS = 5000  # section 3.2: default 5000, max 60000
MAX_RECV_WINDOW_MS = 60000
DEPTH_SNAPSHOT_LIMIT = 1000  # section 4.5 step 2

# ---- rate limits ------------------------------------------------------------
# Section 3.1: 500 requests / 10 s per endpoint (per IP and per UID). MEXC
# publishes per-endpoint weights in MDOC [?] (not in our research doc): the
# values below are the documented ones as far as known, rounded up where
# unsure, and each endpoint gets its own bucket of RATE_LIMIT_WEIGHT per window.
RATE_LIMIT_WEIGHT = 500
RATE_LIMIT_WINDOW_S = 10.0
ENDPOINT_WEIGHTS: dict[str, int] = {
    PATH_TIME: 1,
    PATH_PING: 1,
    PATH_EXCHANGE_INFO: 10,
    PATH_DEPTH: 1,
    PATH_ORDER: 1,
    PATH_OPEN_ORDERS: 3,
    PATH_ACCOUNT: 10,
    PATH_MY_TRADES: 10,
    PATH_USER_DATA_STREAM: 1,
    PATH_TRADE_FEE: 20,
}
# Section 3.5: GET /api/v3/account is limited to 2 requests/s on its own.
ACCOUNT_MAX_PER_S = 2

# ---- websocket (section 4) --------------------------------------------------
WS_PING_INTERVAL_S = 20.0  # PYMEXC pings every 20 s; server drops after 60 s silence
WS_MAX_SUBSCRIPTIONS = 30
# Section 4.1: a connection lives at most 24 h. Replace it 10 minutes before that, with the
# successor subscribed before the old socket closes (exchanges.transport.WsClient max_age_s).
WS_MAX_CONNECTION_S = 24 * 3600.0
WS_ROTATE_AFTER_S = WS_MAX_CONNECTION_S - 600.0
LISTEN_KEY_KEEPALIVE_S = 30 * 60.0  # key lives 60 min; extend every ~30 min (section 3.6)

# Aggregation interval of the public aggre topics (section 4.3: "100ms" or "10ms").
# 10 ms: a top-of-book change reaches us within ~10 ms instead of up to 100 ms,
# so MEXC-triggered reactions are not held back by the venue's batching.
BOOK_INTERVALS = ("10ms", "100ms")
DEFAULT_BOOK_INTERVAL = "10ms"
TOPIC_BOOK_TICKER = "spot@public.aggre.bookTicker.v3.api.pb@{interval}@{symbol}"
TOPIC_DEPTH = "spot@public.aggre.depth.v3.api.pb@{interval}@{symbol}"
TOPIC_PRIVATE_ORDERS = "spot@private.orders.v3.api.pb"
TOPIC_PRIVATE_DEALS = "spot@private.deals.v3.api.pb"
TOPIC_PRIVATE_ACCOUNT = "spot@private.account.v3.api.pb"
PRIVATE_TOPICS = (TOPIC_PRIVATE_ORDERS, TOPIC_PRIVATE_DEALS, TOPIC_PRIVATE_ACCOUNT)

# ---- orders (section 3.5) ---------------------------------------------------
ORDER_TYPE_BY_TIF: dict[TimeInForce, str] = {
    TimeInForce.GTC: "LIMIT",
    TimeInForce.IOC: "IMMEDIATE_OR_CANCEL",
    TimeInForce.FOK: "FILL_OR_KILL",
    TimeInForce.POST_ONLY: "LIMIT_MAKER",
}
TIF_BY_ORDER_TYPE: dict[str, TimeInForce] = {v: k for k, v in ORDER_TYPE_BY_TIF.items()}

# REST order status strings -> our status. PARTIALLY_CANCELED is how a
# partially filled IOC ends: CANCELED with filled_qty > 0 in our model.
ORDER_STATUS: dict[str, OrderStatus] = {
    "NEW": OrderStatus.OPEN,
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELED,
    "PARTIALLY_CANCELED": OrderStatus.CANCELED,
}
# Protobuf private order status ints (section 4.4 PrivateOrdersV3Api.status).
WS_ORDER_STATUS: dict[int, OrderStatus] = {
    1: OrderStatus.OPEN,
    2: OrderStatus.FILLED,
    3: OrderStatus.PARTIALLY_FILLED,
    4: OrderStatus.CANCELED,
    5: OrderStatus.CANCELED,
}
# Protobuf PrivateOrdersV3Api.orderType ints.
WS_ORDER_TIF: dict[int, TimeInForce] = {
    1: TimeInForce.GTC,
    2: TimeInForce.POST_ONLY,
    3: TimeInForce.IOC,
    4: TimeInForce.FOK,
}

# ---- error codes (docs/venues.md 3.7: the venue's "Error Code" table) --------
# Credentials and permissions, fatal for a task: 400 api key required, 401 no authority,
# 602 signature verification failed, 10072 invalid access key, 700001 key format,
# 700002 bad signature, 700006 IP not whitelisted, 700007 no permission, 70011 pair
# trading banned for the key, 60005 account abnormal.
AUTH_ERROR_CODES = frozenset({400, 401, 602, 700001, 700002, 700006, 700007, 10072, 70011, 60005})
# Request-time refusals (700003 timestamp outside recvWindow, 10073 invalid Request-Time):
# resync the server-time offset; a read is retried once, a write is a definite refusal.
TIME_ERROR_CODES = frozenset({700003, 10073})
# HTTP statuses (docs/venues.md 3.1): 418 = IP banned until Retry-After (2 min to 3 days),
# 429 = rate limit (Retry-After s to wait), 403 = WAF limit (a rate problem, not credentials).
IP_BAN_STATUS = 418
WAF_STATUS = 403
IP_BAN_DEFAULT_S = 120.0  # when a 418 carries no Retry-After: the shortest documented ban
WAF_BACKOFF_S = 5.0  # [?] the WAF block has no documented length
NOT_FOUND_ERROR_CODES = frozenset({-2011, -2013})
BAD_SYMBOL_ERROR_CODES = frozenset({-1121, 10007, 30014, 30021, 730001})
RATE_ERROR_CODES = frozenset({429})
UNKNOWN_ERROR_CODES = frozenset({500, 503, 504})  # internal error / unavailable / gateway time-out
# Everything else that comes back as a 4xx with a code is a definitive refusal,
# e.g. 30004 insufficient balance, 30002 below minimum volume, 30005/30087
# invalid order/price, 30016 trading disabled, 30029 too many open orders.
