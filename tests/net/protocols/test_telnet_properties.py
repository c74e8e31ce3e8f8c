"""Properties of the telnet codec: read boundaries do not matter, junk never raises,
and what one end sends the other receives."""

from __future__ import annotations

import zlib

from hypothesis import given, settings, strategies as st

from reality.net.protocols.telnet import (
    CompressionStarted,
    GmcpMessage,
    ProtocolError,
    TelnetCodec,
    TelnetConfig,
    TextLine,
)
from reality.net.protocols.telnet.options import (
    AYT,
    CHARSET,
    DO,
    DONT,
    EC,
    EL,
    GA,
    GMCP,
    IAC,
    IP,
    MCCP2,
    MSSP,
    NAWS,
    NOP,
    SB,
    SE,
    TTYPE,
    WILL,
    WONT,
)

# Pieces that steer the parser into every state, mixed with free bytes.
OPTIONS = st.sampled_from([1, 3, 24, 25, 31, 34, 42, 70, 86, 201, 99, 255])
TOKENS = st.one_of(
    st.binary(max_size=12),
    st.sampled_from([b"\r", b"\n", b"\r\n", b"\r\0", b"\0", b"\x08", b"\x7f", b"\xff\xff"]),
    st.text(max_size=6).map(str.encode),
    st.builds(lambda v, o: bytes([IAC, v, o]), st.sampled_from([WILL, WONT, DO, DONT]), OPTIONS),
    st.sampled_from([bytes([IAC, c]) for c in (NOP, GA, AYT, IP, EC, EL, SE, 239, 200)]),
    st.builds(
        lambda o, p: bytes([IAC, SB, o]) + p.replace(b"\xff", b"\xff\xff") + bytes([IAC, SE]),
        OPTIONS,
        st.binary(max_size=20),
    ),
    st.sampled_from(
        [
            bytes([IAC, SB, NAWS, 0, 80, 0, 24, IAC, SE]),
            bytes([IAC, SB, TTYPE, 0]) + b"XTERM" + bytes([IAC, SE]),
            bytes([IAC, SB, GMCP]) + b'Core.Hello {"a": [1, 2]}' + bytes([IAC, SE]),
            bytes([IAC, SB, CHARSET, 2]) + b"UTF-8" + bytes([IAC, SE]),
            bytes([IAC, SB, CHARSET, 1]) + b";UTF-8" + bytes([IAC, SE]),
            bytes([IAC, SB, MSSP, 1]) + b"NAME\x02X" + bytes([IAC, SE]),
            bytes([IAC, SB, GMCP]) + b"unterminated",
            bytes([IAC]),
            bytes([IAC, SB]),
        ]
    ),
)
STREAMS = st.lists(TOKENS, max_size=40).map(b"".join)


def new_server() -> TelnetCodec:
    codec = TelnetCodec(
        TelnetConfig.server(max_line=64, max_subnegotiation=32, negotiation_burst=30),
        clock=lambda: 0.0,
    )
    codec.start()
    codec.data_to_send()
    return codec


def feed(codec: TelnetCodec, chunks: list[bytes]) -> tuple[list[object], bytes]:
    events: list[object] = []
    out = b""
    for chunk in chunks:
        events += codec.receive(chunk)
        out += codec.data_to_send()
    return events, out


def decompressed(out: bytes) -> bytes:
    """The server's output with any MCCP2 stream inflated, so outputs compare by content."""
    marker = bytes([IAC, SB, MCCP2, IAC, SE])
    head, found, tail = out.partition(marker)
    if not found:
        return out
    return head + found + zlib.decompressobj().decompress(tail)


@settings(max_examples=300, deadline=None)
@given(STREAMS, st.lists(st.integers(min_value=0, max_value=2000), max_size=12))
def test_any_split_gives_the_same_events_and_output(stream, cuts):
    """Cutting the input anywhere, into any number of reads, changes neither the
    events nor the bytes the codec answers with."""
    whole_events, whole_out = feed(new_server(), [stream])
    points = sorted({c % (len(stream) + 1) for c in cuts})
    chunks = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    split_events, split_out = feed(new_server(), chunks)
    assert split_events == whole_events
    assert decompressed(split_out) == decompressed(whole_out)


@settings(max_examples=200, deadline=None)
@given(STREAMS)
def test_one_byte_reads_give_the_same_events(stream):
    """The extreme split: one byte per read."""
    whole_events, _ = feed(new_server(), [stream])
    bytewise_events, _ = feed(new_server(), [stream[i : i + 1] for i in range(len(stream))])
    assert bytewise_events == whole_events


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=8), st.sampled_from(["server", "client"]))
def test_random_bytes_never_raise_and_the_connection_recovers(chunks, role):
    """Random junk never raises out of receive(); afterwards an SE and a line get through."""
    config = TelnetConfig.server() if role == "server" else TelnetConfig.client()
    codec = TelnetCodec(config, clock=lambda: 0.0)
    codec.start()
    events: list[object] = []
    for chunk in chunks:
        events += codec.receive(chunk)
        codec.data_to_send()
    events = codec.receive(bytes([IAC, SE, IAC, SE]) + b"\r\nhello\r\n")
    if any(isinstance(e, ProtocolError) for e in events) or codec.decompressing:
        return  # junk after MCCP2 started on the client: that one cannot continue
    assert events[-1] == TextLine("hello")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=6))
def test_random_bytes_in_the_token_mix_never_raise(chunks):
    """Junk interleaved with valid negotiation never raises and leaves no error event."""
    codec = new_server()
    for chunk in chunks:
        events = codec.receive(chunk + bytes([IAC, WILL, NAWS]) + chunk)
        assert not any(isinstance(e, ProtocolError) for e in events)


LINE_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\0\x08\x7f"),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(LINE_TEXT, max_size=20), st.booleans())
def test_text_sent_by_one_end_is_received_by_the_other(texts, compress):
    """send_text on the server, receive on the client: the same lines, with or without MCCP2."""
    srv = TelnetCodec(TelnetConfig.server(), clock=lambda: 0.0)
    cli = TelnetCodec(TelnetConfig.client(), clock=lambda: 0.0)
    srv.start()
    if compress:
        cli.receive(srv.data_to_send())
        srv.receive(cli.data_to_send())
        assert srv.compressing
    else:
        srv.data_to_send()
    srv.send_text("".join(t + "\n" for t in texts))
    events = cli.receive(srv.data_to_send())
    assert [e.text for e in events if isinstance(e, TextLine)] == texts
    assert (CompressionStarted() in events) == compress


@settings(max_examples=100, deadline=None)
@given(
    st.from_regex(r"[A-Z][a-z]{0,8}(\.[A-Z][a-z]{0,8}){0,2}", fullmatch=True),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
        max_leaves=10,
    ),
)
def test_gmcp_round_trip(package, data):
    """Any JSON value sent as GMCP arrives equal (None means no body)."""
    srv = TelnetCodec(
        TelnetConfig.server(offer_local=(GMCP,), offer_remote=()), clock=lambda: 0.0
    )
    cli = TelnetCodec(TelnetConfig.client(), clock=lambda: 0.0)
    srv.start()
    cli.receive(srv.data_to_send())
    srv.receive(cli.data_to_send())
    assert srv.send_gmcp(package, data)
    assert cli.receive(srv.data_to_send()) == [GmcpMessage(package, data)]
