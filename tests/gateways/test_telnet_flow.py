"""Telnet back-pressure and command floods, with a fake Clock and a client that does not read.

A session whose output is not drained stops being read; output left unread
past a bound closes the connection with a reason in the log; one session's
command flood is rate-limited, queued for it alone and, past a bound,
dropped with a message; GMCP pings are answered no faster than AYT.
"""

from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings, strategies as st
from test_telnet_gateway import Harness, text

from reality.gateways.telnet import COMMAND_BURST, COMMAND_RATE, MAX_QUEUED_LINES
from reality.net.protocol import Address
from reality.net.protocols.telnet.options import DO, ECHO, GMCP, IAC, SB, SE, WILL
from reality.net.testing import BufferingTransport

READ = 65536  # the most one socket read delivers
PING = bytes([IAC, SB, GMCP]) + b"Core.Ping" + bytes([IAC, SE])


class FlowTransport(BufferingTransport):
    """A BufferingTransport whose reads end the reactor turn first (see TurnTransport)."""

    def __init__(self, clock, peer):
        super().__init__()
        self.clock = clock
        self.peer = peer

    def take(self) -> bytes:
        self.clock.advance(0)
        return self.drain()


def connect(h: Harness, host: str = "192.0.2.20"):
    peer = Address("TCP", host, 40000 + len(h.gateway.connections))
    session = h.gateway.build_protocol(peer)
    transport = FlowTransport(h.clock, peer)
    transport.protocol = session
    session.make_connection(transport)
    return session, transport


def login(h: Harness, name: str, **kw):
    session, transport = connect(h, **kw)
    session.data_received(f"create {name} secret\r\n".encode())
    assert session.state == "playing"
    transport.take()
    return session, transport


def never_read(session, transport, clock, data: bytes, seconds: float, step: float = 0.25):
    """Deliver ``data`` a read at a time while the server reads; time passes; nothing is read."""
    pos = 0
    for _ in range(int(seconds / step)):
        if not transport.reading_paused and not transport.disconnecting:
            session.data_received(data[pos : pos + READ])
            pos = (pos + READ) % len(data)
        clock.advance(step)
        assert len(session._held) <= 2 * READ
        assert session.codec.pending_output + len(transport.io) < session.max_unsent_output


@pytest.fixture
def h():
    harness = Harness()
    yield harness
    harness.store.close()


def test_new_player_flow_sends_will_echo_before_asking_for_the_password(h):
    """A new name: IAC WILL ECHO (the client stops echoing) comes before 'Choose a password:'."""
    session, transport = connect(h)
    transport.take()
    session.data_received(b"Newbie\r\n")
    assert b"Create a new character named Newbie?" in transport.take()
    session.data_received(b"y\r\n")
    out = transport.take()
    will_echo = bytes([IAC, WILL, ECHO])
    assert will_echo in out and b"Choose a password: " in out
    assert out.index(will_echo) < out.index(b"Choose a password: ")


def test_look_flood_from_a_non_reader_is_bounded(h):
    """Logged in, `look` x 10,000 per write, never reading: few run, output stays bounded."""
    session, transport = login(h, "Alice")
    before = h.gateway.commands
    never_read(session, transport, h.clock, b"look\r\n" * 10000, seconds=5)
    ran = h.gateway.commands - before
    assert ran <= COMMAND_BURST + COMMAND_RATE * 5 + 1
    assert transport.peak < session.output_high_water + 64 * 1024
    assert b"some were dropped" in transport.value()


def test_help_flood_before_login_is_bounded(h):
    """Before login, `help` x 10,000 per write: the same rate limit and bound apply."""
    session, transport = connect(h)
    never_read(session, transport, h.clock, b"help\r\n" * 10000, seconds=5)
    answers = transport.value().count(b"Type your character's name")
    assert answers <= COMMAND_BURST + COMMAND_RATE * 5 + 2
    assert transport.peak < session.output_high_water + 64 * 1024


def test_output_back_pressure_pauses_reading_until_drained(h):
    """With no rate limit, a non-reader's flood stops at the high-water mark and reading pauses."""
    h.gateway.command_rate = 0
    session, transport = login(h, "Alice")
    session.data_received(b"look\r\n" * 10000)
    h.clock.advance(0)
    assert transport.reading_paused
    assert transport.peak < session.output_high_water + 64 * 1024
    assert session.input_waiting
    # The client reads: the rest runs, a turn at a time, and reading resumes.
    looks = 0
    for _ in range(10000):
        looks += transport.take().count(b"The Hall")
        h.clock.advance(0)
        if not session.input_waiting and not session.codec.pending_output and not transport.io:
            break
    assert looks == 10000
    assert not transport.reading_paused


