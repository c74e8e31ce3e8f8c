"""The IMAP server session as a sans-IO state machine: bytes in, actions out.

RFC 3501 (IMAP4rev1) with what clients rely on from RFC 9051 and the
extensions advertised: LITERAL+ (7888), SASL-IR (4959), ID (2971), ENABLE
(5161), IDLE (2177), NAMESPACE (2342), UIDPLUS (4315), MOVE (6851),
SPECIAL-USE (6154), UNSELECT (3691), CHILDREN (3348). The states are RFC
3501 3's: not authenticated, authenticated, selected, logout.

No transport, no timers, no Deferreds. Feed the client's bytes with
:meth:`IMAPSession.receive_data` and take the actions of one command (or
one step of one) from :meth:`IMAPSession.next_actions`. The actions are:

- ``bytes``: response text, to write as it is;
- :class:`Call`: call ``function(*args)`` (it may return a value or a
  Deferred of one) and give the result to :meth:`IMAPSession.call_done`,
  or the exception to :meth:`IMAPSession.call_failed`; those return the
  next actions. While a call is outstanding no input is taken, so the
  answers to pipelined commands keep their order. Backend calls that must
  answer at once (listing mailboxes, opening one) the session makes itself;
- :class:`StartTLS`: the go-ahead is in the actions before it: write it,
  then start TLS on the connection (and set :attr:`IMAPSession.secure`);
- :class:`~reality.net.protocols.basic.Close`: hang up once the responses
  before it are written; then call :meth:`IMAPSession.release`.

Changes made elsewhere reach the session through the listener it gives
:meth:`~.backend.IMAPAccount.open`; they are queued and reported where RFC
3501 7.4.1 allows: ``EXPUNGE`` not while answering FETCH, STORE or SEARCH
(their UID forms may), the rest at the end of any command, and at once
while the client is in IDLE: then the session calls :attr:`wakeup` and
the adapter takes :meth:`IMAPSession.updates`.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import time
from bisect import bisect_left
from collections.abc import Callable, Sequence
from typing import Any

from attrs import frozen

from reality.audit import audit, host_of
from reality.lineends import crlf
from reality.net.protocol import Address
from reality.net.protocols.basic import CLOSE, Close
from reality.net.protocols.imap.backend import (
    IMAPAccount,
    IMAPAuthError,
    IMAPBackend,
    IMAPError,
    IMAPMailbox,
    MessageInfo,
)
from reality.net.protocols.imap.codec import (
    BadSyntax,
    Continue,
    IMAPCommand,
    IMAPServerCodec,
    LineTooLong,
    LiteralTooBig,
    RawLine,
    SequenceSet,
    astring,
    format_sequence_set,
    literal,
    parse_sequence_set,
    resolve_sequence_set,
)
from reality.net.protocols.imap.message import Part, body_structure, envelope, section_bytes
from reality.net.protocols.imap.search import (
    Candidate,
    SearchError,
    matches,
    needs_message,
    parse_search,
)
from reality.net.protocols.imap.settings import IMAPSettings

__all__ = [
    "AUTHENTICATED",
    "LOGOUT",
    "NOT_AUTHENTICATED",
    "SELECTED",
    "Call",
    "IMAPAction",
    "IMAPSession",
    "StartTLS",
    "run_sync",
]

log = logging.getLogger(__name__)

NOT_AUTHENTICATED = "not authenticated"
AUTHENTICATED = "authenticated"
SELECTED = "selected"
LOGOUT = "logout"


@frozen
class Call:
    """Call ``function(*args)``; its value (or Deferred's) goes to ``call_done``."""

    function: Callable[..., Any]
    args: tuple[Any, ...]


@frozen
class StartTLS:
    """Start TLS now: the go-ahead before this action has been written."""


IMAPAction = bytes | Call | StartTLS | Close

_SYSTEM_FLAGS = {
    f.lower(): f for f in ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")
}
_FETCH_MACROS = {
    "ALL": ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"],
    "FAST": ["FLAGS", "INTERNALDATE", "RFC822.SIZE"],
    "FULL": ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"],
}
_SIMPLE_ITEMS = {
    "FLAGS",
    "UID",
    "INTERNALDATE",
    "RFC822.SIZE",
    "ENVELOPE",
    "BODYSTRUCTURE",
    "BODY",
    "RFC822",
    "RFC822.HEADER",
    "RFC822.TEXT",
}
_NEED_BYTES = {"ENVELOPE", "BODYSTRUCTURE", "BODY", "RFC822", "RFC822.HEADER", "RFC822.TEXT"}
_SECTION_ITEM = re.compile(
    r"(BODY|BODY\.PEEK|BINARY|BINARY\.PEEK|BINARY\.SIZE)\[([^\]]*)\](?:<(\d{1,10})\.(\d{1,10})>)?",
    re.IGNORECASE,
)
_SECTION = re.compile(
    r"((?:[1-9]\d{0,5})(?:\.[1-9]\d{0,5}){0,19})?(?:(?:^|\.)"
    r"(HEADER\.FIELDS\.NOT|HEADER\.FIELDS|HEADER|TEXT|MIME))?(?: \((.*)\))?",
    re.IGNORECASE,
)
_MONTH_NAMES = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_MAILBOX_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,200}")


def _internaldate(timestamp: float) -> bytes:
    t = time.gmtime(timestamp)
    return (
        f'"{t.tm_mday:2d}-{_MONTH_NAMES[t.tm_mon - 1]}-{t.tm_year:04d} '
        f'{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"'
    ).encode()


def _flag_list(flags: frozenset[str] | Sequence[str]) -> bytes:
    order = {"\\Answered": 0, "\\Flagged": 1, "\\Deleted": 2, "\\Seen": 3, "\\Draft": 4}
    ordered = sorted(flags, key=lambda f: (order.get(f, 9), f))
    return ("(" + " ".join(ordered) + ")").encode()


def _text(token: object) -> str | None:
    """An astring argument as text (atom or string); None if it is neither."""
    if isinstance(token, str):
        return token
    if isinstance(token, bytes):
        try:
            return token.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None


@frozen
class _FetchItem:
    name: str  # FLAGS, UID, ..., or SECTION for BODY[...]
    peek: bool = True
    numbers: tuple[int, ...] = ()
    text: str = ""
    names: tuple[str, ...] = ()
    partial: tuple[int, int] | None = None
    label: str = ""


class _Listener:
    """The :class:`~.backend.MailboxListener` one open mailbox holds (stale once it is closed)."""

    __slots__ = ("session", "generation")

    def __init__(self, session: IMAPSession, generation: int) -> None:
        self.session = session
        self.generation = generation

    def _live(self) -> bool:
        return self.session._generation == self.generation and self.session.mailbox is not None

    def added(self, infos: Sequence[MessageInfo]) -> None:
        if self._live():
            self.session._pending_added.extend(infos)
            self.session._wake()

    def flags_changed(self, uid: int, flags: frozenset[str]) -> None:
        if self._live():
            self.session._pending_flags[uid] = frozenset(flags)
            self.session._wake()

    def expunged(self, uids: Sequence[int]) -> None:
        if self._live():
            self.session._pending_expunged.update(uids)
            self.session._wake()


