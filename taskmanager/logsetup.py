"""Logging setup for the runner: console lines plus a log file beside the database.

* Console: a ``rich`` handler when stdout is a terminal (readable, coloured), plain
  ``time level name: message`` lines otherwise (pipes, CI, ``--no-dashboard`` runs).
* File: ``<db>.log`` (e.g. ``~/.arb-runner/arb.sqlite.log``), plain lines, mode 0600.
* Secrets: every handler carries a :class:`SecretRedactor` that replaces the value of any
  environment variable whose name contains ``KEY`` or ``SECRET`` (DESIGN.md invariant 7)
  with ``***`` in the message, its arguments and any traceback text.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

_PLAIN_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_MIN_SECRET_LEN = 4  # shorter values would redact ordinary words
_OWN_HANDLER_ATTR = "_arb_runner_handler"


def secret_values(environ: dict[str, str] | None = None) -> list[str]:
    """Values of environment variables whose name contains KEY or SECRET (case-insensitive),
    longest first so overlapping secrets are redacted whole."""
    env = os.environ if environ is None else environ
    values = {
        value
        for name, value in env.items()
        if ("KEY" in name.upper() or "SECRET" in name.upper()) and len(value) >= _MIN_SECRET_LEN
    }
    return sorted(values, key=len, reverse=True)


def redact(text: str, secrets: list[str] | None = None) -> str:
    """``text`` with every secret value replaced by ``***``."""
    for value in secret_values() if secrets is None else secrets:
        if value in text:
            text = text.replace(value, "***")
    return text


class SecretRedactor(logging.Filter):
    """Handler filter that rewrites a record so no secret value reaches any output.

    The message is rendered (``msg % args``) and redacted, and exception text is
    pre-formatted and redacted, so formatters downstream only see clean strings.
    The secret list is read from the environment when the filter is created.
    """

    def __init__(self, secrets: list[str] | None = None) -> None:
        super().__init__()
        self._secrets = secret_values() if secrets is None else secrets

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not kill logging
            message = str(record.msg)
        record.msg = redact(message, self._secrets)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self._secrets)
            record.exc_info = None  # force formatters to use the redacted text
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self._secrets)
        return True


def log_path_for(db_path: Path) -> Path:
    """The log file that sits beside a database: ``<db>.log``."""
    return db_path.with_name(db_path.name + ".log")


def setup_logging(
    db_path: Path | None,
    *,
    console: str = "auto",
    level: int = logging.INFO,
    rich_console: object | None = None,
) -> Path | None:
    """Configure the root logger once per process (idempotent: replaces our own handlers).

    ``console``: ``"rich"``, ``"plain"``, ``"none"`` or ``"auto"`` (rich when stdout is a
    TTY). ``rich_console``: a ``rich.console.Console`` to log through (the dashboard's, so
    log lines print above the live table). Returns the log file path (None when
    ``db_path`` is None). Never raises for an unwritable log file: it logs to console only.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _OWN_HANDLER_ATTR, False):
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    redactor = SecretRedactor()
    mode = console
    if mode == "auto":
        mode = "rich" if sys.stdout.isatty() else "plain"
    handlers: list[logging.Handler] = []
    if mode == "rich":
        from rich.logging import RichHandler

        kwargs = {"console": rich_console} if rich_console is not None else {}
        rich_handler = RichHandler(show_path=False, rich_tracebacks=False, markup=False, **kwargs)
        rich_handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        handlers.append(rich_handler)
    elif mode == "plain":
        plain = logging.StreamHandler(sys.stderr)
        plain.setFormatter(logging.Formatter(_PLAIN_FORMAT))
        handlers.append(plain)
    log_file: Path | None = None
    if db_path is not None:
        log_file = log_path_for(db_path)
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.close(fd)
            file_handler = logging.FileHandler(log_file, encoding="utf-8")
            file_handler.setFormatter(logging.Formatter(_PLAIN_FORMAT))
            handlers.append(file_handler)
        except OSError:
            log_file = None
    for handler in handlers:
        handler.addFilter(redactor)
        setattr(handler, _OWN_HANDLER_ATTR, True)
        root.addHandler(handler)
    # Third-party chatter stays out of the operator's console.
    for noisy in ("aiosqlite", "asyncio", "transitions", "websockets", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return log_file


def reset_logging() -> None:
    """Remove (and close) the handlers :func:`setup_logging` installed (tests, embedding)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _OWN_HANDLER_ATTR, False):
            root.removeHandler(handler)
            handler.close()
