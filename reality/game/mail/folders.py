"""A player's mail as IMAP sees it: two folders, UIDs, flags, and who is watching.

The post office keeps letters; this module gives them what an IMAP client
(RFC 3501, RFC 9051) needs and a person reading game mail on a phone
expects, without knowing anything of IMAP's wire format (the mail gateway,
:mod:`reality.gateways.mail`, adapts it to the IMAP backend):

- Two folders per player: ``INBOX``, the letters the game and POP3 show,
  and ``Sent``, a copy of every letter the player wrote with ``mail send``.
  Both are rows of the one ``letters`` table, told apart by its ``mailbox``
  column; the game and POP3 only ever see ``INBOX``.
- UIDs: each folder counts its own (``mail_folders.uidnext``), a letter's
  UID is given in the transaction that stores it and never changes, and a
  UID is never given twice in a folder. ``UIDVALIDITY`` is chosen once,
  when the folder's row is made (the clock's seconds then), and stored: it
  survives restarts and world reloads, and a database made anew gets
  another one, so clients know to forget what they cached.
- Flags: ``\\Seen`` *is* the game's read mark (``letters.read``), both
  ways; ``\\Deleted``, ``\\Flagged`` and ``\\Answered`` are columns of
  their own. Other flags and keywords are not kept (PERMANENTFLAGS says so).
- Expunge deletes the letter everywhere (game, POP3, every IMAP session),
  and only letters marked ``\\Deleted``.
- Watchers: every open IMAP mailbox registers a :class:`FolderWatcher`;
  whatever changes a folder (a letter delivered by SMTP or in the game,
  read in the game or by POP3 ``RETR``, deleted in the game, by POP3 at
  ``QUIT`` or by another IMAP session) tells every watcher of that folder
  at once, after the change is committed, except the one that made it
  (its session already knows, from the answer it got).
- POP3's lock (RFC 1939 8, RFC 2180 4.1): a POP3 session holds its
  maildrop exclusively, with a listing fixed when it began. While it does,
  IMAP may still open, read and flag ``INBOX``, but an expunge or a move
  out of it is refused (:class:`MailboxLocked`: the POP3 client would find
  letters gone under it); letters POP3 deletes at ``QUIT`` reach IMAP as
  expunges.

No sockets and no bytes from the wire: only SQL through the store.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from attrs import frozen

from reality.game.store import Store

log = logging.getLogger(__name__)

__all__ = [
    "ANSWERED",
    "DELETED",
    "FLAGGED",
    "FOLDERS",
    "INBOX",
    "KEPT_FLAGS",
    "SEEN",
    "SENT",
    "FolderLetter",
    "FolderStatus",
    "FolderWatcher",
    "Folders",
    "MailboxFull",
    "MailboxLocked",
    "assign_uids",
]

INBOX = "INBOX"
SENT = "Sent"
#: The folders every player has, in the order LIST shows them.
FOLDERS = (INBOX, SENT)

SEEN = "\\Seen"
DELETED = "\\Deleted"
FLAGGED = "\\Flagged"
ANSWERED = "\\Answered"
#: The flags kept, and the ``letters`` column each one is.
_COLUMNS = {SEEN: "read", DELETED: "deleted", FLAGGED: "flagged", ANSWERED: "answered"}
#: Every flag that is kept (IMAP's PERMANENTFLAGS).
KEPT_FLAGS = frozenset(_COLUMNS)

_SELECT = "SELECT uid, read, deleted, flagged, answered, received_at, length(message) FROM letters"


class MailboxLocked(Exception):
    """A mail client (POP3) has this mailbox open: it cannot lose letters until it ends."""


class MailboxFull(Exception):
    """A mailbox (a folder) held its limit of letters when the change was committed."""

    def __init__(self, key: str) -> None:
        super().__init__(f"the mailbox of {key} is full")
        self.key = key


@frozen
class FolderLetter:
    """One letter as a folder lists it: its UID, kept flags, arrival time and size in octets."""

    uid: int
    flags: frozenset[str]
    internaldate: float
    size: int


@frozen
class FolderStatus:
    """What IMAP ``STATUS`` and ``SELECT`` say about a folder."""

    messages: int
    recent: int
    uidnext: int
    uidvalidity: int
    unseen: int


class FolderWatcher(Protocol):
    """Told of changes to a folder made elsewhere (an open IMAP mailbox implements it)."""

    def added(self, letters: Sequence[FolderLetter]) -> None:
        """New letters, in UID order."""

    def flags_changed(self, uid: int, flags: frozenset[str]) -> None:
        """A letter's kept flags are now ``flags``."""

    def expunged(self, uids: Sequence[int]) -> None:
        """These letters are gone for good."""


