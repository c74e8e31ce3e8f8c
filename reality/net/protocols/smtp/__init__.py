"""ESMTP server (RFC 5321 and its extensions), as a sans-IO session and a thin adapter.

One concern a module:

- :mod:`.codec`: the input framing (command lines; message data with
  dot-unstuffing and the line and size limits);
- :mod:`.paths`: the addresses of ``MAIL FROM`` / ``RCPT TO`` and their
  parameters;
- :mod:`.replies`: replies on the wire;
- :mod:`.backend`: what the server asks of the place mail goes;
- :mod:`.settings`: the limits and their defaults;
- :mod:`.session`: the whole state machine, sans-IO (bytes in, replies and
  requests out);
- :mod:`.server`: the Protocol adapter (transport, timers, Deferreds) and
  its factory.

Everything others import is re-exported here.
"""

from reality.net.protocols.basic import BadCommandLine, Command, LineTooLong
from reality.net.protocols.smtp.backend import (
    ACCEPT,
    RELAY_DENIED,
    UNKNOWN_USER,
    DeliveryBackend,
    DeliveryError,
    Envelope,
    RecipientVerdict,
)
from reality.net.protocols.smtp.codec import (
    MAX_LINE_LENGTH,
    MAX_MESSAGE_SIZE,
    MessageLineTooLong,
    MessageReceived,
    MessageTooLarge,
    SMTPEvent,
    SMTPServerCodec,
)
from reality.net.protocols.smtp.paths import (
    MAX_PATH_LENGTH,
    AddressSyntaxError,
    PathSyntaxError,
    parse_path,
)
from reality.net.protocols.smtp.replies import Reply
from reality.net.protocols.smtp.server import SMTPServerFactory, SMTPServerProtocol
from reality.net.protocols.smtp.session import CheckRecipient, Deliver, SMTPAction, SMTPSession
from reality.net.protocols.smtp.settings import (
    DATA_TIMEOUT,
    IDLE_TIMEOUT,
    MAX_ERRORS,
    MAX_RECIPIENTS,
    SESSION_TIMEOUT,
    SMTPSettings,
)

__all__ = [
    "ACCEPT",
    "DATA_TIMEOUT",
    "IDLE_TIMEOUT",
    "MAX_ERRORS",
    "MAX_LINE_LENGTH",
    "MAX_MESSAGE_SIZE",
    "MAX_PATH_LENGTH",
    "MAX_RECIPIENTS",
    "RELAY_DENIED",
    "SESSION_TIMEOUT",
    "UNKNOWN_USER",
    "AddressSyntaxError",
    "BadCommandLine",
    "CheckRecipient",
    "Command",
    "Deliver",
    "DeliveryBackend",
    "DeliveryError",
    "Envelope",
    "LineTooLong",
    "MessageLineTooLong",
    "MessageReceived",
    "MessageTooLarge",
    "PathSyntaxError",
    "RecipientVerdict",
    "Reply",
    "SMTPAction",
    "SMTPEvent",
    "SMTPServerCodec",
    "SMTPServerFactory",
    "SMTPServerProtocol",
    "SMTPSession",
    "SMTPSettings",
    "parse_path",
]
