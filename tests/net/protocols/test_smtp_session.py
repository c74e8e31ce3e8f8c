"""SMTP sessions, byte for byte: every command, every error reply, limits, timers, order."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st
from smtp_fakes import EHLO_REPLY, GREETING, HOST, FakeBackend, Session, greeted

from reality.net.defer import Deferred
from reality.net.protocol import Address
from reality.net.protocols.smtp import DeliveryError, RecipientVerdict, SMTPSettings

# -- greeting and hello ------------------------------------------------------------------


def test_greeting():
    """The server speaks first: 220 with its name (RFC 5321 4.3.1)."""
    session = Session()
    assert session.take() == GREETING
    assert not session.closed


def test_ehlo_advertises_extensions():
    """EHLO lists SIZE with the limit, 8BITMIME, PIPELINING, ENHANCEDSTATUSCODES, HELP."""
    session = Session(settings=SMTPSettings(hostname=HOST, max_message_size=5000))
    session.take()
    assert session.send(b"EHLO client.example\r\n") == (
        b"250-mx.example.test\r\n250-SIZE 5000\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
        b"250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250 HELP\r\n"
    )


def test_helo():
    """HELO gets a single 250 line with the server's name."""
    session = Session()
    session.take()
    assert session.send(b"HELO client.example\r\n") == b"250 mx.example.test\r\n"


@pytest.mark.parametrize("verb", [b"EHLO", b"HELO"])
@pytest.mark.parametrize("argument", [b"", b" ", b" two words"])
def test_hello_needs_one_name(verb, argument):
    """EHLO/HELO without a name (or with two) is a syntax error: 501 5.5.4."""
    session = Session()
    session.take()
    assert session.send(verb + argument + b"\r\n") == (
        b"501 5.5.4 Syntax: " + verb + b" hostname\r\n"
    )


def test_ehlo_resets_the_transaction():
    """A second EHLO is like RSET (RFC 5321 4.1.4): RCPT then needs a new MAIL."""
    session = greeted()
    assert session.send(b"MAIL FROM:<a@b.example>\r\n") == b"250 2.1.0 Sender <a@b.example> OK\r\n"
    assert session.send(b"EHLO again.example\r\n") == EHLO_REPLY
    assert session.send(b"RCPT TO:<alice@example.test>\r\n") == (
        b"503 5.5.1 Error: need MAIL command\r\n"
    )


# -- MAIL ---------------------------------------------------------------------------------


def test_mail_before_hello():
    """MAIL needs HELO/EHLO first: 503 5.5.1."""
    session = Session()
    session.take()
    assert session.send(b"MAIL FROM:<a@b.example>\r\n") == (
        b"503 5.5.1 Error: send HELO/EHLO first\r\n"
    )


def test_mail_accepted_and_nested_mail_refused():
    """MAIL gets 250 2.1.0; a second MAIL in the same transaction gets 503."""
    session = greeted()
    assert session.send(b"mail from:<a@b.example>\r\n") == b"250 2.1.0 Sender <a@b.example> OK\r\n"
    assert session.send(b"MAIL FROM:<c@d.example>\r\n") == (
        b"503 5.5.1 Error: nested MAIL command\r\n"
    )


def test_mail_null_sender():
    """The null reverse-path <> (bounces) is accepted."""
    session = greeted()
    assert session.send(b"MAIL FROM:<>\r\n") == b"250 2.1.0 Sender <> OK\r\n"


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        (b"MAIL TO:<a@b.example>", b"501 5.5.4 Syntax: MAIL FROM:<address>"),
        (b"MAIL", b"501 5.5.4 Syntax: MAIL FROM:<address>"),
        (b"MAIL FROM:<a@b.example", b"501 5.5.4 Syntax: MAIL FROM:<address>"),
        (b"MAIL FROM:<nobody>", b"501 5.1.7 Bad sender address syntax"),
        (b"MAIL FROM:<a@b.example> SIZE=", b"501 5.5.4 Syntax error in parameters"),
        (b"MAIL FROM:<a@b.example> SIZE=abc", b"501 5.5.4 Syntax: SIZE=<number>"),
        (b"MAIL FROM:<a@b.example> SIZE", b"501 5.5.4 Syntax: SIZE=<number>"),
        (
            b"MAIL FROM:<a@b.example> SIZE=1048577",
            b"552 5.3.4 Message size exceeds fixed maximum message size",
        ),
        (
            b"MAIL FROM:<a@b.example> BODY=BINARYMIME",
            b"501 5.5.4 Syntax: BODY=7BIT or BODY=8BITMIME",
        ),
        (b"MAIL FROM:<a@b.example> SMTPUTF8=yes", b"501 5.5.4 Syntax: SMTPUTF8 takes no value"),
        ("MAIL FROM:<jürgen@b.example>".encode(), b"553 5.6.7 Non-ASCII address without SMTPUTF8"),
    ],
)
def test_mail_errors(line, reply):
    """Each malformed or refused MAIL gets its own reply, and no transaction starts."""
    session = greeted()
    assert session.send(line + b"\r\n") == reply + b"\r\n"
    assert session.send(b"RCPT TO:<alice@example.test>\r\n") == (
        b"503 5.5.1 Error: need MAIL command\r\n"
    )


