"""POP3 server: a sans-IO codec and a thin protocol adapter.

Follows RFC 1939 (POP3: the AUTHORIZATION, TRANSACTION and UPDATE states,
USER/PASS, STAT, LIST, UIDL, RETR, TOP, DELE, RSET, NOOP, QUIT, the
byte-stuffing of multi-line responses in section 3, and the idle timer of
at least 10 minutes), RFC 2449 (CAPA, PIPELINING, extended response codes,
the 255-octet command line) and RFC 3206 (the ``[AUTH]`` and ``[SYS/TEMP]``
codes).

The codec (:class:`POP3ServerCodec`) turns bytes into command events and
formats responses, including byte-stuffed multi-line ones. The adapter
(:class:`POP3ServerProtocol`) runs the session against a pluggable
:class:`POP3Backend`: authentication gives a :class:`Mailbox`; deletions are
only marked until QUIT, when the mailbox commits them all at once; the
mailbox is released when the session ends, however it ends, so its lock is
never left behind by a dropped connection.

Commands are handled one at a time: while one waits on the backend, the
rest wait in the codec (bounded: past a limit the adapter stops reading),
so pipelined commands are answered in order.
"""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Callable, Sequence
from typing import Any, Protocol as TypingProtocol

from attrs import field, frozen

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
    "BadCredentials",
    "BadCommandLine",
    "Command",
    "LineTooLong",
    "LoginThrottled",
    "Mailbox",
    "MailboxInUse",
    "POP3AuthError",
    "POP3Backend",
    "POP3ServerCodec",
    "POP3ServerFactory",
    "POP3ServerProtocol",
    "POP3Settings",
    "err",
    "multi_line",
    "ok",
    "stuff_message",
    "top_of_message",
]

log = logging.getLogger(__name__)

#: RFC 2449 4: a command line is at most 255 octets including its CRLF.
MAX_LINE_LENGTH = 255
#: RFC 1939 3: an autologout timer, if any, of at least 10 minutes. Counted
#: from the previous command: a command line must be complete by then.
IDLE_TIMEOUT = 600.0
#: Total time a session may spend waiting for the client (not for the mailbox,
#: nor for the client to read a download); 0: no limit. It holds the mailbox
#: lock, so a session kept open by a NOOP now and then must end some time.
SESSION_TIMEOUT = 3600.0
#: Negative responses to the client's own mistakes before the server hangs up.
MAX_ERRORS = 10


# -- what the backend provides ----------------------------------------------------------


class POP3AuthError(Exception):
    """Authentication did not give a mailbox; the subclass says why.

    ``response_code`` is the RFC 2449 extended response code sent in
    brackets, ``text`` the message (a default per subclass).
    """

    response_code = "AUTH"
    default_text = "Authentication failed"

    def __init__(self, text: str | None = None) -> None:
        super().__init__(text or self.default_text)
        self.text = text or self.default_text


class BadCredentials(POP3AuthError):
    """Wrong user name or password: ``-ERR [AUTH]`` (RFC 3206 4)."""

    response_code = "AUTH"
    default_text = "Invalid user name or password"


class MailboxInUse(POP3AuthError):
    """Another session holds the mailbox: ``-ERR [IN-USE]`` (RFC 2449 8.1.2)."""

    response_code = "IN-USE"
    default_text = "Mailbox is in use by another session"


class LoginThrottled(POP3AuthError):
    """Too many failed logins lately: ``-ERR [SYS/TEMP]`` (RFC 3206 5).

    Temporary, so a client tries again later instead of asking the person
    for a new password that may well be right.
    """

    response_code = "SYS/TEMP"
    default_text = "Too many failed logins, try again later"


