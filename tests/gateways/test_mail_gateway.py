"""The mail gateway on StringTransports and a fake Clock: SMTP into mailboxes, POP3 out."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from reality.game.loader import load_world
from reality.game.mail import HELD, open_post_office
from reality.game.store import Store
from reality.game.world import World
from reality.gateways.auth import Authenticator, ImmediateHasher, LoginFailed
from reality.gateways.context import ConnectionLimits, GatewayContext
from reality.gateways.mail import MailGateway, install
from reality.gateways.workers import JobTimeout, ServerBusy
from reality.net.protocol import Address
from reality.net.protocols.pop3 import POP3Settings
from reality.net.protocols.smtp import SMTPSettings
from reality.net.testing import Clock, FakeConnection
from reality.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "world" / "tiny.yaml"
WALL = 1_700_000_000.0
MID = "6553F100"  # the SMTP message-id prefix: WALL in hex


def connect(factory: Any, host: str = "192.0.2.7", port: int = 40001) -> FakeConnection:
    """One fake client connection to a gateway factory."""
    return FakeConnection(factory, Address("TCP", host, port))


class Harness:
    def __init__(self, **options: Any) -> None:
        self.clock = Clock()
        self.store = Store(":memory:")
        self.world = World(
            self.clock, self.store, admins=["Root"], mail_domain="Reality.Test",
            wall_clock=lambda: WALL,
        )  # fmt: skip
        self.world.load(load_world(TINY))
        self.auth = Authenticator(self.store, ImmediateHasher(), self.clock)
        self.office = open_post_office(self.world, max_letters=options.pop("max_letters", 1000))
        self.gateway = MailGateway(
            self.world,
            self.office,
            self.auth,
            self.clock,
            smtp_settings=SMTPSettings(hostname="mx.test", wall_clock=lambda: WALL),
            pop3_settings=POP3Settings(hostname="pop.test"),
            **options,
        )
        for name in ("Alice", "Bob", "Root"):
            self.store.create_account(name, ImmediateHasher().hash("secret").result, now=0.0)

    def smtp(self, **kw: Any) -> FakeConnection:
        return connect(self.gateway.smtp_factory, **kw)

    def pop3(self, **kw: Any) -> FakeConnection:
        return connect(self.gateway.pop3_factory, **kw)

    def subjects(self, key: str) -> list[str]:
        return [s.subject for s in self.office.summaries(key)]


@pytest.fixture
def h() -> Harness:
    harness = Harness()
    yield harness
    harness.store.close()


MESSAGE = b"From: Carol <carol@far.example>\r\nSubject: Hello\r\n\r\nHi there.\r\n..dotted\r\n.\r\n"


# -- SMTP --------------------------------------------------------------------------------------


def test_smtp_transcript_accepts_players_and_refuses_strangers_and_relaying(h):
    """Byte for byte: players in any case accepted, unknown 550 5.1.1, other domains 550 5.7.1."""
    c = h.smtp()
    assert c.take() == b"220 mx.test ESMTP Reality\r\n"
    assert c.send(b"EHLO client.example\r\n") == (
        b"250-mx.test\r\n250-SIZE 1048576\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-PIPELINING\r\n"
        b"250-ENHANCEDSTATUSCODES\r\n250 HELP\r\n"
    )
    assert c.send(b"MAIL FROM:<carol@far.example>\r\n") == (
        b"250 2.1.0 Sender <carol@far.example> OK\r\n"
    )
    assert c.send(b"RCPT TO:<ALICE@reality.TEST>\r\n") == (
        b"250 2.1.5 <ALICE@reality.TEST>: Recipient OK\r\n"
    )
    assert c.send(b"RCPT TO:<ghost@reality.test>\r\n") == (
        b"550 5.1.1 <ghost@reality.test>: User unknown\r\n"
    )
    assert c.send(b"RCPT TO:<alice@elsewhere.example>\r\n") == (
        b"550 5.7.1 <alice@elsewhere.example>: Relay access denied\r\n"
    )
    assert c.send(b"RCPT TO:<alice@reality.test.evil.example>\r\n") == (
        b"550 5.7.1 <alice@reality.test.evil.example>: Relay access denied\r\n"
    )
    assert c.send(b"RCPT TO:<bob+games@Reality.Test>\r\n") == (
        b"250 2.1.5 <bob+games@Reality.Test>: Recipient OK\r\n"
    )
    assert c.send(b"DATA\r\n") == b"354 End data with <CR><LF>.<CR><LF>\r\n"
    # The message is complete, but nothing is acknowledged before the commit.
    assert c.send(MESSAGE) == b""
    assert h.subjects("alice") == []
    h.clock.advance(0)
    assert c.take() == b"250 2.0.0 OK: queued as " + MID.encode() + b".1\r\n"
    assert h.subjects("alice") == ["Hello"] and h.subjects("bob") == ["Hello"]
    assert c.send(b"QUIT\r\n") == b"221 2.0.0 mx.test closing connection\r\n"
    assert c.closed
    assert not h.gateway.connections


def test_stored_message_has_return_path_received_and_unstuffed_dots(h):
    """What POP3 will serve: Return-Path, our Received line, the text with its dot line."""
    c = h.smtp()
    c.send(b"HELO c\r\nMAIL FROM:<carol@far.example>\r\nRCPT TO:<alice@reality.test>\r\nDATA\r\n")
    c.send(MESSAGE)
    h.clock.advance(0)
    data = h.office.open_mailbox("alice").message(0)
    assert data == (
        b"Return-Path: <carol@far.example>\r\n"
        b"Received: from c ([192.0.2.7])\r\n"
        b"\tby mx.test (Reality) with SMTP id " + MID.encode() + b".1\r\n"
        b"\tfor <alice@reality.test>;\r\n"
        b"\tTue, 14 Nov 2023 22:13:20 +0000\r\n"
        b"From: Carol <carol@far.example>\r\n"
        b"Subject: Hello\r\n" + data[data.index(b"Date:") : data.index(b"\r\n\r\n") + 2]
        + b"\r\nHi there.\r\n.dotted\r\n"
    )
    assert h.office.letter("alice", 1).body == "Hi there.\n.dotted"


def test_deliveries_from_many_sessions_in_one_turn_share_a_commit(h):
    """Ten sessions finishing DATA in one turn: one commit, then ten 250s."""
    sessions = [h.smtp(port=41000 + i) for i in range(10)]
    for c in sessions:
        c.take()
        c.send(b"HELO c\r\nMAIL FROM:<x@far.example>\r\nRCPT TO:<alice@reality.test>\r\nDATA\r\n")
    for c in sessions:
        assert c.send(b"Subject: s\r\n\r\nbody\r\n.\r\n") == b""
    assert h.office.commits == 0
    h.clock.advance(0)
    assert h.office.commits == 1
    replies = [c.take() for c in sessions]
    assert all(r.startswith(b"250 2.0.0 OK: queued as ") for r in replies)
    assert len(set(replies)) == 10  # each its own message id
    assert len(h.subjects("alice")) == 10


def test_pipelined_session_replies_in_order_around_the_commit(h):
    """A pipelined second message waits for the first 250: replies stay in command order."""
    c = h.smtp()
    c.take()
    one = b"MAIL FROM:<x@far.example>\r\nRCPT TO:<alice@reality.test>\r\nDATA\r\n"
    two = b"MAIL FROM:<x@far.example>\r\nRCPT TO:<bob@reality.test>\r\nDATA\r\n"
    out = c.send(
        b"EHLO c\r\n" + one + b"Subject: 1\r\n\r\n.\r\n" + two + b"Subject: 2\r\n\r\n.\r\n"
        b"QUIT\r\n"
    )
    assert out.endswith(b"250 HELP\r\n250 2.1.0 Sender <x@far.example> OK\r\n"
                        b"250 2.1.5 <alice@reality.test>: Recipient OK\r\n"
                        b"354 End data with <CR><LF>.<CR><LF>\r\n")
    # The first commit lets the session read on; the second message then
    # queues its own commit, which runs in the same turn of the clock.
    h.clock.advance(0)
    assert c.take() == (
        b"250 2.0.0 OK: queued as " + MID.encode() + b".1\r\n"
        b"250 2.1.0 Sender <x@far.example> OK\r\n"
        b"250 2.1.5 <bob@reality.test>: Recipient OK\r\n"
        b"354 End data with <CR><LF>.<CR><LF>\r\n"
        b"250 2.0.0 OK: queued as " + MID.encode() + b".2\r\n"
        b"221 2.0.0 mx.test closing connection\r\n"
    )
    assert h.office.commits == 2
    assert h.subjects("alice") == ["1"] and h.subjects("bob") == ["2"]


def test_postmaster_goes_to_the_admins(h):
    """RFC 5321 4.5.1: postmaster@ is accepted and reaches the admins' mailboxes."""
    c = h.smtp()
    c.take()
    c.send(b"HELO c\r\nMAIL FROM:<>\r\n")
    assert c.send(b"RCPT TO:<PostMaster@reality.test>\r\n") == (
        b"250 2.1.5 <PostMaster@reality.test>: Recipient OK\r\n"
    )
    c.send(b"DATA\r\n")
    c.send(b"Subject: bounce\r\n\r\nreturned\r\n.\r\n")
    h.clock.advance(0)
    assert h.subjects("root") == ["bounce"]
    assert h.office.letter("root", 1).sender == "<>"  # outside mail: the envelope sender


