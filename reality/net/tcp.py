"""TCP: connection transports, listening ports, and connectors.

Writes go straight to the socket when nothing is buffered; only what the
kernel does not take is buffered (in a ``bytearray``, whose front
deletions are cheap, made when first needed and dropped once drained),
and only then does the connection register for writability. The protocol
is told to pause when the buffer passes the high-water mark and to resume
when it drains below the low-water mark.

An idle connection holds only what it must: a :class:`Connection` has
``__slots__``, and no send buffer, cached bound methods or closures until
it needs them (``benchmarks/idle_memory.py`` measures what one costs,
beside a bare ``selectors`` loop).

Reads take at most 64 KiB per ``recv``: larger buffers cross glibc's mmap
threshold and make every read dearer.

Running out of descriptors or kernel memory (``EMFILE``, ``ENFILE``,
``ENOBUFS``, ``ENOMEM`` from ``accept()``) is an expected event, not a
bug: the listening socket stays readable while the backlog is full, so
retrying at once would spin the loop at 100 % CPU and write a log line per
attempt. A :class:`Port` instead stops watching its socket for a while
(:data:`ACCEPT_BACKOFF_MIN` seconds, doubling up to
:data:`ACCEPT_BACKOFF_MAX`), logs at most once per
:data:`ACCEPT_LOG_INTERVAL` seconds (with how many failures it did not
log), and resumes by itself; the waiting clients stay in the kernel's
backlog until then.
"""

from __future__ import annotations

import errno
import logging
import socket
from collections.abc import Iterable
from typing import Any, NamedTuple

from reality.net import error
from reality.net.address import Address
from reality.net.defer import Deferred, Failure, succeed
from reality.net.interfaces import (
    IClientFactory,
    IDelayedCall,
    IProtocol,
    IProtocolFactory,
    IReactorIO,
    IReactorTime,
)

log = logging.getLogger(__name__)

__all__ = ["Client", "Connection", "Connector", "Port", "Server"]

READ_SIZE = 65536
HIGH_WATER = 64 * 1024
LOW_WATER = 16 * 1024
#: Seconds a peer has, after lose_connection(), to read what is still
#: buffered for it; then the connection is aborted. Without it a peer that
#: never reads (a zero TCP window) would hold a closing connection forever.
CLOSE_TIMEOUT = 60.0


class _Limits(NamedTuple):
    """A connection's write-buffer marks and close deadline."""

    high_water: int
    low_water: int
    close_timeout: float


_DEFAULT_LIMITS = _Limits(HIGH_WATER, LOW_WATER, CLOSE_TIMEOUT)

#: First pause of accepting after accept() ran out of a resource, in seconds.
ACCEPT_BACKOFF_MIN = 0.1
#: The pause doubles on each failure in a row, up to this.
ACCEPT_BACKOFF_MAX = 1.0
#: At most one "cannot accept" log line per port per this many seconds.
ACCEPT_LOG_INTERVAL = 10.0
#: accept() errors that mean "out of a resource": back off, do not retry at once.
_EXHAUSTED_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})

_BLOCKING = (BlockingIOError, InterruptedError)
_LOST_ERRNOS = {
    errno.ECONNRESET,
    errno.EPIPE,
    errno.ESHUTDOWN,
    errno.ECONNABORTED,
    errno.ETIMEDOUT,
    errno.ENOTCONN,
}


#: What get_peer() says after a connection was reset before anyone asked.
_UNKNOWN_PEER = Address("TCP", "", 0)


def _address(family: int, addr: Any) -> Address:
    # ``addr`` is what getpeername()/accept() return: a tuple, or a path for AF_UNIX.
    if family == socket.AF_INET or family == socket.AF_INET6:
        return Address("TCP", addr[0], addr[1])
    return Address("UNIX", str(addr), 0)


