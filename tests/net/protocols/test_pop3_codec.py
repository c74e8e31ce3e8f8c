"""The POP3 server codec: command framing, response formatting, byte-stuffing, TOP."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from reality.net.protocols.pop3 import (
    BadCommandLine,
    Command,
    LineTooLong,
    POP3ServerCodec,
    err,
    multi_line,
    ok,
    stuff_message,
    top_of_message,
)


def test_commands():
    """Keywords are upper-cased; the rest of the line is the argument; CR is dropped."""
    assert POP3ServerCodec().receive(b"user alice\r\nPASS two  words\nstat\r\n") == [
        Command("USER", "alice"),
        Command("PASS", "two  words"),
        Command("STAT", ""),
    ]


def test_line_limit():
    """255 octets with the CRLF pass (RFC 2449 4); 256 are reported and dropped."""
    codec = POP3ServerCodec()
    ok_line = b"USER " + b"a" * 248 + b"\r\n"
    assert len(ok_line) == 255
    assert codec.receive(ok_line) == [Command("USER", "a" * 248)]
    assert codec.receive(b"USER " + b"a" * 249 + b"\r\nNOOP\r\n") == [
        LineTooLong(255),
        Command("NOOP", ""),
    ]


def test_not_utf8():
    """Undecodable lines become an event, not an exception."""
    assert POP3ServerCodec().receive(b"PASS \xc3\x28\r\n") == [BadCommandLine()]


STREAM = b"CAPA\r\nUSER alice\r\nPASS s e c\r\n" + b"x" * 600 + b"\r\nLIST 1\nQUIT\r\n"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(STREAM) - 1), max_size=30))
def test_any_split_gives_the_same_commands(cuts):
    """Framing does not depend on how TCP cut the stream."""
    points = sorted(set(cuts))
    whole = POP3ServerCodec().receive(STREAM)
    codec = POP3ServerCodec()
    events = []
    for a, b in zip([0, *points], [*points, len(STREAM)], strict=True):
        events += codec.receive(STREAM[a:b])
    assert events == whole


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(data):
    """Any bytes give events, never an exception."""
    POP3ServerCodec().receive(data)


def test_status_lines():
    """+OK and -ERR with and without text and response codes (RFC 2449 8)."""
    assert ok() == b"+OK\r\n"
    assert ok("3 104") == b"+OK 3 104\r\n"
    assert err("No such message") == b"-ERR No such message\r\n"
    assert err("Mailbox is locked", "IN-USE") == b"-ERR [IN-USE] Mailbox is locked\r\n"


def test_status_text_cannot_forge_lines():
    """Control characters in the text become '?'."""
    assert ok("a\r\n+OK b") == b"+OK a??+OK b\r\n"


def test_multi_line_is_stuffed():
    """Lines of a listing that start with '.' are stuffed; '.' ends it."""
    assert multi_line("list", ["a", ".b"]) == b"+OK list\r\na\r\n..b\r\n.\r\n"


def test_stuff_message():
    """CRLF line ends, a final CRLF, leading dots doubled, '.' terminator (RFC 1939 3)."""
    assert stuff_message(b".a\n..b\r\nc\n.") == b"..a\r\n...b\r\nc\r\n..\r\n.\r\n"
    assert stuff_message(b"") == b".\r\n"


def unstuff(response: bytes) -> bytes:
    """What a client does with a multi-line response body (poplib's rule)."""
    assert response.endswith(b".\r\n")
    lines = response[:-3].split(b"\r\n")[:-1] if response != b".\r\n" else []
    return b"".join((line[1:] if line.startswith(b".") else line) + b"\r\n" for line in lines)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([b".", b"..", b"a", b"\r\n", b"\n", b".\r\n", b" "]), max_size=60))
def test_stuffing_round_trips(parts):
    """A client undoing the stuffing gets the message back, with CRLF line ends."""
    message = b"".join(parts)
    expected = message.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if expected and not expected.endswith(b"\r\n"):
        expected += b"\r\n"
    # A lone CR is part of a line, so compare only messages where that is unambiguous.
    assert unstuff(stuff_message(message)) == expected


def test_top_of_message():
    """The header, the blank line and n body lines; fewer lines if the body is shorter."""
    message = b"A: 1\r\nB: 2\r\n\r\none\r\ntwo\r\nthree\r\n"
    assert top_of_message(message, 0) == b"A: 1\r\nB: 2\r\n\r\n"
    assert top_of_message(message, 2) == b"A: 1\r\nB: 2\r\n\r\none\r\ntwo\r\n"
    assert top_of_message(message, 10) == message
    assert top_of_message(b"A: 1\r\n", 3) == b"A: 1\r\n"
    assert top_of_message(b"\r\nbody\r\n", 0) == b"\r\n"
    assert top_of_message(b"A: 1\n\nx\ny", 1) == b"A: 1\r\n\r\nx\r\n"
