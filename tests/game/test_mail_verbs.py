"""The mail verbs: list, read, delete, send; each refusal says why; letters are real messages."""

from __future__ import annotations

import email
import email.policy

import pytest

from reality.game.mail import MAX_SEND_BODY, PostOffice, open_post_office
from reality.game.mail.verbs import USAGE
from reality.game.world import World
from reality.gateways.render import PLAIN_TEXT, SCREEN_READER, render


def rendered(session, width: int = 80, capability: str = PLAIN_TEXT) -> list[str]:
    """The lines shown since the last take, as the renderer lays them out for a client.

    The listing is a table (markup): the renderer fits it to the width.
    """
    texts, session.shown = session.shown, []
    return [line for t in texts for line in render(t, capability, width, "\n").split("\n")]


@pytest.fixture
def office(world: World) -> PostOffice:
    return open_post_office(world)


def letter(subject: str, body: str = "Hello.", sender: str = "Carol <carol@example.com>") -> bytes:
    return (
        f"From: {sender}\r\nSubject: {subject}\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
        f"\r\n{body}\r\n"
    ).encode()


def test_empty_mailbox_gives_the_address(world, office, join):
    """'mail' with no letters says so and tells the player their address."""
    alice, a = join(world, "Alice")
    a.take()
    world.execute(alice, "mail")
    assert a.take() == ["Your mailbox is empty. Your address is alice@reality.localhost."]


def test_list_numbers_letters_and_marks_unread(world, office, join):
    """'mail' lists letters oldest first, numbered, unread ones marked with '*'."""
    alice, a = join(world, "Alice")
    office.deliver(["alice"], letter("First things first"), now=True, external=False)
    office.deliver(["alice"], letter("A subject that is much too long to fit in the column"),
                   now=True, external=False)
    office.mark_read(office.letter("alice", 1))
    a.take()
    world.execute(alice, "mail")
    assert rendered(a) == [
        "Your mailbox (alice@reality.localhost): 2 letters, 1 unread.",
        "1     Carol  First things first                                 2023-11-14 22:13",
        "2  *  Carol  A subject that is much too long to fit in the ...  2023-11-14 22:13",
        "Type 'mail read <n>' to read a letter. Times are UTC.",
    ]


def test_list_reads_each_letter_as_one_line_to_a_screen_reader(world, office, join):
    """A screen reader hears each row as a line: number, unread, sender, subject, date."""
    alice, a = join(world, "Alice")
    office.deliver(["alice"], letter("First things first"), now=True, external=False)
    office.deliver(["alice"], letter("Second"), now=True, external=False)
    office.mark_read(office.letter("alice", 1))
    a.take()
    world.execute(alice, "mail")
    assert rendered(a, 0, SCREEN_READER) == [
        "Your mailbox (alice@reality.localhost): 2 letters, 1 unread.",
        "Letter 1, from Carol, subject First things first, sent 2023-11-14 22:13",
        "Letter 2, unread, from Carol, subject Second, sent 2023-11-14 22:13",
        "Type 'mail read n' to read a letter. Times are UTC.",
    ]


def test_read_shows_the_letter_and_marks_it_read(world, office, join):
    """'mail read 1' shows From, Date, Subject, attachments and the text; then it is read."""
    alice, a = join(world, "Alice")
    raw = (
        b"From: Carol <carol@example.com>\r\nSubject: Photos {red}\r\n"
        b"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nLook {bold}at these.\r\n"
        b'--b\r\nContent-Type: image/jpeg; name="cat.jpg"\r\n'
        b"Content-Disposition: attachment; filename=cat.jpg\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nAAAA\r\n--b--\r\n"
    )
    office.deliver(["alice"], raw, now=True, external=False)
    assert office.unread_count("alice") == 1
    a.take()
    world.execute(alice, "mail read 1")
    assert a.take() == [
        "Letter 1 of 1",
        "From: Carol <carol@example.com>",
        "Date: 2023-11-14 22:13 UTC",
        "Subject: Photos {red}",
        "Attachments (not kept): cat.jpg (3 bytes)",
        "",
        "Look {bold}at these.",
    ]
    assert office.unread_count("alice") == 0
    world.execute(alice, "mail 1")  # the short form
    assert a.take()[0] == "Letter 1 of 1"


def test_long_letters_are_cut_in_the_game(world, office, join):
    """A huge body is cut in the game with a pointer to POP3, where it is whole."""
    alice, a = join(world, "Alice")
    office.deliver(["alice"], letter("big", "word " * 10_000), now=True, external=False)
    a.take()
    world.execute(alice, "mail read 1")
    lines = a.take()
    assert lines[-1] == "[... the rest is in your POP3 mailbox]"
    assert len("\n".join(lines)) < 21_000


