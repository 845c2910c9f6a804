"""Logging: the log file beside the database (0600, rotated), --log-json lines, secret redaction (also in
structured fields), the trade-log helper, read-only commands creating no file, and the dashboard's console
handler (same console, WARNING and up) so log lines never tear the live frame."""

from __future__ import annotations

import io
import json
import logging
import os
import stat
from decimal import Decimal

from rich.console import Console
from rich.live import Live
from rich.logging import RichHandler
from rich.text import Text

from exchanges.models import Side, VenueId
from taskmanager import logsetup
from strategies.execution.tradelog import FIELDS_ATTR, TradeEvent, trade_log

SECRET = "SECRETzq9Xw7Kp4LmN2vB8"


def test_log_file_beside_db_and_secrets_redacted(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GATE_API_SECRET", SECRET)
    monkeypatch.setenv("MEXC_API_KEY", "mexckey-abcdef")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:bot-token-value")
    path = logsetup.setup_logging(tmp_path / "arb.sqlite", console="plain")
    assert path == tmp_path / "arb.sqlite.log" == logsetup.current_log_path()
    log = logging.getLogger("taskmanager.test")
    log.info("connecting with key %s and secret %s via %s", "mexckey-abcdef", SECRET, "123456:bot-token-value")
    try:
        raise ValueError(f"signature {SECRET} rejected")
    except ValueError:
        log.exception("request failed")
    logsetup.reset_logging()
    text = path.read_text()
    assert "connecting with key *** and secret *** via ***" in text and "ValueError: signature *** rejected" in text
    assert SECRET not in text and "mexckey-abcdef" not in text and "bot-token-value" not in text
    assert SECRET not in capsys.readouterr().err
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_redact_ignores_short_values():
    assert logsetup.secret_values({"A_KEY": "ab", "X_SECRET": "longvalue", "PATH": "/bin",
                                   "SOME_TOKEN": "tok-1234"}) == ["longvalue", "tok-1234"]
    assert logsetup.redact("a longvalue b", ["longvalue"]) == "a *** b"


def test_log_file_rotates_and_new_files_stay_0600(tmp_path, monkeypatch):
    monkeypatch.setattr(logsetup, "LOG_MAX_BYTES", 2000)
    monkeypatch.setattr(logsetup, "LOG_BACKUP_COUNT", 2)
    path = logsetup.setup_logging(tmp_path / "db.sqlite", console="none")
    log = logging.getLogger("taskmanager.test")
    for i in range(200):
        log.info("line %04d %s", i, "x" * 40)
    logsetup.reset_logging()
    files = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("db.sqlite.log"))
    assert files == ["db.sqlite.log", "db.sqlite.log.1", "db.sqlite.log.2"]
    for name in files:
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o600
        assert os.path.getsize(tmp_path / name) <= 2000
    assert "line 0199" in path.read_text() and "line 0000" not in "".join((tmp_path / n).read_text() for n in files)


def test_json_lines_with_structured_fields(tmp_path, monkeypatch):
    monkeypatch.setenv("MEXC_API_SECRET", SECRET)
    path = logsetup.setup_logging(tmp_path / "db.sqlite", console="none", json_lines=True)
    log = logging.getLogger("strategies.delta_neutral")
    trade_log(log, TradeEvent.FILLED, task_id="3f9c2a71d0be", venue=VenueId.GATE_SPOT,
              client_order_id="arb3f9c2a71d0be000007", side=Side.BUY, qty=Decimal("120"), price=Decimal("0.04951"),
              fee=Decimal("0.0059412"), fee_asset="USDT", trade_id="88123", note=f"leaked {SECRET}")
    log.warning("plain %s", "line")
    logsetup.reset_logging()
    first, second = [json.loads(line) for line in path.read_text().splitlines()]
    assert first["level"] == "INFO" and first["logger"] == "strategies.delta_neutral"
    assert (first["event"], first["venue"], first["side"], first["qty"], first["price"], first["fee"],
            first["fee_asset"], first["trade_id"]) == ("filled", "gate_spot", "buy", "120", "0.04951", "0.0059412",
                                                       "USDT", "88123")
    assert first["message"].startswith("trade filled task=3f9c2a71d0be venue=gate_spot")
    assert first["note"] == "leaked ***" and SECRET not in path.read_text()
    assert second == {"ts": second["ts"], "level": "WARNING", "logger": "strategies.delta_neutral",
                      "message": "plain line"}


