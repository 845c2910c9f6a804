"""Alerts: the [notify] table (secrets only from the environment), delivery to a local aiohttp server standing in
for a webhook and for Telegram's Bot API, retries with backoff, a bounded queue that never blocks the caller, and
the runner's alerts derived from task snapshots."""

from __future__ import annotations

import asyncio
import json
import logging
from decimal import Decimal

import pytest
from aiohttp import web

from strategies.alerts import AlertKind, no_alert
from taskmanager import logsetup
from taskmanager.notify import (
    Alert,
    AlertHub,
    AlertWatcher,
    Notifier,
    NotifyConfigError,
    load_notify_config,
    parse_notify,
)

TOKEN = "123456789:AAtelegram-test-token"
CHAT = "-100200300"


class FakeServer:
    """A webhook at /hook and Telegram's /bot<token>/sendMessage on 127.0.0.1; ``fail_first`` answers 503
    to that many requests first; ``status`` answers every request with it instead."""

    def __init__(self, fail_first: int = 0, status: int = 200, delay_s: float = 0.0) -> None:
        self.fail_first = fail_first
        self.status = status
        self.delay_s = delay_s
        self.hook: list[dict] = []
        self.telegram: list[tuple[str, dict]] = []
        self.attempts = 0
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def _answer(self, request: web.Request) -> web.Response:
        self.attempts += 1
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.fail_first > 0:
            self.fail_first -= 1
            return web.Response(status=503)
        return web.json_response({"ok": self.status < 300}, status=self.status)

    async def on_hook(self, request: web.Request) -> web.Response:
        response = await self._answer(request)
        if response.status < 300:
            self.hook.append(await request.json())
        return response

    async def on_telegram(self, request: web.Request) -> web.Response:
        response = await self._answer(request)
        if response.status < 300:
            self.telegram.append((request.match_info["token"], await request.json()))
        return response

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self.on_hook)
        app.router.add_post("/bot{token}/sendMessage", self.on_telegram)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.fixture
async def server():
    s = FakeServer()
    await s.start()
    yield s
    await s.stop()


@pytest.fixture
def telegram_env(monkeypatch):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TELEGRAM_CHAT_ID", CHAT)


def _config(server: FakeServer, **kw):
    table = {"webhook_url": f"{server.url}/hook", "telegram": True, "telegram_api_url": server.url,
             "backoff_s": 0.01, "max_backoff_s": 0.02, "timeout_s": 2}
    table.update(kw)
    return parse_notify(table)


def _alert(kind: AlertKind = AlertKind.HALTED, task_id: str = "3f9c2a71d0be") -> Alert:
    return Alert(kind, task_id, "halted; net PnL -1.0000 USDT; cannot reach mexc_spot", 1_767_225_600_000,
                 {"symbol": "NEIROETHUSDT", "mode": "sim"})


async def test_webhook_and_telegram_receive_the_alert(server, telegram_env, tmp_path):
    logsetup.setup_logging(tmp_path / "db.sqlite", console="none", level=logging.DEBUG)
    notifier = Notifier(_config(server))
    notifier.start()
    assert notifier.emit(_alert())
    await notifier.aclose()
    logsetup.reset_logging()
    assert server.hook == [{"kind": "halted", "task_id": "3f9c2a71d0be", "ts": "2026-01-01T00:00:00.000+00:00",
                            "message": "halted; net PnL -1.0000 USDT; cannot reach mexc_spot",
                            "symbol": "NEIROETHUSDT", "mode": "sim"}]
    assert server.telegram == [(TOKEN, {"chat_id": CHAT, "text": "[halted] task 3f9c2a71d0be: halted; net PnL "
                                        "-1.0000 USDT; cannot reach mexc_spot"})]
    assert notifier.sent == 2 and notifier.failed == 0
    assert TOKEN not in (tmp_path / "db.sqlite.log").read_text()


async def test_retries_with_backoff_then_delivers(server, telegram_env, tmp_path):
    server.fail_first = 2
    logsetup.setup_logging(tmp_path / "db.sqlite", console="none")
    notifier = Notifier(_config(server, telegram=False, max_attempts=4))
    notifier.start()
    notifier.emit(_alert())
    await notifier.aclose()
    logsetup.reset_logging()
    assert server.attempts == 3 and len(server.hook) == 1 and notifier.sent == 1
    log = (tmp_path / "db.sqlite.log").read_text()
    assert "HTTP 503 (attempt 1 of 4); retrying in 0.0 s" in log and "attempt 2 of 4" in log


async def test_gives_up_after_max_attempts_and_4xx_is_not_retried(server, telegram_env, tmp_path):
    server.fail_first = 10
    notifier = Notifier(_config(server, max_attempts=3))
    notifier.start()
    notifier.emit(_alert())
    await notifier.aclose()
    assert server.attempts == 6 and notifier.failed == 2 and notifier.sent == 0  # 3 per sink
    server.fail_first, server.status, server.attempts = 0, 400, 0
    notifier = Notifier(_config(server, telegram=False, max_attempts=3))
    notifier.start()
    notifier.emit(_alert())
    await notifier.aclose()
    assert server.attempts == 1 and notifier.failed == 1


async def test_unreachable_sink_error_never_logs_the_token(telegram_env, tmp_path):
    logsetup.setup_logging(tmp_path / "db.sqlite", console="none")
    notifier = Notifier(parse_notify({"telegram": True, "telegram_api_url": "http://127.0.0.1:9", "backoff_s": 0.01,
                                      "max_attempts": 2}))
    notifier.start()
    notifier.emit(_alert())
    await notifier.aclose()
    logsetup.reset_logging()
    log = (tmp_path / "db.sqlite.log").read_text()
    assert notifier.failed == 1 and "telegram: halted alert for task 3f9c2a71d0be not delivered" in log
    assert TOKEN not in log and "AAtelegram" not in log


