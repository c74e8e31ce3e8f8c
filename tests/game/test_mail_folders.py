"""IMAP's view of the post office: folders, stable UIDs and UIDVALIDITY, flags, watchers, POP3."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from reality.game.loader import load_world
from reality.game.mail import (
    INBOX,
    SENT,
    FolderLetter,
    MailboxFull,
    MailboxLocked,
    PostOffice,
    open_post_office,
)
from reality.game.mail.office import MAIL_MIGRATIONS
from reality.game.store import CORE_MIGRATIONS, Store
from reality.game.world import World
from reality.net.testing import Clock

TINY = Path(__file__).resolve().parents[2] / "world" / "tiny.yaml"


def message(subject: str, body: str = "text") -> bytes:
    return f"From: Carol <carol@example.com>\r\nSubject: {subject}\r\n\r\n{body}\r\n".encode()


def account(world: World, name: str) -> None:
    world.store.create_account(name, "scrypt$2$1$1$AA==$AA==", now=0.0)


class Watcher:
    """Records what a folder tells it, as an open IMAP mailbox would hear it."""

    def __init__(self) -> None:
        self.heard: list[tuple[str, object]] = []

    def added(self, letters):
        self.heard.append(("added", [letter.uid for letter in letters]))

    def flags_changed(self, uid, flags):
        self.heard.append(("flags", (uid, sorted(flags))))

    def expunged(self, uids):
        self.heard.append(("expunged", list(uids)))


@pytest.fixture
def office(world: World) -> PostOffice:
    account(world, "Alice")
    account(world, "Bob")
    return open_post_office(world)


def test_uids_ascend_per_folder_and_are_never_given_twice(world, office):
    """Each folder counts its own UIDs; an expunged UID is not given again; UIDNEXT moves on."""
    for n in range(3):
        office.deliver(["alice"], message(f"a{n}"), now=True)
    office.deliver(["bob"], message("b0"), now=True)
    folders = office.folders
    assert [m.uid for m in folders.letters("alice", INBOX)] == [1, 2, 3]
    assert [m.uid for m in folders.letters("bob", INBOX)] == [1]
    folders.store_flags("alice", INBOX, [3], ["\\Deleted"], "+")
    assert folders.expunge("alice", INBOX, [1, 2, 3]) == [3]
    office.deliver(["alice"], message("a3"), now=True)
    assert [m.uid for m in folders.letters("alice", INBOX)] == [1, 2, 4]
    status = folders.status("alice", INBOX)
    assert (status.messages, status.unseen, status.uidnext) == (3, 3, 5)
    assert status.uidvalidity > 0


def test_uidvalidity_and_uids_survive_a_restart(tmp_path):
    """UIDVALIDITY is stored when the folder is made: restarts and reloads keep it and the UIDs."""
    path = str(tmp_path / "mail.sqlite3")
    store = Store(path)
    world = World(Clock(), store, wall_clock=lambda: 1_700_000_000.0)
    world.load(load_world(TINY))
    office = open_post_office(world)
    account(world, "Alice")
    office.deliver(["alice"], message("one"), now=True)
    before = office.folders.status("alice", INBOX)
    store.close()

    store = Store(path)
    world = World(Clock(), store, wall_clock=lambda: 1_800_000_000.0)
    world.load(load_world(TINY))
    world.load(load_world(TINY))  # a world reload changes nothing in the mail
    office = open_post_office(world)
    assert office.folders.status("alice", INBOX) == before
    assert [m.uid for m in office.folders.letters("alice", INBOX)] == [1]
    store.close()


def test_seen_is_the_games_read_mark_both_ways(world, office):
    """\\Seen set over IMAP shows read in the game; read in the game shows \\Seen to IMAP."""
    office.deliver(["alice"], message("one"), now=True)
    office.deliver(["alice"], message("two"), now=True)
    watcher = Watcher()
    office.folders.watch("alice", INBOX, watcher)
    office.folders.store_flags("alice", INBOX, [1], ["\\SEEN", "\\Flagged"], "+",
                               origin=watcher)
    assert [s.read for s in office.summaries("alice")] == [True, False]
    assert watcher.heard == []
    office.mark_read(office.letter("alice", 2))
    assert watcher.heard == [("flags", (2, ["\\Seen"]))]
    letters = office.folders.letters("alice", INBOX)
    assert [sorted(m.flags) for m in letters] == [["\\Flagged", "\\Seen"], ["\\Seen"]]
    result = office.folders.store_flags("alice", INBOX, [1, 2, 9], ["\\Seen", "$Junk"], "-")
    assert result == {1: frozenset({"\\Flagged"}), 2: frozenset()}
    assert office.unread_count("alice") == 2


def test_the_session_that_changes_is_not_told_and_the_others_are(world, office):
    """A STORE from one session reaches every other watcher of the folder, not itself."""
    office.deliver(["alice"], message("one"), now=True)
    mine, other = Watcher(), Watcher()
    office.folders.watch("alice", INBOX, mine)
    office.folders.watch("alice", INBOX, other)
    office.folders.store_flags("alice", INBOX, [1], ["\\Answered"], "+", origin=mine)
    assert mine.heard == [] and other.heard == [("flags", (1, ["\\Answered"]))]
    office.folders.store_flags("alice", INBOX, [1], ["\\Answered"], "+", origin=mine)
    assert len(other.heard) == 1  # nothing changed: nothing said
    office.folders.unwatch("alice", INBOX, other)
    office.folders.store_flags("alice", INBOX, [1], ["\\Deleted"], "+")
    assert len(other.heard) == 1 and mine.heard == [("flags", (1, ["\\Answered", "\\Deleted"]))]


def test_delivery_game_delete_and_expunge_are_told_at_once(world, office, clock):
    """SMTP-style delivery (batched) and in-game delete reach watchers after their commits."""
    watcher = Watcher()
    office.folders.watch("alice", INBOX, watcher)
    office.deliver(["alice"], message("one"))
    office.deliver(["alice"], message("two"))
    assert watcher.heard == []
    clock.advance(0)
    assert watcher.heard == [("added", [1, 2])]
    office.delete("alice", 1)
    assert watcher.heard[-1] == ("expunged", [1])
    assert [m.uid for m in office.folders.letters("alice", INBOX)] == [2]


def test_expunge_deletes_only_deleted_letters_everywhere(world, office):
    """EXPUNGE removes \\Deleted letters from the game and POP3 view too."""
    for n in range(3):
        office.deliver(["alice"], message(f"m{n}"), now=True)
    office.folders.store_flags("alice", INBOX, [2], ["\\Deleted"], "+")
    assert office.folders.expunge("alice", INBOX, [1, 2]) == [2]
    assert [s.subject for s in office.summaries("alice")] == ["m0", "m2"]
    box = office.open_mailbox("alice")
    assert len(box.list_messages()) == 2
    box.release()


def test_pop3_lock_refuses_imap_expunge_and_pop3_deletions_reach_imap(world, office):
    """While POP3 holds INBOX, IMAP may flag but not expunge; POP3's QUIT deletions are told."""
    for n in range(2):
        office.deliver(["alice"], message(f"m{n}"), now=True)
    watcher = Watcher()
    office.folders.watch("alice", INBOX, watcher)
    box = office.open_mailbox("alice")
    office.folders.store_flags("alice", INBOX, [1], ["\\Deleted"], "+")
    with pytest.raises(MailboxLocked):
        office.folders.expunge("alice", INBOX, [1])
    with pytest.raises(MailboxLocked):
        office.folders.move("alice", INBOX, [1], SENT)
    box.retrieved(1)  # RETR of the second letter marks it read
    box.commit_deletions([0])
    box.release()
    assert watcher.heard[-2:] == [("flags", (2, ["\\Seen"])), ("expunged", [1])]
    assert [m.uid for m in office.folders.letters("alice", INBOX)] == [2]


