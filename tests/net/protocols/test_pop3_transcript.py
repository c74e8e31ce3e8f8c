"""The POP3 session state machine alone: byte-exact transcripts, no socket, no clock.

Each transcript is a table of what the client sends (a line, or the
backend's answer to the session's last request) and exactly what the
session gives back: response bytes, with its requests shown as
``[auth USER PASSWORD]``, ``[read N]``, ``[retrieved N]``,
``[commit N,M]``, ``[release]`` and ``[close]`` (indices 0-based).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from reality.net.protocols.basic import Close
from reality.net.protocols.pop3 import (
    Authenticate,
    BadCredentials,
    CommitDeletions,
    LoginThrottled,
    MailboxInUse,
    MarkRetrieved,
    POP3Session,
    POP3Settings,
    ReadMessage,
    Release,
)

SETTINGS = POP3Settings(hostname="pop.example.test")
M1 = b"From: a@b\r\nSubject: one\r\n\r\nHello\r\n.hidden\r\n.\r\nbye\r\n"
M2 = b"Subject: two\n\nline1\nline2\nline3\n"  # bare LF line ends
LISTING = [("uid-1", 51), ("uid-2", 37)]

Step = tuple[bytes | Callable[[POP3Session], Sequence[object]], bytes]


def render(actions: Sequence[object]) -> bytes:
    out = []
    for action in actions:
        if isinstance(action, bytes):
            out.append(action)
        elif isinstance(action, Authenticate):
            out.append(f"[auth {action.user} {action.password}]".encode())
        elif isinstance(action, ReadMessage):
            out.append(f"[read {action.index}]".encode())
        elif isinstance(action, MarkRetrieved):
            out.append(f"[retrieved {action.index}]".encode())
        elif isinstance(action, CommitDeletions):
            out.append(f"[commit {','.join(map(str, action.indices))}]".encode())
        elif isinstance(action, Release):
            out.append(b"[release]")
        else:
            assert isinstance(action, Close)
            out.append(b"[close]")
    return b"".join(out)


def play(steps: Sequence[Step]) -> POP3Session:
    """Run a transcript, asserting each answer byte for byte."""
    session = POP3Session(SETTINGS)
    assert render(session.greeting()) == b"+OK pop.example.test POP3 server ready\r\n"
    for number, (given, expected) in enumerate(steps):
        actions = session.receive_line(given) if isinstance(given, bytes) else given(session)
        assert render(actions) == expected, f"step {number}: {given!r}"
    return session


def listing(entries: object) -> Callable[[POP3Session], Sequence[object]]:
    return lambda session: session.logged_in(entries)  # type: ignore[arg-type]


def message(data: object) -> Callable[[POP3Session], Sequence[object]]:
    return lambda session: session.message_read(data)


LOGIN: list[Step] = [
    (b"USER alice", b"+OK Send PASS\r\n"),
    (b"PASS two words", b"[auth alice two words]"),
    (listing(LISTING), b"+OK Logged in, 2 messages (88 octets)\r\n"),
]


def test_a_whole_session():
    """USER/PASS, STAT, LIST, UIDL, RETR, TOP, DELE, RSET, NOOP, CAPA, QUIT with a commit."""
    session = play(LOGIN + [
        (b"STAT", b"+OK 2 88\r\n"),
        (b"LIST", b"+OK 2 messages (88 octets)\r\n1 51\r\n2 37\r\n.\r\n"),
        (b"LIST 2", b"+OK 2 37\r\n"),
        (b"UIDL", b"+OK Unique-ID listing\r\n1 uid-1\r\n2 uid-2\r\n.\r\n"),
        (b"UIDL 1", b"+OK 1 uid-1\r\n"),
        (b"RETR 1", b"[read 0]"),
        (message(M1),
         b"+OK 51 octets\r\nFrom: a@b\r\nSubject: one\r\n\r\nHello\r\n..hidden\r\n..\r\nbye\r\n"
         b".\r\n[retrieved 0]"),
        (b"TOP 2 1", b"[read 1]"),
        (message(M2), b"+OK Top of message follows\r\nSubject: two\r\n\r\nline1\r\n.\r\n"),
        (b"DELE 1", b"+OK Message 1 deleted\r\n"),
        (b"STAT", b"+OK 1 37\r\n"),
        (b"LIST", b"+OK 1 messages (37 octets)\r\n2 37\r\n.\r\n"),
        (b"RETR 1", b"-ERR Message 1 already deleted\r\n"),
        (b"RSET", b"+OK Maildrop has 2 messages (88 octets)\r\n"),
        (b"DELE 2", b"+OK Message 2 deleted\r\n"),
        (b"NOOP", b"+OK\r\n"),
        (b"CAPA",
         b"+OK Capability list follows\r\nTOP\r\nUSER\r\nUIDL\r\nRESP-CODES\r\n"
         b"AUTH-RESP-CODE\r\nPIPELINING\r\nIMPLEMENTATION Reality\r\n.\r\n"),
        (b"QUIT", b"[commit 1]"),
    ])
    assert session.committing and session.state == "UPDATE"
    assert render(session.deletions_committed()) == (
        b"+OK pop.example.test signing off (1 messages left)\r\n[close]"
    )
    assert session.closed and not session.committing


def test_quit_without_deletions_and_before_login():
    """QUIT in TRANSACTION with nothing deleted commits nothing; in AUTHORIZATION it just ends."""
    play(LOGIN + [(b"QUIT", b"+OK pop.example.test signing off (2 messages left)\r\n[close]")])
    play([(b"QUIT", b"+OK pop.example.test POP3 server signing off\r\n[close]")])


def test_failed_commit_still_says_goodbye():
    """Deletions that cannot be committed: -ERR [SYS/TEMP], closed anyway."""
    play(LOGIN + [
        (b"DELE 1", b"+OK Message 1 deleted\r\n"),
        (b"QUIT", b"[commit 0]"),
        (lambda s: s.deletions_failed(),
         b"-ERR [SYS/TEMP] Some deleted messages not removed\r\n[close]"),
    ])


@pytest.mark.parametrize(
    ("error", "response"),
    [
        (BadCredentials(), b"-ERR [AUTH] Invalid user name or password\r\n"),
        (MailboxInUse(), b"-ERR [IN-USE] Mailbox is in use by another session\r\n"),
        (LoginThrottled(), b"-ERR [SYS/TEMP] Too many failed logins, try again later\r\n"),
        (OSError("db"), b"-ERR [SYS/TEMP] Temporary failure, try again later\r\n"),
    ],
)
def test_refused_logins(error, response):
    """Each refusal with its RFC 2449 / RFC 3206 code; a new try starts at USER again."""
    session = play([
        (b"USER alice", b"+OK Send PASS\r\n"),
        (b"PASS wrong", b"[auth alice wrong]"),
        (lambda s: s.login_failed(error), response),
        (b"PASS again", b"-ERR Send USER first\r\n"),
    ])
    assert session.state == "AUTHORIZATION"


def test_unreadable_listing_releases_the_mailbox():
    """A listing that cannot be read, or with a bad uid: release, -ERR [SYS/TEMP]."""
    for bad in (None, [("has space", 1)], [("uid", -1)], [("uid", "many")]):
        play([
            (b"USER alice", b"+OK Send PASS\r\n"),
            (b"PASS secret", b"[auth alice secret]"),
            (listing(bad), b"[release]-ERR [SYS/TEMP] Mailbox cannot be read, try again later\r\n"),
            (b"STAT", b"-ERR Command not valid in this state\r\n"),
        ])


def test_errors_in_each_state():
    """Wrong state, unknown verbs, bad arguments, bad lines: each its -ERR."""
    play([
        (b"STAT", b"-ERR Command not valid in this state\r\n"),
        (b"USER", b"-ERR Syntax: USER name\r\n"),
        (b"PASS x", b"-ERR Send USER first\r\n"),
        (b"FROB", b"-ERR Unknown command\r\n"),
        (b"\xff", b"-ERR Command line is not valid UTF-8\r\n"),
        (b"X" * 255, b"-ERR Line too long (at most 255 octets)\r\n"),
        (b"USER alice", b"+OK Send PASS\r\n"),
        (b"PASS", b"-ERR Syntax: PASS password\r\n"),
    ])
    play(LOGIN + [
        (b"USER bob", b"-ERR Command not valid in this state\r\n"),
        (b"RETR", b"-ERR Syntax: RETR message\r\n"),
        (b"RETR x", b"-ERR Invalid message number\r\n"),
        (b"RETR 3", b"-ERR No such message\r\n"),
        (b"TOP 1", b"-ERR Syntax: TOP message lines\r\n"),
        (b"TOP 1 x", b"-ERR Invalid number of lines\r\n"),
        (b"LIST 1 2", b"-ERR Syntax: LIST [message]\r\n"),
        (b"UIDL 0", b"-ERR No such message\r\n"),
        (b"DELE", b"-ERR Syntax: DELE message\r\n"),
    ])


def test_the_tenth_error_hangs_up():
    """Ten negative responses: -ERR Too many errors, and the session closes."""
    steps: list[Step] = [(b"FROB", b"-ERR Unknown command\r\n")] * 9
    steps.append((b"FROB", b"-ERR Unknown command\r\n-ERR Too many errors, closing connection\r\n"
                  b"[close]"))
    session = play(steps)
    assert session.closed
    assert session.receive_line(b"NOOP") == []


def test_reads_that_fail():
    """A message that cannot be read, or is not bytes: -ERR [SYS/TEMP], the session goes on."""
    play(LOGIN + [
        (b"RETR 1", b"[read 0]"),
        (lambda s: s.message_read_failed(),
         b"-ERR [SYS/TEMP] Cannot read message 1, try again later\r\n"),
        (b"RETR 2", b"[read 1]"),
        (message("text"), b"-ERR [SYS/TEMP] Cannot read message 2, try again later\r\n"),
        (b"NOOP", b"+OK\r\n"),
    ])


def test_pipelined_commands_wait_for_the_answer():
    """While a request is out, later commands stay unread: answers keep their order."""
    session = play(LOGIN)
    assert render(session.receive(b"RETR 2\r\nSTAT\r\n")) == b"[read 1]"
    assert session.waiting and session.buffered == len(b"STAT\r\n")
    assert render(session.message_read(M2)) == (
        b"+OK 37 octets\r\nSubject: two\r\n\r\nline1\r\nline2\r\nline3\r\n.\r\n[retrieved 1]"
    )
    assert render(session.receive(b"")) == b"+OK 2 88\r\n"


def test_timeouts_say_why_and_close():
    """An autologout never enters UPDATE: -ERR with the reason, then close."""
    for reason, text in [
        ("idle", b"Autologout: idle for too long"),
        ("partial-command", b"Autologout: command line not completed in time"),
        ("session", b"Autologout: session too long"),
    ]:
        session = play(LOGIN + [(b"DELE 1", b"+OK Message 1 deleted\r\n")])
        assert render(session.timed_out(reason)) == b"-ERR " + text + b"\r\n[close]"
        assert session.closed and not session.committing
