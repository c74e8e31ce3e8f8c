"""ESMTP server: a sans-IO codec and a thin protocol adapter.

Follows RFC 5321 (SMTP) for the commands, replies, reply order, the
dot-stuffing of message data (section 4.5.2) and the size limits of
section 4.5.3.1; RFC 1870 (SIZE), RFC 6152 (8BITMIME), RFC 2920
(PIPELINING), RFC 6531 (SMTPUTF8: UTF-8 in addresses and header fields,
for a transaction whose ``MAIL`` carries the ``SMTPUTF8`` parameter) and
RFC 2034 / RFC 3463 (enhanced status codes).

The codec (:class:`SMTPServerCodec`) frames bytes into events: command
lines, and in DATA mode whole messages, already dot-unstuffed, with the
1,000-byte line limit and the message size limit applied while reading (an
oversized message is read to its end and dropped, never held). It knows
nothing of the session rules and never touches a socket.

The adapter (:class:`SMTPServerProtocol`) runs the session: the state
machine (greeting, envelope, DATA), the replies, the error and idle limits,
the time limits (a command line within the idle time, the message data
within :data:`DATA_TIMEOUT` in total, the session within
:data:`SESSION_TIMEOUT`: RFC 5321 4.5.3.2), and the calls into a pluggable
:class:`DeliveryBackend`. It handles one
command at a time and does not look at the next one until the reply to the
current one is written, so a reply that waits on the backend (a recipient
check, a delivery) never lets later replies overtake it: pipelined commands
are answered in order (the mistake of Twisted SMTP #8126 is not repeated).
While it waits, unread input stays in the codec; past a bound the adapter
pauses reading, so a client cannot make the server buffer without limit.

Only what the backend acknowledges is acknowledged: the ``250`` after DATA
is written when the Deferred from :meth:`DeliveryBackend.deliver` fires.
"""

from __future__ import annotations

import email.utils
import logging
import re
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import count
from typing import Any, Protocol as TypingProtocol

from attrs import define, field, frozen

from reality.audit import audit, host_of
from reality.net.defer import Deferred, Failure, maybe_deferred
from reality.net.protocol import Address, Factory
from reality.net.protocols.basic import (
    BadCommandLine,
    Command,
    CommandLineCodec,
    CommandPipeline,
    LineTooLong,
)

__all__ = [
    "ACCEPT",
    "RELAY_DENIED",
    "UNKNOWN_USER",
    "AddressSyntaxError",
    "BadCommandLine",
    "Command",
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
    "SMTPServerCodec",
    "SMTPServerFactory",
    "SMTPServerProtocol",
    "SMTPSettings",
    "parse_path",
]

log = logging.getLogger(__name__)

#: RFC 5321 4.5.3.1.6: a text line is at most 1,000 octets with its CRLF.
#: Command lines get the same room (4.5.3.1.4 allows 512, but extensions
#: such as SIZE may lengthen them, and being generous costs nothing here).
MAX_LINE_LENGTH = 1000
#: The default message size limit, advertised as ``SIZE`` (RFC 1870).
MAX_MESSAGE_SIZE = 1 << 20
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
#: RFC 5321 4.5.3.1.3: a path is at most 256 octets including the brackets.
MAX_PATH_LENGTH = 256


# -- replies ---------------------------------------------------------------------


@frozen
class Reply:
    """One SMTP reply: a code, an optional enhanced status, one or more lines of text."""

    code: int
    text: str | tuple[str, ...]
    status: str | None = None

    def to_bytes(self) -> bytes:
        """The reply on the wire: ``250-first`` ... ``250 last``, each line ending CRLF."""
        lines = (self.text,) if isinstance(self.text, str) else self.text
        prefix = f"{self.status} " if self.status else ""
        out = []
        last = len(lines) - 1
        for index, line in enumerate(lines):
            # A reply line must never carry its own line break (it would forge
            # a second reply), nor control characters.
            clean = _CONTROL.sub("?", line)
            sep = " " if index == last else "-"
            # Per RFC 2034 each line of a multi-line reply carries the status.
            out.append(f"{self.code}{sep}{prefix}{clean}\r\n")
        return "".join(out).encode("utf-8", "replace")


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@frozen
class RecipientVerdict:
    """What the backend says about one ``RCPT TO`` address.

    ``code`` is the reply code (2xx accepts the recipient, 4xx/5xx refuses
    it), ``status`` the RFC 3463 enhanced status, ``text`` the human part;
    the reply reads ``<code> <status> <address>: <text>``.
    """

    code: int
    status: str
    text: str

    @property
    def accepted(self) -> bool:
        """True if the recipient is accepted."""
        return 200 <= self.code < 300


