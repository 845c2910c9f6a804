"""SQLite persistence of the simulator engine (stdlib ``sqlite3``, WAL mode).

The engine keeps its state in memory and writes every change through to this
store (one commit per engine operation), so a restarted simulator reloads its
accounts' balances, orders, fills, positions and funding payments. API keys
and secrets are NOT stored here: they live in a separate keys file
(:func:`load_keys` / :func:`save_keys`, JSON, mode 0600) per RULES.md.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from decimal import Decimal
from pathlib import Path

import msgspec

from exchanges.models import Balance, VenueId
from exchanges.sim.engine_types import SimAccount, SimFill, SimFunding, SimOrder, SimPosition

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (user_id INTEGER PRIMARY KEY, label TEXT NOT NULL, created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS balances (
    user_id INTEGER NOT NULL, venue TEXT NOT NULL, asset TEXT NOT NULL,
    free TEXT NOT NULL, locked TEXT NOT NULL, PRIMARY KEY (user_id, venue, asset));
CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, venue TEXT NOT NULL, client_order_id TEXT NOT NULL,
    status TEXT NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fills (
    trade_id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL, user_id INTEGER NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS positions (
    user_id INTEGER NOT NULL, venue TEXT NOT NULL, symbol TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (user_id, venue, symbol));
CREATE TABLE IF NOT EXISTS funding (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, data TEXT NOT NULL);
"""

_order_dec = msgspec.json.Decoder(SimOrder)
_fill_dec = msgspec.json.Decoder(SimFill)
_pos_dec = msgspec.json.Decoder(SimPosition)
_fund_dec = msgspec.json.Decoder(SimFunding)
_enc = msgspec.json.Encoder()


class EngineStore:
    """Write-through store. ``path=None`` keeps everything in memory."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path) if path else ":memory:", isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._in_tx = False

    # ---- writes (buffered in one transaction until commit) -----------------
    def _begin(self) -> None:
        if not self._in_tx:
            self._db.execute("BEGIN")
            self._in_tx = True

    def commit(self) -> None:
        """Commit the pending writes (no-op when nothing is pending)."""
        if self._in_tx:
            self._db.execute("COMMIT")
            self._in_tx = False

    def set_meta(self, key: str, value: str) -> None:
        self._begin()
        self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def put_account(self, user_id: int, label: str, created_ms: int) -> None:
        self._begin()
        self._db.execute(
            "INSERT OR IGNORE INTO accounts(user_id, label, created_ms) VALUES (?, ?, ?)", (user_id, label, created_ms)
        )

    def put_balance(self, user_id: int, venue: VenueId, balance: Balance) -> None:
        self._begin()
        self._db.execute(
            "INSERT OR REPLACE INTO balances(user_id, venue, asset, free, locked) VALUES (?, ?, ?, ?, ?)",
            (user_id, venue.value, balance.asset, str(balance.free), str(balance.locked)),
        )

    def put_order(self, order: SimOrder) -> None:
        self._begin()
        self._db.execute(
            "INSERT OR REPLACE INTO orders(id, user_id, venue, client_order_id, status, data) VALUES (?, ?, ?, ?, ?, ?)",
            (order.id, order.user_id, order.venue.value, order.client_order_id, order.status.value, _enc.encode(order)),
        )

    def put_fill(self, fill: SimFill) -> None:
        self._begin()
        self._db.execute(
            "INSERT OR REPLACE INTO fills(trade_id, order_id, user_id, data) VALUES (?, ?, ?, ?)",
            (fill.trade_id, fill.order_id, fill.user_id, _enc.encode(fill)),
        )

    def put_position(self, pos: SimPosition) -> None:
        self._begin()
        self._db.execute(
            "INSERT OR REPLACE INTO positions(user_id, venue, symbol, data) VALUES (?, ?, ?, ?)",
            (pos.user_id, pos.venue.value, str(pos.symbol), _enc.encode(pos)),
        )

    def put_funding(self, payment: SimFunding) -> None:
        self._begin()
        self._db.execute("INSERT INTO funding(user_id, data) VALUES (?, ?)", (payment.user_id, _enc.encode(payment)))

    # ---- reads (startup) ---------------------------------------------------
    def meta(self, key: str, default: str = "") -> str:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def account_ids(self) -> list[int]:
        return [r[0] for r in self._db.execute("SELECT user_id FROM accounts ORDER BY user_id")]

    def balances(self) -> list[tuple[int, VenueId, Balance]]:
        rows = self._db.execute("SELECT user_id, venue, asset, free, locked FROM balances")
        return [(u, VenueId(v), Balance(a, Decimal(f), Decimal(lk))) for u, v, a, f, lk in rows]

    def orders(self) -> list[SimOrder]:
        out = []
        for (data,) in self._db.execute("SELECT data FROM orders ORDER BY id"):
            try:
                out.append(_order_dec.decode(data))
            except msgspec.DecodeError:
                log.warning("skipping undecodable order row")
        return out

    def fills(self) -> list[SimFill]:
        return [_fill_dec.decode(d) for (d,) in self._db.execute("SELECT data FROM fills ORDER BY trade_id")]

    def positions(self) -> list[SimPosition]:
        return [_pos_dec.decode(d) for (d,) in self._db.execute("SELECT data FROM positions")]

    def funding(self) -> list[SimFunding]:
        return [_fund_dec.decode(d) for (d,) in self._db.execute("SELECT data FROM funding ORDER BY id")]

    def close(self) -> None:
        try:
            self.commit()
        finally:
            self._db.close()


def load_keys(path: Path | None) -> list[SimAccount]:
    """Read the keys file (``{"accounts": [{user_id, api_key, api_secret, label}]}``);
    empty list when missing or unreadable."""
    if path is None or not path.exists():
        return []
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return [SimAccount(int(a["user_id"]), a["api_key"], a["api_secret"], a.get("label", "")) for a in raw["accounts"]]
    except (OSError, ValueError, KeyError, TypeError):
        log.warning("sim keys file %s unreadable; generating new accounts", path)
        return []


def save_keys(path: Path | None, accounts: list[SimAccount]) -> None:
    """Write the keys file atomically with mode 0600."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    data = {"accounts": [{"user_id": a.user_id, "api_key": a.api_key, "api_secret": a.api_secret, "label": a.label}
                         for a in accounts]}
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1)
    os.replace(tmp, path)
