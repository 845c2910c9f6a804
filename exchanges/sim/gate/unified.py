"""Simulated Gate v4 unified-account endpoints (docs/venues.md 1.11; Gate APIv4
"Unified" -> "Get unified account information", "Query mode of the unified
account", "Set unified account mode").

``GET /unified/unified_mode`` -> ``{"mode", "settings"}``; ``PUT
/unified/unified_mode`` ``{"mode"}`` switches it (204; refused with open orders
or positions); ``GET /unified/accounts[?currency=]`` -> the unified account:
per-currency ``balances`` of the pool Gate spot and USDT futures share
(``available``, ``freeze``, ``equity``...) and USD totals (USDT = 1 USD, other
currencies at the spot mark). Every route is signed.
"""

from __future__ import annotations

from decimal import Decimal

from aiohttp import web

from exchanges import clock
from exchanges.models import ZERO, Symbol, VenueId
from exchanges.sim.context import SimContext
from exchanges.sim.engine.types import SimAccount, SimError
from exchanges.sim.gate.common import fmt
from exchanges.sim.gate.plumbing import API_ROOT, wrap


def mode_json(acc: SimAccount) -> dict:
    """``UnifiedModeSet``: the mode and its switches (USDT futures in the pool once unified)."""
    return {"mode": acc.gate_mode, "settings": {"usdt_futures": acc.gate_unified, "spot_hedge": False,
                                                "use_funding": False, "options": False}}


def _usd_value(ctx: SimContext, asset: str, amount: Decimal) -> Decimal:
    if asset == "USDT" or not amount:
        return amount
    symbol = Symbol(asset, "USDT")
    if ctx.engine.find_symbol(VenueId.GATE_SPOT, symbol.gate) is None:
        return ZERO
    return amount * ctx.engine.mark_price(VenueId.GATE_SPOT, symbol)


def unified_account_json(ctx: SimContext, acc: SimAccount, currency: str | None = None) -> dict:
    """``UnifiedAccount`` of ``acc`` (optionally one currency's balance only)."""
    balances = ctx.engine.balances(acc.api_key, VenueId.GATE_SPOT)
    out: dict[str, dict] = {}
    total = ZERO
    for asset, bal in sorted(balances.items()):
        if currency and asset != currency.upper():
            continue
        equity = bal.free + bal.locked
        total += _usd_value(ctx, asset, equity)
        out[asset] = {"available": fmt(bal.free), "freeze": fmt(bal.locked), "borrowed": "0", "negative_liab": "0",
                      "futures_pos_liab": "0", "equity": fmt(equity), "total_freeze": fmt(bal.locked),
                      "total_liab": "0", "spot_in_use": fmt(bal.locked), "funding": "0", "cross_balance": fmt(equity),
                      "iso_balance": "0", "margin_balance": fmt(equity), "available_margin": fmt(bal.free),
                      "enabled_collateral": True}
    margin = sum((p.margin for p in ctx.engine.positions(acc.api_key, VenueId.GATE_PERP)), ZERO)
    return {"user_id": acc.user_id, "refresh_time": clock.now_ms(), "locked": False, "mode": acc.gate_mode,
            "balances": out, "total": fmt(total), "borrowed": "0", "total_initial_margin": fmt(margin),
            "total_margin_balance": fmt(total), "total_maintenance_margin": fmt(margin / 2),
            "total_available_margin": fmt(total - margin), "unified_account_total": fmt(total),
            "unified_account_total_liab": "0", "unified_account_total_equity": fmt(total), "leverage": "1",
            "spot_order_loss": "0", "spot_hedge": False, "use_funding": False, "is_all_collateral": True}


def setup_unified_routes(app: web.Application, ctx: SimContext) -> None:
    async def get_mode(request: web.Request, acc: SimAccount, _d: dict) -> web.Response:
        return web.json_response(mode_json(acc))

    async def set_mode(request: web.Request, acc: SimAccount, data: dict) -> web.Response:
        if not isinstance(data, dict) or not data.get("mode"):
            raise SimError("INVALID_PARAM_VALUE", "mode is required")
        ctx.engine.set_gate_mode(acc.api_key, str(data["mode"]))
        return web.Response(status=204)

    async def accounts(request: web.Request, acc: SimAccount, _d: dict) -> web.Response:
        return web.json_response(unified_account_json(ctx, acc, request.query.get("currency")))

    r = app.router
    r.add_get(f"{API_ROOT}/unified/unified_mode", wrap(ctx, get_mode, True))
    r.add_put(f"{API_ROOT}/unified/unified_mode", wrap(ctx, set_mode, True))
    r.add_get(f"{API_ROOT}/unified/accounts", wrap(ctx, accounts, True))
