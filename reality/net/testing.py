"""Test doubles: fake time, fake wires, a reactor that only records.

Protocol and world tests use these instead of sockets and sleeps::

    clock = Clock()
    transport = StringTransport()
    protocol = EchoFactory().build_protocol(transport.get_peer())
    protocol.make_connection(transport)
    protocol.data_received(b"hello")
    assert transport.value() == b"hello"
    clock.advance(30)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from attrs import define, field

from reality.net.address import Address
from reality.net.defer import Deferred, Failure, succeed
from reality.net.error import ConnectionDone, ConnectionLost
from reality.net.interfaces import (
    IClientFactory,
    IProtocol,
    IProtocolFactory,
    IReactorCore,
    IReactorTCP,
    IReactorTime,
    ITransport,
)
from reality.net.timers import DelayedCall, TimerQueue

__all__ = [
    "BufferingTransport",
    "Clock",
    "FakeConnection",
    "MemoryReactor",
    "StringTransport",
    "StringTransportWithDisconnection",
    "connected_pair",
]


class Clock:
    """A fake reactor clock: time moves only when the test says so."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self._timers = TimerQueue(self.seconds)

    def seconds(self) -> float:
        """The fake current time."""
        return self.now

    def call_later(
        self, delay: float, f: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> DelayedCall:
        """Schedule ``f(*args, **kwargs)`` ``delay`` fake seconds from now."""
        return self._timers.schedule(self.now + max(0.0, delay), f, args, kwargs)

    def call_soon(self, f: Callable[..., Any], *args: Any, **kwargs: Any) -> DelayedCall:
        """Schedule ``f`` for the next ``advance()``, even ``advance(0)``."""
        return self.call_later(0, f, *args, **kwargs)

    def advance(self, amount: float = 0.0) -> None:
        """Move time forward and run every call that falls due, in order.

        Calls scheduled while advancing run too if they fall due.
        Exceptions from calls propagate, so tests see them.
        """
        self.now += amount
        while True:
            call = self._timers.pop_one_due(self.now)
            if call is None:
                break
            call.func(*call.args, **call.kwargs)

    def pump(self, timings: Iterable[float]) -> None:
        """Advance by each amount in turn."""
        for amount in timings:
            self.advance(amount)

    def get_delayed_calls(self) -> list[DelayedCall]:
        """The calls still scheduled, earliest first."""
        return self._timers.live_calls()


class StringTransport:
    """A transport that records what is written to it."""

    def __init__(
        self,
        peer: Address | None = None,
        host: Address | None = None,
    ) -> None:
        self.io = bytearray()
        self.peer = peer or Address("TCP", "192.0.2.1", 51234)
        self.host = host or Address("TCP", "127.0.0.1", 4000)
        self.disconnecting = False
        self.disconnected = False
        self.aborted = False
        self.reading_paused = False
        self.protocol: IProtocol | None = None

    # -- the transport interface --------------------------------------------

    def write(self, data: bytes) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"write() takes bytes, not {type(data).__name__}")
        self.io += data

    def write_sequence(self, data: Iterable[bytes]) -> None:
        for chunk in data:
            self.write(chunk)

    def lose_connection(self) -> None:
        self.disconnecting = True

    def abort_connection(self) -> None:
        self.disconnecting = True
        self.aborted = True

    def get_peer(self) -> Address:
        return self.peer

    def get_host(self) -> Address:
        return self.host

    def get_write_buffer_size(self) -> int:
        """Nothing waits: every write is taken at once (BufferingTransport holds some)."""
        return 0

    def pause_reading(self) -> None:
        self.reading_paused = True

    def resume_reading(self) -> None:
        self.reading_paused = False

    # -- for tests -----------------------------------------------------------

    def value(self) -> bytes:
        """Everything written so far."""
        return bytes(self.io)

    def clear(self) -> None:
        """Forget what was written so far."""
        self.io.clear()

    def take(self) -> bytes:
        """Everything written since the last ``take``/``clear``, then clear."""
        data = bytes(self.io)
        self.io.clear()
        return data


class StringTransportWithDisconnection(StringTransport):
    """A StringTransport that tells its protocol when it is closed."""

    def lose_connection(self) -> None:
        if not self.disconnecting:
            self.disconnecting = True
            self._disconnect(ConnectionDone())

    def abort_connection(self) -> None:
        self.aborted = True
        if not self.disconnected:
            self.disconnecting = True
            self._disconnect(ConnectionLost("connection was aborted"))

    def _disconnect(self, reason: Exception) -> None:
        if self.disconnected:
            return
        self.disconnected = True
        if self.protocol is not None:
            self.protocol.connected = False
            self.protocol.connection_lost(Failure(reason))