class Seen:
    """A session that keeps what the player is shown."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def attach(self, player: Any) -> None:
        pass

    def show(self, text: str) -> None:
        self.lines.append(text)

    def send_data(self, kind: str, data: dict) -> None:
        pass

    def disconnect(self, message: str) -> None:
        pass


def send_to(h: Harness, recipient: bytes, subject: bytes) -> bytes:
    """One message from <> to ``recipient``; the replies to RCPT and to the data."""
    c = h.smtp()
    c.take()
    c.send(b"HELO c\r\nMAIL FROM:<>\r\n")
    rcpt = c.send(b"RCPT TO:<" + recipient + b">\r\n")
    c.send(b"DATA\r\n")
    c.send(b"Subject: " + subject + b"\r\n\r\ntext\r\n.\r\n")
    h.clock.advance(0)
    return rcpt + c.take()


def test_postmaster_with_one_admin_mailbox_full_reaches_the_other(h):
    """Two admins, one mailbox full: postmaster mail goes to the other (250), not 452 forever."""
    h.world.admins = frozenset({"root", "bob"})
    h.office.max_letters = 1
    h.office.deliver(["root"], b"Subject: filler\r\n\r\nx\r\n", now=True)
    replies = send_to(h, b"postmaster@reality.test", b"report")
    assert b"250 2.0.0" in replies, replies
    assert h.subjects("bob") == ["report"]
    assert h.subjects("root") == ["filler"]


def test_bare_postmaster_is_accepted_and_reaches_the_admins(h):
    """RFC 5321 4.5.1: RCPT TO:<postmaster> with no domain is not relaying: it is accepted."""
    replies = send_to(h, b"PostMaster", b"bare")
    assert replies.startswith(b"250 2.1.5 <PostMaster>: Recipient OK\r\n")
    assert b"250 2.0.0" in replies
    assert h.subjects("root") == ["bare"]


def test_postmaster_is_the_admins_even_if_a_player_has_that_name(h):
    """A player called Postmaster does not get the server's postmaster mail."""
    h.store.create_account("Postmaster", ImmediateHasher().hash("x").result, now=0.0)
    send_to(h, b"postmaster@reality.test", b"abuse report")
    assert h.subjects("root") == ["abuse report"]
    assert h.subjects("postmaster") == []


