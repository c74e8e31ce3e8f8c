"""IMAP over the game's mailboxes: the IMAP backend's account and mailbox objects.

Where the general IMAP server (:mod:`reality.net.protocols.imap`) meets the
post office's folders (:mod:`reality.game.mail.folders`). The mail gateway
(:mod:`reality.gateways.mail`) authenticates (the one
:class:`~reality.gateways.auth.Authenticator`: throttles and bans as for
telnet and POP3) and hands the session a :class:`GameAccount`; this module
only translates:

- ``LIST``: ``INBOX`` and ``Sent`` (RFC 6154 ``\\Sent``); nothing can be
  created, renamed or deleted.
- a session's ``SELECT``/``EXAMINE`` opens a :class:`GameMailbox`, which
  watches its folder: whatever changes it elsewhere (a letter delivered by
  SMTP or in the game, read in the game or by POP3, deleted in the game,
  by POP3 at ``QUIT`` or by another IMAP session) reaches the session's
  listener at once, after the commit, as ``EXISTS``/``FETCH``/``EXPUNGE``.
- refusals become tagged ``NO`` with an RFC 5530 code: ``[INUSE]`` for an
  expunge or a move out of ``INBOX`` while a POP3 session holds it
  (RFC 2180 4.1), ``[OVERQUOTA]`` for a copy into a full folder,
  ``[TRYCREATE]`` for a folder that does not exist.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from reality.game.mail import FOLDERS, INBOX, SENT, FolderLetter, PostOffice
from reality.game.mail.folders import MailboxFull, MailboxLocked
from reality.net.protocols.imap.backend import (
    IMAPError,
    MailboxInfo,
    MailboxListener,
    MailboxStatus,
    MessageInfo,
    StoreMode,
)

log = logging.getLogger(__name__)

__all__ = ["MAILBOXES", "GameAccount", "GameMailbox", "folder_named"]

#: What LIST shows: the two folders, Sent marked for mail apps (RFC 6154).
MAILBOXES = (
    MailboxInfo(INBOX, ("\\HasNoChildren",)),
    MailboxInfo(SENT, ("\\HasNoChildren", "\\Sent")),
)


def folder_named(name: str) -> str | None:
    """The folder an IMAP mailbox name means: ``INBOX`` in any case (RFC 3501 5.1), else exact."""
    if name.upper() == INBOX:
        return INBOX
    return name if name in FOLDERS else None


def _info(letter: FolderLetter) -> MessageInfo:
    return MessageInfo(letter.uid, letter.flags, letter.internaldate, letter.size)


class _Relay:
    """A folder watcher that passes what it hears to one session's listener, as IMAP values."""

    __slots__ = ("listener",)

    def __init__(self, listener: MailboxListener) -> None:
        self.listener = listener

    def added(self, letters: Sequence[FolderLetter]) -> None:
        self.listener.added([_info(letter) for letter in letters])

    def flags_changed(self, uid: int, flags: frozenset[str]) -> None:
        self.listener.flags_changed(uid, flags)

    def expunged(self, uids: Sequence[int]) -> None:
        self.listener.expunged(uids)


class GameMailbox:
    """One folder opened by one IMAP session (an ``IMAPMailbox``), watching it until closed."""

    def __init__(
        self, office: PostOffice, key: str, folder: str, listener: MailboxListener,
        *, readonly: bool = False, on_close: Callable[[GameMailbox], None] | None = None,
    ) -> None:
        self.office = office
        self.key = key
        self.folder = folder
        self.readonly = readonly
        self._relay = _Relay(listener)
        self._on_close = on_close
        self._closed = False
        office.folders.watch(key, folder, self._relay)

    @property
    def uidvalidity(self) -> int:
        return self.office.folders.state(self.key, self.folder)[0]

    @property
    def uidnext(self) -> int:
        return self.office.folders.state(self.key, self.folder)[1]

    def messages(self) -> Sequence[MessageInfo]:
        return [_info(letter) for letter in self.office.folders.letters(self.key, self.folder)]

    def message_bytes(self, uid: int) -> bytes:
        data = self.office.folders.message(self.key, self.folder, uid)
        if data is None:
            raise KeyError(uid)
        return data

    def store(
        self, uids: Sequence[int], flags: frozenset[str], mode: StoreMode
    ) -> dict[int, frozenset[str]]:
        return self.office.folders.store_flags(
            self.key, self.folder, uids, flags, mode, origin=self._relay
        )

    def expunge(self, uids: Sequence[int]) -> Sequence[int]:
        try:
            return self.office.folders.expunge(self.key, self.folder, uids, origin=self._relay)
        except MailboxLocked:
            raise _in_use() from None

    def copy(self, uids: Sequence[int], target: str) -> Sequence[tuple[int, int]]:
        return self._transfer(uids, target, move=False)

    def move(self, uids: Sequence[int], target: str) -> Sequence[tuple[int, int]]:
        return self._transfer(uids, target, move=True)

    def _transfer(self, uids: Sequence[int], target: str, *, move: bool
                  ) -> Sequence[tuple[int, int]]:
        folder = folder_named(target)
        if folder is None:
            raise IMAPError("[TRYCREATE] There is no such mailbox: only INBOX and Sent")
        folders = self.office.folders
        how = folders.move if move else folders.copy
        try:
            return how(self.key, self.folder, uids, folder, limit=self.office.max_letters,
                       origin=self._relay)
        except MailboxLocked:
            raise _in_use() from None
        except MailboxFull:
            raise IMAPError(
                f"[OVERQUOTA] {folder} holds at most {self.office.max_letters} letters"
            ) from None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.office.folders.unwatch(self.key, self.folder, self._relay)
        if self._on_close is not None:
            self._on_close(self)


def _in_use() -> IMAPError:
    return IMAPError(
        "[INUSE] A POP3 session has this mailbox open; letters can be deleted when it ends"
    )


class GameAccount:
    """A player's mail for one IMAP session (an ``IMAPAccount``): INBOX and Sent.

    ``on_logout`` is called once, when the session ends (the gateway's
    bookkeeping of who is logged in where).
    """

    def __init__(
        self, office: PostOffice, key: str, *,
        on_logout: Callable[[GameAccount], None] | None = None,
    ) -> None:
        self.office = office
        self.key = key
        self._on_logout = on_logout
        self._open: list[GameMailbox] = []
        self._done = False

    def mailboxes(self) -> Sequence[MailboxInfo]:
        return MAILBOXES

    def status(self, name: str) -> MailboxStatus | None:
        folder = folder_named(name)
        if folder is None:
            return None
        s = self.office.folders.status(self.key, folder)
        return MailboxStatus(s.messages, s.recent, s.uidnext, s.uidvalidity, s.unseen)

    def open(
        self, name: str, *, readonly: bool, listener: MailboxListener
    ) -> GameMailbox | None:
        folder = folder_named(name)
        if folder is None:
            return None
        mailbox = GameMailbox(self.office, self.key, folder, listener, readonly=readonly,
                              on_close=self._closed)
        self._open.append(mailbox)
        return mailbox

    def _closed(self, mailbox: GameMailbox) -> None:
        if mailbox in self._open:
            self._open.remove(mailbox)

    def logout(self) -> None:
        if self._done:
            return
        self._done = True
        # A session that ends without closing its mailbox must not leave a watcher behind.
        for mailbox in list(self._open):
            mailbox.close()
        if self._on_logout is not None:
            self._on_logout(self)
