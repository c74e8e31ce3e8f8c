"""WebSocket on the engine, with fake time and a fake wire: the HTTP
channel's switch to another protocol (101), :class:`WebSocketProtocol`
(messages, keepalive, closing deadline, flow control) and
:class:`WebSocketTransport` (a byte-stream protocol over binary messages)."""

from __future__ import annotations

from http_harness import Harness

from reality.net.protocol import Protocol
from reality.net.protocols.basic import LineReceiver
from reality.net.protocols.http import Request, Response
from reality.net.protocols.websocket import (
    BinaryMessage,
    HandshakeReject,
    Role,
    State,
    TextMessage,
    WebSocketConnection,
    encode_frame,
    server_handshake,
)
from reality.net.protocols.websocket.protocol import (
    ByteStreamHandler,
    WebSocketHandler,
    WebSocketProtocol,
    WebSocketTransport,
)
from reality.net.testing import Clock, StringTransportWithDisconnection

MASK = b"abcd"
UPGRADE = (
    b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


class Recorder(WebSocketHandler):
    def __init__(self, echo: bool = True) -> None:
        self.echo = echo
        self.messages: list[object] = []
        self.closed: list[tuple[int | None, str]] = []
        self.paused = 0
        self.ws: WebSocketProtocol | None = None

    def connection_made(self, ws: WebSocketProtocol) -> None:
        self.ws = ws

    def message_received(self, message: TextMessage | BinaryMessage) -> None:
        self.messages.append(message)
        if self.echo and self.ws is not None and isinstance(message, TextMessage):
            self.ws.send_text(message.text)

    def connection_closed(self, code: int | None, reason: str) -> None:
        self.closed.append((code, reason))

    def pause_writing(self) -> None:
        self.paused += 1

    def resume_writing(self) -> None:
        self.paused -= 1


def websocket_site(recorder: Recorder, clock, **options):
    def handle(request: Request) -> Response:
        if request.path != "/ws":
            return Response.text("page")
        answer = server_handshake(request.method, request.headers, subprotocols=[])
        if isinstance(answer, HandshakeReject):
            return Response.text(answer.reason, answer.status, answer.headers)
        return Response(
            101,
            answer.response_headers,
            switch_to=lambda: WebSocketProtocol(recorder, clock, **options),
        )

    return handle


def make_harness(**options) -> tuple[Harness, Recorder]:
    recorder = Recorder()
    holder: dict[str, object] = {}

    def handler(request: Request) -> Response:
        return websocket_site(recorder, holder["clock"], **options)(request)

    h = Harness(handler, idle_timeout=15.0)
    holder["clock"] = h.clock
    return h, recorder


# -- the HTTP channel's switch -------------------------------------------------------------------


def test_upgrade_switches_protocols_and_hands_over_early_bytes():
    """101 with the handshake's fields, then the WebSocket owns the connection: the
    frame sent right behind the request reaches it too."""
    h, recorder = make_harness()
    out = h.send(UPGRADE + encode_frame(1, b"early", mask=MASK))
    head, _, rest = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head
    assert b"Connection: Upgrade" in head and b"Content-Length" not in head
    assert recorder.messages == [TextMessage("early")]
    assert rest == b"\x81\x05early"
    assert h.channel.switched_to is recorder.ws


def test_http_timeouts_stop_after_the_switch():
    """The HTTP idle timeout no longer applies to a switched connection."""
    h, recorder = make_harness(ping_interval=None)
    h.send(UPGRADE)
    h.clock.advance(3600)
    assert not h.transport.disconnecting
    assert h.factory.open_connections == 1
    h.channel.data_received(encode_frame(1, b"still here", mask=MASK))
    assert recorder.messages == [TextMessage("still here")]
    h.transport.lose_connection()
    assert h.factory.open_connections == 0
    assert recorder.closed == [(1006, "the connection was lost without a Close")]


def test_pipelined_request_before_the_upgrade_is_answered_first():
    """A GET before the upgrade request is answered, then the 101."""
    h, recorder = make_harness()
    out = h.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + UPGRADE)
    assert out.startswith(b"HTTP/1.1 200 ")
    assert b"HTTP/1.1 101 Switching Protocols" in out
    assert recorder.ws is not None