def test_postmaster_without_admins_is_kept_for_the_first_admin_who_logs_in(h):
    """No admin account yet: postmaster mail is accepted and waits; the first admin gets it."""
    h.world.admins = frozenset()
    for recipient, subject in ((b"postmaster@reality.test", b"one"), (b"postmaster", b"two")):
        replies = send_to(h, recipient, subject)
        assert replies.startswith(b"250 2.1.5") and b"250 2.0.0" in replies
    assert h.office.count(HELD) == 2
    # A player who is not an admin gets nothing.
    alice = Seen()
    h.world.connect("Alice", alice)
    assert h.subjects("alice") == [] and h.office.count(HELD) == 2
    # The first admin who logs in gets both, and is told.
    h.world.admins = frozenset({"root"})
    root = Seen()
    h.world.connect("Root", root)
    assert h.subjects("root") == ["one", "two"]
    assert h.office.count(HELD) == 0
    assert any("2 letters for the postmaster" in line for line in root.lines)
    assert h.office.letter("root", 1).sender == "<>"


@pytest.mark.parametrize(
    "address", [b'"alice"@reality.test', b"al.ice@reality.test", b"@reality.test", b"alice"]
)
def test_odd_local_parts_are_not_players(h, address):
    """Quoted, dotted or missing names never match a player by accident."""
    c = h.smtp()
    c.take()
    c.send(b"HELO c\r\nMAIL FROM:<x@y.example>\r\n")
    reply = c.send(b"RCPT TO:<" + address + b">\r\n")
    assert reply.startswith((b"550 5.1.1", b"550 5.7.1", b"501")), reply


def test_full_mailbox_is_a_temporary_refusal(h):
    """A mailbox at its limit answers RCPT with 452 4.2.2: the sender will retry."""
    h.office.max_letters = 1
    h.office.deliver(["alice"], b"Subject: x\r\n\r\nx\r\n", now=True)
    c = h.smtp()
    c.take()
    c.send(b"HELO c\r\nMAIL FROM:<x@y.example>\r\n")
    assert c.send(b"RCPT TO:<alice@reality.test>\r\n") == (
        b"452 4.2.2 <alice@reality.test>: Mailbox full, try again later\r\n"
    )


def test_failed_commit_is_451_and_the_session_goes_on(h, monkeypatch):
    """If the commit fails the client gets 451 4.3.0 (retry later), nothing is kept."""
    c = h.smtp()
    c.send(b"HELO c\r\nMAIL FROM:<x@y.example>\r\nRCPT TO:<alice@reality.test>\r\nDATA\r\n")
    c.take()

    def broken(p):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(h.office, "_insert", broken)
    c.send(b"Subject: x\r\n\r\nx\r\n.\r\n")
    h.clock.advance(0)
    assert c.take() == (
        b"451 4.3.0 Temporary failure, message not accepted; try again later\r\n"
    )
    assert c.send(b"NOOP\r\n") == b"250 2.0.0 OK\r\n"
    monkeypatch.undo()
    assert h.subjects("alice") == []


def test_online_recipient_gets_the_daemon_from_smtp(h):
    """SMTP mail to a connected player brings the daemon right after the commit."""

    class Seen:
        def __init__(self) -> None:
            self.lines: list[str] = []

        def attach(self, player: Any) -> None:
            self.player = player

        def show(self, text: str) -> None:
            self.lines.append(text)

        def send_data(self, kind: str, data: dict) -> None:
            pass

        def disconnect(self, message: str) -> None:
            pass

    seen = Seen()
    h.world.connect("Alice", seen)
    seen.lines.clear()
    c = h.smtp()
    c.send(b"HELO c\r\nMAIL FROM:<x@y.example>\r\nRCPT TO:<alice@reality.test>\r\nDATA\r\n")
    c.send(MESSAGE)
    h.clock.advance(0)
    # Outside mail is announced under its envelope sender, not the From header's name.
    assert "You have mail from x@y.example: Hello" in "".join(seen.lines)


