"""TCP transports over real sockets on 127.0.0.1."""

from __future__ import annotations

import hashlib
import socket
import threading

import pytest

from reality.net import error
from reality.net.defer import Deferred, Failure
from reality.net.protocol import ClientFactory, Factory, Protocol
from reality.net.testing import wait_for


class Echo(Protocol):
    """Echoes with back-pressure: stops reading while its own writes are paused."""

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)

    def pause_writing(self) -> None:
        self.factory.pauses += 1
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.transport.resume_reading()


class EchoFactory(Factory):
    protocol = Echo

    def __init__(self) -> None:
        self.pauses = 0


def payload(index: int, size: int) -> bytes:
    """Deterministic, position-dependent bytes so reordering would be noticed."""
    seed = hashlib.sha256(index.to_bytes(4, "big")).digest()
    return (seed * (size // len(seed) + 1))[:size]


class Sender(Protocol):
    """Sends a payload, collects the echo, hangs up when it is all back."""

    def __init__(self, index: int, size: int) -> None:
        self.index = index
        self.expected = payload(index, size)
        self.received = bytearray()
        self.reason: Failure | None = None

    def connection_made(self) -> None:
        self.transport.write(self.expected)
        reactor = getattr(self.factory, "reactor", None)
        if reactor is not None and len(self.expected) >= 8 << 20:
            # A slow reader: the server's send buffer must fill and pause it.
            self.transport.pause_reading()
            reactor.call_later(0.3, self.transport.resume_reading)

    def data_received(self, data: bytes) -> None:
        self.received += data
        if len(self.received) >= len(self.expected):
            self.transport.lose_connection()

    def connection_lost(self, reason: Failure) -> None:
        self.reason = reason
        self.factory.finished(self)


class SenderFactory(ClientFactory):
    def __init__(self, sizes: list[int]) -> None:
        self.sizes = sizes
        self.done: Deferred[list[Sender]] = Deferred()
        self.senders: list[Sender] = []
        self.failures: list[Failure] = []
        self.remaining = len(sizes)
        self.next_index = 0

    def build_protocol(self, addr: object) -> Sender:
        index = self.next_index
        self.next_index += 1
        p = Sender(index, self.sizes[index])
        p.factory = self
        return p

    def finished(self, sender: Sender) -> None:
        self.senders.append(sender)
        self._one_done()

    def client_connection_failed(self, connector: object, reason: Failure) -> None:
        self.failures.append(reason)
        self._one_done()

    def _one_done(self) -> None:
        self.remaining -= 1
        if self.remaining == 0 and not self.done.called:
            self.done.callback(self.senders)


def test_thousand_concurrent_echo_connections_get_every_byte_back(reactor):
    """1,000 concurrent connections with payloads from 1 byte to 8 MiB all echo intact."""
    sizes = [1 + (i * 7919) % 65536 for i in range(992)]
    sizes += [1, 2, 3, 1 << 20, 2 << 20, 4 << 20, 8 << 20, 8 << 20]
    assert len(sizes) == 1000 and max(sizes) == 8 << 20
    server = EchoFactory()
    port = reactor.listen_tcp(0, server, interface="127.0.0.1")
    clients = SenderFactory(sizes)
    clients.reactor = reactor
    for _ in sizes:
        reactor.connect_tcp("127.0.0.1", port.get_host().port, clients, timeout=30)
    senders = wait_for(reactor, clients.done, timeout=120)
    assert clients.failures == []
    assert len(senders) == 1000
    for sender in senders:
        assert sender.reason.check(error.ConnectionDone), sender.reason
        assert len(sender.received) == len(sender.expected), sender.index
        assert bytes(sender.received) == sender.expected, sender.index
    # The large payloads must have pushed the server past its high-water mark.
    assert server.pauses > 0
    assert threading.active_count() == 1


class Flooder(Protocol):
    """Writes a lot, then records how the connection ended."""

    def connection_made(self) -> None:
        self.transport.write(b"x" * (16 << 20))

    def connection_lost(self, reason: Failure) -> None:
        self.factory.lost.callback([reason])


class FlooderFactory(Factory):
    protocol = Flooder

    def __init__(self) -> None:
        self.lost: Deferred[Failure] = Deferred()


def test_peer_vanishing_mid_write_is_a_lost_connection(reactor):
    """A peer that resets while we still have 16 MiB to send ends the connection cleanly."""
    factory = FlooderFactory()
    port = reactor.listen_tcp(0, factory, interface="127.0.0.1")
    peer = socket.create_connection(("127.0.0.1", port.get_host().port), timeout=5)
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")

    def vanish() -> None:
        peer.recv(1024)
        peer.close()  # linger 0: RST

    reactor.call_later(0.05, vanish)
    (reason,) = wait_for(reactor, factory.lost, timeout=10)
    assert reason.check(error.ConnectionLost)
    # The reactor still serves: a new connection works.
    echo = EchoFactory()
    port2 = reactor.listen_tcp(0, echo, interface="127.0.0.1")
    clients = SenderFactory([1000])
    reactor.connect_tcp("127.0.0.1", port2.get_host().port, clients, timeout=5)
    (sender,) = wait_for(reactor, clients.done, timeout=10)
    assert bytes(sender.received) == sender.expected


class FailureRecorder(ClientFactory):
    protocol = Protocol

    def __init__(self) -> None:
        self.failed: Deferred[Failure] = Deferred()

    def client_connection_failed(self, connector: object, reason: Failure) -> None:
        self.failed.callback([reason])


def test_connect_to_closed_port_fails_through_client_connection_failed(reactor):
    """Connecting to a port nobody listens on calls client_connection_failed (refused)."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    closed_port = probe.getsockname()[1]
    probe.close()
    factory = FailureRecorder()
    reactor.connect_tcp("127.0.0.1", closed_port, factory, timeout=5)
    (reason,) = wait_for(reactor, factory.failed, timeout=10)
    assert reason.check(error.ConnectionRefusedError)


def test_connect_to_unresolvable_host_fails(reactor):
    """An unresolvable host name fails through client_connection_failed, not an exception."""
    factory = FailureRecorder()
    reactor.connect_tcp("no-such-host.invalid", 1, factory, timeout=5)
    (reason,) = wait_for(reactor, factory.failed, timeout=10)
    assert reason.check(error.ConnectError)


class WriteThenClose(Protocol):
    def connection_made(self) -> None:
        self.transport.write(self.factory.data)
        self.transport.lose_connection()


class Collector(Protocol):
    def connection_made(self) -> None:
        self.received = bytearray()

    def data_received(self, data: bytes) -> None:
        self.received += data

    def connection_lost(self, reason: Failure) -> None:
        self.factory.result.callback((bytes(self.received), reason))


def test_lose_connection_flushes_before_closing(reactor):
    """lose_connection() right after a 4 MiB write still delivers every byte, then closes."""
    data = payload(7, 4 << 20)
    server = Factory.for_protocol(WriteThenClose)
    server.data = data
    port = reactor.listen_tcp(0, server, interface="127.0.0.1")
    client = ClientFactory.for_protocol(Collector)
    client.result = Deferred()
    reactor.connect_tcp("127.0.0.1", port.get_host().port, client, timeout=5)
    received, reason = wait_for(reactor, client.result, timeout=20)
    assert received == data
    assert reason.check(error.ConnectionDone)


def test_listen_on_port_zero_and_stop_listening(reactor):
    """Port 0 picks a free port; stop_listening fires and the port refuses connections."""
    port = reactor.listen_tcp(0, EchoFactory(), interface="127.0.0.1")
    number = port.get_host().port
    assert number > 0
    wait_for(reactor, port.stop_listening(), timeout=5)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", number), timeout=2)


def test_listen_on_busy_port_raises_cannot_listen(reactor):
    """Listening on a port already in use raises CannotListenError naming it."""
    port = reactor.listen_tcp(0, EchoFactory(), interface="127.0.0.1")
    with pytest.raises(error.CannotListenError) as info:
        reactor.listen_tcp(port.get_host().port, EchoFactory(), interface="127.0.0.1")
    assert str(port.get_host().port) in str(info.value)


class Exploding(Protocol):
    def data_received(self, data: bytes) -> None:
        raise RuntimeError("protocol bug")

    def connection_lost(self, reason: Failure) -> None:
        self.factory.lost.callback([reason])


def test_protocol_exception_closes_only_that_connection(reactor, caplog):
    """An exception in data_received is logged and aborts that connection; the server lives."""
    factory = Factory.for_protocol(Exploding)
    factory.lost = Deferred()
    port = reactor.listen_tcp(0, factory, interface="127.0.0.1")
    sock = socket.create_connection(("127.0.0.1", port.get_host().port), timeout=5)
    sock.sendall(b"boom")
    (reason,) = wait_for(reactor, factory.lost, timeout=5)
    assert reason.check(error.ConnectionLost)
    assert "protocol bug" in caplog.text
    sock.close()


def test_addresses_and_nodelay(reactor):
    """get_peer/get_host report both ends; TCP_NODELAY is on for accepted and connected sockets."""
    seen: Deferred[object] = Deferred()
    client_seen: Deferred[object] = Deferred()

    class Report(Protocol):
        def connection_made(self) -> None:
            t = self.transport
            nodelay = t.socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            seen.callback((t.get_peer(), t.get_host(), nodelay))

    class ClientReport(Protocol):
        def connection_made(self) -> None:
            socket_ = self.transport.socket
            client_seen.callback(socket_.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            self.transport.lose_connection()

    port = reactor.listen_tcp(0, Factory.for_protocol(Report), interface="127.0.0.1")
    sock = socket.create_connection(("127.0.0.1", port.get_host().port), timeout=5)
    peer, host, nodelay = wait_for(reactor, seen, timeout=5)
    assert peer.host == "127.0.0.1" and peer.port == sock.getsockname()[1]
    assert host.port == port.get_host().port
    assert nodelay
    sock.close()
    reactor.connect_tcp("127.0.0.1", port.get_host().port, ClientFactory.for_protocol(ClientReport))
    assert wait_for(reactor, client_seen, timeout=5)


def test_half_closed_peer_still_gets_the_reply(reactor):
    """A client that shuts down its sending side still receives what the server writes."""

    class ReplyOnEof(Protocol):
        def connection_made(self) -> None:
            self.got = bytearray()

        def data_received(self, data: bytes) -> None:
            self.got += data

        def eof_received(self) -> bool:
            self.transport.write(b"you said: " + bytes(self.got))
            self.transport.lose_connection()
            return True

    port = reactor.listen_tcp(0, Factory.for_protocol(ReplyOnEof), interface="127.0.0.1")
    sock = socket.create_connection(("127.0.0.1", port.get_host().port), timeout=5)
    sock.sendall(b"hello")
    sock.shutdown(socket.SHUT_WR)
    done: Deferred[None] = Deferred()
    reactor.call_later(0.2, done.callback, None)
    wait_for(reactor, done, timeout=5)
    sock.settimeout(5)
    reply = b""
    while chunk := sock.recv(100):
        reply += chunk
    assert reply == b"you said: hello"
    sock.close()
