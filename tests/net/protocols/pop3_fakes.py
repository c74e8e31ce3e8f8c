"""An in-memory POP3 backend (mailboxes with locks) and session helpers for the POP3 tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from held_answers import HeldAnswers

from reality.net.defer import fail
from reality.net.protocol import Address
from reality.net.protocols.pop3 import (
    BadCredentials,
    LoginThrottled,
    MailboxInUse,
    POP3ServerFactory,
    POP3Settings,
)
from reality.net.testing import Clock, FakeConnection

HOST = "pop.example.test"
SETTINGS = POP3Settings(hostname=HOST)
GREETING = b"+OK pop.example.test POP3 server ready\r\n"

M1 = b"From: a@b\r\nSubject: one\r\n\r\nHello\r\n.hidden\r\n.\r\nbye\r\n"
M2 = b"Subject: two\n\nline1\nline2\nline3\n"  # stored with bare LF line ends
M3 = b"Subject: three\r\n"  # headers only


def crlf_size(data: bytes) -> int:
    return len(data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))


class FakeMailbox:
    """One user's messages, as a backend would lend them to a session."""

    def __init__(self, backend: FakePOP3Backend, user: str) -> None:
        self.backend = backend
        self.user = user
        self.released = 0
        self.commits: list[list[int]] = []

    def list_messages(self) -> list[tuple[str, int]]:
        return [(uid, crlf_size(data)) for uid, data in self.backend.messages[self.user]]

    def message(self, index: int) -> Any:
        if self.backend.fail_read:
            return fail(OSError("disk error"))
        return self.backend.answer(lambda: self.backend.messages[self.user][index][1])

    def commit_deletions(self, indices: Sequence[int]) -> Any:
        self.commits.append(list(indices))

        def commit() -> None:
            if self.backend.fail_commit:
                raise OSError("database is locked")
            doomed = set(indices)
            kept = [m for i, m in enumerate(self.backend.messages[self.user]) if i not in doomed]
            self.backend.messages[self.user] = kept

        return self.backend.answer(commit)

    def release(self) -> None:
        self.released += 1
        self.backend.locked.discard(self.user)


class FakePOP3Backend(HeldAnswers):
    """Users with passwords and messages; locks; throttling after 3 failures.

    ``hold``: see HeldAnswers.
    """

    def __init__(self, hold: bool = False) -> None:
        super().__init__(hold)
        self.passwords = {"alice": "secret", "bob": "two words"}
        self.messages: dict[str, list[tuple[str, bytes]]] = {
            "alice": [("uid-1", M1), ("uid-2", M2), ("uid-3", M3)],
            "bob": [],
        }
        self.locked: set[str] = set()
        self.failures: dict[str, int] = {}
        self.mailboxes: list[FakeMailbox] = []
        self.fail_commit = False
        self.fail_read = False
        self.seen_peers: list[Address | None] = []

    def authenticate(self, user: str, password: str, peer: Address | None) -> Any:
        self.seen_peers.append(peer)

        def check() -> FakeMailbox:
            if self.failures.get(user, 0) >= 3:
                raise LoginThrottled()
            if self.passwords.get(user) != password:
                self.failures[user] = self.failures.get(user, 0) + 1
                raise BadCredentials()
            if user in self.locked:
                raise MailboxInUse()
            self.locked.add(user)
            mailbox = FakeMailbox(self, user)
            self.mailboxes.append(mailbox)
            return mailbox

        return self.answer(check)


class Session(FakeConnection):
    """A POP3 server protocol on a StringTransport with a fake clock."""

    def __init__(self, backend: Any = None, settings: POP3Settings = SETTINGS) -> None:
        self.backend = backend if backend is not None else FakePOP3Backend()
        self.clock = Clock()
        self.factory = POP3ServerFactory(self.backend, self.clock, settings)
        super().__init__(self.factory)


def logged_in(backend: Any = None, **kwargs: Any) -> Session:
    """A session in the TRANSACTION state as alice."""
    session = Session(backend, **kwargs)
    assert session.take() == GREETING
    assert session.send(b"USER alice\r\nPASS secret\r\n") == (
        b"+OK Send PASS\r\n+OK Logged in, 3 messages (104 octets)\r\n"
    )
    return session
