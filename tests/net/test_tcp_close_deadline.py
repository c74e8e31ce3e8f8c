"""A polite close has a deadline: a peer that never reads cannot hold a closing connection."""

from __future__ import annotations

import socket
import time

from reality.net.defer import Deferred, Failure
from reality.net.protocol import Factory, Protocol
from reality.net.tcp import CLOSE_TIMEOUT
from reality.net.testing import wait_for


class WriteAndClose(Protocol):
    """Writes more than the peer's kernel will take, then asks to close after sending."""

    def connection_made(self) -> None:
        self.transport.close_timeout = self.factory.close_timeout
        self.lost: Deferred[float] = Deferred()
        self.factory.protocols.append(self)
        self.transport.write(b"x" * (8 << 20))
        self.transport.lose_connection()
        self.closing_since = time.monotonic()

    def connection_lost(self, reason: Failure) -> None:
        self.lost.callback(time.monotonic() - self.closing_since)


def serve(reactor, close_timeout: float):
    factory = Factory.for_protocol(WriteAndClose)
    factory.protocols = []
    factory.close_timeout = close_timeout
    port = reactor.listen_tcp(0, factory, interface="127.0.0.1")
    return factory, port


def test_default_close_timeout():
    """A minute to read what is left after a close, by default."""
    assert CLOSE_TIMEOUT == 60


def test_a_peer_that_never_reads_is_aborted_after_the_close_timeout(reactor):
    """lose_connection() with 8 MiB unread by a silent peer: aborted after close_timeout."""
    factory, port = serve(reactor, close_timeout=0.5)
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.settimeout(5)
    client.connect(("127.0.0.1", port.get_host().port))
    try:
        deadline = time.monotonic() + 5
        while not factory.protocols and time.monotonic() < deadline:
            reactor.iterate(0.05)
        (protocol,) = factory.protocols
        waited = wait_for(reactor, protocol.lost, timeout=5)
        assert 0.4 <= waited <= 3
    finally:
        client.close()
        wait_for(reactor, port.stop_listening(), timeout=5)


def test_a_reading_peer_gets_everything_before_the_close(reactor):
    """A peer that reads gets all 8 MiB and then the end of the stream (no abort)."""
    factory, port = serve(reactor, close_timeout=30)
    client = socket.create_connection(("127.0.0.1", port.get_host().port), timeout=5)
    client.setblocking(False)
    received = 0
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            reactor.iterate(0.01)
            try:
                chunk = client.recv(1 << 20)
            except BlockingIOError:
                continue
            if not chunk:
                break
            received += len(chunk)
        assert received == 8 << 20
    finally:
        client.close()
        wait_for(reactor, port.stop_listening(), timeout=5)