class BufferingTransport(StringTransportWithDisconnection):
    """A transport whose peer reads only when the test says so (:meth:`drain`).

    Everything written waits in ``io`` as unread output. Like the TCP
    transport, it tells its protocol ``pause_writing`` once more than
    ``high_water`` bytes wait, and ``resume_writing`` when :meth:`drain`
    brings them to ``low_water`` or below. It records whether reading is
    paused and ``peak``, the most output that ever waited.
    """

    def __init__(self, high_water: int = 64 * 1024, low_water: int = 16 * 1024) -> None:
        super().__init__()
        self.high_water = high_water
        self.low_water = low_water
        self.writing_paused = False
        self.peak = 0

    def write(self, data: bytes) -> None:
        if self.disconnected:
            return
        super().write(data)
        self.peak = max(self.peak, len(self.io))
        if not self.writing_paused and len(self.io) > self.high_water:
            self.writing_paused = True
            if self.protocol is not None:
                self.protocol.pause_writing()

    def get_write_buffer_size(self) -> int:
        return len(self.io)

    def drain(self, size: int | None = None) -> bytes:
        """The peer reads ``size`` bytes (all, if None); the protocol may resume."""
        size = len(self.io) if size is None else size
        data = bytes(self.io[:size])
        del self.io[:size]
        if self.writing_paused and len(self.io) <= self.low_water:
            self.writing_paused = False
            if self.protocol is not None:
                self.protocol.resume_writing()
        return data


class FakeConnection:
    """A connection from ``peer`` that ``factory`` accepts, on a StringTransportWithDisconnection.

    The protocol is built and connected as a listening port would do it;
    :meth:`send` feeds it bytes and returns what it wrote in answer::

        conn = FakeConnection(SMTPServerFactory(backend, clock))
        assert conn.take().startswith(b"220 ")
        assert conn.send(b"QUIT\r\n").startswith(b"221 ")
        assert conn.closed
    """

    def __init__(self, factory: IProtocolFactory, peer: Address | None = None) -> None:
        self.transport = StringTransportWithDisconnection(peer=peer)
        protocol = factory.build_protocol(self.transport.get_peer())
        if protocol is None:
            raise ValueError(f"{factory!r} refused the connection")
        self.protocol: IProtocol = protocol
        self.transport.protocol = protocol
        protocol.make_connection(self.transport)

    def send(self, data: bytes) -> bytes:
        """Deliver ``data`` to the protocol; return what it has written since the last take."""
        self.protocol.data_received(data)
        return self.transport.take()

    def take(self) -> bytes:
        """What the protocol has written since the last take."""
        return self.transport.take()

    @property
    def closed(self) -> bool:
        """True once the protocol has asked to close the connection."""
        return self.transport.disconnecting


def connected_pair(
    server: IProtocol, client: IProtocol
) -> tuple[StringTransportWithDisconnection, StringTransportWithDisconnection]:
    """Connect two protocols with StringTransports; use :func:`pump` to move bytes."""
    server_transport = StringTransportWithDisconnection(
        peer=Address("TCP", "127.0.0.1", 50000), host=Address("TCP", "127.0.0.1", 4000)
    )
    client_transport = StringTransportWithDisconnection(
        peer=Address("TCP", "127.0.0.1", 4000), host=Address("TCP", "127.0.0.1", 50000)
    )
    server_transport.protocol = server
    client_transport.protocol = client
    server.make_connection(server_transport)
    client.make_connection(client_transport)
    return server_transport, client_transport


def pump(
    server: IProtocol,
    server_transport: StringTransport,
    client: IProtocol,
    client_transport: StringTransport,
    rounds: int = 100,
) -> None:
    """Deliver written bytes both ways until both sides are quiet."""
    for _ in range(rounds):
        to_client = server_transport.take()
        to_server = client_transport.take()
        if not to_client and not to_server:
            return
        if to_client:
            client.data_received(to_client)
        if to_server:
            server.data_received(to_server)


@define
class ListeningRecord:
    """One ``listen_tcp`` call recorded by :class:`MemoryReactor`."""

    port: int
    factory: IProtocolFactory
    interface: str
    backlog: int
    stopped: bool = False


@define
class ConnectingRecord:
    """One ``connect_tcp`` call recorded by :class:`MemoryReactor`."""

    host: str
    port: int
    factory: IClientFactory
    timeout: float


@define
class FakePort:
    """The port :class:`MemoryReactor` returns from ``listen_tcp``."""

    record: ListeningRecord
    address: Address

    def get_host(self) -> Address:
        return self.address

    def stop_listening(self) -> Deferred[None]:
        self.record.stopped = True
        self.record.factory.do_stop()
        return succeed(None)


