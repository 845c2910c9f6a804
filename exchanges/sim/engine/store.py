"""SQLite persistence of the simulator engine (stdlib ``sqlite3``, WAL mode,
``synchronous=NORMAL``).

The engine keeps its state in memory and writes every change through to this
store, so a restarted simulator reloads its accounts' balances, orders, fills,
positions and funding payments. API keys and secrets are NOT stored here: they
live in a separate keys file (:func:`load_keys` / :func:`save_keys`, JSON,
mode 0600) per RULES.md.

Off the hot path: with a file ``path`` the writes are NOT executed on the
caller's (event-loop) thread. ``put_*``/``set_meta`` encode the row at once (a
snapshot of the object as it is now) and queue the statement; ``commit()``
marks the end of one engine operation. A single writer thread executes the
queue and commits in groups (at most :data:`GROUP_COMMIT_S` after the first
pending operation, or as soon as the queue is idle), so an order placement
costs the loop a few microseconds instead of a commit (p99 ~0.5 ms, WAL
checkpoints several ms). Durability: :meth:`flush` waits until everything
queued is committed; :meth:`close` flushes, so an orderly stop/restart keeps
every change; a SIGKILL of the simulator can lose the last ~``GROUP_COMMIT_S``
of changes. ``path=None`` (tests) keeps an in-memory database written
synchronously.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import sqlite3
import threading
import time
from decimal import Decimal
from pathlib import Path

import msgspec

from exchanges.models import Balance, VenueId
from exchanges.sim.engine.types import SimAccount, SimFill, SimFunding, SimOrder, SimPosition

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
GROUP_COMMIT_S = 0.02
_COMMIT = object()
_CLOSE = object()


class EngineStore:
    """Write-through store (see module doc). ``path=None`` keeps everything in memory."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path) if path else ":memory:", isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._in_tx = False
        self._dirty = False
        self.write_errors = 0
        self._queue: queue.SimpleQueue | None = None
        self._writer: threading.Thread | None = None
        if path is not None:
            self._queue = queue.SimpleQueue()
            self._writer = threading.Thread(target=self._write_loop, name="sim-store-writer", daemon=True)
            self._writer.start()

    # ---- writes ----------------------------------------------------------------
    def _exec(self, sql: str, params: tuple) -> None:
        if self._queue is not None:
            self._queue.put((sql, params))
            self._dirty = True
            return
        if not self._in_tx:
            self._db.execute("BEGIN")
            self._in_tx = True
        self._db.execute(sql, params)

    def commit(self) -> None:
        """End of one engine operation: commit its writes (group-committed by
        the writer thread with a file store; no-op when nothing is pending)."""
        if self._queue is not None:
            if self._dirty:  # no wake-up of the writer thread (GIL!) for operations that wrote nothing
                self._dirty = False
                self._queue.put(_COMMIT)
        elif self._in_tx:
            self._db.execute("COMMIT")
            self._in_tx = False

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Block until every queued write is committed; True on success."""
        if self._queue is None or self._writer is None or not self._writer.is_alive():
            self.commit()
            return True
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout_s)

    def _write_loop(self) -> None:
        db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA synchronous=NORMAL")
        in_tx = False
        first_pending = 0.0
        waiters: list[threading.Event] = []
        q = self._queue
        while True:
            try:
                item = q.get(timeout=GROUP_COMMIT_S) if in_tx else q.get()
            except queue.Empty:
                item = _COMMIT
            if isinstance(item, tuple):
                try:
                    if not in_tx:
                        db.execute("BEGIN")
                        in_tx, first_pending = True, time.monotonic()
                    db.execute(*item)
                except sqlite3.Error:
                    self.write_errors += 1
                    log.exception("sim store: write failed: %s", item[0][:60])
                continue
            if isinstance(item, threading.Event):
                waiters.append(item)
            idle = q.empty()
            if in_tx and (item is not _COMMIT or idle or time.monotonic() - first_pending >= GROUP_COMMIT_S):
                try:
                    db.execute("COMMIT")
                except sqlite3.Error:
                    self.write_errors += 1
                    log.exception("sim store: commit failed")
                in_tx = False
            if not in_tx:
                for event in waiters:
                    event.set()
                waiters.clear()
            if item is _CLOSE:
                db.close()
                return

    def set_meta(self, key: str, value: str) -> None:
        self._exec("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def put_account(self, user_id: int, label: str, created_ms: int) -> None:
        self._exec("INSERT OR IGNORE INTO accounts(user_id, label, created_ms) VALUES (?, ?, ?)",
                   (user_id, label, created_ms))

    def put_balance(self, user_id: int, venue: VenueId, balance: Balance) -> None:
        self._exec("INSERT OR REPLACE INTO balances(user_id, venue, asset, free, locked) VALUES (?, ?, ?, ?, ?)",
                   (user_id, venue.value, balance.asset, str(balance.free), str(balance.locked)))

    def put_order(self, order: SimOrder) -> None:
        self._exec(
            "INSERT OR REPLACE INTO orders(id, user_id, venue, client_order_id, status, data) VALUES (?, ?, ?, ?, ?, ?)",
            (order.id, order.user_id, order.venue.value, order.client_order_id, order.status.value, _enc.encode(order)),
        )

    def put_fill(self, fill: SimFill) -> None:
        self._exec("INSERT OR REPLACE INTO fills(trade_id, order_id, user_id, data) VALUES (?, ?, ?, ?)",
                   (fill.trade_id, fill.order_id, fill.user_id, _enc.encode(fill)))

    def put_position(self, pos: SimPosition) -> None:
        self._exec("INSERT OR REPLACE INTO positions(user_id, venue, symbol, data) VALUES (?, ?, ?, ?)",
                   (pos.user_id, pos.venue.value, str(pos.symbol), _enc.encode(pos)))

    def put_funding(self, payment: SimFunding) -> None:
        self._exec("INSERT INTO funding(user_id, data) VALUES (?, ?)", (payment.user_id, _enc.encode(payment)))

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
        """Commit everything pending (waits for the writer thread) and close."""
        try:
            if self._queue is not None and self._writer is not None:
                self._queue.put(_COMMIT)
                self._queue.put(_CLOSE)
                self._writer.join(timeout=30)
                if self._writer.is_alive():
                    log.error("sim store: writer thread did not finish; recent changes may be lost")
            else:
                self.commit()
        finally:
            self._db.close()


def load_keys(path: Path | None) -> list[SimAccount]:
    """Read the keys file (``{"accounts": [{user_id, api_key, api_secret, label, gate_mode}]}``);
    empty list when missing or unreadable."""
    if path is None or not path.exists():
        return []
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return [SimAccount(int(a["user_id"]), a["api_key"], a["api_secret"], a.get("label", ""),
                           a.get("gate_mode", "classic")) for a in raw["accounts"]]
    except (OSError, ValueError, KeyError, TypeError):
        log.warning("sim keys file %s unreadable; generating new accounts", path)
        return []


def save_keys(path: Path | None, accounts: list[SimAccount]) -> None:
    """Write the keys file atomically with mode 0600."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    data = {"accounts": [{"user_id": a.user_id, "api_key": a.api_key, "api_secret": a.api_secret, "label": a.label,
                          "gate_mode": a.gate_mode} for a in accounts]}
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1)
    os.replace(tmp, path)
