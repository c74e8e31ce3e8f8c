"""The RFC 6455 conversation after the handshake, sans I/O:
:class:`WebSocketConnection` turns received bytes into whole messages and
messages into frames, and enforces every rule of the wire.

Bytes in (:meth:`~WebSocketConnection.receive_data`), events out
(:mod:`.events`); calls in (``send_*``), bytes out
(:meth:`~WebSocketConnection.data_to_send`). No socket, no clock: the
keepalive and closing timeouts belong to the adapter
(:mod:`.protocol`).

What a peer can get wrong, and what it gets (RFC 6455 §7.4.1):

- 1002 protocol error: masking against its role (clients must mask,
  servers must not: §5.1), RSV bits no extension gave a meaning (§5.2),
  a reserved opcode, a fragmented or over-125-byte control frame (§5.5),
  a continuation without a message begun or a new message inside a
  fragmented one (§5.4), a 64-bit length with its top bit set, a Close
  frame with a 1-byte payload or a status code that may not be sent (§7.4).
- 1007 invalid data: a text message (or close reason) that is not UTF-8,
  found as early as the bytes allow, across fragments (§8.1); a
  compressed message that does not inflate.
- 1009 too big: a frame over ``max_frame`` bytes (judged from its header,
  before the payload is read), or a message over ``max_message`` bytes
  (after inflating, which stops at the limit: a deflate bomb costs
  nothing).

Nothing a peer sends makes :meth:`~WebSocketConnection.receive_data`
raise: a violation becomes a :class:`~.events.CloseReceived` carrying our
code, a Close frame queued, and every later byte ignored.
"""

from __future__ import annotations

import codecs
import enum
import logging
import os
import zlib

from reality.net.protocols.websocket.deflate import DeflateParams, MessageDeflater
from reality.net.protocols.websocket.events import (
    BinaryMessage,
    CloseReceived,
    Event,
    Ping,
    Pong,
    TextMessage,
)
from reality.net.protocols.websocket.frames import mask_payload, valid_received_close_code

__all__ = ["Role", "State", "WebSocketConnection"]

log = logging.getLogger(__name__)

_utf8_decoder = codecs.getincrementaldecoder("utf-8")


class Role(enum.Enum):
    """Which end we are: it decides who masks (RFC 6455 §5.1)."""

    SERVER = "server"
    CLIENT = "client"


class State(enum.Enum):
    """Where the closing handshake stands (RFC 6455 §7)."""

    OPEN = "open"  # messages flow both ways
    CLOSING = "closing"  # we sent Close and wait for the peer's
    CLOSED = "closed"  # both Closes exchanged, or the peer failed: close the transport


