"""The audit trail: admin actions and security events, one log line each.

Every such event goes through :func:`audit`, on the ``reality.audit``
logger, as one line::

    admin.kick who=Root target=Bob address=127.0.0.1 reason="spamming the hall"

and the same fields as a dict on the ``LogRecord`` (``record.audit``, with
``event`` among them), so a handler can write a JSON trail without parsing
the text. The events, their levels and their fields are listed in
:data:`EVENTS` and in ``docs/security.md``.

A value is written bare when it is made only of letters, digits and
``_.:@/+-``; otherwise it is quoted as a JSON string with every non-ASCII
character, quote, backslash and control character escaped. So a name or a
reason holding spaces, ``=``, quotes or newlines stays one value on one
line and can never forge another field or another event.

Floods: an event logged more than :data:`MAX_PER_SECOND` times in one
second is left out for the rest of that second, and the next line of that
event carries ``suppressed=N`` (how many were left out). An attacker who
sends ten thousand oversized lines gets twenty log lines a second, not ten
thousand.

This module imports only the standard library, so every layer (the engine
in ``reality.net``, the world in ``reality.game``, the gateways) may use it
without any of them depending on another.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable

__all__ = ["EVENTS", "MAX_PER_SECOND", "audit", "format_fields", "logger", "host_of"]

#: The logger every audit line goes to.
logger = logging.getLogger("reality.audit")

INFO = logging.INFO
WARNING = logging.WARNING

#: Every audit event: its level and the fields it carries (besides ``suppressed``).
EVENTS: dict[str, tuple[int, tuple[str, ...]]] = {
    # Admin actions (who: the admin's name; address: their connection's peer).
    # Every admin verb typed (allowed=no when the player is not an admin).
    "admin.command": (INFO, ("who", "address", "verb", "args", "allowed")),
    "admin.kick": (INFO, ("who", "address", "target", "reason")),
    "admin.teleport": (INFO, ("who", "address", "target", "to")),
    "admin.dig": (INFO, ("who", "address", "target", "exit", "room")),
    "admin.create": (INFO, ("who", "address", "target", "name")),
    "admin.describe": (INFO, ("who", "address", "target")),
    "admin.channel_create": (INFO, ("who", "address", "target")),
    "admin.channel_destroy": (INFO, ("who", "address", "target")),
    "admin.load": (INFO, ("who", "address", "target", "result")),
    "admin.shutdown": (WARNING, ("who", "address", "reason")),
    "admin.ban": (WARNING, ("who", "address", "target", "kind", "reason")),
    "admin.unban": (WARNING, ("who", "address", "target", "kind")),
    "admin.destroy": (INFO, ("who", "address", "target")),
    "admin.rename": (INFO, ("who", "address", "target", "name")),
    "admin.open": (INFO, ("who", "address", "room", "exit", "to")),
    "admin.unlink": (INFO, ("who", "address", "room", "exit", "to")),
    "admin.set": (INFO, ("who", "address", "target", "attribute", "value")),
    "admin.bounce": (INFO, ("who", "address", "target")),
    # The server itself (who: "signal" or an admin's name).
    "server.start": (INFO, ("pid", "version", "ports")),
    "server.shutdown": (WARNING, ("who", "reason")),
    "server.reload": (WARNING, ("who", "result", "reason", "pid", "connections")),
    "server.backup": (INFO, ("target", "result", "reason")),
    "world.load": (INFO, ("target", "rooms", "result")),
    # Accounts (never a password: who changed theirs, and from where).
    "account.password": (INFO, ("who", "address")),
    # Logins.
    "login.failed": (WARNING, ("who", "address")),
    "login.locked": (WARNING, ("address", "seconds")),
    "login.throttled": (WARNING, ("who", "address")),
    "login.banned": (WARNING, ("who", "address")),
    # Resume tokens (docs/operations.md): one given to a closed session, one
    # presented (result=ok: logged in without a password; refused).
    "login.resume_issued": (INFO, ("who", "address", "seconds")),
    "login.resume": (INFO, ("who", "address", "result")),
    # Mail.
    "smtp.relay_refused": (WARNING, ("who", "address", "target")),
    # Connections.
    "connection.refused": (WARNING, ("service", "address", "reason")),
    "connection.timeout": (INFO, ("service", "address", "reason")),
    "input.too_large": (WARNING, ("service", "address", "what", "size", "limit")),
    # TLS.
    "tls.injection": (WARNING, ("service", "address", "size")),
    "tls.plaintext_login": (INFO, ("service", "address")),
    "input.malformed": (WARNING, ("service", "address", "reason")),
}

#: Lines per event name per second before the rest of that second is left out.
MAX_PER_SECOND = 20

_BARE = re.compile(r"[A-Za-z0-9_.:@/+-]+\Z")
_KEY = re.compile(r"[a-z_][a-z0-9_]*\Z")

#: The clock that paces floods (monotonic seconds); tests may replace it.
clock: Callable[[], float] = time.monotonic

# event -> [second, lines this second, left out since the last line]
_pace: dict[str, list[float]] = {}


def _value(value: object) -> str:
    text = value if isinstance(value, str) else str(value)
    if _BARE.match(text):
        return text
    # ensure_ascii: the line is pure printable ASCII whatever the value holds.
    return json.dumps(text, ensure_ascii=True)


def format_fields(event: str, fields: dict[str, object]) -> str:
    """The text of one audit line: ``event key=value ...`` (None values left out)."""
    parts = [event if _BARE.match(event) else _value(event)]
    for key, value in fields.items():
        if value is None:
            continue
        # Keys come from our code, never from a client; still, never let one forge.
        name = key if _KEY.match(key) else "field"
        parts.append(f"{name}={_value(value)}")
    return " ".join(parts)


def _allowed(event: str) -> int | None:
    """None to leave this line out; else how many were left out before it."""
    now = int(clock())
    pace = _pace.get(event)
    if pace is None or pace[0] != now:
        left_out = int(pace[2]) if pace is not None else 0
        _pace[event] = [now, 1, 0]
        return left_out
    if pace[1] >= MAX_PER_SECOND:
        pace[2] += 1
        return None
    pace[1] += 1
    left_out = int(pace[2])
    pace[2] = 0
    return left_out


def host_of(peer: object) -> str | None:
    """The host of an address (``.host``) or of a transport's peer (``get_peer()``).

    None when there is none (not connected, or already gone).
    """
    try:
        if hasattr(peer, "get_peer"):
            peer = peer.get_peer()
        host = getattr(peer, "host", None)
    except OSError:
        return None
    return None if host is None else str(host)


def audit(event: str, /, **fields: object) -> None:
    """Log one audit event with its fields, at the level :data:`EVENTS` gives it.

    ``None`` values are left out. Never raises for odd values: anything is
    written through ``str()``, escaped.
    """
    level = EVENTS.get(event, (INFO, ()))[0]
    if not logger.isEnabledFor(level):
        return
    left_out = _allowed(event)
    if left_out is None:
        return
    if left_out:
        fields["suppressed"] = left_out
    record: dict[str, object] = {"event": event}
    for key, value in fields.items():
        if value is not None:
            record[key] = value if isinstance(value, (str, int, float)) else str(value)
    logger.log(level, "%s", format_fields(event, fields), extra={"audit": record})
