"""The SMTP server session as a sans-IO state machine: bytes in, actions out.

Everything that decides what the server says lives here (as h11's
``_state.py``: "everything that affects the state machine must live
here"): the greeting, EHLO/HELO, the envelope (MAIL, RCPT), DATA and the
message, RSET, NOOP, VRFY, HELP, QUIT, the error replies and the limit on
negative replies. It follows RFC 5321 (commands, replies, reply order,
4.1.4 on which command resets what), RFC 1870 (SIZE), RFC 6152
(8BITMIME), RFC 2920 (PIPELINING), RFC 6531 (SMTPUTF8), RFC 3207
(STARTTLS) and RFC 2034 / RFC 3463 (enhanced status codes).

No transport, no timers, no Deferreds. Feed the client's bytes with
:meth:`SMTPSession.receive_data` and take the actions of one input at a
time from :meth:`SMTPSession.next_actions` (or everything at once with
:meth:`SMTPSession.receive`). The actions are:

- :class:`~.replies.Reply`: write it to the client;
- :class:`CheckRecipient`: ask the backend about an address, then give
  the answer to :meth:`SMTPSession.recipient_checked` (or
  :meth:`SMTPSession.recipient_check_failed`);
- :class:`Deliver`: store the message, then call
  :meth:`SMTPSession.delivered` (or :meth:`SMTPSession.delivery_failed`);
- :class:`~reality.net.protocols.starttls.StartTLS`: write the replies
  before it in the clear, then start TLS on the connection (the session
  has already forgotten the client's EHLO; see :meth:`SMTPSession.do_STARTTLS`);
- :class:`~reality.net.protocols.basic.Close`: hang up once the replies
  before it are written.

While a request is outstanding the session takes no further input, so
replies to pipelined commands can never come out of order (Twisted SMTP
#8126). The time limits are the adapter's (:mod:`.server`); when one runs
out it asks :meth:`SMTPSession.timed_out` for the words.
"""

from __future__ import annotations

import email.utils
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import count

from attrs import frozen

from reality.audit import audit, host_of
from reality.net.protocol import Address
from reality.net.protocols.basic import (
    CLOSE,
    BadCommandLine,
    Close,
    Command,
    CommandSession,
    LineTooLong,
)
from reality.net.protocols.smtp.backend import (
    RELAY_DENIED,
    DeliveryError,
    Envelope,
    RecipientVerdict,
)
from reality.net.protocols.smtp.codec import (
    MessageLineTooLong,
    MessageReceived,
    MessageTooLarge,
    SMTPEvent,
    SMTPServerCodec,
)
from reality.net.protocols.smtp.paths import (
    AddressSyntaxError,
    PathSyntaxError,
    parse_params,
    parse_path,
)
from reality.net.protocols.smtp.replies import Reply, clean_text
from reality.net.protocols.smtp.settings import SMTPSettings
from reality.net.protocols.starttls import START_TLS, StartTLS

__all__ = ["CheckRecipient", "Deliver", "SMTPAction", "SMTPSession"]

log = logging.getLogger(__name__)


@frozen
class CheckRecipient:
    """Ask the backend whether ``address`` may receive mail here."""

    address: str


@frozen
class Deliver:
    """Store ``envelope`` durably; the ``250`` waits for the answer."""

    envelope: Envelope


SMTPAction = Reply | CheckRecipient | Deliver | StartTLS | Close

_HELP = "Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP"
_NOT_IMPLEMENTED = frozenset(
    {"EXPN", "SEND", "SOML", "SAML", "TURN", "ETRN", "ATRN", "BDAT", "AUTH"}
)
# A web browser or proxy tricked into talking to the SMTP port: hang up at
# once rather than answer each header line (RFC 5321 has no such verbs).
_FOREIGN = frozenset({"GET", "POST", "HEAD", "PUT", "CONNECT", "OPTIONS"})
_OK = Reply(250, "OK", "2.0.0")

# What the session waits for.
_NOTHING = 0
_RECIPIENT = 1
_DELIVERY = 2


def _counter_ids() -> Callable[[], str]:
    numbers = count(1)
    return lambda: str(next(numbers))


