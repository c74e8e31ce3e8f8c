"""The sans-I/O WebSocket codec: byte-exact transcripts (RFC 6455 §5.7, RFC
7692 §7.2.3), the opening handshake, limits, the closing handshake, and
properties (any split of the input gives the same events; masking is its
own inverse; any fragmentation reassembles; no input makes it raise)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from reality.net.protocols.http import Headers
from reality.net.protocols.websocket import (
    BinaryMessage,
    ClientAccept,
    CloseReceived,
    DeflateParams,
    HandshakeAccept,
    HandshakeError,
    HandshakeReject,
    Ping,
    Pong,
    Role,
    State,
    TextMessage,
    WebSocketConnection,
    accept_key,
    client_request,
    client_verify,
    encode_frame,
    mask_payload,
    parse_response_head,
    server_handshake,
)

MASK = bytes.fromhex("37fa213d")


def server(**kw) -> WebSocketConnection:
    return WebSocketConnection(Role.SERVER, **kw)


def client(**kw) -> WebSocketConnection:
    return WebSocketConnection(Role.CLIENT, **kw)


# -- transcripts -----------------------------------------------------------------------------


def test_rfc_6455_examples_are_read():
    """The frames of RFC 6455 §5.7 decode to the messages it says."""
    s = server()
    assert s.receive_data(bytes.fromhex("818537fa213d7f9f4d5158")) == [TextMessage("Hello")]
    assert s.receive_data(
        encode_frame(1, b"Hel", fin=False, mask=MASK) + encode_frame(0, b"lo", mask=MASK)
    ) == [TextMessage("Hello")]
    assert s.receive_data(bytes.fromhex("898537fa213d7f9f4d5158")) == [Ping(b"Hello")]
    assert s.data_to_send() == bytes.fromhex("8a0548656c6c6f")  # the pong, unmasked
    c = client()
    assert c.receive_data(bytes.fromhex("810548656c6c6f")) == [TextMessage("Hello")]
    assert c.receive_data(bytes.fromhex("010348656c") + bytes.fromhex("80026c6f")) == [
        TextMessage("Hello")
    ]
    assert c.receive_data(b"\x82\x7e\x01\x00" + bytes(256)) == [BinaryMessage(bytes(256))]
    assert c.receive_data(b"\x82\x7f" + (65536).to_bytes(8, "big") + bytes(65536)) == [
        BinaryMessage(bytes(65536))
    ]


def test_server_frames_are_byte_exact():
    """What a server writes: unmasked, minimal lengths (RFC 6455 §5.2, §5.7)."""
    s = server()
    s.send_text("Hello")
    s.send_binary(bytes(256))
    s.send_binary(bytes(65536))
    s.send_ping(b"Hello")
    s.send_close(1001, "going")
    assert s.data_to_send() == (
        bytes.fromhex("810548656c6c6f")
        + b"\x82\x7e\x01\x00"
        + bytes(256)
        + b"\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00"
        + bytes(65536)
        + bytes.fromhex("890548656c6c6f")
        + b"\x88\x07\x03\xe9going"
    )
    assert s.state is State.CLOSING
    s.send_text("too late")
    assert s.data_to_send() == b""


def test_client_frames_are_masked():
    """A client masks every frame with a fresh key; the server reads them back."""
    c = client()
    c.send_text("Hello")
    c.send_text("Hello")
    wire = c.data_to_send()
    assert wire[1] == 0x85 and wire[12] == 0x85 and wire[2:6] != wire[13:17]
    assert server().receive_data(wire) == [TextMessage("Hello"), TextMessage("Hello")]


def test_rfc_7692_examples():
    """ "Hello" compressed is f2 48 cd c9 c9 07 00, then f2 00 11 00 00 with
    context takeover (RFC 7692 §7.2.3.1-2); both decode."""
    s = server(deflate=DeflateParams())
    s.send_text("Hello")
    s.send_text("Hello")
    assert s.data_to_send() == bytes.fromhex("c107f248cdc9c90700") + bytes.fromhex("c105f200110000")
    c = client(deflate=DeflateParams())
    assert c.receive_data(bytes.fromhex("c107f248cdc9c90700c105f200110000")) == [
        TextMessage("Hello"),
        TextMessage("Hello"),
    ]
    # §7.2.3.3: a compressed message may be split over frames, RSV1 on the first only.
    assert c.receive_data(bytes.fromhex("4103f248cd") + bytes.fromhex("8004c9c90700")) == [
        TextMessage("Hello")
    ]


def test_closing_handshake_peer_first():
    """The peer's Close is echoed (after our answers to what came before) and ends it."""
    s = server()
    events = s.receive_data(
        encode_frame(1, b"hi", mask=MASK) + encode_frame(8, b"\x03\xe8bye", mask=MASK)
    )
    assert events == [TextMessage("hi"), CloseReceived(1000, "bye")]
    assert s.state is State.CLOSED and s.close_code == 1000 and s.close_reason == "bye"
    s.send_text("hi")  # an answer to the message before the Close still goes first
    assert s.data_to_send() == b"\x81\x02hi\x88\x02\x03\xe8"
    assert s.receive_data(encode_frame(1, b"more", mask=MASK)) == []
    assert not s.failed