def test_mail_with_size_and_body():
    """SIZE within the limit and BODY=8BITMIME/7BIT are accepted (RFC 1870, RFC 6152)."""
    session = greeted()
    assert session.send(b"MAIL FROM:<a@b.example> SIZE=1048576 BODY=8BITMIME\r\n") == (
        b"250 2.1.0 Sender <a@b.example> OK\r\n"
    )
    assert session.send(b"RSET\r\nMAIL FROM:<a@b.example> body=7bit\r\n") == (
        b"250 2.0.0 OK\r\n250 2.1.0 Sender <a@b.example> OK\r\n"
    )


def test_mail_parameters_need_ehlo():
    """After plain HELO no extension was agreed: parameters get 555."""
    session = Session()
    session.take()
    session.send(b"HELO client.example\r\n")
    assert session.send(b"MAIL FROM:<a@b.example> SIZE=10\r\n") == (
        b"555 5.5.4 Parameters need EHLO\r\n"
    )


# -- RCPT ---------------------------------------------------------------------------------


def in_transaction(backend=None, **kwargs):
    session = greeted(backend, **kwargs)
    assert session.send(b"MAIL FROM:<sender@far.example>\r\n") == (
        b"250 2.1.0 Sender <sender@far.example> OK\r\n"
    )
    return session


def test_rcpt_without_mail():
    """RCPT before MAIL is out of order: 503 5.5.1."""
    session = greeted()
    assert session.send(b"RCPT TO:<alice@example.test>\r\n") == (
        b"503 5.5.1 Error: need MAIL command\r\n"
    )


def test_rcpt_verdicts():
    """A known user gets 250 2.1.5, an unknown one 550 5.1.1, another domain 550 5.7.1."""
    session = in_transaction()
    assert session.send(b"RCPT TO:<Alice@Example.Test>\r\n") == (
        b"250 2.1.5 <Alice@Example.Test>: Recipient OK\r\n"
    )
    assert session.send(b"RCPT TO:<carol@example.test>\r\n") == (
        b"550 5.1.1 <carol@example.test>: User unknown\r\n"
    )
    assert session.send(b"RCPT TO:<alice@elsewhere.example>\r\n") == (
        b"550 5.7.1 <alice@elsewhere.example>: Relay access denied\r\n"
    )
    assert session.backend.checked == [
        "Alice@Example.Test",
        "carol@example.test",
        "alice@elsewhere.example",
    ]


def test_rcpt_custom_verdict():
    """Whatever verdict the backend gives is what the client reads."""

    class Full(FakeBackend):
        def check_recipient(self, address):
            return RecipientVerdict(452, "4.2.2", "Mailbox full")

    session = in_transaction(Full())
    assert session.send(b"RCPT TO:<alice@example.test>\r\n") == (
        b"452 4.2.2 <alice@example.test>: Mailbox full\r\n"
    )


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        (b"RCPT FROM:<alice@example.test>", b"501 5.5.4 Syntax: RCPT TO:<address>"),
        (b"RCPT", b"501 5.5.4 Syntax: RCPT TO:<address>"),
        (b"RCPT TO:<alice@example.test", b"501 5.5.4 Syntax: RCPT TO:<address>"),
        (b"RCPT TO:<>", b"501 5.1.3 Bad recipient address syntax"),
        (b"RCPT TO:<alice@@example.test>", b"501 5.1.3 Bad recipient address syntax"),
        (
            b"RCPT TO:<alice@example.test> NOTIFY=NEVER",
            b"555 5.5.4 RCPT TO parameters not supported",
        ),
    ],
)
def test_rcpt_errors(line, reply):
    """Malformed RCPT commands are refused without asking the backend."""
    session = in_transaction()
    assert session.send(line + b"\r\n") == reply + b"\r\n"
    assert session.backend.checked == []


