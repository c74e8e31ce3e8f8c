"""Total deadlines of SMTP and POP3 sessions (CommandPipeline): a trickle cannot stretch them.

The idle timer restarts only when a complete command is taken, so a
command line sent one byte at a time must be complete within the idle
time; SMTP message data has a total deadline (RFC 5321 4.5.3.2.6); and
the session clock counts the time a session waits for its client, up to a
total, but not the time it spends sending a download.
"""

from __future__ import annotations

import logging

from pop3_fakes import HOST as POP3_HOST, FakePOP3Backend, Session as POP3Session, logged_in
from smtp_fakes import HOST as SMTP_HOST, FakeBackend, Session as SMTPSession, greeted

from reality.net.protocols.basic import Deadline
from reality.net.protocols.pop3 import SESSION_TIMEOUT as POP3_SESSION, POP3Settings
from reality.net.protocols.smtp import (
    DATA_TIMEOUT,
    SESSION_TIMEOUT as SMTP_SESSION,
    SMTPSettings,
)
from reality.net.testing import Clock


def trickle(session, data: bytes, every: float) -> None:
    """Send ``data`` one byte per ``every`` seconds (stopping if the session closes)."""
    for byte in data:
        if session.closed:
            return
        session.protocol.data_received(bytes([byte]))
        session.clock.advance(every)


def timeout_events(caplog) -> list[dict]:
    return [
        r.audit for r in caplog.records
        if getattr(r, "audit", {}).get("event") == "connection.timeout"
    ]


# -- SMTP --------------------------------------------------------------------------------


def test_defaults_are_documented_values():
    """SMTP: 300 s per command, 600 s of data, 1800 s a session; POP3: 600 s, 3600 s."""
    assert SMTPSettings().idle_timeout == 300
    assert DATA_TIMEOUT == SMTPSettings().data_timeout == 600
    assert SMTP_SESSION == SMTPSettings().session_timeout == 1800
    assert POP3Settings().idle_timeout == 600
    assert POP3_SESSION == POP3Settings().session_timeout == 3600


def test_smtp_command_line_trickled_is_cut_at_the_idle_time(caplog):
    """A command line sent a byte every 10 s: 421 4.4.2 300 s after the last command."""
    caplog.set_level(logging.INFO)
    session = greeted()
    trickle(session, b"MAIL FROM:<someone.with.a.long.name@example.test>", every=10)
    assert session.closed
    assert session.clock.seconds() <= 300 + 10
    assert session.take().endswith(
        b"421 4.4.2 " + SMTP_HOST.encode() + b" Error: command line not completed in time\r\n"
    )
    assert timeout_events(caplog) == [
        {"event": "connection.timeout", "service": "smtp", "address": "192.0.2.1",
         "reason": "partial-command"}
    ]
    info = [r for r in caplog.records if r.name == "reality.net.protocols.basic"]
    assert len(info) == 1 and "partial-command timeout" in info[0].getMessage()


def test_smtp_each_complete_command_gives_a_new_idle_time():
    """Commands every 290 s keep the session (until the session limit, much later)."""
    session = greeted()
    for _ in range(5):
        session.clock.advance(290)
        assert session.send(b"NOOP\r\n") == b"250 2.0.0 OK\r\n"
    assert not session.closed