@pytest.mark.parametrize(
    ("command", "answer"),
    [
        ("mail read", "Which letter? Give its number, as 'mail' lists them."),
        ("mail read one", "'one' is not a letter number."),
        ("mail read 3", "There is no letter 3: you have 1."),
        ("mail read 0", "There is no letter 0: you have 1."),
        ("mail delete 99999999999", "'99999999999' is not a letter number."),
        ("mail delete 2", "There is no letter 2: you have 1."),
        ("mail frobnicate", "Usage: mail | mail read <n> | mail delete <n> | "
                            "mail send <player> <subject> = <text>"),
    ],
)  # fmt: skip
def test_bad_numbers_and_words_are_refused_with_reasons(world, office, join, command, answer):
    """Every wrong use of mail says what was wrong."""
    alice, a = join(world, "Alice")
    office.deliver(["alice"], letter("x"), now=True, external=False)
    a.take()
    world.execute(alice, command)
    assert a.take() == [answer]


def test_read_in_an_empty_mailbox(world, office, join):
    """Asking for a letter in an empty mailbox says it is empty."""
    alice, a = join(world, "Alice")
    a.take()
    world.execute(alice, "mail read 1")
    assert a.take() == ["Your mailbox is empty."]


def test_delete_renumbers(world, office, join):
    """'mail delete 1' removes the oldest; the others move up."""
    alice, a = join(world, "Alice")
    for subject in ("one", "two", "three"):
        office.deliver(["alice"], letter(subject), now=True, external=False)
    a.take()
    world.execute(alice, "mail delete 2")
    assert a.take() == ["You throw away letter 2, from Carol: two."]
    assert [s.subject for s in office.summaries("alice")] == ["one", "three"]
    world.execute(alice, "mail read 2")
    assert a.take()[3] == "Subject: three"


def test_send_to_an_online_player(world, office, clock, join):
    """The subject is everything between the name and '='; the recipient gets the daemon."""
    alice, a = join(world, "Alice")
    bob, b = join(world, "Bob")
    a.take()
    b.take()
    world.execute(alice, "mail send bob Lunch at the inn = Meet me at noon; bring 2+2=4 coins.")
    assert a.take() == [
        "You send a letter to Bob: Lunch at the inn",
        "A mail daemon appears in a puff of smoke and hands Bob a letter.",
    ]
    assert b.take() == [
        "A mail daemon appears in a puff of smoke and hands you a letter.",
        "You have mail from Alice: Lunch at the inn",
        "Type 'mail read 1' to read it.",
    ]
    world.execute(bob, "mail read 1")
    assert b.take() == [
        "Letter 1 of 1",
        "From: Alice <alice@reality.localhost>",
        "Date: 2023-11-14 22:13 UTC",
        "Subject: Lunch at the inn",
        "",
        "Meet me at noon; bring 2+2=4 coins.",
    ]


def test_sent_letters_are_rfc5322_messages_for_pop3(world, office, join):
    """An in-game letter is stored as a proper message: From, To, Subject, Date, Message-ID."""
    alice, a = join(world, "Alice")
    world.store.create_account("Bob", "x", now=0.0)
    world.execute(alice, "mail send Bob Grüße aus Reality = Hallo {Bob}!")
    box = office.open_mailbox("bob")
    data = box.message(0)
    assert data.split(b"\r\n\r\n")[0].isascii()
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert msg["Return-Path"] == "<alice@reality.localhost>"
    assert msg["From"] == "Alice <alice@reality.localhost>"
    assert msg["To"] == "Bob <bob@reality.localhost>"
    assert msg["Subject"] == "Grüße aus Reality"
    assert msg["Date"] == "Tue, 14 Nov 2023 22:13:20 +0000"
    assert msg["Message-ID"].endswith("@reality.localhost>")
    assert msg.get_content().replace("\r\n", "\n") == "Hallo {Bob}!\n"
    assert len(data) == box.list_messages()[0][1]


def test_send_to_an_offline_player_waits_for_their_login(world, office, join):
    """A letter to someone away is kept; they hear of it when they come in."""
    alice, a = join(world, "Alice")
    world.store.create_account("Bob", "x", now=0.0)
    world.execute(alice, "mail send bob Hi = Are you there?")
    assert a.take()[-1] == "You send a letter to Bob: Hi"
    bob, b = join(world, "Bob")
    assert "You have 1 unread letter. Type 'mail' to read it." in b.lines()


def test_send_to_yourself_and_without_a_subject(world, office, join):
    """Writing to yourself works; a missing subject reads '(no subject)'."""
    alice, a = join(world, "Alice")
    a.take()
    world.execute(alice, "mail send alice = note to self")
    assert a.take()[:3] == [
        "You send a letter to Alice: (no subject)",
        "A mail daemon appears in a puff of smoke and hands you a letter.",
        "You have mail from Alice: (no subject)",
    ]