def test_rcpt_source_route_and_postmaster():
    """A source route is dropped (RFC 5321 C); <postmaster> alone is an address (4.5.1)."""
    session = in_transaction()
    assert session.send(b"RCPT TO:<@relay.example:bob@example.test>\r\n") == (
        b"250 2.1.5 <bob@example.test>: Recipient OK\r\n"
    )
    assert session.send(b"RCPT TO:<Postmaster>\r\n") == (
        b"550 5.7.1 <Postmaster>: Relay access denied\r\n"
    )
    assert session.backend.checked == ["bob@example.test", "Postmaster"]


def test_more_than_100_recipients():
    """RFC 5321 4.5.3.1.8: 100 recipients are accepted; the 101st gets 452 4.5.3."""
    users = tuple(f"user{i}" for i in range(101))
    session = in_transaction(FakeBackend(users=users))
    for i in range(100):
        assert session.send(f"RCPT TO:<user{i}@example.test>\r\n".encode()) == (
            f"250 2.1.5 <user{i}@example.test>: Recipient OK\r\n".encode()
        )
    assert session.send(b"RCPT TO:<user100@example.test>\r\n") == (
        b"452 4.5.3 Error: too many recipients\r\n"
    )
    assert len(session.backend.checked) == 100
    session.send(b"DATA\r\n")
    assert session.send(b"hi\r\n.\r\n") == b"250 2.0.0 OK: queued as 6553F100.1\r\n"
    assert len(session.backend.delivered[0].rcpt_to) == 100


