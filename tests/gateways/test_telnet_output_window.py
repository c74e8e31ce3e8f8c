"""The output window: what a session hears from others is held briefly and written at once.

A session's own replies go out at the end of the reactor turn; what it
hears from others (others speaking, arriving, leaving) waits at most
``OUTPUT_WINDOW`` seconds so that everything heard in that time goes out
in one write. The tests move a fake Clock and count the transport's writes.
"""

from __future__ import annotations

import pytest
from test_telnet_gateway import Harness

from reality.gateways.telnet.gateway import CROWD_WINDOW, OUTPUT_WINDOW
from reality.net.protocol import Address
from reality.net.testing import StringTransportWithDisconnection


class CountingTransport(StringTransportWithDisconnection):
    """A StringTransport that counts write() calls and leaves the clock alone."""

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)
        self.writes = 0

    def write(self, data: bytes) -> None:
        self.writes += 1
        super().write(data)


def login(h: Harness, name: str):
    peer = Address("TCP", "192.0.2.30", 41000 + len(h.gateway.connections))
    session = h.gateway.build_protocol(peer)
    transport = CountingTransport(peer=peer)
    transport.protocol = session
    session.make_connection(transport)
    session.data_received(f"create {name} secret\r\n".encode())
    h.clock.advance(1)  # past every window: the arrival announcements are out
    assert session.state == "playing"
    transport.clear()
    transport.writes = 0
    return session, transport


@pytest.fixture
def h():
    harness = Harness(max_per_address=0)
    harness.gateway.command_rate = 0
    yield harness
    harness.store.close()


def test_bystander_output_waits_at_most_the_window_then_goes_in_one_write(h):
    """Three lines heard in one window reach the listener in one write, at the window's end."""
    carol, c = login(h, "Carol")
    bob, b = login(h, "Bob")
    for n in range(3):
        carol.data_received(f"say line {n}\r\n".encode())
        h.clock.advance(0)  # the end of the turn
    assert b.value() == b"" and b.writes == 0
    h.clock.advance(OUTPUT_WINDOW * 0.99)
    assert b.value() == b""
    h.clock.advance(OUTPUT_WINDOW * 0.02)
    seen = b.value().decode("utf-8", "replace")
    assert [seen.count(f'Carol says, "line {n}"') for n in range(3)] == [1, 1, 1]
    assert b.writes == 1


def test_no_line_waits_longer_than_the_window(h):
    """A line heard late in a window goes out with the window's first line, not later."""
    carol, _ = login(h, "Carol")
    bob, b = login(h, "Bob")
    carol.data_received(b"say first\r\n")
    h.clock.advance(OUTPUT_WINDOW / 2)
    carol.data_received(b"say second\r\n")
    h.clock.advance(OUTPUT_WINDOW / 2 + 1e-9)
    seen = b.value().decode("utf-8", "replace")
    assert "first" in seen and "second" in seen
    assert b.writes == 1


def test_the_actors_own_reply_is_not_delayed(h):
    """The speaker's "You say" and prompt go out at the end of the turn, not of the window."""
    carol, c = login(h, "Carol")
    login(h, "Bob")
    carol.data_received(b"say hello\r\n")
    h.clock.advance(0)
    assert 'You say, "hello"' in c.value().decode("utf-8", "replace")
    assert c.value().endswith(b"> \xff\xf9")


def test_a_reply_takes_what_was_heard_along_in_order(h):
    """Heard lines come before the listener's own reply, written with it at the turn's end."""
    carol, _ = login(h, "Carol")
    bob, b = login(h, "Bob")
    carol.data_received(b"say before your look\r\n")
    h.clock.advance(0)
    bob.data_received(b"look\r\n")
    h.clock.advance(0)
    seen = b.value().decode("utf-8", "replace")
    assert seen.index('Carol says, "before your look"') < seen.index("The Hall")
    assert b.writes == 1
    h.clock.advance(OUTPUT_WINDOW)  # the window ends with nothing left to write
    assert b.writes == 1


def test_held_output_past_the_limit_goes_at_the_end_of_the_turn(h):
    """Past hold_limit bytes (or max_heard lines) heard output is not held for the window."""
    carol, _ = login(h, "Carol")
    bob, b = login(h, "Bob")
    bob.hold_limit = 100
    bob.max_heard = 2
    for n in range(4):
        carol.data_received(f"say {'x' * 40} {n}\r\n".encode())
    h.clock.advance(0)
    assert b.value().decode("utf-8", "replace").count("Carol says") == 4


