"""Services: the long-lived parts of a server, started and stopped in order.

A :class:`Service` has ``start_service`` and ``stop_service`` (which may
return a Deferred). A :class:`MultiService` starts its children in the
order they were added and stops them in reverse order, each waiting for the
previous one's Deferred: the listening ports close before the world saves,
and the world saves before the database closes.

An :class:`Application` is the root: ``Application.run(reactor)`` starts
the services once the reactor runs and stops them in the reactor's
"before" shutdown phase, which SIGINT and SIGTERM set off.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator
from typing import Any

from reality.net.address import Address
from reality.net.defer import Deferred, Failure, maybe_deferred, succeed
from reality.net.interfaces import IListeningPort, IProtocolFactory, IReactorCore, IReactorTCP

log = logging.getLogger(__name__)

__all__ = ["Application", "MultiService", "Service", "TCPServer"]


class Service:
    """Something that can be started and stopped: a port, a world, a database."""

    name: str | None = None
    parent: MultiService | None = None
    running = False

    def set_name(self, name: str) -> None:
        """Name the service (before it has a parent)."""
        if self.parent is not None:
            raise RuntimeError("cannot rename a service that has a parent")
        self.name = name

    def set_service_parent(self, parent: MultiService) -> None:
        """Add this service to ``parent``."""
        if self.parent is not None:
            self.disown_service_parent()
        self.parent = parent
        parent.add_service(self)

    def disown_service_parent(self) -> Deferred[Any]:
        """Remove this service from its parent (stopping it if the parent runs)."""
        parent, self.parent = self.parent, None
        if parent is None:
            return succeed(None)
        return parent.remove_service(self)

    def start_service(self) -> Deferred[Any] | None:
        """Start. May return a Deferred."""
        self.running = True
        return None

    def stop_service(self) -> Deferred[Any] | None:
        """Stop. May return a Deferred; a parent waits for it."""
        self.running = False
        return None


class MultiService(Service):
    """A service made of services, started in order and stopped in reverse."""

    def __init__(self) -> None:
        self.services: list[Service] = []
        self.named_services: dict[str, Service] = {}

    def __iter__(self) -> Iterator[Service]:
        return iter(self.services)

    def get_service_named(self, name: str) -> Service:
        """The child service called ``name``."""
        return self.named_services[name]

    def add_service(self, service: Service) -> None:
        """Add a child; it starts now if this service is running."""
        if service.name is not None:
            if service.name in self.named_services:
                raise RuntimeError(f"a service named {service.name!r} already exists")
            self.named_services[service.name] = service
        self.services.append(service)
        service.parent = self
        if self.running:
            service.start_service()

    def remove_service(self, service: Service) -> Deferred[Any]:
        """Remove a child, stopping it first if this service is running."""
        if service.name is not None:
            self.named_services.pop(service.name, None)
        self.services.remove(service)
        service.parent = None
        if self.running:
            return maybe_deferred(service.stop_service)
        return succeed(None)

    def start_service(self) -> Deferred[Any] | None:
        """Start every child in order; waits for any that return a Deferred."""
        Service.start_service(self)
        return self._start_from(0)

    def _start_from(self, index: int) -> Deferred[Any]:
        while index < len(self.services):
            d = maybe_deferred(self.services[index].start_service)
            index += 1
            if not d.called:
                return d.add_callback(lambda _, i=index: self._start_from(i))
            if isinstance(d.result, Failure):
                return d
        return succeed(None)

    def stop_service(self) -> Deferred[Any] | None:
        """Stop every child in reverse order, each after the previous one has stopped."""
        Service.stop_service(self)
        return self._stop_from(len(self.services) - 1)

    def _stop_from(self, index: int) -> Deferred[Any]:
        while index >= 0:
            service = self.services[index]
            index -= 1
            if not service.running:
                continue
            d = maybe_deferred(service.stop_service)
            d.add_errback(self._log_stop_failure, service)
            if not d.called:
                return d.add_callback(lambda _, i=index: self._stop_from(i))
        return succeed(None)

    @staticmethod
    def _log_stop_failure(failure: Failure, service: Service) -> None:
        log.error(
            "stopping service %r failed:\n%s", service.name or service, failure.get_traceback()
        )


class TCPServer(Service):
    """A listening TCP port as a service.

    ``address`` is the address actually listened on once started (useful
    with port 0, which picks a free port).
    """

    def __init__(
        self,
        reactor: IReactorTCP,
        port: int,
        factory: IProtocolFactory,
        interface: str = "",
        backlog: int = 511,
        on_listening: Callable[[Address], Any] | None = None,
        *,
        sock: socket.socket | None = None,
    ) -> None:
        self.reactor = reactor
        #: A listening socket to adopt instead of binding (a code upgrade's).
        self.sock = sock
        self.port_number = port
        self.factory = factory
        self.interface = interface
        self.backlog = backlog
        self.on_listening = on_listening
        self.port: IListeningPort | None = None
        self.address: Address | None = None

    def start_service(self) -> None:
        """Open the port (raises CannotListenError when it cannot)."""
        sock, self.sock = self.sock, None
        if sock is not None:
            self.port = port = self.reactor.adopt_tcp_port(sock, self.factory)
        else:
            self.port = port = self.reactor.listen_tcp(
                self.port_number, self.factory, interface=self.interface, backlog=self.backlog
            )
        self.address = address = port.get_host()
        Service.start_service(self)
        if self.on_listening is not None:
            self.on_listening(address)

    def stop_service(self) -> Deferred[Any]:
        """Stop listening; connections already open are left to their owners."""
        Service.stop_service(self)
        port, self.port = self.port, None
        if port is None:
            return succeed(None)
        return port.stop_listening()


class Application(MultiService):
    """The root service of a program."""

    def __init__(self, name: str = "application") -> None:
        super().__init__()
        self.name = name
        self.start_failure: Failure | None = None

    def run(self, reactor: IReactorCore, install_signal_handlers: bool = True) -> None:
        """Start the services when ``reactor`` runs; stop them on shutdown; run it.

        If starting fails, the failure is logged, kept in ``start_failure``
        and the reactor is stopped.
        """

        def start() -> None:
            d = maybe_deferred(self.start_service)
            d.add_errback(start_failed)

        def start_failed(failure: Failure) -> None:
            self.start_failure = failure
            log.error("starting %s failed: %s", self.name, failure.get_error_message())
            if reactor.running:
                reactor.stop()

        def stop() -> Deferred[Any] | None:
            if self.running:
                return self.stop_service()
            return None

        reactor.call_when_running(start)
        reactor.add_system_event_trigger("before", "shutdown", stop)
        reactor.run(install_signal_handlers=install_signal_handlers)
