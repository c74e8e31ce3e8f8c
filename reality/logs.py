"""Where the server's log goes and how it looks: stderr or a file, text or JSON.

``reality serve --log-file FILE`` appends to FILE; :func:`reopen` (the
server calls it on SIGUSR1) closes and opens it again, so logrotate can
rename the file and signal, with no line lost or written to the old name
afterwards (``postrotate: kill -USR1 $(cat /run/reality.pid)``).

``--log-format json`` writes one JSON object a line::

    {"time": "2026-01-02T03:04:05.678Z", "level": "WARNING", "logger": "reality.audit",
     "message": "login.failed who=bob address=192.0.2.7", "event": "login.failed",
     "who": "bob", "address": "192.0.2.7"}

``time`` is UTC (RFC 3339, milliseconds), ``level`` the level's name,
``logger`` the logger's name and ``message`` the formatted text; the
structured fields of an audit event (:func:`reality.audit.audit` puts them
on the record as ``record.audit``) are merged in at the top level (never
over those four keys), and a traceback comes as ``exception``. So the
audit trail in JSON is ``jq 'select(.logger == "reality.audit")'``.

Writing is synchronous, as for any ``logging`` handler; the log is for
events (a login, an admin's verb), never one line per command, so it stays
off the hot path. This module imports only the standard library.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import IO, Any

__all__ = ["FORMATS", "JSONFormatter", "TEXT_FORMAT", "configure", "reopen"]

#: The ``--log-format`` choices.
FORMATS = ("text", "json")

#: The text format (the one the server always had).
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_RESERVED = ("time", "level", "logger", "message")

#: The handler :func:`configure` installed (reopened by :func:`reopen`).
_handler: logging.Handler | None = None


class JSONFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message and structured fields."""

    def format(self, record: logging.LogRecord) -> str:
        created = record.created
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
        entry: dict[str, Any] = {
            "time": f"{stamp}.{int(created % 1 * 1000):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "audit", None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                if key not in _RESERVED:
                    entry[key] = value if isinstance(value, (str, int, float, bool)) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        # ensure_ascii: a player's name or an attacker's bytes cannot break a line.
        return json.dumps(entry, ensure_ascii=True)


class _ReopenableFileHandler(logging.FileHandler):
    """A FileHandler that :meth:`reopen` points at whatever file now has its name."""

    def reopen(self) -> None:
        self.acquire()
        try:
            old = self.stream
            self.stream = self._open()
            if old is not None:
                try:
                    old.flush()
                finally:
                    old.close()
        finally:
            self.release()


def configure(level: str = "info", *, log_file: str | None = None, fmt: str = "text",
              stream: IO[str] | None = None) -> logging.Handler:
    """Send the root logger's records at ``level`` or above to ``log_file`` (or stderr).

    Replaces any handler an earlier call installed; returns the new one.
    Raises OSError when ``log_file`` cannot be opened (the caller says so
    and stops: a server that cannot log where it was told must not start).
    """
    global _handler
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    handler: logging.Handler
    if log_file:
        handler = _ReopenableFileHandler(log_file, encoding="utf-8")
    else:
        handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JSONFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
        _handler.close()
    else:
        # What basicConfig (or an earlier import) put there would double every line.
        for old in list(root.handlers):
            if isinstance(old, logging.StreamHandler) and not isinstance(old, logging.FileHandler):
                root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper()))
    _handler = handler
    return handler


def reopen() -> bool:
    """Reopen the log file (SIGUSR1, after logrotate renamed it); False when logging to stderr."""
    handler = _handler
    if isinstance(handler, _ReopenableFileHandler):
        try:
            handler.reopen()
        except OSError as exc:
            # Keep the old stream (still open) rather than lose the log.
            logging.getLogger("reality").error("cannot reopen the log file: %s", exc)
            return False
        logging.getLogger("reality").info("log file reopened")
        return True
    return False
