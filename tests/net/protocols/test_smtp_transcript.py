"""The SMTP session state machine alone: byte-exact transcripts, no socket, no clock.

Each transcript is a table of what the client sends (a line, or the
backend's answer to the session's last request) and exactly what the
session gives back: reply bytes, with its requests and its hang-up shown
as ``[check ADDRESS]``, ``[deliver ID]`` and ``[close]``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from reality.net.protocol import Address
from reality.net.protocols.basic import Close
from reality.net.protocols.smtp import (
    ACCEPT,
    RELAY_DENIED,
    UNKNOWN_USER,
    CheckRecipient,
    Deliver,
    DeliveryError,
    Reply,
    SMTPSession,
    SMTPSettings,
)

HOST = "mx.example.test"
WALL = 1_700_000_000.0  # Tue, 14 Nov 2023 22:13:20 +0000
SETTINGS = SMTPSettings(hostname=HOST, max_message_size=2000, wall_clock=lambda: WALL)
EHLO = (
    b"250-mx.example.test\r\n250-SIZE 2000\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
    b"250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250 HELP\r\n"
)

Step = tuple[bytes | Callable[[SMTPSession], Sequence[object]], bytes]


def render(actions: Sequence[object]) -> bytes:
    out = []
    for action in actions:
        if isinstance(action, Reply):
            out.append(action.to_bytes())
        elif isinstance(action, CheckRecipient):
            out.append(b"[check " + action.address.encode() + b"]")
        elif isinstance(action, Deliver):
            out.append(b"[deliver " + action.envelope.id.encode() + b"]")
        else:
            assert isinstance(action, Close)
            out.append(b"[close]")
    return b"".join(out)


def play(steps: Sequence[Step], session: SMTPSession | None = None) -> SMTPSession:
    """Run a transcript, asserting each answer byte for byte."""
    if session is None:
        ids = iter(f"ID{n}" for n in range(1, 100))
        session = SMTPSession(SETTINGS, lambda: next(ids), Address("TCP", "192.0.2.7", 4000))
    assert render(session.greeting()) == b"220 mx.example.test ESMTP Reality\r\n"
    for number, (given, expected) in enumerate(steps):
        actions = session.receive_line(given) if isinstance(given, bytes) else given(session)
        assert render(actions) == expected, f"step {number}: {given!r}"
    return session


def verdict(answer: object) -> Callable[[SMTPSession], Sequence[object]]:
    return lambda session: session.recipient_checked(answer)


def delivered(session: SMTPSession) -> Sequence[object]:
    return session.delivered()


def test_a_whole_session_ehlo_mail_rcpt_data_rset_noop_vrfy_help_quit():
    """EHLO, a transaction with SIZE and BODY=8BITMIME, dot-unstuffed data, then the rest."""
    session = play([
        (b"EHLO client.example", EHLO),
        (b"MAIL FROM:<a@b.example> SIZE=100 BODY=8BITMIME",
         b"250 2.1.0 Sender <a@b.example> OK\r\n"),
        (b"RCPT TO:<alice@example.test>", b"[check alice@example.test]"),
        (verdict(ACCEPT), b"250 2.1.5 <alice@example.test>: Recipient OK\r\n"),
        (b"RCPT TO:<nobody@example.test>", b"[check nobody@example.test]"),
        (verdict(UNKNOWN_USER), b"550 5.1.1 <nobody@example.test>: User unknown\r\n"),
        (b"RCPT TO:<x@elsewhere.example>", b"[check x@elsewhere.example]"),
        (verdict(RELAY_DENIED), b"550 5.7.1 <x@elsewhere.example>: Relay access denied\r\n"),
        (b"DATA", b"354 End data with <CR><LF>.<CR><LF>\r\n"),
        (b"Subject: hi", b""),
        (b"", b""),
        (b"..dotted", b""),
        (b".", b"[deliver ID1]"),
        (delivered, b"250 2.0.0 OK: queued as ID1\r\n"),
        (b"RSET", b"250 2.0.0 OK\r\n"),
        (b"NOOP anything", b"250 2.0.0 OK\r\n"),
        (b"VRFY alice",
         b"252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery\r\n"),
        (b"HELP", b"214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP\r\n"),
        (b"QUIT", b"221 2.0.0 mx.example.test closing connection\r\n[close]"),
        (b"NOOP", b""),  # nothing is read after the goodbye
    ])
    assert session.closed
    assert session.errors == 2  # the two refused recipients


def test_the_message_as_delivered_has_the_trace_header_and_is_unstuffed():
    """The Deliver request carries the envelope: Received first, the data unstuffed."""
    session = play([
        (b"HELO client.example", b"250 mx.example.test\r\n"),
        (b"MAIL FROM:<>", b"250 2.1.0 Sender <> OK\r\n"),
        (b"RCPT TO:<alice@example.test>", b"[check alice@example.test]"),
        (verdict(ACCEPT), b"250 2.1.5 <alice@example.test>: Recipient OK\r\n"),
        (b"DATA", b"354 End data with <CR><LF>.<CR><LF>\r\n"),
    ])
    actions = session.receive(b"Subject: x\r\n\r\n..hidden\r\n.\r\n")
    assert len(actions) == 1 and isinstance(actions[0], Deliver)
    envelope = actions[0].envelope
    assert (envelope.mail_from, envelope.rcpt_to, envelope.helo, envelope.id) == (
        "", ["alice@example.test"], "client.example", "ID1"
    )
    assert envelope.data == (
        b"Received: from client.example ([192.0.2.7])\r\n"
        b"\tby mx.example.test (Reality) with SMTP id ID1\r\n"
        b"\tfor <alice@example.test>;\r\n"
        b"\tTue, 14 Nov 2023 22:13:20 +0000\r\n"
        b"Subject: x\r\n\r\n.hidden\r\n"
    )
    assert session.waiting and session.receive(b"NOOP\r\n") == []  # held until answered
    assert render(session.delivered()) == b"250 2.0.0 OK: queued as ID1\r\n"
    assert render(session.receive(b"")) == b"250 2.0.0 OK\r\n"  # the NOOP, now


def test_smtputf8_transaction():
    """MAIL ... SMTPUTF8 allows UTF-8 addresses (RFC 6531); without it they are refused."""
    play([
        (b"EHLO client.example", EHLO),
        ("MAIL FROM:<jos\u00e9@b.example>".encode(),
         b"553 5.6.7 Non-ASCII address without SMTPUTF8\r\n"),
        ("MAIL FROM:<jos\u00e9@b.example> SMTPUTF8".encode(),
         "250 2.1.0 Sender <jos\u00e9@b.example> OK\r\n".encode()),
        ("RCPT TO:<\u00e5sa@example.test>".encode(), "[check \u00e5sa@example.test]".encode()),
        (verdict(ACCEPT), "250 2.1.5 <\u00e5sa@example.test>: Recipient OK\r\n".encode()),
    ])


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        (b"MAIL FROM:<a@b.example> SIZE=2001",
         b"552 5.3.4 Message size exceeds fixed maximum message size\r\n"),
        (b"MAIL FROM:<a@b.example> SIZE=x", b"501 5.5.4 Syntax: SIZE=<number>\r\n"),
        (b"MAIL FROM:<a@b.example> BODY=BINARYMIME",
         b"501 5.5.4 Syntax: BODY=7BIT or BODY=8BITMIME\r\n"),
        (b"MAIL FROM:<a@b.example> SMTPUTF8=yes", b"501 5.5.4 Syntax: SMTPUTF8 takes no value\r\n"),
        (b"MAIL FROM:<a@b.example> AUTH=<>", b"555 5.5.4 Unsupported parameter AUTH\r\n"),
        (b"MAIL FROM:<a@b.example> =1", b"501 5.5.4 Syntax error in parameters\r\n"),
        (b"MAIL FROM:<not an address>", b"501 5.1.7 Bad sender address syntax\r\n"),
        (b"MAIL FROM:<a@b.example", b"501 5.5.4 Syntax: MAIL FROM:<address>\r\n"),
        (b"MAIL TO:<a@b.example>", b"501 5.5.4 Syntax: MAIL FROM:<address>\r\n"),
        (b"RCPT TO:<alice@example.test>", b"503 5.5.1 Error: need MAIL command\r\n"),
        (b"DATA", b"503 5.5.1 Error: need MAIL command\r\n"),
        (b"DATA now", b"501 5.5.4 Syntax: DATA (no parameters)\r\n"),
        (b"RSET now", b"501 5.5.4 Syntax: RSET (no parameters)\r\n"),
        (b"QUIT now", b"501 5.5.4 Syntax: QUIT (no parameters)\r\n"),
        (b"VRFY", b"501 5.5.4 Syntax: VRFY address\r\n"),
        (b"EHLO", b"501 5.5.4 Syntax: EHLO hostname\r\n"),
        (b"EXPN staff", b"502 5.5.1 EXPN not implemented\r\n"),
        (b"STARTTLS", b"502 5.5.1 STARTTLS not implemented\r\n"),
        (b"", b"500 5.5.2 Syntax error: empty command\r\n"),
        (b"FROB", b"500 5.5.2 Syntax error, command unrecognized\r\n"),
        (b"\xff", b"500 5.5.2 Syntax error: command line is not UTF-8\r\n"),
        (b"X" * 1000, b"500 5.5.2 Line too long (at most 1000)\r\n"),
        (b"GET / HTTP/1.1", b"421 4.7.0 This is an SMTP server, not a web server\r\n[close]"),
    ],
)
def test_error_replies_after_ehlo(line, reply):
    """Every refusal, byte for byte (RFC 5321 4.2.2 codes, RFC 3463 statuses)."""
    play([(b"EHLO client.example", EHLO), (line, reply)])


def test_commands_before_hello_and_parameters_without_ehlo():
    """MAIL needs a hello (503); parameters need EHLO, not HELO (555)."""
    play([
        (b"MAIL FROM:<a@b.example>", b"503 5.5.1 Error: send HELO/EHLO first\r\n"),
        (b"HELO client.example", b"250 mx.example.test\r\n"),
        (b"MAIL FROM:<a@b.example> SIZE=10", b"555 5.5.4 Parameters need EHLO\r\n"),
        (b"MAIL FROM:<a@b.example>", b"250 2.1.0 Sender <a@b.example> OK\r\n"),
        (b"MAIL FROM:<a@b.example>", b"503 5.5.1 Error: nested MAIL command\r\n"),
        (b"RCPT TO:<alice@example.test> NOTIFY=NEVER",
         b"555 5.5.4 RCPT TO parameters not supported\r\n"),
        (b"RCPT TO:<>", b"501 5.1.3 Bad recipient address syntax\r\n"),
        (b"DATA", b"503 5.5.1 Error: need RCPT command\r\n"),
        (b"RCPT TO:<bob@example.test>", b"[check bob@example.test]"),
        (verdict(UNKNOWN_USER), b"550 5.1.1 <bob@example.test>: User unknown\r\n"),
        (b"DATA", b"554 5.5.1 Error: no valid recipients\r\n"),
        (b"EHLO again.example", EHLO),  # RFC 5321 4.1.4: like RSET
        (b"RCPT TO:<alice@example.test>", b"503 5.5.1 Error: need MAIL command\r\n"),
    ])


def test_the_tenth_negative_reply_hangs_up():
    """Ten negative replies in a session: 421 4.7.0 and the session closes."""
    steps: list[Step] = [(b"FROB", b"500 5.5.2 Syntax error, command unrecognized\r\n")] * 9
    steps.append((
        b"FROB",
        b"500 5.5.2 Syntax error, command unrecognized\r\n"
        b"421 4.7.0 mx.example.test Error: too many errors\r\n[close]",
    ))
    session = play(steps)
    assert session.closed and session.errors == 10


def test_backend_answers_that_fail():
    """A failed check or a delivery that fails: 451 4.3.0; a DeliveryError its own reply."""
    play([
        (b"EHLO client.example", EHLO),
        (b"MAIL FROM:<a@b.example>", b"250 2.1.0 Sender <a@b.example> OK\r\n"),
        (b"RCPT TO:<alice@example.test>", b"[check alice@example.test]"),
        (lambda s: s.recipient_check_failed(),
         b"451 4.3.0 Temporary failure checking recipient, try again later\r\n"),
        (b"RCPT TO:<alice@example.test>", b"[check alice@example.test]"),
        (verdict("yes"), b"451 4.3.0 Temporary failure checking recipient\r\n"),
        (b"RCPT TO:<alice@example.test>", b"[check alice@example.test]"),
        (verdict(ACCEPT), b"250 2.1.5 <alice@example.test>: Recipient OK\r\n"),
        (b"DATA", b"354 End data with <CR><LF>.<CR><LF>\r\n"),
        (b".", b"[deliver ID1]"),
        (lambda s: s.delivery_failed(OSError("disk")),
         b"451 4.3.0 Temporary failure, message not accepted; try again later\r\n"),
        (b"MAIL FROM:<a@b.example>", b"250 2.1.0 Sender <a@b.example> OK\r\n"),
        (b"RCPT TO:<alice@example.test>", b"[check alice@example.test]"),
        (verdict(ACCEPT), b"250 2.1.5 <alice@example.test>: Recipient OK\r\n"),
        (b"DATA", b"354 End data with <CR><LF>.<CR><LF>\r\n"),
        (b".", b"[deliver ID2]"),
        (lambda s: s.delivery_failed(DeliveryError(552, "5.2.2", "Mailbox full")),
         b"552 5.2.2 Mailbox full\r\n"),
    ])


def test_oversized_message_and_message_line():
    """Data over SIZE: 552 5.3.4; a data line over 1,000 octets: 500 5.5.2; nothing delivered."""
    session = play([
        (b"EHLO client.example", EHLO),
        (b"MAIL FROM:<a@b.example>", b"250 2.1.0 Sender <a@b.example> OK\r\n"),
        (b"RCPT TO:<alice@example.test>", b"[check alice@example.test]"),
        (verdict(ACCEPT), b"250 2.1.5 <alice@example.test>: Recipient OK\r\n"),
        (b"DATA", b"354 End data with <CR><LF>.<CR><LF>\r\n"),
    ])
    assert render(session.receive(b"x" * 900 + b"\r\n")) == b""
    assert render(session.receive(b"x" * 900 + b"\r\n" + b"x" * 900 + b"\r\n.\r\n")) == (
        b"552 5.3.4 Message too big for this system\r\n"
    )
    assert session.mail_from is None  # the transaction is over
    play([
        (b"MAIL FROM:<a@b.example>", b"250 2.1.0 Sender <a@b.example> OK\r\n"),
        (b"RCPT TO:<alice@example.test>", b"[check alice@example.test]"),
        (verdict(ACCEPT), b"250 2.1.5 <alice@example.test>: Recipient OK\r\n"),
        (b"DATA", b"354 End data with <CR><LF>.<CR><LF>\r\n"),
        (b"y" * 1001, b""),
        (b".", b"500 5.5.2 Message has a line longer than 1000 bytes\r\n"),
    ], session)


def test_timeouts_say_why_and_close():
    """The adapter's timers ask the session for the goodbye: 421 4.4.2, then close."""
    for reason, text in [
        ("idle", b"timeout exceeded"),
        ("partial-command", b"command line not completed in time"),
        ("data-deadline", b"message data not completed in time"),
        ("session", b"session too long, closing"),
    ]:
        session = SMTPSession(SETTINGS)
        assert render(session.timed_out(reason)) == (
            b"421 4.4.2 mx.example.test Error: " + text + b"\r\n[close]"
        )
        assert session.closed