def test_closing_handshake_we_first():
    """After our Close we wait for the peer's; messages before it are still read."""
    c = client()
    c.send_close(4000, "done")
    assert c.state is State.CLOSING
    c.data_to_send()
    assert c.receive_data(b"\x81\x01x" + b"\x88\x02\x0f\xa0") == [
        TextMessage("x"),
        CloseReceived(4000, ""),
    ]
    assert c.state is State.CLOSED and c.data_to_send() == b""


@pytest.mark.parametrize("code", [999, 1004, 1005, 1006, 1015, 2999, 5000])
def test_send_close_refuses_codes_that_may_not_be_sent(code):
    """send_close takes only codes allowed on the wire (RFC 6455 §7.4)."""
    with pytest.raises(ValueError):
        server().send_close(code)


def test_long_close_reason_is_cut_at_a_character_boundary():
    """A reason is cut to 123 bytes of UTF-8 without splitting a character."""
    s = server()
    s.send_close(1000, "é" * 100)
    frame = s.data_to_send()
    assert frame[1] <= 125
    frame[4:].decode("utf-8")


# -- failures --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "role, data, code",
    [
        (Role.SERVER, encode_frame(1, b"unmasked"), 1002),
        (Role.CLIENT, encode_frame(1, b"masked", mask=MASK), 1002),
        (Role.SERVER, encode_frame(1, b"x", rsv1=True, mask=MASK), 1002),
        (Role.SERVER, b"\x81\xff\x80" + bytes(7) + MASK, 1002),  # 64-bit length, top bit
        (Role.SERVER, encode_frame(1, b"\xc3\x28", mask=MASK), 1007),
        (Role.SERVER, encode_frame(8, b"\x03\xe8\xff", mask=MASK), 1007),
        (Role.SERVER, encode_frame(8, b"\x03", mask=MASK), 1002),
    ],
)
def test_protocol_errors_close_with_their_code(role, data, code):
    """Each violation gives one CloseReceived with our code and a queued Close frame."""
    conn = WebSocketConnection(role)
    events = conn.receive_data(data)
    assert len(events) == 1 and isinstance(events[0], CloseReceived)
    assert events[0].code == code and conn.failed and conn.state is State.CLOSED
    out = conn.data_to_send()
    assert out[0] == 0x88
    assert conn.receive_data(encode_frame(1, b"ignored", mask=MASK)) == []


def test_frame_over_max_frame_is_refused_from_its_header():
    """A frame announcing more than max_frame is refused before its payload comes."""
    s = server(max_frame=1000)
    events = s.receive_data(b"\x82\xfe\x03\xe9" + MASK)  # 1001 bytes announced, none sent
    assert events == [CloseReceived(1009, "frame of 1001 bytes exceeds 1000")]


def test_message_over_max_message_across_fragments():
    """Fragments adding up to more than max_message: 1009 at the frame that crosses."""
    s = server(max_message=10)
    events = s.receive_data(
        encode_frame(2, b"123456", fin=False, mask=MASK) + encode_frame(0, b"78901", mask=MASK)
    )
    assert events == [CloseReceived(1009, "message exceeds 10 bytes")]


def test_fail_fast_on_invalid_utf8_in_a_fragment():
    """Autobahn 6.4.1/6.4.2: invalid UTF-8 in a fragment fails before the rest comes."""
    s = server()
    first = encode_frame(1, "κόσμε".encode(), fin=False, mask=MASK)
    assert s.receive_data(first) == []
    events = s.receive_data(encode_frame(0, b"\xf4\x90\x80\x80", fin=False, mask=MASK))
    assert [e.code for e in events] == [1007]  # type: ignore[union-attr]
    s = server()
    assert s.receive_data(encode_frame(1, "κόσμε".encode() + b"\xf4", fin=False, mask=MASK)) == []
    events = s.receive_data(encode_frame(0, b"\x90", fin=False, mask=MASK))
    assert [e.code for e in events] == [1007]  # type: ignore[union-attr]


