"""What an SMTP server asks of the place mail goes, and what that place answers.

The server (the session and its adapter) decides everything of RFC 5321;
a :class:`DeliveryBackend` decides only who may receive mail here
(:meth:`DeliveryBackend.check_recipient`, answered with a
:class:`RecipientVerdict`) and stores what is accepted
(:meth:`DeliveryBackend.deliver` of an :class:`Envelope`, refused with a
:class:`DeliveryError`). It never sees a byte of the wire.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from attrs import define, frozen

if TYPE_CHECKING:
    from reality.net.defer import Deferred
    from reality.net.protocol import Address

__all__ = [
    "ACCEPT",
    "RELAY_DENIED",
    "UNKNOWN_USER",
    "DeliveryBackend",
    "DeliveryError",
    "Envelope",
    "RecipientVerdict",
]


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


class DeliveryBackend(Protocol):
    """Where accepted mail goes. The server calls it; it never sees bytes of the wire.

    Both methods may return their result directly or as a Deferred; a
    Deferred pauses the session (later pipelined commands wait their turn).
    """

    def check_recipient(self, address: str) -> RecipientVerdict | Deferred[RecipientVerdict]:
        """Decide on one ``RCPT TO`` address (syntax already checked, case as sent).

        Return :data:`ACCEPT`, :data:`UNKNOWN_USER`, :data:`RELAY_DENIED` or
        any other :class:`RecipientVerdict`. An exception gives ``451 4.3.0``.
        """
        ...

    def deliver(self, envelope: Envelope) -> Deferred[Any] | Any:
        """Store the message durably; fire (with anything) once it is committed.

        The client gets ``250`` only when this fires. Fail with
        :class:`DeliveryError` to refuse the message with its own reply;
        any other failure gives ``451 4.3.0`` (the client will retry).
        """
        ...
