"""permessage-deflate (RFC 7692): the Autobahn cases 12 and 13 (bounded: 10
messages per case), the negotiation of its parameters, and the bound on
inflating (a deflate bomb gets 1009).

The client is the ``websockets`` library (its sans-I/O protocol against the
codec; its client over real sockets against the engine's echo server): it
compresses what it sends and inflates what we send with its own zlib
settings, so both directions are checked by an independent peer.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import pytest
from websockets.client import ClientProtocol
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.frames import Frame, Opcode as WOpcode
from websockets.sync.client import connect
from websockets.uri import parse_uri
from ws_cases import (
    DEFLATE_OFFERS,
    DEFLATE_SIZES,
    MESSAGES_PER_CASE,
    offer_header,
    sample_data,
    slices,
)
from ws_socket_harness import EchoServer

from reality.net.protocols.http import Headers, RequestHead, RequestParser
from reality.net.protocols.websocket import (
    BinaryMessage,
    CloseReceived,
    DeflateParams,
    HandshakeAccept,
    Role,
    TextMessage,
    WebSocketConnection,
    encode_frame,
    server_handshake,
)
from reality.net.protocols.websocket.deflate import (
    ExtensionError,
    client_accept,
    parse_extensions,
    server_negotiate,
)

# (case group, data kind, text?, offers)
GROUPS = [
    ("12.1", "json", True, [(False, 0)]),
    ("12.2", "image", False, [(False, 0)]),
    ("12.3", "book", False, [(False, 0)]),
    ("12.4", "book", True, [(False, 0)]),
    ("12.5", "random", False, [(False, 0)]),
] + [(f"13.{i}", "json", True, offers) for i, offers in enumerate(DEFLATE_OFFERS, 1)]

CASES = [
    (f"{group}.{i}", kind, text, offers, size, frag)
    for group, kind, text, offers in GROUPS
    for i, (size, frag) in enumerate(DEFLATE_SIZES, 1)
]
_DATA: dict[str, bytes] = {}


def data_for(kind: str) -> bytes:
    if kind not in _DATA:
        _DATA[kind] = sample_data(kind)
    return _DATA[kind]


def factories(offers: list[tuple[bool, int]]) -> list[ClientPerMessageDeflateFactory]:
    return [
        ClientPerMessageDeflateFactory(
            server_no_context_takeover=no_context,
            client_no_context_takeover=True,
            server_max_window_bits=bits or None,
            client_max_window_bits=True,
        )
        for no_context, bits in offers
    ]


def send_message(client: ClientProtocol, payload: bytes, text: bool, frag: int) -> None:
    """One message from the client, in frames of ``frag`` bytes (0: one frame)."""
    if not frag or len(payload) <= frag:
        (client.send_text if text else client.send_binary)(payload)
        return
    pieces = [payload[i : i + frag] for i in range(0, len(payload), frag)]
    (client.send_text if text else client.send_binary)(pieces[0], fin=False)
    for j, piece in enumerate(pieces[1:], 2):
        client.send_continuation(piece, fin=j == len(pieces))


def handshake(client: ClientProtocol) -> WebSocketConnection:
    """The opening handshake between the websockets client and our server functions."""
    client.send_request(client.connect())
    request = b"".join(client.data_to_send())
    events = RequestParser().receive(request)
    head = events[0]
    assert isinstance(head, RequestHead)
    answer = server_handshake(head.method, head.headers, subprotocols=[])
    assert isinstance(answer, HandshakeAccept)
    lines = ["HTTP/1.1 101 Switching Protocols"] + [f"{k}: {v}" for k, v in answer.response_headers]
    client.receive_data(("\r\n".join(lines) + "\r\n\r\n").encode())
    assert client.handshake_exc is None, client.handshake_exc
    client.events_received()  # the 101 response
    assert answer.extensions is not None
    return WebSocketConnection(Role.SERVER, deflate=answer.extensions, max_message=1 << 20)


@pytest.mark.parametrize(
    "case_id, kind, text, offers, size, frag", CASES, ids=[case[0] for case in CASES]
)
def test_deflate_case_against_the_codec(case_id, kind, text, offers, size, frag):
    """10 compressed messages of ``size`` bytes echo back intact, each way compressed."""
    client = ClientProtocol(parse_uri("ws://x/"), extensions=factories(offers), max_size=None)
    server = handshake(client)
    for payload in slices(data_for(kind), size, MESSAGES_PER_CASE, text):
        send_message(client, payload, text, frag)
        wire = b"".join(client.data_to_send())
        assert wire[0] & 0x40, "the client compressed its message"
        events = server.receive_data(wire)
        assert len(events) == 1
        event = events[0]
        if text:
            assert event == TextMessage(payload.decode())
            server.send_text(event.text)  # type: ignore[union-attr]
        else:
            assert event == BinaryMessage(payload)
            server.send_binary(event.data)  # type: ignore[union-attr]
        back = server.data_to_send()
        assert back[0] & 0x40, "we compressed our answer"
        client.receive_data(back)
        (frame,) = client.events_received()
        assert isinstance(frame, Frame)
        assert frame.opcode == (WOpcode.TEXT if text else WOpcode.BINARY)
        assert frame.data == payload


@pytest.fixture(scope="module")
def deflate_server() -> Iterator[EchoServer]:
    server = EchoServer("selector")
    yield server
    err = server.stop()
    assert "Traceback" not in err, err


# Over sockets: every group, the sizes up to 16 KiB whole and 128 KiB in 1 KiB+
# fragments (the 256-byte fragmentations run against the codec above).
SOCKET_CASES = [c for c in CASES if (c[4] <= 16384 and not c[5]) or c[5] >= 1024]


@pytest.mark.parametrize(
    "case_id, kind, text, offers, size, frag", SOCKET_CASES, ids=[c[0] for c in SOCKET_CASES]
)
def test_deflate_case_over_sockets(deflate_server, case_id, kind, text, offers, size, frag):
    """The same over TCP against the engine's echo server, with the websockets client."""
    with connect(
        deflate_server.url,
        extensions=factories(offers),
        compression=None,
        max_size=None,
        open_timeout=5,
        close_timeout=5,
    ) as ws:
        assert ws.protocol.extensions, "permessage-deflate was negotiated"
        for payload in slices(data_for(kind), size, MESSAGES_PER_CASE, text):
            message: str | bytes = payload.decode() if text else payload
            if frag and len(payload) > frag:
                pieces = [message[i : i + frag] for i in range(0, len(message), frag)]
                ws.send(pieces)
            else:
                ws.send(message)
            assert ws.recv(timeout=5) == message


