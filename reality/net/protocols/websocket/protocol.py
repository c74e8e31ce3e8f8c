"""WebSocket on the engine: :class:`WebSocketProtocol` runs a
:class:`~.connection.WebSocketConnection` over a transport, and
:class:`WebSocketTransport` lets any byte-stream protocol run over it.

The codec decides what bytes mean; this adapter keeps only what needs a
transport or a clock:

- delivering whole messages to a :class:`WebSocketHandler` and writing what
  the codec queues (pongs and Close replies included), once per read;
- keepalive: a ping every ``ping_interval`` seconds; no pong within
  ``ping_timeout`` closes the connection with 1001;
- the closing handshake's deadline: once a Close is sent, the peer has
  ``close_timeout`` seconds to answer and close before the connection is
  aborted (RFC 6455 §7.1.1: the server closes the TCP connection first);
- flow control both ways (``pause_reading``/``resume_reading`` reach the
  transport; ``pause_writing``/``resume_writing`` reach the handler).

The HTTP server hands a connection here with ``Response(101, ...,
switch_to=lambda: WebSocketProtocol(...))``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from reality.net import error
from reality.net.defer import Failure
from reality.net.interfaces import IDelayedCall, IProtocol, IReactorTime, ITransport
from reality.net.protocol import Address, Protocol
from reality.net.protocols.websocket.connection import Role, State, WebSocketConnection
from reality.net.protocols.websocket.deflate import DeflateParams
from reality.net.protocols.websocket.events import (
    BinaryMessage,
    CloseReceived,
    Pong,
    TextMessage,
)

__all__ = ["ByteStreamHandler", "WebSocketHandler", "WebSocketProtocol", "WebSocketTransport"]

log = logging.getLogger(__name__)

#: The status reported when the connection ended without a Close frame (RFC
#: 6455 §7.4.1: never sent, only reported).
ABNORMAL_CLOSURE = 1006

#: After failing a peer, how long its Close reply is awaited (seconds).
_FAILURE_LINGER = 2.0


class WebSocketHandler:
    """What a WebSocket connection tells the application. Subclass and
    override what you need; every method does nothing by default."""

    def connection_made(self, ws: WebSocketProtocol) -> None:
        """The WebSocket is open; ``ws`` sends (``send_text``, ``close``...)."""

    def message_received(self, message: TextMessage | BinaryMessage) -> None:
        """A whole message arrived."""

    def connection_closed(self, code: int | None, reason: str) -> None:
        """The conversation is over, once: the peer's Close code (None if it
        gave none), the code we failed it with (1002, 1007, 1009...), ours if
        we closed first, or 1006 if the connection simply went away."""

    def pause_writing(self) -> None:
        """The transport's buffer is full: stop sending for now."""

    def resume_writing(self) -> None:
        """The transport's buffer has drained: sending may go on."""


