"""Alerts to people: a generic JSON webhook and Telegram, off the trading path.

Configured by a ``[notify]`` table in the ``--config`` TOML file (``start``; ``tasks resume``
reads only this table)::

    [notify]
    webhook_url = "https://hooks.example.com/arb"   # JSON POST of every alert (or webhook_url_env = "NAME")
    telegram = true          # bot token and chat id from $TELEGRAM_BOT_TOKEN / $TELEGRAM_CHAT_ID
    events = ["started", "single_leg", "halted", "failed", "completed", "loss"]   # default: all
    loss_usdt = 5            # "loss" alert when net PnL falls to -5 USDT or below (0 = off)

Secrets never come from the file: the Telegram bot token and chat id are read from the
environment (variables named by ``telegram_token_env``/``telegram_chat_id_env``) when the config
is loaded, kept in memory only, never logged (the token's variable name contains TOKEN, so the
log redaction covers it) and never stored. A file that tries to carry one is refused.

Delivery never touches the trading path: :meth:`Notifier.emit` puts the alert on a bounded queue
and returns at once (a full queue drops the alert, counted and logged); one worker task POSTs
each alert to each sink with bounded retries (``max_attempts``, exponential backoff from
``backoff_s`` capped at ``max_backoff_s``; a 4xx answer other than 429 is not retried). On exit
the queue is drained for at most ``drain_s``.

Which alerts exist: :class:`strategies.alerts.AlertKind`. The runner derives STARTED, HALTED,
FAILED, COMPLETED and LOSS from the task snapshots (:class:`AlertWatcher`); SINGLE_LEG comes from
the strategy through ``task.alert_sink``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import msgspec

from strategies.alerts import AlertKind, AlertSink
from taskmanager.views import dec, net_pnl

log = logging.getLogger("taskmanager.notify")
_SECRET_KEYS = frozenset({"token", "bot_token", "telegram_token", "chat_id", "telegram_chat_id", "secret"})


class NotifyConfigError(ValueError):
    """The ``[notify]`` table is invalid; the message names the field (``notify.<field>: ...``)."""


class NotifyConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The ``[notify]`` table (see module docstring). Times in seconds."""

    webhook_url: str = ""
    webhook_url_env: str = ""
    telegram: bool = False
    telegram_token_env: str = "TELEGRAM_BOT_TOKEN"
    telegram_chat_id_env: str = "TELEGRAM_CHAT_ID"
    telegram_api_url: str = "https://api.telegram.org"
    events: list[AlertKind] = msgspec.field(default_factory=lambda: list(AlertKind))
    loss_usdt: Decimal = Decimal(0)
    timeout_s: float = 5.0
    max_attempts: int = 4
    backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    queue_size: int = 100
    drain_s: float = 5.0