def test_connections_per_address_are_limited(h):
    """Past max_per_address from one address, new SMTP and POP3 connections are refused."""
    h.gateway.connections.max_per_address = 2
    first = h.smtp(port=1)
    second = h.pop3(port=2)
    third = h.smtp(port=3)
    assert third.take() == b"421 4.7.0 Too many connections from your address\r\n"
    assert third.closed
    fourth = h.pop3(port=4)
    assert fourth.take() == b"-ERR [SYS/TEMP] Too many connections from your address\r\n"
    other = h.smtp(host="198.51.100.1")
    assert other.take().startswith(b"220 ")
    first.send(b"QUIT\r\n")
    assert h.smtp(port=5).take().startswith(b"220 ")
    assert second.take().startswith(b"+OK")
    assert h.gateway.open_connections == 3


# -- POP3 --------------------------------------------------------------------------------------


def fill(h: Harness, key: str, count: int) -> None:
    for n in range(1, count + 1):
        body = f"Letter {n}.\r\n.starts with a dot\r\n"
        h.office.deliver([key], f"Subject: n{n}\r\n\r\n{body}".encode(), now=True)


def test_pop3_session_lists_retrieves_stuffs_and_deletes_at_quit(h):
    """USER/PASS through the authenticator; STAT/LIST/UIDL/RETR/TOP; DELE at QUIT, at once."""
    fill(h, "alice", 2)
    sizes = [size for _, size in h.office.open_mailbox("alice").list_messages()]
    h.office._locks.clear()
    c = h.pop3()
    assert c.take() == b"+OK pop.test POP3 server ready\r\n"
    assert c.send(b"USER Alice\r\n") == b"+OK Send PASS\r\n"
    assert c.send(b"PASS secret\r\n") == (
        f"+OK Logged in, 2 messages ({sum(sizes)} octets)\r\n".encode()
    )
    assert c.send(b"STAT\r\n") == f"+OK 2 {sum(sizes)}\r\n".encode()
    assert c.send(b"LIST\r\n") == (
        f"+OK 2 messages ({sum(sizes)} octets)\r\n1 {sizes[0]}\r\n2 {sizes[1]}\r\n.\r\n".encode()
    )
    uidl = c.send(b"UIDL\r\n").split(b"\r\n")
    assert uidl[0] == b"+OK Unique-ID listing" and uidl[1].startswith(b"1 ")
    retr = c.send(b"RETR 2\r\n")
    assert retr.startswith(f"+OK {sizes[1]} octets\r\nReturn-Path: <>\r\n".encode())
    assert retr.endswith(b"\r\n\r\nLetter 2.\r\n..starts with a dot\r\n.\r\n")
    top = c.send(b"TOP 1 0\r\n")
    assert top.startswith(b"+OK Top of message follows\r\n") and b"Letter 1" not in top
    assert c.send(b"DELE 1\r\n") == b"+OK Message 1 deleted\r\n"
    assert h.subjects("alice") == ["n1", "n2"]  # only marked until QUIT
    assert c.send(b"QUIT\r\n") == b"+OK pop.test signing off (1 messages left)\r\n"
    assert h.subjects("alice") == ["n2"]
    assert not h.office.is_locked("alice")


def test_user_may_be_the_whole_address(h):
    """USER alice@reality.test works as USER alice."""
    c = h.pop3()
    c.take()
    c.send(b"USER alice@REALITY.test\r\n")
    assert c.send(b"PASS secret\r\n").startswith(b"+OK Logged in, 0 messages")


def test_second_session_gets_in_use_until_the_first_quits(h):
    """One session per mailbox: a second PASS gets -ERR [IN-USE]; after QUIT it works."""
    first = h.pop3(port=1)
    first.send(b"USER alice\r\nPASS secret\r\n")
    second = h.pop3(port=2)
    second.take()
    assert second.send(b"USER alice\r\nPASS secret\r\n") == (
        b"+OK Send PASS\r\n-ERR [IN-USE] Mailbox is in use by another session\r\n"
    )
    first.send(b"QUIT\r\n")
    assert second.send(b"USER alice\r\nPASS secret\r\n").endswith(
        b"+OK Logged in, 0 messages (0 octets)\r\n"
    )


def test_dropped_connection_deletes_nothing_and_unlocks(h):
    """Without QUIT there is no UPDATE: marked letters stay, the lock goes."""
    fill(h, "alice", 1)
    c = h.pop3()
    c.send(b"USER alice\r\nPASS secret\r\nDELE 1\r\n")
    c.transport.abort_connection()
    assert h.subjects("alice") == ["n1"]
    assert not h.office.is_locked("alice")
    assert not h.gateway.connections


def test_wrong_password_and_unknown_user_look_alike(h):
    """A wrong password and an unknown name both get -ERR [AUTH] with the same words."""
    c = h.pop3()
    c.take()
    wrong = c.send(b"USER alice\r\nPASS nope\r\n")
    unknown = c.send(b"USER nobody\r\nPASS nope\r\n")
    assert wrong == unknown == b"+OK Send PASS\r\n-ERR [AUTH] Invalid user name or password\r\n"