class Connection:
    """A connected TCP socket as a transport for one protocol."""

    __slots__ = (
        "reactor",
        "socket",
        "fileno",
        "protocol",
        "connected",
        "disconnecting",
        "disconnected",
        "_buffer",
        "_reading_paused",
        "_protocol_paused",
        "_limits",
        "_peer",
        "_eof",
        "_close_call",
    )

    def __init__(self, reactor: IReactorIO, sock: socket.socket, protocol: IProtocol) -> None:
        self.reactor = reactor
        self.socket = sock
        self.fileno = sock.fileno()
        self.protocol = protocol
        self.connected = True
        self.disconnecting = False
        self.disconnected = False
        # What the kernel has not taken yet; None while nothing waits (and then
        # the connection is not registered for writability).
        self._buffer: bytearray | None = None
        self._reading_paused = False
        self._protocol_paused = False
        self._limits = _DEFAULT_LIMITS
        self._peer: Address | None = None
        self._eof = False
        self._close_call: Any = None
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass  # the peer may have gone already; reading will tell

    def _start(self) -> None:
        self.reactor.add_reader(self.fileno, self._do_read)
        try:
            self.protocol.make_connection(self)
        except Exception:
            log.exception("Unhandled error in %r.connection_made; closing", self.protocol)
            self.abort_connection()

    # -- reading -------------------------------------------------------------------

    def _do_read(self) -> None:
        try:
            data = self.socket.recv(READ_SIZE)
        except _BLOCKING:
            return
        except OSError as exc:
            self._connection_failed(exc)
            return
        if data:
            try:
                self.protocol.data_received(data)
            except Exception:
                log.exception(
                    "Unhandled error in %r.data_received; closing the connection", self.protocol
                )
                self.abort_connection()
        else:
            self._read_eof()

    def _read_eof(self) -> None:
        self._eof = True
        self.reactor.remove_reader(self.fileno)
        keep_open = False
        eof_received = getattr(self.protocol, "eof_received", None)
        if eof_received is not None:
            try:
                keep_open = bool(eof_received())
            except Exception:
                log.exception("Unhandled error in %r.eof_received", self.protocol)
        if not keep_open:
            self._close_when_flushed(error.ConnectionDone("the peer closed the connection"))

    def pause_reading(self) -> None:
        """Stop reading from the socket until :meth:`resume_reading`."""
        if not self._reading_paused and self.connected:
            self._reading_paused = True
            self.reactor.remove_reader(self.fileno)

    def resume_reading(self) -> None:
        """Read from the socket again."""
        if self._reading_paused:
            self._reading_paused = False
            if self.connected and not self._eof and not self.disconnecting:
                self.reactor.add_reader(self.fileno, self._do_read)

    # -- writing -------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Send ``data``: at once as far as the kernel takes it, buffered otherwise."""
        if self.disconnected or not data:
            return
        buffer = self._buffer
        if buffer is None:
            try:
                sent = self.socket.send(data)
            except _BLOCKING:
                sent = 0
            except OSError as exc:
                self._connection_failed(exc)
                return
            if sent == len(data):
                return
            buffer = self._buffer = bytearray(memoryview(data)[sent:])
            self._start_writing()
        else:
            buffer += data
        if not self._protocol_paused and len(buffer) > self._limits.high_water:
            self._protocol_paused = True
            try:
                self.protocol.pause_writing()
            except Exception:
                log.exception("Unhandled error in %r.pause_writing", self.protocol)

    def write_sequence(self, data: Iterable[bytes]) -> None:
        """Send several byte strings as one write."""
        self.write(b"".join(data))

    def _start_writing(self) -> None:
        self.reactor.add_writer(self.fileno, self._do_write)

    def _do_write(self) -> None:
        buffer = self._buffer
        if buffer is None:
            return  # dropped by abort_connection() after this turn's select()
        if buffer:
            try:
                sent = self.socket.send(buffer)
            except _BLOCKING:
                return
            except OSError as exc:
                self._connection_failed(exc)
                return
            del buffer[:sent]
        if self._protocol_paused and len(buffer) <= self._limits.low_water:
            self._protocol_paused = False
            try:
                self.protocol.resume_writing()
            except Exception:
                log.exception("Unhandled error in %r.resume_writing", self.protocol)
        if not buffer:
            self._buffer = None
            if not self.disconnected:
                self.reactor.remove_writer(self.fileno)
            if self.disconnecting:
                self._close(error.ConnectionDone())

    def get_write_buffer_size(self) -> int:
        """How many bytes wait to be sent."""
        return len(self._buffer) if self._buffer is not None else 0

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        """Set the high- and low-water marks that pause and resume the protocol."""
        limits = self._limits
        high = limits.high_water if high is None else high
        low = limits.low_water if low is None else low
        if low > high:
            raise ValueError("the low-water mark must not exceed the high-water mark")
        self._limits = _Limits(high, low, limits.close_timeout)

    # The limits are one shared object until a connection changes its own:
    # three numbers every idle connection would otherwise carry.

    @property
    def high_water(self) -> int:
        """Unsent bytes past which the protocol is told ``pause_writing``."""
        return self._limits.high_water

    @property
    def low_water(self) -> int:
        """Unsent bytes at or below which the protocol is told ``resume_writing``."""
        return self._limits.low_water

    @property
    def close_timeout(self) -> float:
        """Seconds ``lose_connection`` waits for a peer to read what is buffered."""
        return self._limits.close_timeout

    @close_timeout.setter
    def close_timeout(self, seconds: float) -> None:
        limits = self._limits
        self._limits = _Limits(limits.high_water, limits.low_water, seconds)

    # -- closing -------------------------------------------------------------------

    def lose_connection(self) -> None:
        """Close the connection once everything buffered has been sent."""
        self._close_when_flushed(error.ConnectionDone())

    def _close_when_flushed(self, reason: Exception) -> None:
        if self.disconnecting or self.disconnected:
            return
        self.disconnecting = True
        self.reactor.remove_reader(self.fileno)
        if not self._buffer:
            # Let the protocol finish the call it is in before it hears of the end.
            self.reactor.call_soon(self._close_if_flushed, reason)
        else:
            self._arm_close_deadline()

    def _close_if_flushed(self, reason: Exception) -> None:
        # Something written after lose_connection() may still be buffered:
        # then _do_write closes when it has gone out.
        if not self._buffer:
            self._close(reason)
        else:
            self._arm_close_deadline()

    def _arm_close_deadline(self) -> None:
        if self._close_call is None and self.close_timeout > 0 and not self.disconnected:
            self._close_call = self.reactor.call_later(self.close_timeout, self._close_too_slow)

    def _close_too_slow(self) -> None:
        self._close_call = None
        if self.disconnected:
            return
        log.info(
            "closing %s: %d bytes still unread after %gs; aborting",
            self._peer_text(), len(self._buffer or b""), self.close_timeout,
        )
        self.abort_connection()

    def _peer_text(self) -> str:
        try:
            peer = self.get_peer()
        except OSError:
            return "a connection"
        return f"{peer.host}:{peer.port}"

    def detach(self) -> tuple[socket.socket, bytes]:
        """Hand the socket over: stop watching it and forget it, without closing it.

        For a code upgrade: the caller passes the descriptor to another
        process (``socket.send_fds``) and closes its own copy, and the TCP
        connection lives on there. The protocol is not told (it is
        being handed over, not lost).
        Returns the socket and the output the kernel had not taken yet,
        which the other process must write first.
        """
        self.disconnected = True
        self.disconnecting = True
        self.connected = False
        call, self._close_call = self._close_call, None
        if call is not None and call.active():
            call.cancel()
        self.reactor.remove_all(self.fileno)
        unsent = bytes(self._buffer or b"")
        self._buffer = None
        return self.socket, unsent

    def abort_connection(self) -> None:
        """Close the connection now, dropping anything still buffered."""
        if self.disconnected:
            return
        self.disconnecting = True
        self._buffer = None
        self.reactor.call_soon(self._close, error.ConnectionLost("connection was aborted"))
        self.reactor.remove_all(self.fileno)

    def _connection_failed(self, exc: OSError) -> None:
        if exc.errno in _LOST_ERRNOS:
            reason: Exception = error.ConnectionLost(f"connection was lost: {exc.strerror}")
        else:
            reason = error.ConnectionLost(f"connection failed: {exc}")
        self._buffer = None
        self._close(reason)

    def _close(self, reason: Exception) -> None:
        if self.disconnected:
            return
        self.disconnected = True
        self.disconnecting = True
        self.connected = False
        call, self._close_call = self._close_call, None
        if call is not None and call.active():
            call.cancel()
        self.reactor.remove_all(self.fileno)
        if self._peer is None:
            # get_peer() asks the socket, which is about to go: ask it now.
            try:
                self.get_peer()
            except OSError:
                # Reset before anyone asked (the kernel forgets the peer then).
                self._peer = _UNKNOWN_PEER
        try:
            self.socket.close()
        except OSError:
            pass
        self._buffer = None
        protocol = self.protocol
        protocol.connected = False
        try:
            protocol.connection_lost(Failure(reason))
        except Exception:
            log.exception("Unhandled error in %r.connection_lost", protocol)
        self._connection_ended(reason)

    def _connection_ended(self, reason: Exception) -> None:
        """Hook for subclasses: the connection is closed and the protocol told."""

    # -- addresses -----------------------------------------------------------------

    def get_peer(self) -> Address:
        """The remote end's address.

        Looked up when first asked and kept from then on (and at the close,
        for whoever asks later): an idle connection whose protocol never asks
        does not carry it. Empty (``""``, port 0) if the connection was reset
        before anyone asked.
        """
        if self._peer is None:
            self._peer = _address(self.socket.family, self.socket.getpeername())
        return self._peer

    def get_host(self) -> Address:
        """The local end's address (asked of the socket: nothing in Reality keeps asking)."""
        return _address(self.socket.family, self.socket.getsockname())

    def set_tcp_nodelay(self, enabled: bool) -> None:
        """Turn Nagle's algorithm off (True, the default) or on."""
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, int(enabled))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} fd={self.fileno} protocol={type(self.protocol).__name__}>"