class _Failure(Exception):
    """The peer broke the protocol: close with ``code``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


_TEXT = 1
_BINARY = 2
NORMAL_CLOSURE = 1000


class WebSocketConnection:
    """One WebSocket conversation, either end (``role``).

    ``deflate`` is the permessage-deflate agreement from the handshake (or
    None). ``max_frame`` bounds one frame's payload on the wire;
    ``max_message`` one whole message after reassembly and inflation
    (1009 past either).

    :attr:`state` follows the closing handshake; :attr:`close_code` and
    :attr:`close_reason` say how it ended (the peer's Close, or the code
    we failed the connection with: then :attr:`failed` is True).
    """

    __slots__ = (
        "role",
        "max_frame",
        "max_message",
        "state",
        "close_code",
        "close_reason",
        "failed",
        "_client",
        "_deflater",
        "_buf",
        "_out",
        "_owed_close",
        "_done",
        "_f_left",
        "_f_pos",
        "_f_fin",
        "_f_mask",
        "_m_op",
        "_m_compressed",
        "_m_parts",
        "_m_size",
        "_m_decoder",
    )

    def __init__(
        self,
        role: Role,
        *,
        deflate: DeflateParams | None = None,
        max_frame: int = 1 << 20,
        max_message: int = 1 << 20,
    ) -> None:
        self.role = role
        self.max_frame = max_frame
        self.max_message = max_message
        self.state = State.OPEN
        self.close_code: int | None = None
        self.close_reason = ""
        #: True when the peer broke the protocol (we closed with close_code).
        self.failed = False
        self._client = role is Role.CLIENT
        self._deflater = (
            MessageDeflater(deflate, server=role is Role.SERVER) if deflate is not None else None
        )
        self._buf = bytearray()
        self._out: list[bytes] = []
        # The Close frame owed for input already read (a reply, or a failure);
        # it leaves last in the next data_to_send, so that what the
        # application sends in answer to that input goes before it.
        self._owed_close: bytes | None = None
        self._done = False  # closed or failed: input is ignored
        # The data frame whose payload is arriving (0 left: between frames).
        self._f_left = 0
        self._f_pos = 0
        self._f_fin = False
        self._f_mask: bytes | None = None
        # The message being reassembled (_m_op 0: none).
        self._m_op = 0
        self._m_compressed = False
        self._m_parts: list[bytes] | list[str] = []
        self._m_size = 0
        self._m_decoder: codecs.IncrementalDecoder | None = None

    # -- receiving ---------------------------------------------------------------

    def receive_data(self, data: bytes) -> list[Event]:
        """Take bytes from the peer; return the events they complete. Never raises."""
        events: list[Event] = []
        if self._done:
            return events
        buf = self._buf
        src: bytes | bytearray
        if buf:
            buf += data
            src = buf
        else:
            src = data
        pos = 0
        try:
            pos = self._parse(src, events)
        except _Failure as failure:
            self._fail(failure.code, failure.reason, events)
        except Exception:  # a bug must not let the peer's bytes escape as an exception
            log.exception("WebSocket codec failed on input")
            self._fail(1011, "internal error", events)
        if self._done:
            buf.clear()
        elif src is buf:
            if pos:
                del buf[:pos]
        elif pos < len(src):
            buf += memoryview(src)[pos:]
        return events

    def _parse(self, src: bytes | bytearray, events: list[Event]) -> int:
        pos = 0
        n = len(src)
        while pos < n:
            left = self._f_left
            if left:
                # More payload of a data frame in progress.
                take = left if left <= n - pos else n - pos
                chunk = bytes(src[pos : pos + take])
                pos += take
                mask = self._f_mask
                if mask is not None:
                    chunk = mask_payload(mask, chunk, self._f_pos)
                self._f_pos += take
                self._f_left = left - take
                self._data(chunk, self._f_left == 0 and self._f_fin, events)
                if self._done:
                    return pos
                continue
            if n - pos < 2:
                return pos
            b0 = src[pos]
            b1 = src[pos + 1]
            opcode = b0 & 0x0F
            length = b1 & 0x7F
            if bool(b1 & 0x80) is self._client:
                raise _Failure(
                    1002,
                    "a server must not mask its frames"
                    if self._client
                    else "a client must mask its frames",
                )
            head = 2
            if length == 126:
                if n - pos < 4:
                    return pos
                length = (src[pos + 2] << 8) | src[pos + 3]
                head = 4
            elif length == 127:
                if n - pos < 10:
                    return pos
                length = int.from_bytes(src[pos + 2 : pos + 10], "big")
                if length >> 63:
                    raise _Failure(1002, "frame length has its top bit set")
                head = 10
            fin = b0 & 0x80
            if opcode & 0x08:
                # A control frame (RFC 6455 §5.5).
                if opcode > 0x0A:
                    raise _Failure(1002, f"reserved opcode {opcode:#x}")
                if not fin:
                    raise _Failure(1002, "a control frame must not be fragmented")
                if length > 125:
                    raise _Failure(1002, "a control frame's payload must be 125 bytes or less")
                if b0 & 0x70:
                    raise _Failure(1002, "RSV bits set on a control frame")
                end = pos + head + (0 if self._client else 4) + length
                if n < end:
                    return pos
                if self._client:
                    payload = bytes(src[pos + head : end])
                else:
                    payload = mask_payload(
                        bytes(src[pos + head : pos + head + 4]), bytes(src[pos + head + 4 : end])
                    )
                pos = end
                self._control(opcode, payload, events)
                if self._done:
                    return pos
                continue
            # A data frame (RFC 6455 §5.6, §5.4).
            if opcode > 2:
                raise _Failure(1002, f"reserved opcode {opcode:#x}")
            rsv = b0 & 0x70
            compressed = False
            if rsv:
                if rsv != 0x40 or self._deflater is None:
                    raise _Failure(1002, "RSV bits set without an extension that defines them")
                if opcode == 0:
                    raise _Failure(1002, "RSV1 set on a continuation frame")
                compressed = True
            if opcode == 0:
                if not self._m_op:
                    raise _Failure(1002, "continuation frame without a message to continue")
            elif self._m_op:
                raise _Failure(1002, "a new message began inside a fragmented message")
            if length > self.max_frame:
                raise _Failure(1009, f"frame of {length} bytes exceeds {self.max_frame}")
            if not (compressed or self._m_compressed) and (
                self._m_size + length > self.max_message
            ):
                raise _Failure(1009, f"message exceeds {self.max_message} bytes")
            if self._client:
                mask = None
            else:
                if n - pos < head + 4:
                    return pos
                mask = bytes(src[pos + head : pos + head + 4])
                head += 4
            pos += head
            if opcode:
                if fin and not compressed and n - pos >= length:
                    # The usual case: a whole message in one frame, all here.
                    payload = bytes(src[pos : pos + length])
                    pos += length
                    if mask is not None:
                        payload = mask_payload(mask, payload)
                    if opcode == _TEXT:
                        try:
                            text = payload.decode("utf-8")
                        except UnicodeDecodeError:
                            raise _Failure(1007, "text message is not valid UTF-8") from None
                        events.append(TextMessage(text))
                    else:
                        events.append(BinaryMessage(payload))
                    continue
                self._m_op = opcode
                self._m_compressed = compressed
                self._m_parts = []
                self._m_size = 0
                self._m_decoder = _utf8_decoder() if opcode == _TEXT else None
            self._f_fin = bool(fin)
            self._f_mask = mask
            self._f_pos = 0
            self._f_left = length
            if not length:
                self._data(b"", bool(fin), events)
                if self._done:
                    return pos
        return pos

    def _data(self, chunk: bytes, end: bool, events: list[Event]) -> None:
        """A piece of a data message's payload; ``end``: the message is complete."""
        if self._m_compressed:
            deflater = self._deflater
            assert deflater is not None
            limit = self.max_message - self._m_size
            try:
                out = deflater.inflate(chunk, limit) if chunk else b""
                if out is not None and end:
                    rest = deflater.end_message(limit - len(out))
                    out = None if rest is None else out + rest
            except zlib.error as exc:
                raise _Failure(1007, f"compressed message does not inflate: {exc}") from None
            if out is None:
                raise _Failure(1009, f"message inflates past {self.max_message} bytes")
            chunk = out
        self._m_size += len(chunk)
        decoder = self._m_decoder
        if decoder is not None:
            try:
                text = decoder.decode(chunk, end)
            except UnicodeDecodeError:
                raise _Failure(1007, "text message is not valid UTF-8") from None
            if text:
                self._m_parts.append(text)  # type: ignore[arg-type]
            if not end:
                # CPython's decoder holds ED A0..BF (a UTF-16 surrogate, never
                # valid) until its third byte: fail as soon as the second is in.
                pending = decoder.getstate()[0]
                if len(pending) >= 2 and pending[0] == 0xED and pending[1] >= 0xA0:
                    raise _Failure(1007, "text message is not valid UTF-8")
        elif chunk:
            self._m_parts.append(chunk)  # type: ignore[arg-type]
        if end:
            parts = self._m_parts
            if self._m_op == _TEXT:
                events.append(TextMessage("".join(parts)))  # type: ignore[arg-type]
            else:
                events.append(BinaryMessage(b"".join(parts)))  # type: ignore[arg-type]
            self._m_op = 0
            self._m_compressed = False
            self._m_parts = []
            self._m_size = 0
            self._m_decoder = None

    def _control(self, opcode: int, payload: bytes, events: list[Event]) -> None:
        if opcode == 0x9:
            events.append(Ping(payload))
            if self.state is State.OPEN:
                self._send_frame(0xA, payload)
        elif opcode == 0xA:
            events.append(Pong(payload))
        else:
            code: int | None = None
            reason = ""
            if len(payload) == 1:
                raise _Failure(1002, "a Close frame's payload cannot be 1 byte")
            if payload:
                code = (payload[0] << 8) | payload[1]
                if not valid_received_close_code(code):
                    raise _Failure(1002, f"close code {code} may not be sent")
                try:
                    reason = payload[2:].decode("utf-8")
                except UnicodeDecodeError:
                    raise _Failure(1007, "close reason is not valid UTF-8") from None
            if self.state is State.OPEN:
                # Echo the status code (RFC 6455 §5.5.1; 1000 for a Close
                # without one), after what the application answers to the
                # messages before it.
                reply = NORMAL_CLOSURE if code is None else code
                self._owed_close = self._frame(0x8, reply.to_bytes(2, "big"))
            self.state = State.CLOSED
            self._done = True
            self.close_code = code
            self.close_reason = reason
            events.append(CloseReceived(code, reason))

    def _fail(self, code: int, reason: str, events: list[Event]) -> None:
        """Fail the connection (RFC 6455 §7.1.7): send Close if we have not, stop reading."""
        log.debug("WebSocket peer failed the protocol: %d %s", code, reason)
        if self.state is State.OPEN:
            self._owed_close = self._frame(0x8, _close_payload(code, reason))
        self.state = State.CLOSED
        self._done = True
        self.failed = True
        self.close_code = code
        self.close_reason = reason
        self._m_parts = []
        events.append(CloseReceived(code, reason))

    # -- sending -------------------------------------------------------------------

    def _frame(self, opcode: int, payload: bytes, rsv1: bool = False) -> bytes:
        b0 = 0x80 | opcode | (0x40 if rsv1 else 0)
        n = len(payload)
        if self._client:
            mask = os.urandom(4)
            if n < 126:
                header = bytes((b0, 0x80 | n))
            elif n < 65536:
                header = bytes((b0, 0xFE)) + n.to_bytes(2, "big")
            else:
                header = bytes((b0, 0xFF)) + n.to_bytes(8, "big")
            return header + mask + mask_payload(mask, payload)
        if n < 126:
            return bytes((b0, n)) + payload
        if n < 65536:
            return bytes((b0, 126)) + n.to_bytes(2, "big") + payload
        return bytes((b0, 127)) + n.to_bytes(8, "big") + payload

    def _send_frame(self, opcode: int, payload: bytes, rsv1: bool = False) -> None:
        self._out.append(self._frame(opcode, payload, rsv1))

    @property
    def _can_send(self) -> bool:
        # Open, or the input just read ended it and our Close is not out yet.
        return self.state is State.OPEN or self._owed_close is not None

    def send_text(self, text: str) -> None:
        """Queue a text message (ignored once we have sent Close).

        In answer to the events of a :meth:`receive_data` that ended the
        conversation, messages may still be queued: they go out before the
        Close frame that input made us owe.
        """
        if not self._can_send:
            return
        data = text.encode("utf-8")
        deflater = self._deflater
        if deflater is not None:
            self._send_frame(0x1, deflater.compress(data), True)
        else:
            self._send_frame(0x1, data)

    def send_binary(self, data: bytes) -> None:
        """Queue a binary message (ignored once we have sent Close)."""
        if not self._can_send:
            return
        deflater = self._deflater
        if deflater is not None:
            self._send_frame(0x2, deflater.compress(bytes(data)), True)
        else:
            self._send_frame(0x2, bytes(data))

    def send_ping(self, payload: bytes = b"") -> None:
        """Queue a ping (at most 125 bytes: ValueError otherwise)."""
        if len(payload) > 125:
            raise ValueError("a ping's payload must be 125 bytes or less")
        if self.state is State.OPEN:
            self._send_frame(0x9, bytes(payload))

    def send_pong(self, payload: bytes = b"") -> None:
        """Queue an unsolicited pong (a heartbeat that needs no answer)."""
        if len(payload) > 125:
            raise ValueError("a pong's payload must be 125 bytes or less")
        if self.state is State.OPEN:
            self._send_frame(0xA, bytes(payload))

    def send_close(self, code: int = 1000, reason: str = "") -> None:
        """Begin the closing handshake (RFC 6455 §7.1.2): queue Close and
        wait for the peer's. The reason is cut to fit 123 bytes of UTF-8.
        ValueError for a code that may not be sent."""
        if not valid_received_close_code(code):
            raise ValueError(f"close code {code} may not be sent")
        if self.state is not State.OPEN:
            return
        self._send_frame(0x8, _close_payload(code, reason))
        self.state = State.CLOSING

    def data_to_send(self) -> bytes:
        """Everything queued for the peer since the last call (replies included)."""
        out = self._out
        owed = self._owed_close
        if owed is not None:
            self._owed_close = None
            out.append(owed)
        if not out:
            return b""
        if len(out) == 1:
            data = out[0]
        else:
            data = b"".join(out)
        out.clear()
        return data


def _close_payload(code: int, reason: str) -> bytes:
    raw = reason.encode("utf-8")
    if len(raw) > 123:
        raw = raw[:123].decode("utf-8", "ignore").encode("utf-8")
    return code.to_bytes(2, "big") + raw