def test_smtp_data_trickled_is_cut_at_the_data_deadline():
    """Message data at a byte every 5 s (never idle): 421 4.4.2 600 s after the 354."""
    session = greeted()
    session.send(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
    started = session.clock.seconds()
    trickle(session, b"Subject: slow\r\n\r\n" + b"x" * 400, every=5)
    assert session.closed
    assert session.clock.seconds() - started <= DATA_TIMEOUT + 5
    assert session.clock.seconds() - started >= DATA_TIMEOUT - 5
    assert session.take().endswith(
        b"421 4.4.2 " + SMTP_HOST.encode() + b" Error: message data not completed in time\r\n"
    )
    assert session.backend.delivered == []


def test_smtp_data_at_a_normal_pace_is_not_cut():
    """Data sent in pieces with pauses under the idle time, within 600 s in all: accepted."""
    session = greeted()
    session.send(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
    session.take()
    for _ in range(4):
        session.clock.advance(140)  # 560 s in all; each pause under 300 s
        session.send(b"line of text\r\n")
    assert session.send(b".\r\n").startswith(b"250 ")
    # The data timer is gone with the message: the next command has its own time.
    session.clock.advance(DATA_TIMEOUT)
    assert session.take().startswith(b"421 4.4.2 " + SMTP_HOST.encode() + b" Error: timeout")


def test_smtp_data_idle_is_still_the_idle_time():
    """Data that stops arriving: 421 after the idle time since its last read."""
    session = greeted()
    session.send(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
    session.clock.advance(200)
    session.send(b"Subject: x\r\n")
    session.clock.advance(299)
    assert not session.closed
    session.clock.advance(1)
    assert session.closed


def test_smtp_session_limit():
    """A NOOP every 290 s: the session ends after 1800 s of waiting for the client."""
    session = greeted()
    out = b""
    while not session.closed and session.clock.seconds() < 4000:
        session.clock.advance(290)
        out = session.take() + session.send(b"NOOP\r\n")
    assert session.closed
    assert SMTP_SESSION <= session.clock.seconds() <= SMTP_SESSION + 290
    assert out.endswith(
        b"421 4.4.2 " + SMTP_HOST.encode() + b" Error: session too long, closing\r\n"
    )
    assert session.clock.get_delayed_calls() == []


def test_smtp_session_clock_stops_while_delivery_is_pending():
    """Time spent waiting for the backend is the server's, not the client's."""
    backend = FakeBackend()
    settings = SMTPSettings(hostname=SMTP_HOST, session_timeout=100, idle_timeout=1000,
                            data_timeout=1000)
    session = SMTPSession(backend, settings=settings)
    session.take()
    session.send(b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
    backend.hold = True
    session.clock.advance(50)
    session.send(b"x\r\n.\r\n")
    session.clock.advance(500)  # delivery takes its time
    assert not session.closed
    backend.release()
    assert session.take().startswith(b"250 ")
    session.clock.advance(49)
    assert not session.closed
    session.clock.advance(2)
    assert session.closed


# -- POP3 --------------------------------------------------------------------------------


def test_pop3_command_line_trickled_is_cut_at_the_idle_time(caplog):
    """A byte every 30 s of a line that never ends: -ERR 600 s after the last command."""
    caplog.set_level(logging.INFO)
    session = logged_in()
    trickle(session, b"NOOP NOOP NOOP NOOP NOOP NOOP NOOP NOOP", every=30)
    assert session.closed
    assert session.clock.seconds() <= 600 + 30
    assert session.take() == b"-ERR Autologout: command line not completed in time\r\n"
    assert session.backend.locked == set()
    assert [e["reason"] for e in timeout_events(caplog)] == ["partial-command"]
    assert timeout_events(caplog)[0]["service"] == "pop3"


def test_pop3_session_limit_for_a_noop_every_few_minutes():
    """A NOOP every 590 s holds the mailbox lock for an hour at most, then -ERR and unlock."""
    session = logged_in()
    out = b""
    while not session.closed and session.clock.seconds() < 8000:
        session.clock.advance(590)
        out = session.take() + session.send(b"NOOP\r\n")
    assert session.closed
    assert POP3_SESSION <= session.clock.seconds() <= POP3_SESSION + 590
    assert out.endswith(b"-ERR Autologout: session too long\r\n")
    assert session.backend.locked == set()


def test_pop3_session_clock_stops_while_the_client_reads_a_download():
    """Time with the replies backed up (pause_writing) does not count: a long download survives."""
    settings = POP3Settings(hostname=POP3_HOST, session_timeout=100)
    session = logged_in(settings=settings)
    for _ in range(20):
        session.clock.advance(4)  # the client thinks a little
        session.send(b"RETR 1\r\n")
        session.protocol.pause_writing()  # the letter is on its way
        session.clock.advance(60)  # a slow link: a minute a letter
        session.protocol.resume_writing()
    # 20 minutes in all, 80 s of it waiting for the client: still open.
    assert not session.closed
    session.clock.advance(21)
    assert session.closed
    assert session.take().endswith(b"-ERR Autologout: session too long\r\n")


def test_a_slow_download_is_not_idle():
    """One RETR read slowly for longer than the idle time: each drain is activity."""
    session = logged_in(settings=POP3Settings(hostname=POP3_HOST, idle_timeout=600,
                                              session_timeout=0))
    session.send(b"RETR 1\r\n")
    for _ in range(15):  # 15 minutes on one letter, no new command
        session.protocol.pause_writing()
        session.clock.advance(59)
        session.protocol.resume_writing()
        session.clock.advance(1)
    assert not session.closed
    session.clock.advance(601)  # then nothing at all: idle
    assert session.closed


def test_pop3_session_clock_stops_while_the_mailbox_answers():
    """Waiting for the backend (a slow login) is not the client's time either."""
    backend = FakePOP3Backend(hold=True)
    session = POP3Session(backend, POP3Settings(hostname=POP3_HOST, session_timeout=100))
    session.take()
    session.send(b"USER alice\r\nPASS secret\r\n")
    session.clock.advance(500)
    assert not session.closed
    backend.release()
    session.clock.advance(99)
    assert not session.closed
    session.clock.advance(2)
    assert session.closed


def test_pop3_session_limit_zero_means_none():
    """session_timeout=0: no session clock at all."""
    session = logged_in(settings=POP3Settings(hostname=POP3_HOST, session_timeout=0))
    for _ in range(20):
        session.clock.advance(590)
        session.send(b"NOOP\r\n")
    assert not session.closed


def test_deadline_pauses_and_resumes():
    """Deadline counts only while resumed, fires once, and never after cancel()."""
    clock = Clock()
    fired: list[str] = []
    deadline = Deadline(clock, 10, fired.append, "x")
    clock.advance(100)  # starts paused
    deadline.resume()
    clock.advance(4)
    deadline.pause()
    clock.advance(100)
    deadline.resume()
    deadline.resume()  # no-op while running
    clock.advance(5.9)
    assert fired == []
    clock.advance(0.2)
    assert fired == ["x"]
    deadline.resume()
    clock.advance(100)
    assert fired == ["x"]
    other = Deadline(clock, 1, fired.append, "y")
    other.resume()
    other.cancel()
    other.resume()
    clock.advance(10)
    assert fired == ["x"]