@pytest.mark.parametrize("crowd", [False, True], ids=["small room", "crowd's log"])
def test_unread_output_past_the_bound_closes_with_a_reason(h, caplog, crowd):
    """Others' events pile up for a player who reads nothing: past 1 MiB, closed.

    In a crowd the room's log is settled at its bounds, so the same limit
    holds, whatever the window (the clock here never reaches its end)."""
    h.gateway.command_rate = 0
    if crowd:
        h.gateway.crowd_size = 1
    victim, victim_transport = login(h, "Victim")
    talker, talker_transport = login(h, "Talker")
    with caplog.at_level(logging.WARNING, logger="reality.net.protocols.telnet"):
        for n in range(1000):
            talker.data_received(b"say " + b"blah " * 700 + b"\r\n")
            if n == 0:
                assert bool(h.gateway._logs) == crowd, "the crowd's case goes through a log"
            h.clock.advance(0)
            talker_transport.drain()
            if victim_transport.disconnecting:
                break
    assert victim_transport.aborted
    assert victim_transport.peak <= victim.max_unsent_output + 64 * 1024
    assert any("output unread" in r.getMessage() for r in caplog.records)


def test_command_rate_queue_and_drop(h):
    """A burst runs at once, the queue at the rate; lines past the queue are dropped, said so."""
    session, transport = login(h, "Alice")
    flood = COMMAND_BURST + MAX_QUEUED_LINES + 40
    session.data_received(b"say hi\r\n" * flood)
    seen = text(transport)
    assert seen.count('You say, "hi"') == COMMAND_BURST - 1  # `create` took a token
    assert "some were dropped" in seen
    h.clock.pump([0.1] * int((MAX_QUEUED_LINES / COMMAND_RATE + 1) * 10))
    assert text(transport).count('You say, "hi"') == MAX_QUEUED_LINES


def test_a_flood_does_not_delay_another_session(h):
    """While one session's queue is full, another player's command is answered at once."""
    flooder, _ = login(h, "Alice")
    other, other_transport = login(h, "Bob")
    flooder.data_received(b"say spam\r\n" * 1000)
    other_transport.take()
    other.data_received(b"look\r\n")
    assert b"The Hall" in other_transport.take()


def test_gmcp_ping_flood_is_answered_like_ayt(h):
    """20,000 Core.Ping get a burst of answers then a trickle, not 20,000."""
    session, transport = connect(h)
    session.data_received(bytes([IAC, DO, GMCP]))
    transport.take()
    data = PING * 20000
    answers = 0
    for pos in range(0, len(data), READ):
        session.data_received(data[pos : pos + READ])
        answers += transport.take().count(b"Core.Ping")
    answers += transport.take().count(b"Core.Ping")
    burst = session.codec.config.negotiation_burst
    assert 1 <= answers <= burst + 1


@settings(max_examples=30, deadline=None)
@given(
    logged_in=st.booleans(),
    line=st.sampled_from([b"look\r\n", b"help\n", b"say hello there\r\n", b"\r\n", PING, b"inv\r"]),
    repeat=st.integers(1, 30000),
    cuts=st.lists(st.integers(1, READ), min_size=1, max_size=40),
    steps=st.lists(st.sampled_from([0.0, 0.01, 0.3, 2.0]), min_size=1, max_size=40),
)
def test_telnet_pipelining_stays_bounded(logged_in, line, repeat, cuts, steps):
    """However a flood is split and however long, held input and unread output stay bounded."""
    h = Harness()
    try:
        session, transport = login(h, "Alice") if logged_in else connect(h)
        session.data_received(bytes([IAC, DO, GMCP]))
        data = line * repeat
        pos = 0
        for i, cut in enumerate(cuts):
            if pos >= len(data):
                break
            if not transport.reading_paused and not transport.disconnecting:
                session.data_received(data[pos : pos + cut])
                pos += cut
            h.clock.advance(steps[i % len(steps)])
            assert len(session._held) <= READ + session.input_chunk
            assert len(session._events) <= session.input_chunk
            assert len(session._queued) <= MAX_QUEUED_LINES
            unsent = session.codec.pending_output + len(transport.io)
            assert unsent <= session.output_high_water + 64 * 1024
    finally:
        h.store.close()


def test_a_negotiation_flood_stops_parsing_and_reading_until_the_bucket_refills(h):
    """Past the bucket, the flooder's input waits unparsed and unread: ignoring 20,000
    pings a write must not cost the loop parsing them all. It resumes by itself."""
    session, transport = connect(h)
    session.data_received(bytes([IAC, DO, GMCP]))
    transport.take()
    session.data_received(PING * 2000)
    assert transport.take().count(b"Core.Ping") <= session.codec.config.negotiation_burst
    assert session.input_waiting, "the rest of the flood is held, not parsed"
    assert transport.reading_paused
    config = session.codec.config
    h.clock.advance(config.negotiation_burst / 2 / config.negotiation_rate)
    assert transport.take().count(b"Core.Ping") >= 1  # a trickle of answers once it resumes
    session.data_received(b"look\r\n")  # the session still works after the flood
    h.clock.advance(60)
    assert not transport.disconnecting