#: The recipient is accepted.
ACCEPT = RecipientVerdict(250, "2.1.5", "Recipient OK")
#: No such mailbox here (RFC 3463 5.1.1).
UNKNOWN_USER = RecipientVerdict(550, "5.1.1", "User unknown")
#: The address is not in a domain this server receives mail for (RFC 3463 5.7.1).
RELAY_DENIED = RecipientVerdict(550, "5.7.1", "Relay access denied")


class DeliveryError(Exception):
    """Raised (or failed with) by a backend to refuse a message with a specific reply.

    ``DeliveryError(552, "5.2.2", "Mailbox full")``. Any other exception from
    ``deliver`` is a temporary failure: ``451 4.3.0``.
    """

    def __init__(self, code: int, status: str, text: str) -> None:
        super().__init__(code, status, text)
        self.code = code
        self.status = status
        self.text = text

    def __str__(self) -> str:
        return f"{self.code} {self.status} {self.text}"


@define
class Envelope:
    """A message as received: who sent it, to whom, and its bytes.

    ``data`` is the message exactly as the client sent it (dot-unstuffed,
    CRLF line ends) with the ``Received:`` header this server prepends.
    ``mail_from`` is ``""`` for the null reverse-path ``<>`` (bounces).
    """

    mail_from: str
    rcpt_to: list[str]
    data: bytes
    peer: Address | None
    helo: str
    id: str = ""
    #: The transaction was SMTPUTF8 (RFC 6531): addresses and headers may be UTF-8.
    smtputf8: bool = False


class DeliveryBackend(TypingProtocol):
    """Where accepted mail goes. The server calls it; it never sees bytes of the wire.

    Both methods may return their result directly or as a Deferred; a
    Deferred pauses the session (later pipelined commands wait their turn).
    """

    def check_recipient(self, address: str) -> RecipientVerdict | Deferred[RecipientVerdict]:
        """Decide on one ``RCPT TO`` address (syntax already checked, case as sent).

        Return :data:`ACCEPT`, :data:`UNKNOWN_USER`, :data:`RELAY_DENIED` or
        any other :class:`RecipientVerdict`. An exception gives ``451 4.3.0``.
        """

    def deliver(self, envelope: Envelope) -> Deferred[Any] | Any:
        """Store the message durably; fire (with anything) once it is committed.

        The client gets ``250`` only when this fires. Fail with
        :class:`DeliveryError` to refuse the message with its own reply;
        any other failure gives ``451 4.3.0`` (the client will retry).
        """


# -- the codec ---------------------------------------------------------------------


@frozen
class MessageReceived:
    """The message data, dot-unstuffed, up to (not including) the final ``.`` line."""

    data: bytes


@frozen
class MessageTooLarge:
    """The message passed the size limit; it was read to its end and dropped."""

    limit: int


@frozen
class MessageLineTooLong:
    """A line of the message passed the line limit; it was read to its end and dropped."""

    limit: int


SMTPEvent = (
    Command | LineTooLong | BadCommandLine | MessageReceived | MessageTooLarge | MessageLineTooLong
)

_COMMAND_MODE = 0
_AWAIT_DATA = 1  # a DATA command was returned: wait to be told whether data follows
_DATA_MODE = 2


