"""The IMAP adapter on StringTransport/Clock, and Python's imaplib over a real socket."""

from __future__ import annotations

import json
import sys

import pytest
from imap_fakes import HOST, MULTIPART, SETTINGS, SIMPLE, FakeBackend, Store
from mail_clients import run_client

from reality.net.protocols.imap import IMAPServerFactory, IMAPSettings
from reality.net.testing import Clock, FakeConnection


def connect(store: Store | None = None, settings: IMAPSettings = SETTINGS, transport=None):
    clock = Clock()
    backend = FakeBackend(store)
    factory = IMAPServerFactory(backend, clock, settings)
    conn = FakeConnection(factory)
    assert conn.take().startswith(b"* OK [CAPABILITY IMAP4rev1 ")
    return conn, backend.store, clock


def login(conn, select=True):
    assert b"a OK" in conn.send(b"a LOGIN alice secret\r\n")
    if select:
        assert b"s OK [READ-WRITE]" in conn.send(b"s SELECT INBOX\r\n")


def test_deferred_backend_keeps_pipelined_answers_in_order():
    store = Store()
    store.deferred = True
    store.answers.hold = True
    for _ in range(3):
        store.deliver("alice", "INBOX", SIMPLE)
    conn, store, _ = connect(store)
    assert (
        conn.send(
            b"a LOGIN alice secret\r\nb SELECT INBOX\r\nc FETCH 1:3 BODY.PEEK[]\r\nd NOOP\r\n"
        )
        == b""
    )
    store.answers.release()  # the login
    out = conn.take()
    assert out.startswith(b"a OK") and b"b OK [READ-WRITE]" in out and out.endswith(b"")
    assert b"d OK" not in out
    for _ in range(3):
        store.answers.release()
    out = conn.take()
    assert out.count(b"FETCH (BODY[]") == 3
    assert out.endswith(b"c OK FETCH completed\r\nd OK NOOP completed\r\n")


def test_idle_pushes_exists_through_the_adapter():
    conn, store, _ = connect()
    login(conn)
    assert conn.send(b"i IDLE\r\n") == b"+ idling\r\n"
    store.deliver("alice", "INBOX", SIMPLE)
    assert conn.take() == b"* 1 EXISTS\r\n"
    store.set_flags("alice", "INBOX", 1, frozenset({"\\Seen"}))
    assert conn.take() == b"* 1 FETCH (FLAGS (\\Seen) UID 1)\r\n"
    assert conn.send(b"DONE\r\n") == b"i OK IDLE terminated\r\n"


def test_oversized_literal_gets_no_continuation():
    conn, _, _ = connect(settings=IMAPSettings(hostname=HOST, max_literal=1000))
    assert (
        conn.send(b"a LOGIN {1001}\r\n")
        == b"a BAD [TOOBIG] Literal too big (at most 1000 octets)\r\n"
    )
    assert conn.send(b"b LOGIN {1000}\r\n") == b"+ Ready for literal data\r\n"
    assert conn.send(b"c LOGIN {5000+}\r\n" + b"x" * 10) == b""  # still inside b's literal
    conn2, _, _ = connect(settings=IMAPSettings(hostname=HOST, max_literal=1000))
    assert conn2.send(b"c LOGIN {5000+}\r\n") == b"* BYE [TOOBIG] Literal too big\r\n"
    assert conn2.closed


def test_flood_of_commands_is_answered_in_bounded_batches():
    conn, _, _ = connect()
    out = conn.send(b"a NOOP\r\n" * 5000)
    assert out.count(b"OK NOOP completed") == 5000


def test_idle_timeout_says_bye():
    conn, store, clock = connect()
    login(conn)
    clock.advance(SETTINGS.idle_timeout + 1)
    assert conn.take() == b"* BYE Autologout; idle for too long\r\n"
    assert conn.closed
    assert store.closed == 1 and store.logouts == 1


class SlowReader:
    """Makes a FakeConnection's transport pause the protocol past a high-water mark."""

    def __init__(self, conn: FakeConnection, high: int = 64 * 1024) -> None:
        self.conn = conn
        self.high = high
        self.paused = False
        original = conn.transport.write

        def write(data: bytes) -> None:
            original(data)
            if not self.paused and len(conn.transport.io) > self.high:
                self.paused = True
                conn.protocol.pause_writing()

        conn.transport.write = write  # type: ignore[method-assign]

    def drain(self) -> bytes:
        data = self.conn.take()
        if self.paused:
            self.paused = False
            self.conn.protocol.resume_writing()
        return data


def test_a_client_that_does_not_read_stops_the_fetch_and_is_cut_off():
    store = Store()
    letter = SIMPLE + b"x" * 10_000 + b"\r\n"
    for _ in range(300):
        store.deliver("alice", "INBOX", letter)
    conn, store, clock = connect(store)
    login(conn)
    slow = SlowReader(conn)
    conn.protocol.data_received(b"f FETCH 1:* BODY.PEEK[]\r\nn NOOP\r\n")
    # Output stopped near the high-water mark, not 3 MB later, and input is not read.
    assert len(conn.transport.io) < 64 * 1024 + 32 * 1024
    assert conn.transport.reading_paused
    clock.advance(SETTINGS.stall_timeout + 1)
    assert conn.transport.aborted
    assert store.closed == 1 and store.logouts == 1
    assert slow.paused