def test_duplicate_recipient_is_delivered_once():
    """The same address twice is accepted twice but appears once in the envelope."""
    session = in_transaction()
    session.send(b"RCPT TO:<bob@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
    session.send(b"x\r\n.\r\n")
    assert session.backend.delivered[0].rcpt_to == ["bob@example.test"]


def test_recipient_check_failure_is_temporary():
    """A backend that raises gives 451 4.3.0 and the session carries on."""

    class Broken(FakeBackend):
        def check_recipient(self, address):
            raise RuntimeError("database is down")

    session = in_transaction(Broken())
    assert session.send(b"RCPT TO:<alice@example.test>\r\n") == (
        b"451 4.3.0 Temporary failure checking recipient, try again later\r\n"
    )
    assert session.send(b"NOOP\r\n") == b"250 2.0.0 OK\r\n"


def test_recipient_check_returning_nonsense_is_temporary():
    """A backend answering with something that is not a verdict gives 451, not a crash."""

    class Confused(FakeBackend):
        def check_recipient(self, address):
            return True

    session = in_transaction(Confused())
    assert session.send(b"RCPT TO:<alice@example.test>\r\n") == (
        b"451 4.3.0 Temporary failure checking recipient\r\n"
    )


# -- DATA ---------------------------------------------------------------------------------


def test_data_out_of_order():
    """DATA without MAIL or without RCPT is 503; with only refused recipients 554."""
    session = greeted()
    assert session.send(b"DATA\r\n") == b"503 5.5.1 Error: need MAIL command\r\n"
    session.send(b"MAIL FROM:<a@b.example>\r\n")
    assert session.send(b"DATA\r\n") == b"503 5.5.1 Error: need RCPT command\r\n"
    session.send(b"RCPT TO:<nobody@example.test>\r\n")
    assert session.send(b"DATA\r\n") == b"554 5.5.1 Error: no valid recipients\r\n"
    # The refused DATA did not swallow what follows as message text.
    assert session.send(b"NOOP\r\n") == b"250 2.0.0 OK\r\n"


def test_data_with_argument():
    """DATA takes no parameters: 501 5.5.4."""
    session = in_transaction()
    session.send(b"RCPT TO:<alice@example.test>\r\n")
    assert session.send(b"DATA now\r\n") == b"501 5.5.4 Syntax: DATA (no parameters)\r\n"


def test_full_transaction_with_received_header():
    """354, dot-unstuffed data with a Received: header prepended, 250 with the message id."""
    session = in_transaction()
    session.send(b"RCPT TO:<alice@example.test>\r\n")
    assert session.send(b"DATA\r\n") == b"354 End data with <CR><LF>.<CR><LF>\r\n"
    assert session.send(b"Subject: hello\r\n\r\n..leading dot\r\nbody\r\n") == b""
    assert session.send(b".\r\n") == b"250 2.0.0 OK: queued as 6553F100.1\r\n"
    (envelope,) = session.backend.delivered
    assert envelope.mail_from == "sender@far.example"
    assert envelope.rcpt_to == ["alice@example.test"]
    assert envelope.helo == "client.example"
    assert envelope.peer == Address("TCP", "192.0.2.1", 51234)
    assert envelope.id == "6553F100.1"
    assert envelope.data == (
        b"Received: from client.example ([192.0.2.1])\r\n"
        b"\tby mx.example.test (Reality) with ESMTP id 6553F100.1\r\n"
        b"\tfor <alice@example.test>;\r\n"
        b"\tTue, 14 Nov 2023 22:13:20 +0000\r\n"
        b"Subject: hello\r\n\r\n.leading dot\r\nbody\r\n"
    )
    # The transaction is over: a new one needs MAIL, and ids go on counting.
    assert session.send(b"RCPT TO:<alice@example.test>\r\n") == (
        b"503 5.5.1 Error: need MAIL command\r\n"
    )
    session.send(b"MAIL FROM:<>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
    assert session.send(b".\r\n") == b"250 2.0.0 OK: queued as 6553F100.2\r\n"


def test_received_header_for_several_recipients_helo_and_ipv6():
    """No 'for' clause with several recipients; 'with SMTP' after HELO; IPv6 literal form."""
    session = Session(peer=Address("TCP", "2001:db8::1", 40000))
    session.take()
    session.send(b"HELO old.example\r\nMAIL FROM:<a@b.example>\r\n")
    session.send(b"RCPT TO:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
    session.send(b"x\r\n.\r\n")
    assert session.backend.delivered[0].data == (
        b"Received: from old.example ([IPv6:2001:db8::1])\r\n"
        b"\tby mx.example.test (Reality) with SMTP id 6553F100.1;\r\n"
        b"\tTue, 14 Nov 2023 22:13:20 +0000\r\n"
        b"x\r\n"
    )


def test_250_waits_for_the_commit():
    """The reply after DATA is written only when deliver()'s Deferred fires."""
    backend = FakeBackend(hold=True)
    session = greeted(backend)
    assert session.send(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<alice@example.test>\r\n") == (
        b"250 2.1.0 Sender <a@b.example> OK\r\n"
    )
    backend.release()
    assert session.send(b"DATA\r\n") == (
        b"250 2.1.5 <alice@example.test>: Recipient OK\r\n"
        b"354 End data with <CR><LF>.<CR><LF>\r\n"
    )
    assert session.send(b"x\r\n.\r\nNOOP\r\n") == b""
    assert backend.delivered == []
    backend.release()
    assert len(backend.delivered) == 1
    assert session.take() == b"250 2.0.0 OK: queued as 6553F100.1\r\n250 2.0.0 OK\r\n"


def test_delivery_failure_is_temporary_and_the_session_lives():
    """A failed commit gives 451 4.3.0; the client may retry in the same session."""
    backend = FakeBackend()
    backend.fail_delivery = OSError("disk full")
    session = in_transaction(backend)
    session.send(b"RCPT TO:<alice@example.test>\r\nDATA\r\n")
    assert session.send(b"x\r\n.\r\n") == (
        b"451 4.3.0 Temporary failure, message not accepted; try again later\r\n"
    )
    backend.fail_delivery = None
    session.send(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
    assert session.send(b"x\r\n.\r\n") == b"250 2.0.0 OK: queued as 6553F100.2\r\n"
    assert not session.closed


def test_delivery_error_gives_the_backends_reply():
    """A DeliveryError chooses the reply, e.g. 552 5.2.2 for a full mailbox."""
    backend = FakeBackend()
    backend.fail_delivery = DeliveryError(552, "5.2.2", "Mailbox full")
    session = in_transaction(backend)
    session.send(b"RCPT TO:<alice@example.test>\r\nDATA\r\n")
    assert session.send(b"x\r\n.\r\n") == b"552 5.2.2 Mailbox full\r\n"


def test_message_too_big():
    """Over the size limit: read to the end, dropped, 552 5.3.4; nothing delivered."""
    settings_ = SMTPSettings(hostname=HOST, max_message_size=1000, wall_clock=lambda: 0)
    session = in_transaction(settings=settings_)
    session.send(b"RCPT TO:<alice@example.test>\r\nDATA\r\n")
    for _ in range(20):
        assert session.send(b"x" * 98 + b"\r\n") == b""
    # A line that looks like a command inside the data is data.
    assert session.send(b"QUIT\r\n") == b""
    assert session.send(b".\r\n") == b"552 5.3.4 Message too big for this system\r\n"
    assert session.backend.delivered == []
    assert session.send(b"RCPT TO:<alice@example.test>\r\n") == (
        b"503 5.5.1 Error: need MAIL command\r\n"
    )


def test_default_size_limit_is_one_mebibyte():
    """1 MiB of message is accepted; one more line is not."""
    line = b"z" * 998 + b"\r\n"
    count = (1 << 20) // len(line)
    rest = (1 << 20) - count * len(line)
    message = line * count + b"r" * (rest - 2) + b"\r\n"
    assert len(message) == 1 << 20
    for extra, reply in [(b"", b"250 2.0.0 OK: queued as 6553F100.1\r\n"),
                         (b"!\r\n", b"552 5.3.4 Message too big for this system\r\n")]:
        session = in_transaction()
        session.send(b"RCPT TO:<alice@example.test>\r\nDATA\r\n")
        assert session.send(message + extra + b".\r\n") == reply


def test_message_line_too_long():
    """A data line over 1,000 octets: the message is dropped with 500 5.5.2."""
    session = in_transaction()
    session.send(b"RCPT TO:<alice@example.test>\r\nDATA\r\n")
    assert session.send(b"a" * 999 + b"\r\n.\r\n") == (
        b"500 5.5.2 Message has a line longer than 1000 bytes\r\n"
    )
    assert session.backend.delivered == []


# -- the other commands ---------------------------------------------------------------


def test_rset():
    """RSET clears the transaction: 250 2.0.0; with an argument 501."""
    session = in_transaction()
    session.send(b"RCPT TO:<alice@example.test>\r\n")
    assert session.send(b"RSET\r\n") == b"250 2.0.0 OK\r\n"
    assert session.send(b"DATA\r\n") == b"503 5.5.1 Error: need MAIL command\r\n"
    assert session.send(b"RSET all\r\n") == b"501 5.5.4 Syntax: RSET (no parameters)\r\n"


def test_noop():
    """NOOP is 250 2.0.0, with or without an argument, before or after hello."""
    session = Session()
    session.take()
    assert session.send(b"NOOP\r\nNOOP anything\r\n") == b"250 2.0.0 OK\r\n" * 2


def test_quit():
    """QUIT gets 221 and the server closes; later bytes are ignored."""
    session = greeted()
    assert session.send(b"QUIT\r\nNOOP\r\n") == b"221 2.0.0 mx.example.test closing connection\r\n"
    assert session.closed
    assert session.send(b"NOOP\r\n") == b""


def test_quit_with_argument():
    """QUIT takes no parameters: 501, and the session stays."""
    session = greeted()
    assert session.send(b"QUIT now\r\n") == b"501 5.5.4 Syntax: QUIT (no parameters)\r\n"
    assert not session.closed


def test_vrfy():
    """VRFY neither confirms nor denies (RFC 5321 7.3): 252 2.5.0; without argument 501."""
    session = Session()
    session.take()
    assert session.send(b"VRFY alice\r\n") == (
        b"252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery\r\n"
    )
    assert session.send(b"VRFY\r\n") == b"501 5.5.4 Syntax: VRFY address\r\n"
    assert session.backend.checked == []


def test_help():
    """HELP lists the commands: 214."""
    session = Session()
    session.take()
    assert session.send(b"HELP\r\nHELP MAIL\r\n") == (
        b"214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP\r\n" * 2
    )


def test_unknown_and_unimplemented_commands():
    """Unknown verbs get 500 5.5.2, known-but-unimplemented ones 502 5.5.1, empty lines 500."""
    session = Session()
    session.take()
    assert session.send(b"FROB\r\n") == b"500 5.5.2 Syntax error, command unrecognized\r\n"
    assert session.send(b"EXPN staff\r\n") == b"502 5.5.1 EXPN not implemented\r\n"
    assert session.send(b"STARTTLS\r\n") == b"502 5.5.1 STARTTLS not implemented\r\n"
    assert session.send(b"\r\n") == b"500 5.5.2 Syntax error: empty command\r\n"


def test_command_line_too_long():
    """A command line over 1,000 octets: 500 5.5.2, and the next line is read normally."""
    session = Session()
    session.take()
    assert session.send(b"NOOP " + b"x" * 994 + b"\r\nNOOP\r\n") == (
        b"500 5.5.2 Line too long (at most 1000)\r\n250 2.0.0 OK\r\n"
    )
    assert session.send(b"NOOP " + b"x" * 993 + b"\r\n") == b"250 2.0.0 OK\r\n"


def test_command_not_utf8():
    """Undecodable bytes get 500 5.5.2, not an exception."""
    session = Session()
    session.take()
    assert session.send(b"HELO \xff\r\n") == (
        b"500 5.5.2 Syntax error: command line is not UTF-8\r\n"
    )


def test_http_request_is_hung_up_on():
    """A browser sent to the SMTP port gets 421 and the connection closes at once."""
    session = Session()
    session.take()
    assert session.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") == (
        b"421 4.7.0 This is an SMTP server, not a web server\r\n"
    )
    assert session.closed


# -- limits and timers ----------------------------------------------------------------


def test_ten_errors_close_the_session():
    """The tenth error reply is followed by 421 4.7.0 and the connection closes."""
    session = Session()
    session.take()
    for _ in range(9):
        assert session.send(b"FROB\r\n") == b"500 5.5.2 Syntax error, command unrecognized\r\n"
    assert not session.closed
    assert session.send(b"DATA\r\nNOOP\r\n") == (
        b"503 5.5.1 Error: need MAIL command\r\n"
        b"421 4.7.0 mx.example.test Error: too many errors\r\n"
    )
    assert session.closed


def test_refused_recipients_count_as_errors():
    """Guessing addresses costs errors too: ten unknown users end the session."""
    session = in_transaction()
    for i in range(9):
        session.send(f"RCPT TO:<guess{i}@example.test>\r\n".encode())
    assert session.send(b"RCPT TO:<guess9@example.test>\r\n") == (
        b"550 5.1.1 <guess9@example.test>: User unknown\r\n"
        b"421 4.7.0 mx.example.test Error: too many errors\r\n"
    )
    assert session.closed


def test_idle_timeout():
    """Five minutes of silence: 421 4.4.2 and close; a complete command restarts the count."""
    session = greeted()
    session.clock.advance(299)
    session.send(b"NOOP\r\n")
    session.take()
    session.clock.advance(299)
    assert session.take() == b""
    assert not session.closed
    session.clock.advance(1)
    assert session.take() == b"421 4.4.2 mx.example.test Error: timeout exceeded\r\n"
    assert session.closed
    assert session.clock.get_delayed_calls() == []


def test_idle_timeout_before_hello():
    """The timer runs from the greeting."""
    session = Session()
    session.take()
    session.clock.advance(300)
    assert session.take() == b"421 4.4.2 mx.example.test Error: timeout exceeded\r\n"


def test_no_timeout_while_the_backend_works():
    """The client waiting for a slow commit is not idle; the timer restarts after the reply."""
    backend = FakeBackend()
    session = in_transaction(backend)
    session.send(b"RCPT TO:<alice@example.test>\r\nDATA\r\n")
    backend.hold = True
    session.send(b"x\r\n.\r\n")
    session.clock.advance(1000)
    assert not session.closed
    backend.release()
    assert session.take() == b"250 2.0.0 OK: queued as 6553F100.1\r\n"
    session.clock.advance(299)
    assert not session.closed
    session.clock.advance(1)
    assert session.closed


def test_timers_are_cancelled_when_the_connection_drops():
    """A dropped connection leaves no timer behind."""
    session = greeted()
    session.transport.abort_connection()
    assert session.clock.get_delayed_calls() == []


def test_connection_lost_while_delivering():
    """The commit still finishes; its reply goes nowhere and nothing raises."""
    backend = FakeBackend()
    session = in_transaction(backend)
    session.send(b"RCPT TO:<alice@example.test>\r\nDATA\r\n")
    backend.hold = True
    session.send(b"x\r\n.\r\n")
    session.transport.abort_connection()
    backend.release()
    assert len(backend.delivered) == 1
    assert session.take() == b""


# -- pipelining and flow control -----------------------------------------------------


PIPELINED = (
    b"EHLO client.example\r\n"
    b"MAIL FROM:<a@b.example>\r\n"
    b"RCPT TO:<alice@example.test>\r\n"
    b"RCPT TO:<nobody@example.test>\r\n"
    b"RCPT TO:<bob@elsewhere.example>\r\n"
    b"RCPT TO:<bob@example.test>\r\n"
    b"DATA\r\n"
    b"Subject: pipelined\r\n\r\n..x\r\n.\r\n"
    b"MAIL FROM:<>\r\n"
    b"RCPT TO:<nobody@example.test>\r\n"
    b"DATA\r\n"
    b"NOOP\r\n"
    b"QUIT\r\n"
)
PIPELINED_REPLIES = (
    EHLO_REPLY + b"250 2.1.0 Sender <a@b.example> OK\r\n"
    b"250 2.1.5 <alice@example.test>: Recipient OK\r\n"
    b"550 5.1.1 <nobody@example.test>: User unknown\r\n"
    b"550 5.7.1 <bob@elsewhere.example>: Relay access denied\r\n"
    b"250 2.1.5 <bob@example.test>: Recipient OK\r\n"
    b"354 End data with <CR><LF>.<CR><LF>\r\n"
    b"250 2.0.0 OK: queued as 6553F100.1\r\n"
    b"250 2.1.0 Sender <> OK\r\n"
    b"550 5.1.1 <nobody@example.test>: User unknown\r\n"
    b"554 5.5.1 Error: no valid recipients\r\n"
    b"250 2.0.0 OK\r\n"
    b"221 2.0.0 mx.example.test closing connection\r\n"
)


def test_pipelined_replies_wait_for_a_pending_check():
    """While a recipient check is pending nothing after it is answered (Twisted #8126)."""
    backend = FakeBackend(hold=True)
    session = Session(backend)
    session.take()
    assert session.send(PIPELINED) == EHLO_REPLY + b"250 2.1.0 Sender <a@b.example> OK\r\n"
    assert backend.checked == ["alice@example.test"]  # the next ones were not even read yet
    backend.release()
    assert session.take() == b"250 2.1.5 <alice@example.test>: Recipient OK\r\n"
    backend.release_all()
    while backend.pending:
        backend.release_all()
    replies = session.take()
    assert GREETING + EHLO_REPLY + b"250 2.1.0 Sender <a@b.example> OK\r\n" + (
        b"250 2.1.5 <alice@example.test>: Recipient OK\r\n"
    ) + replies == GREETING + PIPELINED_REPLIES
    assert session.closed


def test_pipelined_stream_in_one_piece():
    """The whole pipelined session at once, with an immediate backend, in order."""
    session = Session()
    assert session.take() == GREETING
    assert session.send(PIPELINED) == PIPELINED_REPLIES
    assert session.backend.delivered[0].rcpt_to == ["alice@example.test", "bob@example.test"]
    assert session.backend.delivered[0].data.endswith(b"Subject: pipelined\r\n\r\n.x\r\n")


def drive(chunks: list[bytes], delays: list[int]) -> tuple[bytes, list[bytes]]:
    """Run PIPELINED through a server whose answers come after the given fake delays."""
    delays_iter = iter(delays)
    session_box: list[Session] = []

    class Slow(FakeBackend):
        def _answer(self, compute):
            delay = next(delays_iter, 0)
            if delay == 0:
                return super()._answer(compute)
            d: Deferred = Deferred()

            def fire():
                try:
                    d.callback(compute())
                except Exception as exc:
                    d.errback(exc)

            session_box[0].clock.call_later(delay, fire)
            return d

    backend = Slow()
    session = Session.__new__(Session)
    session_box.append(session)
    Session.__init__(session, backend)
    out = session.take()
    for chunk in chunks:
        out += session.send(chunk)
        session.clock.advance(1)
        out += session.take()
    for _ in range(100):
        session.clock.advance(5)
    out += session.take()
    return out, [e.data for e in backend.delivered]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(min_value=1, max_value=len(PIPELINED) - 1), max_size=30),
    st.lists(st.integers(min_value=0, max_value=3), max_size=12),
)
def test_any_split_and_any_backend_timing_give_the_same_replies(cuts, delays):
    """However TCP splits a pipelined stream and however slowly the backend answers,
    the client reads the same replies in the same order, and the same mail is stored."""
    points = sorted(set(cuts))
    chunks = [PIPELINED[a:b] for a, b in zip([0, *points], [*points, len(PIPELINED)], strict=True)]
    out, delivered = drive(chunks, delays)
    assert out == GREETING + PIPELINED_REPLIES
    assert delivered == drive([PIPELINED], [])[1]


def test_reading_pauses_while_too_much_input_waits():
    """Past max_buffered unprocessed bytes the transport stops reading; it resumes after."""
    backend = FakeBackend(hold=True)
    settings_ = SMTPSettings(hostname=HOST, max_buffered=100)
    session = in_transaction(backend, settings=settings_)
    session.send(b"RCPT TO:<alice@example.test>\r\n")
    session.send(b"NOOP\r\n" * 10)
    assert not session.transport.reading_paused
    session.send(b"NOOP\r\n" * 10)
    assert session.transport.reading_paused
    backend.release()
    assert not session.transport.reading_paused
    assert session.take() == b"250 2.1.5 <alice@example.test>: Recipient OK\r\n" + (
        b"250 2.0.0 OK\r\n" * 20
    )


def test_pause_writing_stops_replies_until_resumed():
    """When the client does not read its replies, the server stops producing them."""
    session = greeted()
    session.protocol.pause_writing()
    assert session.send(b"NOOP\r\n" * 3) == b""
    session.protocol.resume_writing()
    assert session.take() == b"250 2.0.0 OK\r\n" * 3


def test_default_settings_follow_the_issue():
    """1 MiB, 100 recipients, 1,000-byte lines, 5 minutes idle, ten errors."""
    s = SMTPSettings()
    assert (s.max_message_size, s.max_recipients, s.max_line_length) == (1 << 20, 100, 1000)
    assert (s.idle_timeout, s.max_errors) == (300, 10)


def test_unusable_verdict_is_a_temporary_failure():
    """A verdict the server cannot use (code not a number) gives 451 and the session goes on."""

    class Sloppy(FakeBackend):
        def check_recipient(self, address):
            return RecipientVerdict("250", "2.1.5", "OK")

    session = in_transaction(Sloppy())
    assert session.send(b"RCPT TO:<alice@example.test>\r\nNOOP\r\n") == (
        b"451 4.3.0 Temporary failure checking recipient, try again later\r\n250 2.0.0 OK\r\n"
    )


FUZZ_WORDS = [
    b"EHLO x", b"HELO x", b"MAIL FROM:<a@b.example>", b"MAIL FROM:<>",
    b"RCPT TO:<alice@example.test>", b"RCPT TO:<x@y.example>", b"DATA", b".", b"..",
    b"RSET", b"NOOP", b"VRFY a", b"HELP", b"QUIT",
    b"MAIL FROM:<a@b.example> SIZE=99999999", b"\xff\xfe", b"x" * 1200, b"", b"GET /",
]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(FUZZ_WORDS).map(lambda w: w + b"\r\n"),
            st.binary(max_size=40),
        ),
        max_size=40,
    ),
    st.booleans(),
)
def test_arbitrary_input_never_raises(pieces, hold):
    """Whatever a client sends, in any order, the server answers or closes; nothing raises."""
    backend = FakeBackend(hold=hold)
    session = Session(backend)
    for piece in pieces:
        session.protocol.data_received(piece)
        if backend.pending:
            backend.release()
    backend.release_all()
    session.clock.advance(1000)
    out = session.take()
    assert out.startswith(GREETING)
    assert session.closed  # idle timeout at the latest
    assert out.endswith(b"\r\n")


