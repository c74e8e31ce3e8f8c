"""The opening handshake (RFC 6455 §4) as pure functions of header values.

The server side (:func:`server_handshake`) judges an HTTP request and
answers with what the 101 response must carry, or with the refusal to
send; the HTTP server sends it (see ``Response.switch_to`` in
:mod:`reality.net.protocols.http.events`). The client side
(:func:`client_request`, :func:`client_verify`, :func:`parse_response_head`)
serves tests and tools. Origin is not judged here: which origins are
welcome is the application's policy.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from reality.net.protocols.http.headers import Headers, HeadersLike, to_headers
from reality.net.protocols.websocket.deflate import (
    DeflateParams,
    ExtensionError,
    client_accept,
    client_offer,
    server_negotiate,
)

__all__ = [
    "GUID",
    "ClientAccept",
    "HandshakeAccept",
    "HandshakeError",
    "HandshakeReject",
    "accept_key",
    "client_request",
    "client_verify",
    "parse_response_head",
    "request_bytes",
    "server_handshake",
]

#: RFC 6455 §1.3: the GUID appended to the client's key.
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class HandshakeError(ValueError):
    """The server's handshake response is not acceptable (client role)."""


@dataclass(frozen=True, slots=True)
class HandshakeAccept:
    """Accept the upgrade: answer 101 with ``response_headers``.

    ``subprotocol`` is the one chosen (it may be ``default_subprotocol``
    for a client that asked for none: then no Sec-WebSocket-Protocol is
    sent, as a client must fail on one it did not ask for); None if the
    client asked only for protocols we do not speak (the caller decides
    whether to go on or refuse). ``extensions`` is the permessage-deflate
    agreement, or None.
    """

    subprotocol: str | None
    extensions: DeflateParams | None
    response_headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class HandshakeReject:
    """Refuse the upgrade: answer ``status`` with ``headers``; ``reason`` says why."""

    status: int
    reason: str
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ClientAccept:
    """What the server agreed to (client role)."""

    subprotocol: str | None
    extensions: DeflateParams | None