@pytest.mark.parametrize("bad", [b"\xf4\x90\x80\x80", b"\xed\xa0\x80"])
def test_fail_fast_inside_one_frame(bad):
    """Autobahn 6.4.3/6.4.4: a frame's payload arriving in pieces is checked piece by
    piece: the failure comes with the first invalid bytes, not with the frame's end."""
    payload = "κόσμε".encode() + bad + b"edited"
    frame = encode_frame(1, payload, mask=MASK)
    s = server()
    cut = len(frame) - len(payload) + len("κόσμε".encode()) + 2
    assert s.receive_data(frame[: cut - 2]) == []
    events = s.receive_data(frame[cut - 2 : cut])
    assert [e.code for e in events] == [1007]  # type: ignore[union-attr]


def test_control_frames_interleave_with_fragments():
    """A ping between fragments is answered at once; the message still reassembles."""
    s = server()
    events = s.receive_data(
        encode_frame(1, b"frag", fin=False, mask=MASK)
        + encode_frame(9, b"p", mask=MASK)
        + encode_frame(10, b"q", mask=MASK)
        + encode_frame(0, b"ment", mask=MASK)
    )
    assert events == [Ping(b"p"), Pong(b"q"), TextMessage("fragment")]
    assert s.data_to_send() == b"\x8a\x01p"


# -- the opening handshake --------------------------------------------------------------------


def request(**fields: str) -> Headers:
    base = {
        "Host": "example.com",
        "Upgrade": "websocket",
        "Connection": "keep-alive, Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
    }
    base.update({k.replace("_", "-"): v for k, v in fields.items()})
    return Headers([(k, v) for k, v in base.items() if v])


def test_accept_key_of_rfc_6455():
    """The RFC's own example (§1.3)."""
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_server_handshake_accepts():
    """A valid request: 101 headers with the accept key, no subprotocol or extension
    unless asked."""
    answer = server_handshake("GET", request(), subprotocols=["a"], deflate=False)
    assert answer == HandshakeAccept(
        None,
        None,
        [
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        ],
    )


@pytest.mark.parametrize(
    "offered, ours, default, chosen, header",
    [
        ("b, a", ["a", "b"], None, "a", "a"),  # our preference wins
        ("c, b", ["a", "b"], None, "b", "b"),
        ("x, y", ["a", "b"], "a", None, None),  # only unknown ones: None, caller decides
        ("", ["a", "b"], "a", "a", None),  # none asked: the default, not echoed
        ("", ["a"], None, None, None),
    ],
)
def test_subprotocol_choice(offered, ours, default, chosen, header):
    """The first of our subprotocols the client offered; the default if it offered
    none (never sent back: the client did not ask); None for only unknown ones."""
    answer = server_handshake(
        "GET",
        request(Sec_WebSocket_Protocol=offered),
        subprotocols=ours,
        default_subprotocol=default,
    )
    assert isinstance(answer, HandshakeAccept)
    assert answer.subprotocol == chosen
    sent = [v for k, v in answer.response_headers if k == "Sec-WebSocket-Protocol"]
    assert sent == ([header] if header else [])


@pytest.mark.parametrize(
    "method, fields, status, extra",
    [
        ("POST", {}, 405, ("Allow", "GET")),
        ("GET", {"Upgrade": ""}, 426, ("Upgrade", "websocket")),
        ("GET", {"Connection": "keep-alive"}, 426, ("Upgrade", "websocket")),
        ("GET", {"Sec_WebSocket_Version": ""}, 400, None),
        ("GET", {"Sec_WebSocket_Version": "8"}, 426, ("Sec-WebSocket-Version", "13")),
        ("GET", {"Sec_WebSocket_Key": ""}, 400, None),
        ("GET", {"Sec_WebSocket_Key": "c2hvcnQ="}, 400, None),
        ("GET", {"Sec_WebSocket_Key": "not base64!!"}, 400, None),
    ],
)
def test_server_handshake_rejects(method, fields, status, extra):
    """Bad requests are refused with the status RFC 6455 §4.2.2 asks for."""
    answer = server_handshake(method, request(**fields), subprotocols=[])
    assert isinstance(answer, HandshakeReject) and answer.status == status
    if extra:
        assert extra in answer.headers


def test_client_side_of_the_handshake():
    """client_request and client_verify agree with server_handshake; a wrong answer fails."""
    key, fields = client_request("h:1", "/ws", subprotocols=["p"], origin="http://h:1")
    answer = server_handshake("GET", Headers(fields), subprotocols=["p"])
    assert isinstance(answer, HandshakeAccept)
    raw = "HTTP/1.1 101 Switching Protocols\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in answer.response_headers
    )
    status, headers, rest = parse_response_head((raw + "\r\n").encode() + b"\x81\x00")  # type: ignore[misc]
    assert rest == b"\x81\x00"
    assert client_verify(key, status, headers, subprotocols=["p"]) == ClientAccept(
        "p", DeflateParams()
    )
    with pytest.raises(HandshakeError):
        client_verify("AAAAAAAAAAAAAAAAAAAAAA==", status, headers, subprotocols=["p"])
    with pytest.raises(HandshakeError):
        client_verify(key, status, headers, subprotocols=["q"])
    with pytest.raises(HandshakeError):
        client_verify(key, 200, headers, subprotocols=["p"])
    assert parse_response_head(b"HTTP/1.1 101 Switching") is None


