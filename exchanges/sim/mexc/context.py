"""Request plumbing of the simulated MEXC spot v3 API (docs/venues.md 3.1-3.2):
the app's shared state (:class:`MexcContext`), the parsed request (:class:`Req`),
signature and timestamp checks, and :func:`endpoint`, the handler wrapper
(faults first, params, signature, JSON out; MexcError/SimError become MEXC
``{"code","msg"}`` bodies).

Signing (section 3.2): header ``X-MEXC-APIKEY``; ``signature`` =
hex HMAC-SHA256(secret, query string + body, no separator, without the
``signature`` parameter itself), compared on the raw bytes as sent. Unknown
key -> 400 ``{"code":10072,"msg":"Api key info invalid"}``; bad signature ->
400 ``{"code":700002,"msg":"Signature for this request is not valid."}``;
``timestamp`` must satisfy ``timestamp < server+1000`` and
``server - timestamp <= recvWindow`` (default 5000, max 60000) else 400
``{"code":700003,...}``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from exchanges import clock
from exchanges.models import Symbol, VenueId
from exchanges.sim.engine import SimEngine
from exchanges.sim.engine.types import SimAccount, SimError
from exchanges.sim.faults import Faults
from exchanges.sim.mexc.format import MexcError, sim_error_to_mexc

VENUE = VenueId.MEXC_SPOT
LISTEN_KEY_TTL_MS = 60 * 60 * 1000  # section 3.6: valid 60 min, extended by PUT
MAX_RECV_WINDOW_MS = 60000

class MexcContext:
    """State shared by the REST handlers and the WS hub of one MEXC app:
    the engine, faults and the listen keys ``{key: (api_key, expires_ms)}``."""

    def __init__(self, engine: SimEngine, faults: Faults | None, push_log: deque | None = None) -> None:
        self.engine = engine
        self.faults = faults or Faults()
        self.listen_keys: dict[str, tuple[str, int]] = {}
        #: aggregated public pushes (SimContext.push_log when run by the server)
        self.push_log: deque = push_log if push_log is not None else deque(maxlen=4000)

    def listen_key_owner(self, key: str) -> str | None:
        """API key owning a valid (unexpired) listen key, else None."""
        entry = self.listen_keys.get(key)
        if entry is None or entry[1] < clock.now_ms():
            return None
        return entry[0]


class Req:
    """Parsed request: merged params (query then body), the account if signed."""

    def __init__(self, request: web.Request, params: dict[str, str], account: SimAccount | None,
                 recv_ms: int = 0, recv_perf_ns: int = 0) -> None:
        self.request, self.params, self.account = request, params, account
        self.recv_ms, self.recv_perf_ns = recv_ms, recv_perf_ns  # arrival, before faults/processing

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self.params.get(name)
        return default if value in (None, "") else value

    def need(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise MexcError(33333, f"Parameter error: mandatory parameter '{name}' was not sent")
        return value

    def decimal(self, name: str) -> Decimal | None:
        value = self.get(name)
        if value is None:
            return None
        try:
            result = Decimal(value)
        except InvalidOperation as exc:
            raise MexcError(33333, f"Parameter error: {name}={value!r} is not a number") from exc
        if not result.is_finite():
            raise MexcError(33333, f"Parameter error: {name}={value!r} is not a number")
        return result


def _strip_signature(text: str) -> tuple[str, str | None]:
    """Remove the ``signature=`` parameter from a raw query/body string;
    returns (signed text, signature or None)."""
    if "signature=" not in text:
        return text, None
    parts = text.split("&")
    kept, sig = [], None
    for part in parts:
        if part.startswith("signature="):
            sig = part[len("signature="):]
        else:
            kept.append(part)
    return "&".join(kept), sig


def _body_params(body: str) -> dict[str, str]:
    stripped = body.strip()
    if not stripped:
        return {}
    if stripped.startswith("{"):
        try:
            obj = json.loads(stripped)
        except ValueError as exc:
            raise MexcError(33333, "Parameter error: body is not valid JSON") from exc
        return {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in obj.items()}
    return dict(parse_qsl(stripped, keep_blank_values=True))


def verify_signature(ctx: MexcContext, request: web.Request, raw_query: str, body: str,
                     params: dict[str, str]) -> SimAccount:
    """Check key, signature and timestamp window (section 3.2); raise MexcError."""
    api_key = request.headers.get("X-MEXC-APIKEY", "")
    account = ctx.engine.account(api_key) if api_key else None
    if account is None:
        raise MexcError(10072, "Api key info invalid")
    query_signed, sig_q = _strip_signature(raw_query)
    body_signed, sig_b = _strip_signature(body)
    signature = sig_q or sig_b
    if not signature:
        raise MexcError(700002, "Signature for this request is not valid.")
    expected = hmac.new(account.api_secret.encode(), (query_signed + body_signed).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.lower()):
        raise MexcError(700002, "Signature for this request is not valid.")
    try:
        timestamp = int(params.get("timestamp", ""))
        recv_window = int(params.get("recvWindow") or 5000)
    except ValueError as exc:
        raise MexcError(700003, "Timestamp for this request is outside of the recvWindow.") from exc
    if recv_window > MAX_RECV_WINDOW_MS or recv_window <= 0:
        raise MexcError(33333, "Parameter error: recvWindow must be in (0, 60000]")
    now = clock.now_ms()
    if not (timestamp < now + 1000 and now - timestamp <= recv_window):
        raise MexcError(700003, "Timestamp for this request is outside of the recvWindow.")
    return account


Handler = Callable[[MexcContext, Req], Awaitable[Any]]
MEXC_CONTEXT = web.AppKey("mexc_context", MexcContext)
MEXC_WS_HUB = web.AppKey("mexc_ws_hub", object)


def endpoint(ctx: MexcContext, handler: Handler, *, signed: bool, is_order: bool = False
             ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Wrap a handler: faults first, params parsed, signature verified, JSON
    out; MexcError/SimError become MEXC error bodies; anything else 500."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        recv_perf_ns = time.perf_counter_ns()  # arrival stamps first: before fault latency and parsing
        recv_ms = clock.now_ms()
        injected = await ctx.faults.before_rest(VENUE, request.path, is_order=is_order)
        if injected is not None:
            return injected
        try:
            raw_query = request.rel_url.raw_query_string
            body = await request.text() if request.can_read_body else ""
            params = dict(parse_qsl(raw_query, keep_blank_values=True))
            params.update(_body_params(body))
            account = verify_signature(ctx, request, raw_query, body, params) if signed else None
            result = await handler(ctx, Req(request, params, account, recv_ms, recv_perf_ns))
        except MexcError as exc:
            return exc.response()
        except SimError as exc:
            return sim_error_to_mexc(exc).response()
        except (ValueError, TypeError) as exc:  # malformed numeric parameter
            return MexcError(33333, f"Parameter error: {exc}").response()
        if isinstance(result, web.StreamResponse):
            return result
        return web.json_response(result)

    return wrapped


def symbol_of(ctx: MexcContext, text: str | None) -> Symbol:
    """The engine symbol of a MEXC symbol name; MexcError -1121 otherwise."""
    sym = ctx.engine.find_symbol(VENUE, text or "")
    if sym is None:
        raise MexcError(-1121, "Invalid symbol.")
    return sym
