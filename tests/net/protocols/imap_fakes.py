"""An in-memory IMAP backend (two mailboxes a user, listeners) and helpers for the IMAP tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from held_answers import HeldAnswers

from reality.net.protocol import Address
from reality.net.protocols.imap import (
    BadCredentials,
    IMAPError,
    IMAPSession,
    IMAPSettings,
    LoginThrottled,
    MailboxInfo,
    MailboxListener,
    MailboxStatus,
    MessageInfo,
    run_sync,
)

HOST = "imap.example.test"
SETTINGS = IMAPSettings(hostname=HOST)
T0 = 1_700_000_000.0  # 14-Nov-2023 22:13:20 +0000

SIMPLE = (
    b"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
    b"From: Bob Smith <bob@example.test>\r\n"
    b"To: alice@example.test\r\n"
    b"Subject: Hello there\r\n"
    b"Message-ID: <1@example.test>\r\n"
    b"\r\n"
    b"Hi Alice,\r\nthe key is under the mat.\r\n"
)

MULTIPART = (
    b"From: Carol <carol@example.test>\r\n"
    b"To: alice@example.test\r\n"
    b"Subject: Map\r\n"
    b"Date: Wed, 15 Nov 2023 10:00:00 +0100\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="XYZ"\r\n'
    b"\r\n"
    b"preamble\r\n"
    b"--XYZ\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"Caf=C3=A9 at noon.\r\n"
    b"--XYZ\r\n"
    b"Content-Type: image/png; name=map.png\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b'Content-Disposition: attachment; filename="map.png"\r\n'
    b"\r\n"
    b"iVBORw0KGgo=\r\n"
    b"--XYZ--\r\n"
    b"epilogue\r\n"
)


class Store:
    """All users' mailboxes, shared by every session (as the post office is)."""

    def __init__(self) -> None:
        self.passwords: dict[str, str] = {"alice": "secret"}
        self.throttled: set[str] = set()
        # user -> mailbox -> uid -> [flags, internaldate, bytes]
        self.boxes: dict[str, dict[str, dict[int, list[Any]]]] = {
            "alice": {"INBOX": {}, "Sent": {}}
        }
        self.uidnext: dict[tuple[str, str], int] = {("alice", "INBOX"): 1, ("alice", "Sent"): 1}
        self.uidvalidity = 1700000000
        self.listeners: dict[tuple[str, str], list[MailboxListener]] = {}
        self.answers = HeldAnswers()
        self.deferred = False  # answer with Deferreds (fired, or held)
        self.closed = 0
        self.logouts = 0

    def deliver(
        self, user: str, box: str, data: bytes, flags: Sequence[str] = (), when: float = T0
    ) -> int:
        uid = self.uidnext[(user, box)]
        self.uidnext[(user, box)] = uid + 1
        self.boxes[user][box][uid] = [frozenset(flags), when, data]
        info = MessageInfo(uid, frozenset(flags), when, len(data))
        for listener in list(self.listeners.get((user, box), ())):
            listener.added([info])
        return uid

    def set_flags(self, user: str, box: str, uid: int, flags: frozenset[str]) -> None:
        self.boxes[user][box][uid][0] = flags
        for listener in list(self.listeners.get((user, box), ())):
            listener.flags_changed(uid, flags)

    def remove(self, user: str, box: str, uids: Sequence[int]) -> list[int]:
        gone = [uid for uid in uids if self.boxes[user][box].pop(uid, None) is not None]
        if gone:
            for listener in list(self.listeners.get((user, box), ())):
                listener.expunged(gone)
        return gone

    def answer(self, compute: Any) -> Any:
        if self.deferred:
            return self.answers.answer(compute)
        return compute()