# -- SMTPUTF8 (RFC 6531) ----------------------------------------------------------------------


def test_smtputf8_transaction_takes_utf8_addresses_and_headers():
    """MAIL ... SMTPUTF8: UTF-8 sender and recipient, raw UTF-8 header bytes, a UTF8SMTP trace."""
    backend = FakeBackend(users=("jürgen",))
    session = greeted(backend)
    assert session.send("MAIL FROM:<élodie@b.example> SMTPUTF8\r\n".encode()) == (
        "250 2.1.0 Sender <élodie@b.example> OK\r\n".encode()
    )
    assert session.send("RCPT TO:<jürgen@example.test>\r\n".encode()).startswith(b"250 2.1.5")
    session.send(b"DATA\r\n")
    session.send("Subject: Hello été\r\n\r\nbody\r\n.\r\n".encode())
    (envelope,) = backend.delivered
    assert envelope.smtputf8 and envelope.mail_from == "élodie@b.example"
    assert b"with UTF8SMTP id" in envelope.data
    assert "for <jürgen@example.test>".encode() in envelope.data
    assert "Subject: Hello été\r\n".encode() in envelope.data
    # The next transaction is plain again: a UTF-8 recipient needs SMTPUTF8 once more.
    session.send(b"MAIL FROM:<a@b.example>\r\n")
    assert session.send("RCPT TO:<jürgen@example.test>\r\n".encode()) == (
        b"553 5.6.7 Non-ASCII address without SMTPUTF8\r\n"
    )


def test_utf8_addresses_are_still_checked():
    """SMTPUTF8 widens the characters, not the syntax: a bare word or two @ stay errors."""
    session = greeted()
    session.send(b"MAIL FROM:<a@b.example> SMTPUTF8\r\n")
    for bad in ("<jürgen>", "<jü@rg@en.example>", "<jürgen@.example>"):
        reply = session.send(f"RCPT TO:{bad}\r\n".encode())
        assert reply.startswith(b"501 5.1.3"), (bad, reply)
