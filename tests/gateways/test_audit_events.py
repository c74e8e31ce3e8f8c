"""Security events reach the audit log: logins, relays, refused connections, oversized input."""

from __future__ import annotations

import logging

import pytest
from test_mail_gateway import Harness as MailHarness
from test_telnet_gateway import Harness as TelnetHarness

from reality import audit as audit_module
from reality.game.store import Store
from reality.gateways.auth import Authenticator, ImmediateHasher, LoginFailed, LoginThrottled
from reality.net.protocol import Address
from reality.net.protocols.http import HTTPFactory, HTTPLimits, Response
from reality.net.testing import Clock, FakeConnection


@pytest.fixture(autouse=True)
def audit_log(monkeypatch, caplog):
    monkeypatch.setattr(audit_module, "_pace", {})
    caplog.set_level(logging.INFO, logger="reality.audit")
    return caplog


def events(caplog) -> list[dict[str, object]]:
    return [r.audit for r in caplog.records if r.name == "reality.audit"]


def outcome(d):
    box: list[object] = []
    d.add_both(box.append)
    return box[0]


# -- logins ----------------------------------------------------------------------------


def test_failed_locked_and_throttled_logins(audit_log):
    """Each failed login is a line (unknown names too); the lockout and refusals after it too."""
    store = Store(":memory:")
    auth = Authenticator(store, ImmediateHasher(), Clock(), max_failures=3)
    outcome(auth.create_account("Alice", "secret", "a"))
    for name in ("Alice", "Nobody", "Alice"):
        assert outcome(auth.authenticate(name, "wrong", "198.51.100.9")).check(LoginFailed)
    assert outcome(auth.authenticate("Alice", "secret", "198.51.100.9")).check(LoginThrottled)
    assert events(audit_log) == [
        {"event": "login.failed", "who": "Alice", "address": "198.51.100.9"},
        {"event": "login.failed", "who": "Nobody", "address": "198.51.100.9"},
        {"event": "login.failed", "who": "Alice", "address": "198.51.100.9"},
        {"event": "login.locked", "address": "198.51.100.9", "seconds": 300},
        {"event": "login.throttled", "who": "Alice", "address": "198.51.100.9"},
    ]
    store.close()


def test_a_good_login_leaves_nothing(audit_log):
    """Logging in with the right password is not a security event."""
    store = Store(":memory:")
    auth = Authenticator(store, ImmediateHasher(), Clock())
    outcome(auth.create_account("Alice", "secret", "a"))
    assert outcome(auth.authenticate("Alice", "secret", "a")).name == "Alice"
    assert events(audit_log) == []
    store.close()


# -- telnet ------------------------------------------------------------------------------


def test_telnet_refused_connection_and_long_line(audit_log):
    """A connection past max_per_address and a line over the limit are each one line."""
    h = TelnetHarness(max_per_address=1)
    session, transport = h.connect(host="203.0.113.1")
    h.connect(host="203.0.113.1")
    session.data_received(b"x" * 5000 + b"\r\n")
    assert events(audit_log) == [
        {"event": "connection.refused", "service": "telnet", "address": "203.0.113.1",
         "reason": "per-address"},
        {"event": "input.too_large", "service": "telnet", "address": "203.0.113.1",
         "what": "line", "size": 5000, "limit": 4096},
    ]  # fmt: skip
    h.store.close()


# -- mail --------------------------------------------------------------------------------


def test_smtp_relay_and_long_lines(audit_log):
    """RCPT to another domain (550 5.7.1), a long command line, a long message line."""
    h = MailHarness()
    conn = h.smtp(host="192.0.2.99")
    conn.send(b"EHLO x\r\nMAIL FROM:<spam@evil.example>\r\n")
    assert b"550 5.7.1" in conn.send(b"RCPT TO:<victim@elsewhere.example>\r\n")
    conn.send(b"RCPT TO:<alice@reality.test>\r\n")
    assert b"500 5.5.2" in conn.send(b"NOOP " + b"x" * 2000 + b"\r\n")
    conn.send(b"DATA\r\n")
    conn.send(b"Subject: x\r\n\r\n" + b"y" * 2000 + b"\r\n.\r\n")
    assert events(audit_log) == [
        {"event": "smtp.relay_refused", "who": "spam@evil.example", "address": "192.0.2.99",
         "target": "victim@elsewhere.example"},
        {"event": "input.too_large", "service": "smtp", "address": "192.0.2.99",
         "what": "line", "limit": 1000},
        {"event": "input.too_large", "service": "smtp", "address": "192.0.2.99",
         "what": "message line", "limit": 1000},
    ]  # fmt: skip
    h.store.close()


def test_unknown_local_user_is_not_a_relay(audit_log):
    """550 5.1.1 for an unknown player in our domain is not logged as a relay attempt."""
    h = MailHarness()
    conn = h.smtp()
    conn.send(b"EHLO x\r\nMAIL FROM:<a@b.example>\r\n")
    assert b"550 5.1.1" in conn.send(b"RCPT TO:<nobody@reality.test>\r\n")
    assert events(audit_log) == []
    h.store.close()


def test_mail_refused_connections_and_pop3_long_line(audit_log):
    """Past max_per_address on SMTP and POP3; a POP3 line over its limit."""
    h = MailHarness(max_per_address=1)
    pop = h.pop3(host="192.0.2.5")
    h.smtp(host="192.0.2.5")
    pop.send(b"USER " + b"x" * 300 + b"\r\n")
    got = events(audit_log)
    assert got[0] == {"event": "connection.refused", "service": "smtp", "address": "192.0.2.5",
                      "reason": "per-address"}  # fmt: skip
    assert got[1] == {"event": "input.too_large", "service": "pop3", "address": "192.0.2.5",
                      "what": "line", "limit": 255}  # fmt: skip
    h.pop3(host="192.0.2.5")
    assert events(audit_log)[-1]["service"] == "pop3"
    h.store.close()


# -- HTTP --------------------------------------------------------------------------------


def _http(**options):
    factory = HTTPFactory(lambda r: Response.text("hi"), Clock(), date_source=lambda: 0, **options)
    return FakeConnection(factory, Address("TCP", "198.51.100.3", 5000))


def test_http_431_413_and_refused(audit_log):
    """A too-large head (431), a too-large body (413) and a refused connection (503)."""
    limits = HTTPLimits(max_header_bytes=1000, max_body=100)
    assert b" 431 " in _http(limits=limits).send(
        b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 2000 + b"\r\n\r\n"
    )
    assert b" 413 " in _http(limits=limits).send(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n"
    )
    factory = HTTPFactory(lambda r: Response.text("hi"), Clock(), max_connections=1)
    FakeConnection(factory, Address("TCP", "198.51.100.3", 5001))
    FakeConnection(factory, Address("TCP", "198.51.100.3", 5002))
    got = events(audit_log)
    assert [(e["event"], e.get("service"), e["address"]) for e in got] == [
        ("input.too_large", "http", "198.51.100.3"),
        ("input.too_large", "http", "198.51.100.3"),
        ("connection.refused", "http", "198.51.100.3"),
    ]
    assert str(got[0]["what"]).startswith("431") and str(got[1]["what"]).startswith("413")
