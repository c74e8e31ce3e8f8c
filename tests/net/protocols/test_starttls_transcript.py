"""SMTP STARTTLS (RFC 3207) and POP3 STLS (RFC 2595) in the sans-IO sessions, byte for byte.

No socket, no TLS: the session's :class:`StartTLS` action is shown as
``[starttls]``; what the session does after it is what it would do over
the encrypted connection. The plaintext-injection case (the command and
more bytes in one segment) is refused and the connection closed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import pytest

from reality.net.protocol import Address
from reality.net.protocols.basic import Close
from reality.net.protocols.pop3 import Authenticate, POP3Session, POP3Settings
from reality.net.protocols.smtp import Reply, SMTPSession, SMTPSettings
from reality.net.protocols.starttls import (
    LOOPBACK,
    StartTLS,
    address_in,
    parse_network,
)

HOST = "mx.example.test"
SMTP_TLS = SMTPSettings(hostname=HOST, max_message_size=2000, starttls=True)
EHLO_BASE = (
    b"250-mx.example.test\r\n250-SIZE 2000\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
    b"250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n"
)
EHLO_WITH_STARTTLS = EHLO_BASE + b"250-STARTTLS\r\n250 HELP\r\n"
EHLO_AFTER_TLS = EHLO_BASE + b"250 HELP\r\n"
REMOTE = Address("TCP", "192.0.2.7", 40000)
LOCAL = Address("TCP", "127.0.0.1", 40000)


def render(actions: Sequence[object]) -> bytes:
    out = []
    for action in actions:
        if isinstance(action, Reply):
            out.append(action.to_bytes())
        elif isinstance(action, bytes):
            out.append(action)
        elif isinstance(action, StartTLS):
            out.append(b"[starttls]")
        elif isinstance(action, Authenticate):
            out.append(f"[auth {action.user} {action.password}]".encode())
        else:
            assert isinstance(action, Close), action
            out.append(b"[close]")
    return b"".join(out)


def smtp(settings: SMTPSettings = SMTP_TLS) -> SMTPSession:
    session = SMTPSession(settings, peer=REMOTE)
    session.greeting()
    return session


def say(session: SMTPSession | POP3Session, data: bytes) -> bytes:
    return render(session.receive(data))


# -- SMTP --------------------------------------------------------------------------


def test_smtp_ehlo_offers_starttls_then_upgrade_resets_the_session():
    """EHLO lists STARTTLS; 220 and the action; then EHLO is required again, without STARTTLS."""
    session = smtp()
    assert say(session, b"EHLO client.example\r\n") == EHLO_WITH_STARTTLS
    assert say(session, b"MAIL FROM:<a@b.example>\r\n") == b"250 2.1.0 Sender <a@b.example> OK\r\n"
    assert say(session, b"STARTTLS\r\n") == b"220 2.0.0 Ready to start TLS\r\n[starttls]"
    assert session.tls and session.helo is None and session.mail_from is None
    # RFC 3207 4.2: the client's earlier EHLO and transaction are forgotten.
    assert say(session, b"MAIL FROM:<a@b.example>\r\n") == (
        b"503 5.5.1 Error: send HELO/EHLO first\r\n"
    )
    assert say(session, b"EHLO client.example\r\n") == EHLO_AFTER_TLS
    assert say(session, b"STARTTLS\r\n") == b"503 5.5.1 Error: TLS already active\r\n"
    assert say(session, b"HELP\r\n") == (
        b"214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP\r\n"
    )


def test_smtp_starttls_before_ehlo_is_allowed():
    """RFC 3207 does not require EHLO before STARTTLS (swaks and some clients skip it)."""
    session = smtp()
    assert say(session, b"STARTTLS\r\n") == b"220 2.0.0 Ready to start TLS\r\n[starttls]"


def test_smtp_help_lists_starttls_while_offered():
    """HELP names STARTTLS while it is on offer."""
    session = smtp()
    assert say(session, b"HELP\r\n") == (
        b"214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP STARTTLS\r\n"
    )


def test_smtp_starttls_without_tls_is_454_and_not_advertised():
    """Without a certificate STARTTLS is not listed and answers 454 4.7.0 (RFC 3207 4)."""
    session = smtp(SMTPSettings(hostname=HOST, max_message_size=2000))
    assert say(session, b"EHLO client.example\r\n") == EHLO_AFTER_TLS
    assert say(session, b"STARTTLS\r\n") == b"454 4.7.0 TLS not available\r\n"
    assert not session.tls


def test_smtp_starttls_with_a_parameter_is_501():
    """STARTTLS takes no parameters (RFC 3207 4): 501."""
    session = smtp()
    assert say(session, b"STARTTLS now\r\n") == b"501 5.5.4 Syntax: STARTTLS (no parameters)\r\n"


@pytest.mark.parametrize(
    "after",
    [
        b"RCPT TO:<postmaster@mx.example.test>\r\n",
        b"\x16\x03\x01\x00",  # a ClientHello sent without waiting for the 220
        b"x",
    ],
)
def test_smtp_plaintext_pipelined_after_starttls_is_refused(after):
    """The STARTTLS injection flaw: anything after STARTTLS in the buffer: 554 and close, no TLS."""
    session = smtp()
    say(session, b"EHLO client.example\r\n")
    assert say(session, b"STARTTLS\r\n" + after) == (
        b"554 5.5.1 Error: data after STARTTLS before the TLS handshake; goodbye\r\n[close]"
    )
    assert not session.tls and session.closed


# -- POP3 --------------------------------------------------------------------------

POP3_TLS = POP3Settings(hostname="pop.example.test", tls=True)
CAPA_PLAIN_REMOTE = (
    b"+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
    b"PIPELINING\r\nSTLS\r\nIMPLEMENTATION Reality\r\n.\r\n"
)
CAPA_PLAIN_LOCAL = (
    b"+OK Capability list follows\r\nTOP\r\nUSER\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
    b"PIPELINING\r\nSTLS\r\nIMPLEMENTATION Reality\r\n.\r\n"
)
CAPA_SECURE = (
    b"+OK Capability list follows\r\nTOP\r\nUSER\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
    b"PIPELINING\r\nIMPLEMENTATION Reality\r\n.\r\n"
)
REFUSED = (
    b"-ERR [AUTH] Plaintext authentication disallowed on non-secure connections:"
    b" use STLS or POP3S\r\n"
)


def pop3(settings: POP3Settings = POP3_TLS, peer: Address = REMOTE) -> POP3Session:
    session = POP3Session(settings, peer=peer)
    session.greeting()
    return session


def test_pop3_plain_remote_capa_has_stls_not_user_and_user_pass_refused():
    """TLS configured, remote plain client: CAPA lists STLS not USER; USER/PASS -ERR [AUTH]."""
    session = pop3()
    assert say(session, b"CAPA\r\n") == CAPA_PLAIN_REMOTE
    assert say(session, b"USER alice\r\n") == REFUSED
    assert say(session, b"PASS secret\r\n") == REFUSED
    assert session.user is None


def test_pop3_stls_then_login():
    """STLS: +OK and the action; after it CAPA lists USER but not STLS, and USER/PASS work."""
    session = pop3()
    assert say(session, b"STLS\r\n") == b"+OK Begin TLS negotiation\r\n[starttls]"
    assert session.tls
    assert say(session, b"CAPA\r\n") == CAPA_SECURE
    assert say(session, b"STLS\r\n") == b"-ERR Command not permitted when TLS active\r\n"
    assert say(session, b"USER alice\r\n") == b"+OK Send PASS\r\n"
    assert say(session, b"PASS secret\r\n") == b"[auth alice secret]"


def test_pop3_stls_forgets_the_user_given_in_the_clear():
    """RFC 2595 4: what the client said before STLS is discarded (a trusted peer's USER)."""
    session = pop3(peer=LOCAL)
    assert say(session, b"USER alice\r\n") == b"+OK Send PASS\r\n"
    assert say(session, b"STLS\r\n") == b"+OK Begin TLS negotiation\r\n[starttls]"
    assert say(session, b"PASS secret\r\n") == b"-ERR Send USER first\r\n"


def test_pop3_loopback_may_log_in_in_the_clear():
    """From --plaintext-auth-from (default: loopback) USER/PASS work in the clear; CAPA has both."""
    session = pop3(peer=LOCAL)
    assert say(session, b"CAPA\r\n") == CAPA_PLAIN_LOCAL
    assert say(session, b"USER alice\r\nPASS pw\r\n") == b"+OK Send PASS\r\n[auth alice pw]"


def test_pop3_plaintext_auth_from_a_configured_network():
    """A --plaintext-auth-from network other than loopback; loopback then no longer trusted."""
    settings = POP3Settings(
        hostname="pop.example.test", tls=True, plaintext_auth_from=(parse_network("192.0.2.0/24"),)
    )
    assert say(pop3(settings, REMOTE), b"USER alice\r\n") == b"+OK Send PASS\r\n"
    assert say(pop3(settings, LOCAL), b"USER alice\r\n") == REFUSED


def test_pop3_without_tls_configured_is_as_before():
    """No certificate: no STLS, passwords accepted from anywhere, STLS answers -ERR."""
    session = pop3(POP3Settings(hostname="pop.example.test"))
    assert say(session, b"CAPA\r\n") == CAPA_SECURE
    assert say(session, b"STLS\r\n") == b"-ERR TLS not available\r\n"
    assert say(session, b"USER alice\r\n") == b"+OK Send PASS\r\n"


def test_pop3s_session_secure_from_the_start():
    """A POP3S session (tls set by the adapter): no STLS offered, passwords accepted."""
    session = pop3()
    session.tls = True
    assert say(session, b"CAPA\r\n") == CAPA_SECURE
    assert say(session, b"USER alice\r\n") == b"+OK Send PASS\r\n"


def test_pop3_stls_not_valid_after_login():
    """RFC 2595 4: STLS only in the AUTHORIZATION state."""
    session = pop3(peer=LOCAL)
    say(session, b"USER alice\r\nPASS pw\r\n")
    session.logged_in([])
    assert say(session, b"STLS\r\n") == b"-ERR Command not valid in this state\r\n"


def test_pop3_plaintext_pipelined_after_stls_is_refused():
    """The injection case: STLS and a command in one segment: -ERR and close, no TLS."""
    session = pop3()
    assert say(session, b"STLS\r\nUSER alice\r\n") == (
        b"-ERR Commands sent after STLS before the TLS handshake; goodbye\r\n[close]"
    )
    assert not session.tls and session.closed


# -- the policy helpers ------------------------------------------------------------


def test_address_in_networks():
    """Loopback v4 and v6, IPv4-mapped IPv6, scoped addresses, and names never match."""
    assert address_in("127.0.0.1", LOOPBACK)
    assert address_in("127.9.9.9", LOOPBACK)
    assert address_in("::1", LOOPBACK)
    assert address_in("::ffff:127.0.0.1", LOOPBACK)
    assert not address_in("192.0.2.1", LOOPBACK)
    assert not address_in("localhost", LOOPBACK)
    assert not address_in(None, LOOPBACK)
    assert address_in("fe80::1%eth0", (ipaddress.ip_network("fe80::/10"),))


def test_parse_network_says_what_was_expected():
    """A bad --plaintext-auth-from value names itself and the expected form."""
    assert parse_network("10.0.0.0/8") == ipaddress.ip_network("10.0.0.0/8")
    assert parse_network("192.0.2.5") == ipaddress.ip_network("192.0.2.5/32")
    with pytest.raises(ValueError, match="'10.0.0.1/8' is not a network"):
        parse_network("10.0.0.1/8")