def test_throttling_is_shared_with_telnet(h):
    """Failed logins from one address anywhere (here: telnet's) lock POP3 out too."""
    for _ in range(5):
        d = h.auth.authenticate("alice", "wrong", "192.0.2.7")
        assert d.result.check(LoginFailed)
        d.add_errback(lambda f: None)
    c = h.pop3()
    c.take()
    assert c.send(b"USER alice\r\nPASS secret\r\n") == (
        b"+OK Send PASS\r\n-ERR [SYS/TEMP] Too many failed logins, try again later\r\n"
    )
    elsewhere = h.pop3(host="198.51.100.9")
    elsewhere.take()
    assert elsewhere.send(b"USER alice\r\nPASS secret\r\n").endswith(
        b"+OK Logged in, 0 messages (0 octets)\r\n"
    )


def test_busy_hashers_are_a_temporary_error(h):
    """When the password workers are overloaded the client hears [SYS/TEMP], not [AUTH]."""
    from reality.gateways.auth import ServerBusy
    from reality.net.defer import fail

    h.auth.hasher.verify = lambda password, stored: fail(ServerBusy())  # type: ignore[method-assign]
    c = h.pop3()
    c.take()
    assert c.send(b"USER alice\r\nPASS secret\r\n") == (
        b"+OK Send PASS\r\n-ERR [SYS/TEMP] The server is busy, try again in a moment\r\n"
    )


def test_in_game_letters_come_out_of_pop3_as_messages(h):
    """A letter written with 'mail send' is a proper message in POP3."""
    session_lines: list[str] = []

    class S:
        def attach(self, player: Any) -> None:
            self.player = player

        def show(self, text: str) -> None:
            session_lines.append(text)

        def send_data(self, kind: str, data: dict) -> None:
            pass

        def disconnect(self, message: str) -> None:
            pass

    bob = h.world.connect("Bob", S())
    h.world.execute(bob, "mail send alice Tea = Tea at five?")
    c = h.pop3()
    c.send(b"USER alice\r\nPASS secret\r\n")
    retr = c.send(b"RETR 1\r\n")
    assert b"\r\nFrom: Bob <bob@Reality.Test>\r\n" in retr
    assert b"\r\nTo: Alice <alice@Reality.Test>\r\n" in retr
    assert b"\r\nSubject: Tea\r\n" in retr
    assert b"\r\nMessage-ID: <" in retr and b"\r\nDate: " in retr
    assert retr.endswith(b"\r\n\r\nTea at five?\r\n.\r\n")


# -- shutdown and install ------------------------------------------------------------------------


def test_close_all_answers_queued_mail_then_says_goodbye(h):
    """At shutdown: the queued message is committed and gets its 250, then 421; POP3 unlocks."""
    c = h.smtp()
    c.send(b"HELO c\r\nMAIL FROM:<x@y.example>\r\nRCPT TO:<alice@reality.test>\r\nDATA\r\n")
    c.take()
    c.send(b"Subject: last\r\n\r\nx\r\n.\r\n")
    idle = h.smtp(port=2)
    idle.take()
    p = h.pop3(port=3)
    p.send(b"USER bob\r\nPASS secret\r\n")
    p.take()
    h.gateway.close_all("bye")
    assert c.take() == (
        b"250 2.0.0 OK: queued as " + MID.encode() + b".1\r\n"
        b"421 4.3.2 mx.test Service shutting down\r\n"
    )
    assert idle.take() == b"421 4.3.2 mx.test Service shutting down\r\n"
    assert p.take() == b"-ERR [SYS/TEMP] Server shutting down, try again later\r\n"
    assert h.subjects("alice") == ["last"]
    assert not h.office.is_locked("bob")
    assert not h.gateway.connections


def test_install_listens_on_every_port_and_joins_the_gateways(h):
    """install(context) adds the smtp, pop3 and imap ports and returns the gateway the server
    tracks (Server.gateways) to close at shutdown."""
    listening: list[tuple[str, int, Any]] = []

    def listen(name: str, port: int, factory: Any, on_listening: Any = None) -> None:
        listening.append((name, port, factory))

    context = GatewayContext(
        reactor=h.clock,  # type: ignore[arg-type]
        world=h.world,
        store=h.store,
        settings=Settings(
            smtp_port=2525, pop3_port=1110, smtp_idle_timeout=11.0, smtp_data_timeout=12.0,
            smtp_session_timeout=13.0, pop3_idle_timeout=14.0, pop3_session_timeout=15.0,
            imap_idle_timeout=16.0, imap_session_timeout=17.0,
        ),
        pool=None,  # type: ignore[arg-type]
        authenticator=h.auth,
        limits=ConnectionLimits(max_per_address=7, max_connections=9, idle_timeout=60.0),
        listen=listen,
        public_host=lambda: "127.0.0.1",
        started=0.0,
    )
    gateway = install(context)
    assert [(n, p) for n, p, _ in listening] == [
        ("smtp", 2525), ("pop3", 1110), ("imap", 1143),
    ]
    assert isinstance(gateway, MailGateway)
    assert gateway.connections.max_per_address == 7
    assert gateway.connections.max_connections == 9
    assert gateway.smtp_settings.hostname == "Reality.Test"
    smtp, pop = gateway.smtp_settings, gateway.pop3_settings
    assert (smtp.idle_timeout, smtp.data_timeout, smtp.session_timeout) == (11, 12, 13)
    assert (pop.idle_timeout, pop.session_timeout) == (14, 15)
    imap = gateway.imap_settings
    assert (imap.idle_timeout, imap.session_timeout) == (16, 17)
    assert "\\Draft" not in imap.permanent_flags  # the folders do not keep it
    connect(listening[0][2])
    connect(listening[1][2], port=40002)
    connect(listening[2][2], port=40003)
    assert gateway.open_connections == 3