@pytest.mark.parametrize(
    ("command", "answer"),
    [
        ("mail send", "Write: mail send <player> <subject> = <text>"),
        ("mail send bob hello", "Write: mail send <player> <subject> = <text>"),
        ("mail send = body", "Write: mail send <player> <subject> = <text>"),
        ("mail send bob hello =   ", "What does the letter say? Write it after the '='."),
        ("mail send nobody hi = x", "There is no player called 'nobody'."),
        ("mail send {red} hi = x", "There is no player called '{red}'."),
        ("mail send bob " + "s" * 201 + " = x",
         "That subject is too long (at most 200 characters)."),
        ("mail send bob hi = " + "x" * (MAX_SEND_BODY + 1),
         f"That letter is too long (at most {MAX_SEND_BODY} characters)."),
    ],
)  # fmt: skip
def test_send_refusals(world, office, join, command, answer):
    """Every way 'mail send' can go wrong says why, and nothing is sent."""
    alice, a = join(world, "Alice")
    world.store.create_account("Bob", "x", now=0.0)
    a.take()
    world.execute(alice, command)
    assert a.take() == [answer]
    assert office.count("bob") == 0


def test_send_to_a_full_mailbox_is_refused(world, join):
    """A full mailbox takes no more letters, and the sender is told."""
    office = open_post_office(world, max_letters=1)
    alice, a = join(world, "Alice")
    world.store.create_account("Bob", "x", now=0.0)
    world.execute(alice, "mail send bob one = first")
    a.take()
    world.execute(alice, "mail send bob two = second")
    assert a.take() == ["Bob's mailbox is full; your letter was not sent."]
    assert office.count("bob") == 1


def test_send_that_cannot_be_stored_says_nothing_was_sent(world, office, join, monkeypatch):
    """If the letter cannot be committed the sender hears so, and no daemon comes."""
    import sqlite3

    alice, a = join(world, "Alice")
    a.take()

    def broken(p):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(office, "_insert", broken)
    world.execute(alice, "mail send alice hi = there")
    assert a.take() == [
        "The mail daemon dropped your letter; nothing was sent. Please try again."
    ]


def test_mail_without_a_post_office(make_world, join):
    """In a world with no mail service the verb says so."""
    world = make_world()
    alice, a = join(world, "Alice")
    a.take()
    world.execute(alice, "mail")
    assert a.take() == ["There is no mail service in this world."]


def test_help_knows_mail(world, office, join):
    """'help mail' explains the verbs (the verb's own help, once); the help list names mail."""
    alice, a = join(world, "Alice")
    a.take()
    world.execute(alice, "help mail")
    lines = a.take()
    assert lines[0] == USAGE
    assert lines[1].startswith("Every player has a mailbox")
    assert any(line.startswith("mail send <player> <subject> = <text>") for line in lines)
    assert lines[-1].startswith("Read the whole mailbox with a POP3 mail client")
    world.execute(alice, "help")
    assert "  mail: mail" in a.take()
    assert [e.kind for e in world.help.find("mail", admin=False).entries] == ["verb"]


def test_long_mailboxes_list_the_newest_fifty(world, office, join):
    """With more than 50 letters, 'mail' shows the newest 50 and says so; all stay readable."""
    alice, a = join(world, "Alice")
    for n in range(1, 56):
        office.deliver(["alice"], letter(f"number {n}"), now=False, external=False)
    office.flush()
    a.take()
    world.execute(alice, "mail")
    lines = rendered(a)
    assert lines[0] == "Your mailbox (alice@reality.localhost): 55 letters, 55 unread."
    assert lines[1] == "(The newest 50; 'mail read <n>' reads any of them.)"
    assert lines[2].startswith(" 6  *  Carol") and lines[-2].startswith("55  *  Carol")
    assert len(lines) == 53
    world.execute(alice, "mail read 1")
    assert a.take()[3] == "Subject: number 1"


# -- the listing in terminal columns (issue 11, item 9) --------------------------------------


def _columns(text: str) -> int:
    from wcwidth import wcswidth

    return wcswidth(text)


@pytest.mark.parametrize("width", [80, 60, 120, 40])
def test_list_rows_fit_the_players_width_in_display_columns(world, office, join, width):
    """Wide characters (日本, 🎉) count two columns: every row fits and the dates line up."""
    alice, a = join(world, "Alice")
    alice.settings["width"] = width
    subjects = [
        "Plain subject",
        "日本語の件名がとても長いのでここで切られるはずです、まだまだ続きます",
        "Party 🎉🎉🎉 tonight at the inn, everyone is welcome to come along",
        "Café crème",
    ]
    for subject in subjects:
        office.deliver(["alice"], letter(subject, sender="山田太郎 <taro@example.jp>"),
                       now=True, external=False)
    a.take()
    world.execute(alice, "mail")
    rows = [row for row in rendered(a, width) if "山田" in row]
    assert len(rows) == 4
    for row in rows:
        assert _columns(row) <= width, (width, row)
        # The date is last, two spaces after the subject column, never run into.
        assert row.endswith("  2023-11-14 22:13"), row
    date_columns = {_columns(row) - len("2023-11-14 22:13") for row in rows}
    assert len(date_columns) == 1


def test_list_fills_the_width_it_is_rendered_for(world, office, join):
    """A long subject is cut to fill the client's width (the session renders for its NAWS width)."""
    alice, a = join(world, "Alice")
    office.deliver(["alice"], letter("x" * 100), now=True, external=False)
    a.take()
    world.execute(alice, "mail")
    (row,) = [row for row in rendered(a, 50) if "xxx" in row]
    assert _columns(row) == 50