def test_declined_upgrade_keeps_the_connection_http():
    """An upgrade request answered with anything but 101 leaves the connection HTTP:
    the next request is parsed as HTTP."""
    h = Harness(lambda request: Response.text("no switching here"))
    out = h.send(UPGRADE + b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
    assert out.count(b"HTTP/1.1 200 ") == 2


def test_switch_to_without_an_upgrade_request_is_a_500(caplog):
    """switch_to on a request that did not ask to upgrade is a handler bug: 500."""
    h = Harness(lambda request: Response(101, switch_to=Protocol))
    assert h.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 500 ")


def test_a_refused_handshake_is_an_http_answer():
    """A wrong version is answered 426 with Sec-WebSocket-Version: 13."""
    h, _ = make_harness()
    out = h.send(UPGRADE.replace(b"Version: 13", b"Version: 8"))
    assert out.startswith(b"HTTP/1.1 426 ") and b"Sec-WebSocket-Version: 13\r\n" in out


# -- WebSocketProtocol ---------------------------------------------------------------


def connect(
    **options,
) -> tuple[WebSocketProtocol, Recorder, StringTransportWithDisconnection, Clock]:
    clock = Clock()
    recorder = Recorder()
    ws = WebSocketProtocol(recorder, clock, **options)
    transport = StringTransportWithDisconnection()
    transport.protocol = ws
    ws.make_connection(transport)
    return ws, recorder, transport, clock


def test_messages_in_and_echoes_out_in_one_write():
    """Every message of a read is delivered; the answers leave in one write."""
    ws, recorder, transport, _ = connect()
    ws.data_received(encode_frame(1, b"a", mask=MASK) + encode_frame(1, b"b", mask=MASK))
    assert recorder.messages == [TextMessage("a"), TextMessage("b")]
    assert transport.take() == b"\x81\x01a\x81\x01b"


def test_peer_close_is_answered_and_the_server_closes_tcp():
    """The peer's Close is echoed, the handler told once, the TCP connection closed."""
    ws, recorder, transport, _ = connect()
    ws.data_received(encode_frame(8, b"\x03\xe9bye", mask=MASK))
    assert transport.take() == b"\x88\x02\x03\xe9"
    assert transport.disconnecting and recorder.closed == [(1001, "bye")]


def test_close_waits_for_the_peer_then_aborts():
    """close() sends Close; a peer that never answers is aborted after close_timeout."""
    ws, recorder, transport, clock = connect(close_timeout=5)
    ws.close(4000, "done")
    assert transport.take() == b"\x88\x06\x0f\xa0done"
    clock.advance(4.9)
    assert not transport.disconnecting
    clock.advance(0.2)
    assert transport.aborted
    assert recorder.closed == [(1006, "the connection was lost without a Close")]


def test_close_completed_by_the_peer():
    """Our Close answered by the peer's: the connection closes cleanly, code reported."""
    ws, recorder, transport, clock = connect()
    ws.close(1000)
    ws.data_received(encode_frame(8, b"\x03\xe8", mask=MASK))
    assert transport.disconnecting and not transport.aborted
    assert recorder.closed == [(1000, "")]
    assert not clock.get_delayed_calls()


def test_keepalive_pings_and_closes_a_silent_peer():
    """A ping every ping_interval; no pong within ping_timeout closes with 1001."""
    ws, recorder, transport, clock = connect(ping_interval=10, ping_timeout=5, close_timeout=2)
    clock.advance(10)
    assert transport.take() == b"\x89\x09keepalive"
    ws.data_received(encode_frame(10, b"keepalive", mask=MASK))
    clock.advance(10)
    assert transport.take() == b"\x89\x09keepalive"
    clock.advance(5)
    assert transport.take().startswith(b"\x88\x13\x03\xe9no answer to ping")
    clock.advance(2)
    assert transport.aborted


def test_failure_lingers_for_the_peers_close():
    """After failing the peer the server waits briefly (so our Close is not destroyed
    by a reset), ignoring input, then closes."""
    ws, recorder, transport, clock = connect()
    ws.data_received(encode_frame(1, b"unmasked"))
    assert transport.take()[:4] == b"\x88\x1f\x03\xea"
    assert recorder.closed == [(1002, "a client must mask its frames")]
    ws.data_received(b"garbage")
    assert not transport.disconnecting
    clock.advance(2)
    assert transport.disconnecting


def test_flow_control_passes_through():
    """pause_reading/resume_reading reach the transport; pause_writing the handler."""
    ws, recorder, transport, _ = connect()
    ws.pause_reading()
    assert transport.reading_paused
    ws.resume_reading()
    assert not transport.reading_paused
    ws.pause_writing()
    assert recorder.paused == 1
    ws.resume_writing()
    assert recorder.paused == 0


# -- a byte stream over WebSocket ---------------------------------------------------


class LineEcho(LineReceiver):
    delimiter = b"\n"

    def line_received(self, line: bytes) -> None:
        self.send_line(b"you said: " + line)


def test_a_byte_stream_protocol_runs_over_binary_messages():
    """A line protocol runs unchanged over WebSocketTransport: its writes are binary
    messages, its input the messages' bytes, however they are split."""
    line = LineEcho()
    clock = Clock()
    ws = WebSocketProtocol(ByteStreamHandler(line), clock, ping_interval=None)
    transport = StringTransportWithDisconnection()
    transport.protocol = ws
    ws.make_connection(transport)
    assert isinstance(line.transport, WebSocketTransport)
    assert line.transport.get_peer() == transport.get_peer()
    ws.data_received(encode_frame(2, b"hel", mask=MASK) + encode_frame(2, b"lo\n", mask=MASK))
    peer = WebSocketConnection(Role.CLIENT)
    assert peer.receive_data(transport.take()) == [BinaryMessage(b"you said: hello\n")]
    ws.data_received(encode_frame(1, "héllo\n".encode(), mask=MASK))
    assert peer.receive_data(transport.take()) == [BinaryMessage("you said: héllo\n".encode())]
    line.transport.lose_connection()
    assert transport.take() == b"\x88\x02\x03\xe8"
    assert ws.state is State.CLOSING
    ws.data_received(encode_frame(8, b"\x03\xe8", mask=MASK))
    assert transport.disconnecting and not line.connected