def test_a_window_of_zero_writes_at_the_end_of_every_turn(h):
    """output_window 0: the gateway writes heard output at the end of the turn, as before."""
    h.gateway.output_window = 0
    carol, _ = login(h, "Carol")
    bob, b = login(h, "Bob")
    carol.data_received(b"say now\r\n")
    h.clock.advance(0)
    assert 'Carol says, "now"' in b.value().decode("utf-8", "replace")


def test_leaving_writes_what_was_heard_before_the_goodbye(h):
    """A session closed with a message sends what it heard first, then the message."""
    carol, _ = login(h, "Carol")
    bob, b = login(h, "Bob")
    carol.data_received(b"say last words\r\n")
    h.clock.advance(0)
    bob.disconnect("Goodbye, Bob.")
    seen = b.value().decode("utf-8", "replace")
    assert seen.index("last words") < seen.index("Goodbye, Bob.")
    # Nothing is shown to a closed session, and the window's end writes nothing more.
    bob.show("too late")
    h.clock.advance(OUTPUT_WINDOW)
    assert "too late" not in b.value().decode("utf-8", "replace")


def test_one_rendering_per_kind_of_client(h, monkeypatch):
    """Fifty listeners with the same client: one say is rendered once."""
    from reality.gateways.telnet import capabilities

    carol, _ = login(h, "Carol")
    listeners = [login(h, f"Listener{chr(97 + i % 26)}{chr(97 + i // 26)}") for i in range(50)]
    capabilities._render_cached.cache_clear()
    capabilities._render_escaped_cached.cache_clear()
    calls = []
    real = capabilities.render

    def counting(*args, **kw):
        calls.append(args[0])
        return real(*args, **kw)

    monkeypatch.setattr(capabilities, "render", counting)
    carol.data_received(b"say one rendering\r\n")
    h.clock.advance(CROWD_WINDOW)  # fifty listeners are a crowd
    assert all(b'Carol says, "one rendering"' in t.value() for _, t in listeners)
    assert calls.count('Carol says, "one rendering"') == 1


def test_a_room_log_keeps_order_across_a_walk_and_a_late_arrival(h):
    """Bob hears Carol's first line, walks out (taking it along, before his new room),
    misses what is said after he left; Dave, coming in mid-window, hears only what
    follows his arrival; everything in the order it happened."""
    h.gateway.crowd_size = 1  # three is a crowd here
    carol, _ = login(h, "Carol")
    bob, b = login(h, "Bob")
    dave, d = login(h, "Dave")
    dave.data_received(b"north\r\n")
    h.clock.advance(1)
    d.clear()
    carol.data_received(b"say before\r\n")
    h.clock.advance(0)
    log = h.gateway._logs.get(carol.player.location)
    assert log is not None and bob in log.members and log.texts == ['Carol says, "before"']
    bob.data_received(b"north\r\n")
    dave.data_received(b"south\r\n")
    h.clock.advance(0)
    carol.data_received(b"say after\r\n")
    h.clock.advance(0)
    assert len(log.texts) == 4, "before, Bob leaves, Dave arrives, after"
    h.clock.advance(CROWD_WINDOW)
    heard_by_bob = b.value().decode("utf-8", "replace")
    assert heard_by_bob.index('Carol says, "before"') < heard_by_bob.index("The Library")
    assert 'Carol says, "after"' not in heard_by_bob
    heard_by_dave = d.value().decode("utf-8", "replace")
    assert 'Carol says, "after"' in heard_by_dave and "before" not in heard_by_dave
    assert heard_by_dave.index("The Hall") < heard_by_dave.index('Carol says, "after"')
    assert h.gateway._logs == {}


def test_a_room_log_is_one_append_per_event_whatever_the_crowd(h):
    """Forty listeners: an event adds one text to the room's log, not forty; fewer than
    the crowd size, each listener notes it, for the short window."""
    sessions = [login(h, f"Listener{chr(97 + i // 26)}{chr(97 + i % 26)}")[0] for i in range(40)]
    carol, _ = login(h, "Carol")
    for s in sessions:
        s.transport.clear()
    for n in range(5):
        carol.data_received(f"say {n}\r\n".encode())
        h.clock.advance(0)
    log = h.gateway._logs[carol.player.location]
    assert log.texts == [f'Carol says, "{n}"' for n in range(5)]
    assert all(s._heard == [] for s in sessions), "nothing copied per listener yet"
    assert log.skipped == {carol}
    h.clock.advance(OUTPUT_WINDOW)
    assert all(s.transport.value() == b"" for s in sessions), "a crowd waits longer"
    h.clock.advance(CROWD_WINDOW)
    assert all(b'Carol says, "4"' in s.transport.value() for s in sessions)
    assert h.gateway._logs == {}
