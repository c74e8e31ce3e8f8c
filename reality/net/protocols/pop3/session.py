"""The POP3 server session as a sans-IO state machine: bytes in, actions out.

The whole of RFC 1939 lives here: the AUTHORIZATION state (USER, PASS,
QUIT), the TRANSACTION state (STAT, LIST, UIDL, RETR, TOP, DELE, RSET,
NOOP, QUIT), the UPDATE state entered by QUIT, which commands each state
allows, the responses byte for byte, and the limit on negative responses;
RFC 2449 CAPA and response codes, RFC 3206 ``[AUTH]`` / ``[SYS/TEMP]``,
RFC 2595 STLS.

With TLS configured (``settings.tls``) a password is accepted only over
TLS (after STLS, or on the POP3S port), or from an address in
``settings.plaintext_auth_from``: elsewhere USER and PASS answer
``-ERR [AUTH] Plaintext authentication disallowed...`` (Dovecot's words
and code) and CAPA lists STLS but not USER (RFC 2595 4's advice).

No transport, no timers, no Deferreds, and no mailbox object either: feed
the client's bytes with :meth:`POP3Session.receive_data` and take the
actions of one command at a time from :meth:`POP3Session.next_actions`
(or all at once with :meth:`POP3Session.receive`). The actions are:

- ``bytes``: a response, to write as it is;
- :class:`Authenticate`: check the credentials and lock the mailbox; give
  its listing to :meth:`POP3Session.logged_in`, or the refusal to
  :meth:`POP3Session.login_failed`;
- :class:`ReadMessage`: read a message; give it to
  :meth:`POP3Session.message_read` (or call
  :meth:`POP3Session.message_read_failed`);
- :class:`MarkRetrieved`: the person has the whole message now (RETR);
- :class:`CommitDeletions`: delete in one transaction (QUIT); then
  :meth:`POP3Session.deletions_committed` or
  :meth:`POP3Session.deletions_failed`;
- :class:`Release`: the mailbox is no use to the session: unlock it;
- :class:`~reality.net.protocols.starttls.StartTLS`: write the responses
  before it in the clear, then start TLS (after ``+OK`` to STLS; the
  session has already forgotten any USER);
- :class:`~reality.net.protocols.basic.Close`: hang up once the responses
  before it are written. Whatever mailbox is held is released with the
  session, unless deletions are being committed (:attr:`POP3Session.committing`).

While a request is outstanding no further command is taken, so pipelined
commands are answered in order.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable

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
from reality.net.protocols.pop3.backend import POP3AuthError
from reality.net.protocols.pop3.codec import (
    POP3Event,
    POP3ServerCodec,
    err,
    multi_line,
    ok,
    stuff_message,
    top_of_message,
)
from reality.net.protocols.pop3.settings import POP3Settings
from reality.net.protocols.starttls import START_TLS, StartTLS, address_in

__all__ = [
    "AUTHORIZATION",
    "DONE",
    "TRANSACTION",
    "UPDATE",
    "Authenticate",
    "CommitDeletions",
    "MarkRetrieved",
    "POP3Action",
    "POP3Session",
    "ReadMessage",
    "Release",
]

log = logging.getLogger(__name__)

AUTHORIZATION = "AUTHORIZATION"
TRANSACTION = "TRANSACTION"
UPDATE = "UPDATE"
DONE = "DONE"


@frozen
class Authenticate:
    """Check ``user`` / ``password`` and lock that mailbox for the session."""

    user: str
    password: str


@frozen
class ReadMessage:
    """Read the message at ``index`` (0-based)."""

    index: int


@frozen
class MarkRetrieved:
    """RETR sent the message at ``index`` whole (for mailboxes that keep a "read" mark)."""

    index: int


@frozen
class CommitDeletions:
    """Delete the messages at ``indices`` (0-based, ascending) in one transaction."""

    indices: tuple[int, ...]


@frozen
class Release:
    """Unlock the mailbox: the session will not use it."""


POP3Action = (
    bytes | Authenticate | ReadMessage | MarkRetrieved | CommitDeletions | Release | StartTLS
    | Close
)

_PLAINTEXT_REFUSED = (
    "Plaintext authentication disallowed on non-secure connections: use STLS or POP3S"
)
_UID = re.compile(r"[\x21-\x7e]{1,70}")

# What the session waits for.
_NOTHING = 0
_LOGIN = 1
_READ = 2
_COMMIT = 3


def _number(text: str) -> int | None:
    """A decimal argument of at most 10 ASCII digits, or None."""
    if not text.isdigit() or not text.isascii() or len(text) > 10:
        return None
    return int(text)


class POP3Session(CommandSession[POP3Action]):
    """One POP3 session's state machine (see the module docstring).

    ``peer`` is the client's address, for the logs.
    """

    codec: POP3ServerCodec

    __slots__ = (
        "settings",
        "peer",
        "state",
        "user",
        "listing",
        "deleted",
        "errors",
        "stls",
        "tls",
        "_waiting",
        "_read",
        "_login",
    )

    def __init__(self, settings: POP3Settings | None = None, peer: Address | None = None) -> None:
        self.settings = settings if settings is not None else POP3Settings()
        self.codec = POP3ServerCodec(self.settings.max_line_length)
        self.peer = peer
        #: AUTHORIZATION, TRANSACTION, UPDATE (QUIT, deletions committing) or DONE.
        self.state = AUTHORIZATION
        #: The name from USER, until PASS.
        self.user: str | None = None
        #: ``(uid, size)`` per message, fixed at login.
        self.listing: list[tuple[str, int]] = []
        #: 0-based indices marked by DELE.
        self.deleted: set[int] = set()
        #: Negative responses caused by the client so far.
        self.errors = 0
        #: STLS may be offered: TLS is configured and the adapter found a
        #: transport that can upgrade (it may turn this off).
        self.stls = self.settings.tls
        #: The connection is encrypted (after STLS, or POP3S from the start).
        self.tls = False
        self._waiting = _NOTHING
        # The message being read: (index, "RETR" or the TOP line count).
        self._read: tuple[int, int | None] = (0, None)
        self._login = ""  # the user of the PASS being checked
        self._out: list[POP3Action] = []

    # -- input ----------------------------------------------------------------------

    @property
    def waiting(self) -> bool:
        """True while a request awaits its answer."""
        return self._waiting != _NOTHING

    @property
    def committing(self) -> bool:
        """True while the deletions of QUIT are being committed (the mailbox must stay)."""
        return self._waiting == _COMMIT

    @property
    def closed(self) -> bool:
        """True once the session said goodbye (a Close was given)."""
        return self.state == DONE

    @property
    def password_allowed(self) -> bool:
        """May a password be sent here: TLS is on, not configured, or the peer is trusted."""
        if self.tls or not self.settings.tls:
            return True
        host = self.peer.host if self.peer is not None else None
        return address_in(host, self.settings.plaintext_auth_from)

    def greeting(self) -> list[POP3Action]:
        """What the server says first (RFC 1939 4)."""
        return [ok(f"{self.settings.hostname} POP3 server ready")]

    def _blocked(self) -> bool:
        return bool(self._waiting) or self.state == DONE

    # -- answers to requests ----------------------------------------------------------

    def logged_in(self, listing: Iterable[tuple[object, object]] | None) -> list[POP3Action]:
        """The :class:`Authenticate` outstanding gave a mailbox with this listing.

        ``None``: the mailbox could not be listed (the caller logs why).
        """
        self._answered(_LOGIN)
        checked: list[tuple[str, int]] | None = None
        if listing is not None:
            try:
                checked = [(str(uid), int(size)) for uid, size in listing]  # type: ignore[call-overload]
                for uid, size in checked:
                    if not _UID.fullmatch(uid) or size < 0:
                        raise ValueError(f"bad listing entry {(uid, size)!r}")
            except Exception:
                log.exception("POP3 mailbox of %r could not be listed", self._login)
                checked = None
        if checked is None:
            self._out.append(Release())
            self._out.append(err("Mailbox cannot be read, try again later", "SYS/TEMP"))
            return self._out
        self.listing = checked
        self.deleted = set()
        self.state = TRANSACTION
        log.info("POP3 %s logged in as %r (%d messages)", self.peer, self._login, len(checked))
        count, octets = self._totals()
        self._out.append(ok(f"Logged in, {count} messages ({octets} octets)"))
        return self._out

    def login_failed(self, error: BaseException) -> list[POP3Action]:
        """The :class:`Authenticate` outstanding was refused (or failed) with ``error``.

        A :class:`~.backend.POP3AuthError` is the client's error, with its
        response code; anything else ``-ERR [SYS/TEMP]`` (the caller logs it).
        """
        self._answered(_LOGIN)
        if isinstance(error, POP3AuthError):
            log.info("POP3 %s login as %r refused: %s", self.peer, self._login, error.text)
            self._error(error.text, error.response_code)
        else:
            self._out.append(err("Temporary failure, try again later", "SYS/TEMP"))
        return self._out

    def message_read(self, data: object) -> list[POP3Action]:
        """The :class:`ReadMessage` outstanding gave ``data`` (the message's bytes)."""
        index, top = self._read
        if not isinstance(data, (bytes, bytearray, memoryview)):
            log.error("POP3 Mailbox.message(%d) returned %s", index, type(data).__name__)
            return self.message_read_failed()
        self._answered(_READ)
        message = bytes(data)
        if top is None:
            size = self.listing[index][1]
            self._out.append(ok(f"{size} octets") + stuff_message(message))
            # RETR (not TOP) means the person has the whole letter now.
            self._out.append(MarkRetrieved(index))
        else:
            self._out.append(
                ok("Top of message follows") + stuff_message(top_of_message(message, top))
            )
        return self._out

    def message_read_failed(self) -> list[POP3Action]:
        """The :class:`ReadMessage` outstanding failed (the caller logs why)."""
        self._answered(_READ)
        index = self._read[0]
        self._out.append(err(f"Cannot read message {index + 1}, try again later", "SYS/TEMP"))
        return self._out

    def deletions_committed(self) -> list[POP3Action]:
        """The :class:`CommitDeletions` of QUIT is done: goodbye."""
        self._answered(_COMMIT)
        remaining = len(self.listing) - len(self.deleted)
        self._close_with(ok(f"{self.settings.hostname} signing off ({remaining} messages left)"))
        return self._out

    def deletions_failed(self) -> list[POP3Action]:
        """The :class:`CommitDeletions` of QUIT failed (the caller logs why): goodbye anyway."""
        self._answered(_COMMIT)
        self._close_with(err("Some deleted messages not removed", "SYS/TEMP"))
        return self._out

    def timed_out(self, reason: str) -> list[POP3Action]:
        """A time limit of the adapter ran out (``reason``): the goodbye.

        RFC 1939 3: an autologout does not enter UPDATE; nothing is deleted.
        """
        self._out = []
        text = {
            "partial-command": "Autologout: command line not completed in time",
            "session": "Autologout: session too long",
        }.get(reason, "Autologout: idle for too long")
        self._close_with(err(text))
        return self._out

    def _answered(self, what: int) -> None:
        if self._waiting != what:
            raise RuntimeError("no such request is outstanding")
        self._waiting = _NOTHING
        self._out = []

    # -- the state machine ------------------------------------------------------------

    def _handle(self, event: POP3Event) -> None:
        if type(event) is LineTooLong:
            audit("input.too_large", service="pop3", address=host_of(self.peer), what="line",
                  limit=event.limit)
            self._error(f"Line too long (at most {event.limit} octets)")
            return
        if type(event) is BadCommandLine:
            self._error("Command line is not valid UTF-8")
            return
        assert isinstance(event, Command)
        handlers = _AUTHORIZATION_HANDLERS if self.state == AUTHORIZATION else _TRANSACTION_HANDLERS
        handler = handlers.get(event.verb)
        if handler is not None:
            handler(self, event.argument)
        elif event.verb in _ALL_VERBS:
            self._error("Command not valid in this state")
        else:
            self._error("Unknown command")

    # -- AUTHORIZATION -------------------------------------------------------------

    def _refuse_plaintext(self) -> bool:
        """Refuse a password over a plain connection (RFC 3206 [AUTH]); True if refused."""
        if self.password_allowed:
            return False
        audit("tls.plaintext_login", service="pop3", address=host_of(self.peer))
        self._error(_PLAINTEXT_REFUSED, "AUTH")
        return True

    def do_USER(self, argument: str) -> None:
        if self._refuse_plaintext():
            return
        name = argument.strip(" ")
        if not name:
            self._error("Syntax: USER name")
            return
        self.user = name
        # The same answer for every name: existence is not revealed here.
        self._out.append(ok("Send PASS"))

    def do_PASS(self, argument: str) -> None:
        if self._refuse_plaintext():
            return
        if self.user is None:
            self._error("Send USER first")
            return
        if not argument:
            self._error("Syntax: PASS password")
            return
        user = self._login = self.user
        # RFC 1939 7: after PASS, right or wrong, a new attempt starts at USER.
        self.user = None
        # RFC 1939 allows spaces in the password: it is the whole rest of the line.
        self._waiting = _LOGIN
        self._out.append(Authenticate(user, argument))

    def do_QUIT(self, argument: str) -> None:
        if self.state == AUTHORIZATION:
            self._close_with(ok(f"{self.settings.hostname} POP3 server signing off"))
            return
        self.state = UPDATE
        if not self.deleted:
            remaining = len(self.listing)
            self._close_with(
                ok(f"{self.settings.hostname} signing off ({remaining} messages left)")
            )
            return
        self._waiting = _COMMIT
        self._out.append(CommitDeletions(tuple(sorted(self.deleted))))

    def do_CAPA(self, argument: str) -> None:
        capabilities = ["TOP"]
        if self.state != AUTHORIZATION or self.password_allowed:
            capabilities.append("USER")
        capabilities += ["UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"]
        if self.state == AUTHORIZATION and self.stls and not self.tls:
            capabilities.append("STLS")
        capabilities.append("IMPLEMENTATION Reality")
        self._out.append(multi_line("Capability list follows", capabilities))

    def do_STLS(self, argument: str) -> None:
        """RFC 2595 4: upgrade the connection, refusing plaintext pipelined after the command.

        Bytes already received after ``STLS`` would be read as if they came
        over TLS (the STARTTLS injection flaw): the session says ``-ERR``
        and hangs up. Otherwise ``+OK`` and :data:`START_TLS`, and the
        session forgets the USER it was told in the clear.
        """
        if self.tls:
            self._error("Command not permitted when TLS active")
            return
        if not self.stls:
            self._error("TLS not available")
            return
        if self.codec.buffered:
            log.warning("POP3 %s: plaintext pipelined after STLS, closing", self.peer)
            audit("tls.injection", service="pop3", address=host_of(self.peer),
                  size=self.codec.buffered)
            self._close_with(err("Commands sent after STLS before the TLS handshake; goodbye"))
            return
        self._out.append(ok("Begin TLS negotiation"))
        self._out.append(START_TLS)
        self.tls = True
        self.user = None

    # -- TRANSACTION -------------------------------------------------------------------

    def _totals(self) -> tuple[int, int]:
        count = 0
        octets = 0
        for index, (_uid, size) in enumerate(self.listing):
            if index not in self.deleted:
                count += 1
                octets += size
        return count, octets

    def _message_index(self, text: str) -> int | None:
        """The 0-based index of a live message named by ``text``; None (and -ERR) if none."""
        number = _number(text)
        if number is None:
            self._error("Invalid message number")
        elif not 1 <= number <= len(self.listing):
            self._error("No such message")
        elif number - 1 in self.deleted:
            self._error(f"Message {number} already deleted")
        else:
            return number - 1
        return None

    def do_STAT(self, argument: str) -> None:
        count, octets = self._totals()
        self._out.append(ok(f"{count} {octets}"))

    def do_LIST(self, argument: str) -> None:
        self._scan_listing(argument, "LIST", lambda index: str(self.listing[index][1]))

    def do_UIDL(self, argument: str) -> None:
        self._scan_listing(argument, "UIDL", lambda index: self.listing[index][0])

    def _scan_listing(self, argument: str, verb: str, column: Callable[[int], str]) -> None:
        args = argument.split()
        if len(args) > 1:
            self._error(f"Syntax: {verb} [message]")
            return
        if args:
            index = self._message_index(args[0])
            if index is not None:
                self._out.append(ok(f"{index + 1} {column(index)}"))
            return
        lines = [
            f"{index + 1} {column(index)}"
            for index in range(len(self.listing))
            if index not in self.deleted
        ]
        count, octets = self._totals()
        first = f"{count} messages ({octets} octets)" if verb == "LIST" else "Unique-ID listing"
        self._out.append(multi_line(first, lines))

    def do_RETR(self, argument: str) -> None:
        args = argument.split()
        if len(args) != 1:
            self._error("Syntax: RETR message")
            return
        index = self._message_index(args[0])
        if index is not None:
            self._fetch(index, None)

    def do_TOP(self, argument: str) -> None:
        args = argument.split()
        if len(args) != 2:
            self._error("Syntax: TOP message lines")
            return
        index = self._message_index(args[0])
        if index is None:
            return
        count = _number(args[1])
        if count is None:
            self._error("Invalid number of lines")
            return
        self._fetch(index, count)

    def _fetch(self, index: int, top: int | None) -> None:
        self._waiting = _READ
        self._read = (index, top)
        self._out.append(ReadMessage(index))

    def do_DELE(self, argument: str) -> None:
        args = argument.split()
        if len(args) != 1:
            self._error("Syntax: DELE message")
            return
        index = self._message_index(args[0])
        if index is None:
            return
        self.deleted.add(index)
        self._out.append(ok(f"Message {index + 1} deleted"))

    def do_RSET(self, argument: str) -> None:
        self.deleted.clear()
        count, octets = self._totals()
        self._out.append(ok(f"Maildrop has {count} messages ({octets} octets)"))

    def do_NOOP(self, argument: str) -> None:
        self._out.append(ok())

    # -- helpers ---------------------------------------------------------------------

    def _error(self, text: str, code: str | None = None) -> None:
        """A negative response caused by the client; too many and we hang up."""
        self._out.append(err(text, code))
        self.errors += 1
        if self.errors >= self.settings.max_errors:
            log.info("POP3 %s: too many errors, closing", self.peer)
            audit("input.malformed", service="pop3", address=host_of(self.peer),
                  reason="too many errors")
            self._close_with(err("Too many errors, closing connection"))

    def _close_with(self, response: bytes) -> None:
        if self.state == DONE:
            return
        self.state = DONE
        self._out.append(response)
        self._out.append(CLOSE)


_AUTHORIZATION_HANDLERS: dict[str, Callable[[POP3Session, str], None]] = {
    "USER": POP3Session.do_USER,
    "PASS": POP3Session.do_PASS,
    "QUIT": POP3Session.do_QUIT,
    "CAPA": POP3Session.do_CAPA,
    "STLS": POP3Session.do_STLS,
}
_TRANSACTION_HANDLERS: dict[str, Callable[[POP3Session, str], None]] = {
    "STAT": POP3Session.do_STAT,
    "LIST": POP3Session.do_LIST,
    "UIDL": POP3Session.do_UIDL,
    "RETR": POP3Session.do_RETR,
    "TOP": POP3Session.do_TOP,
    "DELE": POP3Session.do_DELE,
    "RSET": POP3Session.do_RSET,
    "NOOP": POP3Session.do_NOOP,
    "QUIT": POP3Session.do_QUIT,
    "CAPA": POP3Session.do_CAPA,
}
_ALL_VERBS = frozenset(_AUTHORIZATION_HANDLERS) | frozenset(_TRANSACTION_HANDLERS)
