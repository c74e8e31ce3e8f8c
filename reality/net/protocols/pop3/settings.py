"""The limits and names of a POP3 server, with their RFC 1939 / RFC 2449 defaults.

The session (:mod:`.session`) uses the name, the line and error limits;
the adapter (:mod:`.server`) the time limits and the input bound.
"""

from __future__ import annotations

import socket

from attrs import field, frozen

from reality.net.protocols.pop3.codec import MAX_LINE_LENGTH
from reality.net.protocols.starttls import LOOPBACK, Network

__all__ = ["IDLE_TIMEOUT", "MAX_ERRORS", "SESSION_TIMEOUT", "POP3Settings"]

#: RFC 1939 3: an autologout timer, if any, of at least 10 minutes. Counted
#: from the previous command: a command line must be complete by then.
IDLE_TIMEOUT = 600.0
#: Total time a session may spend waiting for the client (not for the mailbox,
#: nor for the client to read a download); 0: no limit. It holds the mailbox
#: lock, so a session kept open by a NOOP now and then must end some time.
SESSION_TIMEOUT = 3600.0
#: Negative responses to the client's own mistakes before the server hangs up.
MAX_ERRORS = 10


@frozen
class POP3Settings:
    """The limits and names of a POP3 server."""

    hostname: str = field(factory=socket.gethostname)
    max_line_length: int = MAX_LINE_LENGTH
    idle_timeout: float = IDLE_TIMEOUT
    #: Total seconds a session may wait for its client (see CommandPipeline; 0: none).
    session_timeout: float = SESSION_TIMEOUT
    max_errors: int = MAX_ERRORS
    #: The server has a certificate: offer STLS (RFC 2595) on plain
    #: connections, and refuse USER/PASS on them except from
    #: ``plaintext_auth_from``. Off: no STLS, passwords accepted anywhere.
    tls: bool = False
    #: Where a password may come from over a plain connection while ``tls``
    #: is on (``--plaintext-auth-from``; default: this machine).
    plaintext_auth_from: tuple[Network, ...] = LOOPBACK
    #: Unprocessed input past which the server stops reading until it catches up.
    max_buffered: int = 16 * 1024