class IMAPSession:
    """One IMAP session's state machine (see the module docstring).

    ``backend`` is asked to authenticate (through a :class:`Call`);
    ``peer`` is the client's address, for the logs and the backend;
    ``secure`` says the connection is TLS already (IMAPS).
    """

    def __init__(
        self,
        backend: IMAPBackend,
        settings: IMAPSettings | None = None,
        peer: Address | None = None,
        *,
        secure: bool = False,
    ) -> None:
        self.backend = backend
        self.settings = settings if settings is not None else IMAPSettings()
        s = self.settings
        self.codec = IMAPServerCodec(
            s.max_line_length, s.max_literal, s.max_command, s.max_items, s.max_depth
        )
        self.peer = peer
        self.secure = secure
        self.state = NOT_AUTHENTICATED
        self.user: str | None = None
        self.account: IMAPAccount | None = None
        self.mailbox: IMAPMailbox | None = None
        self.mailbox_name = ""
        self.readonly = False
        #: Called (by the listener) when updates arrive while the client idles.
        self.wakeup: Callable[[], None] | None = None
        self.errors = 0
        self._generation = 0
        self._uids: list[int] = []
        self._flags: dict[int, frozenset[str]] = {}
        self._infos: dict[int, MessageInfo] = {}
        self._pending_added: list[MessageInfo] = []
        self._pending_flags: dict[int, frozenset[str]] = {}
        self._pending_expunged: set[int] = set()
        self._then: Callable[[Any], None] | None = None
        self._then_failed: Callable[[BaseException], None] | None = None
        self._idle_tag: str | None = None
        self._auth_tag: str | None = None
        self._out: list[IMAPAction] = []
        self._released = False
        self._parsed: tuple[int, Part] | None = None

    # -- input ------------------------------------------------------------------------

    @property
    def buffered(self) -> int:
        """Bytes received but not yet handled."""
        return self.codec.buffered

    @property
    def waiting(self) -> bool:
        """True while a :class:`Call` awaits its answer."""
        return self._then is not None

    @property
    def idling(self) -> bool:
        """True while the client is in IDLE."""
        return self._idle_tag is not None

    @property
    def closed(self) -> bool:
        """True once the session said goodbye."""
        return self.state == LOGOUT

    def receive_data(self, data: bytes) -> None:
        """Bytes from the client; they are handled by :meth:`next_actions`."""
        self.codec.receive_data(data)

    def next_actions(self) -> list[IMAPAction] | None:
        """Handle the next complete input; None when more bytes (or an answer) are needed."""
        if self._then is not None or self.state == LOGOUT:
            return None
        event = self.codec.next_event()
        if event is None:
            return None
        self._out = []
        try:
            self._handle(event)
        except Exception:
            log.exception("IMAP %s: handling %r failed", self.peer, type(event).__name__)
            self._then = self._then_failed = None
            tag = event.tag if isinstance(event, IMAPCommand) else "*"
            self._out.append(f"{tag} NO [SERVERBUG] Internal error, sorry\r\n".encode())
        return self._out

    def receive(self, data: bytes) -> list[IMAPAction]:
        """Feed ``data`` and handle all it completes, up to a :class:`Call` or the end."""
        self.receive_data(data)
        actions: list[IMAPAction] = []
        while (more := self.next_actions()) is not None:
            actions += more
        return actions

    def greeting(self) -> list[IMAPAction]:
        """What the server says first (RFC 3501 7.1.1)."""
        return [
            f"* OK [CAPABILITY {self.capabilities()}] "
            f"{self.settings.hostname} IMAP4rev1 ready\r\n".encode()
        ]

    def capabilities(self) -> str:
        """The capability list for the current state and connection."""
        caps = ["IMAP4rev1", "LITERAL+", "SASL-IR", "ID", "ENABLE", "IDLE", "NAMESPACE"]
        if self.state == NOT_AUTHENTICATED:
            if self.settings.starttls and not self.secure:
                caps.append("STARTTLS")
            if self._login_allowed():
                caps.append("AUTH=PLAIN")
            else:
                caps.append("LOGINDISABLED")
        else:
            caps += ["UIDPLUS", "MOVE", "SPECIAL-USE", "UNSELECT", "CHILDREN"]
        return " ".join(caps)

    def _login_allowed(self) -> bool:
        return self.secure or self.settings.plaintext_login

    # -- answers to calls --------------------------------------------------------------

    def call_done(self, result: Any) -> list[IMAPAction]:
        """The :class:`Call` outstanding gave ``result``: the next actions."""
        then = self._then
        if then is None:
            raise RuntimeError("no call is outstanding")
        self._then = self._then_failed = None
        self._out = []
        try:
            then(result)
        except Exception as error:  # a backend answer we cannot use
            log.exception("IMAP %s: a backend's answer could not be used", self.peer)
            self._then = self._then_failed = None
            self._fail_call(error)
        return self._out

    def call_failed(self, error: BaseException) -> list[IMAPAction]:
        """The :class:`Call` outstanding failed with ``error``: the next actions."""
        if self._then is None:
            raise RuntimeError("no call is outstanding")
        on_failure = self._then_failed
        self._then = self._then_failed = None
        self._out = []
        if on_failure is not None:
            on_failure(error)
        return self._out

    def _fail_call(self, error: BaseException) -> None:
        self._out.append(b"* NO [SERVERBUG] Internal error\r\n")

    def _call(
        self,
        function: Callable[..., Any],
        args: tuple[Any, ...],
        then: Callable[[Any], None],
        failed: Callable[[BaseException], None],
    ) -> None:
        self._then = then
        self._then_failed = failed
        self._out.append(Call(function, args))

    def tls_started(self) -> None:
        """TLS is on (after :class:`StartTLS`): the session is secure now."""
        self.secure = True

    def updates(self) -> list[IMAPAction]:
        """While idling: the untagged updates queued since (to write at once)."""
        if self._idle_tag is None or self._then is not None or self.state == LOGOUT:
            return []
        self._out = []
        self._deliver(expunge=True)
        return self._out

    def timed_out(self, reason: str) -> list[IMAPAction]:
        """A time limit ran out: the goodbye (RFC 3501 5.4 autologout)."""
        self._out = []
        self._bye("Autologout; idle for too long" if reason != "session" else "Session too long")
        return self._out

    def shutdown(self, text: str = "Server shutting down") -> list[IMAPAction]:
        """The server is going away: ``* BYE`` and a close."""
        self._out = []
        self._bye(text)
        return self._out

    def release(self) -> None:
        """Close the mailbox and log the account out, once (when the connection ends)."""
        if self._released:
            return
        self._released = True
        self.state = LOGOUT
        self._close_mailbox()
        account, self.account = self.account, None
        if account is not None:
            try:
                account.logout()
            except Exception:
                log.exception("IMAP account logout failed")

    # -- the state machine --------------------------------------------------------------

    def _handle(self, event: object) -> None:
        kind = type(event)
        if kind is RawLine:
            assert isinstance(event, RawLine)
            self._raw_line(event.line)
            return
        if kind is Continue:
            self._out.append(b"+ Ready for literal data\r\n")
            return
        if kind is LiteralTooBig:
            assert isinstance(event, LiteralTooBig)
            audit(
                "input.too_large",
                service="imap",
                address=host_of(self.peer),
                what="literal",
                limit=self.settings.max_literal,
            )
            if event.sync:
                self._bad(
                    event.tag,
                    f"[TOOBIG] Literal too big (at most {self.settings.max_literal} octets)",
                )
            else:
                self._bye("[TOOBIG] Literal too big")
            return
        if kind is LineTooLong:
            assert isinstance(event, LineTooLong)
            audit(
                "input.too_large",
                service="imap",
                address=host_of(self.peer),
                what="line",
                limit=event.limit,
            )
            if event.nonsync_literal:
                self._bye("[TOOBIG] Command line too long")
            else:
                self._bad(
                    event.tag, f"[TOOBIG] Command line too long (at most {event.limit} octets)"
                )
            return
        if kind is BadSyntax:
            assert isinstance(event, BadSyntax)
            self._bad(event.tag, event.text)
            return
        assert isinstance(event, IMAPCommand)
        command = event
        handler = _HANDLERS.get(command.name)
        if handler is None:
            self._bad(command.tag, "Unknown command")
            return
        states, uid_ok, function = handler
        if command.uid and not uid_ok:
            self._bad(command.tag, f"UID {command.name} is not a command")
        elif self.state not in states:
            if self.state == NOT_AUTHENTICATED:
                self._bad(command.tag, "Log in first")
            elif command.name in ("LOGIN", "AUTHENTICATE", "STARTTLS"):
                self._bad(command.tag, "Already logged in")
            else:
                self._bad(command.tag, "No mailbox selected")
        else:
            function(self, command)

    def _raw_line(self, line: bytes) -> None:
        if self._idle_tag is not None:
            tag, self._idle_tag = self._idle_tag, None
            if line.strip().upper() == b"DONE":
                self._ok(tag, "IDLE terminated")
            else:
                self._bad(tag, "Expected DONE")
            return
        if self._auth_tag is not None:
            tag, self._auth_tag = self._auth_tag, None
            self._sasl_plain(tag, line.strip())
            return
        self._bad(None, "Unexpected line")

    # -- responses ---------------------------------------------------------------------

    def _ok(self, tag: str, text: str, *, expunge: bool = True) -> None:
        self._deliver(expunge=expunge)
        self._out.append(f"{tag} OK {text}\r\n".encode())

    def _no(self, tag: str, text: str, *, expunge: bool = True) -> None:
        self._deliver(expunge=expunge)
        self._out.append(f"{tag} NO {_clean(text)}\r\n".encode())

    def _bad(self, tag: str | None, text: str) -> None:
        self._out.append(f"{tag or '*'} BAD {_clean(text)}\r\n".encode())
        self.errors += 1
        if self.errors >= self.settings.max_errors and self.state != LOGOUT:
            log.info("IMAP %s: too many errors, closing", self.peer)
            self._bye("Too many errors")

    def _bye(self, text: str) -> None:
        if self.state == LOGOUT:
            return
        self.state = LOGOUT
        self._idle_tag = None
        self._out.append(f"* BYE {text}\r\n".encode())
        self._out.append(CLOSE)

    # -- any state -------------------------------------------------------------------

    def do_CAPABILITY(self, command: IMAPCommand) -> None:
        self._out.append(f"* CAPABILITY {self.capabilities()}\r\n".encode())
        self._ok(command.tag, "CAPABILITY completed")

    def do_NOOP(self, command: IMAPCommand) -> None:
        self._ok(command.tag, "NOOP completed")

    def do_LOGOUT(self, command: IMAPCommand) -> None:
        self.state = LOGOUT
        self._out.append(
            f"* BYE {self.settings.hostname} IMAP4rev1 server logging out\r\n".encode()
        )
        self._out.append(f"{command.tag} OK LOGOUT completed\r\n".encode())
        self._out.append(CLOSE)

    def do_ID(self, command: IMAPCommand) -> None:
        self._out.append(b'* ID ("name" "Reality" "vendor" "Reality")\r\n')
        self._ok(command.tag, "ID completed")

    # -- not authenticated ----------------------------------------------------------------

    def do_STARTTLS(self, command: IMAPCommand) -> None:
        if not self.settings.starttls or self.secure:
            self._bad(
                command.tag, "STARTTLS is not available" if not self.secure else "TLS is already on"
            )
            return
        if self.codec.pending_input:
            # The STARTTLS injection rule: bytes sent with the command would be
            # taken as if they had come over TLS. Refuse and hang up.
            audit("tls.injection", service="imap", address=host_of(self.peer),
                  size=self.codec.buffered)
            self._out.append(f"{command.tag} BAD Commands pipelined after STARTTLS\r\n".encode())
            self._bye("STARTTLS injection refused")
            return
        self._out.append(f"{command.tag} OK Begin TLS negotiation now\r\n".encode())
        self._out.append(StartTLS())

    def do_LOGIN(self, command: IMAPCommand) -> None:
        if len(command.args) != 2:
            self._bad(command.tag, "Syntax: LOGIN user password")
            return
        user, password = _text(command.args[0]), _text(command.args[1])
        if user is None or password is None:
            self._bad(command.tag, "Syntax: LOGIN user password")
            return
        self._login(command.tag, user, password)

    def do_AUTHENTICATE(self, command: IMAPCommand) -> None:
        if not command.args or not isinstance(command.args[0], str) or len(command.args) > 2:
            self._bad(command.tag, "Syntax: AUTHENTICATE mechanism [initial-response]")
            return
        if command.args[0].upper() != "PLAIN":
            self._no(command.tag, "[CANNOT] Unsupported authentication mechanism")
            return
        if len(command.args) == 2:
            response = command.args[1]
            if not isinstance(response, str):
                self._bad(command.tag, "Initial response must be an atom")
                return
            self._sasl_plain(command.tag, response.encode())
            return
        self._auth_tag = command.tag
        self.codec.raw = True
        self._out.append(b"+ \r\n")

    def _sasl_plain(self, tag: str, response: bytes) -> None:
        if response == b"*":
            self._bad(tag, "Authentication cancelled")
            return
        try:
            decoded = b"" if response == b"=" else base64.b64decode(response, validate=True)
            authzid, user, password = decoded.decode("utf-8").split("\0")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            self._bad(tag, "Invalid SASL PLAIN response")
            return
        if authzid and authzid != user:
            self._no(tag, "[AUTHORIZATIONFAILED] Cannot act as another user")
            return
        self._login(tag, user, password)

    def _login(self, tag: str, user: str, password: str) -> None:
        if not self._login_allowed():
            self._no(tag, "[PRIVACYREQUIRED] Log in over TLS (STARTTLS or IMAPS)")
            return

        def done(account: Any) -> None:
            if self.state == LOGOUT:
                account.logout()
                return
            for name in ("mailboxes", "status", "open", "logout"):
                if not callable(getattr(account, name, None)):
                    raise TypeError(f"authenticate() gave {type(account).__name__}, not an account")
            self.account = account
            self.user = user
            self.state = AUTHENTICATED
            log.info("IMAP %s logged in as %r", self.peer, user)
            self._out.append(f"{tag} OK [CAPABILITY {self.capabilities()}] Logged in\r\n".encode())

        def failed(error: BaseException) -> None:
            if isinstance(error, IMAPAuthError):
                log.info("IMAP %s login as %r refused: %s", self.peer, user, error.text)
                self._out.append(
                    f"{tag} NO [{error.response_code}] {_clean(error.text)}\r\n".encode()
                )
            else:
                self._out.append(
                    f"{tag} NO [UNAVAILABLE] Temporary failure, try again later\r\n".encode()
                )

        self._call(self.backend.authenticate, (user, password, self.peer), done, failed)

    # -- authenticated ----------------------------------------------------------------

    def _mailbox_arg(self, token: object) -> str | None:
        name = _text(token)
        if name is None or not _MAILBOX_NAME.fullmatch(name):
            return None
        return "INBOX" if name.upper() == "INBOX" else name

    def _find_mailbox(self, name: str) -> str | None:
        assert self.account is not None
        for info in self.account.mailboxes():
            canonical = "INBOX" if info.name.upper() == "INBOX" else info.name
            if canonical == name:
                return info.name
        return None

    def do_SELECT(self, command: IMAPCommand) -> None:
        self._select(command, readonly=False)

    def do_EXAMINE(self, command: IMAPCommand) -> None:
        self._select(command, readonly=True)

    def _select(self, command: IMAPCommand, *, readonly: bool) -> None:
        if len(command.args) != 1 or (name := self._mailbox_arg(command.args[0])) is None:
            self._bad(command.tag, f"Syntax: {command.name} mailbox")
            return
        assert self.account is not None
        if self.mailbox is not None:
            self._close_mailbox()
            self.state = AUTHENTICATED
            self._out.append(b"* OK [CLOSED] Previous mailbox closed\r\n")
        real = self._find_mailbox(name)
        self._generation += 1
        mailbox = None
        if real is not None:
            mailbox = self.account.open(
                real, readonly=readonly, listener=_Listener(self, self._generation)
            )
        if mailbox is None:
            self._no(command.tag, "[NONEXISTENT] No such mailbox")
            return
        self.mailbox = mailbox
        self.mailbox_name = real or name
        self.readonly = readonly
        self.state = SELECTED
        infos = list(mailbox.messages())
        self._uids = [info.uid for info in infos]
        self._flags = {info.uid: frozenset(info.flags) for info in infos}
        self._infos = {info.uid: info for info in infos}
        self._pending_added = []
        self._pending_flags = {}
        self._pending_expunged = set()
        flags = " ".join(self.settings.permanent_flags)
        out = self._out
        out.append(f"* FLAGS ({flags})\r\n".encode())
        out.append(f"* {len(infos)} EXISTS\r\n".encode())
        out.append(b"* 0 RECENT\r\n")
        for index, uid in enumerate(self._uids):
            if "\\Seen" not in self._flags[uid]:
                out.append(f"* OK [UNSEEN {index + 1}] First unseen\r\n".encode())
                break
        out.append(f"* OK [UIDVALIDITY {int(mailbox.uidvalidity)}] UIDs valid\r\n".encode())
        out.append(f"* OK [UIDNEXT {int(mailbox.uidnext)}] Predicted next UID\r\n".encode())
        permanent = "" if readonly else flags
        out.append(f"* OK [PERMANENTFLAGS ({permanent})] Limited\r\n".encode())
        mode = "READ-ONLY" if readonly else "READ-WRITE"
        out.append(f"{command.tag} OK [{mode}] {command.name} completed\r\n".encode())

    def do_LIST(self, command: IMAPCommand) -> None:
        self._list(command, lsub=False)

    def do_LSUB(self, command: IMAPCommand) -> None:
        self._list(command, lsub=True)

    def _list(self, command: IMAPCommand, *, lsub: bool) -> None:
        args = list(command.args)
        special_only = False
        if not lsub and args and isinstance(args[0], list):
            options = [o.upper() for o in args.pop(0) if isinstance(o, str)]
            special_only = "SPECIAL-USE" in options
        if not lsub and len(args) == 4 and isinstance(args[2], str) and args[2].upper() == "RETURN":
            if not isinstance(args[3], list):
                self._bad(command.tag, "Syntax: LIST reference mailbox RETURN (options)")
                return
            args = args[:2]
        if len(args) != 2:
            self._bad(command.tag, f"Syntax: {command.name} reference mailbox")
            return
        reference, pattern = _text(args[0]), _text(args[1])
        if reference is None or pattern is None:
            self._bad(command.tag, f"Syntax: {command.name} reference mailbox")
            return
        assert self.account is not None
        verb = "LSUB" if lsub else "LIST"
        if pattern == "":
            self._out.append(f'* {verb} (\\Noselect) "/" ""\r\n'.encode())
            self._ok(command.tag, f"{verb} completed")
            return
        matcher = _pattern(reference + pattern)
        for info in self.account.mailboxes():
            name = info.name
            if not matcher(name):
                continue
            attributes = [a for a in info.attributes]
            if special_only and not any(a in _SPECIAL_USE for a in attributes):
                continue
            if not lsub and "\\HasChildren" not in attributes:
                attributes.append("\\HasNoChildren")
            self._out.append(
                f'* {verb} ({" ".join(attributes)}) "/" '.encode() + astring(name) + b"\r\n"
            )
        self._ok(command.tag, f"{verb} completed")

    def do_STATUS(self, command: IMAPCommand) -> None:
        if (
            len(command.args) != 2
            or (name := self._mailbox_arg(command.args[0])) is None
            or not isinstance(command.args[1], list)
            or not command.args[1]
        ):
            self._bad(command.tag, "Syntax: STATUS mailbox (items)")
            return
        items = []
        for item in command.args[1]:
            if not isinstance(item, str) or item.upper() not in _STATUS_ITEMS:
                self._bad(command.tag, "Unknown STATUS item")
                return
            items.append(item.upper())
        assert self.account is not None
        real = self._find_mailbox(name)
        status = self.account.status(real) if real is not None else None
        if status is None:
            self._no(command.tag, "[NONEXISTENT] No such mailbox")
            return
        values = {
            "MESSAGES": status.messages,
            "RECENT": status.recent,
            "UIDNEXT": status.uidnext,
            "UIDVALIDITY": status.uidvalidity,
            "UNSEEN": status.unseen,
        }
        body = " ".join(f"{item} {int(values[item])}" for item in items)
        self._out.append(b"* STATUS " + astring(real or name) + f" ({body})\r\n".encode())
        self._ok(command.tag, "STATUS completed")

    def do_NAMESPACE(self, command: IMAPCommand) -> None:
        self._out.append(b'* NAMESPACE (("" "/")) NIL NIL\r\n')
        self._ok(command.tag, "NAMESPACE completed")

    def do_ENABLE(self, command: IMAPCommand) -> None:
        if not command.args:
            self._bad(command.tag, "Syntax: ENABLE capability ...")
            return
        self._out.append(b"* ENABLED\r\n")
        self._ok(command.tag, "ENABLE completed")

    def do_SUBSCRIBE(self, command: IMAPCommand) -> None:
        if len(command.args) != 1 or (name := self._mailbox_arg(command.args[0])) is None:
            self._bad(command.tag, f"Syntax: {command.name} mailbox")
            return
        if self._find_mailbox(name) is None:
            self._no(command.tag, "[NONEXISTENT] No such mailbox")
            return
        # Every mailbox is always subscribed: there are only the fixed ones.
        self._ok(command.tag, f"{command.name} completed")

    do_UNSUBSCRIBE = do_SUBSCRIBE

    def do_CREATE(self, command: IMAPCommand) -> None:
        self._no(command.tag, "[CANNOT] The mailboxes are fixed: INBOX and Sent")

    do_DELETE = do_CREATE
    do_RENAME = do_CREATE

    def do_APPEND(self, command: IMAPCommand) -> None:
        self._no(command.tag, "[CANNOT] Letters are written in the game; APPEND is not supported")

    def do_IDLE(self, command: IMAPCommand) -> None:
        if command.args:
            self._bad(command.tag, "IDLE takes no arguments")
            return
        self._idle_tag = command.tag
        self.codec.raw = True
        self._out.append(b"+ idling\r\n")
        self._deliver(expunge=True)

    # -- selected ---------------------------------------------------------------------

    def do_CHECK(self, command: IMAPCommand) -> None:
        self._ok(command.tag, "CHECK completed")

    def do_UNSELECT(self, command: IMAPCommand) -> None:
        if command.args:
            self._bad(command.tag, "UNSELECT takes no arguments")
            return
        self._close_mailbox()
        self.state = AUTHENTICATED
        self._out.append(f"{command.tag} OK UNSELECT completed\r\n".encode())

    def do_CLOSE(self, command: IMAPCommand) -> None:
        if command.args:
            self._bad(command.tag, "CLOSE takes no arguments")
            return
        deleted = [uid for uid in self._uids if "\\Deleted" in self._flags[uid]]
        tag = command.tag

        def finish(_result: object = None) -> None:
            self._close_mailbox()
            self.state = AUTHENTICATED
            self._out.append(f"{tag} OK CLOSE completed\r\n".encode())

        def failed(error: BaseException) -> None:
            self._log_failure("CLOSE expunge", error)
            self._close_mailbox()
            self.state = AUTHENTICATED
            self._out.append(
                f"{tag} NO [UNAVAILABLE] Closed, but deleted letters were not removed\r\n".encode()
            )

        if self.readonly or not deleted:
            finish()
            return
        assert self.mailbox is not None
        self._call(self.mailbox.expunge, (deleted,), finish, failed)

    def do_EXPUNGE(self, command: IMAPCommand) -> None:
        uids = [uid for uid in self._uids if "\\Deleted" in self._flags[uid]]
        if command.uid:
            pieces = self._set_arg(command, 1)
            if pieces is None:
                return
            chosen = set(self._resolve(pieces, True))
            uids = [uid for uid in uids if uid in chosen]
        elif command.args:
            self._bad(command.tag, "EXPUNGE takes no arguments")
            return
        if self.readonly:
            self._no(command.tag, "[READ-ONLY] Mailbox is read-only")
            return
        if not uids:
            self._ok(command.tag, f"{_verb(command)} completed")
            return
        tag = command.tag
        assert self.mailbox is not None

        def done(removed: Any) -> None:
            self._pending_expunged.update(int(uid) for uid in removed)
            self._ok(tag, f"{_verb(command)} completed")

        def failed(error: BaseException) -> None:
            if isinstance(error, IMAPError):
                # The backend's own refusal (e.g. "[INUSE] ..." while POP3
                # holds the maildrop): the client shows the person why.
                self._no(tag, error.text)
                return
            self._log_failure("EXPUNGE", error)
            self._no(tag, "[UNAVAILABLE] Could not remove the letters, try again")

        self._call(self.mailbox.expunge, (uids,), done, failed)

    def _set_arg(self, command: IMAPCommand, count: int) -> SequenceSet | None:
        """The sequence set first argument (checking the argument count); None after a BAD."""
        if len(command.args) < count or not isinstance(command.args[0], str):
            self._bad(command.tag, f"Syntax: {_verb(command)} sequence-set ...")
            return None
        pieces = parse_sequence_set(command.args[0], self.settings.max_set_pieces)
        if pieces is None:
            self._bad(command.tag, "Invalid sequence set")
            return None
        return pieces

    def _resolve(self, pieces: SequenceSet, uid: bool) -> list[int]:
        """The UIDs a set names (UIDs or sequence numbers), ascending."""
        uids = self._uids
        numbers: Sequence[int] = uids if uid else range(1, len(uids) + 1)
        return [uids[i] for i in resolve_sequence_set(pieces, numbers)]

    def _seq(self, uid: int) -> int:
        return bisect_left(self._uids, uid) + 1

    # FETCH ------------------------------------------------------------------------------

    def do_FETCH(self, command: IMAPCommand) -> None:
        pieces = self._set_arg(command, 2)
        if pieces is None:
            return
        if len(command.args) > 3 or (
            len(command.args) == 3 and not isinstance(command.args[2], list)
        ):
            self._bad(command.tag, "Syntax: FETCH sequence-set items")
            return
        items = self._fetch_items(command.args[1])
        if items is None:
            self._bad(command.tag, "Invalid FETCH items")
            return
        if command.uid and not any(item.name == "UID" for item in items):
            items.insert(0, _FetchItem("UID"))
        uids = self._resolve(pieces, command.uid)
        mark = not self.readonly and any(
            (item.name == "SECTION" and not item.peek) or item.name in ("RFC822", "RFC822.TEXT")
            for item in items
        )
        to_mark = [uid for uid in uids if mark and "\\Seen" not in self._flags[uid]]
        state = _Fetch(command, items, uids, set(to_mark))
        if to_mark:
            assert self.mailbox is not None

            def stored(result: Any) -> None:
                self._apply_flags(result)
                self._fetch_next(state)

            def failed(error: BaseException) -> None:
                self._log_failure("marking letters read", error)
                state.seen = set()
                self._fetch_next(state)

            self._call(self.mailbox.store, (to_mark, frozenset({"\\Seen"}), "+"), stored, failed)
            return
        self._fetch_next(state)

    def _fetch_items(self, token: object) -> list[_FetchItem] | None:
        if isinstance(token, str) and token.upper() in _FETCH_MACROS:
            names: list[object] = list(_FETCH_MACROS[token.upper()])
        elif isinstance(token, list):
            names = token
            if not names:
                return None
        else:
            names = [token]
        items = []
        for name in names:
            if not isinstance(name, str):
                return None
            item = _fetch_item(name)
            if item is None:
                return None
            items.append(item)
        return items

    def _fetch_next(self, state: _Fetch) -> None:
        """Answer for the fetched messages from ``state.position`` on, reading as needed."""
        needs_bytes = any(
            item.name in _NEED_BYTES or item.name == "SECTION" for item in state.items
        )
        uids = state.uids
        while state.position < len(uids):
            uid = uids[state.position]
            if needs_bytes:
                assert self.mailbox is not None

                def read(data: Any, uid: int = uid) -> None:
                    state.position += 1
                    if not isinstance(data, (bytes, bytearray, memoryview)):
                        raise TypeError(f"message_bytes() gave {type(data).__name__}")
                    self._fetch_one(state, uid, crlf(bytes(data)))
                    self._fetch_next(state)

                def unreadable(error: BaseException, uid: int = uid) -> None:
                    state.position += 1
                    if uid not in self._pending_expunged:
                        self._log_failure(f"reading letter {uid}", error)
                    state.missing = True
                    self._fetch_next(state)

                self._call(self.mailbox.message_bytes, (uid,), read, unreadable)
                return
            self._fetch_one(state, uid, None)
            state.position += 1
        tag = state.command.tag
        if state.missing:
            self._no(
                tag,
                "Some of the letters could not be read (removed elsewhere?)",
                expunge=state.command.uid,
            )
        else:
            self._ok(tag, f"{_verb(state.command)} completed", expunge=state.command.uid)

    def _fetch_one(self, state: _Fetch, uid: int, data: bytes | None) -> None:
        info = self._infos[uid]
        flags = self._flags[uid]
        parts: list[bytes] = []
        part: Part | None = None
        # The MIME structure is read only for items that need it: a mail
        # app's sync asks BODY.PEEK[] (the octets as stored) of thousands.
        if data is not None and any(_needs_structure(item) for item in state.items):
            cached = self._parsed
            if cached is not None and cached[0] == uid:
                part = cached[1]
            else:
                part = Part(data)
                self._parsed = (uid, part)
        flags_sent = False
        for item in state.items:
            name = item.name
            if name == "FLAGS":
                parts.append(b"FLAGS " + _flag_list(flags))
                flags_sent = True
            elif name == "UID":
                parts.append(b"UID %d" % uid)
            elif name == "INTERNALDATE":
                parts.append(b"INTERNALDATE " + _internaldate(info.internaldate))
            elif name == "RFC822.SIZE":
                parts.append(b"RFC822.SIZE %d" % info.size)
            elif data is not None and part is None:
                # Whole octets only (RFC822, BODY[] and BODY.PEEK[], maybe partial).
                if name == "RFC822":
                    parts.append(b"RFC822 " + literal(data))
                elif name == "SECTION":
                    whole = data
                    label = item.label.encode()
                    if item.partial is not None:
                        start, length = item.partial
                        whole = whole[start : start + length]
                        label += b"<%d>" % start
                    parts.append(label + b" " + literal(whole))
            elif part is not None and data is not None:
                if name == "ENVELOPE":
                    parts.append(b"ENVELOPE " + envelope(part))
                elif name == "BODYSTRUCTURE":
                    parts.append(b"BODYSTRUCTURE " + body_structure(part, True))
                elif name == "BODY":
                    parts.append(b"BODY " + body_structure(part, False))
                elif name == "RFC822":
                    parts.append(b"RFC822 " + literal(data))
                elif name == "RFC822.HEADER":
                    parts.append(b"RFC822.HEADER " + literal(part.header))
                elif name == "RFC822.TEXT":
                    parts.append(b"RFC822.TEXT " + literal(part.body))
                elif name == "SECTION":
                    content = section_bytes(part, item.numbers, item.text, item.names)
                    label = item.label.encode()
                    if content is None:
                        parts.append(label + b" NIL")
                        continue
                    if item.partial is not None:
                        start, length = item.partial
                        content = content[start : start + length]
                        label += b"<%d>" % start
                    parts.append(label + b" " + literal(content))
        if uid in state.seen and not flags_sent:
            parts.append(b"FLAGS " + _flag_list(flags))
        seq = self._seq(uid)
        self._out.append(b"* %d FETCH (" % seq + b" ".join(parts) + b")\r\n")

    def _apply_flags(self, result: Any) -> None:
        for uid, flags in dict(result).items():
            uid = int(uid)
            if uid in self._flags:
                self._flags[uid] = frozenset(flags)

    # STORE ------------------------------------------------------------------------------

    def do_STORE(self, command: IMAPCommand) -> None:
        pieces = self._set_arg(command, 3)
        if pieces is None:
            return
        action = command.args[1]
        if not isinstance(action, str) or len(command.args) < 3:
            self._bad(command.tag, "Syntax: STORE set (+|-)FLAGS[.SILENT] (flags)")
            return
        match = re.fullmatch(r"([+-]?)FLAGS(\.SILENT)?", action, re.IGNORECASE)
        if match is None:
            self._bad(command.tag, "Syntax: STORE set (+|-)FLAGS[.SILENT] (flags)")
            return
        raw = (
            command.args[2]
            if len(command.args) == 3 and isinstance(command.args[2], list)
            else command.args[2:]
        )
        flags = set()
        for flag in raw:
            if not isinstance(flag, str) or not flag:
                self._bad(command.tag, "Invalid flag")
                return
            canonical = _SYSTEM_FLAGS.get(flag.lower())
            if canonical is None and flag.startswith("\\"):
                if flag.lower() == "\\recent":
                    continue
                self._bad(command.tag, f"Unknown system flag {flag[:40]}")
                return
            if canonical is None:
                continue  # keywords are not kept (PERMANENTFLAGS has no \*)
            if canonical in self.settings.permanent_flags:
                flags.add(canonical)
        if self.readonly:
            self._no(command.tag, "[READ-ONLY] Mailbox is read-only")
            return
        uids = self._resolve(pieces, command.uid)
        mode = match.group(1) or "="
        silent = bool(match.group(2))
        tag = command.tag
        if not uids:
            self._ok(tag, f"{_verb(command)} completed", expunge=command.uid)
            return
        assert self.mailbox is not None

        def done(result: Any) -> None:
            changed = dict(result)
            self._apply_flags(changed)
            if not silent:
                for uid in uids:
                    if uid in changed and uid in self._flags:
                        extra = b" UID %d" % uid if command.uid else b""
                        self._out.append(
                            b"* %d FETCH (FLAGS " % self._seq(uid)
                            + _flag_list(self._flags[uid])
                            + extra
                            + b")\r\n"
                        )
            for uid in uids:
                # The backend may tell this session's listener of its own change.
                if self._pending_flags.get(uid) == self._flags.get(uid):
                    self._pending_flags.pop(uid, None)
            self._ok(tag, f"{_verb(command)} completed", expunge=command.uid)

        def failed(error: BaseException) -> None:
            self._log_failure("STORE", error)
            self._no(tag, "[UNAVAILABLE] Could not change the flags, try again")

        self._call(self.mailbox.store, (uids, frozenset(flags), mode), done, failed)

    # SEARCH -----------------------------------------------------------------------------

    def do_SEARCH(self, command: IMAPCommand) -> None:
        args = list(command.args)
        charset = "UTF-8"
        if len(args) >= 2 and isinstance(args[0], str) and args[0].upper() == "CHARSET":
            name = _text(args[1]) or ""
            if name.upper() not in ("UTF-8", "US-ASCII"):
                self._no(command.tag, "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset")
                return
            charset = name.upper()
            args = args[2:]
        if len(args) >= 2 and isinstance(args[0], str) and args[0].upper() == "RETURN":
            self._bad(command.tag, "ESEARCH is not supported")
            return
        try:
            criteria = parse_search(args, charset, self.settings.max_set_pieces)
        except SearchError as error:
            self._bad(command.tag, str(error))
            return
        state = _Search(command, criteria, needs_message(criteria))
        self._search_next(state)

    def _search_next(self, state: _Search) -> None:
        uids = self._uids
        cache: dict[int, set[int]] = {}

        def in_set(pieces: SequenceSet, uid_set: bool, number: int) -> bool:
            key = id(pieces)
            found = cache.get(key)
            if found is None:
                found = cache[key] = (
                    set(self._resolve(pieces, uid_set))
                    if uid_set
                    else {i + 1 for i in resolve_sequence_set(pieces, range(1, len(uids) + 1))}
                )
            return number in found

        while state.position < len(uids):
            index = state.position
            uid = uids[index]
            if state.needs_bytes:
                assert self.mailbox is not None

                def read(data: Any, uid: int = uid, index: int = index) -> None:
                    state.position += 1
                    if not isinstance(data, (bytes, bytearray, memoryview)):
                        raise TypeError(f"message_bytes() gave {type(data).__name__}")
                    self._search_one(state, index, uid, Part(crlf(bytes(data))), in_set)
                    self._search_next(state)

                def unreadable(error: BaseException, uid: int = uid) -> None:
                    state.position += 1
                    self._search_next(state)

                self._call(self.mailbox.message_bytes, (uid,), read, unreadable)
                return
            self._search_one(state, index, uid, None, in_set)
            state.position += 1
        found = state.found
        self._out.append(("* SEARCH" + "".join(f" {n}" for n in found) + "\r\n").encode())
        self._ok(state.command.tag, f"{_verb(state.command)} completed", expunge=state.command.uid)

    def _search_one(
        self,
        state: _Search,
        index: int,
        uid: int,
        part: Part | None,
        in_set: Callable[[SequenceSet, bool, int], bool],
    ) -> None:
        info = self._infos[uid]
        candidate = Candidate(
            index + 1, uid, self._flags[uid], info.internaldate, info.size, part, in_set
        )
        if matches(state.criteria, candidate):
            state.found.append(uid if state.command.uid else index + 1)

    # COPY / MOVE ------------------------------------------------------------------------

    def do_COPY(self, command: IMAPCommand) -> None:
        self._copy(command, move=False)

    def do_MOVE(self, command: IMAPCommand) -> None:
        self._copy(command, move=True)

    def _copy(self, command: IMAPCommand, *, move: bool) -> None:
        pieces = self._set_arg(command, 2)
        if pieces is None:
            return
        if len(command.args) != 2 or (name := self._mailbox_arg(command.args[1])) is None:
            self._bad(command.tag, f"Syntax: {command.name} sequence-set mailbox")
            return
        if move and self.readonly:
            self._no(command.tag, "[READ-ONLY] Mailbox is read-only")
            return
        target = self._find_mailbox(name)
        if target is None:
            self._no(command.tag, "[TRYCREATE] No such mailbox")
            return
        uids = self._resolve(pieces, command.uid)
        tag = command.tag
        if not uids:
            self._ok(tag, f"{_verb(command)} completed")
            return
        assert self.mailbox is not None and self.account is not None
        account = self.account

        def done(result: Any) -> None:
            pairs = [(int(a), int(b)) for a, b in result]
            status = account.status(target)
            code = ""
            if pairs and status is not None:
                code = (
                    f"[COPYUID {int(status.uidvalidity)} "
                    f"{format_sequence_set(a for a, _ in pairs)} "
                    f"{format_sequence_set(b for _, b in pairs)}] "
                )
            if move:
                if code:
                    self._out.append(f"* OK {code}Moved\r\n".encode())
                self._pending_expunged.update(a for a, _ in pairs)
                self._ok(tag, f"{_verb(command)} completed")
            else:
                self._ok(tag, f"{code}{_verb(command)} completed")

        def failed(error: BaseException) -> None:
            if isinstance(error, IMAPError):
                self._no(tag, error.text)
            else:
                self._log_failure(command.name, error)
                self._no(tag, "[UNAVAILABLE] Could not copy the letters, try again")

        function = self.mailbox.move if move else self.mailbox.copy
        self._call(function, (uids, target), done, failed)

    # -- updates ------------------------------------------------------------------------

    def _wake(self) -> None:
        if self._idle_tag is not None and self.wakeup is not None:
            self.wakeup()

    def _deliver(self, *, expunge: bool) -> None:
        """Report the changes made elsewhere, as RFC 3501 7.4.1 allows here."""
        if self.mailbox is None:
            return
        out = self._out
        if expunge and self._pending_expunged:
            gone = self._pending_expunged
            self._pending_expunged = set()
            kept: list[int] = []
            removed = 0
            for index, uid in enumerate(self._uids):
                if uid in gone:
                    out.append(b"* %d EXPUNGE\r\n" % (index + 1 - removed))
                    removed += 1
                    del self._flags[uid]
                    del self._infos[uid]
                else:
                    kept.append(uid)
            if removed:
                self._uids = kept
                self._parsed = None
        if self._pending_added:
            added, self._pending_added = self._pending_added, []
            grew = False
            for info in sorted(added, key=lambda i: i.uid):
                uid = int(info.uid)
                if uid in self._flags or uid in self._pending_expunged:
                    continue
                if self._uids and uid < self._uids[-1]:
                    continue  # not above every UID: not a new message
                self._uids.append(uid)
                self._flags[uid] = frozenset(info.flags)
                self._infos[uid] = info
                grew = True
            if grew:
                out.append(b"* %d EXISTS\r\n" % len(self._uids))
        if self._pending_flags:
            changes, self._pending_flags = self._pending_flags, {}
            for uid, flags in sorted(changes.items()):
                if uid in self._flags and self._flags[uid] != flags:
                    self._flags[uid] = flags
                    out.append(
                        b"* %d FETCH (FLAGS " % self._seq(uid)
                        + _flag_list(flags)
                        + b" UID %d)\r\n" % uid
                    )

    def _close_mailbox(self) -> None:
        mailbox, self.mailbox = self.mailbox, None
        self._generation += 1
        self._idle_tag = None
        self._uids = []
        self._flags = {}
        self._infos = {}
        self._pending_added = []
        self._pending_flags = {}
        self._pending_expunged = set()
        self._parsed = None
        if mailbox is not None:
            try:
                mailbox.close()
            except Exception:
                log.exception("IMAP closing the mailbox failed")

    def _log_failure(self, what: str, error: BaseException) -> None:
        log.error("IMAP %s: %s failed: %r", self.peer, what, error, exc_info=error)