class Server(Connection):
    """A connection accepted by a :class:`Port`.

    ``peer`` is what ``accept()`` said, as the factory saw it. It is not
    kept: the protocols that want it ask :meth:`get_peer` (and keep it), and
    an idle connection whose protocol does not ask is 150 bytes lighter.
    """

    __slots__ = ()

    def __init__(
        self, reactor: IReactorIO, sock: socket.socket, protocol: IProtocol, peer: Address
    ) -> None:
        super().__init__(reactor, sock, protocol)


class Client(Connection):
    """A connection made by a :class:`Connector`."""

    __slots__ = ("connector",)

    def __init__(
        self, reactor: IReactorIO, sock: socket.socket, protocol: IProtocol, connector: Connector
    ) -> None:
        super().__init__(reactor, sock, protocol)
        self.connector = connector

    def _connection_ended(self, reason: Exception) -> None:
        self.connector._connection_lost(reason)


def _family_for(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


class Port:
    """A listening TCP socket that makes a protocol for each connection."""

    accept_batch = 128

    def __init__(
        self,
        reactor: IReactorIO,
        port: int,
        factory: IProtocolFactory,
        interface: str = "",
        backlog: int = 511,
        *,
        sock: socket.socket | None = None,
    ) -> None:
        self.reactor = reactor
        #: A socket already bound and listening to adopt instead of binding
        #: one (inherited across a code upgrade: no connection is refused).
        self._adopt = sock
        self.port = port
        self.factory = factory
        self.interface = interface
        self.backlog = backlog
        self.socket: socket.socket | None = None
        self.listening = False
        self._address: Address | None = None
        #: Times the back-off (``seconds()``/``call_later()``); tests put a Clock here.
        self.clock: IReactorTime = reactor
        #: False while accepting is paused after running out of descriptors.
        self.accepting = False
        self._backoff = 0.0  # the current pause; 0 when accept() last worked
        self._resume_call: IDelayedCall | None = None
        self._failures = 0  # exhausted accept() calls not yet reported in the log
        self._logged_at: float | None = None  # when the last "cannot accept" line was written
        self._reported = False  # a "cannot accept" line awaits its "accepting again"

    def start_listening(self) -> None:
        """Open, bind and listen (or adopt the socket given); CannotListenError on failure."""
        family = _family_for(self.interface)
        if self._adopt is not None:
            sock, self._adopt = self._adopt, None
            family = sock.family
            try:
                sock.setblocking(False)
            except OSError as exc:
                raise error.CannotListenError(self.interface, self.port, exc) from exc
        else:
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((self.interface, self.port))
                sock.listen(self.backlog)
                sock.setblocking(False)
            except OSError as exc:
                sock.close()
                raise error.CannotListenError(self.interface, self.port, exc) from exc
        self.socket = sock
        self._address = _address(family, sock.getsockname())
        self.listening = True
        self.factory.do_start()
        self.accepting = True
        self.reactor.add_reader(sock.fileno(), self._do_accept)
        log.debug("%s listening on %s", type(self.factory).__name__, self._address)

    def _do_accept(self) -> None:
        sock = self.socket
        if sock is None or not self.accepting:
            return
        for _ in range(self.accept_batch):
            try:
                conn, addr = sock.accept()
            except _BLOCKING:
                break
            except OSError as exc:
                if exc.errno in _EXHAUSTED_ERRNOS:
                    self._pause_accepting(exc)
                    return
                if exc.errno in (errno.ECONNABORTED, errno.EPROTO):
                    continue
                log.exception("accept() failed on %s", self._address)
                return
            conn.setblocking(False)
            peer = _address(conn.family, addr)
            try:
                protocol = self.factory.build_protocol(peer)
            except Exception:
                log.exception("Unhandled error in %r.build_protocol", self.factory)
                protocol = None
            if protocol is None:
                conn.close()
                continue
            Server(self.reactor, conn, protocol, peer)._start()
        # The backlog was drained (or a full batch taken) without running out.
        if self._backoff:
            self._backoff = 0.0
            if self._reported:
                self._reported = False
                log.warning("accepting connections on %s again", self._address)

    def _pause_accepting(self, exc: OSError) -> None:
        """accept() ran out of a resource: stop watching the socket for a while."""
        assert self.socket is not None
        self.accepting = False
        self.reactor.remove_reader(self.socket.fileno())
        self._backoff = min(max(self._backoff * 2, ACCEPT_BACKOFF_MIN), ACCEPT_BACKOFF_MAX)
        self._resume_call = self.clock.call_later(self._backoff, self._resume_accepting)
        self._failures += 1
        now = self.clock.seconds()
        if self._logged_at is None or now - self._logged_at >= ACCEPT_LOG_INTERVAL:
            unreported = self._failures - 1
            self._failures = 0
            self._logged_at = now
            self._reported = True
            log.error(
                "cannot accept connections on %s: %s; retrying after pauses of %.1f to %.1f s"
                "%s (logged at most every %.0f s)",
                self._address, exc.strerror or exc, ACCEPT_BACKOFF_MIN, ACCEPT_BACKOFF_MAX,
                f" ({unreported} more failures since the last message)" if unreported else "",
                ACCEPT_LOG_INTERVAL,
            )

    def _resume_accepting(self) -> None:
        self._resume_call = None
        if self.listening and self.socket is not None and not self.accepting:
            self.accepting = True
            self.reactor.add_reader(self.socket.fileno(), self._do_accept)

    def get_host(self) -> Address:
        """The address this port listens on (with the real port number)."""
        assert self._address is not None, "the port is not listening"
        return self._address

    def stop_listening(self) -> Deferred[None]:
        """Stop accepting connections. Open connections are left alone."""
        if not self.listening:
            return succeed(None)
        self.listening = False
        self.accepting = False
        if self._resume_call is not None and self._resume_call.active():
            self._resume_call.cancel()
        self._resume_call = None
        assert self.socket is not None
        self.reactor.remove_all(self.socket.fileno())
        self.socket.close()
        self.socket = None
        d: Deferred[None] = Deferred()

        def stopped() -> None:
            try:
                self.factory.do_stop()
            finally:
                d.callback(None)

        self.reactor.call_soon(stopped)
        return d

    def __repr__(self) -> str:
        return f"<Port {self._address} {type(self.factory).__name__}>"


class Connector:
    """An outgoing TCP connection attempt, and the connection it makes."""

    def __init__(
        self,
        reactor: IReactorIO,
        host: str,
        port: int,
        factory: IClientFactory,
        timeout: float = 30,
    ) -> None:
        self.reactor = reactor
        self.host = host
        self.port = port
        self.factory = factory
        self.timeout = timeout
        self.state = "disconnected"
        self.transport: Client | None = None
        self._socket: socket.socket | None = None
        self._timer: IDelayedCall | None = None
        self._factory_started = False

    def get_destination(self) -> Address:
        """Where this connector connects to."""
        return Address("TCP", self.host, self.port)

    def connect(self) -> None:
        """Start (or restart) the connection attempt."""
        if self.state != "disconnected":
            raise RuntimeError(f"cannot connect while {self.state}")
        self.state = "connecting"
        if not self._factory_started:
            self.factory.do_start()
            self._factory_started = True
        self.factory.started_connecting(self)
        try:
            infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            self._fail_soon(error.DNSLookupError(f"cannot resolve {self.host!r}: {exc}"))
            return
        family, type_, proto, _, addr = infos[0]
        sock = socket.socket(family, type_, proto)
        sock.setblocking(False)
        self._socket = sock
        code = sock.connect_ex(addr)
        if code not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN):
            self._fail_soon(self._error_for(code))
            return
        self.reactor.add_writer(sock.fileno(), self._do_connect)
        self._timer = self.reactor.call_later(self.timeout, self._timed_out)

    def _error_for(self, code: int) -> Exception:
        text = f"cannot connect to {self.host}:{self.port}: {errno.errorcode.get(code, code)}"
        if code == errno.ECONNREFUSED:
            return error.ConnectionRefusedError(text)
        if code == errno.ETIMEDOUT:
            return error.ConnectingTimeoutError(text)
        return error.ConnectError(text)

    def _do_connect(self) -> None:
        sock = self._socket
        if sock is None or self.state != "connecting":
            return
        self.reactor.remove_all(sock.fileno())
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            self._fail(self._error_for(code))
            return
        self._cancel_timer()
        try:
            protocol = self.factory.build_protocol(_address(sock.family, sock.getpeername()))
        except OSError as exc:
            self._fail(error.ConnectError(str(exc)))
            return
        self._socket = None
        if protocol is None:
            sock.close()
            self.state = "disconnected"
            return
        self.state = "connected"
        self.transport = Client(self.reactor, sock, protocol, self)
        self.transport._start()

    def _timed_out(self) -> None:
        self._timer = None
        if self.state == "connecting":
            self._fail(error.ConnectingTimeoutError(
                f"connecting to {self.host}:{self.port} timed out after {self.timeout} s"
            ))

    def _cancel_timer(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _fail_soon(self, reason: Exception) -> None:
        self.reactor.call_soon(self._fail, reason)

    def _fail(self, reason: Exception) -> None:
        if self.state != "connecting":
            return
        self._cancel_timer()
        if self._socket is not None:
            self.reactor.remove_all(self._socket.fileno())
            self._socket.close()
            self._socket = None
        self.state = "disconnected"
        try:
            self.factory.client_connection_failed(self, Failure(reason))
        except Exception:
            log.exception("Unhandled error in %r.client_connection_failed", self.factory)
        self._maybe_stop_factory()

    def _connection_lost(self, reason: Exception) -> None:
        self.state = "disconnected"
        self.transport = None
        try:
            self.factory.client_connection_lost(self, Failure(reason))
        except Exception:
            log.exception("Unhandled error in %r.client_connection_lost", self.factory)
        self._maybe_stop_factory()

    def _maybe_stop_factory(self) -> None:
        # The factory may have called connect() again (reconnecting).
        if self.state == "disconnected" and self._factory_started:
            self._factory_started = False
            self.factory.do_stop()

    def stop_connecting(self) -> None:
        """Abandon the attempt; the factory hears ``client_connection_failed``."""
        if self.state == "connecting":
            self._fail(error.ConnectError("connection attempt was cancelled"))

    def disconnect(self) -> None:
        """Stop connecting, or close the connection."""
        if self.state == "connecting":
            self.stop_connecting()
        elif self.state == "connected" and self.transport is not None:
            self.transport.lose_connection()