def test_trade_log_is_one_info_line_with_every_field(caplog):
    log = logging.getLogger("test.trade")
    with caplog.at_level(logging.INFO, logger="test.trade"):
        trade_log(log, TradeEvent.SENT, task_id="t1", venue="mexc_spot", client_order_id="arbt1000001", side="sell",
                  qty=Decimal("1E+3"), price=None, leg="arb_sell", reason="edge\n21 bps", skipped=None)
        trade_log(log, TradeEvent.REJECTED, task_id="t1", venue=VenueId.GATE_PERP, client_order_id="arbt1000002",
                  side=Side.SELL, qty=Decimal("5"), price=Decimal("0.05"), fee=Decimal(0), fee_asset="")
    sent, rejected = caplog.records
    assert sent.levelno == logging.INFO and "\n" not in sent.getMessage()
    assert sent.getMessage() == ("trade sent task=t1 venue=mexc_spot client_order_id=arbt1000001 side=sell qty=1000 "
                                 "price=- leg=arb_sell reason=edge 21 bps")
    assert getattr(sent, FIELDS_ATTR)["qty"] == "1000" and "skipped" not in getattr(sent, FIELDS_ATTR)
    assert rejected.getMessage().endswith("qty=5 price=0.05 fee=0")
    assert [e.value for e in TradeEvent] == ["sent", "acked", "filled", "cancelled", "rejected", "resolved", "unknown",
                                             "not_sent"]


def test_read_only_logging_creates_no_file(tmp_path):
    assert logsetup.setup_logging(tmp_path / "none" / "db.sqlite", console="none", create_file=False) is None
    assert not (tmp_path / "none").exists()
    existing = tmp_path / "db.sqlite.log"
    existing.write_text("")
    assert logsetup.setup_logging(tmp_path / "db.sqlite", console="none", create_file=False) == existing
    logsetup.reset_logging()
    assert logsetup.ensure_file_logging(tmp_path / "x.sqlite") == tmp_path / "x.sqlite.log"
    logging.getLogger("t").error("boom")
    logsetup.reset_logging()
    assert "boom" in (tmp_path / "x.sqlite.log").read_text()


def test_dashboard_console_handler_prints_through_the_live_console(tmp_path):
    """While a Live frame is drawn, a log record is printed by the same console above the frame, whole;
    INFO stays in the file; nothing else writes to the terminal."""
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=80, color_system=None)
    path = logsetup.setup_logging(tmp_path / "db.sqlite", console="rich", rich_console=console,
                                  console_level=logging.WARNING)
    console_handlers = [h for h in logsetup.own_handlers() if not isinstance(h, logging.FileHandler)]
    assert len(console_handlers) == 1 and isinstance(console_handlers[0], RichHandler)
    assert console_handlers[0].console is console and console_handlers[0].level == logging.WARNING
    log = logging.getLogger("taskmanager.test")
    with Live(Text("FRAME-LINE-1\nFRAME-LINE-2"), console=console, auto_refresh=False) as live:
        log.info("an info line for the file only")
        log.warning("gs reconnecting")
        live.refresh()
    logsetup.reset_logging()
    screen = out.getvalue()
    assert "an info line" not in screen and "an info line" in path.read_text()
    before, after = screen.split("gs reconnecting", 1)
    assert before.endswith("taskmanager.test: ")
    # Live erased both frame lines (cursor up, clear line) before the log line was printed ...
    assert before.rsplit("FRAME-LINE-2", 1)[1].startswith("\r\x1b[2K\x1b[1A\x1b[2K")
    assert after.lstrip(" ").startswith("\n") and "FRAME-LINE-1\nFRAME-LINE-2" in after  # ... and redrew it below
