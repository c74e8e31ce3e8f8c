"""The limits, names and policies of an IMAP server, with their defaults.

The session (:mod:`.session`) and the codec use the name, the input
bounds, the flags and the login policy; the adapter (:mod:`.server`) the
time limits and the buffer bounds.
"""

from __future__ import annotations

import socket

from attrs import field, frozen

__all__ = [
    "IDLE_TIMEOUT",
    "MAX_LINE_LENGTH",
    "MAX_LITERAL",
    "IMAPSettings",
]

#: RFC 7162 4 asks clients to keep command lines under 8192 octets, so a
#: server should take at least that much. Counted per line between literals.
MAX_LINE_LENGTH = 8192
#: The largest literal taken. There is no APPEND, so literals carry only
#: passwords, mailbox names and search strings.
MAX_LITERAL = 64 * 1024
#: RFC 3501 5.4: the autologout timer is at least 30 minutes (IDLE clients
#: renew their IDLE every 29, RFC 2177).
IDLE_TIMEOUT = 31 * 60.0


@frozen
class IMAPSettings:
    """The limits and names of an IMAP server."""

    hostname: str = field(factory=socket.gethostname)
    #: Octets of one line of a command (between literals), CRLF included.
    max_line_length: int = MAX_LINE_LENGTH
    #: Octets of one literal; a larger one is refused before it is read.
    max_literal: int = MAX_LITERAL
    #: Octets of a whole command: its lines and literals together.
    max_command: int = 256 * 1024
    #: Tokens in one command (atoms, strings, parentheses).
    max_items: int = 4096
    #: Nesting of parenthesized lists (search groups, fetch lists).
    max_depth: int = 16
    #: Messages one command may name in a sequence set, after expansion is
    #: capped by the mailbox: ranges are bounded by the mailbox, so this
    #: bounds only the number of comma-separated pieces.
    max_set_pieces: int = 2048
    #: Client mistakes (tagged BAD) before the server says BYE.
    max_errors: int = 20
    idle_timeout: float = IDLE_TIMEOUT
    #: Total seconds a session may wait for its client; 0: no limit (a
    #: phone keeps an IDLE session for days, renewing it every 29 minutes).
    session_timeout: float = 0.0
    #: Seconds the client may leave its replies unread (writing paused)
    #: before the connection is aborted.
    stall_timeout: float = 120.0
    #: Unprocessed input past which the server stops reading until it catches up.
    max_buffered: int = 64 * 1024
    #: ``STARTTLS`` is offered (the server has a certificate and the
    #: connection is not already TLS).
    starttls: bool = False
    #: Plaintext ``LOGIN``/``AUTHENTICATE`` allowed without TLS. When False
    #: the capability ``LOGINDISABLED`` is advertised and both are refused
    #: with ``NO [PRIVACYREQUIRED]`` until TLS is on.
    plaintext_login: bool = True
    #: The flags a client may set and the server keeps (``PERMANENTFLAGS``).
    permanent_flags: tuple[str, ...] = (
        "\\Answered",
        "\\Flagged",
        "\\Deleted",
        "\\Seen",
        "\\Draft",
    )