@dataclass(frozen=True)
class Alert:
    """One alert: ``kind``, the task, a one-line ``message`` and extra JSON-ready ``fields``."""

    kind: AlertKind
    task_id: str
    message: str
    ts_ms: int
    fields: Mapping[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        """The webhook's JSON body."""
        iso = datetime.fromtimestamp(self.ts_ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds")
        body: dict[str, Any] = {"kind": self.kind.value, "task_id": self.task_id, "message": self.message, "ts": iso}
        body.update({k: v for k, v in self.fields.items() if k not in body})
        return body

    def text(self) -> str:
        """The Telegram message text."""
        return f"[{self.kind.value}] task {self.task_id}: {self.message}"


def _require(cond: bool, name: str, reason: str) -> None:
    if not cond:
        raise NotifyConfigError(f"notify.{name}: {reason}")


def _check_url(name: str, url: str) -> None:
    parts = urlsplit(url)
    _require(parts.scheme in ("http", "https") and bool(parts.netloc), name, f"must be an http(s) URL, got {url!r}")


def parse_notify(table: Mapping[str, Any]) -> NotifyConfig:
    """Validate a ``[notify]`` table. Raises NotifyConfigError naming the field."""
    leaked = sorted(set(table) & _SECRET_KEYS)
    _require(not leaked, leaked[0] if leaked else "", "secrets are read from the environment, never from the file "
             "(see telegram_token_env / telegram_chat_id_env)")
    try:
        config = msgspec.convert(dict(table), NotifyConfig, strict=False)
    except msgspec.ValidationError as exc:
        text = str(exc)
        if " - at `$." in text:
            reason, _, where = text.partition(" - at `$.")
            raise NotifyConfigError(f"notify.{where.rstrip('`')}: {reason}") from None
        raise NotifyConfigError(f"notify: {text}") from None
    for name in ("timeout_s", "backoff_s", "max_backoff_s", "drain_s"):
        value = getattr(config, name)
        _require(math.isfinite(value) and value > 0, name, f"must be a finite number > 0, got {value!r}")
    _require(config.loss_usdt.is_finite() and config.loss_usdt >= 0, "loss_usdt",
             f"must be a finite number >= 0 (0 = off), got {str(config.loss_usdt)!r}")
    _require(1 <= config.max_attempts <= 20, "max_attempts", f"must be in [1, 20], got {config.max_attempts}")
    _require(1 <= config.queue_size <= 100000, "queue_size", f"must be in [1, 100000], got {config.queue_size}")
    if config.webhook_url:
        _check_url("webhook_url", config.webhook_url)
    if config.webhook_url_env:
        _require(bool(os.environ.get(config.webhook_url_env)), "webhook_url_env",
                 f"${config.webhook_url_env} is not set")
        _check_url("webhook_url_env", os.environ[config.webhook_url_env])
    if config.telegram:
        _check_url("telegram_api_url", config.telegram_api_url)
        missing = [n for n in (config.telegram_token_env, config.telegram_chat_id_env) if not os.environ.get(n)]
        _require(not missing, "telegram", f"set {' and '.join('$' + n for n in missing)} in the environment")
    return config


def load_notify_config(path: str | None) -> NotifyConfig | None:
    """The ``[notify]`` table of the TOML file ``path`` (None: no path, or no such table).
    Raises NotifyConfigError for an invalid table (file errors are the strategy loader's)."""
    if path is None:
        return None
    try:
        with open(path, "rb") as fh:
            values = tomllib.load(fh, parse_float=Decimal)
    except (OSError, tomllib.TOMLDecodeError):
        return None  # reported by the strategy config loader, with the file named
    table = values.get("notify")
    if table is None:
        return None
    if not isinstance(table, dict):
        raise NotifyConfigError("notify: must be a table ([notify])")
    return parse_notify(table)


class Sink:
    """One destination: a name for the logs (never the URL: it may carry a token), a URL and a
    function making the JSON body of an alert."""

    def __init__(self, name: str, url: str, body: Callable[[Alert], dict[str, Any]]) -> None:
        self.name = name
        self.url = url
        self.body = body


def sinks_of(config: NotifyConfig, environ: Mapping[str, str] | None = None) -> list[Sink]:
    """The configured destinations (secrets read from ``environ``, default the process's)."""
    env = os.environ if environ is None else environ
    out: list[Sink] = []
    url = config.webhook_url or (env.get(config.webhook_url_env, "") if config.webhook_url_env else "")
    if url:
        out.append(Sink(f"webhook {urlsplit(url).hostname}", url, Alert.payload))
    if config.telegram:
        token, chat_id = env.get(config.telegram_token_env, ""), env.get(config.telegram_chat_id_env, "")
        if token and chat_id:
            out.append(Sink("telegram", f"{config.telegram_api_url.rstrip('/')}/bot{token}/sendMessage",
                            lambda a: {"chat_id": chat_id, "text": a.text()}))
    return out


class Notifier:
    """Bounded queue + one delivery worker (see module docstring). ``start()`` inside the event
    loop, ``emit()`` from anywhere on it, ``await aclose()`` at the end."""

    def __init__(self, config: NotifyConfig, *, sinks: list[Sink] | None = None) -> None:
        self.config = config
        self.sinks = sinks_of(config) if sinks is None else sinks
        self.wanted = frozenset(config.events)
        self._queue: asyncio.Queue[Alert] | None = None
        self._worker: asyncio.Task[None] | None = None
        self.sent = 0
        self.failed = 0
        self.dropped = 0

    def start(self) -> None:
        """Create the queue and the worker (needs a running loop). Idempotent."""
        if self._worker is None:
            self._queue = asyncio.Queue(maxsize=self.config.queue_size)
            self._worker = asyncio.get_running_loop().create_task(self._run(), name="notifier")

    def emit(self, alert: Alert) -> bool:
        """Queue ``alert`` if its kind is wanted; never blocks, never raises. False when not queued."""
        if alert.kind not in self.wanted or not self.sinks or self._queue is None:
            return False
        try:
            self._queue.put_nowait(alert)
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("notify: queue full (%d); %s alert for task %s dropped", self.config.queue_size,
                        alert.kind.value, alert.task_id)
            return False
        return True

    async def aclose(self) -> None:
        """Deliver what is queued for at most ``drain_s``, then stop the worker."""
        if self._worker is None or self._queue is None:
            return
        try:
            await asyncio.wait_for(self._queue.join(), timeout=self.config.drain_s)
        except asyncio.TimeoutError:
            log.warning("notify: %d alert(s) not delivered before exit", self._queue.qsize())
        self._worker.cancel()
        try:
            await self._worker
        except asyncio.CancelledError:
            pass
        self._worker = None

    async def _run(self) -> None:
        assert self._queue is not None
        timeout = aiohttp.ClientTimeout(total=self.config.timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                alert = await self._queue.get()
                try:
                    for sink in self.sinks:
                        await self._deliver(session, sink, alert)
                finally:
                    self._queue.task_done()

    async def _deliver(self, session: aiohttp.ClientSession, sink: Sink, alert: Alert) -> bool:
        cfg = self.config
        for attempt in range(1, cfg.max_attempts + 1):
            problem = ""
            try:
                async with session.post(sink.url, json=sink.body(alert)) as resp:
                    if resp.status < 300:
                        self.sent += 1
                        return True
                    problem = f"HTTP {resp.status}"
                    if 400 <= resp.status < 500 and resp.status != 429:
                        break  # our request is wrong: retrying cannot help
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                problem = type(exc).__name__  # never str(exc): it may hold the URL, i.e. a token
            if attempt < cfg.max_attempts:
                delay = min(cfg.max_backoff_s, cfg.backoff_s * 2 ** (attempt - 1))
                log.info("notify: %s: %s (attempt %d of %d); retrying in %.1f s", sink.name, problem, attempt,
                         cfg.max_attempts, delay)
                await asyncio.sleep(delay)
        self.failed += 1
        log.warning("notify: %s: %s alert for task %s not delivered (%s)", sink.name, alert.kind.value,
                    alert.task_id, problem)
        return False


@dataclass
class _Seen:
    status: str = ""
    loss_alerted: bool = False


@dataclass
class AlertWatcher:
    """Turns task snapshots (``task_live`` dicts: status, pnl, last_error, symbol, mode) into
    runner alerts: STARTED the first time a task is seen, HALTED/FAILED/COMPLETED when its status
    becomes that, LOSS when net PnL reaches ``-loss_usdt`` (once; re-armed above it). Pure."""

    loss_usdt: Decimal = Decimal(0)
    _seen: dict[str, _Seen] = field(default_factory=dict)

    def observe(self, task_id: str, view: Mapping[str, Any], now_ms: int) -> list[Alert]:
        alerts: list[Alert] = []
        status = str(view.get("status") or "")
        seen = self._seen.get(task_id)
        info = {k: view[k] for k in ("symbol", "mode", "state") if k in view}
        raw_pnl = view.get("pnl")
        pnl: Mapping[str, Any] = raw_pnl if isinstance(raw_pnl, Mapping) else {}
        net = net_pnl(pnl)
        info["net_pnl_usdt"] = str(net)
        if seen is None:
            seen = self._seen[task_id] = _Seen()
            alerts.append(Alert(AlertKind.STARTED, task_id, f"started: {view.get('symbol', '')} mode "
                                f"{view.get('mode', '')} in {view.get('state', '')}", now_ms, info))
        if status != seen.status:
            kind = {"halted": AlertKind.HALTED, "failed": AlertKind.FAILED, "completed": AlertKind.COMPLETED}.get(status)
            if kind is not None:
                reason = str(view.get("last_error") or "").splitlines()[:1]
                alerts.append(Alert(kind, task_id, f"{status}; net PnL {net:.4f} USDT"
                                    + (f"; {reason[0][:300]}" if reason else ""), now_ms, info))
            seen.status = status
        threshold = self.loss_usdt
        if threshold > 0 and dec(pnl.get("realized_pnl_usdt")) is not None:
            if net <= -threshold and not seen.loss_alerted:
                seen.loss_alerted = True
                alerts.append(Alert(AlertKind.LOSS, task_id, f"net PnL {net:.4f} USDT is beyond the "
                                    f"{threshold} USDT loss threshold", now_ms, info))
            elif net > -threshold:
                seen.loss_alerted = False
        return alerts


_WARNING_KINDS = frozenset({AlertKind.HALTED, AlertKind.FAILED, AlertKind.LOSS, AlertKind.SINGLE_LEG})


class AlertHub:
    """What the TaskManager holds: logs every alert (WARNING for the bad news) and queues it for
    the notifier (when ``[notify]`` is configured); derives the runner's alerts from snapshots
    (:class:`AlertWatcher`); hands each task its ``alert_sink``. Never raises into the caller."""

    def __init__(self, notifier: Notifier | None) -> None:
        self.notifier = notifier
        self.watcher = AlertWatcher(loss_usdt=notifier.config.loss_usdt if notifier is not None else Decimal(0))

    def sink_for(self, task_id: str) -> AlertSink:
        """``task.alert_sink`` for one task (strategies/alerts.py)."""
        from exchanges.clock import now_ms

        def sink(kind: AlertKind, message: str, **fields: Any) -> None:
            self.raise_alert(Alert(AlertKind(kind), task_id, message, now_ms(), fields))

        return sink

    def raise_alert(self, alert: Alert) -> None:
        try:
            log.log(logging.WARNING if alert.kind in _WARNING_KINDS else logging.INFO, "alert %s: task %s: %s",
                    alert.kind.value, alert.task_id, alert.message)
            if self.notifier is not None:
                self.notifier.emit(alert)
        except Exception as exc:  # alerts must never break a task
            log.warning("alert %s for task %s not raised: %s", alert.kind.value, alert.task_id, exc)

    def observe(self, views: Sequence[tuple[str, Mapping[str, Any]]], now_ms: int) -> None:
        """Feed task snapshots; raises the alerts they imply."""
        for task_id, view in views:
            try:
                alerts = self.watcher.observe(task_id, view, now_ms)
            except Exception as exc:
                log.warning("task %s: alert check failed: %s", task_id, exc)
                continue
            for alert in alerts:
                self.raise_alert(alert)
