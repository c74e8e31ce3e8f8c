"""The post office: batched durable delivery, the mail daemon, unread counts, locks, restarts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from reality.game.loader import load_world
from reality.game.mail import (
    DEDUPE_WINDOW,
    MailboxFull,
    MailboxLocked,
    PostOffice,
    ensure_schema,
    open_post_office,
    parse_letter,
    post_office,
)
from reality.game.mail.office import MAIL_MIGRATIONS
from reality.game.store import CORE_MIGRATIONS, Store
from reality.game.world import World
from reality.net.testing import Clock

TINY = Path(__file__).resolve().parents[2] / "world" / "tiny.yaml"

MESSAGE = (
    b"From: Bob Example <bob@example.com>\r\n"
    b"Subject: Hello there\r\n"
    b"\r\n"
    b"A letter for you.\r\n"
)


def message(subject: str, body: str = "text") -> bytes:
    return f"From: Carol <carol@example.com>\r\nSubject: {subject}\r\n\r\n{body}\r\n".encode()


@pytest.fixture
def office(world: World) -> PostOffice:
    return open_post_office(world)


def account(world: World, name: str) -> None:
    world.store.create_account(name, "scrypt$2$1$1$AA==$AA==", now=0.0)


def stored_subjects(world: World, key: str) -> list[str]:
    rows = world.store.db.execute(
        "SELECT subject FROM letters WHERE owner = ? ORDER BY id", (key,)
    ).fetchall()
    return [r[0] for r in rows]


# -- durable, batched delivery ----------------------------------------------------------


def test_deliveries_in_one_turn_share_one_commit_and_are_acknowledged_after_it(
    world, office, clock
):
    """Three deliveries queued in one turn: nothing stored or acknowledged until one commit."""
    for name in ("Alice", "Bob", "Carol"):
        account(world, name)
    seen: list[tuple[str, list[str]]] = []

    def done(name: str):
        def record(error):
            assert error is None
            # By the time the sender hears "done" the letter is in the database.
            seen.append((name, stored_subjects(world, name.lower())))

        return record

    office.deliver(["alice"], message("one"), done=done("Alice"), external=False)
    office.deliver(["Bob", "CAROL"], message("two"), done=done("Bob"), external=False)
    office.deliver(["alice"], message("three"), done=done("Alice"), external=False)
    assert seen == [] and stored_subjects(world, "alice") == []
    assert office.commits == 0

    clock.advance(0)
    assert office.commits == 1
    assert office.letters_stored == 4
    assert seen == [("Alice", ["one", "three"]), ("Bob", ["two"]), ("Alice", ["one", "three"])]
    assert stored_subjects(world, "carol") == ["two"]


def test_now_commits_at_once(world, office):
    """deliver(now=True) commits before it returns, with anything already queued."""
    account(world, "Alice")
    office.deliver(["alice"], message("queued"), external=False)
    results = []
    office.deliver(["alice"], message("urgent"), done=results.append, now=True, external=False)
    assert results == [None]
    assert stored_subjects(world, "alice") == ["queued", "urgent"]
    assert office.commits == 1


def test_a_failed_commit_reports_the_error_and_stores_nothing(world, office, clock, monkeypatch):
    """If the transaction fails, every delivery in it hears the error and nothing is kept."""
    account(world, "Alice")
    errors = []
    office.deliver(["alice"], message("lost"), done=errors.append, external=False)

    def broken(p):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(office, "_insert", broken)
    clock.advance(0)
    assert len(errors) == 1 and isinstance(errors[0], sqlite3.OperationalError)
    monkeypatch.undo()
    assert stored_subjects(world, "alice") == []
    assert world.store.db.in_transaction is False


def test_one_bad_delivery_does_not_fail_the_batch(world, office, clock):
    """A delivery to a mailbox that cannot exist fails alone; the rest of the batch is kept."""
    account(world, "Alice")
    outcomes = []
    office.deliver(["alice"], message("good one"), done=outcomes.append, external=False)
    office.deliver(["ghost"], message("bad"), done=outcomes.append, external=False)
    office.deliver(["alice"], message("good two"), done=outcomes.append, external=False)
    clock.advance(0)
    assert outcomes[0] is None and outcomes[2] is None
    assert isinstance(outcomes[1], sqlite3.IntegrityError)
    assert stored_subjects(world, "alice") == ["good one", "good two"]
    assert stored_subjects(world, "ghost") == []


def test_a_failing_done_callback_is_logged_and_others_still_run(world, office, clock, caplog):
    """A sender's callback that raises does not stop the other acknowledgements."""
    account(world, "Alice")
    outcomes = []

    def broken(error):
        raise RuntimeError("boom")

    office.deliver(["alice"], message("a"), done=broken, external=False)
    office.deliver(["alice"], message("b"), done=outcomes.append, external=False)
    clock.advance(0)
    assert outcomes == [None]
    assert "mail delivery callback failed" in caplog.text