class WebSocketProtocol(Protocol):
    """One WebSocket connection on the engine (either role).

    ``extensions`` is the permessage-deflate agreement from the handshake,
    ``subprotocol`` the one chosen (kept for the handler to read).
    ``ping_interval`` None turns keepalive off.
    """

    transport: ITransport

    def __init__(
        self,
        handler: WebSocketHandler,
        clock: IReactorTime,
        *,
        role: Role = Role.SERVER,
        extensions: DeflateParams | None = None,
        subprotocol: str | None = None,
        max_frame: int = 1 << 20,
        max_message: int = 1 << 20,
        ping_interval: float | None = 30.0,
        ping_timeout: float = 30.0,
        close_timeout: float = 10.0,
    ) -> None:
        self.handler = handler
        self.clock = clock
        self.role = role
        self.subprotocol = subprotocol
        self.extensions = extensions
        self.ws = WebSocketConnection(
            role, deflate=extensions, max_frame=max_frame, max_message=max_message
        )
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.close_timeout = close_timeout
        self._ping_timer: IDelayedCall | None = None
        self._pong_timer: IDelayedCall | None = None
        self._close_timer: IDelayedCall | None = None
        self._delivering = False
        self._reported = False
        self._lost = False
        self._finishing = False

    # -- engine hooks ----------------------------------------------------------

    def connection_made(self) -> None:
        if self.ping_interval is not None:
            self._ping_timer = self.clock.call_later(self.ping_interval, self._ping)
        self.handler.connection_made(self)

    def data_received(self, data: bytes) -> None:
        if self._finishing:
            return  # the conversation is over; the peer's bytes are moot
        ws = self.ws
        events = ws.receive_data(data)
        if events:
            handler = self.handler
            self._delivering = True
            try:
                for event in events:
                    kind = type(event)
                    if kind is TextMessage or kind is BinaryMessage:
                        handler.message_received(event)  # type: ignore[arg-type]
                    elif kind is Pong:
                        timer = self._pong_timer
                        if timer is not None:
                            if timer.active():
                                timer.cancel()
                            self._pong_timer = None
                    elif kind is CloseReceived:
                        self._closed_by_peer(event)  # type: ignore[arg-type]
            finally:
                self._delivering = False
        out = ws.data_to_send()
        if out:
            self.transport.write(out)
        if ws.state is State.CLOSED and not self._lost:
            self._finish()

    def eof_received(self) -> bool:
        return False  # a half-closed WebSocket is over

    def connection_lost(self, reason: Failure) -> None:
        self._lost = True
        self._cancel_timers()
        ws = self.ws
        if ws.close_code is not None or ws.state is State.CLOSED:
            self._report(ws.close_code, ws.close_reason)
        else:
            self._report(ABNORMAL_CLOSURE, "the connection was lost without a Close")

    def pause_writing(self) -> None:
        self.handler.pause_writing()

    def resume_writing(self) -> None:
        self.handler.resume_writing()

    # -- what the application calls ------------------------------------------------

    def send_text(self, text: str) -> None:
        """Send a text message."""
        self.ws.send_text(text)
        if not self._delivering:
            self._flush()

    def send_binary(self, data: bytes) -> None:
        """Send a binary message."""
        self.ws.send_binary(data)
        if not self._delivering:
            self._flush()

    def ping(self, payload: bytes = b"") -> None:
        """Send a ping (the pong is not awaited: see ``ping_interval``)."""
        self.ws.send_ping(payload)
        if not self._delivering:
            self._flush()

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Begin the closing handshake; abort if it is not over in ``close_timeout``."""
        if self.ws.state is not State.OPEN or self._lost:
            return
        self.ws.send_close(code, reason)
        if not self._delivering:
            self._flush()
        self._close_timer = self.clock.call_later(self.close_timeout, self._close_expired)

    def abort(self) -> None:
        """Drop the connection now, without a closing handshake."""
        if not self._lost:
            self.transport.abort_connection()

    def pause_reading(self) -> None:
        """Stop reading from the peer (its messages wait in the network)."""
        self.transport.pause_reading()

    def resume_reading(self) -> None:
        """Read from the peer again."""
        self.transport.resume_reading()

    @property
    def state(self) -> State:
        """Where the closing handshake stands."""
        return self.ws.state

    # -- inside ----------------------------------------------------------------------

    def _flush(self) -> None:
        out = self.ws.data_to_send()
        if out and not self._lost:
            self.transport.write(out)

    def _closed_by_peer(self, event: CloseReceived) -> None:
        self._report(event.code, event.reason)

    def _finish(self) -> None:
        """Both Closes are exchanged (or the peer failed): end the TCP connection."""
        if self._finishing:
            return
        self._finishing = True
        self._cancel_timers()
        if self.ws.failed:
            # The peer may still be sending: closing now, with its bytes
            # unread, makes the kernel send RST, which can destroy our Close
            # before it is read. Let the peer read it and close (its input is
            # ignored meanwhile), for a moment at most.
            self._close_timer = self.clock.call_later(
                min(self.close_timeout, _FAILURE_LINGER), self._linger_over
            )
        elif self.role is Role.SERVER:
            self.transport.lose_connection()
        else:
            # RFC 6455 §7.1.1: the client waits for the server to close first.
            self._close_timer = self.clock.call_later(self.close_timeout, self._close_expired)

    def _linger_over(self) -> None:
        self._close_timer = None
        if not self._lost:
            self.transport.lose_connection()

    def _report(self, code: int | None, reason: str) -> None:
        if not self._reported:
            self._reported = True
            try:
                self.handler.connection_closed(code, reason)
            except Exception:
                log.exception("Unhandled error in %r.connection_closed", self.handler)

    def _ping(self) -> None:
        self._ping_timer = None
        if self._lost or self.ws.state is not State.OPEN or self.ping_interval is None:
            return
        self.ws.send_ping(b"keepalive")
        self._flush()
        if self._pong_timer is None:
            self._pong_timer = self.clock.call_later(self.ping_timeout, self._pong_missed)
        self._ping_timer = self.clock.call_later(self.ping_interval, self._ping)

    def _pong_missed(self) -> None:
        self._pong_timer = None
        if self._lost:
            return
        log.debug("WebSocket peer %s did not answer a ping", self._peer())
        self.close(1001, "no answer to ping")

    def _close_expired(self) -> None:
        self._close_timer = None
        if not self._lost:
            log.debug("WebSocket peer %s did not finish closing: aborting", self._peer())
            self.transport.abort_connection()

    def _cancel_timers(self) -> None:
        for timer in (self._ping_timer, self._pong_timer, self._close_timer):
            if timer is not None and timer.active():
                timer.cancel()
        self._ping_timer = self._pong_timer = self._close_timer = None

    def _peer(self) -> object:
        try:
            return self.transport.get_peer()
        except OSError:
            return None


class WebSocketTransport:
    """An :class:`~reality.net.interfaces.ITransport` whose bytes travel as
    binary messages of a :class:`WebSocketProtocol`, so that a byte-stream
    protocol (a telnet session) runs over a WebSocket unchanged.

    ``write`` sends one binary message per call; ``lose_connection`` closes
    with 1000; the addresses are those of the underlying connection.
    """

    def __init__(self, ws: WebSocketProtocol) -> None:
        self.ws = ws

    @property
    def disconnecting(self) -> bool:
        """True once the closing handshake has begun."""
        return self.ws.state is not State.OPEN or self.ws.transport.disconnecting

    @disconnecting.setter
    def disconnecting(self, value: bool) -> None:
        # The contract lets a transport's owner set it; ours follows the
        # WebSocket's state, so setting it only begins the close.
        if value:
            self.ws.close(1000)

    def write(self, data: bytes) -> None:
        if data:
            self.ws.send_binary(data)

    def write_sequence(self, data: Iterable[bytes]) -> None:
        self.write(b"".join(data))

    def lose_connection(self) -> None:
        self.ws.close(1000)

    def abort_connection(self) -> None:
        self.ws.abort()

    def get_peer(self) -> Address:
        return self.ws.transport.get_peer()

    def get_host(self) -> Address:
        return self.ws.transport.get_host()

    def pause_reading(self) -> None:
        self.ws.pause_reading()

    def resume_reading(self) -> None:
        self.ws.resume_reading()

    def get_write_buffer_size(self) -> int:
        return self.ws.transport.get_write_buffer_size()


class ByteStreamHandler(WebSocketHandler):
    """Runs a byte-stream ``protocol`` over the WebSocket: it is connected to a
    :class:`WebSocketTransport`, gets every message's bytes (text as UTF-8),
    and loses its connection when the WebSocket closes."""

    def __init__(self, protocol: IProtocol) -> None:
        self.protocol = protocol

    def connection_made(self, ws: WebSocketProtocol) -> None:
        self.protocol.make_connection(WebSocketTransport(ws))

    def message_received(self, message: TextMessage | BinaryMessage) -> None:
        if type(message) is BinaryMessage:
            self.protocol.data_received(message.data)
        else:
            self.protocol.data_received(message.text.encode("utf-8"))  # type: ignore[union-attr]

    def connection_closed(self, code: int | None, reason: str) -> None:
        exc: Exception
        if code in (1000, 1001, None):
            exc = error.ConnectionDone(f"WebSocket closed ({code}) {reason}".rstrip())
        else:
            exc = error.ConnectionLost(f"WebSocket closed ({code}) {reason}".rstrip())
        self.protocol.connected = False
        self.protocol.connection_lost(Failure(exc))

    def pause_writing(self) -> None:
        self.protocol.pause_writing()

    def resume_writing(self) -> None:
        self.protocol.resume_writing()