def test_mail_send_keeps_a_read_copy_in_sent(world, office, join):
    """A letter written in the game lands in the recipient's INBOX and the sender's Sent."""
    alice, _ = join(world, "Alice")
    watcher = Watcher()
    office.folders.watch("alice", SENT, watcher)
    office.send(alice, "Bob", "Hello", "Hi Bob")
    sent = office.folders.letters("alice", SENT)
    assert [(m.uid, sorted(m.flags)) for m in sent] == [(1, ["\\Seen"])]
    assert watcher.heard == [("added", [1])]
    assert b"Subject: Hello" in (office.folders.message("alice", SENT, 1) or b"")
    assert office.count("alice") == 0 and office.count("bob") == 1  # Sent is not the INBOX


def test_sent_keeps_at_most_the_limit_dropping_the_oldest(world, join):
    """Past max_letters the oldest Sent copy goes (watchers hear the expunge); sending works."""
    account(world, "Bob")
    office = open_post_office(world, max_letters=2)
    alice, _ = join(world, "Alice")
    watcher = Watcher()
    office.folders.watch("alice", SENT, watcher)
    office.send(alice, "Alice", "one", "1")
    office.send(alice, "Bob", "two", "2")
    office.send(alice, "Bob", "three", "3")
    assert [m.uid for m in office.folders.letters("alice", SENT)] == [2, 3]
    assert ("expunged", [1]) in watcher.heard


