"""Channels over telnet: lines, GMCP Comm.Channel.Text and .List, the crowd window (issue 14)."""

from __future__ import annotations

import pytest
from test_gmcp_inventory import gmcp_messages
from test_telnet_gateway import Harness, text

from reality.gateways.telnet.gateway import CROWD_WINDOW
from reality.net.protocols.telnet.options import DO, GMCP, IAC, SB, SE


@pytest.fixture
def harness():
    h = Harness()
    yield h
    h.store.close()


def gmcp_login(harness: Harness, name: str):
    session, transport = harness.connect()
    session.data_received(bytes([IAC, DO, GMCP]))
    session.data_received(f"create {name} secret\r\n".encode())
    transport.clear()
    return session, transport


def test_a_chat_line_reaches_plain_and_gmcp_clients(harness):
    """Bob's plain client shows the line; Carol's GMCP client also gets Comm.Channel.Text."""
    alice, a = harness.login("Alice")
    _, b = harness.login("Bob")
    _, c = gmcp_login(harness, "Carol")
    a.clear()
    b.clear()
    alice.data_received(b"chat hello there\r\n")
    assert "[chat] Alice: hello there" in text(a)
    assert text(b) == "[chat] Alice: hello there\r\n"
    data = c.take()
    assert b"[chat] Alice: hello there\r\n" in data
    assert gmcp_messages(data) == [
        (
            "Comm.Channel.Text",
            {"channel": "chat", "talker": "Alice", "text": "[chat] Alice: hello there"},
        )
    ]


def test_comm_channel_text_bytes(harness):
    """The exact GMCP bytes of one line: package, a space, compact JSON, IAC SE."""
    alice, _ = harness.login("Alice")
    _, c = gmcp_login(harness, "Carol")
    alice.data_received(b"newbie :waves\r\n")
    expected = (
        bytes([IAC, SB, GMCP])
        + b'Comm.Channel.Text {"channel":"newbie","talker":"Alice",'
        + b'"text":"[newbie] Alice waves."}'
        + bytes([IAC, SE])
    )
    assert expected in c.take()


def test_comm_channel_list_on_request(harness):
    """A client's Comm.Channel.List request is answered with the player's channels, IRE style."""
    session, transport = gmcp_login(harness, "Carol")
    session.data_received(b"channel leave newbie\r\n")
    transport.clear()
    session.data_received(bytes([IAC, SB, GMCP]) + b"Comm.Channel.List" + bytes([IAC, SE]))
    data = transport.take()
    assert data == (
        bytes([IAC, SB, GMCP])
        + b'Comm.Channel.List [{"name":"chat","caption":"Chat with everyone in the world",'
        + b'"command":"chat"}]'
        + bytes([IAC, SE])
    )


def test_no_gmcp_for_plain_clients(harness):
    alice, _ = harness.login("Alice")
    _, b = harness.login("Bob")
    alice.data_received(b"chat hi\r\n")
    assert bytes([IAC, SB, GMCP]) not in b.take()


def test_client_verbs_name_the_channels(harness):
    """Client.Verbs carries the channel names, and is sent again after leaving one."""
    session, transport = gmcp_login(harness, "Carol")
    session.data_received(b"channel leave newbie\r\n")
    verbs = [body for package, body in gmcp_messages(transport.take()) if package == "Client.Verbs"]
    assert verbs and "chat" in verbs[-1]["verbs"] and "newbie" not in verbs[-1]["verbs"]


def test_a_big_channel_waits_for_the_crowd_window():
    """With crowd_size listeners or more, a channel line is written at the crowd window's end,
    in one write per listener, and lines in that window go together."""
    h = Harness(crowd_size=4)
    try:
        speaker, _ = h.login("Speaker")
        others = [h.login("Bot" + "abcdef"[i]) for i in range(5)]
        for _, t in others:
            t.clear()
        writes: list[bytes] = []
        transport = others[0][1]
        original = transport.write
        transport.write = lambda data: (writes.append(data), original(data))  # type: ignore[method-assign]
        speaker.data_received(b"chat one\r\n")
        h.clock.advance(0)  # the speaker's own turn ends
        speaker.data_received(b"chat two\r\n")
        h.clock.advance(0.06)  # past the output window, not the crowd window
        assert writes == []
        h.clock.advance(CROWD_WINDOW)
        assert len(writes) == 1
        assert b"[chat] Speaker: one\r\n[chat] Speaker: two\r\n" in writes[0]
    finally:
        h.store.close()


def test_a_channel_line_keeps_its_place_after_a_crowded_rooms_log():
    """A listener reading a crowded room's log takes it before a later channel line."""
    h = Harness(crowd_size=3)
    try:
        speaker, s = h.login("Speaker")
        listeners = [h.login("Bot" + "abcd"[i]) for i in range(4)]
        for _, t in listeners:
            t.clear()
        speaker.data_received(b"say in the room\r\n")
        speaker.data_received(b"chat on the channel\r\n")
        h.clock.advance(CROWD_WINDOW)
        seen = text(listeners[0][1])
        assert seen.index("in the room") < seen.index("[chat] Speaker: on the channel")
    finally:
        h.store.close()


def test_comm_channel_text_only_to_clients_that_asked(harness):
    """A client that lists its packages without Comm.Channel gets the line, not the GMCP."""
    alice, _ = harness.login("Alice")
    carol, c = gmcp_login(harness, "Carol")
    carol.data_received(
        bytes([IAC, SB, GMCP]) + b'Core.Supports.Set ["Room 1", "Char 1"]' + bytes([IAC, SE])
    )
    c.clear()
    alice.data_received(b"chat hello\r\n")
    data = c.take()
    assert b"[chat] Alice: hello\r\n" in data
    assert gmcp_messages(data) == []
    carol.data_received(
        bytes([IAC, SB, GMCP]) + b'Core.Supports.Add ["Comm.Channel 1"]' + bytes([IAC, SE])
    )
    c.clear()
    alice.data_received(b"chat again\r\n")
    assert [p for p, _ in gmcp_messages(c.take())] == ["Comm.Channel.Text"]
