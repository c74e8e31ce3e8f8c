"""The test doubles themselves: StringTransport, MemoryReactor, connected pairs."""

from __future__ import annotations

from reality.net import error
from reality.net.defer import Failure
from reality.net.protocol import Address, ClientFactory, Factory, Protocol
from reality.net.testing import (
    FakeConnection,
    MemoryReactor,
    StringTransport,
    StringTransportWithDisconnection,
    connected_pair,
    pump,
)


class Echo(Protocol):
    def data_received(self, data: bytes) -> None:
        self.transport.write(data)


class Recorder(Protocol):
    def connection_made(self) -> None:
        self.got = bytearray()
        self.reason: Failure | None = None

    def data_received(self, data: bytes) -> None:
        self.got += data

    def connection_lost(self, reason: Failure) -> None:
        self.reason = reason


def test_string_transport_records_writes_and_closing():
    """StringTransport keeps what was written and whether the protocol asked to close."""
    transport = StringTransport()
    proto = Echo()
    proto.make_connection(transport)
    proto.data_received(b"abc")
    transport.write_sequence([b"d", b"e"])
    assert transport.value() == b"abcde"
    assert transport.take() == b"abcde" and transport.value() == b""
    transport.lose_connection()
    assert transport.disconnecting and not transport.aborted
    assert transport.get_peer().host == "192.0.2.1"


def test_transport_with_disconnection_tells_the_protocol():
    """Closing a StringTransportWithDisconnection calls connection_lost once, clean or not."""
    proto = Recorder()
    transport = StringTransportWithDisconnection()
    transport.protocol = proto
    proto.make_connection(transport)
    transport.lose_connection()
    transport.lose_connection()
    assert proto.reason.check(error.ConnectionDone)
    other = Recorder()
    t2 = StringTransportWithDisconnection()
    t2.protocol = other
    other.make_connection(t2)
    t2.abort_connection()
    assert other.reason.check(error.ConnectionLost)


def test_fake_connection_builds_connects_and_answers():
    """FakeConnection asks the factory for a protocol for the peer; send() returns its answer."""
    peers: list[Address] = []

    class Greeter(Protocol):
        def connection_made(self) -> None:
            self.transport.write(b"hello\n")

        def data_received(self, data: bytes) -> None:
            if data == b"quit\n":
                self.transport.write(b"bye\n")
                self.transport.lose_connection()
            else:
                self.transport.write(data.upper())

        def connection_lost(self, reason: Failure) -> None:
            self.reason = reason

    class Recording(Factory):
        protocol = Greeter

        def build_protocol(self, addr: Address) -> Protocol | None:
            peers.append(addr)
            return super().build_protocol(addr)

    peer = Address("TCP", "198.51.100.7", 40001)
    conn = FakeConnection(Recording(), peer)
    assert peers == [peer] and conn.transport.get_peer() == peer
    assert conn.take() == b"hello\n"
    assert conn.send(b"abc") == b"ABC"
    assert not conn.closed
    assert conn.send(b"quit\n") == b"bye\n"
    assert conn.closed and conn.protocol.reason.check(error.ConnectionDone)


def test_connected_pair_and_pump_move_bytes_both_ways():
    """connected_pair + pump carry bytes between two protocols until both are quiet."""
    server, client = Echo(), Recorder()
    st, ct = connected_pair(server, client)
    ct.write(b"ping")
    pump(server, st, client, ct)
    assert bytes(client.got) == b"ping"


def test_memory_reactor_records_listens_and_connects():
    """MemoryReactor records listen/connect calls, starts factories and keeps fake time."""
    reactor = MemoryReactor()
    factory = Factory.for_protocol(Echo)
    port = reactor.listen_tcp(0, factory, interface="127.0.0.1")
    assert reactor.tcp_servers[0].factory is factory
    assert port.get_host().port > 0
    assert factory._ports_open == 1
    port.stop_listening()
    assert reactor.tcp_servers[0].stopped and factory._ports_open == 0

    started = []

    class Client(ClientFactory):
        protocol = Recorder

        def started_connecting(self, connector: object) -> None:
            started.append(connector)

    connector = reactor.connect_tcp("example.invalid", 4000, Client(), timeout=5)
    assert reactor.tcp_clients[0].host == "example.invalid"
    assert started == [connector]
    assert connector.get_destination().port == 4000

    fired = []
    reactor.call_later(3, fired.append, "late")
    reactor.advance(2)
    assert fired == []
    reactor.advance(1)
    assert fired == ["late"]