def _flags(read: int, deleted: int, flagged: int, answered: int) -> frozenset[str]:
    flags = []
    if read:
        flags.append(SEEN)
    if deleted:
        flags.append(DELETED)
    if flagged:
        flags.append(FLAGGED)
    if answered:
        flags.append(ANSWERED)
    return frozenset(flags)


def _row_letter(row: Sequence[object]) -> FolderLetter:
    uid, read, deleted, flagged, answered, received_at, size = row
    return FolderLetter(
        int(uid),  # type: ignore[call-overload]
        _flags(read, deleted, flagged, answered),  # type: ignore[arg-type]
        float(received_at),  # type: ignore[arg-type]
        int(size),  # type: ignore[call-overload]
    )


def assign_uids(db: sqlite3.Connection, now: float) -> None:
    """Give every letter a UID in its folder, in arrival order, and each folder its row.

    The schema step that brought folders calls it once, for the letters
    kept before; a folder's ``UIDVALIDITY`` is ``now``'s whole seconds.
    """
    rows = db.execute("SELECT id, owner, mailbox FROM letters ORDER BY owner, mailbox, id")
    counters: dict[tuple[str, str], int] = {}
    updates = []
    for letter_id, owner, mailbox in rows.fetchall():
        uid = counters.get((owner, mailbox), 0) + 1
        counters[(owner, mailbox)] = uid
        updates.append((uid, letter_id))
    db.executemany("UPDATE letters SET uid = ? WHERE id = ?", updates)
    db.executemany(
        "INSERT OR IGNORE INTO mail_folders(owner, name, uidvalidity, uidnext) VALUES (?, ?, ?, ?)",
        [(owner, mailbox, _validity(now), last + 1)
         for (owner, mailbox), last in counters.items()],
    )


def _validity(now: float) -> int:
    """A UIDVALIDITY from the clock: nonzero and within 32 bits (RFC 3501 2.3.1.1)."""
    return max(1, int(now) % 0xFFFFFFFF)