class FakeMailbox:
    def __init__(self, store: Store, user: str, name: str, listener: MailboxListener) -> None:
        self.st = store
        self.user = user
        self.name = name
        self.listener = listener
        self.uidvalidity = store.uidvalidity + (0 if name == "INBOX" else 1)
        self.closed = 0
        store.listeners.setdefault((user, name), []).append(listener)

    @property
    def uidnext(self) -> int:
        return self.st.uidnext[(self.user, self.name)]

    def _box(self) -> dict[int, list[Any]]:
        return self.st.boxes[self.user][self.name]

    def messages(self) -> list[MessageInfo]:
        return [
            MessageInfo(uid, entry[0], entry[1], len(entry[2]))
            for uid, entry in sorted(self._box().items())
        ]

    def message_bytes(self, uid: int) -> Any:
        return self.st.answer(lambda: self._box()[uid][2])

    def store_flags(
        self, uids: Sequence[int], flags: frozenset[str], mode: str
    ) -> dict[int, frozenset[str]]:
        out = {}
        for uid in uids:
            if uid not in self._box():
                continue
            old = self._box()[uid][0]
            new = old | flags if mode == "+" else old - flags if mode == "-" else flags
            if new != old:
                self.st.set_flags(self.user, self.name, uid, frozenset(new))
            out[uid] = frozenset(new)
        return out

    def store(self, uids: Sequence[int], flags: frozenset[str], mode: str) -> Any:
        return self.st.answer(lambda: self.store_flags(uids, flags, mode))

    def expunge(self, uids: Sequence[int]) -> Any:
        return self.st.answer(lambda: self.st.remove(self.user, self.name, uids))

    def _copy(self, uids: Sequence[int], target: str) -> list[tuple[int, int]]:
        if target not in self.st.boxes[self.user]:
            raise IMAPError("[TRYCREATE] No such mailbox")
        if target == self.name:
            raise IMAPError("[CANNOT] Already there")
        pairs = []
        for uid in uids:
            entry = self._box().get(uid)
            if entry is not None:
                new = self.st.deliver(self.user, target, entry[2], sorted(entry[0]), entry[1])
                pairs.append((uid, new))
        return pairs

    def copy(self, uids: Sequence[int], target: str) -> Any:
        return self.st.answer(lambda: self._copy(uids, target))

    def move(self, uids: Sequence[int], target: str) -> Any:
        def move() -> list[tuple[int, int]]:
            pairs = self._copy(uids, target)
            self.st.remove(self.user, self.name, [a for a, _ in pairs])
            return pairs

        return self.st.answer(move)

    def close(self) -> None:
        self.closed += 1
        self.st.closed += 1
        self.st.listeners[(self.user, self.name)].remove(self.listener)


class FakeAccount:
    def __init__(self, store: Store, user: str) -> None:
        self.store = store
        self.user = user
        self.opened: list[FakeMailbox] = []

    def mailboxes(self) -> list[MailboxInfo]:
        return [MailboxInfo("INBOX"), MailboxInfo("Sent", ("\\Sent",))]

    def status(self, name: str) -> MailboxStatus | None:
        box = self.store.boxes[self.user].get(name)
        if box is None:
            return None
        unseen = sum(1 for entry in box.values() if "\\Seen" not in entry[0])
        return MailboxStatus(
            len(box),
            0,
            self.store.uidnext[(self.user, name)],
            self.store.uidvalidity + (0 if name == "INBOX" else 1),
            unseen,
        )

    def open(self, name: str, *, readonly: bool, listener: MailboxListener) -> FakeMailbox | None:
        if name not in self.store.boxes[self.user]:
            return None
        mailbox = FakeMailbox(self.store, self.user, name, listener)
        self.opened.append(mailbox)
        return mailbox

    def logout(self) -> None:
        self.store.logouts += 1


class FakeBackend:
    def __init__(self, store: Store | None = None) -> None:
        self.store = store if store is not None else Store()
        self.accounts: list[FakeAccount] = []

    def authenticate(self, user: str, password: str, peer: Address | None) -> Any:
        def check() -> FakeAccount:
            if user in self.store.throttled:
                raise LoginThrottled()
            if self.store.passwords.get(user) != password:
                raise BadCredentials()
            account = FakeAccount(self.store, user)
            self.accounts.append(account)
            return account

        return self.store.answer(check)


def new_session(
    store: Store | None = None, settings: IMAPSettings = SETTINGS
) -> tuple[IMAPSession, Store]:
    backend = FakeBackend(store)
    return IMAPSession(backend, settings), backend.store


def feed(session: IMAPSession, data: bytes) -> bytes:
    """Send ``data``; return every response written, with sync backend calls carried out."""
    out: list[bytes] = []
    session.receive_data(data)
    while True:
        actions = session.next_actions()
        if actions is None:
            break
        for action in run_sync(session, actions):
            if isinstance(action, bytes):
                out.append(action)
    return b"".join(out)


def logged_in(
    store: Store | None = None, select: str | None = "INBOX"
) -> tuple[IMAPSession, Store]:
    session, store = new_session(store)
    session.greeting()
    assert feed(session, b"a LOGIN alice secret\r\n").startswith(b"a OK")
    if select:
        assert b"b OK" in feed(session, f"b SELECT {select}\r\n".encode())
    return session, store