class SMTPServerCodec(CommandLineCodec):
    """Frames an SMTP server's input: command lines, then message data after DATA.

    Command lines are framed as by :class:`CommandLineCodec` (pulled one
    at a time with :meth:`next_event`). After a ``DATA`` command
    :meth:`next_event` gives None until the session calls
    :meth:`begin_data` or :meth:`refuse_data`. In DATA mode only CRLF ends
    a line, and only CRLF ``.`` CRLF ends the message: a bare LF inside
    the data is data, which closes the door on "SMTP smuggling" through
    differing line ends.
    """

    __slots__ = (
        "_state",
        "_chunks",
        "_size",
        "_too_large",
        "_line_too_long",
        "max_message_size",
    )

    def __init__(
        self, max_line_length: int = MAX_LINE_LENGTH, max_message_size: int = MAX_MESSAGE_SIZE
    ) -> None:
        super().__init__(max_line_length)
        self.max_message_size = max_message_size
        self._state = _COMMAND_MODE
        self._chunks: list[bytes] = []
        self._size = 0
        self._too_large = False
        self._line_too_long = False

    @property
    def in_data(self) -> bool:
        """True while message data is being read (after :meth:`begin_data`, until its end)."""
        return self._state == _DATA_MODE

    @property
    def awaiting_data(self) -> bool:
        """True after a ``DATA`` command until :meth:`begin_data` or :meth:`refuse_data`."""
        return self._state == _AWAIT_DATA

    def begin_data(self) -> None:
        """The server answered DATA with 354: what follows is message data."""
        if self._state != _AWAIT_DATA:
            raise RuntimeError("begin_data() is only valid right after a DATA command")
        self._state = _DATA_MODE
        self._chunks = []
        self._size = 0
        self._too_large = False
        self._line_too_long = False

    def refuse_data(self) -> None:
        """The server refused DATA: what follows is commands again."""
        if self._state != _AWAIT_DATA:
            raise RuntimeError("refuse_data() is only valid right after a DATA command")
        self._state = _COMMAND_MODE

    def next_event(self) -> SMTPEvent | None:
        """The next event, or None if more bytes (or a DATA decision) are needed."""
        if self._state == _COMMAND_MODE:
            event = self.next_command()
            if type(event) is Command and event.verb == "DATA":
                self._state = _AWAIT_DATA
            return event
        if self._state == _DATA_MODE:
            return self._next_message()
        return None

    # -- message data ----------------------------------------------------------------

    def _next_message(self) -> SMTPEvent | None:
        buf = self._buffer
        limit = self.max_line_length
        max_size = self.max_message_size
        chunks = self._chunks
        pos = 0
        scan = self._scan
        try:
            while True:
                crlf = buf.find(b"\r\n", scan)
                if crlf < 0:
                    pending = len(buf) - pos
                    # A trailing CR may be the first half of a CRLF still on its way.
                    tail_cr = 1 if pending and buf[-1] == 13 else 0
                    if self._discarding:
                        pos = len(buf) - tail_cr
                    elif pending - tail_cr > limit - 2:
                        self._line_too_long = True
                        self._discarding = True
                        chunks.clear()
                        pos = len(buf) - tail_cr
                    scan = max(pos, len(buf) - 1)
                    return None
                end = crlf + 2
                scan = end
                if self._discarding:
                    self._discarding = False
                    pos = end
                    continue
                length = end - pos
                if length == 3 and buf[pos] == 46:  # the lone "." line
                    pos = end
                    scan = end
                    return self._finish_message()
                if length > limit:
                    self._line_too_long = True
                    chunks.clear()
                    pos = end
                    continue
                start = pos + 1 if buf[pos] == 46 else pos  # RFC 5321 4.5.2 unstuffing
                self._size += end - start
                if self._size > max_size:
                    self._too_large = True
                    chunks.clear()
                elif not (self._too_large or self._line_too_long):
                    chunks.append(bytes(buf[start:end]))
                pos = end
        finally:
            del buf[:pos]
            self._scan = scan - pos if scan > pos else 0

    def _finish_message(self) -> SMTPEvent:
        self._state = _COMMAND_MODE
        chunks = self._chunks
        self._chunks = []
        event: SMTPEvent
        if self._line_too_long:
            event = MessageLineTooLong(self.max_line_length)
        elif self._too_large:
            event = MessageTooLarge(self.max_message_size)
        else:
            event = MessageReceived(b"".join(chunks))
        self._size = 0
        self._too_large = self._line_too_long = False
        return event


# -- addresses -------------------------------------------------------------------

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_DOT_ATOM = rf"{_ATEXT}+(?:\.{_ATEXT}+)*"
_QUOTED = r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"'
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?"
_DOMAIN = rf"{_LABEL}(?:\.{_LABEL})*"
_LITERAL = r"\[[\x21-\x5a\x5e-\x7e]+\]"
_MAILBOX = re.compile(rf"(?:{_DOT_ATOM}|{_QUOTED})@(?:{_DOMAIN}|{_LITERAL})")
# RFC 6531 3.3: with SMTPUTF8, atext, quoted text and domain labels may also
# hold any non-ASCII character (UTF8-non-ascii; U-labels in the domain).
_UTEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\U0010ffff-]"
_UDOT_ATOM = rf"{_UTEXT}+(?:\.{_UTEXT}+)*"
_UQUOTED = r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e\u0080-\U0010ffff]|\\[\x20-\x7e])*"'
_ULETTER = r"A-Za-z0-9_\u0080-\U0010ffff"
_ULABEL = rf"[{_ULETTER}](?:[{_ULETTER}-]*[{_ULETTER}])?"
_UDOMAIN = rf"{_ULABEL}(?:\.{_ULABEL})*"
_UTF8_MAILBOX = re.compile(rf"(?:{_UDOT_ATOM}|{_UQUOTED})@(?:{_UDOMAIN}|{_LITERAL})")
_SOURCE_ROUTE = re.compile(rf"@{_DOMAIN}(?:,@{_DOMAIN})*:")
_POSTMASTER = "postmaster"


