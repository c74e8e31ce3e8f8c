"""The limits and names of an SMTP server, with their RFC 5321 defaults.

The session (:mod:`.session`) uses the names and size limits; the adapter
(:mod:`.server`) the time limits and the input bound.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from attrs import field, frozen

from reality.net.protocols.smtp.codec import MAX_LINE_LENGTH, MAX_MESSAGE_SIZE

__all__ = [
    "DATA_TIMEOUT",
    "IDLE_TIMEOUT",
    "MAX_ERRORS",
    "MAX_RECIPIENTS",
    "SESSION_TIMEOUT",
    "SMTPSettings",
]

#: RFC 5321 4.5.3.1.8: a server must accept at least 100 recipients.
MAX_RECIPIENTS = 100
#: RFC 5321 4.5.3.2: a server should wait at least 5 minutes for a command.
#: Counted from the previous command: a command line must be complete by then.
IDLE_TIMEOUT = 300.0
#: RFC 5321 4.5.3.2.6: the whole message data, from the 354 to the final
#: ".", must arrive within this total (the RFC's data termination timeout).
DATA_TIMEOUT = 600.0
#: Total time a session may spend waiting for the client (not for delivery,
#: nor for the client to read its replies); 0: no limit.
SESSION_TIMEOUT = 1800.0
#: Negative replies in one session before the server gives up on the client.
MAX_ERRORS = 10


@frozen
class SMTPSettings:
    """The limits and names of an SMTP server. Defaults follow the issue and RFC 5321."""

    hostname: str = field(factory=socket.gethostname)
    max_message_size: int = MAX_MESSAGE_SIZE
    max_recipients: int = MAX_RECIPIENTS
    max_line_length: int = MAX_LINE_LENGTH
    idle_timeout: float = IDLE_TIMEOUT
    #: Total seconds for the message data, from the 354 to the final "." (0: none).
    data_timeout: float = DATA_TIMEOUT
    #: Total seconds a session may wait for its client (see CommandPipeline; 0: none).
    session_timeout: float = SESSION_TIMEOUT
    max_errors: int = MAX_ERRORS
    #: Offer STARTTLS (RFC 3207): the server has a certificate and the
    #: connection can be upgraded. Off: STARTTLS is answered ``454``.
    starttls: bool = False
    #: Unprocessed input (pipelined commands waiting their turn) past which
    #: the server stops reading from the client until it catches up.
    max_buffered: int = 64 * 1024
    #: Wall-clock time for the ``Received:`` date (tests pass a fixed one).
    #: A plain function giving a date, not a scheduler: no timer hangs on it.
    wall_clock: Callable[[], float] = time.time
