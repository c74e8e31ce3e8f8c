"""POP3 sessions, byte for byte: every command and error response, locks, timers, order."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st
from pop3_fakes import (
    GREETING,
    HOST,
    M1,
    M2,
    M3,
    FakePOP3Backend,
    Session,
    crlf_size,
    logged_in,
)

from reality.net.protocol import Address
from reality.net.protocols.pop3 import POP3Settings

CAPA = (
    b"+OK Capability list follows\r\nTOP\r\nUSER\r\nUIDL\r\nRESP-CODES\r\n"
    b"AUTH-RESP-CODE\r\nPIPELINING\r\nIMPLEMENTATION Reality\r\n.\r\n"
)


def test_fixture_sizes():
    """The sizes the transcripts below rely on (CRLF octets, before stuffing)."""
    assert (crlf_size(M1), crlf_size(M2), crlf_size(M3)) == (51, 37, 16)


# -- AUTHORIZATION ----------------------------------------------------------------------


def test_greeting():
    """The server speaks first: +OK with its name."""
    session = Session()
    assert session.take() == GREETING


def test_capa_in_both_states():
    """CAPA (RFC 2449) lists TOP, USER, UIDL, RESP-CODES, AUTH-RESP-CODE, PIPELINING."""
    session = Session()
    session.take()
    assert session.send(b"CAPA\r\n") == CAPA
    session.send(b"USER alice\r\nPASS secret\r\n")
    assert session.send(b"capa\r\n") == CAPA


def test_login():
    """USER then PASS opens the maildrop: +OK with its size; the backend sees the peer."""
    session = Session()
    session.take()
    assert session.send(b"USER alice\r\n") == b"+OK Send PASS\r\n"
    assert session.send(b"PASS secret\r\n") == b"+OK Logged in, 3 messages (104 octets)\r\n"
    assert session.backend.seen_peers == [Address("TCP", "192.0.2.1", 51234)]
    assert session.backend.locked == {"alice"}


def test_password_may_contain_spaces():
    """PASS takes the whole rest of the line (RFC 1939 7)."""
    session = Session()
    session.take()
    assert session.send(b"USER bob\r\nPASS two words\r\n") == (
        b"+OK Send PASS\r\n+OK Logged in, 0 messages (0 octets)\r\n"
    )


def test_user_without_name():
    """USER needs a name."""
    session = Session()
    session.take()
    assert session.send(b"USER\r\nUSER \r\n") == b"-ERR Syntax: USER name\r\n" * 2


def test_pass_without_user():
    """PASS before USER is refused."""
    session = Session()
    session.take()
    assert session.send(b"PASS secret\r\n") == b"-ERR Send USER first\r\n"


def test_pass_without_password():
    """PASS needs an argument; the USER stays, so a proper PASS still works."""
    session = Session()
    session.take()
    assert session.send(b"USER alice\r\nPASS\r\nPASS secret\r\n") == (
        b"+OK Send PASS\r\n-ERR Syntax: PASS password\r\n"
        b"+OK Logged in, 3 messages (104 octets)\r\n"
    )


def test_wrong_password_and_unknown_user_read_the_same():
    """Bad credentials give -ERR [AUTH] (RFC 3206) either way; the next try starts at USER."""
    session = Session()
    session.take()
    assert session.send(b"USER alice\r\nPASS wrong\r\n") == (
        b"+OK Send PASS\r\n-ERR [AUTH] Invalid user name or password\r\n"
    )
    assert session.send(b"USER nobody\r\nPASS secret\r\n") == (
        b"+OK Send PASS\r\n-ERR [AUTH] Invalid user name or password\r\n"
    )
    assert session.send(b"PASS secret\r\n") == b"-ERR Send USER first\r\n"
    assert session.send(b"USER alice\r\nPASS secret\r\n") == (
        b"+OK Send PASS\r\n+OK Logged in, 3 messages (104 octets)\r\n"
    )


def test_throttled_login():
    """After too many failures the backend throttles: -ERR [SYS/TEMP], even with the password."""
    session = Session()
    session.take()
    session.send(b"USER alice\r\nPASS a\r\nUSER alice\r\nPASS b\r\nUSER alice\r\nPASS c\r\n")
    assert session.send(b"USER alice\r\nPASS secret\r\n") == (
        b"+OK Send PASS\r\n-ERR [SYS/TEMP] Too many failed logins, try again later\r\n"
    )


def test_second_session_gets_in_use():
    """One session per mailbox: a second PASS gets -ERR [IN-USE] until the first QUITs."""
    backend = FakePOP3Backend()
    first = logged_in(backend)
    second = Session(backend)
    second.take()
    assert second.send(b"USER alice\r\nPASS secret\r\n") == (
        b"+OK Send PASS\r\n-ERR [IN-USE] Mailbox is in use by another session\r\n"
    )
    first.send(b"QUIT\r\n")
    assert second.send(b"USER alice\r\nPASS secret\r\n") == (
        b"+OK Send PASS\r\n+OK Logged in, 3 messages (104 octets)\r\n"
    )


def test_backend_failure_during_login():
    """An unexpected backend error is -ERR [SYS/TEMP]; the session lives."""

    class Broken(FakePOP3Backend):
        def authenticate(self, user, password, peer):
            raise RuntimeError("database is down")

    session = Session(Broken())
    session.take()
    assert session.send(b"USER alice\r\nPASS secret\r\nNOOP\r\n") == (
        b"+OK Send PASS\r\n-ERR [SYS/TEMP] Temporary failure, try again later\r\n"
        b"-ERR Command not valid in this state\r\n"
    )
    assert not session.closed


def test_unlistable_mailbox_is_released():
    """A mailbox whose listing breaks the rules (bad uid) is refused and unlocked at once."""

    class BadUids(FakePOP3Backend):
        def authenticate(self, user, password, peer):
            d = super().authenticate(user, password, peer)
            d.add_callback(self._break)
            return d

        def _break(self, mailbox):
            mailbox.list_messages = lambda: [("has space", 10)]
            return mailbox

    backend = BadUids()
    session = Session(backend)
    session.take()
    assert session.send(b"USER alice\r\nPASS secret\r\n") == (
        b"+OK Send PASS\r\n-ERR [SYS/TEMP] Mailbox cannot be read, try again later\r\n"
    )
    assert backend.locked == set()
    assert backend.mailboxes[0].released == 1


def test_quit_in_authorization():
    """QUIT before login says goodbye and closes; nothing to release."""
    session = Session()
    session.take()
    assert session.send(b"QUIT\r\n") == b"+OK pop.example.test POP3 server signing off\r\n"
    assert session.closed


def test_transaction_commands_need_login():
    """STAT, LIST, RETR, ... before login: -ERR not valid in this state."""
    session = Session()
    session.take()
    for verb in (b"STAT", b"LIST", b"UIDL", b"RETR 1", b"TOP 1 1", b"DELE 1", b"RSET", b"NOOP"):
        assert session.send(verb + b"\r\n") == b"-ERR Command not valid in this state\r\n"


def test_authorization_commands_after_login():
    """USER and PASS after login: -ERR not valid in this state."""
    session = logged_in()
    assert session.send(b"USER bob\r\nPASS x\r\n") == (
        b"-ERR Command not valid in this state\r\n" * 2
    )


def test_unknown_command():
    """Unknown keywords (APOP, STLS, AUTH included: not offered) get -ERR Unknown command."""
    session = Session()
    session.take()
    for line in (b"FROB", b"APOP alice 0123", b"STLS", b"AUTH", b""):
        assert session.send(line + b"\r\n") == b"-ERR Unknown command\r\n"


# -- TRANSACTION ------------------------------------------------------------------------


def test_stat():
    """STAT: count and octets of the messages not marked deleted."""
    session = logged_in()
    assert session.send(b"STAT\r\n") == b"+OK 3 104\r\n"


def test_list():
    """LIST: a scan listing; LIST n: one line."""
    session = logged_in()
    assert session.send(b"LIST\r\n") == (
        b"+OK 3 messages (104 octets)\r\n1 51\r\n2 37\r\n3 16\r\n.\r\n"
    )
    assert session.send(b"LIST 2\r\n") == b"+OK 2 37\r\n"


def test_uidl():
    """UIDL: unique ids; UIDL n: one."""
    session = logged_in()
    assert session.send(b"UIDL\r\n") == (
        b"+OK Unique-ID listing\r\n1 uid-1\r\n2 uid-2\r\n3 uid-3\r\n.\r\n"
    )
    assert session.send(b"UIDL 3\r\n") == b"+OK 3 uid-3\r\n"


@pytest.mark.parametrize("verb", [b"LIST", b"UIDL", b"RETR", b"DELE"])
def test_message_number_errors(verb):
    """Out of range, zero, not a number, or too many arguments: each its own -ERR."""
    session = logged_in()
    assert session.send(verb + b" 0\r\n") == b"-ERR No such message\r\n"
    assert session.send(verb + b" 4\r\n") == b"-ERR No such message\r\n"
    assert session.send(verb + b" x\r\n") == b"-ERR Invalid message number\r\n"
    assert session.send(verb + b" -1\r\n") == b"-ERR Invalid message number\r\n"
    syntax = {b"LIST": b"LIST [message]", b"UIDL": b"UIDL [message]"}.get(
        verb, verb + b" message"
    )
    assert session.send(verb + b" 1 2\r\n") == b"-ERR Syntax: " + syntax + b"\r\n"


def test_retr_byte_stuffs_and_ends_with_dot():
    """RETR: +OK with the size, lines starting with '.' doubled, then '.' (RFC 1939 3)."""
    session = logged_in()
    assert session.send(b"RETR 1\r\n") == (
        b"+OK 51 octets\r\nFrom: a@b\r\nSubject: one\r\n\r\nHello\r\n..hidden\r\n..\r\nbye\r\n"
        b".\r\n"
    )


def test_retr_sends_crlf_line_ends():
    """A message stored with bare LF goes out with CRLF, as POP3 requires."""
    session = logged_in()
    assert session.send(b"RETR 2\r\n") == (
        b"+OK 37 octets\r\nSubject: two\r\n\r\nline1\r\nline2\r\nline3\r\n.\r\n"
    )


def test_retr_needs_one_argument():
    """RETR without a number is a syntax error."""
    session = logged_in()
    assert session.send(b"RETR\r\n") == b"-ERR Syntax: RETR message\r\n"


def test_top():
    """TOP n k: the header, the blank line, and k body lines; headers-only messages whole."""
    session = logged_in()
    assert session.send(b"TOP 2 0\r\n") == (
        b"+OK Top of message follows\r\nSubject: two\r\n\r\n.\r\n"
    )
    assert session.send(b"TOP 2 2\r\n") == (
        b"+OK Top of message follows\r\nSubject: two\r\n\r\nline1\r\nline2\r\n.\r\n"
    )
    assert session.send(b"TOP 2 99\r\n") == (
        b"+OK Top of message follows\r\nSubject: two\r\n\r\nline1\r\nline2\r\nline3\r\n.\r\n"
    )
    assert session.send(b"TOP 1 2\r\n") == (
        b"+OK Top of message follows\r\nFrom: a@b\r\nSubject: one\r\n\r\nHello\r\n..hidden\r\n"
        b".\r\n"
    )
    assert session.send(b"TOP 3 1\r\n") == (
        b"+OK Top of message follows\r\nSubject: three\r\n.\r\n"
    )


def test_top_errors():
    """TOP needs a message and a non-negative line count."""
    session = logged_in()
    assert session.send(b"TOP 1\r\n") == b"-ERR Syntax: TOP message lines\r\n"
    assert session.send(b"TOP 1 -1\r\n") == b"-ERR Invalid number of lines\r\n"
    assert session.send(b"TOP 9 1\r\n") == b"-ERR No such message\r\n"


def test_dele_marks_and_hides():
    """DELE marks a message: it leaves STAT/LIST/UIDL, and cannot be read or deleted again."""
    session = logged_in()
    assert session.send(b"DELE 1\r\n") == b"+OK Message 1 deleted\r\n"
    assert session.send(b"STAT\r\n") == b"+OK 2 53\r\n"
    assert session.send(b"LIST\r\n") == b"+OK 2 messages (53 octets)\r\n2 37\r\n3 16\r\n.\r\n"
    assert session.send(b"UIDL\r\n") == b"+OK Unique-ID listing\r\n2 uid-2\r\n3 uid-3\r\n.\r\n"
    for command in (b"DELE 1", b"RETR 1", b"TOP 1 0", b"LIST 1", b"UIDL 1"):
        assert session.send(command + b"\r\n") == b"-ERR Message 1 already deleted\r\n"
    # Nothing is deleted before QUIT.
    assert len(session.backend.messages["alice"]) == 3


def test_rset_unmarks():
    """RSET unmarks every deletion."""
    session = logged_in()
    session.send(b"DELE 1\r\nDELE 3\r\n")
    assert session.send(b"RSET\r\n") == b"+OK Maildrop has 3 messages (104 octets)\r\n"
    assert session.send(b"STAT\r\n") == b"+OK 3 104\r\n"


def test_noop():
    """NOOP: +OK."""
    session = logged_in()
    assert session.send(b"NOOP\r\n") == b"+OK\r\n"


def test_quit_commits_deletions_in_one_call():
    """QUIT enters UPDATE: all marked messages go in one commit, then +OK and close."""
    session = logged_in()
    session.send(b"DELE 3\r\nDELE 1\r\n")
    assert session.send(b"QUIT\r\n") == b"+OK pop.example.test signing off (1 messages left)\r\n"
    assert session.closed
    (mailbox,) = session.backend.mailboxes
    assert mailbox.commits == [[0, 2]]
    assert session.backend.messages["alice"] == [("uid-2", M2)]
    assert mailbox.released == 1
    assert session.backend.locked == set()


def test_quit_without_deletions():
    """QUIT with nothing marked does not call commit; the mailbox is released."""
    session = logged_in()
    assert session.send(b"QUIT\r\n") == b"+OK pop.example.test signing off (3 messages left)\r\n"
    (mailbox,) = session.backend.mailboxes
    assert mailbox.commits == []
    assert mailbox.released == 1


def test_quit_reply_waits_for_the_commit():
    """+OK at QUIT is sent only when the deletions are committed."""
    backend = FakePOP3Backend()
    session = logged_in(backend)
    session.send(b"DELE 2\r\n")
    backend.hold = True
    assert session.send(b"QUIT\r\n") == b""
    assert not session.closed
    assert session.backend.locked == {"alice"}
    backend.release()
    assert session.take() == b"+OK pop.example.test signing off (2 messages left)\r\n"
    assert session.closed
    assert session.backend.locked == set()


def test_commit_failure():
    """A failed commit: -ERR [SYS/TEMP], close, release; nothing was deleted."""
    backend = FakePOP3Backend()
    backend.fail_commit = True
    session = logged_in(backend)
    session.send(b"DELE 1\r\n")
    assert session.send(b"QUIT\r\n") == b"-ERR [SYS/TEMP] Some deleted messages not removed\r\n"
    assert session.closed
    assert len(backend.messages["alice"]) == 3
    assert backend.mailboxes[0].released == 1


def test_drop_without_quit_deletes_nothing_and_releases():
    """A dropped connection never enters UPDATE (RFC 1939 6) but frees the lock."""
    session = logged_in()
    session.send(b"DELE 1\r\n")
    session.transport.abort_connection()
    assert len(session.backend.messages["alice"]) == 3
    assert session.backend.mailboxes[0].released == 1
    assert session.backend.locked == set()
    assert session.clock.get_delayed_calls() == []


def test_drop_during_commit_releases_after_it():
    """If the client leaves while QUIT commits, the lock is held until the commit is done."""
    backend = FakePOP3Backend()
    session = logged_in(backend)
    session.send(b"DELE 1\r\n")
    backend.hold = True
    session.send(b"QUIT\r\n")
    session.transport.abort_connection()
    assert backend.locked == {"alice"}
    backend.release()
    assert backend.locked == set()
    assert len(backend.messages["alice"]) == 2
    assert backend.mailboxes[0].released == 1


def test_drop_during_login_releases_the_late_mailbox():
    """A mailbox that arrives after the client left is released at once."""
    backend = FakePOP3Backend(hold=True)
    session = Session(backend)
    session.take()
    session.send(b"USER alice\r\nPASS secret\r\n")
    session.transport.abort_connection()
    backend.release()
    assert backend.locked == set()
    assert backend.mailboxes[0].released == 1
    assert session.take() == b""


def test_message_read_failure():
    """A message that cannot be read: -ERR [SYS/TEMP]; the session lives."""
    backend = FakePOP3Backend()
    session = logged_in(backend)
    backend.fail_read = True
    assert session.send(b"RETR 1\r\n") == (
        b"-ERR [SYS/TEMP] Cannot read message 1, try again later\r\n"
    )
    backend.fail_read = False
    assert session.send(b"NOOP\r\n") == b"+OK\r\n"


def test_message_of_the_wrong_type_is_a_read_failure():
    """A backend returning text instead of bytes gives -ERR, not a crash."""
    backend = FakePOP3Backend()
    session = logged_in(backend)
    backend.messages["alice"][0] = ("uid-1", "text, not bytes")
    assert session.send(b"RETR 1\r\n") == (
        b"-ERR [SYS/TEMP] Cannot read message 1, try again later\r\n"
    )


# -- limits and timers ----------------------------------------------------------------


def test_line_too_long():
    """A command line over 255 octets (RFC 2449 4): -ERR, and the next line is read."""
    session = Session()
    session.take()
    assert session.send(b"USER " + b"a" * 249 + b"\r\nCAPA\r\n") == (
        b"-ERR Line too long (at most 255 octets)\r\n" + CAPA
    )
    assert session.send(b"USER " + b"a" * 248 + b"\n") == b"+OK Send PASS\r\n"


def test_endless_line_is_not_buffered():
    """A line that never ends is reported once and dropped as it arrives."""
    session = Session()
    session.take()
    assert session.send(b"x" * 300) == b"-ERR Line too long (at most 255 octets)\r\n"
    for _ in range(100):
        assert session.send(b"y" * 1000) == b""
    assert session.protocol.codec.buffered == 0
    assert session.send(b"\r\nNOOP\r\n") == b"-ERR Command not valid in this state\r\n"


def test_not_utf8():
    """Undecodable bytes get an -ERR, not an exception."""
    session = Session()
    session.take()
    assert session.send(b"USER \xff\r\n") == b"-ERR Command line is not valid UTF-8\r\n"


def test_ten_errors_close_the_session():
    """The tenth error is followed by a closing -ERR and the connection closes."""
    session = Session()
    session.take()
    for _ in range(9):
        session.send(b"FROB\r\n")
    assert not session.closed
    assert session.send(b"FROB\r\n") == (
        b"-ERR Unknown command\r\n-ERR Too many errors, closing connection\r\n"
    )
    assert session.closed


def test_idle_timeout_logs_out_without_update():
    """Ten minutes idle (RFC 1939 3): -ERR, close, release, and no deletion happens."""
    session = logged_in()
    session.send(b"DELE 1\r\n")
    session.clock.advance(599)
    session.send(b"NOOP\r\n")
    session.clock.advance(599)
    assert not session.closed
    session.take()
    session.clock.advance(1)
    assert session.take() == b"-ERR Autologout: idle for too long\r\n"
    assert session.closed
    assert len(session.backend.messages["alice"]) == 3
    assert session.backend.locked == set()


def test_no_timeout_while_the_backend_works():
    """Waiting for the backend is not idleness."""
    backend = FakePOP3Backend(hold=True)
    session = Session(backend)
    session.take()
    assert session.send(b"USER alice\r\nPASS secret\r\n") == b"+OK Send PASS\r\n"
    session.clock.advance(5000)
    assert not session.closed
    backend.release()
    assert session.take() == b"+OK Logged in, 3 messages (104 octets)\r\n"
    session.clock.advance(600)
    assert session.closed


def test_default_settings():
    """255-octet lines (RFC 2449), 10 minutes idle (RFC 1939), ten errors."""
    s = POP3Settings()
    assert (s.max_line_length, s.idle_timeout, s.max_errors) == (255, 600, 10)


# -- pipelining and flow control ------------------------------------------------------

PIPELINED = (
    b"CAPA\r\nUSER alice\r\nPASS secret\r\nSTAT\r\nLIST\r\nUIDL 2\r\nRETR 1\r\nTOP 2 1\r\n"
    b"DELE 1\r\nDELE 1\r\nLIST 1\r\nRSET\r\nDELE 3\r\nQUIT\r\nNOOP\r\n"
)
PIPELINED_RESPONSES = (
    GREETING + CAPA + b"+OK Send PASS\r\n+OK Logged in, 3 messages (104 octets)\r\n"
    b"+OK 3 104\r\n"
    b"+OK 3 messages (104 octets)\r\n1 51\r\n2 37\r\n3 16\r\n.\r\n"
    b"+OK 2 uid-2\r\n"
    b"+OK 51 octets\r\nFrom: a@b\r\nSubject: one\r\n\r\nHello\r\n..hidden\r\n..\r\nbye\r\n.\r\n"
    b"+OK Top of message follows\r\nSubject: two\r\n\r\nline1\r\n.\r\n"
    b"+OK Message 1 deleted\r\n"
    b"-ERR Message 1 already deleted\r\n"
    b"-ERR Message 1 already deleted\r\n"
    b"+OK Maildrop has 3 messages (104 octets)\r\n"
    b"+OK Message 3 deleted\r\n"
    b"+OK pop.example.test signing off (2 messages left)\r\n"
)


def test_pipelined_commands_wait_for_pending_answers():
    """While login is checked nothing after it is answered; then all come in order."""
    backend = FakePOP3Backend(hold=True)
    session = Session(backend)
    out = session.take() + session.send(PIPELINED)
    assert out == GREETING + CAPA + b"+OK Send PASS\r\n"
    while backend.pending:
        backend.release()
        out += session.take()
    assert out == PIPELINED_RESPONSES
    assert session.closed
    assert [uid for uid, _ in backend.messages["alice"]] == ["uid-1", "uid-2"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(min_value=1, max_value=len(PIPELINED) - 1), max_size=30),
    st.lists(st.booleans(), max_size=10),
)
def test_any_split_and_any_backend_timing_give_the_same_responses(cuts, holds):
    """However the stream is split and whichever answers are late, the client reads the same."""
    points = sorted(set(cuts))
    chunks = [PIPELINED[a:b] for a, b in zip([0, *points], [*points, len(PIPELINED)], strict=True)]
    holds_iter = iter(holds)

    class Sometimes(FakePOP3Backend):
        def answer(self, compute):
            self.hold = next(holds_iter, False)
            return super().answer(compute)

    backend = Sometimes()
    session = Session(backend)
    out = session.take()
    for chunk in chunks:
        out += session.send(chunk)
        if backend.pending:
            backend.release()
            out += session.take()
    while backend.pending:
        backend.release()
        out += session.take()
    assert out == PIPELINED_RESPONSES


def test_reading_pauses_while_too_much_input_waits():
    """Past max_buffered unprocessed bytes the transport stops reading; it resumes after."""
    backend = FakePOP3Backend(hold=True)
    session = Session(backend, POP3Settings(hostname=HOST, max_buffered=50))
    session.take()
    assert session.send(b"USER alice\r\nPASS secret\r\n") == b"+OK Send PASS\r\n"
    session.send(b"NOOP\r\n" * 8)
    assert not session.transport.reading_paused
    session.send(b"NOOP\r\n" * 2)
    assert session.transport.reading_paused
    backend.release()
    assert not session.transport.reading_paused
    assert session.take() == b"+OK Logged in, 3 messages (104 octets)\r\n" + b"+OK\r\n" * 10


def test_pause_writing_stops_responses_until_resumed():
    """A client that does not read gets no more messages produced until it drains."""
    session = logged_in()
    session.protocol.pause_writing()
    assert session.send(b"RETR 1\r\nRETR 2\r\n") == b""
    session.protocol.resume_writing()
    assert session.take().count(b"octets\r\n") == 2


FUZZ_WORDS = [
    b"USER alice", b"PASS secret", b"PASS wrong", b"STAT", b"LIST", b"LIST 1", b"UIDL", b"RETR 1",
    b"RETR 9", b"TOP 2 1", b"DELE 1", b"DELE 2", b"RSET", b"NOOP", b"CAPA", b"QUIT", b"\xff",
    b"x" * 300, b"",
]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(st.sampled_from(FUZZ_WORDS).map(lambda w: w + b"\r\n"), st.binary(max_size=40)),
        max_size=40,
    ),
    st.booleans(),
)
def test_arbitrary_input_never_raises_and_always_unlocks(pieces, hold):
    """Whatever a client sends, nothing raises, and every mailbox handed out is released."""
    backend = FakePOP3Backend(hold=hold)
    session = Session(backend)
    for piece in pieces:
        session.protocol.data_received(piece)
        if backend.pending:
            backend.release()
    backend.release_all()
    session.clock.advance(1000)
    backend.release_all()
    assert session.take().startswith(GREETING)
    assert session.closed
    assert backend.locked == set()
    assert all(mailbox.released == 1 for mailbox in backend.mailboxes)
