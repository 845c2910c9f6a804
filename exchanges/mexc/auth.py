"""MEXC spot v3 request signing (docs/venues.md section 3.2).

``signature = hex_lower(HMAC_SHA256(secret, totalParams))`` where totalParams
is the query string followed directly (no separator) by the request body. This
connector sends every parameter in the query string with an empty body (as
CCXT does), so totalParams is exactly the query string that goes on the wire.
Parameter order: caller params in insertion order, then ``timestamp``, then
``recvWindow``; ``signature`` last (CCXT order, matching the saved vectors).

Values are percent-encoded with uppercase hex (MDOC: "URL-encode special
characters before signing"); the encoded string is both signed and sent, so
the server verifies exactly what it received. Secrets never leave this module
in logs or exceptions.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from urllib.parse import quote

# Unreserved characters (RFC 3986) stay as they are; everything else is %XX.
_SAFE_CHARS = "-_.~"
_UNRESERVED = re.compile(r"[A-Za-z0-9\-_.~]*")


def _quote(text: str) -> str:
    # fast path for what the order path sends (symbols, decimals, ids): nothing to escape
    return text if _UNRESERVED.fullmatch(text) else quote(text, safe=_SAFE_CHARS)


def hmac_sha256_hex(secret: str, payload: str) -> str:
    """Lower-case hex HMAC-SHA256 of ``payload`` under ``secret`` (both UTF-8)."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def encode_query(params: Iterable[tuple[str, str]]) -> str:
    """``k1=v1&k2=v2`` in the given order, values percent-encoded (uppercase hex).

    Plain values such as ``NEIROETHUSDT``, ``0.05`` or ``abc-1_2`` pass
    unchanged, so the string equals CCXT's for everything this project sends.
    """
    return "&".join(f"{_quote(str(k))}={_quote(str(v))}" for k, v in params)


def signed_query(
    params: Iterable[tuple[str, str]],
    *,
    api_secret: str,
    timestamp_ms: int,
    recv_window_ms: int,
    body: str = "",
) -> tuple[str, str]:
    """Build the signed query string.

    Returns ``(query, payload)``: ``query`` is what goes after ``?`` on the
    wire (``...&timestamp=T&recvWindow=W&signature=HEX``); ``payload`` is the
    exact string that was signed (query without signature, then ``body``).
    """
    base = list(params)
    base.append(("timestamp", str(int(timestamp_ms))))
    base.append(("recvWindow", str(int(recv_window_ms))))
    query = encode_query(base)
    payload = query + body
    return f"{query}&signature={hmac_sha256_hex(api_secret, payload)}", payload
