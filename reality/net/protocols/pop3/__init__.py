"""POP3 server (RFC 1939, RFC 2449, RFC 3206), as a sans-IO session and a thin adapter.

One concern a module:

- :mod:`.codec`: the wire format (command lines in; status lines,
  multi-line and byte-stuffed responses out);
- :mod:`.backend`: what the server asks of the place mailboxes live;
- :mod:`.settings`: the limits and their defaults;
- :mod:`.session`: the whole state machine, sans-IO (bytes in, responses
  and requests out);
- :mod:`.server`: the Protocol adapter (transport, timers, Deferreds, the
  mailbox's lifetime) and its factory.

Everything others import is re-exported here.
"""

from reality.net.protocols.basic import BadCommandLine, Command, LineTooLong
from reality.net.protocols.pop3.backend import (
    BadCredentials,
    LoginThrottled,
    Mailbox,
    MailboxInUse,
    POP3AuthError,
    POP3Backend,
)
from reality.net.protocols.pop3.codec import (
    MAX_LINE_LENGTH,
    POP3Event,
    POP3ServerCodec,
    err,
    multi_line,
    ok,
    stuff_message,
    top_of_message,
)
from reality.net.protocols.pop3.server import POP3ServerFactory, POP3ServerProtocol
from reality.net.protocols.pop3.session import (
    Authenticate,
    CommitDeletions,
    MarkRetrieved,
    POP3Action,
    POP3Session,
    ReadMessage,
    Release,
)
from reality.net.protocols.pop3.settings import (
    IDLE_TIMEOUT,
    MAX_ERRORS,
    SESSION_TIMEOUT,
    POP3Settings,
)

__all__ = [
    "IDLE_TIMEOUT",
    "MAX_ERRORS",
    "MAX_LINE_LENGTH",
    "SESSION_TIMEOUT",
    "Authenticate",
    "BadCommandLine",
    "BadCredentials",
    "Command",
    "CommitDeletions",
    "LineTooLong",
    "LoginThrottled",
    "Mailbox",
    "MailboxInUse",
    "MarkRetrieved",
    "POP3Action",
    "POP3AuthError",
    "POP3Backend",
    "POP3Event",
    "POP3ServerCodec",
    "POP3ServerFactory",
    "POP3ServerProtocol",
    "POP3Session",
    "POP3Settings",
    "ReadMessage",
    "Release",
    "err",
    "multi_line",
    "ok",
    "stuff_message",
    "top_of_message",
]