# -- the mail daemon ----------------------------------------------------------------------


def test_daemon_appears_hands_over_the_letter_and_vanishes_on_the_next_tick(
    world, office, clock, join
):
    """Everyone in the room sees the daemon; the recipient gets the letter; a tick later it goes."""
    alice, a = join(world, "Alice")
    bob, b = join(world, "Bob")
    a.take()
    b.take()
    office.deliver(["alice"], MESSAGE, external=False)
    clock.advance(0)
    assert a.take() == [
        "A mail daemon appears in a puff of smoke and hands you a letter.",
        "You have mail from Bob Example: Hello there",
        "Type 'mail read 1' to read it.",
    ]
    assert b.take() == ["A mail daemon appears in a puff of smoke and hands Alice a letter."]
    world.execute(bob, "look")
    assert "A grey cat and a mail daemon are here." in b.take()
    world.execute(bob, "look daemon")
    assert b.take() == ["A small harried daemon in a postman's cap, with a sack of letters."]

    clock.advance(office.daemon_linger - 0.01)
    assert a.take() == [] and b.take() == []
    clock.advance(0.01)
    assert a.take() == ["The mail daemon vanishes in a puff of smoke."]
    assert b.take() == ["The mail daemon vanishes in a puff of smoke."]
    world.execute(bob, "look")
    assert not any("daemon" in line for line in b.take())


def test_one_daemon_brings_several_letters_and_stays_for_more(world, office, clock, join):
    """Letters in one batch come together; another letter while it waits resets its tick."""
    alice, a = join(world, "Alice")
    a.take()
    office.deliver(["alice"], message("first"), external=False)
    office.deliver(["alice"], message("second"), external=False)
    clock.advance(0)
    lines = a.take()
    assert lines[0] == "A mail daemon appears in a puff of smoke and hands you 2 letters."
    assert lines[1:] == [
        "You have mail from Carol: first",
        "Type 'mail read 1' to read it.",
        "You have mail from Carol: second",
        "Type 'mail read 2' to read it.",
    ]
    clock.advance(office.daemon_linger / 2)
    office.deliver(["alice"], message("third"), external=False)
    clock.advance(0)
    assert a.take() == [
        "The mail daemon hands you another letter.",
        "You have mail from Carol: third",
        "Type 'mail read 3' to read it.",
    ]
    clock.advance(office.daemon_linger * 0.75)
    assert a.take() == []  # the tick was reset by the third letter
    clock.advance(office.daemon_linger * 0.25)
    assert a.take() == ["The mail daemon vanishes in a puff of smoke."]
    assert [t for t in alice.location.contents if t.name == "mail daemon"] == []


def test_daemon_follows_the_recipient_to_another_room(world, office, clock, join):
    """A player who moved on gets a new daemon where they are; the old one still vanishes."""
    alice, a = join(world, "Alice")
    bob, b = join(world, "Bob")
    office.deliver(["alice"], message("one"), external=False)
    clock.advance(0)
    world.execute(alice, "north")
    a.take()
    b.take()
    office.deliver(["alice"], message("two"), external=False)
    clock.advance(0)
    assert a.take()[0] == "A mail daemon appears in a puff of smoke and hands you a letter."
    assert b.take() == []  # Bob is in the hall, Alice in the library
    clock.advance(office.daemon_linger)
    assert b.take() == ["The mail daemon vanishes in a puff of smoke."]
    assert a.take() == ["The mail daemon vanishes in a puff of smoke."]


