"""LineReceiver: lines at any read boundary, bounded buffers, raw mode."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from reality.net.protocols.basic import LineReceiver
from reality.net.testing import StringTransport


class Recorder(LineReceiver):
    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def line_received(self, line: bytes) -> None:
        self.events.append(("line", line))

    def line_length_exceeded(self, length: int) -> None:
        self.events.append(("too long", length))

    def raw_data_received(self, data: bytes) -> None:
        self.events.append(("raw", data))


def feed(chunks: list[bytes], **attrs: object) -> Recorder:
    proto = Recorder()
    for name, value in attrs.items():
        setattr(proto, name, value)
    proto.make_connection(StringTransport())
    for chunk in chunks:
        proto.data_received(chunk)
    return proto


def test_lines_are_delivered_without_delimiters():
    """Each CR LF-terminated line is delivered once, without its CR LF; a partial line waits."""
    proto = feed([b"one\r\ntwo\r\nthr", b"ee\r\n\r\npartial"])
    assert proto.events == [("line", b"one"), ("line", b"two"), ("line", b"three"),
                            ("line", b"")]
    assert proto.clear_line_buffer() == b"partial"


def test_custom_delimiter():
    """The delimiter is configurable (here a bare LF)."""
    proto = feed([b"a\nb\r\nc"], delimiter=b"\n")
    assert proto.events == [("line", b"a"), ("line", b"b\r")]


def test_overlong_line_is_dropped_and_reported_and_the_next_line_works():
    """A line over max_length is dropped (never buffered whole) and the protocol is told."""
    proto = feed([b"x" * 10, b"y" * 10, b"z" * 10, b"\r\nok\r\n"], max_length=8)
    assert proto.events == [("too long", 30), ("line", b"ok")]
    assert len(proto._buffer) == 0


def test_overlong_buffer_never_grows_without_bound():
    """A peer sending endless bytes without a delimiter costs at most max_length of memory."""
    proto = feed([b"a" * 1000] * 100, max_length=100)
    assert len(proto._buffer) <= 101
    proto.data_received(b"\r\nnext\r\n")
    assert proto.events == [("too long", 100_000), ("line", b"next")]


def test_delimiter_split_across_reads_while_discarding():
    """A CR LF split over two reads ends a discarded line correctly."""
    proto = feed([b"a" * 20 + b"\r", b"\nfine\r\n"], max_length=5)
    assert proto.events == [("too long", 20), ("line", b"fine")]


def test_raw_mode_and_back():
    """A line can switch to raw mode; the rest of the read arrives raw; line mode resumes."""

    class Switcher(Recorder):
        def line_received(self, line: bytes) -> None:
            super().line_received(line)
            if line == b"RAW":
                self.set_raw_mode()

    proto = Switcher()
    proto.make_connection(StringTransport())
    proto.data_received(b"head\r\nRAW\r\nbinary\x00\xff")
    proto.data_received(b"more")
    proto.set_line_mode(b"tail\r\n")
    assert proto.events == [("line", b"head"), ("line", b"RAW"), ("raw", b"binary\x00\xff"),
                            ("raw", b"more"), ("line", b"tail")]


def test_no_lines_after_the_protocol_closes():
    """Once the protocol has asked to close, the lines left in the read are not delivered."""

    class Closer(Recorder):
        def line_received(self, line: bytes) -> None:
            super().line_received(line)
            self.transport.lose_connection()

    proto = Closer()
    proto.make_connection(StringTransport())
    proto.data_received(b"QUIT\r\nEVIL\r\n")
    assert proto.events == [("line", b"QUIT")]


def test_send_line_appends_the_delimiter():
    """send_line writes the line and the delimiter."""
    proto = feed([])
    proto.send_line(b"hello")
    assert proto.transport.value() == b"hello\r\n"


@settings(max_examples=300, deadline=None)
@given(
    data=st.lists(st.sampled_from([b"a", b"bb", b"\r", b"\n", b"\r\n", b"x" * 7, b"\xff"]),
                  max_size=60).map(b"".join),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=20),
)
def test_any_split_gives_the_same_events(data, cuts):
    """However the stream is split into reads, the same lines and the same drops come out."""
    whole = feed([data], max_length=10)
    points = sorted({c for c in cuts if c <= len(data)})
    chunks = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    split = feed(chunks, max_length=10)
    assert split.events == whole.events
    assert split.clear_line_buffer() == whole.clear_line_buffer()