STREAM = (
    b"EHLO c\r\n"
    b"MAIL FROM:<x@far.example>\r\nRCPT TO:<alice@reality.test>\r\n"
    b"RCPT TO:<nobody@reality.test>\r\n"
    b"DATA\r\nSubject: one\r\n\r\n..first\r\n.\r\n"
    b"RSET\r\nMAIL FROM:<>\r\nRCPT TO:<bob@elsewhere.example>\r\nRCPT TO:<BOB@reality.test>\r\n"
    b"DATA\r\nSubject: two\r\n\r\nsecond\r\n.\r\n"
    b"QUIT\r\n"
)


def _replay(chunks: list[bytes], advance_between: list[bool]) -> tuple[bytes, list, list]:
    harness = Harness()
    try:
        c = harness.smtp()
        out = [c.take()]
        for chunk, advance in zip(chunks, advance_between, strict=False):
            out.append(c.send(chunk))
            if advance:
                harness.clock.advance(0)
                out.append(c.take())
        for _ in range(3):
            harness.clock.advance(0)
            out.append(c.take())
        letters = [(s.subject, harness.office.letter(k, s.number).body)
                   for k in ("alice", "bob") for s in harness.office.summaries(k)]
        return b"".join(out), letters, list(harness.gateway.connections)
    finally:
        harness.store.close()


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_any_split_and_commit_timing_gives_the_same_replies_and_letters(data):
    """However the stream is cut and whenever commits run, replies and mailboxes are the same."""
    cuts = sorted(data.draw(st.sets(st.integers(1, len(STREAM) - 1), max_size=12)))
    edges = [0, *cuts, len(STREAM)]
    chunks = [STREAM[a:b] for a, b in zip(edges, edges[1:], strict=False)]
    advance = data.draw(st.lists(st.booleans(), min_size=len(chunks), max_size=len(chunks)))
    expected = _replay([STREAM], [True])
    assert _replay(chunks, advance) == expected
    replies, letters, sessions = expected
    assert replies.count(b"250 2.0.0 OK: queued as") == 2
    assert letters == [("one", ".first"), ("two", "second")]
    assert sessions == []


class FakeParser:
    """Stands in for the worker pool: records what it was asked to parse."""

    def __init__(self, fail: BaseException | None = None) -> None:
        self.calls: list[int] = []
        self.fail = fail
        self.pending: list[Any] = []

    def parse_letter(self, data: bytes, **kw: Any) -> Any:
        from reality.game.mail import parse_letter
        from reality.net.defer import Deferred

        self.calls.append(len(data))
        d: Deferred[Any] = Deferred()
        if self.fail is not None:
            d.errback(self.fail)
        else:
            self.pending.append((d, parse_letter(data, **kw)))
        return d


def test_every_message_is_parsed_by_the_worker_pool():
    """Large or small, a message goes to the parser; 250 only after it is parsed and stored."""
    parser = FakeParser()
    h = Harness(parser=parser)
    c = h.smtp()
    c.take()
    for subject, lines in (("Big", 200), ("Small", 1)):
        c.send(b"MAIL FROM:<c@far.example>\r\nRCPT TO:<alice@reality.test>\r\nDATA\r\n"
               if subject == "Small" else
               b"EHLO x\r\nMAIL FROM:<c@far.example>\r\nRCPT TO:<alice@reality.test>\r\nDATA\r\n")
        reply = c.send(b"Subject: " + subject.encode() + b"\r\n\r\n" + b"line\r\n" * lines
                       + b".\r\n")
        h.clock.advance(0)
        assert b"250" not in reply + c.take()
        d, letter = parser.pending.pop()
        assert letter.external  # the gateway asks for outside mail
        d.callback(letter)
        h.clock.advance(0)
        assert c.take().startswith(b"250 2.0.0")
    assert len(parser.calls) == 2
    assert h.subjects("alice") == ["Big", "Small"]
    h.store.close()


