"""Protocols, factories and the transport contract.

A :class:`Protocol` turns events on one connection into behaviour: the
transport calls ``connection_made``, then ``data_received`` for every chunk
of bytes, and ``connection_lost`` once at the end. A :class:`Factory`
makes one protocol per connection and holds what they share.

The transport contract (what a protocol may call on ``self.transport``) is
:class:`~reality.net.interfaces.ITransport`, importable here as
:class:`Transport`; TCP connections and the test ``StringTransport`` satisfy
it. :class:`Address` lives in :mod:`reality.net.address` and is importable
here too.
"""

from __future__ import annotations

import logging
from typing import Any

from reality.net.address import Address
from reality.net.defer import Failure
from reality.net.interfaces import IConnector, IProcessTransport, ITransport

#: The transport contract, by its older name.
Transport = ITransport

log = logging.getLogger(__name__)

__all__ = [
    "Address",
    "ClientFactory",
    "Factory",
    "Protocol",
    "Transport",
]


class Protocol:
    """One connection's behaviour. Subclass and override the hooks you need."""

    factory: Factory | None = None
    transport: ITransport | None = None
    connected: bool = False

    def make_connection(self, transport: ITransport) -> None:
        """Attach to a transport and call :meth:`connection_made`."""
        self.connected = True
        self.transport = transport
        self.connection_made()

    def connection_made(self) -> None:
        """The connection is up; ``self.transport`` is set."""

    def data_received(self, data: bytes) -> None:
        """Bytes arrived. They may be any part of what the peer sent."""

    def connection_lost(self, reason: Failure) -> None:
        """The connection is over.

        ``reason`` wraps :class:`~reality.net.error.ConnectionDone` for a clean
        close and :class:`~reality.net.error.ConnectionLost` otherwise.
        """

    def pause_writing(self) -> None:
        """The transport's send buffer passed its high-water mark: stop writing."""

    def resume_writing(self) -> None:
        """The transport's send buffer drained below its low-water mark."""


class ProcessProtocol:
    """What a child process's transport reports: its output and its end."""

    transport: IProcessTransport | None = None

    def make_connection(self, transport: IProcessTransport) -> None:
        """Attach to the process transport and call :meth:`connection_made`."""
        self.transport = transport
        self.connection_made()

    def connection_made(self) -> None:
        """The process has started; ``self.transport`` is set."""

    def out_received(self, data: bytes) -> None:
        """The child wrote to its standard output."""

    def err_received(self, data: bytes) -> None:
        """The child wrote to its standard error."""

    def in_connection_lost(self) -> None:
        """The child's standard input was closed."""

    def process_exited(self, reason: Failure) -> None:
        """The child exited (its pipes may still hold output)."""

    def process_ended(self, reason: Failure) -> None:
        """The child exited and all its pipes are closed.

        ``reason`` wraps :class:`~reality.net.error.ProcessDone` (exit status 0)
        or :class:`~reality.net.error.ProcessTerminated`.
        """


class Factory:
    """Makes a protocol for each new connection; holds what they share."""

    protocol: type[Protocol] | None = None
    _ports_open = 0

    @classmethod
    def for_protocol(cls, protocol: type[Protocol], *args: Any, **kwargs: Any) -> Factory:
        """A factory of this class whose ``build_protocol`` makes ``protocol``."""
        factory = cls(*args, **kwargs)
        factory.protocol = protocol
        return factory

    def do_start(self) -> None:
        """Called by each port or connector that starts using this factory."""
        if not self._ports_open:
            self.start_factory()
        self._ports_open += 1

    def do_stop(self) -> None:
        """Called by each port or connector that stops using this factory."""
        if self._ports_open <= 0:
            return
        self._ports_open -= 1
        if not self._ports_open:
            self.stop_factory()

    def start_factory(self) -> None:
        """Set up shared state, before the first connection."""

    def stop_factory(self) -> None:
        """Tear down shared state, after the last port using this factory stops."""

    def build_protocol(self, addr: Address) -> Protocol | None:
        """A new protocol for a connection from ``addr``, or None to refuse it."""
        assert self.protocol is not None, f"{type(self).__name__}.protocol is not set"
        p = self.protocol()
        p.factory = self
        return p


class ClientFactory(Factory):
    """A factory for outgoing connections, told how the connection attempt went."""

    def started_connecting(self, connector: IConnector) -> None:
        """A connection attempt has started."""

    def client_connection_failed(self, connector: IConnector, reason: Failure) -> None:
        """The connection could not be made (refused, timed out, unresolvable)."""

    def client_connection_lost(self, connector: IConnector, reason: Failure) -> None:
        """An established connection ended."""
