"""An in-memory SMTP delivery backend and session helpers for the SMTP tests."""

from __future__ import annotations

from typing import Any

from reality.net.defer import Deferred, fail, succeed
from reality.net.protocol import Address
from reality.net.protocols.smtp import (
    ACCEPT,
    RELAY_DENIED,
    UNKNOWN_USER,
    Envelope,
    RecipientVerdict,
    SMTPServerFactory,
    SMTPServerProtocol,
    SMTPSettings,
)
from reality.net.testing import Clock, StringTransportWithDisconnection

HOST = "mx.example.test"
WALL = 1_700_000_000.0  # Tue, 14 Nov 2023 22:13:20 +0000
SETTINGS = SMTPSettings(hostname=HOST, wall_clock=lambda: WALL)
GREETING = b"220 mx.example.test ESMTP Reality\r\n"
EHLO_REPLY = (
    b"250-mx.example.test\r\n"
    b"250-SIZE 1048576\r\n"
    b"250-8BITMIME\r\n"
    b"250-PIPELINING\r\n"
    b"250-ENHANCEDSTATUSCODES\r\n"
    b"250 HELP\r\n"
)


class FakeBackend:
    """Mailboxes for some users at one domain, kept in a list.

    With ``hold=True`` every answer is a Deferred that fires only when the
    test calls :meth:`release` (one) or :meth:`release_all`.
    """

    def __init__(
        self,
        users: tuple[str, ...] = ("alice", "bob"),
        domain: str = "example.test",
        hold: bool = False,
    ) -> None:
        self.users = {u.lower() for u in users}
        self.domain = domain
        self.hold = hold
        self.checked: list[str] = []
        self.delivered: list[Envelope] = []
        self.pending: list[tuple[Deferred[Any], Any]] = []
        self.fail_delivery: BaseException | None = None

    def verdict(self, address: str) -> RecipientVerdict:
        local, _, domain = address.rpartition("@")
        if domain.lower() != self.domain:
            return RELAY_DENIED
        return ACCEPT if local.lower() in self.users else UNKNOWN_USER

    def check_recipient(self, address: str) -> Any:
        self.checked.append(address)
        return self._answer(lambda: self.verdict(address))

    def deliver(self, envelope: Envelope) -> Deferred[Any]:
        def commit() -> None:
            if self.fail_delivery is not None:
                raise self.fail_delivery
            self.delivered.append(envelope)

        return self._answer(commit)

    def _answer(self, compute: Any) -> Any:
        if self.hold:
            d: Deferred[Any] = Deferred()
            self.pending.append((d, compute))
            return d
        try:
            return succeed(compute())
        except Exception as exc:
            return fail(exc)

    def release(self) -> None:
        d, compute = self.pending.pop(0)
        try:
            result = compute()
        except Exception as exc:
            d.errback(exc)
        else:
            d.callback(result)

    def release_all(self) -> None:
        while self.pending:
            self.release()


class Session:
    """A server protocol on a StringTransport with a fake clock."""

    def __init__(
        self,
        backend: Any = None,
        settings: SMTPSettings = SETTINGS,
        peer: Address | None = None,
    ) -> None:
        self.backend = backend if backend is not None else FakeBackend()
        self.clock = Clock()
        self.factory = SMTPServerFactory(self.backend, self.clock, settings)
        self.transport = StringTransportWithDisconnection(peer=peer)
        self.protocol: SMTPServerProtocol = self.factory.build_protocol(self.transport.get_peer())
        self.transport.protocol = self.protocol
        self.protocol.make_connection(self.transport)

    def send(self, data: bytes) -> bytes:
        """Send bytes; return what the server wrote in answer."""
        self.protocol.data_received(data)
        return self.transport.take()

    def take(self) -> bytes:
        return self.transport.take()

    @property
    def closed(self) -> bool:
        return self.transport.disconnecting


def greeted(backend: Any = None, **kwargs: Any) -> Session:
    """A session past the greeting and EHLO."""
    session = Session(backend, **kwargs)
    assert session.take() == GREETING
    size = str(session.protocol.settings.max_message_size).encode()
    assert session.send(b"EHLO client.example\r\n") == EHLO_REPLY.replace(b"1048576", size)
    return session
