"""IMAP4rev1 server (RFC 3501, with RFC 9051 behaviour clients rely on), sans-IO.

One concern a module, as for POP3 and SMTP:

- :mod:`.codec`: the wire format (tagged commands with quoted strings,
  literals ``{n}`` and LITERAL+ ``{n+}``, lists; sequence sets; how a
  string is written back);
- :mod:`.message`: a message's MIME parts by octet, ENVELOPE,
  BODYSTRUCTURE and ``BODY[section]``;
- :mod:`.search`: SEARCH criteria;
- :mod:`.backend`: what the server asks of the place mailboxes live
  (the pinned API the mail gateway implements);
- :mod:`.settings`: the limits, policies and their defaults;
- :mod:`.session`: the whole state machine, sans-IO;
- :mod:`.server`: the Protocol adapter (transport, timers, Deferreds,
  back-pressure, IDLE pushes, STARTTLS) and its factory.

Everything others import is re-exported here.
"""

from reality.net.protocols.imap.backend import (
    BadCredentials,
    IMAPAccount,
    IMAPAuthError,
    IMAPBackend,
    IMAPError,
    IMAPMailbox,
    LoginThrottled,
    MailboxInfo,
    MailboxListener,
    MailboxStatus,
    MessageInfo,
    PlaintextRefused,
    StoreMode,
)
from reality.net.protocols.imap.codec import (
    IMAPCommand,
    IMAPServerCodec,
    format_sequence_set,
    parse_sequence_set,
)
from reality.net.protocols.imap.server import IMAPServerFactory, IMAPServerProtocol
from reality.net.protocols.imap.session import (
    AUTHENTICATED,
    LOGOUT,
    NOT_AUTHENTICATED,
    SELECTED,
    Call,
    IMAPAction,
    IMAPSession,
    StartTLS,
    run_sync,
)
from reality.net.protocols.imap.settings import (
    IDLE_TIMEOUT,
    MAX_LINE_LENGTH,
    MAX_LITERAL,
    IMAPSettings,
)

__all__ = [
    "AUTHENTICATED",
    "IDLE_TIMEOUT",
    "LOGOUT",
    "MAX_LINE_LENGTH",
    "MAX_LITERAL",
    "NOT_AUTHENTICATED",
    "SELECTED",
    "BadCredentials",
    "Call",
    "IMAPAccount",
    "IMAPAction",
    "IMAPAuthError",
    "IMAPBackend",
    "IMAPCommand",
    "IMAPError",
    "IMAPMailbox",
    "IMAPServerCodec",
    "IMAPServerFactory",
    "IMAPServerProtocol",
    "IMAPSession",
    "IMAPSettings",
    "LoginThrottled",
    "MailboxInfo",
    "MailboxListener",
    "MailboxStatus",
    "MessageInfo",
    "PlaintextRefused",
    "StartTLS",
    "StoreMode",
    "format_sequence_set",
    "parse_sequence_set",
    "run_sync",
]