# -- negotiation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "offer, params, response",
    [
        ("permessage-deflate", DeflateParams(), "permessage-deflate"),
        (
            "permessage-deflate; client_max_window_bits",
            DeflateParams(),
            "permessage-deflate",
        ),
        (
            "permessage-deflate; client_max_window_bits=10",
            DeflateParams(client_max_window_bits=10),
            "permessage-deflate; client_max_window_bits=10",
        ),
        (
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
            DeflateParams(True, True),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        ),
        (
            "permessage-deflate; server_max_window_bits=8",
            DeflateParams(server_max_window_bits=9),
            "permessage-deflate; server_max_window_bits=9",
        ),
        (
            'permessage-deflate; server_max_window_bits="12"',
            DeflateParams(server_max_window_bits=12),
            "permessage-deflate; server_max_window_bits=12",
        ),
        (
            "x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=16, "
            "permessage-deflate; server_no_context_takeover",
            DeflateParams(server_no_context_takeover=True),
            "permessage-deflate; server_no_context_takeover",
        ),
    ],
)
def test_negotiation_takes_the_first_acceptable_offer(offer, params, response):
    """The server accepts the first valid permessage-deflate offer (RFC 7692 §5.1),
    answering an 8-bit window with 9 (zlib's smallest for deflate)."""
    assert server_negotiate(offer) == (params, response)


@pytest.mark.parametrize(
    "offer",
    [
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=08",
        "permessage-deflate; client_max_window_bits=16",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; unknown_parameter",
        'permessage-deflate; server_max_window_bits="10',
        "deflate-stream",
        "",
    ],
)
def test_invalid_offers_are_declined(offer):
    """An offer with a bad, repeated or unknown parameter is declined (no extension)."""
    assert server_negotiate(offer) is None