class Mailbox(TypingProtocol):
    """One user's maildrop for the length of a session (it holds the lock).

    Messages are numbered by their index in :meth:`list_messages` (0-based
    here; the wire numbers them from 1).
    """

    def list_messages(self) -> Sequence[tuple[str, int]]:
        """``(uid, size)`` per message, fixed for the session.

        ``uid`` is 1 to 70 characters from 0x21 to 0x7E and never reused
        for another message (RFC 1939 7); ``size`` is the message's octets
        with CRLF line ends, before byte-stuffing.
        """

    def message(self, index: int) -> bytes | Deferred[bytes]:
        """The whole message (RFC 5322 bytes) at ``index``."""

    def commit_deletions(self, indices: Sequence[int]) -> Deferred[Any] | Any:
        """Delete these messages in one transaction; fire when committed.

        Called once, at QUIT, only if something was marked deleted.
        """

    def release(self) -> None:
        """The session is over: free the lock. Called exactly once."""

    # Optional: ``retrieved(index)`` is called after RETR has sent a message
    # (not after TOP), for mailboxes that keep a "read" mark.


class POP3Backend(TypingProtocol):
    """Where mailboxes come from."""

    def authenticate(
        self, user: str, password: str, peer: Address | None
    ) -> Mailbox | Deferred[Mailbox]:
        """Check the credentials and lock the mailbox for this session.

        Fail with :class:`BadCredentials`, :class:`MailboxInUse`,
        :class:`LoginThrottled` (or another :class:`POP3AuthError`); any
        other exception gives ``-ERR [SYS/TEMP]``.
        """


# -- the codec ---------------------------------------------------------------------


POP3Event = Command | LineTooLong | BadCommandLine


class POP3ServerCodec(CommandLineCodec):
    """Frames a POP3 server's input into commands: the shared command-line
    framing with RFC 2449's limit of 255 octets a line by default."""

    __slots__ = ()

    def __init__(self, max_line_length: int = MAX_LINE_LENGTH) -> None:
        super().__init__(max_line_length)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def ok(text: str = "") -> bytes:
    """A positive status line: ``+OK text``."""
    text = _CONTROL.sub("?", text)
    return f"+OK {text}\r\n".encode() if text else b"+OK\r\n"


def err(text: str, code: str | None = None) -> bytes:
    """A negative status line, with an RFC 2449 response code if given: ``-ERR [CODE] text``."""
    text = _CONTROL.sub("?", text)
    if code:
        return f"-ERR [{code}] {text}\r\n".encode()
    return f"-ERR {text}\r\n".encode()


def multi_line(first: str, lines: Sequence[str]) -> bytes:
    """``+OK first``, the lines (byte-stuffed), and the terminating ``.``."""
    out = [ok(first)]
    for line in lines:
        line = _CONTROL.sub("?", line)
        out.append(f".{line}\r\n".encode() if line.startswith(".") else f"{line}\r\n".encode())
    out.append(b".\r\n")
    return b"".join(out)


def _crlf(data: bytes) -> bytes:
    """Every line end as CRLF, and a final one (RFC 1939 3: lines end with CRLF)."""
    if b"\n" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if data and not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data


def stuff_message(data: bytes) -> bytes:
    """A message as the body of a multi-line response: CRLF lines, dot-stuffed, ``.`` ending.

    RFC 1939 3: a line starting with "." gets another "." in front.
    """
    data = _crlf(data)
    if data.startswith(b"."):
        data = b"." + data
    return data.replace(b"\r\n.", b"\r\n..") + b".\r\n"


def top_of_message(data: bytes, lines: int) -> bytes:
    """The header, the blank line, and the first ``lines`` lines of the body (RFC 1939 TOP)."""
    data = _crlf(data)
    if data.startswith(b"\r\n"):
        head_end = 0
    else:
        found = data.find(b"\r\n\r\n")
        if found < 0:
            return data  # headers only: all of it
        head_end = found + 2
    end = head_end + 2
    for _ in range(lines):
        next_line = data.find(b"\r\n", end)
        if next_line < 0:
            end = len(data)
            break
        end = next_line + 2
    return data[:end]


# -- the session -----------------------------------------------------------------


