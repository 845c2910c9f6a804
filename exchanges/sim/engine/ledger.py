"""Balances, perp positions and funding of the simulator's accounts.

Spot venues: one :class:`Balance` per asset (``free``/``locked``); orders lock
quote (buys) or base (sells) while open.

Perp venue (Gate USDT futures, one-way mode): one ``USDT`` balance whose total
(``free + locked``) is the wallet (deposits + realised PnL - fees + funding);
``locked`` = order margin of open orders + position margin
(|size| x multiplier x entry / leverage); ``free`` is what Gate calls
``available``. Every change is written to the store and pushed as a
:class:`BalanceUpdate` / :class:`PositionUpdate` through ``emit``.

Gate unified accounts (users in ``pooled``): Gate spot and USDT futures share
one balance pool, kept under ``GATE_SPOT`` (docs/venues.md 1.11); the perp's
margin is locked in that pool's USDT. Positions stay per venue.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from exchanges.models import ZERO, Balance, Symbol, VenueId
from exchanges.sim.engine.store import EngineStore
from exchanges.sim.engine.types import (
    AccountUpdate,
    BalanceUpdate,
    PositionUpdate,
    SimError,
    SimFunding,
    SimPosition,
)

Emit = Callable[[int, VenueId, AccountUpdate], None]


class Ledger:
    """In-memory balances/positions/funding with write-through persistence."""

    def __init__(self, store: EngineStore, emit: Emit, default_leverage: Decimal = Decimal(10)) -> None:
        self.store = store
        self.emit = emit
        self.default_leverage = default_leverage
        self.balances: dict[tuple[int, VenueId], dict[str, Balance]] = {}
        self.positions: dict[tuple[int, VenueId, Symbol], SimPosition] = {}
        self.funding: list[SimFunding] = []
        #: user ids of Gate unified accounts (their GATE_PERP balances live in the GATE_SPOT pool)
        self.pooled: set[int] = set()

    def pool(self, user_id: int, venue: VenueId) -> VenueId:
        """The venue whose balances ``venue`` uses for this user (see module doc)."""
        if venue is VenueId.GATE_PERP and user_id in self.pooled:
            return VenueId.GATE_SPOT
        return venue

    def merge_into_pool(self, user_id: int, ts_ms: int) -> None:
        """Move the user's free Gate futures balances into the spot pool (switch to unified)."""
        for asset, bal in list(self.balances.get((user_id, VenueId.GATE_PERP), {}).items()):
            if bal.locked:
                raise SimError("INVALID_PARAM_VALUE", "close futures positions and orders before switching mode")
            if bal.free:
                self.adjust(user_id, VenueId.GATE_PERP, asset, -bal.free, ZERO, "transfer", ts_ms)
                self.adjust(user_id, VenueId.GATE_SPOT, asset, bal.free, ZERO, "transfer", ts_ms)

    def load(self) -> None:
        for user_id, venue, bal in self.store.balances():
            self.balances.setdefault((user_id, venue), {})[bal.asset] = bal
        for pos in self.store.positions():
            self.positions[(pos.user_id, pos.venue, pos.symbol)] = pos
        self.funding = self.store.funding()

    # ---- balances -----------------------------------------------------------
    def balance(self, user_id: int, venue: VenueId, asset: str) -> Balance:
        return self.balances.get((user_id, self.pool(user_id, venue)), {}).get(asset) or Balance(asset, ZERO, ZERO)

    def all_balances(self, user_id: int, venue: VenueId) -> dict[str, Balance]:
        return dict(self.balances.get((user_id, self.pool(user_id, venue)), {}))

    def adjust(self, user_id: int, venue: VenueId, asset: str, d_free: Decimal, d_locked: Decimal,
               change_type: str, ts_ms: int) -> Balance:
        """Add ``d_free``/``d_locked`` to a balance, persist and push it."""
        old = self.balance(user_id, venue, asset)
        new = Balance(asset, old.free + d_free, old.locked + d_locked)
        if new.locked < 0 and new.locked > Decimal("-1e-12"):
            new = Balance(asset, new.free + new.locked, ZERO)
        self.balances.setdefault((user_id, self.pool(user_id, venue)), {})[asset] = new
        self.store.put_balance(user_id, self.pool(user_id, venue), new)
        self.emit(user_id, venue, BalanceUpdate(venue, new, d_free + d_locked, change_type, ts_ms))
        return new

    def set_free(self, user_id: int, venue: VenueId, asset: str, free: Decimal, ts_ms: int) -> Balance:
        """Admin: set the free amount of an asset (locked unchanged)."""
        old = self.balance(user_id, venue, asset)
        return self.adjust(user_id, venue, asset, free - old.free, ZERO, "admin", ts_ms)

    def reserve(self, user_id: int, venue: VenueId, asset: str, amount: Decimal, ts_ms: int, label: str) -> None:
        """Move ``amount`` from free to locked; SimError(label) if free is short."""
        if amount <= 0:
            return
        bal = self.balance(user_id, venue, asset)
        if bal.free < amount:
            raise SimError(label, f"not enough {asset} available: need {amount}, have {bal.free}")
        self.adjust(user_id, venue, asset, -amount, amount, "order-create", ts_ms)

    def release(self, user_id: int, venue: VenueId, asset: str, amount: Decimal, ts_ms: int,
                change_type: str = "order-cancel") -> None:
        if amount > 0:
            self.adjust(user_id, venue, asset, amount, -amount, change_type, ts_ms)

    # ---- positions ----------------------------------------------------------
    def position(self, user_id: int, venue: VenueId, symbol: Symbol, multiplier: Decimal) -> SimPosition:
        key = (user_id, venue, symbol)
        pos = self.positions.get(key)
        if pos is None:
            pos = self.positions[key] = SimPosition(user_id, venue, symbol, leverage=self.default_leverage,
                                                    multiplier=multiplier)
        return pos

    def user_positions(self, user_id: int, venue: VenueId) -> list[SimPosition]:
        return [p for (u, v, _), p in self.positions.items() if u == user_id and v == venue]

    def apply_perp_fill(self, pos: SimPosition, signed_qty: Decimal, price: Decimal, fee_usdt: Decimal,
                        ts_ms: int) -> Decimal:
        """Apply one fill of ``signed_qty`` contracts at ``price`` to ``pos``:
        average entry on increase, realise PnL on decrease/flip, charge the fee
        and move position margin. Returns the realised trading PnL (USDT)."""
        mult = pos.multiplier
        old_margin = pos.margin
        realised = ZERO
        size = pos.size
        if size == 0 or (size > 0) == (signed_qty > 0):
            new_size = size + signed_qty
            pos.entry_price = (abs(size) * pos.entry_price + abs(signed_qty) * price) / abs(new_size)
            pos.size = new_size
        else:
            closing = min(abs(signed_qty), abs(size))
            direction = Decimal(1) if size > 0 else Decimal(-1)
            realised = closing * mult * (price - pos.entry_price) * direction
            new_size = size + signed_qty
            if new_size == 0:
                pos.entry_price = ZERO
            elif (new_size > 0) != (size > 0):
                pos.entry_price = price
            pos.size = new_size
        pos.realised_pnl += realised - fee_usdt
        pos.pnl_fee -= fee_usdt
        pos.mark_price = pos.mark_price or price
        pos.update_id += 1
        pos.updated_ms = ts_ms
        d_margin = pos.margin - old_margin
        self.adjust(pos.user_id, pos.venue, "USDT", realised - fee_usdt - d_margin, d_margin, "order-match", ts_ms)
        self.store.put_position(pos)
        self.emit(pos.user_id, pos.venue, PositionUpdate(pos))
        return realised

    def set_leverage(self, pos: SimPosition, leverage: Decimal, ts_ms: int) -> None:
        if leverage <= 0:
            raise SimError("INVALID_PARAM_VALUE", "leverage must be > 0 (cross margin is not simulated)")
        old_margin = pos.margin
        pos.leverage = leverage
        d_margin = pos.margin - old_margin
        if d_margin:
            self.adjust(pos.user_id, pos.venue, "USDT", -d_margin, d_margin, "margin", ts_ms)
        pos.update_id += 1
        self.store.put_position(pos)
        self.emit(pos.user_id, pos.venue, PositionUpdate(pos))

    # ---- funding ------------------------------------------------------------
    def apply_funding(self, venue: VenueId, symbol: Symbol, rate: Decimal, mark_price: Decimal,
                      ts_ms: int) -> list[SimFunding]:
        """Settle funding for every open position on (venue, symbol):
        amount = -size x multiplier x mark x rate (positive rate: longs pay)."""
        out = []
        for (user_id, v, s), pos in self.positions.items():
            if v != venue or s != symbol or pos.size == 0:
                continue
            amount = -pos.size * pos.multiplier * mark_price * rate
            payment = SimFunding(user_id, venue, symbol, amount, rate, ts_ms, pos.size, mark_price)
            pos.realised_pnl += amount
            pos.pnl_fund += amount
            pos.update_id += 1
            pos.updated_ms = ts_ms
            self.funding.append(payment)
            self.store.put_funding(payment)
            self.store.put_position(pos)
            self.adjust(user_id, venue, "USDT", amount, ZERO, "fund", ts_ms)
            self.emit(user_id, venue, PositionUpdate(pos))
            out.append(payment)
        return out