class _Fetch:
    __slots__ = ("command", "items", "uids", "seen", "position", "missing")

    def __init__(
        self, command: IMAPCommand, items: list[_FetchItem], uids: list[int], seen: set[int]
    ) -> None:
        self.command = command
        self.items = items
        self.uids = uids
        self.seen = seen
        self.position = 0
        self.missing = False


class _Search:
    __slots__ = ("command", "criteria", "needs_bytes", "position", "found")

    def __init__(self, command: IMAPCommand, criteria: Any, needs_bytes: bool) -> None:
        self.command = command
        self.criteria = criteria
        self.needs_bytes = needs_bytes
        self.position = 0
        self.found: list[int] = []


def _fetch_item(name: str) -> _FetchItem | None:
    upper = name.upper()
    if upper in _SIMPLE_ITEMS:
        return _FetchItem(upper)
    match = _SECTION_ITEM.fullmatch(name)
    if match is None:
        return None
    kind = match.group(1).upper()
    if kind.startswith("BINARY"):
        return None
    section = match.group(2)
    spec = _SECTION.fullmatch(section)
    if spec is None:
        return None
    numbers = tuple(int(n) for n in spec.group(1).split(".")) if spec.group(1) else ()
    text = (spec.group(2) or "").upper()
    names: tuple[str, ...] = ()
    if text.startswith("HEADER.FIELDS"):
        if spec.group(3) is None:
            return None
        names = tuple(n.strip('"') for n in spec.group(3).split() if n.strip('"'))
        if not names:
            return None
    elif spec.group(3) is not None:
        return None
    if text == "MIME" and not numbers:
        return None
    partial = None
    if match.group(3) is not None:
        partial = (int(match.group(3)), int(match.group(4)))
    label_section = section
    if text.startswith("HEADER.FIELDS"):
        prefix = section[: section.index("(")].strip().upper()
        label_section = f"{prefix} ({' '.join(n.upper() for n in names)})"
    else:
        label_section = section.upper()
    return _FetchItem(
        "SECTION",
        peek=kind == "BODY.PEEK",
        numbers=numbers,
        text=text,
        names=names,
        partial=partial,
        label=f"BODY[{label_section}]",
    )