@pytest.mark.parametrize(
    ("error", "reply"),
    [
        (JobTimeout(cpu=True), b"554 5.6.0 Message too costly to process"),
        (JobTimeout(), b"451 4.3.0 Temporary failure processing the message"),
        (ServerBusy(), b"451 4.3.0 Temporary failure processing the message"),
    ],
)
def test_a_parse_that_fails_or_runs_over_its_limit_gets_an_smtp_error(error, reply):
    """No parsing on the loop as a fallback: over the CPU limit 554, busy or killed 451."""
    h = Harness(parser=FakeParser(fail=error))
    c = h.smtp()
    c.take()
    c.send(b"EHLO x\r\nMAIL FROM:<c@far.example>\r\nRCPT TO:<bob@reality.test>\r\nDATA\r\n")
    out = c.send(b"Subject: Hostile\r\n\r\n" + b"text\r\n" * 10 + b".\r\n")
    h.clock.advance(0)
    assert (out + c.take()).startswith(reply)
    assert h.subjects("bob") == []
    # The session goes on: the next message is taken.
    assert c.send(b"NOOP\r\n") == b"250 2.0.0 OK\r\n"
    h.store.close()


def test_retr_marks_a_letter_read_in_the_game_but_top_does_not(h):
    """A letter fetched whole with RETR counts as read in the game; TOP only peeks."""
    fill(h, "alice", 2)
    h.office._locks.clear()
    assert h.office.unread_count("alice") == 2
    c = h.pop3()
    c.take()
    c.send(b"USER alice\r\nPASS secret\r\n")
    c.send(b"TOP 1 0\r\n")
    assert h.office.unread_count("alice") == 2
    c.send(b"RETR 2\r\n")
    assert h.office.unread_count("alice") == 1
    assert [s.read for s in h.office.summaries("alice")] == [False, True]
    c.send(b"QUIT\r\n")


def test_connections_per_service_are_limited_separately():
    """max_connections counts SMTP and POP3 each on its own: past it, SMTP answers 421 and
    POP3 -ERR, then close, whatever the address; the other service is still served."""
    h = Harness(max_per_address=0, max_connections=2)
    try:
        smtp = [h.smtp(host=f"198.51.100.{i}") for i in (1, 2)]
        pop = [h.pop3(host=f"198.51.100.{i}") for i in (3, 4)]
        assert all(c.take().startswith(b"220 ") for c in smtp)
        assert all(c.take().startswith(b"+OK") for c in pop)
        third = h.smtp(host="198.51.100.5")
        assert third.take() == b"421 4.3.2 Too many connections, try again later\r\n"
        assert third.closed
        fourth = h.pop3(host="198.51.100.6")
        assert fourth.take() == b"-ERR [SYS/TEMP] Too many connections, try again later\r\n"
        assert fourth.closed
        smtp[0].send(b"QUIT\r\n")
        assert h.smtp(host="198.51.100.7").take().startswith(b"220 ")
    finally:
        h.store.close()


# -- issue 10: limits at commit, resends, outside senders, the domain check ------------------


def test_parallel_sessions_cannot_overfill_a_nearly_full_mailbox():
    """Five sessions pass RCPT into a mailbox with 2 places left: two 250s, three 452 4.2.2."""
    h = Harness(max_letters=5)
    for n in range(3):
        h.office.deliver(["alice"], b"Subject: old %d\r\n\r\nx\r\n" % n, now=True)
    sessions = [h.smtp(port=40100 + n) for n in range(5)]
    for c in sessions:
        c.take()
        c.send(b"EHLO x\r\nMAIL FROM:<c@far.example>\r\n")
        assert c.send(b"RCPT TO:<alice@reality.test>\r\n").startswith(b"250 2.1.5")
        c.send(b"DATA\r\n")
    for n, c in enumerate(sessions):
        c.send(b"Subject: new %d\r\n\r\nhello\r\n.\r\n" % n)
    h.clock.advance(0)
    replies = [c.take() for c in sessions]
    assert [r[:9] for r in replies] == [b"250 2.0.0"] * 2 + [b"452 4.2.2"] * 3
    assert h.office.count("alice") == 5
    # Past the limit the next RCPT is refused at once.
    c = sessions[0]
    c.send(b"MAIL FROM:<c@far.example>\r\n")
    assert c.send(b"RCPT TO:<alice@reality.test>\r\n").startswith(b"452 4.2.2")
    h.store.close()


def test_a_resend_after_a_lost_250_is_stored_once(h):
    """The same message (Message-ID, envelope sender) sent again: 250 again, one letter."""
    message = (b"From: Carol <carol@far.example>\r\nSubject: Once\r\n"
               b"Message-ID: <lost-250@far.example>\r\n\r\nhello\r\n.\r\n")
    for port in (40201, 40202):  # the first connection died before its 250 arrived
        c = h.smtp(port=port)
        c.take()
        c.send(b"EHLO x\r\nMAIL FROM:<carol@far.example>\r\nRCPT TO:<alice@reality.test>\r\n")
        c.send(b"DATA\r\n")
        c.send(message)
        h.clock.advance(0)
        assert c.take().startswith(b"250 2.0.0")
    assert h.subjects("alice") == ["Once"]


def test_outside_mail_forging_an_admin_is_shown_as_outside_mail(h):
    """Envelope attacker@evil.example, From: Root <root@...>: never shown as Root's letter."""
    c = h.smtp()
    c.take()
    c.send(b"EHLO evil.example\r\nMAIL FROM:<attacker@evil.example>\r\n"
           b"RCPT TO:<alice@reality.test>\r\nDATA\r\n")
    c.send(b"From: Root <root@reality.test>\r\nSubject: Admin notice\r\n\r\n"
           b"Tell me your password.\r\n.\r\n")
    h.clock.advance(0)
    assert c.take().startswith(b"250 2.0.0")
    (summary,) = h.office.summaries("alice")
    assert summary.sender == "attacker@evil.example"
    letter = h.office.letter("alice", 1)
    assert letter.from_header == (
        "Root <root@reality.test> [from outside the game, sent by attacker@evil.example]"
    )


