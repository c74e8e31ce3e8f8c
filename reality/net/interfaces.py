"""The engine's contracts: what code may ask of a reactor, a timer, a port, a transport.

In the spirit of Twisted's ``internet/interfaces.py``, but as
:class:`typing.Protocol` classes: code is typed against what it needs (a
clock to schedule a timeout, a reactor that can listen on TCP), never
against one reactor class, and the type checker proves that the selector
reactor, the asyncio-backed one and the test doubles all keep the promise.

The contracts, smallest first:

- :class:`IDelayedCall`: a scheduled call, cancellable and movable.
- :class:`IReactorTime`: a clock (``seconds()``, ``call_later()``). This is
  all most protocols need; the test ``Clock`` satisfies it.
- :class:`IReactorCore`: running and stopping, ``call_soon``, system event
  triggers.
- :class:`IReactorFDSet`: watching file descriptors.
- :class:`IReactorTCP`: listening and connecting.
- :class:`IReactorProcess`: child processes on pipes.
- :class:`IReactorIO`: descriptors, time and ``call_soon``: all that a
  TCP transport, port, connector or child process needs of its reactor.
- :class:`IReactor`: all of the above, what a server is handed.
- :class:`IListeningPort`, :class:`IConnector`: what ``listen_tcp`` and
  ``connect_tcp`` return.
- :class:`ITransport`: what a protocol may do with its connection (also
  importable as ``reality.net.protocol.Transport``), :class:`ITLSTransport`
  one that can ``start_tls()``, and
  :class:`IProcessTransport` for child processes.
- :class:`IProtocol`, :class:`IProtocolFactory`, :class:`IClientFactory`,
  :class:`IProcessProtocol`: what the engine calls on the code that uses it.

This module imports only the values its signatures name
(:mod:`reality.net.address`, :mod:`reality.net.defer`) and the time
contracts, which live in :mod:`reality.net.timing` so that ``defer.py``
can use them too; none of those imports anything else of the engine, so
every module may import this one without a cycle.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

from reality.net.address import Address
from reality.net.defer import Deferred, Failure
from reality.net.timing import IDelayedCall, IReactorTime

__all__ = [
    "IClientFactory",
    "IConnector",
    "IDelayedCall",
    "IListeningPort",
    "IProcessProtocol",
    "IProcessTransport",
    "IProtocol",
    "IProtocolFactory",
    "IReactor",
    "IReactorCore",
    "IReactorFDSet",
    "IReactorIO",
    "IReactorProcess",
    "IReactorTCP",
    "IReactorTime",
    "ITLSTransport",
    "ITransport",
]


class IReactorCore(Protocol):
    """Running and stopping the loop; calls on the next turn; shutdown phases."""

    running: bool

    def call_soon(self, f: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Call ``f`` on the next turn of the loop."""
        ...

    def wake(self) -> None:
        """Make a loop blocked in select() return (safe from a signal handler)."""
        ...

    def run(self, install_signal_handlers: bool = True) -> None:
        """Run until :meth:`stop`; SIGINT and SIGTERM stop it when handlers are installed."""
        ...

    def stop(self) -> None:
        """Run the shutdown phases (before, during, after), then leave :meth:`run`."""
        ...

    def crash(self) -> None:
        """Leave :meth:`run` at the end of this turn, without the shutdown phases."""
        ...

    def iterate(self, timeout: float | None = None) -> None:
        """Run one turn of the loop, waiting at most ``timeout`` seconds for I/O."""
        ...

    def call_when_running(self, f: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Call ``f`` as soon as the reactor runs (now, if it already does)."""
        ...

    def add_system_event_trigger(
        self, phase: str, event: str, f: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> tuple[str, Any]:
        """Call ``f`` in ``phase`` ("before", "during", "after") of ``event`` ("shutdown")."""
        ...

    def remove_system_event_trigger(self, handle: tuple[str, Any]) -> None:
        """Forget a trigger added by :meth:`add_system_event_trigger`."""
        ...


class IReactorFDSet(Protocol):
    """Watching file descriptors for reading and writing."""

    def add_reader(self, fd: int, callback: Callable[[], Any]) -> None:
        """Call ``callback()`` whenever ``fd`` is readable."""
        ...

    def add_writer(self, fd: int, callback: Callable[[], Any]) -> None:
        """Call ``callback()`` whenever ``fd`` is writable."""
        ...

    def remove_reader(self, fd: int) -> None:
        """Stop watching ``fd`` for reading."""
        ...

    def remove_writer(self, fd: int) -> None:
        """Stop watching ``fd`` for writing."""
        ...

    def remove_all(self, fd: int) -> None:
        """Stop watching ``fd`` altogether."""
        ...


@runtime_checkable
class ITransport(Protocol):
    """What a protocol can do with its connection.

    TCP connections, the test ``StringTransport`` and any later layer (TLS)
    satisfy it; ``reality.net.protocol.Transport`` is this contract.
    """

    disconnecting: bool

    def write(self, data: bytes) -> None:
        """Send bytes: at once if possible, buffered otherwise. Never blocks."""
        ...

    def write_sequence(self, data: Iterable[bytes]) -> None:
        """Send several byte strings, in order."""
        ...

    def lose_connection(self) -> None:
        """Close once everything buffered has been sent."""
        ...

    def abort_connection(self) -> None:
        """Close now, dropping anything still buffered."""
        ...

    def get_peer(self) -> Address:
        """The remote end's address."""
        ...

    def get_host(self) -> Address:
        """The local end's address."""
        ...

    def pause_reading(self) -> None:
        """Stop calling ``data_received`` until :meth:`resume_reading`."""
        ...

    def resume_reading(self) -> None:
        """Resume calling ``data_received``."""
        ...

    def get_write_buffer_size(self) -> int:
        """How many bytes wait to be sent (back-pressure reads this)."""
        ...


@runtime_checkable
class ITLSTransport(ITransport, Protocol):
    """A transport that is, or can become, TLS (:class:`reality.net.tls.TLSProtocol`).

    Services offering STARTTLS/STLS check for it (``isinstance`` works) and
    call :meth:`start_tls` after writing their "go ahead" reply.
    """

    @property
    def tls_active(self) -> bool:
        """True once TLS has started on this connection (the handshake may be under way)."""
        ...

    def start_tls(self, context: Any = None) -> None:
        """Start TLS now: everything the peer sends from here on is TLS."""
        ...


class IProtocol(Protocol):
    """What a transport calls on the protocol of its connection.

    A protocol may also have ``eof_received() -> bool`` (keep the
    connection half open when it returns True); transports look it up.
    """

    connected: bool

    def make_connection(self, transport: ITransport) -> None:
        """Attach to ``transport``; the connection is up."""
        ...

    def data_received(self, data: bytes) -> None:
        """Bytes arrived (any part of what the peer sent)."""
        ...

    def connection_lost(self, reason: Failure) -> None:
        """The connection is over; ``reason`` says how."""
        ...

    def pause_writing(self) -> None:
        """The transport's send buffer passed its high-water mark."""
        ...

    def resume_writing(self) -> None:
        """The transport's send buffer drained below its low-water mark."""
        ...


class IProtocolFactory(Protocol):
    """What a listening port asks of its factory."""

    def do_start(self) -> None:
        """A port or connector starts using this factory."""
        ...

    def do_stop(self) -> None:
        """A port or connector stops using this factory."""
        ...

    def build_protocol(self, addr: Address) -> IProtocol | None:
        """A protocol for a connection from ``addr``, or None to refuse it."""
        ...


class IListeningPort(Protocol):
    """A listening TCP port."""

    def get_host(self) -> Address:
        """The address it listens on (port 0 is resolved to the real port)."""
        ...

    def stop_listening(self) -> Deferred[None]:
        """Close the listening socket; fires when it is closed."""
        ...


class IConnector(Protocol):
    """An outgoing TCP connection being made, or made."""

    def get_destination(self) -> Address:
        """Where it connects to."""
        ...

    def stop_connecting(self) -> None:
        """Give up a connection attempt still under way."""
        ...

    def disconnect(self) -> None:
        """Stop connecting, or close the connection made."""
        ...


class IClientFactory(IProtocolFactory, Protocol):
    """What a connector tells its factory about the attempt and the connection."""

    def started_connecting(self, connector: IConnector) -> None:
        """A connection attempt has started."""
        ...

    def client_connection_failed(self, connector: IConnector, reason: Failure) -> None:
        """The connection could not be made (refused, timed out, unresolvable)."""
        ...

    def client_connection_lost(self, connector: IConnector, reason: Failure) -> None:
        """An established connection ended."""
        ...


class IReactorTCP(Protocol):
    """Listening for and making TCP connections."""

    def listen_tcp(
        self, port: int, factory: IProtocolFactory, interface: str = "", backlog: int = 511
    ) -> IListeningPort:
        """Listen on ``interface:port``; raises ``CannotListenError`` if it cannot."""
        ...

    def adopt_tcp_port(self, sock: socket.socket, factory: IProtocolFactory) -> IListeningPort:
        """Listen on a socket already bound and listening (inherited across an upgrade)."""
        ...

    def adopt_tcp_connection(self, sock: socket.socket, protocol: IProtocol) -> ITransport:
        """Run ``protocol`` on a connected socket received from another process."""
        ...

    def connect_tcp(
        self, host: str, port: int, factory: IClientFactory, timeout: float = 30
    ) -> IConnector:
        """Connect to ``host:port``; the factory hears whether it worked."""
        ...


class IProcessTransport(Protocol):
    """A child process's pipes, as its ProcessProtocol sees them."""

    @property
    def pid(self) -> int | None:
        """The child's process id (None once it cannot be signalled)."""
        ...

    def write(self, data: bytes) -> None:
        """Write to the child's stdin (buffered, never blocking)."""
        ...

    def close_stdin(self) -> None:
        """Close the child's stdin once what is buffered has been written."""
        ...

    def signal_process(self, signum: int | str) -> None:
        """Send the child a signal, if it is still running."""
        ...


class IProcessProtocol(Protocol):
    """What a child process's transport reports: its output and its end."""

    def make_connection(self, transport: IProcessTransport) -> None:
        """The process has started; attach to its transport."""
        ...

    def out_received(self, data: bytes) -> None:
        """The child wrote to its standard output."""
        ...

    def err_received(self, data: bytes) -> None:
        """The child wrote to its standard error."""
        ...

    def in_connection_lost(self) -> None:
        """The child's standard input was closed."""
        ...

    def process_exited(self, reason: Failure) -> None:
        """The child exited (its pipes may still hold output)."""
        ...

    def process_ended(self, reason: Failure) -> None:
        """The child exited and all its pipes are closed."""
        ...


class IReactorProcess(Protocol):
    """Child processes whose pipes the reactor watches."""

    def spawn_process(
        self,
        protocol: IProcessProtocol,
        argv: Sequence[str],
        env: dict[str, str] | None = None,
        path: str | None = None,
    ) -> IProcessTransport:
        """Start ``argv``; ``protocol`` hears its output and its end."""
        ...


class IReactorIO(IReactorTime, IReactorFDSet, Protocol):
    """What a TCP transport, port or connector and a child process need of a reactor.

    Descriptors to watch, timers, and ``call_soon`` to tell a protocol of
    an end after the call it is in has returned. Both reactors satisfy it;
    :mod:`reality.net.tcp` and :mod:`reality.net.process` take nothing more.
    """

    def call_soon(self, f: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Call ``f`` on the next turn of the loop."""
        ...


class IReactor(
    IReactorTime, IReactorCore, IReactorFDSet, IReactorTCP, IReactorProcess, Protocol
):
    """Everything a server is handed: time, the loop, descriptors, TCP, processes."""