def test_a_slow_reader_gets_everything_in_order():
    store = Store()
    letter = SIMPLE + b"x" * 10_000 + b"\r\n"
    for _ in range(100):
        store.deliver("alice", "INBOX", letter)
    conn, store, clock = connect(store)
    login(conn)
    slow = SlowReader(conn)
    conn.protocol.data_received(b"f FETCH 1:* BODY.PEEK[]\r\nn NOOP\r\n")
    received = b""
    for _ in range(1000):
        received += slow.drain()
        if received.endswith(b"n OK NOOP completed\r\n"):
            break
    assert received.count(b"FETCH (BODY[]") == 100
    assert received.endswith(b"f OK FETCH completed\r\nn OK NOOP completed\r\n")


def test_starttls_starts_tls_after_the_go_ahead():
    settings = IMAPSettings(hostname=HOST, starttls=True, plaintext_login=False)
    conn, _, _ = connect(settings=settings)
    started = []
    conn.transport.start_tls = lambda: started.append(conn.transport.take())  # type: ignore[attr-defined]
    conn.send(b"t STARTTLS\r\n")
    assert started == [b"t OK Begin TLS negotiation now\r\n"]
    assert conn.send(b"a LOGIN alice secret\r\n").startswith(b"a OK")


# -- imaplib over a real socket ---------------------------------------------------------

IMAPLIB_SCRIPT = r"""
import imaplib, json, sys

port = int(sys.argv[1])
report = {}
def text(data):
    out = []
    for item in data:
        if isinstance(item, tuple):
            out.append([x.decode("utf-8", "replace") for x in item])
        elif item is not None:
            out.append(item.decode("utf-8", "replace"))
    return out

m = imaplib.IMAP4("127.0.0.1", port, timeout=10)
report["capabilities"] = sorted(m.capabilities)
try:
    m.login("alice", "wrong")
except imaplib.IMAP4.error as e:
    report["bad_login"] = str(e)
report["login"] = m.login("alice", "secret")[0]
report["list"] = text(m.list()[1])
report["lsub"] = text(m.lsub()[1])
report["namespace"] = text(m.namespace()[1])
report["status"] = text(m.status("INBOX", "(MESSAGES UNSEEN UIDNEXT)")[1])
typ, data = m.select("INBOX")
report["select"] = [typ, text(data)]
report["uidvalidity"] = text(m.response("UIDVALIDITY")[1])
report["fetch_flags"] = text(m.fetch("1:*", "(UID FLAGS RFC822.SIZE)")[1])
report["fetch_body"] = text(m.fetch("2", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODYSTRUCTURE)")[1])
report["rfc822"] = text(m.fetch("1", "(RFC822)")[1])
report["search"] = text(m.search(None, "UNSEEN")[1])
report["search_from"] = text(m.search("UTF-8", "FROM", '"carol"')[1])
report["uid_search"] = text(m.uid("SEARCH", "ALL")[1])
report["store"] = text(m.store("2", "+FLAGS", "(\\Deleted)")[1])
report["copy"] = [m.copy("1", "Sent")[0], text(m.response("COPYUID")[1])]
report["expunge"] = text(m.expunge()[1])
report["noop"] = m.noop()[0]
report["check"] = m.check()[0]
report["close"] = m.close()[0]
report["examine"] = m.select("Sent", readonly=True)[0]
report["sent_fetch"] = text(m.uid("FETCH", "1:*", "(FLAGS)")[1])
report["unselect"] = m.unselect()[0] if hasattr(m, "unselect") else "OK"
report["logout"] = m.logout()[0]
print(json.dumps(report))
"""


@pytest.fixture
def server(reactor):
    store = Store()
    store.deliver("alice", "INBOX", SIMPLE)
    store.deliver("alice", "INBOX", MULTIPART, ["\\Seen"])
    factory = IMAPServerFactory(FakeBackend(store), reactor, SETTINGS)
    port = reactor.listen_tcp(0, factory, "127.0.0.1")
    yield store, port.get_host().port
    port.stop_listening()


@pytest.mark.timeout(60)
def test_imaplib(reactor, server):
    store, port = server
    result = run_client(reactor, [sys.executable, "-c", IMAPLIB_SCRIPT, str(port)])
    assert result.exit_code == 0, result.err
    report = json.loads(result.out)
    assert "IDLE" in report["capabilities"] and "AUTH=PLAIN" in report["capabilities"]
    assert "AUTHENTICATIONFAILED" in report["bad_login"]
    assert report["login"] == "OK"
    assert report["list"] == ['(\\HasNoChildren) "/" INBOX', '(\\Sent \\HasNoChildren) "/" Sent']
    assert report["status"] == ["INBOX (MESSAGES 2 UNSEEN 1 UIDNEXT 3)"]
    assert report["select"] == ["OK", ["2"]]
    assert report["uidvalidity"] == ["1700000000"]
    assert report["fetch_flags"][0] == f"1 (UID 1 FLAGS () RFC822.SIZE {len(SIMPLE)})"
    assert report["fetch_body"][0][1] == "Subject: Map\r\n\r\n"
    assert report["rfc822"][0][1] == SIMPLE.decode()
    assert report["search"] == [""]  # RFC822 marked letter 1 read
    assert report["search_from"] == ["2"]
    assert report["uid_search"] == ["1 2"]
    assert report["store"] == ["2 (FLAGS (\\Deleted \\Seen))"]
    assert report["copy"] == ["OK", ["1700000001 1 1"]]
    assert report["expunge"] == ["2"]
    assert report["sent_fetch"] == ["1 (UID 1 FLAGS (\\Seen))"]
    assert report["logout"] == "BYE"
    assert sorted(store.boxes["alice"]["INBOX"]) == [1]
    assert store.boxes["alice"]["INBOX"][1][0] == {"\\Seen"}
    assert store.closed == 2