class PathSyntaxError(ValueError):
    """A ``MAIL FROM`` or ``RCPT TO`` argument is not well formed."""


class AddressSyntaxError(PathSyntaxError):
    """The path is well framed but the address inside it is not an address."""


def parse_path(text: str, allow_null: bool = False, utf8: bool = False) -> tuple[str, str]:
    """Split ``<address> params`` into the address and the parameter text.

    Follows RFC 5321 4.1.2: ``<local@domain>``; a source route
    (``<@a,@b:local@domain>``) is accepted and dropped (appendix C);
    ``<>`` only if ``allow_null``; ``<postmaster>`` with no domain is an
    address (4.5.1). Also accepts a bare ``local@domain`` without brackets,
    which some clients send. With ``utf8`` the address may hold UTF-8
    (RFC 6531 3.3); lengths are counted in octets either way. Raises
    :class:`PathSyntaxError` for a badly framed path and
    :class:`AddressSyntaxError` for a bad address.
    """
    text = text.lstrip(" ")
    if text.startswith("<"):
        end = _closing_bracket(text)
        if end < 0:
            raise PathSyntaxError("missing '>'")
        inner = text[1:end]
        rest = text[end + 1 :]
        if rest and not rest.startswith(" "):
            raise PathSyntaxError("junk after '>'")
        if _octets(text[: end + 1]) > MAX_PATH_LENGTH:
            raise AddressSyntaxError("path longer than 256 octets")
    else:
        inner, _, rest = text.partition(" ")
        if not inner:
            raise PathSyntaxError("no address")
        rest = " " + rest if rest else ""
    params = rest.strip(" ")
    if inner == "":
        if allow_null:
            return "", params
        raise AddressSyntaxError("the null address <> is not a recipient")
    route = _SOURCE_ROUTE.match(inner)
    if route is not None:
        inner = inner[route.end() :]
    if inner.lower() == _POSTMASTER:
        return inner, params
    mailbox = _UTF8_MAILBOX if utf8 else _MAILBOX
    if _octets(inner) > MAX_PATH_LENGTH - 2 or mailbox.fullmatch(inner) is None:
        raise AddressSyntaxError(f"not an address: {inner[:80]!r}")
    local = inner.rpartition("@")[0]
    if _octets(local) > 64:
        raise AddressSyntaxError("local part longer than 64 octets")
    return inner, params


