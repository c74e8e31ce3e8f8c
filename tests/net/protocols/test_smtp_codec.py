"""The SMTP server codec: framing, DATA mode, limits, paths and reply encoding."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from reality.net.protocols.smtp import (
    AddressSyntaxError,
    BadCommandLine,
    Command,
    LineTooLong,
    MessageLineTooLong,
    MessageReceived,
    MessageTooLarge,
    PathSyntaxError,
    Reply,
    SMTPServerCodec,
    parse_path,
)


def run(codec: SMTPServerCodec, chunks: list[bytes]) -> list[object]:
    """Feed chunks; after every DATA command start DATA mode, as a server would."""
    events: list[object] = []
    for chunk in chunks:
        codec.receive_data(chunk)
        while True:
            event = codec.next_event()
            if event is None:
                break
            events.append(event)
            if isinstance(event, Command) and event.verb == "DATA":
                codec.begin_data()
    return events


def test_command_lines_become_commands():
    """Verbs are upper-cased; the argument is the rest after the first space; CR is dropped."""
    codec = SMTPServerCodec()
    assert codec.receive(b"ehlo client.example\r\nMail FROM:<a@b.example> SIZE=10\r\n") == [
        Command("EHLO", "client.example"),
        Command("MAIL", "FROM:<a@b.example> SIZE=10"),
    ]


def test_bare_lf_ends_a_command_line():
    """A person typing on netcat sends LF only: the command still arrives."""
    assert SMTPServerCodec().receive(b"NOOP\nQUIT\n") == [Command("NOOP", ""), Command("QUIT", "")]


def test_partial_line_waits_for_its_end():
    """Nothing comes out until the line end arrives."""
    codec = SMTPServerCodec()
    assert codec.receive(b"NO") == []
    assert codec.receive(b"OP") == []
    assert codec.receive(b"\r\n") == [Command("NOOP", "")]
    assert codec.buffered == 0


def test_data_waits_for_a_decision():
    """After DATA the codec stops until told whether message data follows."""
    codec = SMTPServerCodec()
    assert codec.receive(b"DATA\r\nSubject: x\r\n") == [Command("DATA", "")]
    assert codec.next_event() is None
    codec.refuse_data()
    assert codec.next_event() == Command("SUBJECT:", "x")


def test_begin_and_refuse_data_only_after_data():
    """Switching modes at any other time is a programming error, said loudly."""
    codec = SMTPServerCodec()
    with pytest.raises(RuntimeError):
        codec.begin_data()
    with pytest.raises(RuntimeError):
        codec.refuse_data()


def test_message_is_dot_unstuffed_and_ends_at_lone_dot():
    """RFC 5321 4.5.2: a leading dot is removed; the '.' line ends the data; commands follow."""
    codec = SMTPServerCodec()
    events = run(codec, [b"DATA\r\nline 1\r\n..hidden\r\n.\r\n...\r\n\r\n.\r\nQUIT\r\n"])
    assert events == [
        Command("DATA", ""),
        MessageReceived(b"line 1\r\n.hidden\r\n"),
        Command("...", ""),
        Command("", ""),
        Command(".", ""),
        Command("QUIT", ""),
    ]


def test_message_may_contain_stuffed_dot_lines_only():
    """A message of one line '.' is sent as '..' and received as '.'."""
    codec = SMTPServerCodec()
    assert run(codec, [b"DATA\r\n..\r\n.\r\n"])[1] == MessageReceived(b".\r\n")


def test_empty_message():
    """DATA followed at once by the final dot is an empty message."""
    assert run(SMTPServerCodec(), [b"DATA\r\n.\r\n"])[1] == MessageReceived(b"")


def test_bare_lf_does_not_end_data():
    """Only CRLF.CRLF ends the data: LF.LF and LF.CRLF are content (no SMTP smuggling)."""
    codec = SMTPServerCodec()
    data = b"DATA\r\na\n.\nMAIL FROM:<x@y.example>\n.\r\nb\r\n.\r\n"
    assert run(codec, [data])[1:] == [MessageReceived(b"a\n.\nMAIL FROM:<x@y.example>\n.\r\nb\r\n")]


def test_command_line_of_exactly_the_limit_is_accepted():
    """1,000 octets with the CRLF is allowed (RFC 5321 4.5.3.1.6)."""
    line = b"NOOP " + b"x" * (1000 - 7) + b"\r\n"
    assert len(line) == 1000
    assert SMTPServerCodec().receive(line) == [Command("NOOP", "x" * 993)]


def test_command_line_over_the_limit_is_reported_once_and_dropped():
    """One LineTooLong, the rest of that line is discarded, the next line is read."""
    codec = SMTPServerCodec()
    events = codec.receive(b"NOOP " + b"x" * 994 + b"\r\n" + b"QUIT\r\n")
    assert events == [LineTooLong(1000), Command("QUIT", "")]


def test_endless_command_line_is_not_buffered():
    """A line that never ends is reported as soon as it passes the limit and not kept."""
    codec = SMTPServerCodec()
    events = codec.receive(b"x" * 1500)
    assert events == [LineTooLong(1000)]
    for _ in range(100):
        assert codec.receive(b"y" * 10_000) == []
    assert codec.buffered == 0
    assert codec.receive(b"still the same line\r\nNOOP\r\n") == [Command("NOOP", "")]


def test_undecodable_command_line():
    """A command line that is not UTF-8 is an event of its own, not an exception."""
    assert SMTPServerCodec().receive(b"HELO \xff\xfe\r\nNOOP\r\n") == [
        BadCommandLine(),
        Command("NOOP", ""),
    ]


def test_message_line_of_exactly_the_limit_is_accepted():
    """A 1,000-octet data line (with CRLF) is kept."""
    line = b"a" * 998 + b"\r\n"
    assert run(SMTPServerCodec(), [b"DATA\r\n", line, b".\r\n"])[1] == MessageReceived(line)


def test_message_line_over_the_limit_rejects_the_message():
    """A 1,001-octet data line: the message is read to its end and reported as bad."""
    codec = SMTPServerCodec()
    events = run(codec, [b"DATA\r\nok\r\n" + b"a" * 999 + b"\r\nmore\r\n.\r\nNOOP\r\n"])
    assert events == [Command("DATA", ""), MessageLineTooLong(1000), Command("NOOP", "")]


def test_endless_message_line_is_not_buffered():
    """A data line that never ends is dropped as it arrives, and the final dot still counts."""
    codec = SMTPServerCodec()
    assert run(codec, [b"DATA\r\n"]) == [Command("DATA", "")]
    for _ in range(50):
        assert run(codec, [b"z" * 10_000]) == []
        assert codec.buffered <= 1000
    assert run(codec, [b"\r", b"\n.\r", b"\n"]) == [MessageLineTooLong(1000)]


def test_message_over_the_size_limit_is_read_and_dropped():
    """Past the limit nothing is kept; the event comes after the final dot."""
    codec = SMTPServerCodec(max_message_size=100)
    events = run(codec, [b"DATA\r\n"])
    for _ in range(1000):
        events += run(codec, [b"x" * 78 + b"\r\n"])
        assert sum(len(c) for c in codec._chunks) <= 100
        assert codec.buffered < 100
    events += run(codec, [b".\r\nNOOP\r\n"])
    assert events == [Command("DATA", ""), MessageTooLarge(100), Command("NOOP", "")]


def test_message_of_exactly_the_size_limit_is_accepted():
    """The limit counts the unstuffed bytes with their CRLFs; equal is allowed."""
    body = b"." * 8 + b"\r\n"  # 11 octets on the wire, 10 after unstuffing
    codec = SMTPServerCodec(max_message_size=10)
    assert run(codec, [b"DATA\r\n" + b"." + body + b".\r\n"])[1] == MessageReceived(body)
    codec = SMTPServerCodec(max_message_size=9)
    assert run(codec, [b"DATA\r\n" + b"." + body + b".\r\n"])[1] == MessageTooLarge(9)


def test_codec_is_reusable_after_a_message():
    """Several messages in one stream come out one after the other."""
    codec = SMTPServerCodec()
    events = run(codec, [b"DATA\r\none\r\n.\r\nDATA\r\ntwo\r\n.\r\n"])
    assert events == [
        Command("DATA", ""),
        MessageReceived(b"one\r\n"),
        Command("DATA", ""),
        MessageReceived(b"two\r\n"),
    ]


STREAM = (
    b"EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@y.example>\r\nDATA\r\n"
    b"Subject: hi\r\n\r\n..dot\r\nbare\nlf\r\n" + b"L" * 998 + b"\r\n.\r\n"
    b"NOOP " + b"n" * 1200 + b"\r\nDATA\r\n" + b"M" * 1001 + b"\r\n.\r\nQUIT\n"
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(STREAM)), max_size=40))
def test_any_split_gives_the_same_events(cuts):
    """Framing does not depend on how TCP cut the stream."""
    points = sorted(set(cuts))
    chunks = [STREAM[a:b] for a, b in zip([0, *points], [*points, len(STREAM)], strict=True)]
    assert run(SMTPServerCodec(), chunks) == run(SMTPServerCodec(), [STREAM])


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000), st.lists(st.integers(min_value=1, max_value=3000), max_size=10))
def test_arbitrary_bytes_never_raise(data, cuts):
    """Any bytes in any split give events, never an exception."""
    points = sorted({c for c in cuts if c < len(data)})
    chunks = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    run(SMTPServerCodec(max_message_size=500), [b"DATA\r\n", *chunks])
    run(SMTPServerCodec(), chunks)


# -- paths ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "address", "params"),
    [
        ("<alice@example.org>", "alice@example.org", ""),
        (" <alice@example.org>", "alice@example.org", ""),
        ("<alice@example.org> SIZE=10 BODY=8BITMIME", "alice@example.org", "SIZE=10 BODY=8BITMIME"),
        ("alice@example.org", "alice@example.org", ""),
        ("alice@example.org SIZE=5", "alice@example.org", "SIZE=5"),
        ("<@relay.example,@r2.example:bob@example.org>", "bob@example.org", ""),
        ('<"odd > name"@example.org>', '"odd > name"@example.org', ""),
        ("<Postmaster>", "Postmaster", ""),
        ("<user@[192.0.2.1]>", "user@[192.0.2.1]", ""),
        ("<first.last+tag@sub.example.org>", "first.last+tag@sub.example.org", ""),
    ],
)
def test_parse_path_accepts(text, address, params):
    """RFC 5321 4.1.2 paths, source routes (dropped), postmaster, quoted local parts."""
    assert parse_path(text) == (address, params)


def test_parse_path_null_sender():
    """<> is the null reverse-path: fine for MAIL, refused for RCPT."""
    assert parse_path("<>", allow_null=True) == ("", "")
    with pytest.raises(AddressSyntaxError):
        parse_path("<>")


@pytest.mark.parametrize("text", ["<alice@example.org", "<a@b.example>junk", "", "   "])
def test_parse_path_framing_errors(text):
    """A missing bracket, junk after it, or nothing at all is a syntax error."""
    with pytest.raises(PathSyntaxError):
        parse_path(text)


@pytest.mark.parametrize(
    "text",
    [
        "<alice>",
        "<alice@>",
        "<@example.org>",
        "<a..b@example.org>",
        "<alice@exa mple.org>",
        "<alice@-example.org>",
        "<" + "l" * 65 + "@example.org>",
        "<a@" + "d" * 260 + ".org>",
        "<ali\u00e9@example.org>",
    ],
)
def test_parse_path_address_errors(text):
    """Not an address: no domain, empty parts, double dots, bad labels, too long, not ASCII."""
    with pytest.raises(AddressSyntaxError):
        parse_path(text)


# -- replies ---------------------------------------------------------------------------


def test_reply_single_and_multi_line():
    """The last line has a space after the code, earlier lines a dash (RFC 5321 4.2.1)."""
    assert Reply(250, "OK", "2.0.0").to_bytes() == b"250 2.0.0 OK\r\n"
    assert Reply(250, ("a", "b", "c")).to_bytes() == b"250-a\r\n250-b\r\n250 c\r\n"
    assert Reply(220, "hi").to_bytes() == b"220 hi\r\n"


def test_reply_text_cannot_forge_lines():
    """CR, LF and other control characters in reply text become '?'."""
    assert Reply(550, "x\r\n250 OK", "5.0.0").to_bytes() == b"550 5.0.0 x??250 OK\r\n"
