"""An in-memory SMTP delivery backend and session helpers for the SMTP tests."""

from __future__ import annotations

from typing import Any

from held_answers import HeldAnswers

from reality.net.defer import Deferred
from reality.net.protocol import Address
from reality.net.protocols.smtp import (
    ACCEPT,
    RELAY_DENIED,
    UNKNOWN_USER,
    Envelope,
    RecipientVerdict,
    SMTPServerFactory,
    SMTPSettings,
)
from reality.net.testing import Clock, FakeConnection

HOST = "mx.example.test"
WALL = 1_700_000_000.0  # Tue, 14 Nov 2023 22:13:20 +0000
SETTINGS = SMTPSettings(hostname=HOST, wall_clock=lambda: WALL)
GREETING = b"220 mx.example.test ESMTP Reality\r\n"
EHLO_REPLY = (
    b"250-mx.example.test\r\n"
    b"250-SIZE 1048576\r\n"
    b"250-8BITMIME\r\n"
    b"250-SMTPUTF8\r\n"
    b"250-PIPELINING\r\n"
    b"250-ENHANCEDSTATUSCODES\r\n"
    b"250 HELP\r\n"
)


class FakeBackend(HeldAnswers):
    """Mailboxes for some users at one domain, kept in a list (``hold``: see HeldAnswers)."""

    def __init__(
        self,
        users: tuple[str, ...] = ("alice", "bob"),
        domain: str = "example.test",
        hold: bool = False,
    ) -> None:
        super().__init__(hold)
        self.users = {u.lower() for u in users}
        self.domain = domain
        self.checked: list[str] = []
        self.delivered: list[Envelope] = []
        self.fail_delivery: BaseException | None = None

    def verdict(self, address: str) -> RecipientVerdict:
        local, _, domain = address.rpartition("@")
        if domain.lower() != self.domain:
            return RELAY_DENIED
        return ACCEPT if local.lower() in self.users else UNKNOWN_USER

    def check_recipient(self, address: str) -> Any:
        self.checked.append(address)
        return self.answer(lambda: self.verdict(address))

    def deliver(self, envelope: Envelope) -> Deferred[Any]:
        def commit() -> None:
            if self.fail_delivery is not None:
                raise self.fail_delivery
            self.delivered.append(envelope)

        return self.answer(commit)


class Session(FakeConnection):
    """An SMTP server protocol on a StringTransport with a fake clock."""

    def __init__(
        self,
        backend: Any = None,
        settings: SMTPSettings = SETTINGS,
        peer: Address | None = None,
    ) -> None:
        self.backend = backend if backend is not None else FakeBackend()
        self.clock = Clock()
        self.factory = SMTPServerFactory(self.backend, self.clock, settings)
        super().__init__(self.factory, peer)


def greeted(backend: Any = None, **kwargs: Any) -> Session:
    """A session past the greeting and EHLO."""
    session = Session(backend, **kwargs)
    assert session.take() == GREETING
    size = str(session.protocol.settings.max_message_size).encode()
    assert session.send(b"EHLO client.example\r\n") == EHLO_REPLY.replace(b"1048576", size)
    return session