def test_markup_in_sender_and_subject_is_shown_literally(world, office, clock, join):
    """A subject like '{red}' is text, not colour: the daemon's line escapes it."""
    alice, a = join(world, "Alice")
    a.take()
    office.deliver(
        ["alice"], b"From: {bold}Eve <eve@example.com>\r\nSubject: {red}hi{/}\r\n\r\nx",
        external=False,
    )
    clock.advance(0)
    raw = a.shown[1]
    assert "{{red}hi{{/}" in raw
    assert a.take()[1] == "You have mail from {bold}Eve: {red}hi{/}"


def test_offline_recipients_are_told_on_login(world, office, clock, join):
    """No daemon for someone away; on login they hear how many unread letters wait."""
    account(world, "Bob")
    office.deliver(["bob"], message("one"), external=False)
    office.deliver(["bob"], message("two"), external=False)
    clock.advance(0)
    bob, b = join(world, "Bob")
    assert "You have 2 unread letters. Type 'mail' to read them." in b.lines()
    assert not any("daemon" in line for line in b.lines())
    assert office.unread_count("BOB") == 2


def test_close_commits_queued_letters_and_sends_daemons_home(world, office, clock, join):
    """At shutdown: what is queued is committed and answered; daemons leave."""
    alice, a = join(world, "Alice")
    results = []
    office.deliver(["alice"], message("late"), done=results.append, external=False)
    office.close()
    assert results == [None]
    assert stored_subjects(world, "alice") == ["late"]
    assert a.take()[-1] == "The mail daemon vanishes in a puff of smoke."
    assert not any(c.func == office._vanish for c in clock.get_delayed_calls())


# -- reading, deleting, POP3 mailboxes ---------------------------------------------------------


def test_mailbox_session_lists_serves_and_deletes_in_one_transaction(world, office, clock):
    """POP3's view: (uid, exact size), the stored bytes, deletions at QUIT, then unlock."""
    account(world, "Alice")
    for n in range(3):
        office.deliver(["alice"], message(f"letter {n}"), external=False)
    clock.advance(0)
    box = office.open_mailbox("Alice")
    listing = box.list_messages()
    assert len(listing) == 3
    for index, (uid, size) in enumerate(listing):
        data = box.message(index)
        assert len(data) == size
        assert uid.isascii() and 1 <= len(uid) <= 70 and " " not in uid
        assert f"Subject: letter {index}".encode() in data
    assert len({uid for uid, _ in listing}) == 3

    statements = []
    world.store.db.set_trace_callback(statements.append)
    box.commit_deletions([0, 2])
    world.store.db.set_trace_callback(None)
    assert [s for s in statements if s in ("BEGIN IMMEDIATE", "COMMIT")] == [
        "BEGIN IMMEDIATE",
        "COMMIT",
    ]
    assert stored_subjects(world, "alice") == ["letter 1"]
    box.release()
    box.release()  # a second release is harmless
    assert not office.is_locked("alice")


def test_one_session_per_mailbox_and_no_deleting_under_a_mail_client(world, office, clock, join):
    """While POP3 holds a mailbox: a second open is refused and 'mail delete' waits."""
    alice, a = join(world, "Alice")
    office.deliver(["alice"], message("keep me"), now=True, external=False)
    box = office.open_mailbox("alice")
    with pytest.raises(MailboxLocked):
        office.open_mailbox("ALICE")
    a.take()
    world.execute(alice, "mail delete 1")
    assert a.take() == [
        "Your mailbox is open in a mail program (POP3) right now;"
        " delete letters when it has finished."
    ]
    # New mail still arrives meanwhile; the session's listing stays as it was.
    office.deliver(["alice"], message("new"), now=True, external=False)
    assert len(box.list_messages()) == 1
    box.release()
    a.take()
    world.execute(alice, "mail delete 1")
    assert a.take() == ["You throw away letter 1, from Carol: keep me."]
    assert len(office.open_mailbox("alice").list_messages()) == 1


def test_letter_that_vanished_under_a_session_is_an_error_not_a_crash(world, office):
    """If a listed letter is gone, message() raises (POP3 answers -ERR) rather than lying."""
    account(world, "Alice")
    office.deliver(["alice"], message("x"), now=True, external=False)
    box = office.open_mailbox("alice")
    world.store.db.execute("DELETE FROM letters")
    with pytest.raises(LookupError):
        box.message(0)


