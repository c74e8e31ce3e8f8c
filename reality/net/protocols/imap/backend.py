"""What an IMAP server asks of the place mailboxes live, and how that place says no.

The contract, in three objects:

- :class:`IMAPBackend` checks a user name and password and gives an
  :class:`IMAPAccount` (or refuses with an :class:`IMAPAuthError`, whose
  subclass picks the RFC 5530 response code);
- :class:`IMAPAccount` lists the account's mailboxes (:class:`MailboxInfo`),
  answers ``STATUS`` (:class:`MailboxStatus`) and opens one mailbox for a
  session's ``SELECT``/``EXAMINE``;
- :class:`IMAPMailbox` is one open mailbox: its messages
  (:class:`MessageInfo`, ascending UID), their bytes, and the changes a
  client may make (flags, expunge, copy, move).

The session gives :meth:`IMAPAccount.open` a :class:`MailboxListener` (the
session itself) that the backend calls when the mailbox changes from
elsewhere: the game, SMTP, POP3 or another IMAP session. It may call the
listener of the session making a change too: the session ignores what it
already knows (a UID it has already expunged, added or been told of).
Listener calls may come at any time on the reactor's thread, also from
inside one of the calls below; the session only queues them.

Methods marked "Deferred-or-value" may return the value or a
:class:`~reality.net.defer.Deferred` of it (a slow store); the others must
answer at once. Any exception other than the ones named gives the client a
tagged ``NO [UNAVAILABLE]`` (and a log line with the traceback), never a
dropped connection.

Messages are RFC 5322 bytes with CRLF line ends; ``MessageInfo.size`` is
their length, so that ``RFC822.SIZE`` is exactly what ``BODY[]`` sends.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, Protocol

from attrs import frozen

if TYPE_CHECKING:
    from reality.net.defer import Deferred
    from reality.net.protocol import Address

__all__ = [
    "BadCredentials",
    "IMAPAccount",
    "IMAPAuthError",
    "IMAPBackend",
    "IMAPError",
    "IMAPMailbox",
    "LoginThrottled",
    "MailboxInfo",
    "MailboxListener",
    "MailboxStatus",
    "MessageInfo",
    "PlaintextRefused",
    "StoreMode",
]

#: How :meth:`IMAPMailbox.store` changes flags: add, remove, replace.
StoreMode = Literal["+", "-", "="]


class IMAPError(Exception):
    """A refusal the client should see as a tagged ``NO``.

    ``text`` is sent as it is, so it may start with a response code:
    ``IMAPError("[TRYCREATE] No such mailbox")``.
    """

    def __init__(self, text: str = "Cannot do that") -> None:
        super().__init__(text)
        self.text = text


class IMAPAuthError(Exception):
    """Authentication did not give an account; the subclass says why.

    ``response_code`` is the RFC 5530 code sent in brackets with the
    tagged ``NO``; ``text`` the human part (a default per subclass).
    """

    response_code = "UNAVAILABLE"
    default_text = "Authentication is not possible now, try again later"

    def __init__(self, text: str | None = None) -> None:
        super().__init__(text or self.default_text)
        self.text = text or self.default_text


class BadCredentials(IMAPAuthError):
    """Wrong user name or password: ``NO [AUTHENTICATIONFAILED]``."""

    response_code = "AUTHENTICATIONFAILED"
    default_text = "Invalid user name or password"


class LoginThrottled(IMAPAuthError):
    """Too many failed logins lately, or a ban: ``NO [UNAVAILABLE]``.

    Temporary, so the mail app tries again later instead of asking the
    person for a new password that may well be right.
    """

    response_code = "UNAVAILABLE"
    default_text = "Too many failed logins, try again later"


class PlaintextRefused(IMAPAuthError):
    """Login without TLS is not allowed here: ``NO [PRIVACYREQUIRED]``."""

    response_code = "PRIVACYREQUIRED"
    default_text = "Log in over TLS (STARTTLS or IMAPS)"


@frozen
class MailboxInfo:
    """A mailbox of the account: its name (``/`` separates levels) and its
    LIST attributes, such as RFC 6154's ``("\\\\Sent",)``."""

    name: str
    attributes: tuple[str, ...] = ()


@frozen
class MailboxStatus:
    """What ``STATUS`` reports of a mailbox (RFC 3501 6.3.10)."""

    messages: int
    recent: int
    uidnext: int
    uidvalidity: int
    unseen: int


