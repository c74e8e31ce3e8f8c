"""What :class:`~.connection.WebSocketConnection` reports: whole messages,
pings and pongs, and the end of the conversation.

Messages are delivered whole (fragments reassembled, permessage-deflate
undone, text decoded), so the code above the codec never sees a frame.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BinaryMessage", "CloseReceived", "Event", "Ping", "Pong", "TextMessage"]


@dataclass(frozen=True, slots=True)
class TextMessage:
    """A whole text message (valid UTF-8, decoded)."""

    text: str


@dataclass(frozen=True, slots=True)
class BinaryMessage:
    """A whole binary message."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Ping:
    """The peer pinged us; the codec has already queued the pong."""

    payload: bytes


@dataclass(frozen=True, slots=True)
class Pong:
    """The peer answered a ping (or sent an unsolicited pong: RFC 6455 §5.5.3)."""

    payload: bytes


@dataclass(frozen=True, slots=True)
class CloseReceived:
    """The conversation is over.

    Either the peer sent a Close frame (``code`` is its status code, or
    None when it sent none; the codec has queued the reply if we had not
    closed first), or the peer broke the protocol: then ``code`` is the one
    we sent in our Close frame (1002 protocol error, 1007 invalid data,
    1009 too big) and ``reason`` says what was wrong. Either way nothing
    more will be read, and the caller should close the transport once
    :meth:`~.connection.WebSocketConnection.data_to_send` is written.
    """

    code: int | None
    reason: str


Event = TextMessage | BinaryMessage | Ping | Pong | CloseReceived