# -- properties --------------------------------------------------------------------------------

messages = st.one_of(
    st.text(max_size=300).map(TextMessage), st.binary(max_size=300).map(BinaryMessage)
)


def wire_of(msgs, sizes, with_pings: bool) -> bytes:
    """Messages as masked client frames, fragmented by ``sizes``, pings between."""
    out = []
    for i, message in enumerate(msgs):
        opcode = 1 if isinstance(message, TextMessage) else 2
        data = message.text.encode() if isinstance(message, TextMessage) else message.data
        size = sizes[i % len(sizes)]
        pieces = [data[j : j + size] for j in range(0, len(data), size)] or [b""]
        for k, piece in enumerate(pieces):
            out.append(
                encode_frame(
                    opcode if k == 0 else 0, piece, fin=k == len(pieces) - 1, random_mask=True
                )
            )
            if with_pings and k < len(pieces) - 1:
                out.append(encode_frame(9, b"ping", random_mask=True))
    return b"".join(out)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(messages, max_size=6),
    st.lists(st.integers(1, 50), min_size=1, max_size=4),
    st.booleans(),
)
def test_random_fragmentations_reassemble(msgs, sizes, with_pings):
    """However messages are fragmented (with pings between fragments), they arrive whole."""
    events = server().receive_data(wire_of(msgs, sizes, with_pings))
    assert [e for e in events if not isinstance(e, Ping)] == msgs


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(messages, max_size=5),
    st.lists(st.integers(1, 40), min_size=1, max_size=3),
    st.lists(st.integers(0, 2000), max_size=10),
    st.booleans(),
)
def test_any_split_gives_the_same_events(msgs, sizes, cuts, deflate):
    """Feeding the bytes in any pieces gives exactly the events of feeding them at once
    (and the same bytes out)."""
    params = DeflateParams() if deflate else None
    sender = client(deflate=params)
    for message in msgs:
        if isinstance(message, TextMessage):
            sender.send_text(message.text)
        else:
            sender.send_binary(message.data)
        sender.send_ping(b"p")
    wire = (
        sender.data_to_send()
        + wire_of(msgs, sizes, True)
        + encode_frame(8, b"\x03\xe8", random_mask=True)
    )
    whole = server(deflate=params)
    expected = whole.receive_data(wire)
    pieces = server(deflate=params)
    got = []
    points = sorted({c % (len(wire) + 1) for c in cuts})
    start = 0
    for point in points + [len(wire)]:
        got += pieces.receive_data(wire[start:point])
        start = point
    assert got == expected
    assert pieces.data_to_send() == whole.data_to_send()
    assert [e for e in expected if isinstance(e, TextMessage | BinaryMessage)] == msgs * 2


@given(st.binary(min_size=4, max_size=4), st.binary(max_size=200), st.integers(0, 200))
def test_masking_round_trips(mask, data, cut):
    """Masking is its own inverse, and masking in pieces (with the offset) equals
    masking at once."""
    assert mask_payload(mask, mask_payload(mask, data)) == data
    cut = min(cut, len(data))
    assert mask_payload(mask, data[:cut]) + mask_payload(mask, data[cut:], cut) == mask_payload(
        mask, data
    )


@settings(max_examples=300)
@given(st.binary(max_size=400), st.sampled_from(list(Role)), st.booleans())
def test_the_codec_never_raises(data, role, deflate):
    """Arbitrary bytes never make receive_data raise; a failure is an event."""
    conn = WebSocketConnection(
        role, deflate=DeflateParams() if deflate else None, max_message=1000, max_frame=500
    )
    events = conn.receive_data(data) + conn.receive_data(data[::-1])
    conn.data_to_send()
    closes = [e for e in events if isinstance(e, CloseReceived)]
    assert len(closes) <= 1
    if closes:
        assert conn.state is State.CLOSED


@settings(max_examples=100)
@given(st.lists(messages, max_size=5), st.booleans())
def test_client_to_server_round_trip(msgs, deflate):
    """What our client role sends, our server role reads, and back."""
    params = DeflateParams() if deflate else None
    c, s = client(deflate=params), server(deflate=params)
    for message in msgs:
        if isinstance(message, TextMessage):
            c.send_text(message.text)
        else:
            c.send_binary(message.data)
    got = s.receive_data(c.data_to_send())
    assert got == msgs
    for message in got:
        if isinstance(message, TextMessage):
            s.send_text(message.text)
        else:
            s.send_binary(message.data)  # type: ignore[union-attr]
    assert c.receive_data(s.data_to_send()) == msgs
