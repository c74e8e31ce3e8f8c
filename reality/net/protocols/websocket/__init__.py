"""WebSocket (RFC 6455) with permessage-deflate (RFC 7692), sans I/O, plus
the adapter that runs it on the engine.

==================  ==============================================================
:mod:`.handshake`   the opening handshake as pure functions: :func:`server_handshake`
                    (:class:`HandshakeAccept` or :class:`HandshakeReject`),
                    :func:`accept_key`, and the client's :func:`client_request`,
                    :func:`client_verify`, :func:`parse_response_head`
:mod:`.connection`  :class:`WebSocketConnection`: bytes in, events out, messages in,
                    frames out; every rule of the wire (:class:`Role`, :class:`State`)
:mod:`.events`      :class:`TextMessage`, :class:`BinaryMessage`, :class:`Ping`,
                    :class:`Pong`, :class:`CloseReceived`
:mod:`.frames`      opcodes, masking, :func:`encode_frame` (for tests and tools)
:mod:`.deflate`     permessage-deflate: negotiation and bounded (de)compression
:mod:`.protocol`    :class:`WebSocketProtocol` (the engine adapter: keepalive,
                    closing timeout, flow control) and :class:`WebSocketTransport`
                    (any byte-stream protocol over binary messages)
==================  ==============================================================

The HTTP server hands a connection over with ``Response(101, headers,
switch_to=...)``; see :class:`reality.net.protocols.http.Response`.
"""

from __future__ import annotations

from reality.net.protocols.websocket.connection import Role, State, WebSocketConnection
from reality.net.protocols.websocket.deflate import DeflateParams
from reality.net.protocols.websocket.events import (
    BinaryMessage,
    CloseReceived,
    Event,
    Ping,
    Pong,
    TextMessage,
)
from reality.net.protocols.websocket.frames import Opcode, encode_frame, mask_payload
from reality.net.protocols.websocket.handshake import (
    ClientAccept,
    HandshakeAccept,
    HandshakeError,
    HandshakeReject,
    accept_key,
    client_request,
    client_verify,
    parse_response_head,
    request_bytes,
    server_handshake,
)

__all__ = [
    "BinaryMessage",
    "ClientAccept",
    "CloseReceived",
    "DeflateParams",
    "Event",
    "HandshakeAccept",
    "HandshakeError",
    "HandshakeReject",
    "Opcode",
    "Ping",
    "Pong",
    "Role",
    "State",
    "TextMessage",
    "WebSocketConnection",
    "accept_key",
    "client_request",
    "client_verify",
    "encode_frame",
    "mask_payload",
    "parse_response_head",
    "request_bytes",
    "server_handshake",
]
