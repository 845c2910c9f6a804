"""Logging setup for the runner: console lines plus a rotating log file beside the database.

* Console: a ``rich`` handler when stdout is a terminal (readable, coloured), plain
  ``time level name: message`` lines otherwise (pipes, CI, ``--no-dashboard`` runs). While the live
  dashboard runs, the console handler prints through the dashboard's own ``rich`` console (so a log
  line is drawn above the live table, never through it) and only from ``WARNING`` up: the
  per-order INFO lines of the trade log (:mod:`strategies.execution.tradelog`) go to the file.
* File: ``<db>.log`` (e.g. ``~/.arb-runner/arb.sqlite.log``), mode 0600, rotated by the standard
  library's :class:`logging.handlers.RotatingFileHandler` at :data:`LOG_MAX_BYTES` with
  :data:`LOG_BACKUP_COUNT` old files (``<db>.log.1`` is the newest of them). Several processes
  may append to one file; one that rotates it does not make the others rotate (they keep writing
  into the renamed file until their own next rotation), which loses no line.
* ``--log-json`` (``json_lines=True``): the file, and the plain console when not on a terminal, get
  one JSON object per line (:class:`JsonLinesFormatter`) for log shippers.
* Secrets: every handler carries a :class:`SecretRedactor` that replaces the value of any
  environment variable whose name contains ``KEY``, ``SECRET``, ``TOKEN`` or ``PASSWORD``
  (docs/design.md invariant 7) with ``***`` in the message, its arguments, its structured fields and
  any traceback text.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from strategies.execution.tradelog import FIELDS_ATTR

_PLAIN_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_MIN_SECRET_LEN = 4  # shorter values would redact ordinary words
_OWN_HANDLER_ATTR = "_arb_runner_handler"
_SECRET_NAME_PARTS = ("KEY", "SECRET", "TOKEN", "PASSWORD")
#: the log file is rotated when it would grow past this size ...
LOG_MAX_BYTES = 10 * 1024 * 1024
#: ... keeping this many old files (``<db>.log.1`` .. ``<db>.log.5``): at most ~60 MB in all
LOG_BACKUP_COUNT = 5
_current_log_file: Path | None = None


def secret_values(environ: dict[str, str] | None = None) -> list[str]:
    """Values of environment variables whose name contains KEY, SECRET, TOKEN or PASSWORD
    (case-insensitive), longest first so overlapping secrets are redacted whole."""
    env = os.environ if environ is None else environ
    values = {
        value
        for name, value in env.items()
        if any(part in name.upper() for part in _SECRET_NAME_PARTS) and len(value) >= _MIN_SECRET_LEN
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
        fields = getattr(record, FIELDS_ATTR, None)
        if isinstance(fields, dict):
            setattr(record, FIELDS_ATTR, {k: redact(v, self._secrets) if isinstance(v, str) else v
                                          for k, v in fields.items()})
        return True


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per record: ``ts`` (ISO-8601 UTC, ms), ``level``, ``logger``, ``message``,
    the record's structured fields (:data:`strategies.execution.tradelog.FIELDS_ATTR`, at top level; a
    field named like one of those four is left out) and ``exc`` (traceback text) when present."""

    _RESERVED = frozenset({"ts", "level", "logger", "message", "exc"})

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, FIELDS_ATTR, None)
        if isinstance(fields, dict):
            out.update({k: v for k, v in fields.items() if k not in self._RESERVED})
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exc"] = record.exc_text
        return json.dumps(out, default=str, ensure_ascii=False)


def log_path_for(db_path: Path) -> Path:
    """The log file that sits beside a database: ``<db>.log``."""
    return db_path.with_name(db_path.name + ".log")


def current_log_path() -> Path | None:
    """The log file the last :func:`setup_logging` call writes to (None: console only)."""
    return _current_log_file


