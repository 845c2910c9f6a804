"""Gate.io APIv4 signing (docs/venues.md sections 1.2 and 2.4). Pure functions, no I/O.

REST: ``SIGN = hex(HMAC_SHA512(secret, METHOD\\npath\\nquery\\nhex(SHA512(body))\\nTimestamp))``
where ``path`` includes the ``/api/v4`` prefix, ``query`` is the unencoded query string exactly as
sent (empty when none) and ``body`` the exact bytes sent (empty for GET/DELETE). ``Timestamp`` is
in seconds. WS subscribe auth: ``hex(HMAC_SHA512(secret, "channel=<ch>&event=<ev>&time=<t>"))``.
WS-API login: ``"api\\n<channel>\\n<req_param json>\\n<time>"``.
"""

from __future__ import annotations

import hashlib
import hmac

EMPTY_BODY_SHA512 = hashlib.sha512(b"").hexdigest()


def rest_payload(method: str, path: str, query: str, body: bytes, timestamp: str) -> str:
    """The exact string Gate signs for a REST request."""
    body_hash = hashlib.sha512(body).hexdigest() if body else EMPTY_BODY_SHA512
    return f"{method.upper()}\n{path}\n{query}\n{body_hash}\n{timestamp}"


def sign_rest(secret: str, method: str, path: str, query: str, body: bytes, timestamp: str) -> str:
    """Lowercase hex HMAC-SHA512 of :func:`rest_payload`."""
    payload = rest_payload(method, path, query, body, timestamp)
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha512).hexdigest()


def rest_headers(key: str, secret: str, method: str, path: str, query: str, body: bytes, timestamp: str) -> dict[str, str]:
    """Headers of a signed REST request: KEY, Timestamp, SIGN, Content-Type, Accept."""
    return {
        "KEY": key,
        "Timestamp": timestamp,
        "SIGN": sign_rest(secret, method, path, query, body, timestamp),
        "Content-Type": "application/json",
        "Accept": "application/json",
    }


def sign_ws(secret: str, channel: str, event: str, time_s: int) -> str:
    """SIGN of a private-channel (un)subscribe message (section 2.4)."""
    msg = f"channel={channel}&event={event}&time={time_s}"
    return hmac.new(secret.encode(), msg.encode(), hashlib.sha512).hexdigest()


def ws_auth(key: str, secret: str, channel: str, event: str, time_s: int) -> dict[str, str]:
    """The ``auth`` object of a private subscribe message."""
    return {"method": "api_key", "KEY": key, "SIGN": sign_ws(secret, channel, event, time_s)}


def sign_ws_api(secret: str, channel: str, req_param_json: str, time_s: int) -> str:
    """SIGN of a WS-API request such as ``spot.login`` (section 2.4; not used for trading here)."""
    msg = f"api\n{channel}\n{req_param_json}\n{time_s}"
    return hmac.new(secret.encode(), msg.encode(), hashlib.sha512).hexdigest()
