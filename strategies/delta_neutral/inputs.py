"""What the delta-neutral task decides on: books (minus liquidity our own orders took),
inventory, delta, exit reasons and the pure decision -- a mixin for DeltaNeutralTask.

Reads the task's venues, ledger, balances, intents, config and context; writes only
``context.low_since_ms`` (in :meth:`MarketInputs._decision`) and the taken-liquidity memory.
"""

from __future__ import annotations

from decimal import Decimal

from exchanges import clock
from exchanges.models import Side, VenueId
from state.records import IntentStatus

from strategies.delta_neutral import decide, policy
from strategies.delta_neutral.policy import PERP, SPOT_VENUES
from strategies.delta_neutral.sync import ALL_VENUES

ZERO = Decimal(0)


def _book_version(book) -> int:
    """Identity of the venue's book state: its update id; the receive time for a book without ids.
    (A keep-alive "still current" touch moves the time, not the id: it says nothing about whether
    the venue's view already includes our last fill.)"""
    return book.seq if book.seq else book.ts_ms


class MarketInputs:
    """Mixin: inputs of the state handlers (see module docstring)."""

    def _books(self) -> dict:
        """Current top of book per venue, minus what our own orders took from a book the venue
        has not updated since (:func:`policy.book_after_taking`)."""
        out = {}
        for v in ALL_VENUES:
            book = self.venues[v].book_top(self.symbol)
            if book is None:
                continue
            taken = self._taken.get(v)
            if taken is not None:
                if taken[0] == _book_version(book):
                    book = policy.book_after_taking(book, taken[1], taken[2])
                else:
                    del self._taken[v]  # the venue has shown a newer book: it includes our take
            out[v] = book
        return out

    def _note_taken(self, venue: VenueId, side: Side, qty: Decimal) -> None:
        """Remember that an order of ours is about to take ``qty`` (venue units) at the top of
        ``venue``'s current book: a sell takes the bid, a buy the ask."""
        book = self.venues[venue].book_top(self.symbol)
        if book is None:
            return
        key = _book_version(book)
        prev = self._taken.get(venue)
        bid_taken, ask_taken = (prev[1], prev[2]) if prev is not None and prev[0] == key else (ZERO, ZERO)
        if side is Side.SELL:
            bid_taken += qty
        else:
            ask_taken += qty
        self._taken[venue] = (key, bid_taken, ask_taken)

    def _all_fresh(self) -> bool:
        return all(self._book_fresh(v) for v in ALL_VENUES)

    def _mids(self) -> dict[VenueId, Decimal]:
        return {v: b.mid for v, b in self._books().items() if b.bid > 0 and b.ask > 0}

    def _sell_inventory(self) -> dict[VenueId, Decimal]:
        """Task-owned spot inventory, never more than the venue reports holding."""
        base = self.symbol.base.upper()
        out = {}
        for v, owned in self.ledger.spot_inventory().items():
            held = self._balances.get(v, {}).get(base)
            out[v] = min(owned, held) if held is not None else owned
        return out

    def _perp_contracts(self) -> Decimal:
        mult = self.infos[PERP].contract_multiplier
        return self.ledger.inventory_base(PERP) / mult

    def _in_flight_perp_base(self) -> Decimal:
        mult = self.infos[PERP].contract_multiplier
        total = ZERO
        for i in self.unresolved_intents():
            if i.venue == PERP and i.status is not IntentStatus.NOT_SENT:
                total += (i.qty - i.filled_qty) * mult * i.side.sign
        return total

    def _exit_reason(self) -> str | None:
        mids = self._mids()
        spot = [mids[v] for v in SPOT_VENUES if v in mids]
        return policy.exit_reason(
            self.config, stop_requested=False,
            elapsed_s=(clock.now_ms() - self.context.started_ms) / 1000.0 if self.context.started_ms else 0.0,
            net_pnl_usdt=self.ledger.net_pnl_usdt(mids), funding_rate=self._funding_rate,
            spot_mid=sum(spot, ZERO) / len(spot) if spot else None, perp_mid=mids.get(PERP))

    def _rebalance_plan(self, building: bool, include_pair: bool = False) -> list[policy.PlannedOrder]:
        return policy.rebalance_plan(self._books(), self.infos, self._sell_inventory(), self._quote_free,
                                     self._perp_contracts(), self.config, building, include_pair)

    def _decision(self, now: int) -> decide.Decision | None:
        """Gather inputs and call :func:`decide.decide` (books must be fresh). Tracks since when a
        venue is below ``min_inventory_fraction`` (``low_since_ms``)."""
        ctx = self.context
        books, inv = self._books(), self._sell_inventory()
        sl_order, sl_expired = None, False
        if ctx.single_leg is not None:
            sl = ctx.single_leg
            if now > sl.deadline_ms:
                sl_expired = True
            else:
                sl_order = policy.single_leg_order(
                    self.config.single_leg_policy, sl.sell_venue, sl.buy_venue, ZERO, sl.imbalance_base,
                    sl.sell_price, sl.buy_price, books, self.infos, inv, self.config.single_leg_price_limit_bps)
        build_orders = [o for o in self._rebalance_plan(True) if o.leg == "build"] if ctx.building else None
        if decide.low_inventory(inv, books, self.config):
            ctx.low_since_ms = ctx.low_since_ms or now
        else:
            ctx.low_since_ms = 0
        return decide.decide(
            books=books, infos=self.infos, inventory_base=inv, quote_free_usdt=self._quote_free,
            net_delta_base=self.ledger.net_delta_base(), config=self.config, building=ctx.building,
            build_orders=build_orders, single_leg_order=sl_order, single_leg_expired=sl_expired, now_ms=now,
            last_rebalance_ms=ctx.last_rebalance_ms, low_since_ms=ctx.low_since_ms)