def _create_0600(path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.close(fd)


def _rotate_0600(source: str, dest: str) -> None:
    """RotatingFileHandler ``rotator``: rename, then create the fresh file 0600 before the handler
    reopens it (it would otherwise be created with the process umask)."""
    if os.path.exists(source):
        os.replace(source, dest)
    _create_0600(Path(source))


def file_handler(log_file: Path, *, json_lines: bool = False) -> logging.Handler:
    """The rotating file handler for ``log_file`` (created 0600 if absent). Raises OSError."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    _create_0600(log_file)
    handler = logging.handlers.RotatingFileHandler(log_file, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUP_COUNT,
                                                   encoding="utf-8")
    handler.rotator = _rotate_0600
    handler.setFormatter(JsonLinesFormatter() if json_lines else logging.Formatter(_PLAIN_FORMAT))
    return handler


def setup_logging(
    db_path: Path | None,
    *,
    console: str = "auto",
    level: int = logging.INFO,
    rich_console: object | None = None,
    console_level: int | None = None,
    json_lines: bool = False,
    create_file: bool = True,
) -> Path | None:
    """Configure the root logger once per process (idempotent: replaces our own handlers).

    ``console``: ``"rich"``, ``"plain"``, ``"none"`` or ``"auto"`` (rich when stdout is a
    TTY). ``rich_console``: a ``rich.console.Console`` to log through (the dashboard's, so
    log lines print above the live table). ``console_level``: the console handler's own
    threshold (default ``level``; the dashboard passes WARNING). ``json_lines``: JSON objects
    instead of plain lines in the file and on a plain console. ``create_file=False`` (read-only
    commands): log to ``<db>.log`` only if it already exists. Returns the log file path (None
    when ``db_path`` is None or no file is written). Never raises for an unwritable log file: it
    logs to the console only.
    """
    global _current_log_file
    reset_logging()
    root = logging.getLogger()
    root.setLevel(level)
    redactor = SecretRedactor()
    mode = console
    if mode == "auto":
        mode = "rich" if sys.stdout.isatty() else "plain"
    handlers: list[logging.Handler] = []
    console_handler: logging.Handler | None = None
    if mode == "rich":
        from rich.logging import RichHandler

        kwargs = {"console": rich_console} if rich_console is not None else {}
        console_handler = RichHandler(show_path=False, rich_tracebacks=False, markup=False, **kwargs)  # type: ignore[arg-type]
        console_handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    elif mode == "plain":
        console_handler = logging.StreamHandler(sys.stderr)
        console_handler.setFormatter(JsonLinesFormatter() if json_lines else logging.Formatter(_PLAIN_FORMAT))
    if console_handler is not None:
        console_handler.setLevel(level if console_level is None else console_level)
        handlers.append(console_handler)
    log_file: Path | None = None
    if db_path is not None:
        candidate = log_path_for(db_path)
        if create_file or candidate.exists():
            try:
                handlers.append(file_handler(candidate, json_lines=json_lines))
                log_file = candidate
            except OSError:
                log_file = None
    for handler in handlers:
        handler.addFilter(redactor)
        setattr(handler, _OWN_HANDLER_ATTR, True)
        root.addHandler(handler)
    # Third-party chatter stays out of the operator's console.
    for noisy in ("aiosqlite", "asyncio", "transitions", "websockets", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    _current_log_file = log_file
    return log_file


def ensure_file_logging(db_path: Path | None) -> Path | None:
    """Make sure records reach a log file (an internal error's traceback must land somewhere):
    the current one, else ``<db>.log`` created now. Returns its path, None if none can be written."""
    global _current_log_file
    if _current_log_file is not None or db_path is None:
        return _current_log_file
    path = log_path_for(db_path)
    try:
        handler = file_handler(path)
    except OSError:
        return None
    handler.addFilter(SecretRedactor())
    setattr(handler, _OWN_HANDLER_ATTR, True)
    logging.getLogger().addHandler(handler)
    _current_log_file = path
    return path


def own_handlers() -> list[logging.Handler]:
    """The root handlers :func:`setup_logging` installed (console first, then the file)."""
    return [h for h in logging.getLogger().handlers if getattr(h, _OWN_HANDLER_ATTR, False)]


def reset_logging() -> None:
    """Remove (and close) the handlers :func:`setup_logging` installed (tests, embedding)."""
    global _current_log_file
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _OWN_HANDLER_ATTR, False):
            root.removeHandler(handler)
            handler.close()
    _current_log_file = None