def test_offers_in_handshake_headers_and_disabled_deflate():
    """server_handshake negotiates from Sec-WebSocket-Extensions, unless told not to."""
    headers = Headers(
        [
            ("Host", "x"),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Extensions", offer_header([(True, 10)])),
        ]
    )
    answer = server_handshake("GET", headers, subprotocols=[])
    assert isinstance(answer, HandshakeAccept)
    assert answer.extensions == DeflateParams(True, True, 10, 15)
    assert ("Sec-WebSocket-Extensions", answer.extensions.header_value()) in answer.response_headers
    off = server_handshake("GET", headers, subprotocols=[], deflate=False)
    assert isinstance(off, HandshakeAccept) and off.extensions is None
    assert all(name != "Sec-WebSocket-Extensions" for name, _ in off.response_headers)


def test_client_accept_checks_the_servers_answer():
    """The client's side of the negotiation refuses what it did not offer."""
    assert client_accept("permessage-deflate; server_max_window_bits=10") == DeflateParams(
        server_max_window_bits=10
    )
    with pytest.raises(ExtensionError):
        client_accept("permessage-deflate, permessage-deflate")
    with pytest.raises(ExtensionError):
        client_accept("other-extension")
    assert parse_extensions('a; b="c, d", e') == [("a", [("b", "c, d")]), ("e", [])]


# -- bounds ------------------------------------------------------------------------------------


def compressed(data: bytes, wbits: int = 15) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -wbits)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def test_a_deflate_bomb_gets_1009_without_inflating_it():
    """50 MiB of zeros in 50 KB: refused with 1009 once 1 MiB is inflated."""
    server = WebSocketConnection(Role.SERVER, deflate=DeflateParams())
    bomb = compressed(b"\0" * (50 << 20))
    assert len(bomb) < 60_000
    events = server.receive_data(encode_frame(2, bomb, rsv1=True, mask=b"abcd"))
    assert events == [CloseReceived(1009, "message inflates past 1048576 bytes")]
    assert server.data_to_send()[:4] == b"\x88\x25\x03\xf1"


def test_a_bomb_spread_over_fragments_is_refused_too():
    """The bound counts the whole message, across its frames."""
    server = WebSocketConnection(Role.SERVER, deflate=DeflateParams(), max_message=100_000)
    payload = compressed(b"a" * 300_000)
    half = len(payload) // 2
    events = server.receive_data(
        encode_frame(1, payload[:half], fin=False, rsv1=True, mask=b"abcd")
        + encode_frame(0, payload[half:], mask=b"abcd")
    )
    assert [type(e) for e in events] == [CloseReceived] and events[0].code == 1009  # type: ignore[union-attr]


def test_corrupt_compressed_data_is_1007():
    """Bytes that do not inflate fail the connection with 1007, never an exception."""
    server = WebSocketConnection(Role.SERVER, deflate=DeflateParams())
    events = server.receive_data(encode_frame(1, b"\xff\xff\xff\xff", rsv1=True, mask=b"abcd"))
    assert [type(e) for e in events] == [CloseReceived] and events[0].code == 1007  # type: ignore[union-attr]


def test_context_takeover_and_no_context_takeover():
    """With context takeover a repeated message compresses to fewer bytes; without, to
    the same bytes each time (the window is emptied)."""
    for no_context in (False, True):
        params = DeflateParams(server_no_context_takeover=no_context)
        server = WebSocketConnection(Role.SERVER, deflate=params)
        sizes = []
        for _ in range(3):
            server.send_text("the same sentence, over and over again")
            sizes.append(len(server.data_to_send()))
        if no_context:
            assert sizes[0] == sizes[1] == sizes[2]
        else:
            assert sizes[1] < sizes[0]


def test_rsv1_on_a_continuation_or_a_control_frame_is_1002():
    """RSV1 marks only a message's first frame (RFC 7692 §6.1)."""
    for data in (
        encode_frame(1, compressed(b"x"), fin=False, rsv1=True, mask=b"abcd")
        + encode_frame(0, b"", rsv1=True, mask=b"abcd"),
        encode_frame(9, b"", rsv1=True, mask=b"abcd"),
    ):
        server = WebSocketConnection(Role.SERVER, deflate=DeflateParams())
        events = server.receive_data(data)
        assert events[-1] == CloseReceived(1002, events[-1].reason)  # type: ignore[union-attr]