@define
class FakeConnector:
    """The connector :class:`MemoryReactor` returns from ``connect_tcp``."""

    record: ConnectingRecord
    stopped: bool = False

    def stop_connecting(self) -> None:
        self.stopped = True

    def disconnect(self) -> None:
        self.stopped = True

    def get_destination(self) -> Address:
        return Address("TCP", self.record.host, self.record.port)


@define
class MemoryReactor:
    """A reactor that records listen and connect calls, and keeps fake time.

    Timers come from an internal :class:`Clock` (``reactor.clock``).
    """

    clock: Clock = field(factory=Clock)
    tcp_servers: list[ListeningRecord] = field(factory=list)
    tcp_clients: list[ConnectingRecord] = field(factory=list)
    triggers: list[tuple[str, str, Callable[..., Any]]] = field(factory=list)
    running: bool = False
    stopped: bool = False
    _next_port: int = 40000

    def seconds(self) -> float:
        return self.clock.seconds()

    def call_later(
        self, delay: float, f: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> DelayedCall:
        return self.clock.call_later(delay, f, *args, **kwargs)

    def call_soon(self, f: Callable[..., Any], *args: Any, **kwargs: Any) -> DelayedCall:
        return self.clock.call_later(0, f, *args, **kwargs)

    def advance(self, amount: float = 0.0) -> None:
        self.clock.advance(amount)

    def listen_tcp(
        self, port: int, factory: IProtocolFactory, interface: str = "", backlog: int = 128
    ) -> FakePort:
        record = ListeningRecord(port, factory, interface, backlog)
        self.tcp_servers.append(record)
        if port == 0:
            port = self._next_port
            self._next_port += 1
        factory.do_start()
        return FakePort(record, Address("TCP", interface or "0.0.0.0", port))

    def adopt_tcp_port(self, sock: Any, factory: IProtocolFactory) -> FakePort:
        """Record an adopted listening socket as a listen on its port."""
        try:
            port = int(sock.getsockname()[1])
        except (OSError, AttributeError):
            port = 0
        return self.listen_tcp(port, factory)

    def adopt_tcp_connection(self, sock: Any, protocol: Any) -> Any:
        """Not supported in memory: tests of the handover use real sockets."""
        raise NotImplementedError("MemoryReactor cannot adopt a socket")

    def connect_tcp(
        self, host: str, port: int, factory: IClientFactory, timeout: float = 30
    ) -> FakeConnector:
        record = ConnectingRecord(host, port, factory, timeout)
        self.tcp_clients.append(record)
        connector = FakeConnector(record)
        factory.do_start()
        factory.started_connecting(connector)
        return connector

    def add_system_event_trigger(
        self, phase: str, event: str, f: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> tuple[str, str, Callable[..., Any]]:
        handle = (phase, event, lambda: f(*args, **kwargs))
        self.triggers.append(handle)
        return handle

    def call_when_running(self, f: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        f(*args, **kwargs)

    def stop(self) -> None:
        self.stopped = True


# The doubles keep the contracts they stand in for: mypy checks these lines.
_CLOCKS: tuple[type[IReactorTime], ...] = (Clock, MemoryReactor)
_TRANSPORTS: tuple[type[ITransport], ...] = (
    StringTransport,
    StringTransportWithDisconnection,
    BufferingTransport,
)
_TCP: tuple[type[IReactorTCP], ...] = (MemoryReactor,)


class WaitTimeout(AssertionError):
    """:func:`wait_for` gave up: the Deferred did not fire in time."""


class _Runnable(IReactorCore, IReactorTime, Protocol):
    """What :func:`wait_for` needs: a real reactor's loop and its clock."""


def wait_for(reactor: _Runnable, d: Deferred[Any], timeout: float = 10.0) -> Any:
    """Run a real reactor until ``d`` fires; return its result or raise its error.

    For real-socket tests. Gives up with :class:`WaitTimeout` after
    ``timeout`` seconds, so a test can never hang.
    """
    outcome: list[Any] = []

    def done(result: Any) -> None:
        outcome.append(result)
        reactor.crash()

    def expired() -> None:
        reactor.crash()

    timer = reactor.call_later(timeout, expired)
    d.add_both(done)
    if not outcome:
        reactor.run(install_signal_handlers=False)
    if timer.active():
        timer.cancel()
    if not outcome:
        raise WaitTimeout(f"the Deferred did not fire within {timeout} seconds")
    result = outcome[0]
    if isinstance(result, Failure):
        result.raise_exception()
    return result
