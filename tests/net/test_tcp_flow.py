"""Flow control of TCP transports, fast and direct, over real sockets on every reactor.

``pause_reading()`` holds back ``data_received`` until ``resume_reading()``;
a write the kernel takes only in part keeps the rest buffered (and pauses
the protocol past the high-water mark) and delivers it all, in order.
"""

from __future__ import annotations

import socket

from reality.net.defer import Deferred, Failure
from reality.net.protocol import ClientFactory, Factory, Protocol
from reality.net.testing import wait_for


def later(reactor, seconds: float) -> Deferred[None]:
    d: Deferred[None] = Deferred()
    reactor.call_later(seconds, d.callback, None)
    return d


class Paused(Protocol):
    """Pauses reading as soon as it is connected; records what it is given."""

    def connection_made(self) -> None:
        self.transport.pause_reading()
        self.factory.protocols.append(self)
        self.received = bytearray()
        self.got: Deferred[bytes] = Deferred()

    def data_received(self, data: bytes) -> None:
        self.received += data
        if not self.got.called:
            self.got.callback(bytes(self.received))


def test_pause_reading_holds_back_data_until_resume(reactor):
    """Bytes sent to a paused transport are not delivered until resume_reading()."""
    factory = Factory.for_protocol(Paused)
    factory.protocols = []
    port = reactor.listen_tcp(0, factory, interface="127.0.0.1")
    client = socket.create_connection(("127.0.0.1", port.get_host().port), timeout=5)
    try:
        client.sendall(b"hello")
        wait_for(reactor, later(reactor, 0.3), timeout=5)
        (protocol,) = factory.protocols
        assert protocol.received == b""
        protocol.transport.resume_reading()
        assert wait_for(reactor, protocol.got, timeout=5) == b"hello"
    finally:
        client.close()
        wait_for(reactor, port.stop_listening(), timeout=5)


class BigWriter(Protocol):
    """Writes ``factory.data`` in one call; counts pause/resume_writing."""

    def connection_made(self) -> None:
        self.pauses = 0
        self.resumes = 0
        self.factory.protocols.append(self)
        self.transport.write(self.factory.data)
        self.buffered_after_write = self.transport.get_write_buffer_size()
        self.transport.lose_connection()

    def pause_writing(self) -> None:
        self.pauses += 1

    def resume_writing(self) -> None:
        self.resumes += 1


class SlowCollector(Protocol):
    """Reads nothing for a while, then everything until the server closes."""

    def connection_made(self) -> None:
        self.received = bytearray()
        self.transport.pause_reading()
        self.factory.reactor.call_later(0.3, self._look_then_read)

    def _look_then_read(self) -> None:
        (server,) = self.factory.server.protocols
        self.factory.buffered_while_unread = server.transport.get_write_buffer_size()
        self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        self.received += data

    def connection_lost(self, reason: Failure) -> None:
        self.factory.result.callback(bytes(self.received))


def test_partial_send_buffers_the_remainder_and_delivers_it(reactor):
    """A write larger than the kernel takes buffers the rest, pauses the protocol, sends it all."""
    data = bytes(range(256)) * (32 * 1024)  # 8 MiB, position-dependent
    server = Factory.for_protocol(BigWriter)
    server.protocols = []
    server.data = data
    port = reactor.listen_tcp(0, server, interface="127.0.0.1")
    client = ClientFactory.for_protocol(SlowCollector)
    client.reactor = reactor
    client.server = server
    client.result = Deferred()
    reactor.connect_tcp("127.0.0.1", port.get_host().port, client, timeout=5)
    try:
        received = wait_for(reactor, client.result, timeout=20)
        (writer,) = server.protocols
        # The kernel took some at once, not all: the rest was buffered...
        assert 0 < writer.buffered_after_write < len(data)
        assert 0 < client.buffered_while_unread < len(data)
        # ...the protocol was told to pause, then to resume...
        assert writer.pauses == 1 and writer.resumes == 1
        # ...and every byte arrived, in order.
        assert received == data
    finally:
        wait_for(reactor, port.stop_listening(), timeout=5)
