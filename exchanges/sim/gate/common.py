"""Shared pieces of the simulated Gate.io v4 API: signature checks (REST and
WS), error bodies and number formatting.

REST signing (docs/venues.md section 1.2): ``SIGN`` = hex
HMAC-SHA512(secret, ``METHOD\\n/api/v4/path\\nquery\\nhex(SHA512(body))\\nTimestamp``),
with headers ``KEY``, ``Timestamp`` (seconds, int or float string), ``SIGN``.
The query string is the one sent; clients sign it unencoded (GSDK
``unquote_plus``, ccxt ``rawencode``), so the raw, unquoted and unquote_plus
forms are all accepted. Errors: HTTP 401 ``INVALID_KEY`` / ``INVALID_SIGNATURE``
/ ``REQUEST_EXPIRED`` / ``MISSING_REQUIRED_HEADER`` as ``{"label","message"}``.

WS private auth (section 2.4): ``SIGN`` = hex HMAC-SHA512(secret,
``channel=<ch>&event=<event>&time=<time>``).
"""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal
from urllib.parse import unquote, unquote_plus

from aiohttp import web

from exchanges import clock
from exchanges.sim.engine import SimEngine
from exchanges.sim.engine.types import SimAccount, SimError

MAX_SKEW_S = 60.0


def gate_error(status: int, label: str, message: str) -> web.Response:
    """Gate error body ``{"label": ..., "message": ...}``."""
    return web.json_response({"label": label, "message": message}, status=status)


def sim_error_response(exc: SimError) -> web.Response:
    return gate_error(exc.status, exc.label, exc.message)


def fmt(value: Decimal | None) -> str:
    """Plain decimal string without exponent or trailing zeros ("0" for zero/None)."""
    if value is None or value == 0:
        return "0"
    text = format(value.normalize(), "f")
    return text


def sign_rest(secret: str, method: str, path: str, query: str, body: bytes, timestamp: str) -> str:
    body_hash = hashlib.sha512(body).hexdigest()
    payload = f"{method.upper()}\n{path}\n{query}\n{body_hash}\n{timestamp}"
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha512).hexdigest()


def sign_ws(secret: str, channel: str, event: str, time_s: int | str) -> str:
    payload = f"channel={channel}&event={event}&time={time_s}"
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha512).hexdigest()


def _raw_query(request: web.Request) -> str:
    raw = request.raw_path
    return raw.split("?", 1)[1] if "?" in raw else ""


def authenticate(engine: SimEngine, request: web.Request, body: bytes) -> SimAccount:
    """Verify the Gate APIv4 signature of ``request``; return the account.
    Raises SimError (status 401) exactly like Gate labels its auth failures."""
    key = request.headers.get("KEY", "")
    ts = request.headers.get("Timestamp", "")
    sign = request.headers.get("SIGN", "")
    if not key:
        raise SimError("INVALID_KEY", "missing required header: KEY", 401)
    if not ts or not sign:
        raise SimError("MISSING_REQUIRED_HEADER", "missing required header: Timestamp or SIGN", 401)
    account = engine.account(key)
    if account is None:
        raise SimError("INVALID_KEY", "invalid key provided", 401)
    try:
        ts_s = float(ts)
    except ValueError as exc:
        raise SimError("INVALID_PARAM_VALUE", "Timestamp must be unix seconds", 400) from exc
    if abs(clock.now_s() - ts_s) > MAX_SKEW_S:
        raise SimError("REQUEST_EXPIRED", "gap between request Timestamp and server time exceeds 60 s", 401)
    exptime = request.headers.get("X-Gate-Exptime")
    if exptime:
        try:
            if clock.now_ms() > int(float(exptime)):
                raise SimError("REQUEST_EXPIRED", "request expired (X-Gate-Exptime)", 401)
        except ValueError as exc:
            raise SimError("INVALID_PARAM_VALUE", "bad X-Gate-Exptime", 400) from exc
    raw = _raw_query(request)
    path = request.raw_path.split("?", 1)[0]
    for query in dict.fromkeys((raw, unquote(raw), unquote_plus(raw))):
        for p in dict.fromkeys((path, unquote(path))):
            expected = sign_rest(account.api_secret, request.method, p, query, body, ts)
            if hmac.compare_digest(expected, sign.lower()):
                return account
    raise SimError("INVALID_SIGNATURE", "signature mismatch", 401)


def verify_ws_auth(engine: SimEngine, auth: object, channel: str, event: str, time_s: object) -> SimAccount | None:
    """Check a WS ``auth`` object; returns the account or None when invalid.
    Accepts a signature over the real event or over ``subscribe`` (GWS Go
    signs unsubscribes with ``event=subscribe``)."""
    if not isinstance(auth, dict) or auth.get("method", "api_key") != "api_key":
        return None
    account = engine.account(str(auth.get("KEY", "")))
    sign = str(auth.get("SIGN", "")).lower()
    if account is None or not sign:
        return None
    try:
        if abs(clock.now_s() - float(time_s)) > MAX_SKEW_S:  # type: ignore[arg-type]
            return None
    except (TypeError, ValueError):
        return None
    for ev in dict.fromkeys((event, "subscribe")):
        if hmac.compare_digest(sign_ws(account.api_secret, channel, ev, time_s), sign):  # type: ignore[arg-type]
            return account
    return None


def decimals_of(step: Decimal) -> int:
    """Number of decimals of a power-of-ten step (0.001 -> 3; 1 -> 0)."""
    exp = step.normalize().as_tuple().exponent
    return max(0, -int(exp))