def test_mailboxes_survive_a_restart(tmp_path):
    """Letters and read marks are in SQLite: a new process finds them as they were."""
    path = str(tmp_path / "mail.sqlite3")
    clock = Clock()
    store = Store(path)
    world = World(clock, store, wall_clock=lambda: 1_700_000_000.0)
    world.load(load_world(TINY))
    office = open_post_office(world)
    account(world, "Alice")
    office.deliver(["alice"], message("one"), now=True, external=False)
    office.deliver(["alice"], message("two"), now=True, external=False)
    office.mark_read(office.letter("alice", 1))
    store.close()

    store = Store(path)
    world = World(Clock(), store, wall_clock=lambda: 1_700_000_000.0)
    world.load(load_world(TINY))
    office = open_post_office(world)
    assert [(s.subject, s.read) for s in office.summaries("alice")] == [
        ("one", True),
        ("two", False),
    ]
    assert office.unread_count("alice") == 1
    store.close()


def test_schema_is_added_to_a_store_opened_without_it():
    """A store opened before mail was imported gets the mail tables from the post office."""
    store = Store(":memory:", migrations={"core": CORE_MIGRATIONS})
    assert store.schema_version("mail") == 0
    ensure_schema(store)
    assert store.schema_version("mail") == len(MAIL_MIGRATIONS)
    ensure_schema(store)  # idempotent
    store.close()


def test_post_office_is_found_per_world(world, make_world):
    """Each world has its own post office; a world without one has none."""
    office = open_post_office(world)
    assert post_office(world) is office
    assert world.unread_count == office.unread_count
    other = make_world()
    assert post_office(other) is None


def test_full_mailbox_is_reported(world):
    """is_full() is what SMTP asks before accepting a recipient."""
    office = open_post_office(world, max_letters=2)
    account(world, "Alice")
    office.deliver(["alice"], message("1"), now=True, external=False)
    assert not office.is_full("alice")
    office.deliver(["alice"], message("2"), now=True, external=False)
    assert office.is_full("Alice")


def test_parse_letter_is_what_is_stored(world, office):
    """What the post office stores is what parse_letter reads, message bytes included."""
    account(world, "Alice")
    letter = office.deliver(
        ["alice"], MESSAGE, envelope_from="bob@example.com", now=True, external=False
    )
    again = parse_letter(MESSAGE, received_at=letter.received_at, envelope_from="bob@example.com")
    assert again.subject == letter.subject and again.body == letter.body
    box = office.open_mailbox("alice")
    assert box.message(0) == letter.message



# -- the limit at commit, deduplication, outside mail (issue 10, items 14, 15, 9) --------------


def with_id(subject: str, message_id: str) -> bytes:
    return (f"From: Carol <carol@example.com>\r\nSubject: {subject}\r\n"
            f"Message-ID: {message_id}\r\n\r\ntext\r\n").encode()


def test_mailbox_limit_is_checked_at_the_commit(world, clock):
    """Deliveries queued together into a nearly full mailbox stop at the limit: no overshoot."""
    office = open_post_office(world, max_letters=5)
    account(world, "Alice")
    for n in range(3):
        office.deliver(["alice"], message(f"old {n}"), now=True)
    outcomes: list[BaseException | None] = []
    for n in range(4):  # each one passed its RCPT check: 3 < 5
        assert not office.is_full("alice")
        office.deliver(["alice"], message(f"new {n}"), done=outcomes.append)
    clock.advance(0)
    assert outcomes[:2] == [None, None]
    assert [type(e) for e in outcomes[2:]] == [MailboxFull, MailboxFull]
    assert office.count("alice") == 5
    assert stored_subjects(world, "alice")[3:] == ["new 0", "new 1"]


def test_a_delivery_to_a_full_mailbox_stores_nothing_for_anyone(world, clock):
    """One full recipient refuses the whole delivery (the sender retries it whole)."""
    office = open_post_office(world, max_letters=1)
    account(world, "Alice")
    account(world, "Bob")
    office.deliver(["bob"], message("filler"), now=True)
    outcomes: list[BaseException | None] = []
    office.deliver(["alice", "bob"], message("both"), done=outcomes.append, now=True)
    assert isinstance(outcomes[0], MailboxFull)
    assert stored_subjects(world, "alice") == []