def _verb(command: IMAPCommand) -> str:
    return f"UID {command.name}" if command.uid else command.name


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _clean(text: str) -> str:
    return _CONTROL.sub("?", text)[:300]


_SPECIAL_USE = {"\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash"}
_STATUS_ITEMS = {"MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN"}


def _pattern(pattern: str) -> Callable[[str], bool]:
    """A LIST pattern (``*`` anything, ``%`` anything but the ``/`` delimiter) as a matcher."""
    regex = "".join(
        ".*" if ch == "*" else "[^/]*" if ch == "%" else re.escape(ch) for ch in pattern[:200]
    )
    compiled = re.compile(regex, re.DOTALL)
    inbox = re.compile(regex, re.DOTALL | re.IGNORECASE)

    def match(name: str) -> bool:
        if name.upper() == "INBOX":
            return bool(inbox.fullmatch(name))
        return bool(compiled.fullmatch(name))

    return match


_ANY = (NOT_AUTHENTICATED, AUTHENTICATED, SELECTED)
_PRE = (NOT_AUTHENTICATED,)
_AUTH = (AUTHENTICATED, SELECTED)
_SEL = (SELECTED,)

_HANDLERS: dict[str, tuple[tuple[str, ...], bool, Callable[[IMAPSession, IMAPCommand], None]]] = {
    "CAPABILITY": (_ANY, False, IMAPSession.do_CAPABILITY),
    "NOOP": (_ANY, False, IMAPSession.do_NOOP),
    "LOGOUT": (_ANY, False, IMAPSession.do_LOGOUT),
    "ID": (_ANY, False, IMAPSession.do_ID),
    "STARTTLS": (_PRE, False, IMAPSession.do_STARTTLS),
    "LOGIN": (_PRE, False, IMAPSession.do_LOGIN),
    "AUTHENTICATE": (_PRE, False, IMAPSession.do_AUTHENTICATE),
    "SELECT": (_AUTH, False, IMAPSession.do_SELECT),
    "EXAMINE": (_AUTH, False, IMAPSession.do_EXAMINE),
    "LIST": (_AUTH, False, IMAPSession.do_LIST),
    "LSUB": (_AUTH, False, IMAPSession.do_LSUB),
    "STATUS": (_AUTH, False, IMAPSession.do_STATUS),
    "NAMESPACE": (_AUTH, False, IMAPSession.do_NAMESPACE),
    "ENABLE": (_AUTH, False, IMAPSession.do_ENABLE),
    "SUBSCRIBE": (_AUTH, False, IMAPSession.do_SUBSCRIBE),
    "UNSUBSCRIBE": (_AUTH, False, IMAPSession.do_UNSUBSCRIBE),
    "CREATE": (_AUTH, False, IMAPSession.do_CREATE),
    "DELETE": (_AUTH, False, IMAPSession.do_DELETE),
    "RENAME": (_AUTH, False, IMAPSession.do_RENAME),
    "APPEND": (_AUTH, False, IMAPSession.do_APPEND),
    "IDLE": (_AUTH, False, IMAPSession.do_IDLE),
    "CHECK": (_SEL, False, IMAPSession.do_CHECK),
    "CLOSE": (_SEL, False, IMAPSession.do_CLOSE),
    "UNSELECT": (_SEL, False, IMAPSession.do_UNSELECT),
    "EXPUNGE": (_SEL, True, IMAPSession.do_EXPUNGE),
    "FETCH": (_SEL, True, IMAPSession.do_FETCH),
    "STORE": (_SEL, True, IMAPSession.do_STORE),
    "SEARCH": (_SEL, True, IMAPSession.do_SEARCH),
    "COPY": (_SEL, True, IMAPSession.do_COPY),
    "MOVE": (_SEL, True, IMAPSession.do_MOVE),
}


def run_sync(session: IMAPSession, actions: list[IMAPAction]) -> list[IMAPAction]:
    """Carry out the :class:`Call` actions of a session whose backend answers at once.

    For tests and simple callers: returns the other actions, in order, with
    each call's result fed back (iteratively, however many calls a command
    makes). A call that returns a Deferred is an error here.
    """
    out: list[IMAPAction] = []
    pending = list(actions)
    while pending:
        action = pending.pop(0)
        if type(action) is Call:
            assert isinstance(action, Call)
            try:
                result = action.function(*action.args)
            except Exception as error:
                more = session.call_failed(error)
            else:
                more = session.call_done(result)
            pending = more + pending
        else:
            out.append(action)
    return out


#: FETCH items answered from the stored octets alone, without the MIME structure.
_WHOLE_OCTETS = frozenset({"FLAGS", "UID", "INTERNALDATE", "RFC822.SIZE", "RFC822"})


def _needs_structure(item: Any) -> bool:
    """Whether a FETCH item needs the message parsed (headers, parts, envelope)."""
    if item.name == "SECTION":
        return bool(item.numbers) or bool(item.text)
    return item.name not in _WHOLE_OCTETS