class Folders:
    """The IMAP side of the post office: folders, UIDs, flags and the watchers of each folder.

    ``locked(key)`` says whether a POP3 session holds ``key``'s mailbox;
    ``wall()`` is the wall clock (for a new folder's UIDVALIDITY).
    """

    def __init__(
        self, store: Store, *, locked: Callable[[str], bool], wall: Callable[[], float]
    ) -> None:
        self.store = store
        self.locked = locked
        self.wall = wall
        self._watchers: dict[tuple[str, str], list[FolderWatcher]] = {}

    # -- watchers ----------

    def watch(self, key: str, folder: str, watcher: FolderWatcher) -> None:
        """Tell ``watcher`` of every change to ``key``'s ``folder`` made elsewhere."""
        self._watchers.setdefault((key, folder), []).append(watcher)

    def unwatch(self, key: str, folder: str, watcher: FolderWatcher) -> None:
        watchers = self._watchers.get((key, folder))
        if watchers is None:
            return
        try:
            watchers.remove(watcher)
        except ValueError:
            return
        if not watchers:
            del self._watchers[(key, folder)]

    def watchers(self, key: str, folder: str) -> int:
        """How many open mailboxes watch ``key``'s ``folder``."""
        return len(self._watchers.get((key, folder), ()))

    def _tell(self, key: str, folder: str, origin: object, call: Callable[[FolderWatcher], None]
              ) -> None:
        for watcher in list(self._watchers.get((key, folder), ())):
            if watcher is origin:
                continue
            try:
                call(watcher)
            except Exception:
                log.exception("a watcher of %s/%s failed", key, folder)

    def tell_added(self, key: str, folder: str, letters: Sequence[FolderLetter],
                   origin: object = None) -> None:
        if letters and (key, folder) in self._watchers:
            self._tell(key, folder, origin, lambda w: w.added(letters))

    def tell_flags(self, key: str, folder: str, uid: int, flags: frozenset[str],
                   origin: object = None) -> None:
        if (key, folder) in self._watchers:
            self._tell(key, folder, origin, lambda w: w.flags_changed(uid, flags))

    def tell_expunged(self, key: str, folder: str, uids: Sequence[int],
                      origin: object = None) -> None:
        if uids and (key, folder) in self._watchers:
            self._tell(key, folder, origin, lambda w: w.expunged(uids))

    def tell_read(self, key: str, letter_ids: Iterable[int]) -> None:
        """These INBOX letters were just marked read (in the game or by POP3): tell IMAP."""
        if (key, INBOX) not in self._watchers:
            return
        for letter_id in letter_ids:
            row = self.store.db.execute(
                f"{_SELECT} WHERE id = ? AND owner = ?", (letter_id, key)
            ).fetchone()
            if row is not None:
                letter = _row_letter(row)
                self.tell_flags(key, INBOX, letter.uid, letter.flags)

    # -- UIDs ----------

    def state(self, key: str, folder: str) -> tuple[int, int]:
        """``(uidvalidity, uidnext)`` of a folder, making its row the first time."""
        row = self.store.db.execute(
            "SELECT uidvalidity, uidnext FROM mail_folders WHERE owner = ? AND name = ?",
            (key, folder),
        ).fetchone()
        if row is not None:
            return int(row[0]), int(row[1])
        with self.store.transaction():
            last = self.store.db.execute(
                "SELECT MAX(uid) FROM letters WHERE owner = ? AND mailbox = ?", (key, folder)
            ).fetchone()[0]
            validity = _validity(self.wall())
            self.store.db.execute(
                "INSERT OR IGNORE INTO mail_folders(owner, name, uidvalidity, uidnext)"
                " VALUES (?, ?, ?, ?)",
                (key, folder, validity, int(last or 0) + 1),
            )
        return self.state(key, folder)

    def next_uid(self, key: str, folder: str) -> int:
        """Take the folder's next UID (inside the caller's transaction)."""
        _, uid = self.state(key, folder)
        self.store.db.execute(
            "UPDATE mail_folders SET uidnext = ? WHERE owner = ? AND name = ?",
            (uid + 1, key, folder),
        )
        return uid

    # -- reading ----------

    def letters(self, key: str, folder: str) -> list[FolderLetter]:
        """Every letter of a folder, in UID order."""
        rows = self.store.db.execute(
            f"{_SELECT} WHERE owner = ? AND mailbox = ? ORDER BY uid", (key, folder)
        ).fetchall()
        return [_row_letter(r) for r in rows]

    def status(self, key: str, folder: str) -> FolderStatus:
        validity, uidnext = self.state(key, folder)
        total, unseen = self.store.db.execute(
            "SELECT COUNT(*), COALESCE(SUM(read = 0), 0) FROM letters"
            " WHERE owner = ? AND mailbox = ?",
            (key, folder),
        ).fetchone()
        return FolderStatus(int(total), 0, uidnext, validity, int(unseen))

    def message(self, key: str, folder: str, uid: int) -> bytes | None:
        """A letter's RFC 5322 bytes, or None if it is gone."""
        row = self.store.db.execute(
            "SELECT message FROM letters WHERE owner = ? AND mailbox = ? AND uid = ?",
            (key, folder, uid),
        ).fetchone()
        return None if row is None else bytes(row[0])

    # -- changing ----------

    def store_flags(
        self, key: str, folder: str, uids: Iterable[int], flags: Iterable[str], mode: str,
        origin: object = None,
    ) -> dict[int, frozenset[str]]:
        """Add (``+``), remove (``-``) or set (``=``) kept flags; committed before it returns.

        Flags that are not kept are ignored. Returns the new flags of every
        letter that still exists; the other watchers hear of those that changed.
        """
        if mode not in ("+", "-", "="):
            raise ValueError(f"flag mode must be '+', '-' or '=', not {mode!r}")
        wanted = {f.lower() for f in flags}
        chosen = {flag: flag.lower() in wanted for flag in KEPT_FLAGS}
        result: dict[int, frozenset[str]] = {}
        changed: list[tuple[int, frozenset[str]]] = []
        with self.store.transaction():
            for uid in sorted(set(uids)):
                row = self.store.db.execute(
                    f"{_SELECT} WHERE owner = ? AND mailbox = ? AND uid = ?", (key, folder, uid)
                ).fetchone()
                if row is None:
                    continue
                old = _row_letter(row).flags
                if mode == "=":
                    new = frozenset(f for f, on in chosen.items() if on)
                elif mode == "+":
                    new = old | {f for f, on in chosen.items() if on}
                else:
                    new = old - {f for f, on in chosen.items() if on}
                result[uid] = new
                if new != old:
                    self.store.db.execute(
                        "UPDATE letters SET read = ?, deleted = ?, flagged = ?, answered = ?"
                        " WHERE owner = ? AND mailbox = ? AND uid = ?",
                        (SEEN in new, DELETED in new, FLAGGED in new, ANSWERED in new,
                         key, folder, uid),
                    )
                    changed.append((uid, new))
        for uid, new in changed:
            self.tell_flags(key, folder, uid, new, origin)
        return result

    def expunge(self, key: str, folder: str, uids: Iterable[int],
                origin: object = None) -> list[int]:
        """Delete the letters among ``uids`` that are marked ``\\Deleted``, everywhere.

        Committed before it returns; the removed UIDs, ascending. Raises
        :class:`MailboxLocked` for ``INBOX`` while POP3 holds it.
        """
        wanted = sorted(set(uids))
        if not wanted:
            return []
        if folder == INBOX and self.locked(key):
            raise MailboxLocked(key)
        with self.store.transaction():
            gone = [
                uid for uid in wanted
                if self.store.db.execute(
                    "DELETE FROM letters WHERE owner = ? AND mailbox = ? AND uid = ?"
                    " AND deleted = 1",
                    (key, folder, uid),
                ).rowcount
            ]
        if gone:
            log.info("IMAP: %d letter(s) expunged from %s/%s", len(gone), key, folder)
        self.tell_expunged(key, folder, gone, origin)
        return gone

    def copy(self, key: str, folder: str, uids: Iterable[int], target: str, *,
             limit: int | None = None, origin: object = None) -> list[tuple[int, int]]:
        """Copy letters to another folder (new UIDs there, the same flags); committed first.

        ``limit``: the most letters ``target`` may hold; past it
        :class:`MailboxFull` is raised and nothing is copied.
        """
        return self._copy(key, folder, sorted(set(uids)), target, limit=limit,
                          move=False, origin=origin)

    def move(self, key: str, folder: str, uids: Iterable[int], target: str, *,
             limit: int | None = None, origin: object = None) -> list[tuple[int, int]]:
        """Move letters to another folder, in one transaction (RFC 6851)."""
        wanted = sorted(set(uids))
        if folder == INBOX and wanted and self.locked(key):
            raise MailboxLocked(key)
        return self._copy(key, folder, wanted, target, limit=limit, move=True, origin=origin)

    def _copy(self, key: str, folder: str, uids: list[int], target: str, *,
              limit: int | None, move: bool, origin: object) -> list[tuple[int, int]]:
        if target not in FOLDERS:
            raise LookupError(target)
        pairs: list[tuple[int, int]] = []
        added: list[FolderLetter] = []
        columns = (
            "sender, from_header, subject, sent_at, received_at, body, attachments, message,"
            " read, external, envelope_from, message_id, deleted, flagged, answered"
        )
        with self.store.transaction():
            present = [
                uid for uid in uids
                if self.store.db.execute(
                    "SELECT 1 FROM letters WHERE owner = ? AND mailbox = ? AND uid = ?",
                    (key, folder, uid),
                ).fetchone()
            ]
            if limit is not None and present and not (move and folder == target):
                held = self.store.db.execute(
                    "SELECT COUNT(*) FROM letters WHERE owner = ? AND mailbox = ?", (key, target)
                ).fetchone()[0]
                if held + len(present) > limit:
                    raise MailboxFull(key)
            for uid in present:
                new_uid = self.next_uid(key, target)
                self.store.db.execute(
                    f"INSERT INTO letters(owner, mailbox, uid, {columns})"
                    f" SELECT owner, ?, ?, {columns} FROM letters"
                    " WHERE owner = ? AND mailbox = ? AND uid = ?",
                    (target, new_uid, key, folder, uid),
                )
                if move:
                    # RFC 6851 3.3: the moved letter is not \Deleted in its new place.
                    self.store.db.execute(
                        "UPDATE letters SET deleted = 0 WHERE owner = ? AND mailbox = ?"
                        " AND uid = ?", (key, target, new_uid))
                    self.store.db.execute(
                        "DELETE FROM letters WHERE owner = ? AND mailbox = ? AND uid = ?",
                        (key, folder, uid),
                    )
                row = self.store.db.execute(
                    f"{_SELECT} WHERE owner = ? AND mailbox = ? AND uid = ?",
                    (key, target, new_uid),
                ).fetchone()
                added.append(_row_letter(row))
                pairs.append((uid, new_uid))
        # The target's watchers all hear of the new letters (the session that
        # copied has not selected the target); the source's, but the origin, of a move.
        self.tell_added(key, target, added)
        if move:
            self.tell_expunged(key, folder, [src for src, _ in pairs], origin)
        return pairs