def test_copy_and_move_between_folders(world, office):
    """COPY keeps flags under new UIDs; MOVE also expunges the source; limits hold."""
    office.deliver(["alice"], message("one"), now=True)
    office.deliver(["alice"], message("two"), now=True)
    office.folders.store_flags("alice", INBOX, [1], ["\\Flagged", "\\Deleted"], "+")
    inbox, sent = Watcher(), Watcher()
    office.folders.watch("alice", INBOX, inbox)
    office.folders.watch("alice", SENT, sent)
    assert office.folders.copy("alice", INBOX, [1, 7], SENT) == [(1, 1)]
    assert sorted(office.folders.letters("alice", SENT)[0].flags) == ["\\Deleted", "\\Flagged"]
    assert office.folders.move("alice", INBOX, [2], SENT, origin=inbox) == [(2, 2)]
    assert sent.heard == [("added", [1]), ("added", [2])]
    assert inbox.heard == []
    assert office.count("alice") == 1
    with pytest.raises(MailboxFull):
        office.folders.copy("alice", SENT, [1, 2], INBOX, limit=2)
    with pytest.raises(LookupError):
        office.folders.copy("alice", INBOX, [1], "Trash")


def test_held_postmaster_mail_gets_uids(world, office, join):
    """Mail kept for the first admin gets INBOX UIDs when it is handed over."""
    office.deliver(["@postmaster"], message("held"), now=True)
    watcher = Watcher()
    office.folders.watch("alice", INBOX, watcher)
    join(world, "Alice")  # an admin in this world
    assert [m.uid for m in office.folders.letters("alice", INBOX)] == [1]
    assert watcher.heard == [("added", [1])]


def test_migration_gives_old_letters_uids_and_back_fills_sent(tmp_path):
    """A database from before the folders: letters get UIDs in order; in-game letters a
    recipient still holds appear in their writer's Sent folder."""
    path = str(tmp_path / "old.sqlite3")
    old = Store(path, migrations={"core": CORE_MIGRATIONS, "mail": MAIL_MIGRATIONS[:3]})
    old.create_account("Alice", "x", now=0.0)
    old.create_account("Bob", "x", now=0.0)
    rows = [
        ("bob", "Alice", "alice@reality.localhost", 0),
        ("bob", "Carol", "carol@far.example", 1),
        ("alice", "Bob", "bob@reality.localhost", 0),
        ("bob", "Alice", "alice@reality.localhost", 0),
    ]
    with old.transaction():
        for owner, sender, envelope, external in rows:
            old.db.execute(
                "INSERT INTO letters(owner, sender, from_header, subject, received_at, body,"
                " message, external, envelope_from) VALUES (?, ?, ?, 's', 1.0, 'b', ?, ?, ?)",
                (owner, sender, sender, b"Subject: s\r\n\r\nb\r\n", external, envelope),
            )
    old.close()

    store = Store(path)
    world = World(Clock(), store, wall_clock=lambda: 1_700_000_000.0)
    world.load(load_world(TINY))
    office = open_post_office(world)
    assert [m.uid for m in office.folders.letters("bob", INBOX)] == [1, 2, 3]
    assert [m.uid for m in office.folders.letters("alice", INBOX)] == [1]
    assert [(m.uid, sorted(m.flags)) for m in office.folders.letters("alice", SENT)] == [
        (1, ["\\Seen"]), (2, ["\\Seen"]),
    ]
    assert [m.uid for m in office.folders.letters("bob", SENT)] == [1]
    assert office.folders.status("bob", INBOX).uidnext == 4
    office.deliver(["bob"], message("new"), now=True)
    assert [m.uid for m in office.folders.letters("bob", INBOX)] == [1, 2, 3, 4]
    store.close()


def test_a_folder_letter_is_what_delivery_announced(world, office):
    """What watchers hear on delivery equals what the folder lists afterwards."""
    heard: list[FolderLetter] = []

    class Keep(Watcher):
        def added(self, letters):
            heard.extend(letters)

    office.folders.watch("alice", INBOX, Keep())
    office.deliver(["alice"], message("one"), now=True)
    assert heard == office.folders.letters("alice", INBOX)


def test_store_rejects_unknown_modes(world, office):
    with pytest.raises(ValueError):
        office.folders.store_flags("alice", INBOX, [1], ["\\Seen"], "*")
    assert isinstance(office.store.db, sqlite3.Connection)
