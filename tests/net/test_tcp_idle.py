"""What an idle TCP connection costs, and the peer address it no longer keeps.

``benchmarks/idle_memory.py`` gives the figure beside its peers (server
RSS per idle connection); these tests keep the causes from coming back.
"""

from __future__ import annotations

import gc
import socket
import tracemalloc

import pytest

from reality.net.defer import Deferred, Failure
from reality.net.protocol import Address, Factory, Protocol
from reality.net.reactor import SelectReactor
from reality.net.tcp import Connection
from reality.net.testing import wait_for


class CountingEcho(Protocol):
    """An echo protocol as users write it (a subclass without ``__slots__``) that counts."""

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)
        factory = self.factory
        factory.echoed += 1
        if factory.echoed == factory.expected:
            factory.all_echoed.callback(None)


class Counting(Factory):
    """Counts the echoes written; fires ``all_echoed`` at ``expected``."""

    protocol = CountingEcho

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.echoed = 0
        self.all_echoed: Deferred[None] = Deferred()


class Recorder(Protocol):
    """Records the transport and what ``get_peer()`` says when the connection is lost."""

    def connection_made(self) -> None:
        self.factory.transports.append(self.transport)

    def connection_lost(self, reason: Failure) -> None:
        self.factory.lost.callback(self.transport.get_peer())


class RecorderFactory(Factory):
    protocol = Recorder

    def __init__(self) -> None:
        self.transports: list[Connection] = []
        self.lost: Deferred[Address] = Deferred()


def _connect(port: int, count: int) -> list[socket.socket]:
    """``count`` clients that have each sent one 64-byte message."""
    clients = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"x" * 64)
        clients.append(sock)
    return clients


def test_an_idle_connection_holds_no_buffer_and_no_instance_dict(reactor):
    """After an echo the server's transport has no send buffer left and no ``__dict__``."""
    factory = RecorderFactory()
    port = reactor.listen_tcp(0, factory, interface="127.0.0.1")
    client = socket.create_connection(("127.0.0.1", port.get_host().port), timeout=5)
    try:
        client.sendall(b"hello")
        seen: Deferred[None] = Deferred()
        reactor.call_later(0.2, seen.callback, None)
        wait_for(reactor, seen, timeout=5)
        (transport,) = factory.transports
        transport.write(b"reply")
        assert client.recv(100) == b"reply"
        assert not hasattr(transport, "__dict__")
        assert transport._buffer is None
        assert transport.get_write_buffer_size() == 0
    finally:
        client.close()


def test_memory_per_idle_echo_connection_is_bounded():
    """300 idle echo connections on the selector reactor cost under 800 bytes each.

    Python allocations only (tracemalloc), server side: the socket object,
    its selector key, the transport and the protocol. It was 1,110 bytes
    with a send buffer, three cached bound methods and the peer's address
    kept for every connection; it is about 640 now.
    """
    count = 300
    reactor = SelectReactor()
    try:
        factory = Counting(count)
        port = reactor.listen_tcp(0, factory, interface="127.0.0.1", backlog=count + 10)
        warm = _connect(port.get_host().port, 10)
        factory.expected = 10
        wait_for(reactor, factory.all_echoed, timeout=10)
        factory.echoed = 0
        factory.expected = count
        factory.all_echoed = Deferred()
        clients = _connect(port.get_host().port, count)
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            wait_for(reactor, factory.all_echoed, timeout=10)
            gc.collect()
            after = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        per_connection = (after - before) / count
        assert per_connection < 800, f"{per_connection:.0f} bytes per idle connection"
        for sock in warm + clients:
            sock.close()
    finally:
        reactor.close()


def test_the_peer_is_known_after_the_close_even_if_nobody_asked_before(reactor):
    """An accepted connection looks its peer up lazily, but still tells it in connection_lost."""
    factory = RecorderFactory()
    port = reactor.listen_tcp(0, factory, interface="127.0.0.1")
    client = socket.create_connection(("127.0.0.1", port.get_host().port), timeout=5)
    client_port = client.getsockname()[1]
    client.close()
    peer = wait_for(reactor, factory.lost, timeout=5)
    assert peer == Address("TCP", "127.0.0.1", client_port)


@pytest.mark.parametrize("ask_first", [True, False])
def test_a_reset_connection_still_answers_get_peer(reactor, ask_first):
    """After a reset, get_peer() in connection_lost answers (empty only if nobody asked before)."""
    factory = RecorderFactory()
    port = reactor.listen_tcp(0, factory, interface="127.0.0.1")
    client = socket.create_connection(("127.0.0.1", port.get_host().port), timeout=5)
    client_port = client.getsockname()[1]
    client.sendall(b"x")
    seen: Deferred[None] = Deferred()
    reactor.call_later(0.2, seen.callback, None)
    wait_for(reactor, seen, timeout=5)
    (transport,) = factory.transports
    if ask_first:
        assert transport.get_peer().port == client_port
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    client.close()  # linger 0: RST
    peer = wait_for(reactor, factory.lost, timeout=5)
    assert isinstance(peer, Address)
    if ask_first:
        assert peer == Address("TCP", "127.0.0.1", client_port)