def accept_key(key: str) -> str:
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 §4.2.2 step 5.4)."""
    digest = hashlib.sha1((key + GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def _tokens(headers: Headers, name: str) -> list[str]:
    return [t.strip().lower() for v in headers.get_all(name) for t in v.split(",") if t.strip()]


def _list(headers: Headers, name: str) -> list[str]:
    return [t.strip() for v in headers.get_all(name) for t in v.split(",") if t.strip()]


def server_handshake(
    method: str,
    headers: Headers,
    *,
    subprotocols: Sequence[str],
    default_subprotocol: str | None = None,
    deflate: bool = True,
) -> HandshakeAccept | HandshakeReject:
    """Judge an opening handshake request (RFC 6455 §4.2.1) and decide the answer.

    ``subprotocols`` are ours, in order of preference: the first of them
    that the client offered is chosen; a client that offered none gets
    ``default_subprotocol``; one that offered only unknown ones gets None.
    ``deflate`` lets permessage-deflate be negotiated when offered.
    """
    if method != "GET":
        return HandshakeReject(405, "a WebSocket handshake must be a GET", [("Allow", "GET")])
    if "websocket" not in _tokens(headers, "upgrade") or "upgrade" not in _tokens(
        headers, "connection"
    ):
        return HandshakeReject(
            426,
            "this is a WebSocket endpoint: send Upgrade: websocket",
            [("Upgrade", "websocket"), ("Connection", "Upgrade")],
        )
    versions = _list(headers, "sec-websocket-version")
    if not versions:
        return HandshakeReject(400, "missing Sec-WebSocket-Version")
    if versions != ["13"]:
        return HandshakeReject(
            426, "only WebSocket version 13 is supported", [("Sec-WebSocket-Version", "13")]
        )
    keys = headers.get_all("sec-websocket-key")
    if len(keys) != 1:
        return HandshakeReject(400, "there must be exactly one Sec-WebSocket-Key")
    key = keys[0].strip()
    try:
        raw = base64.b64decode(key.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raw = b""
    if len(raw) != 16:
        return HandshakeReject(400, "Sec-WebSocket-Key is not 16 bytes in base64")

    response = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", accept_key(key)),
    ]
    offered = _list(headers, "sec-websocket-protocol")
    subprotocol: str | None
    if not offered:
        subprotocol = default_subprotocol
    else:
        subprotocol = next((p for p in subprotocols if p in offered), None)
        if subprotocol is not None:
            response.append(("Sec-WebSocket-Protocol", subprotocol))
    params: DeflateParams | None = None
    if deflate:
        extensions = headers.get_joined("sec-websocket-extensions")
        if extensions:
            negotiated = server_negotiate(extensions)
            if negotiated is not None:
                params, value = negotiated
                response.append(("Sec-WebSocket-Extensions", value))
    return HandshakeAccept(subprotocol, params, response)


def client_request(
    host: str,
    path: str,
    *,
    subprotocols: Sequence[str] = (),
    deflate: bool = True,
    origin: str | None = None,
) -> tuple[str, list[tuple[str, str]]]:
    """A client's opening handshake: (the key to verify the answer with,
    the header fields of ``GET path HTTP/1.1``)."""
    key = base64.b64encode(os.urandom(16)).decode("ascii")
    headers = [
        ("Host", host),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", key),
        ("Sec-WebSocket-Version", "13"),
    ]
    if subprotocols:
        headers.append(("Sec-WebSocket-Protocol", ", ".join(subprotocols)))
    if deflate:
        headers.append(("Sec-WebSocket-Extensions", client_offer()))
    if origin is not None:
        headers.append(("Origin", origin))
    return key, headers


def request_bytes(path: str, headers: Sequence[tuple[str, str]]) -> bytes:
    """``GET path HTTP/1.1`` with ``headers``, ready for the wire."""
    lines = [f"GET {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def client_verify(
    key: str,
    status: int,
    headers: HeadersLike,
    *,
    subprotocols: Sequence[str] = (),
    deflate: bool = True,
) -> ClientAccept:
    """Check the server's answer (RFC 6455 §4.1, the client's checks);
    :class:`HandshakeError` if it must be failed."""
    fields = to_headers(headers)
    if status != 101:
        raise HandshakeError(f"the server answered {status}, not 101")
    if "websocket" not in _tokens(fields, "upgrade"):
        raise HandshakeError("no Upgrade: websocket in the answer")
    if "upgrade" not in _tokens(fields, "connection"):
        raise HandshakeError("no Connection: Upgrade in the answer")
    if (fields.get("sec-websocket-accept") or "").strip() != accept_key(key):
        raise HandshakeError("wrong Sec-WebSocket-Accept")
    chosen = _list(fields, "sec-websocket-protocol")
    subprotocol: str | None = None
    if chosen:
        if len(chosen) != 1 or chosen[0] not in subprotocols:
            raise HandshakeError(f"the server chose a subprotocol we did not offer: {chosen}")
        subprotocol = chosen[0]
    params: DeflateParams | None = None
    extensions = fields.get_joined("sec-websocket-extensions")
    if extensions:
        if not deflate:
            raise HandshakeError("the server accepted extensions we did not offer")
        try:
            params = client_accept(extensions)
        except ExtensionError as exc:
            raise HandshakeError(str(exc)) from None
    return ClientAccept(subprotocol, params)


def parse_response_head(data: bytes) -> tuple[int, Headers, bytes] | None:
    """(status, header fields, the bytes after the head) of an HTTP response
    head at the start of ``data``; None until the whole head has arrived.

    Enough HTTP for a WebSocket client; :class:`HandshakeError` if it is not
    an HTTP/1.1 status line.
    """
    end = data.find(b"\r\n\r\n")
    if end < 0:
        if len(data) > 65536:
            raise HandshakeError("response head too large")
        return None
    lines = data[:end].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise HandshakeError(f"not an HTTP response: {lines[0][:80]!r}")
    fields = Headers()
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            raise HandshakeError(f"malformed header line {line[:80]!r}")
        fields.add(name.strip(), value.strip())
    return int(parts[1]), fields, data[end + 4 :]
