"""Telnet deadlines: logging in has a total deadline, and only complete lines are activity."""

from __future__ import annotations

import logging

from test_telnet_gateway import Harness, text

from reality.gateways.telnet import LOGIN_DEADLINE, LOGIN_TIMEOUT, TelnetGateway


def test_defaults():
    """300 s without a line before login, 600 s in all to log in (documented values)."""
    assert (LOGIN_TIMEOUT, LOGIN_DEADLINE) == (300, 600)
    h = Harness()
    assert (h.gateway.login_timeout, h.gateway.login_deadline) == (300, 600)
    assert isinstance(h.gateway, TelnetGateway)
    h.store.close()


def test_a_line_every_299_seconds_does_not_keep_a_login_prompt_open(caplog):
    """`who` every 299 s before login: closed at 600 s, with a message, a log line, an audit."""
    caplog.set_level(logging.INFO)
    h = Harness()
    session, transport = h.connect(host="198.51.100.7")
    session.data_received(b"who\r\n")
    h.clock.advance(299)
    session.data_received(b"who\r\n")
    h.clock.advance(299)
    session.data_received(b"who\r\n")
    assert not transport.disconnecting
    h.clock.advance(2.5)
    assert transport.disconnecting
    assert "You did not log in within 10 minutes. Goodbye!" in text(transport)
    events = [r.audit for r in caplog.records if getattr(r, "audit", None)]
    assert events == [{"event": "connection.timeout", "service": "telnet",
                       "address": "198.51.100.7", "reason": "login"}]
    lines = [r.getMessage() for r in caplog.records if r.name == "reality.gateways.telnet"]
    assert lines == ["telnet: 198.51.100.7 did not log in within 600s; closing"]
    h.store.close()


def test_the_deadline_runs_through_a_password_dialogue():
    """A name, then the password prompt answered by nothing: the deadline still ends it."""
    h = Harness(login_timeout=0, login_deadline=120)
    session, transport = h.connect()
    session.data_received(b"Carol\r\n")  # a new name: "Create...? (y/n)"
    h.clock.advance(119)
    assert not transport.disconnecting
    h.clock.advance(1)
    assert transport.disconnecting
    assert "did not log in within 2 minutes" in text(transport)
    h.store.close()


def test_logging_in_in_time_stops_the_login_deadline():
    """Logged in before the deadline: the player stays, under the player idle time only."""
    h = Harness(idle_timeout=3600, login_deadline=600)
    session, transport = h.connect()
    h.clock.advance(295)
    session.data_received(b"who\r\n")
    h.clock.advance(295)
    session.data_received(b"create Alice secret\r\n")
    assert session.state == "playing"
    for _ in range(5):
        h.clock.advance(600)
        session.data_received(b"look\r\n")
    assert not transport.disconnecting
    assert session._login_deadline is None
    h.store.close()


def test_login_deadline_zero_means_none():
    """login_deadline=0: only the idle time applies before login."""
    h = Harness(login_deadline=0)
    session, transport = h.connect()
    for _ in range(10):
        h.clock.advance(299)
        session.data_received(b"who\r\n")
    assert not transport.disconnecting
    h.store.close()


def test_a_partial_line_trickled_does_not_keep_a_player_connected():
    """Bytes without a line end are not activity: an idle player goes at the idle time."""
    h = Harness(idle_timeout=600)
    session, transport = h.login("Alice")
    for _ in range(59):
        h.clock.advance(10)
        session.data_received(b"x")
    assert not transport.disconnecting
    h.clock.advance(11)
    assert transport.disconnecting
    assert "idle" in text(transport)
    h.store.close()


def test_a_partial_line_trickled_before_login_is_cut_too():
    """Before login the same: a byte every 10 s without a line end ends at 300 s."""
    h = Harness()
    session, transport = h.connect()
    for _ in range(40):
        if transport.disconnecting:
            break
        h.clock.advance(10)
        session.data_received(b"x")
    assert transport.disconnecting
    assert h.clock.seconds() <= 310
    h.store.close()