async def test_emit_never_blocks_and_a_full_queue_drops(server, telegram_env):
    server.delay_s = 0.2
    notifier = Notifier(_config(server, telegram=False, queue_size=2, drain_s=0.05))
    notifier.start()
    assert not asyncio.iscoroutinefunction(notifier.emit)  # a plain call: it cannot wait for anything
    accepted = [notifier.emit(_alert(task_id=f"t{i}")) for i in range(10)]  # while the sink is slow
    assert accepted == [True, True] + [False] * 8 and notifier.dropped == 8  # the queue holds 2
    await notifier.aclose()


async def test_unwanted_kinds_are_not_sent(server, telegram_env):
    notifier = Notifier(_config(server, telegram=False, events=["halted", "failed"]))
    notifier.start()
    assert not notifier.emit(_alert(AlertKind.STARTED))
    assert notifier.emit(_alert(AlertKind.FAILED))
    await notifier.aclose()
    assert [h["kind"] for h in server.hook] == ["failed"]


def test_config_refuses_secrets_in_the_file_and_bad_values(monkeypatch, tmp_path):
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    for table, words in (({"bot_token": "x"}, "notify.bot_token: secrets are read from the environment"),
                         ({"telegram": True}, "notify.telegram: set $TELEGRAM_BOT_TOKEN"),
                         ({"webhook_url": "ftp://x"}, "notify.webhook_url: must be an http(s) URL"),
                         ({"events": ["started", "bogus"]}, "notify.events[1]"),
                         ({"loss_usdt": Decimal("NaN")}, "notify.loss_usdt: must be a finite number"),
                         ({"backoff_s": float("inf")}, "notify.backoff_s: must be a finite number"),
                         ({"webhook": "x"}, "notify: Object contains unknown field `webhook`")):
        with pytest.raises(NotifyConfigError) as err:
            parse_notify(table)
        assert words in str(err.value), (table, str(err.value))
    cfg = tmp_path / "c.toml"
    cfg.write_text('position_usdt = 100\n[notify]\nwebhook_url = "https://hooks.example.com/x"\nloss_usdt = 5\n')
    loaded = load_notify_config(str(cfg))
    assert loaded is not None and loaded.loss_usdt == Decimal(5) and loaded.events == list(AlertKind)
    from strategies.delta_neutral.config import load_config

    assert load_config(str(cfg)).position_usdt == Decimal(100)  # the strategy loader skips [notify]
    (tmp_path / "n.toml").write_text("position_usdt = 100\n")
    assert load_notify_config(str(tmp_path / "n.toml")) is None and load_notify_config(None) is None


def test_watcher_derives_runner_alerts_from_snapshots():
    w = AlertWatcher(loss_usdt=Decimal(5))
    snap = {"status": "running", "state": "IDLE", "symbol": "NEIROETHUSDT", "mode": "sim",
            "pnl": {"realized_pnl_usdt": "0", "fees_usdt": "0"}}
    assert [a.kind for a in w.observe("t1", snap, 1)] == [AlertKind.STARTED]
    assert w.observe("t1", snap, 2) == []
    losing = dict(snap, pnl={"realized_pnl_usdt": "-4", "fees_usdt": "1.5"})
    alerts = w.observe("t1", losing, 3)
    assert [a.kind for a in alerts] == [AlertKind.LOSS] and "-5.5000 USDT" in alerts[0].message
    assert w.observe("t1", losing, 4) == []  # once, until it recovers
    w.observe("t1", snap, 5)
    assert [a.kind for a in w.observe("t1", losing, 6)] == [AlertKind.LOSS]
    halted = dict(losing, status="halted", last_error="cannot reach mexc_spot: OSError\ntraceback...")
    alerts = w.observe("t1", halted, 7)
    assert [a.kind for a in alerts] == [AlertKind.HALTED] and alerts[0].message.endswith("cannot reach mexc_spot: OSError")
    assert w.observe("t1", halted, 8) == []
    assert [a.kind for a in w.observe("t2", dict(snap, status="failed"), 9)] == [AlertKind.STARTED, AlertKind.FAILED]
    assert [a.kind for a in AlertWatcher().observe("t3", dict(snap, status="completed"), 1)] == [
        AlertKind.STARTED, AlertKind.COMPLETED]


async def test_hub_sink_queues_strategy_alerts_and_logs(server, telegram_env, caplog):
    notifier = Notifier(_config(server, telegram=False))
    notifier.start()
    hub = AlertHub(notifier)
    sink = hub.sink_for("3f9c2a71d0be")
    with caplog.at_level(logging.INFO, logger="taskmanager.notify"):
        sink(AlertKind.SINGLE_LEG, "sold 120 bought 0 NEIROETH; hedged on the perp", venue="mexc_spot")
    await notifier.aclose()
    assert server.hook[0]["kind"] == "single_leg" and server.hook[0]["venue"] == "mexc_spot"
    assert any(r.levelno == logging.WARNING and "alert single_leg: task 3f9c2a71d0be" in r.getMessage()
               for r in caplog.records)
    assert no_alert(AlertKind.SINGLE_LEG, "dropped") is None
    hub_without = AlertHub(None)
    hub_without.sink_for("x")(AlertKind.SINGLE_LEG, "only logged")  # no notifier: logged, never raises
    assert json.dumps(_alert().payload())  # JSON-ready