class SMTPSession(CommandSession[SMTPAction]):
    """One SMTP session's state machine (see the module docstring).

    ``message_ids`` names each accepted message (in ``Received:`` and the
    final ``250``); ``peer`` is the client's address, for the trace header
    and the logs.
    """

    codec: SMTPServerCodec

    __slots__ = (
        "settings",
        "peer",
        "helo",
        "esmtp",
        "mail_from",
        "smtputf8",
        "rcpt_to",
        "errors",
        "closed",
        "starttls",
        "tls",
        "_message_ids",
        "_rcpt_attempted",
        "_waiting",
        "_address",
        "_envelope",
    )

    def __init__(
        self,
        settings: SMTPSettings | None = None,
        message_ids: Callable[[], str] | None = None,
        peer: Address | None = None,
    ) -> None:
        self.settings = settings if settings is not None else SMTPSettings()
        self.codec = SMTPServerCodec(self.settings.max_line_length, self.settings.max_message_size)
        self.peer = peer
        self._message_ids = message_ids or _counter_ids()
        #: The name from EHLO/HELO (None before either).
        self.helo: str | None = None
        self.esmtp = False
        #: The reverse-path of the open transaction (None: no MAIL yet).
        self.mail_from: str | None = None
        #: The current transaction is SMTPUTF8 (RFC 6531).
        self.smtputf8 = False
        self.rcpt_to: list[str] = []
        #: Negative replies caused by the client so far.
        self.errors = 0
        #: A Close was given: the session takes no more input.
        self.closed = False
        #: STARTTLS may be offered: the settings say so and the adapter
        #: found a transport that can upgrade (it may turn this off).
        self.starttls = self.settings.starttls
        #: The connection is encrypted (after STARTTLS, or TLS from the start).
        self.tls = False
        self._rcpt_attempted = False
        self._waiting = _NOTHING
        self._address = ""
        self._envelope: Envelope | None = None
        self._out: list[SMTPAction] = []

    # -- input ----------------------------------------------------------------------

    @property
    def in_data(self) -> bool:
        """True while message data is being read (from the 354 to the final ".")."""
        return self.codec.in_data

    @property
    def waiting(self) -> bool:
        """True while a :class:`CheckRecipient` or :class:`Deliver` awaits its answer."""
        return self._waiting != _NOTHING

    def greeting(self) -> list[SMTPAction]:
        """What the server says first (RFC 5321 4.3.1; RFC 2034 4: no enhanced status)."""
        return [Reply(220, f"{self.settings.hostname} ESMTP Reality")]

    def _blocked(self) -> bool:
        return bool(self._waiting) or self.closed

    # -- answers to requests ----------------------------------------------------------

    def recipient_checked(self, verdict: object) -> list[SMTPAction]:
        """The backend's answer to the :class:`CheckRecipient` outstanding."""
        address = self._answered(_RECIPIENT)
        if not isinstance(verdict, RecipientVerdict):
            log.error("check_recipient(%r) returned %r, not a RecipientVerdict", address, verdict)
            self._send(Reply(451, "Temporary failure checking recipient", "4.3.0"))
            return self._out
        try:
            accepted = verdict.accepted
        except Exception:
            # A verdict we cannot read (a code that is not a number): a
            # temporary failure for the client, never a stalled session.
            log.exception("check_recipient(%r) returned an unusable %r", address, verdict)
            return self.recipient_check_failed(_answered=True)
        reply = Reply(verdict.code, f"<{address}>: {verdict.text}", verdict.status)
        if accepted:
            if address not in self.rcpt_to:
                self.rcpt_to.append(address)
            self._send(reply)
        else:
            if verdict.status == RELAY_DENIED.status:
                audit("smtp.relay_refused", who=self.mail_from, address=host_of(self.peer),
                      target=address)
            self._error_reply(reply)
        return self._out

    def recipient_check_failed(self, _answered: bool = False) -> list[SMTPAction]:
        """The :class:`CheckRecipient` outstanding failed (the caller logs why)."""
        if not _answered:
            self._answered(_RECIPIENT)
        self._send(Reply(451, "Temporary failure checking recipient, try again later", "4.3.0"))
        return self._out

    def delivered(self) -> list[SMTPAction]:
        """The :class:`Deliver` outstanding is committed: the ``250``."""
        self._answered(_DELIVERY)
        envelope = self._envelope
        assert envelope is not None
        self._envelope = None
        log.info(
            "SMTP %s accepted message %s from <%s> for %d recipient(s), %d bytes",
            self.peer,
            envelope.id,
            envelope.mail_from,
            len(envelope.rcpt_to),
            len(envelope.data),
        )
        self._send(Reply(250, f"OK: queued as {envelope.id}", "2.0.0"))
        return self._out

    def delivery_failed(self, error: BaseException) -> list[SMTPAction]:
        """The :class:`Deliver` outstanding failed with ``error``.

        A :class:`~.backend.DeliveryError` gives its own reply (and counts as
        the client's error); anything else a temporary ``451`` (the caller
        logs it).
        """
        self._answered(_DELIVERY)
        self._envelope = None
        if isinstance(error, DeliveryError):
            self._error_reply(Reply(error.code, error.text, error.status))
        else:
            self._send(
                Reply(451, "Temporary failure, message not accepted; try again later", "4.3.0")
            )
        return self._out

    def timed_out(self, reason: str) -> list[SMTPAction]:
        """A time limit of the adapter ran out (``reason``): the goodbye.

        RFC 5321 4.5.3.2 / RFC 3463 4.4.2: a timeout is 421 "bad connection".
        """
        self._out = []
        host = self.settings.hostname
        text = {
            "partial-command": f"{host} Error: command line not completed in time",
            "data-deadline": f"{host} Error: message data not completed in time",
            "session": f"{host} Error: session too long, closing",
        }.get(reason, f"{host} Error: timeout exceeded")
        self._close_with(Reply(421, text, "4.4.2"))
        return self._out

    def _answered(self, what: int) -> str:
        if self._waiting != what:
            raise RuntimeError("no such request is outstanding")
        self._waiting = _NOTHING
        self._out = []
        return self._address

    # -- the state machine ------------------------------------------------------------

    def _handle(self, event: SMTPEvent) -> None:
        kind = type(event)
        if kind is Command:
            assert isinstance(event, Command)
            self._command(event)
        elif kind is MessageReceived:
            assert isinstance(event, MessageReceived)
            self._message(event.data)
        elif kind is MessageTooLarge:
            audit("input.too_large", service="smtp", address=host_of(self.peer), what="message")
            self._reset_transaction()
            self._error(552, "5.3.4", "Message too big for this system")
        elif kind is MessageLineTooLong:
            assert isinstance(event, MessageLineTooLong)
            audit("input.too_large", service="smtp", address=host_of(self.peer),
                  what="message line", limit=event.limit)
            self._reset_transaction()
            self._error(500, "5.5.2", f"Message has a line longer than {event.limit} bytes")
        elif kind is LineTooLong:
            assert isinstance(event, LineTooLong)
            audit("input.too_large", service="smtp", address=host_of(self.peer), what="line",
                  limit=event.limit)
            self._error(500, "5.5.2", f"Line too long (at most {event.limit})")
        else:
            assert isinstance(event, BadCommandLine)
            self._error(500, "5.5.2", "Syntax error: command line is not UTF-8")

    def _command(self, command: Command) -> None:
        verb = command.verb
        handler = _HANDLERS.get(verb)
        if handler is not None:
            handler(self, command.argument)
        elif verb in _FOREIGN:
            audit("input.malformed", service="smtp", address=host_of(self.peer),
                  reason=f"{verb} command (another protocol)")
            self._close_with(Reply(421, "This is an SMTP server, not a web server", "4.7.0"))
        elif verb in _NOT_IMPLEMENTED:
            self._error(502, "5.5.1", f"{verb} not implemented")
        elif not verb:
            self._error(500, "5.5.2", "Syntax error: empty command")
        else:
            self._error(500, "5.5.2", "Syntax error, command unrecognized")
        if verb == "DATA" and self.codec.awaiting_data:
            # The handler did not start a message: what follows is commands.
            self.codec.refuse_data()

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
        # RFC 5321 4.1.4: a second EHLO/HELO is like RSET.
        self._reset_transaction()
        self.helo = name
        self.esmtp = esmtp
        host = self.settings.hostname
        if not esmtp:
            self._send(Reply(250, host))
            return
        extensions = [
            host,
            f"SIZE {self.settings.max_message_size}",
            "8BITMIME",
            "SMTPUTF8",
            "PIPELINING",
            "ENHANCEDSTATUSCODES",
        ]
        if self.starttls and not self.tls:
            # RFC 3207 4.2: not offered again once TLS is on.
            extensions.append("STARTTLS")
        extensions.append("HELP")
        self._send(Reply(250, tuple(extensions)))

    def do_STARTTLS(self, argument: str) -> None:
        """RFC 3207: upgrade the connection, refusing plaintext pipelined after the command.

        Bytes already received after the command line would be read as if
        they came over TLS (the STARTTLS injection flaw): the session
        answers ``554`` and hangs up instead, as Postfix does. Otherwise
        ``220`` and :data:`START_TLS`, and the session forgets everything
        the client said before (RFC 3207 4.2): the client must EHLO again.
        """
        if argument.strip(" "):
            self._error(501, "5.5.4", "Syntax: STARTTLS (no parameters)")
            return
        if self.tls:
            self._error(503, "5.5.1", "Error: TLS already active")
            return
        if not self.starttls:
            # RFC 3207 4: 454 "TLS not available due to temporary reason".
            self._error(454, "4.7.0", "TLS not available")
            return
        if self.codec.buffered:
            log.warning("SMTP %s: plaintext pipelined after STARTTLS, closing", self.peer)
            audit("tls.injection", service="smtp", address=host_of(self.peer),
                  size=self.codec.buffered)
            self._close_with(
                Reply(554, "Error: data after STARTTLS before the TLS handshake; goodbye",
                      "5.5.1")
            )
            return
        self._send(Reply(220, "Ready to start TLS", "2.0.0"))
        self._out.append(START_TLS)
        self.tls = True
        self._reset_transaction()
        self.helo = None
        self.esmtp = False

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
        params = parse_params(param_text)
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
        self._waiting = _RECIPIENT
        self._address = address
        self._out.append(CheckRecipient(address))

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
        self._waiting = _DELIVERY
        self._envelope = envelope
        self._out.append(Deliver(envelope))

    def do_RSET(self, argument: str) -> None:
        if argument.strip(" "):
            self._error(501, "5.5.4", "Syntax: RSET (no parameters)")
            return
        self._reset_transaction()
        self._send(_OK)

    def do_NOOP(self, argument: str) -> None:
        # RFC 5321 4.1.1.9: a parameter is allowed and ignored.
        self._send(_OK)

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
        offered = self.starttls and not self.tls
        self._send(Reply(214, _HELP + " STARTTLS" if offered else _HELP, "2.0.0"))

    # -- helpers ---------------------------------------------------------------------

    def _reset_transaction(self) -> None:
        self.smtputf8 = False
        self.mail_from = None
        self.rcpt_to = []
        self._rcpt_attempted = False

    def _received_header(self, message_id: str) -> bytes:
        """The RFC 5321 4.4 trace header, folded so that no line nears 998 octets."""
        helo = clean_text(self.helo or "")[:255]
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
        self._out.append(reply)

    def _error(self, code: int, status: str, text: str) -> None:
        self._error_reply(Reply(code, text, status))

    def _error_reply(self, reply: Reply) -> None:
        """Send a negative reply caused by the client; too many and we hang up."""
        self._send(reply)
        self.errors += 1
        if self.errors >= self.settings.max_errors:
            log.info("SMTP %s: too many errors, closing", self.peer)
            audit("input.malformed", service="smtp", address=host_of(self.peer),
                  reason="too many errors")
            host = self.settings.hostname
            self._close_with(Reply(421, f"{host} Error: too many errors", "4.7.0"))

    def _close_with(self, reply: Reply) -> None:
        self._send(reply)
        self._out.append(CLOSE)
        self.closed = True


_HANDLERS: dict[str, Callable[[SMTPSession, str], None]] = {
    "EHLO": SMTPSession.do_EHLO,
    "HELO": SMTPSession.do_HELO,
    "MAIL": SMTPSession.do_MAIL,
    "RCPT": SMTPSession.do_RCPT,
    "DATA": SMTPSession.do_DATA,
    "RSET": SMTPSession.do_RSET,
    "NOOP": SMTPSession.do_NOOP,
    "QUIT": SMTPSession.do_QUIT,
    "VRFY": SMTPSession.do_VRFY,
    "HELP": SMTPSession.do_HELP,
    "STARTTLS": SMTPSession.do_STARTTLS,
}