def test_a_resent_message_is_stored_once_within_the_window(world, clock):
    """Same Message-ID and envelope sender: acknowledged again, kept once, until the window ends."""
    office = open_post_office(world)
    account(world, "Alice")
    account(world, "Bob")
    outcomes: list[BaseException | None] = []
    data = with_id("resent", "<abc@far.example>")
    office.deliver(["alice"], data, envelope_from="c@far.example", done=outcomes.append)
    office.deliver(["alice", "bob"], data, envelope_from="c@far.example", done=outcomes.append)
    clock.advance(0)
    office.deliver(["alice"], data, envelope_from="c@far.example", done=outcomes.append, now=True)
    assert outcomes == [None, None, None]
    assert stored_subjects(world, "alice") == ["resent"]
    assert stored_subjects(world, "bob") == ["resent"]
    # Another envelope sender using the same Message-ID is a different message.
    office.deliver(["alice"], data, envelope_from="eve@evil.example", now=True)
    assert stored_subjects(world, "alice") == ["resent", "resent"]
    # No Message-ID: nothing to compare, every copy is kept.
    office.deliver(["alice"], message("no id"), now=True)
    office.deliver(["alice"], message("no id"), now=True)
    assert stored_subjects(world, "alice").count("no id") == 2
    # After the window the same message is new again.
    world.wall.now += DEDUPE_WINDOW + 1
    office.deliver(["alice"], data, envelope_from="c@far.example", now=True)
    assert stored_subjects(world, "alice").count("resent") == 3


def test_a_resend_to_a_mailbox_that_filled_up_meanwhile_is_still_acknowledged(world, clock):
    """The letter is already there: the resend is a success, not 'mailbox full'."""
    office = open_post_office(world, max_letters=1)
    account(world, "Alice")
    data = with_id("once", "<once@far.example>")
    outcomes: list[BaseException | None] = []
    office.deliver(["alice"], data, envelope_from="c@far.example", now=True)
    office.deliver(["alice"], data, envelope_from="c@far.example", done=outcomes.append, now=True)
    assert outcomes == [None]
    assert office.count("alice") == 1


SPOOF = (
    b"From: Root <root@reality.localhost>\r\n"
    b"Subject: Please log in again\r\n"
    b"\r\n"
    b"Send me your password.\r\n"
)


def test_outside_mail_never_shows_as_a_players_letter(world, clock, join):
    """Envelope attacker@evil.example, From: Root: shown under the envelope sender, marked."""
    office = open_post_office(world)
    account(world, "Root")
    alice, a = join(world, "Alice")
    a.take()
    office.deliver(["alice"], SPOOF, envelope_from="attacker@evil.example")
    clock.advance(0)
    said = "\n".join(a.take())
    assert "You have mail from attacker@evil.example: Please log in again" in said
    assert "from Root" not in said
    letter = office.letter("alice", 1)
    assert letter.sender == "attacker@evil.example"
    assert letter.from_header == (
        "Root <root@reality.localhost> [from outside the game, sent by attacker@evil.example]"
    )
    row = tuple(world.store.db.execute("SELECT external FROM letters").fetchone())
    assert row == (1,)


def test_only_letters_written_in_the_game_carry_a_players_name(world, clock, join):
    """mail send: the letter is from the player, by name, and not marked as outside mail."""
    office = open_post_office(world)
    bob, b = join(world, "Bob")
    alice, a = join(world, "Alice")
    office.send(bob, "alice", "Hi", "A real letter.")
    clock.advance(0)
    letter = office.letter("alice", 1)
    assert letter.sender == "Bob"
    assert letter.from_header == "Bob <bob@reality.localhost>"
    assert tuple(world.store.db.execute("SELECT external FROM letters").fetchone()) == (0,)


def test_outside_mail_whose_from_matches_its_envelope_is_marked_once(world, clock):
    """When the From address is the envelope sender, the mark does not repeat it."""
    office = open_post_office(world)
    account(world, "Alice")
    office.deliver(["alice"], message("hello"), envelope_from="carol@example.com", now=True)
    letter = office.letter("alice", 1)
    assert (letter.sender, letter.from_header) == (
        "carol@example.com", "Carol <carol@example.com> [from outside the game]"
    )