@pytest.mark.parametrize(
    "address",
    [
        "alice@evilreality.test",  # the domain as a suffix of another name
        "alice@mx.reality.test",  # a subdomain
        "alice@xreality.test",
        "alice@reality.tes",
    ],
)
def test_recipient_domain_is_compared_by_equality_not_suffix(h, address):
    """Only the mail domain itself is local: suffixes and subdomains are relaying, 550 5.7.1."""
    c = h.smtp()
    c.take()
    c.send(b"EHLO x\r\nMAIL FROM:<c@far.example>\r\n")
    reply = c.send(b"RCPT TO:<" + address.encode() + b">\r\n")
    assert reply == b"550 5.7.1 <" + address.encode() + b">: Relay access denied\r\n"


def test_smtputf8_letter_with_a_raw_utf8_subject_arrives(h):
    """RFC 6531: a UTF-8 Subject sent raw arrives readable; a UTF-8 name that is no player: 550."""
    c = h.smtp()
    c.take()
    c.send("EHLO x\r\nMAIL FROM:<élodie@far.example> SMTPUTF8\r\n".encode())
    assert c.send("RCPT TO:<jürgen@reality.test>\r\n".encode()) == (
        "550 5.1.1 <jürgen@reality.test>: User unknown\r\n".encode()
    )
    assert c.send(b"RCPT TO:<alice@reality.test>\r\n").startswith(b"250 2.1.5")
    c.send(b"DATA\r\n")
    c.send("From: Élodie <élodie@far.example>\r\nSubject: Hello été\r\n\r\nBonjour.\r\n.\r\n"
           .encode())
    h.clock.advance(0)
    assert c.take().startswith(b"250 2.0.0")
    letter = h.office.letter("alice", 1)
    assert letter.subject == "Hello été"
    assert letter.sender == "élodie@far.example"
    assert letter.from_header == "Élodie <élodie@far.example> [from outside the game]"


# -- IMAP ----------------------------------------------------------------------------------------


def imap_login(h: Harness, user: bytes = b"alice", **kw: Any) -> FakeConnection:
    c = connect(h.gateway.imap_factory, **kw)
    greeting = c.take()
    assert greeting.startswith(b"* OK")
    assert c.send(b"a LOGIN " + user + b" secret\r\n").startswith(b"a OK")
    return c


def test_imap_logs_in_by_name_or_address_and_sees_both_folders(h):
    """LOGIN with the name or the whole address; LIST shows INBOX and Sent (\\Sent)."""
    h.office.deliver(["alice"], b"Subject: hi\r\n\r\nthere\r\n", now=True)
    c = imap_login(h, b"Alice@reality.test")
    listing = c.send(b"b LIST \"\" *\r\n")
    assert b"INBOX" in listing and b"\\Sent" in listing
    assert listing.endswith(b"b OK LIST completed\r\n")
    selected = c.send(b"c SELECT INBOX\r\n")
    assert b"* 1 EXISTS\r\n" in selected and b"UIDVALIDITY" in selected
    assert b"PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen)" in selected


def test_imap_wrong_password_throttles_and_bans_like_pop3(h):
    """A wrong password is AUTHENTICATIONFAILED; failures from telnet throttle IMAP too."""
    c = connect(h.gateway.imap_factory)
    c.take()
    assert c.send(b"a LOGIN alice nope\r\n").startswith(b"a NO [AUTHENTICATIONFAILED]")
    for _ in range(5):
        d = h.auth.authenticate("alice", "wrong", "192.0.2.7")
        d.add_errback(lambda f: None)
    assert c.send(b"b LOGIN alice secret\r\n").startswith(b"b NO [UNAVAILABLE]")


def test_imap_sessions_hear_of_a_letter_and_close_account_says_bye(h):
    """A delivery reaches a selected session as EXISTS at its next command; a ban (or a
    password changed elsewhere) closes the account's IMAP sessions with * BYE."""
    c = imap_login(h)
    c.send(b"b SELECT INBOX\r\n")
    h.office.deliver(["alice"], b"Subject: new\r\n\r\nletter\r\n", now=True)
    assert b"* 1 EXISTS\r\n" in c.send(b"c NOOP\r\n")
    assert h.office.folders.watchers("alice", "INBOX") == 1
    assert h.gateway.close_account("alice", "Your account is banned") == 1
    assert b"* BYE Your account is banned" in c.take()
    assert h.office.folders.watchers("alice", "INBOX") == 0
    assert not h.gateway.imap_accounts


def test_imap_per_address_limit_is_shared_with_pop3():
    """The per-address limit counts POP3 and IMAP together: past it, * BYE at once."""
    h = Harness(max_per_address=1)
    h.pop3()
    c = connect(h.gateway.imap_factory)
    assert c.take().startswith(b"* BYE [UNAVAILABLE] Too many connections")
    h.store.close()
