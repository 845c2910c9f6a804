"""The simulator's matching engine: books, accounts, orders, fills, funding.

One :class:`SimEngine` per simulator process. It is synchronous and runs on the
server's event loop (no locks needed); protocol layers (Gate, MEXC) call it and
format its results into their wire formats.

Engine API (stable; additions only)
-----------------------------------
Construction: ``SimEngine(symbols, db_path=None, keys_path=None,
starting_balances=None, default_leverage=Decimal(10))`` -- ``symbols`` is an
iterable of :class:`~exchanges.models.SymbolInfo` (venue inside).

Symbols: ``symbol_info(venue, symbol)``, ``find_symbol(venue, venue_symbol)``
(``"NEIROETH_USDT"`` / ``"NEIROETHUSDT"`` -> Symbol or None), ``symbols(venue)``.

Books (shown = feed minus our consumption; see :mod:`engine_book`):
``set_book(venue, symbol, bids, asks, ts_ms=None) -> BookUpdate | None`` (feed
snapshot; re-matches resting orders that now cross; ``bids``/``asks`` a list of
(price, qty) or a prepared ``engine_book.level_map`` dict), ``book(venue, symbol,
depth=None) -> (bids, asks, update_id)``, ``subscribe_book(venue, symbol,
callback) -> unsubscribe`` (symbol None = every book of the venue, venue None =
all books; callback gets a
:class:`BookUpdate` with ``first_id``/``last_id``, changed ``bids``/``asks``,
full ``top_bids``/``top_asks``), ``mark_price(venue, symbol)``.

Accounts: ``default_account``, ``account(api_key) -> SimAccount | None``,
``account_by_user(user_id)``, ``accounts()``, ``create_account(label, balances=None)``,
``set_balance(api_key, venue, asset, free)``, ``set_gate_mode(api_key, mode)``
(Gate classic/unified; unified pools Gate spot and futures balances).

Orders (``api_key`` selects the account; SimError on refusal):
``place_order(api_key, venue, symbol, side, qty, price=None,
order_type=OrderType.LIMIT, tif=TimeInForce.GTC, client_order_id="",
reduce_only=False, quote_qty=None, is_close=False, recv_ms=None,
recv_perf_ns=None) -> SimOrder`` -- matched at once against the shown book
(partial fills; IOC/market remainder cancelled; FOK all-or-nothing; post-only
that would take -> SimError ORDER_POC_IMMEDIATE; GTC rests and fills as maker
at its limit price when the book later crosses it). ``quote_qty`` = market buy
spending quote (Gate spot). ``is_close`` = close the whole perp position.
``cancel_order(api_key, venue, symbol=None, client_order_id=None,
order_id=None) -> SimOrder``, ``cancel_all(api_key, venue, symbol=None,
side=None) -> list[SimOrder]``, ``get_order(...) -> SimOrder``,
``open_orders(api_key, venue, symbol=None)``, ``orders(api_key, venue,
symbol=None, open_only=None)``, ``fills(api_key, venue, symbol=None,
order_id=None) -> list[SimFill]``, ``order_log(limit=1000, venue=None)``.

Balances/positions/funding: ``balances(api_key, venue) -> dict[str, Balance]``,
``positions(api_key, venue=GATE_PERP, symbol=None) -> list[SimPosition]``,
``set_leverage(api_key, venue, symbol, leverage)``, ``set_funding_rate(venue,
symbol, rate)``, ``funding_info(venue, symbol) -> (rate, interval_s,
next_funding_ms)``, ``apply_funding(venue, symbol, rate=None, ts_ms=None)``,
``tick(now_ms=None)`` (applies due funding, samples marks into the 24 h
statistics), ``stats_24h(venue, symbol) -> Stats24h``, ``funding_history(venue, symbol)``, ``funding_payments(api_key, venue,
symbol=None, since_ms=0) -> list[SimFunding]``.

Private pushes: ``subscribe_account(api_key, venue, callback) -> unsubscribe``;
callback gets :class:`OrderUpdate` / :class:`FillUpdate` / :class:`BalanceUpdate`
/ :class:`PositionUpdate`, synchronously, in causal order.

Fees: taker/maker rate from the symbol rules; spot buys pay in base, sells in
quote; perp in USDT. Persistence: every change is written to ``db_path``
(SQLite, WAL) by a writer thread off the event loop and group-committed within
~20 ms (:mod:`exchanges.sim.engine.store`); ``flush()`` waits for it, ``close()``
flushes; keys go to ``keys_path`` (JSON, 0600).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

from exchanges import clock
from exchanges.models import ZERO, Balance, MarketType, OrderStatus, OrderType, Side, Symbol, SymbolInfo, TimeInForce, VenueId
from exchanges.sim.engine.book import BookCallback, BookSet
from exchanges.sim.engine.ledger import Ledger
from exchanges.sim.engine.match import Matcher
from exchanges.sim.engine.stats import MarketStats, Stats24h
from exchanges.sim.engine.store import EngineStore, load_keys, save_keys
from exchanges.sim.engine.types import (
    AccountUpdate,
    BookUpdate,
    FillUpdate,
    Level,
    SimAccount,
    SimError,
    SimFill,
    SimFunding,
    SimOrder,
    SimPosition,
)

log = logging.getLogger(__name__)

AccountCallback = Callable[[AccountUpdate], None]
DEFAULT_BALANCES: dict[VenueId, dict[str, Decimal]] = {
    VenueId.GATE_SPOT: {"USDT": Decimal(10000)},
    VenueId.GATE_PERP: {"USDT": Decimal(10000)},
    VenueId.MEXC_SPOT: {"USDT": Decimal(10000)},
}
_FIRST_USER_ID = 10_000_001
GATE_MODES = ("classic", "multi_currency", "single_currency", "portfolio")  # docs/venues.md 1.11


class SimEngine:
    """Books + accounts + matching for one simulator process (see module doc)."""

    def __init__(self, symbols: Iterable[SymbolInfo], db_path: Path | None = None, keys_path: Path | None = None,
                 starting_balances: Mapping[VenueId, Mapping[str, Decimal]] | None = None,
                 default_leverage: Decimal = Decimal(10)) -> None:
        self._rules: dict[tuple[VenueId, Symbol], SymbolInfo] = {}
        self._by_venue_symbol: dict[tuple[VenueId, str], Symbol] = {}
        for info in symbols:
            self._rules[(info.venue, info.symbol)] = info
            self._by_venue_symbol[(info.venue, info.venue_symbol.upper())] = info.symbol
        self.starting_balances = {VenueId(k): dict(v) for k, v in (starting_balances or DEFAULT_BALANCES).items()}
        self.store = EngineStore(db_path)
        self.keys_path = keys_path
        self.books = BookSet()
        self._account_subs: dict[tuple[int, VenueId], list[AccountCallback]] = {}
        self.ledger = Ledger(self.store, self._emit, default_leverage)
        self.ledger.load()
        self.matcher = Matcher(self)
        self._accounts: dict[str, SimAccount] = {}
        self._accounts_by_user: dict[int, SimAccount] = {}
        self._funding_rate: dict[tuple[VenueId, Symbol], Decimal] = {}
        self._next_funding_ms: dict[tuple[VenueId, Symbol], int] = {}
        self._last_mark: dict[tuple[VenueId, Symbol], Decimal] = {}
        self._funding_history: dict[tuple[VenueId, Symbol], list[tuple[int, Decimal]]] = {}
        self.stats = MarketStats()
        self._load_accounts()
        self.matcher.load(self.store.orders(), self.store.fills())

    # ---- symbols --------------------------------------------------------------
    def symbol_info(self, venue: VenueId, symbol: Symbol) -> SymbolInfo:
        """Rules of the symbol; SimError INVALID_CURRENCY_PAIR / CONTRACT_NOT_FOUND if unknown."""
        info = self._rules.get((venue, symbol))
        if info is None:
            label = "CONTRACT_NOT_FOUND" if venue is VenueId.GATE_PERP else "INVALID_CURRENCY_PAIR"
            raise SimError(label, f"unknown symbol {symbol} on {venue.value}", 400)
        return info

    def find_symbol(self, venue: VenueId, venue_symbol: str) -> Symbol | None:
        return self._by_venue_symbol.get((venue, (venue_symbol or "").upper()))

    def symbols(self, venue: VenueId) -> list[SymbolInfo]:
        return [info for (v, _), info in self._rules.items() if v == venue]

    # ---- accounts -------------------------------------------------------------
    def _load_accounts(self) -> None:
        known = set(self.store.account_ids())
        for acc in load_keys(self.keys_path):
            self._accounts[acc.api_key] = acc
            self._accounts_by_user[acc.user_id] = acc
            if acc.gate_unified:
                self.ledger.pooled.add(acc.user_id)
        if not self._accounts:
            self.create_account("default", fresh_ids=known)

    def create_account(self, label: str = "default", balances: Mapping[VenueId, Mapping[str, Decimal]] | None = None,
                       fresh_ids: set[int] | None = None) -> SimAccount:
        """Generate a key/secret pair and an account funded with ``balances``
        (default ``starting_balances``); persisted (keys to the keys file)."""
        taken = set(self._accounts_by_user) | (fresh_ids or set())
        user_id = max(taken, default=_FIRST_USER_ID - 1) + 1
        acc = SimAccount(user_id, secrets.token_hex(16), secrets.token_hex(32), label)
        self._accounts[acc.api_key] = acc
        self._accounts_by_user[user_id] = acc
        now = clock.now_ms()
        self.store.put_account(user_id, label, now)
        for venue, assets in (balances or self.starting_balances).items():
            for asset, amount in assets.items():
                self.ledger.adjust(user_id, VenueId(venue), asset, Decimal(amount), ZERO, "deposit", now)
        self.store.commit()
        save_keys(self.keys_path, list(self._accounts.values()))
        return acc

    @property
    def default_account(self) -> SimAccount:
        return self._accounts_by_user[min(self._accounts_by_user)]

    def account(self, api_key: str) -> SimAccount | None:
        return self._accounts.get(api_key)

    def account_by_user(self, user_id: int) -> SimAccount | None:
        return self._accounts_by_user.get(user_id)

    def accounts(self) -> list[SimAccount]:
        return sorted(self._accounts.values(), key=lambda a: a.user_id)

    def _acc(self, api_key: str) -> SimAccount:
        acc = self._accounts.get(api_key)
        if acc is None:
            raise SimError("INVALID_KEY", "invalid API key", 401)
        return acc

    def set_gate_mode(self, api_key: str, mode: str) -> SimAccount:
        """Switch the account's Gate mode (``GATE_MODES``). Into a unified mode the
        free futures balances join the spot pool. Refused (SimError) with open
        Gate orders or positions, as a mode switch needs a flat account."""
        acc = self._acc(api_key)
        if mode not in GATE_MODES:
            raise SimError("INVALID_PARAM_VALUE", f"unknown mode {mode!r}: one of {', '.join(GATE_MODES)}")
        if mode == acc.gate_mode:
            return acc
        busy = any(self.open_orders(api_key, v) for v in (VenueId.GATE_SPOT, VenueId.GATE_PERP)) or any(
            p.size != 0 for p in self.positions(api_key, VenueId.GATE_PERP))
        if busy:
            raise SimError("INVALID_PARAM_VALUE", "cancel open orders and close positions before switching mode")
        if mode != "classic" and not acc.gate_unified:
            self.ledger.merge_into_pool(acc.user_id, clock.now_ms())
            self.ledger.pooled.add(acc.user_id)
        elif mode == "classic":
            self.ledger.pooled.discard(acc.user_id)
        acc.gate_mode = mode
        self.store.commit()
        save_keys(self.keys_path, list(self._accounts.values()))
        return acc

    def set_balance(self, api_key: str, venue: VenueId, asset: str, free: Decimal) -> Balance:
        acc = self._acc(api_key)
        bal = self.ledger.set_free(acc.user_id, venue, asset, Decimal(free), clock.now_ms())
        self.store.commit()
        return bal

    # ---- subscriptions ----------------------------------------------------------
    def subscribe_book(self, venue: VenueId | None, symbol: Symbol | None, callback: BookCallback) -> Callable[[], None]:
        return self.books.subscribe(venue, symbol, callback)

    def subscribe_account(self, api_key: str, venue: VenueId, callback: AccountCallback) -> Callable[[], None]:
        """Private pushes of one account on one venue; returns an unsubscribe function."""
        acc = self._acc(api_key)
        subs = self._account_subs.setdefault((acc.user_id, venue), [])
        subs.append(callback)

        def unsubscribe() -> None:
            if callback in subs:
                subs.remove(callback)

        return unsubscribe

    def _emit(self, user_id: int, venue: VenueId, update: AccountUpdate) -> None:
        if isinstance(update, FillUpdate):
            fill = update.fill
            self.stats.observe_trade(venue, fill.symbol, fill.price, fill.qty_base, fill.ts_ms)
        for callback in list(self._account_subs.get((user_id, venue), ())):
            try:
                callback(update)
            except Exception:
                log.exception("account subscriber failed")

    # ---- books ------------------------------------------------------------------
    def set_book(self, venue: VenueId, symbol: Symbol, bids: Iterable[Level], asks: Iterable[Level],
                 ts_ms: int | None = None) -> BookUpdate | None:
        """Feed a full top-N snapshot; publishes the change and fills resting
        orders the new book crosses."""
        update = self.books.set_levels(venue, symbol, bids, asks, ts_ms)
        self.mark_price(venue, symbol)
        if update is not None:
            self.matcher.match_resting(venue, symbol)
            self.store.commit()
        return update

    def book(self, venue: VenueId, symbol: Symbol, depth: int | None = None) -> tuple[list[Level], list[Level], int]:
        return self.books.levels(venue, symbol, depth)

    def mark_price(self, venue: VenueId, symbol: Symbol) -> Decimal:
        """Mid of the shown top of book; the last known mid while a side is
        empty (our own taking can empty it); ZERO before any two-sided book."""
        book = self.books.get(venue, symbol)
        if not book.shown_bids or not book.shown_asks:
            return self._last_mark.get((venue, symbol), ZERO)
        mark = (max(book.shown_bids) + min(book.shown_asks)) / 2
        self._last_mark[(venue, symbol)] = mark
        return mark

    # ---- orders -----------------------------------------------------------------
    def place_order(self, api_key: str, venue: VenueId, symbol: Symbol, side: Side, qty: Decimal,
                    price: Decimal | None = None, order_type: OrderType = OrderType.LIMIT,
                    tif: TimeInForce = TimeInForce.GTC, client_order_id: str = "", reduce_only: bool = False,
                    quote_qty: Decimal | None = None, is_close: bool = False, recv_ms: int | None = None,
                    recv_perf_ns: int | None = None) -> SimOrder:
        """Validate, reserve funds and match (see module doc). Raises SimError."""
        acc = self._acc(api_key)
        recv_perf_ns = recv_perf_ns if recv_perf_ns is not None else time.perf_counter_ns()
        recv_ms = recv_ms if recv_ms is not None else clock.now_ms()
        try:
            return self.matcher.place(acc.user_id, venue, symbol, side, Decimal(qty),
                                      None if price is None else Decimal(price), order_type, tif, client_order_id,
                                      reduce_only, quote_qty, is_close, recv_ms, recv_perf_ns)
        finally:
            self.store.commit()

    def cancel_order(self, api_key: str, venue: VenueId, symbol: Symbol | None = None,
                     client_order_id: str | None = None, order_id: int | str | None = None) -> SimOrder:
        """Cancel one open order; SimError ORDER_NOT_FOUND (404) if unknown or already final."""
        acc = self._acc(api_key)
        order = self.matcher.find(acc.user_id, venue, symbol, client_order_id, order_id)
        if order is None or not order.is_open:
            raise SimError("ORDER_NOT_FOUND", "order not found or already finished", 404)
        try:
            self.matcher.cancel(order, "cancelled")
            return order
        finally:
            self.store.commit()

    def cancel_all(self, api_key: str, venue: VenueId, symbol: Symbol | None = None,
                   side: Side | None = None) -> list[SimOrder]:
        acc = self._acc(api_key)
        out = []
        for order in self.matcher.open_orders(acc.user_id, venue, symbol):
            if side is None or order.side is side:
                self.matcher.cancel(order, "cancelled")
                out.append(order)
        self.store.commit()
        return out

    def get_order(self, api_key: str, venue: VenueId, symbol: Symbol | None = None,
                  client_order_id: str | None = None, order_id: int | str | None = None) -> SimOrder:
        """One order by venue id or client id (latest with that id); SimError ORDER_NOT_FOUND."""
        acc = self._acc(api_key)
        order = self.matcher.find(acc.user_id, venue, symbol, client_order_id, order_id)
        if order is None:
            raise SimError("ORDER_NOT_FOUND", "order not found", 404)
        return order

    def open_orders(self, api_key: str, venue: VenueId, symbol: Symbol | None = None) -> list[SimOrder]:
        return self.matcher.open_orders(self._acc(api_key).user_id, venue, symbol)

    def orders(self, api_key: str, venue: VenueId, symbol: Symbol | None = None,
               open_only: bool | None = None) -> list[SimOrder]:
        """Orders of the account, newest first; ``open_only`` True/False filters open/finished."""
        user_id = self._acc(api_key).user_id
        out = [o for o in self.matcher.orders.values()
               if o.user_id == user_id and o.venue == venue and (symbol is None or o.symbol == symbol)
               and o.status is not OrderStatus.REJECTED
               and (open_only is None or o.is_open == open_only)]
        return sorted(out, key=lambda o: o.id, reverse=True)

    def fills(self, api_key: str, venue: VenueId, symbol: Symbol | None = None,
              order_id: int | str | None = None) -> list[SimFill]:
        user_id = self._acc(api_key).user_id
        oid = int(order_id) if order_id is not None else None
        return [f for f in self.matcher.fills.get((user_id, venue), [])
                if (symbol is None or f.symbol == symbol) and (oid is None or f.order_id == oid)]

    def order_log(self, limit: int = 1000, venue: VenueId | None = None, since_perf_ns: int = 0) -> list[SimOrder]:
        """Every order of every account (incl. rejected; only ``venue``'s if
        given), oldest first, the last ``limit``; with ``since_perf_ns``, only
        those received after it (``recv_perf_ns``). Walks back from the newest
        (orders are kept in id order), so it is cheap for small limits."""
        out: list[SimOrder] = []
        if limit <= 0:
            return out
        for order in reversed(self.matcher.orders.values()):
            if since_perf_ns and order.recv_perf_ns <= since_perf_ns:
                continue
            if venue is None or order.venue is venue:
                out.append(order)
                if len(out) >= limit:
                    break
        out.reverse()
        return out

    # ---- balances / positions / funding --------------------------------------------
    def balances(self, api_key: str, venue: VenueId) -> dict[str, Balance]:
        return self.ledger.all_balances(self._acc(api_key).user_id, venue)

    def positions(self, api_key: str, venue: VenueId = VenueId.GATE_PERP,
                  symbol: Symbol | None = None) -> list[SimPosition]:
        """Positions (mark price refreshed); a never-traded symbol gives a flat position."""
        user_id = self._acc(api_key).user_id
        if symbol is not None:
            info = self.symbol_info(venue, symbol)
            found = [self.ledger.position(user_id, venue, symbol, info.contract_multiplier)]
        else:
            found = self.ledger.user_positions(user_id, venue)
        for pos in found:
            pos.mark_price = self.mark_price(venue, pos.symbol) or pos.mark_price
        return found

    def set_leverage(self, api_key: str, venue: VenueId, symbol: Symbol, leverage: Decimal) -> SimPosition:
        info = self.symbol_info(venue, symbol)
        pos = self.ledger.position(self._acc(api_key).user_id, venue, symbol, info.contract_multiplier)
        self.ledger.set_leverage(pos, Decimal(leverage), clock.now_ms())
        self.store.commit()
        return pos

    def set_funding_rate(self, venue: VenueId, symbol: Symbol, rate: Decimal) -> None:
        self._funding_rate[(venue, symbol)] = Decimal(rate)

    def funding_info(self, venue: VenueId, symbol: Symbol) -> tuple[Decimal, int, int]:
        """(current rate, interval_s, next funding time ms). Funding times are
        multiples of the interval since the epoch (Gate: 00/08/16 UTC for 8 h)."""
        info = self.symbol_info(venue, symbol)
        interval_s = info.funding_interval_s or 28800
        key = (venue, symbol)
        if key not in self._next_funding_ms:
            now = clock.now_ms()
            self._next_funding_ms[key] = (now // (interval_s * 1000) + 1) * interval_s * 1000
        return self._funding_rate.get(key, ZERO), interval_s, self._next_funding_ms[key]

    def apply_funding(self, venue: VenueId, symbol: Symbol, rate: Decimal | None = None,
                      ts_ms: int | None = None) -> list[SimFunding]:
        """Settle funding now for all positions on the contract at the mark price."""
        current, _, _ = self.funding_info(venue, symbol)
        rate = current if rate is None else Decimal(rate)
        mark = self.mark_price(venue, symbol)
        ts_ms = ts_ms or clock.now_ms()
        self._funding_history.setdefault((venue, symbol), []).append((ts_ms, rate))
        if mark <= 0:
            return []
        out = self.ledger.apply_funding(venue, symbol, rate, mark, ts_ms)
        self.store.commit()
        return out

    def tick(self, now_ms: int | None = None) -> list[SimFunding]:
        """Sample every mark price into the 24 h statistics and apply funding
        for every perp contract whose funding time has passed."""
        now_ms = now_ms if now_ms is not None else clock.now_ms()
        out: list[SimFunding] = []
        for (venue, symbol), info in self._rules.items():
            self.stats.observe_price(venue, symbol, self.mark_price(venue, symbol), now_ms)
            if info.market_type is not MarketType.PERP:
                continue
            _, interval_s, next_ms = self.funding_info(venue, symbol)
            if now_ms >= next_ms:
                out += self.apply_funding(venue, symbol, ts_ms=next_ms)
                self._next_funding_ms[(venue, symbol)] = next_ms + interval_s * 1000
        return out

    def stats_24h(self, venue: VenueId, symbol: Symbol, now_ms: int | None = None) -> Stats24h:
        """Rolling 24 h statistics of one book (:mod:`exchanges.sim.engine.stats`),
        its last price the current mark."""
        now_ms = now_ms if now_ms is not None else clock.now_ms()
        return self.stats.window(venue, symbol, now_ms, self.mark_price(venue, symbol))

    def funding_history(self, venue: VenueId, symbol: Symbol) -> list[tuple[int, Decimal]]:
        """Funding settlements applied this process run: [(ts_ms, rate)], oldest first."""
        return list(self._funding_history.get((venue, symbol), []))

    def funding_payments(self, api_key: str, venue: VenueId = VenueId.GATE_PERP, symbol: Symbol | None = None,
                         since_ms: int = 0) -> list[SimFunding]:
        user_id = self._acc(api_key).user_id
        return [f for f in self.ledger.funding
                if f.user_id == user_id and f.venue == venue and (symbol is None or f.symbol == symbol)
                and f.ts_ms >= since_ms]

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Block until every change so far is committed to the database."""
        return self.store.flush(timeout_s)

    def close(self) -> None:
        self.store.close()


def round_down(value: Decimal, step: Decimal) -> Decimal:
    """Round ``value`` down to a multiple of ``step`` (step > 0)."""
    if step <= 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step
