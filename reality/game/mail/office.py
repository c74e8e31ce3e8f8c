"""The post office: every mailbox of a world, kept in SQLite, and the mail daemon.

Letters arrive as RFC 5322 message bytes, from the SMTP gateway or from
the ``mail send`` verb (which writes a proper RFC 5322 message and delivers
it the same way), are read into a :class:`~reality.game.mail.letters.Letter`
and kept through the store. No sockets here: the mail gateway
(:mod:`reality.gateways.mail`) turns SMTP and POP3 into calls on the
:class:`PostOffice`; POP3 reads a locked mailbox through a
:class:`MailboxSession`.

Durability: :meth:`PostOffice.deliver` queues a delivery and commits every
delivery queued in the same reactor turn in one transaction (one
``fsync``), then calls each one's ``done`` callback: the SMTP gateway
answers ``250`` from there, never before the commit. The store runs
SQLite in WAL mode with ``synchronous=FULL``. The mailbox limit is checked
again inside that transaction (parallel sessions cannot overshoot it), and
a message whose Message-ID and envelope sender the mailbox already got
within :data:`DEDUPE_WINDOW` is acknowledged but not stored twice (a
sender resends when a ``250`` was lost). Postmaster mail that arrives while
there is no admin account is kept in ``held_letters`` (recipient
:data:`HELD`) and handed to the first admin who logs in.

The mail daemon, after NetHack's: when a letter arrives for a connected
player, a mail daemon appears in their room (everyone there sees it),
hands over the letter ("You have mail from <from>: <subject>") and
vanishes on the next tick of the clock. Players who were away are told on
login how many unread letters wait (the world's ``unread_count`` hook).

IMAP's view (:mod:`~reality.game.mail.folders`): each player has two
folders, ``INBOX`` (what the game and POP3 show) and ``Sent`` (a copy of
every letter the player wrote in the game, kept by :meth:`PostOffice.send`);
letters carry a UID per folder and the kept flags; every change is told to
the folder's watchers (open IMAP mailboxes) once it is committed.

Tables of the ``"mail"`` store component::

    letters(id, owner, sender, from_header, subject, sent_at, received_at,
            body, attachments JSON, message BLOB, read,
            external, envelope_from, message_id,
            mailbox, uid, deleted, flagged, answered)
    held_letters(id, the same columns as letters before the folders, but owner and read)
    mail_folders(owner, name, uidvalidity, uidnext)
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from attrs import define

from reality.game import markup
from reality.game.accounts import name_key
from reality.game.commands import Refusal, WorldView
from reality.game.events import Event, deliver as deliver_event
from reality.game.mail.folders import (
    INBOX,
    SEEN,
    SENT,
    FolderLetter,
    Folders,
    MailboxFull,
    MailboxLocked,
    assign_uids,
)
from reality.game.mail.letters import (
    Attachment,
    Letter,
    LetterSummary,
    StoredLetter,
    compose_letter,
    parse_letter,
)
from reality.game.store import MIGRATIONS, Migration, Store, register_migrations
from reality.game.things import Npc, Player, Room

if TYPE_CHECKING:
    from reality.game.world import World

log = logging.getLogger(__name__)

__all__ = [
    "DAEMON_LINGER",
    "DEDUPE_WINDOW",
    "HELD",
    "INBOX",
    "SENT",
    "MAIL_MIGRATIONS",
    "MAX_LETTERS",
    "MailboxFull",
    "MailboxLocked",
    "MailboxSession",
    "PostOffice",
    "ensure_schema",
    "post_office",
]

#: Letters a mailbox may hold; past it SMTP answers 452 4.2.2 and ``mail send`` refuses.
MAX_LETTERS = 1000
#: Seconds the mail daemon stays in the room: one tick.
DAEMON_LINGER = 1.0
#: Seconds a Message-ID is remembered per mailbox: the same message (same
#: Message-ID, same envelope sender) arriving again within it is acknowledged
#: and not stored twice. A client whose 250 was lost resends; RFC 5321
#: 4.5.4.1 has senders give up after 4-5 days, so a week covers every retry.
DEDUPE_WINDOW = 7 * 24 * 3600.0

MAIL_MIGRATIONS: list[Migration] = [
    Migration(
        "letters",
        """
        CREATE TABLE letters (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            owner TEXT NOT NULL REFERENCES accounts(key),
            sender TEXT NOT NULL,
            from_header TEXT NOT NULL,
            subject TEXT NOT NULL,
            sent_at REAL,
            received_at REAL NOT NULL,
            body TEXT NOT NULL,
            attachments TEXT NOT NULL DEFAULT '[]',
            message BLOB NOT NULL,
            read INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX letters_by_owner ON letters(owner, id);
        """,
    ),
    Migration(
        # Letters stored before this step are marked as outside mail: the
        # safe reading, since nothing proves they were written in the game.
        "external mark, envelope sender and Message-ID for deduplication",
        """
        ALTER TABLE letters ADD COLUMN external INTEGER NOT NULL DEFAULT 1;
        ALTER TABLE letters ADD COLUMN envelope_from TEXT NOT NULL DEFAULT '';
        ALTER TABLE letters ADD COLUMN message_id TEXT NOT NULL DEFAULT '';
        CREATE INDEX letters_by_message_id ON letters(owner, message_id);
        """,
    ),
    Migration(
        # Mail for postmaster while no admin account exists (RFC 5321 4.5.1:
        # postmaster must always be accepted): kept here until an admin logs in.
        "held postmaster mail",
        """
        CREATE TABLE held_letters (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            sender TEXT NOT NULL,
            from_header TEXT NOT NULL,
            subject TEXT NOT NULL,
            sent_at REAL,
            received_at REAL NOT NULL,
            body TEXT NOT NULL,
            attachments TEXT NOT NULL DEFAULT '[]',
            message BLOB NOT NULL,
            external INTEGER NOT NULL DEFAULT 1,
            envelope_from TEXT NOT NULL DEFAULT '',
            message_id TEXT NOT NULL DEFAULT ''
        );
        """,
    ),
    Migration(
        # IMAP: letters keep a folder, a UID in it and the kept flags. Sent
        # copies of in-game letters written before this step are made from
        # those their recipients still hold (the others are gone).
        "IMAP folders (INBOX, Sent), UIDs and flags",
        lambda db: _add_folders(db),  # defined below, with the columns it copies
    ),
]


def _add_folders(db: sqlite3.Connection) -> None:
    for statement in (
        "ALTER TABLE letters ADD COLUMN mailbox TEXT NOT NULL DEFAULT 'INBOX'",
        "ALTER TABLE letters ADD COLUMN uid INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE letters ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE letters ADD COLUMN flagged INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE letters ADD COLUMN answered INTEGER NOT NULL DEFAULT 0",
        "CREATE TABLE mail_folders (owner TEXT NOT NULL, name TEXT NOT NULL,"
        " uidvalidity INTEGER NOT NULL, uidnext INTEGER NOT NULL, PRIMARY KEY (owner, name))",
    ):
        db.execute(statement)
    # The in-game sender is the local part of the envelope sender (mail_address).
    sender_key = "lower(substr(envelope_from, 1, instr(envelope_from, '@') - 1))"
    db.execute(
        f"INSERT INTO letters(owner, mailbox, {_LETTER_COLUMNS}, read)"
        f" SELECT {sender_key}, 'Sent', {_LETTER_COLUMNS}, 1 FROM letters"
        f" WHERE external = 0 AND instr(envelope_from, '@') > 1"
        f" AND {sender_key} IN (SELECT key FROM accounts) ORDER BY id"
    )
    assign_uids(db, time.time())
    db.execute("CREATE INDEX letters_by_folder ON letters(owner, mailbox, uid)")


#: The recipient key of postmaster mail kept until an admin logs in (not a name
#: anyone can have: names are letters only).
HELD = "@postmaster"
#: The columns a letter has in both ``letters`` and ``held_letters``.
_LETTER_COLUMNS = (
    "sender, from_header, subject, sent_at, received_at, body, attachments, message,"
    " external, envelope_from, message_id"
)

register_migrations("mail", MAIL_MIGRATIONS)


def ensure_schema(store: Store) -> None:
    """Create or update the mail tables in a store opened before this module was imported."""
    store.migrate({"mail": MIGRATIONS["mail"]})


@define
class _Pending:
    recipients: list[str]
    letter: Letter
    done: Callable[[BaseException | None], None] | None
    #: The player who wrote it in the game: a copy goes to their Sent folder.
    sent_by: str | None = None


@define
class _Stored:
    """One letter stored by a delivery: where, its row id, and how its folder lists it."""

    key: str
    folder: str
    letter_id: int
    listed: FolderLetter
    #: UIDs of the folder removed to make room (the oldest Sent copies).
    expunged: tuple[int, ...] = ()


class _Daemon:
    """A mail daemon standing in a room for one player, until its timer fires."""

    __slots__ = ("npc", "room", "timer")

    def __init__(self, npc: Npc, room: Any, timer: Any) -> None:
        self.npc = npc
        self.room = room
        self.timer = timer


# The daemon's only two changes of place. They edit the room's contents
# directly for now; they are kept apart so that they become calls on the
# world's one move primitive when it exists, and nothing else here changes.


def _daemon_appears(world: World, npc: Npc, room: Room) -> None:
    """Put the mail daemon ``npc`` into ``room`` (no one is told here)."""
    world.move(npc, room, action="deliver", check=False)


def _daemon_vanishes(world: World, npc: Npc) -> Room | None:
    """Take the mail daemon ``npc`` out of the world: the room it left, or None if in none."""
    room = npc.location
    if room is None or npc not in room.contents:
        return None
    world.move(npc, None, action="vanish", check=False)
    return room


_OFFICES: weakref.WeakKeyDictionary[Any, PostOffice] = weakref.WeakKeyDictionary()


def post_office(world: World | WorldView) -> PostOffice | None:
    """The post office serving ``world``, if one was set up."""
    return _OFFICES.get(world)


class PostOffice:
    """Every mailbox of one world: delivery, reading, deleting, locks, the daemon.

    Creating one makes sure the mail tables exist, installs the world's
    ``unread_count`` hook, and makes the ``mail`` verb work in that world.
    """

    def __init__(
        self,
        world: World,
        *,
        max_letters: int = MAX_LETTERS,
        daemon_linger: float = DAEMON_LINGER,
    ) -> None:
        self.world = world
        self.store = world.store
        self.max_letters = max_letters
        self.daemon_linger = daemon_linger
        ensure_schema(self.store)
        self._pending: list[_Pending] = []
        self._flush_call: Any = None
        self._locks: set[str] = set()
        self._daemons: dict[str, _Daemon] = {}
        #: Commits so far and letters in them (for the benchmark and the logs).
        self.commits = 0
        self.letters_stored = 0
        #: Folders, UIDs and flags for IMAP, and who watches each folder.
        self.folders = Folders(self.store, locked=self.is_locked, wall=world.wall)
        world.unread_count = self.unread_count
        world.login_hooks.append(self._hand_held_mail)
        _OFFICES[world] = self

    # -- delivery ----------

    def deliver(
        self,
        recipients: Iterable[str],
        data: bytes,
        *,
        envelope_from: str = "",
        done: Callable[[BaseException | None], None] | None = None,
        now: bool = False,
        letter: Letter | None = None,
        external: bool = True,
        sent_by: str | None = None,
    ) -> Letter:
        """Put a message into the mailboxes of ``recipients`` (player names).

        ``letter`` is the message already parsed (by a worker process);
        otherwise ``data`` is parsed here, as outside mail unless
        ``external`` is False (only for letters the game wrote itself).

        The mailbox limit is checked again at the commit, so deliveries that
        all passed their RCPT check cannot overfill a mailbox together: one
        that would gets ``done(MailboxFull)`` and is stored nowhere. A letter
        whose Message-ID and envelope sender a mailbox got within
        :data:`DEDUPE_WINDOW` is not stored there again, but is acknowledged
        (the sender is resending one whose acknowledgement was lost).

        The letter is committed together with every other delivery queued in
        this turn of the clock (``now=True`` commits at once); then
        ``done(None)`` is called, or ``done(error)`` if it could not be
        stored. Connected recipients get a visit from the mail daemon, and
        every open IMAP mailbox of theirs hears of the letter. ``sent_by``
        (a player's key, for letters written in the game) keeps a copy in
        that player's Sent folder, in the same transaction.
        """
        keys = list(dict.fromkeys(name_key(r) for r in recipients))
        if letter is None:
            letter = parse_letter(
                data,
                received_at=self.world.wall(),
                envelope_from=envelope_from,
                domain=self.world.mail_domain,
                external=external,
            )
        self._pending.append(_Pending(keys, letter, done, sent_by))
        if now:
            self.flush()
        elif self._flush_call is None:
            # A zero delay runs after every read of this reactor turn, so all
            # the messages that arrived together share one commit.
            self._flush_call = self.world.clock.call_later(0, self.flush)
        return letter

    def flush(self) -> None:
        """Commit every queued delivery now, then tell the senders and the recipients."""
        call, self._flush_call = self._flush_call, None
        if call is not None and call.active():
            call.cancel()
        pending, self._pending = self._pending, []
        if not pending:
            return
        outcomes: list[tuple[_Pending, list[_Stored], BaseException | None]]
        try:
            with self.store.transaction():
                outcomes = [self._insert_or_refuse(p) for p in pending]
            self.commits += 1
        except Exception as exc:
            if len(pending) == 1:
                log.error("mail delivery failed: %s", exc, exc_info=True)
                outcomes = [(pending[0], [], exc)]
            else:
                # One bad delivery must not fail the others: one at a time.
                log.warning("a batch of %d deliveries failed (%s); retrying one by one",
                            len(pending), exc)
                outcomes = [self._deliver_alone(p) for p in pending]
        for p, ids, error in outcomes:
            if error is None:
                self.letters_stored += sum(1 for s in ids if s.folder == INBOX)
            if p.done is not None:
                try:
                    p.done(error)
                except Exception:
                    log.exception("mail delivery callback failed")
        arrivals: dict[str, list[tuple[int, Letter]]] = {}
        listed: dict[tuple[str, str], list[FolderLetter]] = {}
        for p, ids, error in outcomes:
            if error is None:
                for stored in ids:
                    if stored.expunged:
                        self.folders.tell_expunged(stored.key, stored.folder, stored.expunged)
                    listed.setdefault((stored.key, stored.folder), []).append(stored.listed)
                    if stored.folder == INBOX and stored.key in self.world.online:
                        arrivals.setdefault(stored.key, []).append((stored.letter_id, p.letter))
        for (key, folder), listing in listed.items():
            self.folders.tell_added(key, folder, listing)
        for key, letters in arrivals.items():
            try:
                self._announce(key, letters)
            except Exception:
                log.exception("the mail daemon failed to visit %s", key)

    def _deliver_alone(
        self, p: _Pending
    ) -> tuple[_Pending, list[_Stored], BaseException | None]:
        try:
            with self.store.transaction():
                outcome = self._insert_or_refuse(p)
        except Exception as exc:
            log.error("mail delivery to %s failed: %s", p.recipients, exc, exc_info=True)
            return (p, [], exc)
        self.commits += 1
        return outcome

    def _insert_or_refuse(
        self, p: _Pending
    ) -> tuple[_Pending, list[_Stored], BaseException | None]:
        try:
            return (p, self._insert(p), None)
        except MailboxFull as full:
            log.info("mail for %s refused at commit: mailbox full", full.key)
            return (p, [], full)

    def _is_duplicate(self, key: str, letter: Letter) -> bool:
        if not letter.message_id:
            return False
        since = letter.received_at - DEDUPE_WINDOW
        if key == HELD:
            row = self.store.db.execute(
                "SELECT 1 FROM held_letters WHERE message_id = ? AND envelope_from = ?"
                " AND received_at >= ? LIMIT 1",
                (letter.message_id, letter.envelope_from, since),
            ).fetchone()
            return row is not None
        row = self.store.db.execute(
            "SELECT 1 FROM letters WHERE owner = ? AND mailbox = 'INBOX' AND message_id = ?"
            " AND envelope_from = ? AND received_at >= ? LIMIT 1",
            (key, letter.message_id, letter.envelope_from, since),
        ).fetchone()
        return row is not None

    def _insert(self, p: _Pending) -> list[_Stored]:
        """Store one delivery (inside the caller's transaction); raises MailboxFull first."""
        letter = p.letter
        keys = [key for key in p.recipients if not self._is_duplicate(key, letter)]
        if len(keys) < len(p.recipients):
            log.info("message %s from <%s> already delivered to %d mailbox(es); kept once",
                     letter.message_id, letter.envelope_from, len(p.recipients) - len(keys))
        # Counted inside the transaction, which sees the letters this batch
        # stored already: sessions that passed RCPT together cannot overshoot.
        for key in keys:
            if self.count(key) >= self.max_letters:
                raise MailboxFull(key)
        attachments = json.dumps([[a.name, a.size] for a in letter.attachments])
        ids = []
        values = (
            letter.sender,
            letter.from_header,
            letter.subject,
            letter.sent_at,
            letter.received_at,
            letter.body,
            attachments,
            letter.message,
            int(letter.external),
            letter.envelope_from,
            letter.message_id,
        )
        marks = ", ".join("?" * len(values))
        size = len(letter.message)
        for key in keys:
            if key == HELD:
                cursor = self.store.db.execute(
                    f"INSERT INTO held_letters({_LETTER_COLUMNS}) VALUES ({marks})", values
                )
                ids.append(_Stored(key, HELD, int(cursor.lastrowid or 0),
                                   FolderLetter(0, frozenset(), letter.received_at, size)))
            else:
                uid = self.folders.next_uid(key, INBOX)
                cursor = self.store.db.execute(
                    f"INSERT INTO letters(owner, mailbox, uid, {_LETTER_COLUMNS})"
                    f" VALUES (?, 'INBOX', ?, {marks})",
                    (key, uid, *values),
                )
                ids.append(_Stored(key, INBOX, int(cursor.lastrowid or 0),
                                   FolderLetter(uid, frozenset(), letter.received_at, size)))
        if p.sent_by is not None and keys:
            ids.append(self._keep_sent_copy(p.sent_by, values, letter.received_at, size))
        return ids

    def _keep_sent_copy(self, key: str, values: tuple[Any, ...], received_at: float,
                        size: int) -> _Stored:
        """A copy of a letter ``key`` wrote, read, in their Sent folder (inside the transaction).

        The Sent folder keeps :attr:`max_letters` at most: past it the oldest
        copy goes (its watchers hear an expunge), so sending never fails for it.
        """
        trimmed: tuple[int, ...] = ()
        over = self.store.db.execute(
            "SELECT uid FROM letters WHERE owner = ? AND mailbox = 'Sent' ORDER BY uid"
            " LIMIT max(0, (SELECT COUNT(*) FROM letters WHERE owner = ? AND mailbox = 'Sent')"
            " - ? + 1)",
            (key, key, self.max_letters),
        ).fetchall()
        if over:
            uids = [int(r[0]) for r in over]
            self.store.db.executemany(
                "DELETE FROM letters WHERE owner = ? AND mailbox = 'Sent' AND uid = ?",
                [(key, uid) for uid in uids],
            )
            trimmed = tuple(uids)
        uid = self.folders.next_uid(key, SENT)
        marks = ", ".join("?" * len(values))
        cursor = self.store.db.execute(
            f"INSERT INTO letters(owner, mailbox, uid, read, {_LETTER_COLUMNS})"
            f" VALUES (?, 'Sent', ?, 1, {marks})",
            (key, uid, *values),
        )
        return _Stored(key, SENT, int(cursor.lastrowid or 0),
                       FolderLetter(uid, frozenset({SEEN}), received_at, size), trimmed)

    def send(self, sender: Player, recipient: str, subject: str, body: str) -> None:
        """An in-game letter from a player, written as RFC 5322 and delivered at once.

        A copy, read, goes to the sender's Sent folder in the same commit.

        Raises :class:`~reality.game.commands.Refusal` saying why not.
        """
        account = self.store.get_account(recipient)
        if account is None:
            raise Refusal(f"There is no player called '{markup.escape(recipient[:40])}'.")
        if self.is_full(account.key):
            raise Refusal(f"{account.name}'s mailbox is full; your letter was not sent.")
        domain = self.world.mail_domain
        data = compose_letter(
            from_name=sender.name,
            from_address=self.world.mail_address(sender),
            to_name=account.name,
            to_address=self.world.mail_address(account.name),
            subject=subject,
            body=body,
            when=self.world.wall(),
            domain=domain,
        )
        outcome: list[BaseException | None] = []

        def done(error: BaseException | None) -> None:
            outcome.append(error)
            if error is None:
                # Before the daemon's visit, so the sender reads it first.
                title = markup.escape(subject or "(no subject)")
                sender.show(f"You send a letter to {account.name}: {title}")

        self.deliver(
            [account.key],
            data,
            envelope_from=self.world.mail_address(sender),
            done=done,
            now=True,
            external=False,
            sent_by=sender.key,
        )
        if outcome and isinstance(outcome[0], MailboxFull):
            raise Refusal(f"{account.name}'s mailbox is full; your letter was not sent.")
        if not outcome or outcome[0] is not None:
            raise Refusal(
                "The mail daemon dropped your letter; nothing was sent. Please try again."
            )

    # -- the mail daemon ----------

    def _announce(self, key: str, letters: list[tuple[int, Letter]]) -> None:
        player = self.world.online.get(key)
        if player is None:
            return
        first_number = self._number_of(key, letters[0][0])
        lines = []
        for offset, (_letter_id, letter) in enumerate(letters):
            number = first_number + offset
            lines.append(
                f"{{bright_yellow}}You have mail from {markup.escape(letter.sender)}:"
                f" {markup.escape(letter.subject)}{{/}}"
                f"\nType 'mail read {number}' to read it."
            )
        room = player.location  # a connected player always stands somewhere
        what = "a letter" if len(letters) == 1 else f"{len(letters)} letters"
        daemon = self._daemons.get(key)
        if daemon is not None and daemon.room is room and daemon.npc in room.contents:
            daemon.timer.reset(self.daemon_linger)
            more = "another letter" if len(letters) == 1 else f"{len(letters)} more letters"
            deliver_event(
                Event(
                    room,
                    f"The mail daemon hands {player.name} {more}.",
                    target=player,
                    to_target=f"The mail daemon hands you {more}.",
                )
            )
        else:
            npc = Npc(
                f"@mail-daemon-{key}",
                "mail daemon",
                "A small harried daemon in a postman's cap, with a sack of letters.",
                aliases=("daemon",),
            )
            _daemon_appears(self.world, npc, room)
            timer = self.world.clock.call_later(self.daemon_linger, self._vanish, key, npc)
            self._daemons[key] = _Daemon(npc, room, timer)
            deliver_event(
                Event(
                    room,
                    f"A mail daemon appears in a puff of smoke and hands {player.name} {what}.",
                    target=player,
                    to_target=f"A mail daemon appears in a puff of smoke and hands you {what}.",
                )
            )
        for line in lines:
            player.show(line)

    def _hand_held_mail(self, player: Player) -> None:
        """An admin logs in: postmaster mail kept while there was none goes to their mailbox."""
        if not player.admin or not self.count(HELD):
            return
        room = self.max_letters - self.count(player.key)
        if room <= 0:
            player.show("{bright_yellow}Mail for the postmaster is waiting, but your mailbox"
                        " is full.{/}")
            return
        with self.store.transaction():
            rows = self.store.db.execute(
                "SELECT id FROM held_letters ORDER BY id LIMIT ?", (room,)
            ).fetchall()
            ids = [(int(r[0]),) for r in rows]
            uids = []
            for (held_id,) in ids:
                uid = self.folders.next_uid(player.key, INBOX)
                uids.append(uid)
                self.store.db.execute(
                    f"INSERT INTO letters(owner, mailbox, uid, {_LETTER_COLUMNS})"
                    f" SELECT ?, 'INBOX', ?, {_LETTER_COLUMNS} FROM held_letters WHERE id = ?",
                    (player.key, uid, held_id),
                )
            self.store.db.executemany("DELETE FROM held_letters WHERE id = ?", ids)
        listed = {letter.uid: letter for letter in self.folders.letters(player.key, INBOX)}
        self.folders.tell_added(player.key, INBOX, [listed[u] for u in uids if u in listed])
        noun = "letter" if len(ids) == 1 else "letters"
        log.info("%d held postmaster %s handed to %s", len(ids), noun, player.key)
        player.show(
            f"{{bright_yellow}}{len(ids)} {noun} for the postmaster, kept until an admin"
            f" came, {'is' if len(ids) == 1 else 'are'} now in your mailbox.{{/}}"
            " Type 'mail' to read them."
        )

    def _number_of(self, key: str, letter_id: int) -> int:
        """A letter's number in its mailbox (1 = oldest)."""
        row = self.store.db.execute(
            "SELECT COUNT(*) FROM letters WHERE owner = ? AND mailbox = 'INBOX' AND id <= ?",
            (key, letter_id),
        ).fetchone()
        return int(row[0])

    def _vanish(self, key: str, npc: Npc) -> None:
        daemon = self._daemons.get(key)
        if daemon is not None and daemon.npc is npc:
            del self._daemons[key]
        room = _daemon_vanishes(self.world, npc)
        if room is not None:
            deliver_event(Event(room, "The mail daemon vanishes in a puff of smoke."))

    def close(self) -> None:
        """Commit what is queued and send every daemon home (at shutdown)."""
        self.flush()
        if self.commits:
            log.info(
                "post office: %d letters stored in %d commits since start",
                self.letters_stored,
                self.commits,
            )
        for key, daemon in list(self._daemons.items()):
            if daemon.timer.active():
                daemon.timer.cancel()
            self._vanish(key, daemon.npc)

    # -- reading ----------

    def unread_count(self, name: str) -> int:
        """Unread letters in a mailbox (the world's login hook)."""
        row = self.store.db.execute(
            "SELECT COUNT(*) FROM letters WHERE owner = ? AND mailbox = 'INBOX' AND read = 0",
            (name_key(name),),
        ).fetchone()
        return int(row[0])

    def count(self, name: str) -> int:
        """Letters in a mailbox (:data:`HELD`: postmaster mail waiting for an admin)."""
        if name == HELD:
            return int(self.store.db.execute("SELECT COUNT(*) FROM held_letters").fetchone()[0])
        row = self.store.db.execute(
            "SELECT COUNT(*) FROM letters WHERE owner = ? AND mailbox = 'INBOX'",
            (name_key(name),),
        ).fetchone()
        return int(row[0])

    def is_full(self, name: str) -> bool:
        """True when the mailbox holds :attr:`max_letters` letters."""
        return self.count(name) >= self.max_letters

    def summaries(self, name: str) -> list[LetterSummary]:
        """Every letter in a mailbox, oldest first, numbered from 1."""
        rows = self.store.db.execute(
            "SELECT id, sender, subject, sent_at, received_at, read FROM letters"
            " WHERE owner = ? AND mailbox = 'INBOX' ORDER BY id",
            (name_key(name),),
        ).fetchall()
        return [
            LetterSummary(n, r[0], r[1], r[2], r[3], r[4], bool(r[5]))
            for n, r in enumerate(rows, 1)
        ]

    def letter(self, name: str, number: int) -> StoredLetter | None:
        """Letter ``number`` (1 = oldest) of a mailbox, or None."""
        key = name_key(name)
        total = self.count(key)
        if not 1 <= number <= total:
            return None
        row = self.store.db.execute(
            "SELECT id, sender, from_header, subject, sent_at, received_at, body, attachments,"
            " read FROM letters WHERE owner = ? AND mailbox = 'INBOX' ORDER BY id"
            " LIMIT 1 OFFSET ?",
            (key, number - 1),
        ).fetchone()
        if row is None:
            return None
        try:
            attachments = tuple(Attachment(str(n), int(s)) for n, s in json.loads(row[7]))
        except (ValueError, TypeError):
            attachments = ()
        return StoredLetter(
            number, total, row[0], key, row[1], row[2], row[3], row[4], row[5], row[6],
            attachments, bool(row[8]),
        )  # fmt: skip

    def mark_read(self, letter: StoredLetter) -> None:
        """Remember that a letter was read (committed on return); IMAP shows it ``\\Seen``."""
        if not letter.read:
            self._mark_read(letter.id, letter.owner)

    def _mark_read(self, letter_id: int, key: str) -> None:
        with self.store.transaction():
            changed = self.store.db.execute(
                "UPDATE letters SET read = 1 WHERE id = ? AND owner = ? AND read = 0",
                (letter_id, key),
            ).rowcount
        if changed:
            self.folders.tell_read(key, [letter_id])

    def delete(self, name: str, number: int) -> StoredLetter:
        """Delete letter ``number``; raises LookupError or :class:`MailboxLocked`.

        Gone everywhere: open IMAP mailboxes hear an expunge.
        """
        key = name_key(name)
        if key in self._locks:
            raise MailboxLocked(key)
        letter = self.letter(key, number)
        if letter is None:
            raise LookupError(number)
        with self.store.transaction():
            row = self.store.db.execute(
                "DELETE FROM letters WHERE id = ? AND owner = ? RETURNING uid", (letter.id, key)
            ).fetchone()
        if row is not None:
            self.folders.tell_expunged(key, INBOX, [int(row[0])])
        return letter

    # -- POP3 sessions ----------

    def open_mailbox(self, name: str) -> MailboxSession:
        """Lock a mailbox for a mail client's session; raises :class:`MailboxLocked`."""
        key = name_key(name)
        if key in self._locks:
            raise MailboxLocked(key)
        session = MailboxSession(self, key)
        self._locks.add(key)
        return session

    def is_locked(self, name: str) -> bool:
        return name_key(name) in self._locks


class MailboxSession:
    """A locked mailbox for one POP3 session (the shape ``POP3Backend`` wants).

    The listing is fixed when the session starts (RFC 1939: letters that
    arrive meanwhile wait for the next session). Unique ids are the row id
    and arrival second, so they are never reused, even by a new database.
    """

    def __init__(self, office: PostOffice, key: str) -> None:
        self.office = office
        self.key = key
        rows = office.store.db.execute(
            "SELECT id, received_at, length(message) FROM letters"
            " WHERE owner = ? AND mailbox = 'INBOX' ORDER BY id",
            (key,),
        ).fetchall()
        self._ids = [int(r[0]) for r in rows]
        self._listing = [(f"{r[0]}.{int(r[1])}", int(r[2])) for r in rows]
        self._released = False

    def list_messages(self) -> Sequence[tuple[str, int]]:
        return self._listing

    def message(self, index: int) -> bytes:
        row = self.office.store.db.execute(
            "SELECT message FROM letters WHERE id = ? AND owner = ?", (self._ids[index], self.key)
        ).fetchone()
        if row is None:
            raise LookupError(f"letter {self._ids[index]} is gone")
        return bytes(row[0])

    def retrieved(self, index: int) -> None:
        """RETR sent the whole letter: it counts as read in the game too."""
        self.office._mark_read(self._ids[index], self.key)

    def commit_deletions(self, indices: Sequence[int]) -> None:
        """Delete the marked letters in one transaction (POP3 QUIT)."""
        ids = [(self._ids[i], self.key) for i in indices]
        uids = []
        with self.office.store.transaction():
            for letter_id, key in ids:
                row = self.office.store.db.execute(
                    "DELETE FROM letters WHERE id = ? AND owner = ? RETURNING uid",
                    (letter_id, key),
                ).fetchone()
                if row is not None:
                    uids.append(int(row[0]))
        log.info("POP3: %d letter(s) deleted from %s", len(ids), self.key)
        # RFC 2180 4.1: what POP3 deleted reaches every IMAP session as an expunge.
        self.office.folders.tell_expunged(self.key, INBOX, sorted(uids))

    def release(self) -> None:
        if not self._released:
            self._released = True
            self.office._locks.discard(self.key)
