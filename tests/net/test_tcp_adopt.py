"""Adopting sockets from another process (a code upgrade): ports and connections, both reactors."""

from __future__ import annotations

import socket

from reality.net.defer import Deferred
from reality.net.protocol import Factory, Protocol
from reality.net.testing import wait_for


class Collect(Protocol):
    def __init__(self, done: Deferred[bytes]) -> None:
        self.done = done
        self.data = b""

    def connection_made(self) -> None:
        self.transport.write(b"hello\n")

    def data_received(self, data: bytes) -> None:
        self.data += data
        if self.data.endswith(b"\n") and not self.done.called:
            self.done.callback(self.data)


def test_adopted_listening_socket_accepts_without_binding(reactor) -> None:  # type: ignore[no-untyped-def]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port_number = listener.getsockname()[1]
    done: Deferred[bytes] = Deferred()
    class OneFactory(Factory):
        def build_protocol(self, addr):  # type: ignore[no-untyped-def]
            protocol = Collect(done)
            protocol.factory = self
            return protocol

    factory = OneFactory()
    port = reactor.adopt_tcp_port(listener, factory)
    assert port.get_host().port == port_number
    client = socket.create_connection(("127.0.0.1", port_number), timeout=5)
    client.setblocking(False)
    reactor.call_later(0.05, lambda: client.sendall(b"from the client\n"))
    assert wait_for(reactor, done, timeout=5) == b"from the client\n"
    client.settimeout(5)
    assert client.recv(100) == b"hello\n"
    client.close()
    wait_for(reactor, port.stop_listening(), timeout=5)


def test_detached_connection_lives_on_in_an_adopter(reactor) -> None:  # type: ignore[no-untyped-def]
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname(), timeout=5)
    served, _ = listener.accept()
    listener.close()
    first: Deferred[bytes] = Deferred()
    one = Collect(first)
    transport = reactor.adopt_tcp_connection(served, one)
    client.sendall(b"one\n")
    assert wait_for(reactor, first, timeout=5) == b"one\n"
    sock, unsent = transport.detach()
    assert unsent == b""
    copy = socket.socket(fileno=sock.detach())  # as recv_fds would give it
    second: Deferred[bytes] = Deferred()
    two = Collect(second)
    reactor.adopt_tcp_connection(copy, two)
    client.sendall(b"two\n")
    assert wait_for(reactor, second, timeout=5) == b"two\n"
    client.settimeout(5)
    got = b""
    while got.count(b"hello\n") < 2:
        got += client.recv(100)
    assert got == b"hello\nhello\n"
    assert one.data == b"one\n"  # the first protocol heard nothing more
    client.close()