@frozen
class POP3Settings:
    """The limits and names of a POP3 server."""

    hostname: str = field(factory=socket.gethostname)
    max_line_length: int = MAX_LINE_LENGTH
    idle_timeout: float = IDLE_TIMEOUT
    #: Total seconds a session may wait for its client (see CommandPipeline; 0: none).
    session_timeout: float = SESSION_TIMEOUT
    max_errors: int = MAX_ERRORS
    #: Unprocessed input past which the server stops reading until it catches up.
    max_buffered: int = 16 * 1024


_CAPABILITIES = (
    "TOP",
    "USER",
    "UIDL",
    "RESP-CODES",
    "AUTH-RESP-CODE",
    "PIPELINING",
    "IMPLEMENTATION Reality",
)

_AUTHORIZATION = "AUTHORIZATION"
_TRANSACTION = "TRANSACTION"
_UPDATE = "UPDATE"
_DONE = "DONE"


class POP3ServerProtocol(CommandPipeline):
    """One POP3 session in front of a :class:`POP3Backend`.

    ``clock`` is anything with ``seconds`` and ``call_later`` (the reactor
    or a test Clock), used for the autologout timer and the session limit.
    """

    service = "pop3"

    def __init__(
        self, backend: POP3Backend, clock: Any, settings: POP3Settings | None = None
    ) -> None:
        self.backend = backend
        self.clock = clock
        self.settings = settings if settings is not None else POP3Settings()
        self.codec = POP3ServerCodec(self.settings.max_line_length)
        self.state = _AUTHORIZATION
        self.user: str | None = None
        self.mailbox: Mailbox | None = None
        self.listing: list[tuple[str, int]] = []
        self.deleted: set[int] = set()
        self.errors = 0
        self.peer: Address | None = None
        self._init_pipeline()
        self._committing = False

    # -- Protocol hooks ------------------------------------------------------------

    def connection_made(self) -> None:
        self.peer = self.transport.get_peer()
        self._send(ok(f"{self.settings.hostname} POP3 server ready"))
        self._flush()
        self._start_pipeline()

    def connection_lost(self, reason: Failure) -> None:
        self._closing = True
        self._stop_timer()
        if not self._committing:
            # Without QUIT there is no UPDATE state (RFC 1939 6): only unlock.
            self._release()
        log.debug("POP3 session from %s ended: %s", self.peer, reason.get_error_message())

    # -- the command loop (CommandPipeline) --------------------------------------------

    def _handle(self, event: POP3Event) -> None:
        if isinstance(event, LineTooLong):
            audit("input.too_large", service="pop3", address=host_of(self.peer), what="line",
                  limit=event.limit)
            self._error(f"Line too long (at most {event.limit} octets)")
            return
        if isinstance(event, BadCommandLine):
            self._error("Command line is not valid UTF-8")
            return
        handlers = (
            self._AUTHORIZATION_HANDLERS
            if self.state == _AUTHORIZATION
            else self._TRANSACTION_HANDLERS
        )
        handler = handlers.get(event.verb)
        if handler is not None:
            handler(self, event.argument)
        elif event.verb in self._ALL_VERBS:
            self._error("Command not valid in this state")
        else:
            self._error("Unknown command")

    # -- AUTHORIZATION -------------------------------------------------------------

    def do_USER(self, argument: str) -> None:
        name = argument.strip(" ")
        if not name:
            self._error("Syntax: USER name")
            return
        self.user = name
        # The same answer for every name: existence is not revealed here.
        self._send(ok("Send PASS"))

    def do_PASS(self, argument: str) -> None:
        if self.user is None:
            self._error("Send USER first")
            return
        if not argument:
            self._error("Syntax: PASS password")
            return
        user = self.user
        # RFC 1939 7: after PASS, right or wrong, a new attempt starts at USER.
        self.user = None
        # RFC 1939 allows spaces in the password: it is the whole rest of the line.
        self._wait_for(
            maybe_deferred(self.backend.authenticate, user, argument, self.peer),
            self._authenticated,
            self._authentication_failed,
            user,
            on_abandoned=self._abandoned_login,
        )

    def _authenticated(self, mailbox: Any, user: str) -> None:
        try:
            listing = [(str(uid), int(size)) for uid, size in mailbox.list_messages()]
            for uid, size in listing:
                if not _UID.fullmatch(uid) or size < 0:
                    raise ValueError(f"bad listing entry {(uid, size)!r}")
        except Exception:
            log.exception("POP3 mailbox of %r could not be listed", user)
            self.mailbox = mailbox
            self._release()
            self._send(err("Mailbox cannot be read, try again later", "SYS/TEMP"))
            return
        self.mailbox = mailbox
        self.listing = listing
        self.deleted = set()
        self.state = _TRANSACTION
        log.info("POP3 %s logged in as %r (%d messages)", self.peer, user, len(listing))
        count, octets = self._totals()
        self._send(ok(f"Logged in, {count} messages ({octets} octets)"))

    def _abandoned_login(self, result: Any) -> None:
        # The client left while its credentials were checked: unlock what it won.
        if not isinstance(result, Failure):
            self.mailbox = result
            self._release()

    def _authentication_failed(self, failure: Failure, user: str) -> None:
        error = failure.value
        if isinstance(error, POP3AuthError):
            log.info("POP3 %s login as %r refused: %s", self.peer, user, error.text)
            self._error(error.text, error.response_code)
            return
        log.error("POP3 authenticate(%r) failed:\n%s", user, failure.get_traceback().rstrip())
        self._send(err("Temporary failure, try again later", "SYS/TEMP"))

    def do_QUIT(self, argument: str) -> None:
        if self.state == _AUTHORIZATION:
            self._close_with(ok(f"{self.settings.hostname} POP3 server signing off"))
            return
        self.state = _UPDATE
        remaining = len(self.listing) - len(self.deleted)
        if not self.deleted:
            self._committed(None, remaining)
            return
        assert self.mailbox is not None
        self._committing = True
        self._wait_for(
            maybe_deferred(self.mailbox.commit_deletions, sorted(self.deleted)),
            self._committed,
            self._commit_failed,
            remaining,
            always=True,
        )

    def _committed(self, _result: Any, remaining: int) -> None:
        self._committing = False
        self._close_with(ok(f"{self.settings.hostname} signing off ({remaining} messages left)"))
        self._release()

    def _commit_failed(self, failure: Failure, remaining: int) -> None:
        self._committing = False
        log.error("POP3 deletions failed:\n%s", failure.get_traceback().rstrip())
        self._close_with(err("Some deleted messages not removed", "SYS/TEMP"))
        self._release()

    def do_CAPA(self, argument: str) -> None:
        self._send(multi_line("Capability list follows", _CAPABILITIES))

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
        self._send(ok(f"{count} {octets}"))

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
                self._send(ok(f"{index + 1} {column(index)}"))
            return
        lines = [
            f"{index + 1} {column(index)}"
            for index in range(len(self.listing))
            if index not in self.deleted
        ]
        count, octets = self._totals()
        first = f"{count} messages ({octets} octets)" if verb == "LIST" else "Unique-ID listing"
        self._send(multi_line(first, lines))

    def do_RETR(self, argument: str) -> None:
        args = argument.split()
        if len(args) != 1:
            self._error("Syntax: RETR message")
            return
        index = self._message_index(args[0])
        if index is None:
            return
        size = self.listing[index][1]
        self._fetch(index, lambda data: ok(f"{size} octets") + stuff_message(data), retrieved=True)

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
        self._fetch(
            index,
            lambda data: ok("Top of message follows") + stuff_message(top_of_message(data, count)),
        )

    def _fetch(
        self, index: int, render: Callable[[bytes], bytes], retrieved: bool = False
    ) -> None:
        assert self.mailbox is not None
        mailbox = self.mailbox

        def fetched(data: Any) -> None:
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise TypeError(f"Mailbox.message({index}) returned {type(data).__name__}")
            self._send(render(bytes(data)))
            # RETR (not TOP) means the person has the whole letter now.
            hook = getattr(mailbox, "retrieved", None) if retrieved else None
            if hook is not None:
                try:
                    hook(index)
                except Exception:
                    log.exception("POP3: marking message %d as read failed", index + 1)

        def failed(failure: Failure) -> None:
            log.error(
                "POP3 reading message %d failed:\n%s", index + 1, failure.get_traceback().rstrip()
            )
            self._send(err(f"Cannot read message {index + 1}, try again later", "SYS/TEMP"))

        def checked_fetched(data: Any) -> None:
            try:
                fetched(data)
            except Exception:
                failed(Failure())

        self._wait_for(maybe_deferred(self.mailbox.message, index), checked_fetched, failed)

    def do_DELE(self, argument: str) -> None:
        args = argument.split()
        if len(args) != 1:
            self._error("Syntax: DELE message")
            return
        index = self._message_index(args[0])
        if index is None:
            return
        self.deleted.add(index)
        self._send(ok(f"Message {index + 1} deleted"))

    def do_RSET(self, argument: str) -> None:
        self.deleted.clear()
        count, octets = self._totals()
        self._send(ok(f"Maildrop has {count} messages ({octets} octets)"))

    def do_NOOP(self, argument: str) -> None:
        self._send(ok())

    _AUTHORIZATION_HANDLERS: dict[str, Callable[[POP3ServerProtocol, str], None]] = {
        "USER": do_USER,
        "PASS": do_PASS,
        "QUIT": do_QUIT,
        "CAPA": do_CAPA,
    }
    _TRANSACTION_HANDLERS: dict[str, Callable[[POP3ServerProtocol, str], None]] = {
        "STAT": do_STAT,
        "LIST": do_LIST,
        "UIDL": do_UIDL,
        "RETR": do_RETR,
        "TOP": do_TOP,
        "DELE": do_DELE,
        "RSET": do_RSET,
        "NOOP": do_NOOP,
        "QUIT": do_QUIT,
        "CAPA": do_CAPA,
    }
    _ALL_VERBS = frozenset(_AUTHORIZATION_HANDLERS) | frozenset(_TRANSACTION_HANDLERS)

    # -- helpers ---------------------------------------------------------------------

    def _release(self) -> None:
        mailbox, self.mailbox = self.mailbox, None
        if mailbox is None:
            return
        try:
            mailbox.release()
        except Exception:
            log.exception("POP3 releasing the mailbox failed")

    def _send(self, data: bytes) -> None:
        self._out.append(data)

    def _error(self, text: str, code: str | None = None) -> None:
        """A negative response caused by the client; too many and we hang up."""
        self._send(err(text, code))
        self.errors += 1
        if self.errors >= self.settings.max_errors:
            log.info("POP3 %s: too many errors, closing", self.peer)
            self._close_with(err("Too many errors, closing connection"))

    def _close_with(self, response: bytes) -> None:
        if self._closing and self.state == _DONE:
            return
        self._send(response)
        self._flush()
        self._closing = True
        self.state = _DONE
        self._stop_timer()
        if self.transport is not None and not self.transport.disconnecting:
            self.transport.lose_connection()
        if not self._committing:
            self._release()

    def _timeout_reply(self, reason: str) -> None:
        # RFC 1939 3: an autologout does not enter UPDATE; nothing is deleted.
        text = {
            "partial-command": "Autologout: command line not completed in time",
            "session": "Autologout: session too long",
        }.get(reason, "Autologout: idle for too long")
        self._close_with(err(text))


_UID = re.compile(r"[\x21-\x7e]{1,70}")


def _number(text: str) -> int | None:
    """A decimal argument of at most 10 ASCII digits, or None."""
    if not text.isdigit() or not text.isascii() or len(text) > 10:
        return None
    return int(text)


class POP3ServerFactory(Factory):
    """Makes a :class:`POP3ServerProtocol` per connection, all sharing one backend."""

    def __init__(
        self, backend: POP3Backend, clock: Any, settings: POP3Settings | None = None
    ) -> None:
        self.backend = backend
        self.clock = clock
        self.settings = settings if settings is not None else POP3Settings()

    def build_protocol(self, addr: Address) -> POP3ServerProtocol:
        protocol = POP3ServerProtocol(self.backend, self.clock, self.settings)
        protocol.factory = self
        return protocol
