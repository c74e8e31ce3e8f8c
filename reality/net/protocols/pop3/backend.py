"""What a POP3 server asks of the place mailboxes live, and how that place says no.

A :class:`POP3Backend` authenticates and lends a :class:`Mailbox` for the
session (holding its lock); a refusal is a :class:`POP3AuthError`, whose
subclass picks the RFC 2449 / RFC 3206 response code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from reality.net.defer import Deferred
    from reality.net.protocol import Address

__all__ = [
    "BadCredentials",
    "LoginThrottled",
    "Mailbox",
    "MailboxInUse",
    "POP3AuthError",
    "POP3Backend",
]


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


class Mailbox(Protocol):
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


class POP3Backend(Protocol):
    """Where mailboxes come from."""

    def authenticate(
        self, user: str, password: str, peer: Address | None
    ) -> Mailbox | Deferred[Mailbox]:
        """Check the credentials and lock the mailbox for this session.

        Fail with :class:`BadCredentials`, :class:`MailboxInUse`,
        :class:`LoginThrottled` (or another :class:`POP3AuthError`); any
        other exception gives ``-ERR [SYS/TEMP]``.
        """
