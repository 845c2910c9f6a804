"""Task-owned inventory and PnL, built only from the task's own fills.

The ledger never looks at wallet balances (seed_origin_review 7.2 #10): what
the task owns is exactly the sum of its fills. It is rebuilt from the stored
FillRecords / FundingRecords on resume, so it needs no state of its own.

Per venue it keeps a signed base position with an average cost (perp sizes in
base via ``qty_base`` = contracts x multiplier). Realized PnL uses average cost;
fees are valued in USDT from each fill's actual fee and fee asset (a base-asset
fee leaves the spot position at its average cost and is valued at that same
cost, so realized + unrealized - fees always equals the cash flows plus the
coins held at their mark; quote fees count 1:1; any other asset, e.g. GT or MX,
is kept unconverted in ``fees_other``);
funding payments are booked as received (+) or paid (-); unrealized PnL marks
each position to the venue mid. Fills are booked at their execution price,
never at the order's limit price (7.2 #12).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from exchanges.models import Side, VenueId

ZERO = Decimal(0)


class FillLike(Protocol):
    """What the ledger reads from a fill (``exchanges.models.Fill`` or ``state.records.FillRecord``)."""

    venue: VenueId
    trade_id: str
    side: Side
    price: Decimal
    qty_base: Decimal
    fee: Decimal
    fee_asset: str


@dataclass
class VenuePosition:
    """Signed base position and its average entry price on one venue."""

    qty_base: Decimal = ZERO
    avg_price: Decimal = ZERO
    realized_pnl_usdt: Decimal = ZERO

    def trade(self, signed_qty_base: Decimal, price: Decimal) -> Decimal:
        """Apply a signed trade; returns the realized PnL of the part that closed."""
        realized = ZERO
        q = self.qty_base
        if q == 0 or (q > 0) == (signed_qty_base > 0):
            new_q = q + signed_qty_base
            self.avg_price = (abs(q) * self.avg_price + abs(signed_qty_base) * price) / abs(new_q)
            self.qty_base = new_q
            return ZERO
        closing = min(abs(signed_qty_base), abs(q))
        direction = 1 if q > 0 else -1
        realized = (price - self.avg_price) * closing * direction
        self.realized_pnl_usdt += realized
        new_q = q + signed_qty_base
        if new_q == 0:
            self.qty_base, self.avg_price = ZERO, ZERO
        elif (new_q > 0) == (q > 0):
            self.qty_base = new_q  # partial close keeps the average
        else:
            self.qty_base, self.avg_price = new_q, price  # reversed: the rest opens at price
        return realized

    def remove_at_cost(self, qty_base: Decimal) -> Decimal:
        """Reduce a long by a base-asset fee: the coins are gone at their average cost, no
        realized PnL. Returns that cost (USDT), which is what the fee is worth to the ledger."""
        cost = qty_base * self.avg_price
        self.qty_base -= qty_base
        if self.qty_base == 0:
            self.avg_price = ZERO
        return cost


def fmt_usdt(value: Decimal) -> str:
    """Money for display/persistence: rounded to 1e-10 USDT, no exponent, no trailing zeros
    (the ledger itself keeps full precision)."""
    q = value.quantize(Decimal("1e-10")).normalize()
    return "0" if q == 0 else format(q, "f")


def fee_in_usdt(fee: Decimal, fee_asset: str, price: Decimal, base: str, quote: str = "USDT") -> Decimal | None:
    """USDT value of a fee at ``price``: quote 1:1, base at ``price``; None for any other asset.
    (The ledger values a base fee at the position's average cost: :meth:`Ledger.book`.)"""
    asset = (fee_asset or quote).upper()
    if asset == quote.upper():
        return fee
    if asset == base.upper():
        return fee * price
    return None


@dataclass
class Ledger:
    """Inventory and PnL of one task (base asset ``base``, quote USDT)."""

    base: str
    quote: str = "USDT"
    positions: dict[VenueId, VenuePosition] = field(default_factory=dict)
    fees_usdt: Decimal = ZERO
    fees_other: dict[str, Decimal] = field(default_factory=dict)
    funding_usdt: Decimal = ZERO
    trades: int = 0
    volume_usdt: Decimal = ZERO
    trade_ids: set[tuple[str, str]] = field(default_factory=set)

    def position(self, venue: VenueId) -> VenuePosition:
        return self.positions.setdefault(VenueId(venue), VenuePosition())

    def apply_fill(self, fill: FillLike) -> bool:
        """Book one of OUR fills; returns False if its (venue, trade_id) was already booked."""
        return self.book(fill) is not None

    def book(self, fill: FillLike) -> Decimal | None:
        """Book one of OUR fills; returns the USDT value given to its fee (0 for a fee in another
        asset, kept in ``fees_other``), or None when its (venue, trade_id) was already booked.

        A base-coin fee on spot leaves the position at average cost and is valued at that cost."""
        venue = VenueId(fill.venue)
        key = (venue.value, str(fill.trade_id))
        if key in self.trade_ids:
            return None
        self.trade_ids.add(key)
        side = Side(fill.side)
        pos = self.position(venue)
        pos.trade(fill.qty_base * side.sign, fill.price)
        asset = (fill.fee_asset or self.quote).upper()
        fee_usdt = ZERO
        if fill.fee and asset == self.base.upper() and venue != VenueId.GATE_PERP:
            fee_usdt = pos.remove_at_cost(fill.fee)
        elif asset == self.quote.upper():
            fee_usdt = fill.fee
        elif fill.fee:
            self.fees_other[asset] = self.fees_other.get(asset, ZERO) + fill.fee
        self.fees_usdt += fee_usdt
        self.trades += 1
        self.volume_usdt += fill.qty_base * fill.price
        return fee_usdt

    def apply_funding(self, amount_usdt: Decimal) -> None:
        """Book a funding settlement (+ received, - paid)."""
        self.funding_usdt += amount_usdt

    @classmethod
    def rebuild(cls, base: str, fills: Iterable[FillLike], funding_usdt: Iterable[Decimal] = (),
                quote: str = "USDT") -> "Ledger":
        """A ledger from stored fills and funding amounts (resume)."""
        led = cls(base=base, quote=quote)
        for f in fills:
            led.apply_fill(f)
        for amount in funding_usdt:
            led.apply_funding(amount)
        return led

    # ---- reads ----

    def inventory_base(self, venue: VenueId) -> Decimal:
        """Task-owned signed base quantity on ``venue`` (perp: base equivalent of the position)."""
        pos = self.positions.get(VenueId(venue))
        return pos.qty_base if pos else ZERO

    def spot_inventory(self) -> dict[VenueId, Decimal]:
        return {v: self.inventory_base(v) for v in (VenueId.GATE_SPOT, VenueId.MEXC_SPOT)}

    def net_delta_base(self) -> Decimal:
        """Spot longs plus the signed perp position, all in base."""
        return sum((p.qty_base for p in self.positions.values()), ZERO)

    def realized_pnl_usdt(self) -> Decimal:
        return sum((p.realized_pnl_usdt for p in self.positions.values()), ZERO)

    def unrealized_pnl_usdt(self, mids: Mapping[VenueId, Decimal]) -> Decimal:
        """Mark every position to its venue mid (venues without a mid are skipped)."""
        total = ZERO
        for v, p in self.positions.items():
            mid = mids.get(v)
            if mid and p.qty_base:
                total += (mid - p.avg_price) * p.qty_base
        return total

    def net_pnl_usdt(self, mids: Mapping[VenueId, Decimal]) -> Decimal:
        return self.realized_pnl_usdt() + self.unrealized_pnl_usdt(mids) - self.fees_usdt + self.funding_usdt

    def totals(self, mids: Mapping[VenueId, Decimal]) -> dict[str, str]:
        """The persisted PnL dict (decimal strings): realized_pnl_usdt, unrealized_pnl_usdt,
        fees_usdt, funding_usdt, net_pnl_usdt, net_delta_base, trades, volume_usdt,
        plus per-venue inventory_<venue>_base and realized_<venue>_usdt."""
        out = {
            "realized_pnl_usdt": fmt_usdt(self.realized_pnl_usdt()),
            "unrealized_pnl_usdt": fmt_usdt(self.unrealized_pnl_usdt(mids)),
            "fees_usdt": fmt_usdt(self.fees_usdt),
            "funding_usdt": fmt_usdt(self.funding_usdt),
            "net_pnl_usdt": fmt_usdt(self.net_pnl_usdt(mids)),
            "net_delta_base": str(self.net_delta_base()),
            "trades": str(self.trades),
            "volume_usdt": fmt_usdt(self.volume_usdt),
        }
        for v, p in sorted(self.positions.items(), key=lambda kv: kv[0].value):
            out[f"inventory_{v.value}_base"] = str(p.qty_base)
            out[f"realized_{v.value}_usdt"] = fmt_usdt(p.realized_pnl_usdt)
        for asset, amount in sorted(self.fees_other.items()):
            out[f"fees_{asset.lower()}"] = str(amount)
        return out