def _octets(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass")) if not text.isascii() else len(text)


def _closing_bracket(text: str) -> int:
    # A quoted local part may itself contain '>', so walk the quotes.
    quoted = False
    escaped = False
    for index in range(1, len(text)):
        char = text[index]
        if escaped:
            escaped = False
        elif quoted:
            if char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == ">":
            return index
    return -1


_PARAM_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")


def _parse_params(text: str) -> dict[str, str | None] | None:
    """``SIZE=100 BODY=8BITMIME`` -> ``{"SIZE": "100", "BODY": "8BITMIME"}``; None if malformed."""
    params: dict[str, str | None] = {}
    for item in text.split():
        key, eq, value = item.partition("=")
        if not key or _PARAM_KEY.fullmatch(key) is None:
            return None
        if eq and not value:
            return None
        params[key.upper()] = value if eq else None
    return params


# -- the session -----------------------------------------------------------------


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
    #: Unprocessed input (pipelined commands waiting their turn) past which
    #: the server stops reading from the client until it catches up.
    max_buffered: int = 64 * 1024
    #: Wall-clock time for the ``Received:`` date (tests pass a fixed one).
    wall_clock: Callable[[], float] = time.time


_HELP = "Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP"
_NOT_IMPLEMENTED = frozenset(
    {"EXPN", "SEND", "SOML", "SAML", "TURN", "ETRN", "ATRN", "BDAT", "STARTTLS", "AUTH"}
)
# A web browser or proxy tricked into talking to the SMTP port: hang up at
# once rather than answer each header line (RFC 5321 has no such verbs).
_FOREIGN = frozenset({"GET", "POST", "HEAD", "PUT", "CONNECT", "OPTIONS"})


class SMTPServerProtocol(CommandPipeline):
    """One SMTP session: the state machine of RFC 5321 in front of a backend.

    ``clock`` is anything with ``seconds`` and ``call_later`` (the reactor,
    or a test Clock), used for the time limits.
    """

    service = "smtp"

    def __init__(
        self,
        backend: DeliveryBackend,
        clock: Any,
        settings: SMTPSettings | None = None,
        message_ids: Callable[[], str] | None = None,
    ) -> None:
        self.backend = backend
        self.clock = clock
        self.settings = settings if settings is not None else SMTPSettings()
        self.codec = SMTPServerCodec(
            self.settings.max_line_length, self.settings.max_message_size
        )
        self._message_ids = message_ids or _counter_ids()
        self.helo: str | None = None
        self.esmtp = False
        self.mail_from: str | None = None
        #: The current transaction is SMTPUTF8 (RFC 6531).
        self.smtputf8 = False
        self.rcpt_to: list[str] = []
        self._rcpt_attempted = False
        self.errors = 0
        self.peer: Address | None = None
        self._init_pipeline()
        self._data_timer: Any = None

    # -- Protocol hooks ------------------------------------------------------------

    def connection_made(self) -> None:
        self.peer = self.transport.get_peer()
        log.debug("SMTP session from %s", self.peer)
        # RFC 2034 4: no enhanced status on the greeting.
        self._send(Reply(220, f"{self.settings.hostname} ESMTP Reality"))
        self._flush()
        self._start_pipeline()

    def connection_lost(self, reason: Failure) -> None:
        self._closing = True
        self._stop_timer()
        self._stop_data_timer()
        log.debug("SMTP session from %s ended: %s", self.peer, reason.get_error_message())

    # -- the command loop (CommandPipeline) --------------------------------------------

    def _reading_body(self) -> bool:
        # Message data: each read is activity (RFC 5321 4.5.3.2.5 times the
        # blocks, not the lines); the total is the data timer's.
        return self.codec.in_data

    def _handle(self, event: SMTPEvent) -> None:
        if not isinstance(event, (Command, LineTooLong, BadCommandLine)):
            self._stop_data_timer()  # the message data ended
        if isinstance(event, Command):
            self._command(event)
        elif isinstance(event, MessageReceived):
            self._message(event.data)
        elif isinstance(event, MessageTooLarge):
            audit("input.too_large", service="smtp", address=host_of(self.peer), what="message")
            self._reset_transaction()
            self._error(552, "5.3.4", "Message too big for this system")
        elif isinstance(event, MessageLineTooLong):
            audit("input.too_large", service="smtp", address=host_of(self.peer),
                  what="message line", limit=event.limit)
            self._reset_transaction()
            self._error(500, "5.5.2", f"Message has a line longer than {event.limit} bytes")
        elif isinstance(event, LineTooLong):
            audit("input.too_large", service="smtp", address=host_of(self.peer), what="line",
                  limit=event.limit)
            self._error(500, "5.5.2", f"Line too long (at most {event.limit})")
        else:  # BadCommandLine
            self._error(500, "5.5.2", "Syntax error: command line is not UTF-8")

    def _command(self, command: Command) -> None:
        verb = command.verb
        handler = self._HANDLERS.get(verb)
        if handler is not None:
            handler(self, command.argument)
        elif verb in _FOREIGN:
            self._close_with(Reply(421, "This is an SMTP server, not a web server", "4.7.0"))
        elif verb in _NOT_IMPLEMENTED:
            self._error(502, "5.5.1", f"{verb} not implemented")
        elif not verb:
            self._error(500, "5.5.2", "Syntax error: empty command")
        else:
            self._error(500, "5.5.2", "Syntax error, command unrecognized")
        if verb == "DATA" and self.codec.awaiting_data:
            # The handler did not start a message.
            self.codec.refuse_data()

    # -- commands --------------------------------------------------------------------

    def do_EHLO(self, argument: str) -> None:
        self._greet(argument, esmtp=True)

    def do_HELO(self, argument: str) -> None:
        self._greet(argument, esmtp=False)

    def _greet(self, argument: str, esmtp: bool) -> None:
        name = argument.strip(" ")
        if not name or " " in name:
            verb = "EHLO" if esmtp else "HELO"
            self._error(501, "5.5.4", f"Syntax: {verb} hostname")
            return
        self._reset_transaction()
        self.helo = name
        self.esmtp = esmtp
        host = self.settings.hostname
        if not esmtp:
            self._send(Reply(250, host))
            return
        self._send(
            Reply(
                250,
                (
                    host,
                    f"SIZE {self.settings.max_message_size}",
                    "8BITMIME",
                    "SMTPUTF8",
                    "PIPELINING",
                    "ENHANCEDSTATUSCODES",
                    "HELP",
                ),
            )
        )

    def do_MAIL(self, argument: str) -> None:
        if self.helo is None:
            self._error(503, "5.5.1", "Error: send HELO/EHLO first")
            return
        if self.mail_from is not None:
            self._error(503, "5.5.1", "Error: nested MAIL command")
            return
        if argument[:5].upper() != "FROM:":
            self._error(501, "5.5.4", "Syntax: MAIL FROM:<address>")
            return
        try:
            address, param_text = parse_path(argument[5:], allow_null=True, utf8=True)
        except AddressSyntaxError:
            self._error(501, "5.1.7", "Bad sender address syntax")
            return
        except PathSyntaxError:
            self._error(501, "5.5.4", "Syntax: MAIL FROM:<address>")
            return
        params = _parse_params(param_text)
        if params is None:
            self._error(501, "5.5.4", "Syntax error in parameters")
            return
        if params and not self.esmtp:
            self._error(555, "5.5.4", "Parameters need EHLO")
            return
        smtputf8 = False
        for key, value in params.items():
            if key == "SMTPUTF8":
                if value is not None:
                    self._error(501, "5.5.4", "Syntax: SMTPUTF8 takes no value")
                    return
                smtputf8 = True
            elif key == "SIZE":
                if value is None or not value.isdigit() or len(value) > 20:
                    self._error(501, "5.5.4", "Syntax: SIZE=<number>")
                    return
                if int(value) > self.settings.max_message_size:
                    # RFC 1870 6.1: a declared size over the fixed limit.
                    self._error(552, "5.3.4", "Message size exceeds fixed maximum message size")
                    return
            elif key == "BODY":
                if value is None or value.upper() not in ("7BIT", "8BITMIME"):
                    self._error(501, "5.5.4", "Syntax: BODY=7BIT or BODY=8BITMIME")
                    return
            else:
                self._error(555, "5.5.4", f"Unsupported parameter {key}")
                return
        if not smtputf8 and not address.isascii():
            # RFC 6531 3.5: a UTF-8 address needs the SMTPUTF8 parameter.
            self._error(553, "5.6.7", "Non-ASCII address without SMTPUTF8")
            return
        self.mail_from = address
        self.smtputf8 = smtputf8
        self.rcpt_to = []
        self._rcpt_attempted = False
        self._send(Reply(250, f"Sender <{address}> OK", "2.1.0"))

    def do_RCPT(self, argument: str) -> None:
        if self.mail_from is None:
            self._error(503, "5.5.1", "Error: need MAIL command")
            return
        if argument[:3].upper() != "TO:":
            self._error(501, "5.5.4", "Syntax: RCPT TO:<address>")
            return
        try:
            address, param_text = parse_path(argument[3:], utf8=True)
        except AddressSyntaxError:
            self._error(501, "5.1.3", "Bad recipient address syntax")
            return
        except PathSyntaxError:
            self._error(501, "5.5.4", "Syntax: RCPT TO:<address>")
            return
        if not self.smtputf8 and not address.isascii():
            # RFC 6531 3.5: a UTF-8 address needs an SMTPUTF8 transaction.
            self._error(553, "5.6.7", "Non-ASCII address without SMTPUTF8")
            return
        if param_text:
            self._error(555, "5.5.4", "RCPT TO parameters not supported")
            return
        self._rcpt_attempted = True
        if len(self.rcpt_to) >= self.settings.max_recipients:
            self._error(452, "4.5.3", "Error: too many recipients")
            return
        self._wait_for(
            maybe_deferred(self.backend.check_recipient, address),
            self._recipient_checked,
            self._recipient_check_failed,
            address,
        )

    def _recipient_checked(self, verdict: Any, address: str) -> None:
        if not isinstance(verdict, RecipientVerdict):
            log.error("check_recipient(%r) returned %r, not a RecipientVerdict", address, verdict)
            self._send(Reply(451, "Temporary failure checking recipient", "4.3.0"))
            return
        reply = Reply(verdict.code, f"<{address}>: {verdict.text}", verdict.status)
        if verdict.accepted:
            if address not in self.rcpt_to:
                self.rcpt_to.append(address)
            self._send(reply)
        else:
            if verdict.status == RELAY_DENIED.status:
                audit("smtp.relay_refused", who=self.mail_from, address=host_of(self.peer),
                      target=address)
            self._error_reply(reply)

    def _recipient_check_failed(self, failure: Failure, address: str) -> None:
        log.error(
            "check_recipient(%r) failed:\n%s", address, failure.get_traceback().rstrip()
        )
        self._send(Reply(451, "Temporary failure checking recipient, try again later", "4.3.0"))

    def do_DATA(self, argument: str) -> None:
        if argument.strip(" "):
            self._error(501, "5.5.4", "Syntax: DATA (no parameters)")
        elif self.mail_from is None:
            self._error(503, "5.5.1", "Error: need MAIL command")
        elif not self.rcpt_to:
            if self._rcpt_attempted:
                # RFC 2920 3.1 / RFC 5321 3.3: every recipient was refused.
                self._error(554, "5.5.1", "Error: no valid recipients")
            else:
                self._error(503, "5.5.1", "Error: need RCPT command")
        else:
            self.codec.begin_data()
            self._send(Reply(354, "End data with <CR><LF>.<CR><LF>"))
            if self.settings.data_timeout > 0:
                self._data_timer = self.clock.call_later(
                    self.settings.data_timeout, self._deadline, "data-deadline"
                )

    def _message(self, data: bytes) -> None:
        assert self.mail_from is not None
        message_id = self._message_ids()
        envelope = Envelope(
            mail_from=self.mail_from,
            rcpt_to=list(self.rcpt_to),
            data=self._received_header(message_id) + data,
            peer=self.peer,
            helo=self.helo or "",
            id=message_id,
            smtputf8=self.smtputf8,
        )
        # RFC 5321 4.1.1.4: the transaction is over whatever the outcome.
        self._reset_transaction()
        self._wait_for(
            maybe_deferred(self.backend.deliver, envelope),
            self._delivered,
            self._delivery_failed,
            envelope,
        )

    def _delivered(self, _result: Any, envelope: Envelope) -> None:
        log.info(
            "SMTP %s accepted message %s from <%s> for %d recipient(s), %d bytes",
            self.peer,
            envelope.id,
            envelope.mail_from,
            len(envelope.rcpt_to),
            len(envelope.data),
        )
        self._send(Reply(250, f"OK: queued as {envelope.id}", "2.0.0"))

    def _delivery_failed(self, failure: Failure, envelope: Envelope) -> None:
        error = failure.value
        if isinstance(error, DeliveryError):
            self._error_reply(Reply(error.code, error.text, error.status))
            return
        log.error(
            "delivery of message %s failed:\n%s", envelope.id, failure.get_traceback().rstrip()
        )
        self._send(Reply(451, "Temporary failure, message not accepted; try again later", "4.3.0"))

    def do_RSET(self, argument: str) -> None:
        if argument.strip(" "):
            self._error(501, "5.5.4", "Syntax: RSET (no parameters)")
            return
        self._reset_transaction()
        self._send(Reply(250, "OK", "2.0.0"))

    def do_NOOP(self, argument: str) -> None:
        # RFC 5321 4.1.1.9: a parameter is allowed and ignored.
        self._send(Reply(250, "OK", "2.0.0"))

    def do_QUIT(self, argument: str) -> None:
        if argument.strip(" "):
            self._error(501, "5.5.4", "Syntax: QUIT (no parameters)")
            return
        self._close_with(Reply(221, f"{self.settings.hostname} closing connection", "2.0.0"))

    def do_VRFY(self, argument: str) -> None:
        if not argument.strip(" "):
            self._error(501, "5.5.4", "Syntax: VRFY address")
            return
        # RFC 5321 3.5.3 / 7.3: do not confirm or deny who exists.
        self._send(
            Reply(252, "Cannot VRFY user, but will accept message and attempt delivery", "2.5.0")
        )

    def do_HELP(self, argument: str) -> None:
        self._send(Reply(214, _HELP, "2.0.0"))

    _HANDLERS: dict[str, Callable[[SMTPServerProtocol, str], None]] = {
        "EHLO": do_EHLO,
        "HELO": do_HELO,
        "MAIL": do_MAIL,
        "RCPT": do_RCPT,
        "DATA": do_DATA,
        "RSET": do_RSET,
        "NOOP": do_NOOP,
        "QUIT": do_QUIT,
        "VRFY": do_VRFY,
        "HELP": do_HELP,
    }

    # -- helpers ---------------------------------------------------------------------

    def _reset_transaction(self) -> None:
        self.smtputf8 = False
        self.mail_from = None
        self.rcpt_to = []
        self._rcpt_attempted = False

    def _received_header(self, message_id: str) -> bytes:
        """The RFC 5321 4.4 trace header, folded so that no line nears 998 octets."""
        helo = _CONTROL.sub("?", self.helo or "")[:255]
        # RFC 6531 3.7.3: the "with" protocol type of an SMTPUTF8 transaction.
        proto = "UTF8SMTP" if self.smtputf8 else "ESMTP" if self.esmtp else "SMTP"
        peer = self.peer
        if peer is None:
            tcp_info = ""
        elif ":" in peer.host:
            tcp_info = f" ([IPv6:{peer.host}])"
        else:
            tcp_info = f" ([{peer.host}])"
        when = datetime.fromtimestamp(self.settings.wall_clock(), UTC)
        lines = [
            f"Received: from {helo}{tcp_info}",
            f"\tby {self.settings.hostname} (Reality) with {proto} id {message_id}",
        ]
        if len(self.rcpt_to) == 1:
            # Naming the recipient only when there is one keeps a Bcc private.
            lines.append(f"\tfor <{self.rcpt_to[0]}>")
        lines[-1] += ";"
        lines.append(f"\t{email.utils.format_datetime(when)}")
        # Header fields are ASCII unless the transaction is SMTPUTF8 (then the
        # "for" address may be UTF-8); otherwise a stray byte becomes "?".
        encoding = "utf-8" if self.smtputf8 else "ascii"
        return ("\r\n".join(lines) + "\r\n").encode(encoding, "replace")

    def _send(self, reply: Reply) -> None:
        self._out.append(reply.to_bytes())

    def _error(self, code: int, status: str, text: str) -> None:
        self._error_reply(Reply(code, text, status))

    def _error_reply(self, reply: Reply) -> None:
        """Send a negative reply caused by the client; too many and we hang up."""
        self._send(reply)
        self.errors += 1
        if self.errors >= self.settings.max_errors:
            log.info("SMTP %s: too many errors, closing", self.peer)
            host = self.settings.hostname
            self._close_with(Reply(421, f"{host} Error: too many errors", "4.7.0"))

    def _close_with(self, reply: Reply) -> None:
        self._send(reply)
        self._flush()
        self._closing = True
        self._stop_timer()
        self._stop_data_timer()
        self.transport.lose_connection()

    def _stop_data_timer(self) -> None:
        timer, self._data_timer = self._data_timer, None
        if timer is not None and timer.active():
            timer.cancel()

    def _timeout_reply(self, reason: str) -> None:
        # RFC 5321 4.5.3.2 / RFC 3463 4.4.2: a timeout is 421 "bad connection".
        host = self.settings.hostname
        text = {
            "partial-command": f"{host} Error: command line not completed in time",
            "data-deadline": f"{host} Error: message data not completed in time",
            "session": f"{host} Error: session too long, closing",
        }.get(reason, f"{host} Error: timeout exceeded")
        self._close_with(Reply(421, text, "4.4.2"))


def _counter_ids() -> Callable[[], str]:
    numbers = count(1)
    return lambda: str(next(numbers))


class SMTPServerFactory(Factory):
    """Makes an :class:`SMTPServerProtocol` per connection, all sharing one backend.

    Message ids (in ``Received:`` and the final ``250``) are the start time
    in hex and a counter, unique within a process and across restarts.
    """

    def __init__(
        self, backend: DeliveryBackend, clock: Any, settings: SMTPSettings | None = None
    ) -> None:
        self.backend = backend
        self.clock = clock
        self.settings = settings if settings is not None else SMTPSettings()
        self._prefix = f"{int(self.settings.wall_clock()):X}"
        self._numbers = count(1)

    def next_message_id(self) -> str:
        """A new message id, e.g. ``6560A1B2.17``."""
        return f"{self._prefix}.{next(self._numbers)}"

    def build_protocol(self, addr: Address) -> SMTPServerProtocol:
        protocol = SMTPServerProtocol(
            self.backend, self.clock, self.settings, message_ids=self.next_message_id
        )
        protocol.factory = self
        return protocol