@frozen
class MessageInfo:
    """One message as a mailbox lists it.

    ``flags`` are IMAP system flags (``\\\\Seen``, ``\\\\Answered``,
    ``\\\\Flagged``, ``\\\\Deleted``, ``\\\\Draft``) and keywords;
    ``internaldate`` is a POSIX timestamp (when it arrived); ``size`` the
    octets of :meth:`IMAPMailbox.message_bytes`.
    """

    uid: int
    flags: frozenset[str]
    internaldate: float
    size: int


class MailboxListener(Protocol):
    """What the backend tells a session about changes made elsewhere.

    Implemented by the session (:class:`~.session.IMAPSession`); the
    session reports them as ``EXISTS``, ``FETCH`` and ``EXPUNGE`` at the
    next point RFC 3501 7.4.1 allows (at once while the client idles).
    """

    def added(self, infos: Sequence[MessageInfo]) -> None:
        """New messages, with UIDs above every UID the mailbox had."""

    def flags_changed(self, uid: int, flags: frozenset[str]) -> None:
        """The message ``uid`` has these flags now."""

    def expunged(self, uids: Sequence[int]) -> None:
        """These messages are gone (committed)."""


class IMAPMailbox(Protocol):
    """One mailbox opened for one session, until :meth:`close`."""

    #: RFC 3501 2.3.1.1: never the same for two incarnations of the mailbox.
    uidvalidity: int
    #: The UID the next message will get (above all that exist).
    uidnext: int

    def messages(self) -> Sequence[MessageInfo]:
        """The messages now, ascending by UID (at SELECT; changes come by the listener)."""

    def message_bytes(self, uid: int) -> bytes | Deferred[bytes]:
        """The whole message (CRLF line ends). Deferred-or-value.

        Fails (``KeyError`` or any error) for a message that is gone.
        """

    def store(
        self, uids: Sequence[int], flags: frozenset[str], mode: StoreMode
    ) -> dict[int, frozenset[str]] | Deferred[dict[int, frozenset[str]]]:
        """Add (``+``), remove (``-``) or set (``=``) ``flags`` on these messages.

        Persisted before it answers; gives the new flags of each message
        that still exists. Deferred-or-value.
        """

    def expunge(self, uids: Sequence[int]) -> Sequence[int] | Deferred[Sequence[int]]:
        """Remove these messages (all flagged ``\\\\Deleted``); gives the UIDs removed.

        Committed before it answers. Deferred-or-value.
        """

    def copy(
        self, uids: Sequence[int], target: str
    ) -> Sequence[tuple[int, int]] | Deferred[Sequence[tuple[int, int]]]:
        """Copy these messages to the mailbox ``target``; gives ``(uid, new uid)`` pairs.

        Raise :class:`IMAPError` (``"[TRYCREATE] ..."`` for a mailbox that
        does not exist, ``"[CANNOT] ..."`` for one that cannot take them).
        Deferred-or-value.
        """

    def move(
        self, uids: Sequence[int], target: str
    ) -> Sequence[tuple[int, int]] | Deferred[Sequence[tuple[int, int]]]:
        """Like :meth:`copy`, and remove the originals, in one transaction (RFC 6851)."""

    def close(self) -> None:
        """The session is done with the mailbox. Called exactly once."""


class IMAPAccount(Protocol):
    """One logged-in user's mailboxes, for the length of a session."""

    def mailboxes(self) -> Sequence[MailboxInfo]:
        """Every mailbox of the account (``INBOX`` first, by convention)."""

    def status(self, name: str) -> MailboxStatus | None:
        """``STATUS`` of the mailbox ``name``; None if there is none."""

    def open(self, name: str, *, readonly: bool, listener: MailboxListener) -> IMAPMailbox | None:
        """Open ``name`` for ``SELECT`` (``readonly``: ``EXAMINE``); None if there is none."""

    def logout(self) -> None:
        """The session is over. Called exactly once, after any mailbox is closed."""


class IMAPBackend(Protocol):
    """Where accounts come from."""

    def authenticate(
        self, user: str, password: str, peer: Address | None
    ) -> IMAPAccount | Deferred[IMAPAccount]:
        """Check the credentials (Deferred-or-value).

        Fail with :class:`BadCredentials`, :class:`LoginThrottled`,
        :class:`PlaintextRefused` or another :class:`IMAPAuthError`; any
        other exception gives ``NO [UNAVAILABLE]``.
        """
