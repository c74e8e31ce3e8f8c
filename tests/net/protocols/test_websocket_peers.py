"""Independent WebSocket clients against the engine's echo server over real
sockets on 127.0.0.1: the ``websockets`` library and ``wsproto``
(handshake and subprotocols, echo, close codes, permessage-deflate, refused
handshakes), on both reactors."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect
from ws_socket_harness import TIMEOUT, EchoServer
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Request as WRequest,
    TextMessage as WText,
)
from wsproto.extensions import PerMessageDeflate


@pytest.fixture(scope="module", params=["selector", "asyncio"])
def server(request) -> Iterator[EchoServer]:
    s = EchoServer(request.param)
    yield s
    err = s.stop()
    assert "Traceback" not in err, err


def test_websockets_handshake_and_subprotocols(server):
    """The first of our subprotocols the client offers is chosen; with none offered,
    none is named in the answer; deflate is negotiated by default."""
    with connect(server.url, subprotocols=["nope", "chat"], open_timeout=5) as ws:
        assert ws.subprotocol == "chat"
        assert ws.protocol.extensions
    with connect(server.url, compression=None, open_timeout=5) as ws:
        assert ws.subprotocol is None and not ws.protocol.extensions


@pytest.mark.parametrize("compression", ["deflate", None])
def test_websockets_echo(server, compression):
    """Text and binary messages, small and large, fragmented or not, come back."""
    with connect(server.url, compression=compression, max_size=None, open_timeout=5) as ws:
        for message in ["héllo", b"\x00\xff" * 40000, "x" * 200_000, ""]:
            ws.send(message)
            assert ws.recv(timeout=TIMEOUT) == message
        ws.send(["frag", "ment"])
        assert ws.recv(timeout=TIMEOUT) == "fragment"
        ws.ping(b"are you there").wait(TIMEOUT)


@pytest.mark.parametrize("code", [1000, 1001, 3000, 4999])
def test_websockets_close_codes(server, code):
    """The client's close code is echoed back; the server's own close is reported."""
    with connect(server.url, open_timeout=5) as ws:
        ws.close(code, "bye")
        assert ws.close_code == code
    with connect(server.url, open_timeout=5) as ws:
        ws.send(f"close {code} server says bye")
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=TIMEOUT)
        assert info.value.rcvd is not None and info.value.rcvd.code == code
        assert info.value.rcvd.reason == "server says bye"


def test_refused_handshakes_are_http_answers(server):
    """A wrong version gets 426 with the version we speak (RFC 6455 §4.4); the
    websockets client reports a refusal as the status it got."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n"
        )
        data = sock.recv(65536)
    assert data.startswith(b"HTTP/1.1 426 ") and b"Sec-WebSocket-Version: 13\r\n" in data
    with pytest.raises(InvalidStatus) as info:
        connect(server.url, open_timeout=5, additional_headers={"Sec-WebSocket-Key": "short"})
    assert info.value.response.status_code == 400


def wsproto_session(port: int, deflate: bool) -> tuple[socket.socket, WSConnection]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    ws = WSConnection(ConnectionType.CLIENT)
    extensions = [PerMessageDeflate()] if deflate else []
    sock.sendall(
        ws.send(
            WRequest(host="127.0.0.1", target="/", subprotocols=["echo"], extensions=extensions)
        )
    )
    while True:
        data = sock.recv(65536)
        assert data
        ws.receive_data(data)
        events = list(ws.events())
        if events:
            assert isinstance(events[0], AcceptConnection), events
            assert events[0].subprotocol == "echo"
            assert bool(events[0].extensions) == deflate
            return sock, ws


def wsproto_receive(sock: socket.socket, ws: WSConnection) -> list[object]:
    got: list[object] = []
    while not got:
        data = sock.recv(1 << 20)
        ws.receive_data(data or None)
        got = list(ws.events())
        if not data:
            break
    return got


@pytest.mark.parametrize("deflate", [False, True])
def test_wsproto_echo_and_close(server, deflate):
    """wsproto: handshake with a subprotocol, echo of text and bytes, closing handshake."""
    sock, ws = wsproto_session(server.port, deflate)
    with sock:
        sock.sendall(ws.send(WText(data="hello from wsproto")))
        (event,) = wsproto_receive(sock, ws)
        assert isinstance(event, WText) and event.data == "hello from wsproto"
        payload = bytes(range(256)) * 100
        sock.sendall(ws.send(BytesMessage(data=payload)))
        parts = []
        while sum(len(p) for p in parts) < len(payload):
            for event in wsproto_receive(sock, ws):
                assert isinstance(event, BytesMessage)
                parts.append(bytes(event.data))
        assert b"".join(parts) == payload
        sock.sendall(ws.send(CloseConnection(code=4321, reason="wsproto done")))
        (event,) = wsproto_receive(sock, ws)
        assert isinstance(event, CloseConnection) and event.code == 4321
        assert sock.recv(10) == b""  # the server closes the TCP connection first


def test_plain_http_get_is_told_to_upgrade(server):
    """A GET without Upgrade is answered 426 with Upgrade: websocket."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 426 ") and b"Upgrade: websocket\r\n" in data
