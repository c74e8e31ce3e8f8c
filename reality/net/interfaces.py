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
- :class:`IReactor`: all of the above, what a server is handed.
- :class:`IListeningPort`, :class:`IConnector`: what ``listen_tcp`` and
  ``connect_tcp`` return.
- :class:`ITransport` (in :mod:`reality.net.protocol` as ``Transport``):
  what a protocol may do with its connection; re-exported here, with
  :class:`IProcessTransport` for child processes.

This module imports nothing from the rest of the engine at run time, so
every module may import it without a cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from reality.net.defer import Deferred
    from reality.net.protocol import Address, Transport as ITransport

__all__ = [
    "IConnector",
    "IDelayedCall",
    "IListeningPort",
    "IProcessTransport",
    "IReactor",
    "IReactorCore",
    "IReactorFDSet",
    "IReactorProcess",
    "IReactorTCP",
    "IReactorTime",
    "ITransport",
]


@runtime_checkable
class IDelayedCall(Protocol):
    """A call scheduled by :meth:`IReactorTime.call_later`."""

    def active(self) -> bool:
        """True until the call has run or been cancelled."""
        ...

    def get_time(self) -> float:
        """When the call is due, in the clock's seconds."""
        ...

    def cancel(self) -> None:
        """Do not run the call (O(1)); cancelling an inactive call does nothing."""
        ...

    def reset(self, seconds_from_now: float) -> None:
        """Move the call to ``seconds_from_now`` from now (it must still be active)."""
        ...

    def delay(self, extra: float) -> None:
        """Postpone the call by ``extra`` seconds (it must still be active)."""
        ...


@runtime_checkable
class IReactorTime(Protocol):
    """A clock: what timeouts, idle timers and ticks need. The test ``Clock`` is one."""

    def seconds(self) -> float:
        """Now, on a monotonic clock, in seconds."""
        ...

    def call_later(
        self, delay: float, f: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> IDelayedCall:
        """Call ``f(*args, **kwargs)`` in ``delay`` seconds."""
        ...


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


class IReactorTCP(Protocol):
    """Listening for and making TCP connections."""

    def listen_tcp(
        self, port: int, factory: Any, interface: str = "", backlog: int = 511
    ) -> IListeningPort:
        """Listen on ``interface:port``; raises ``CannotListenError`` if it cannot."""
        ...

    def connect_tcp(
        self, host: str, port: int, factory: Any, timeout: float = 30
    ) -> IConnector:
        """Connect to ``host:port``; the factory hears whether it worked."""
        ...


class IProcessTransport(Protocol):
    """A child process's pipes, as its ProcessProtocol sees them."""

    pid: int

    def write(self, data: bytes) -> None:
        """Write to the child's stdin (buffered, never blocking)."""
        ...

    def close_stdin(self) -> None:
        """Close the child's stdin once what is buffered has been written."""
        ...

    def signal_process(self, signum: int | str) -> None:
        """Send the child a signal, if it is still running."""
        ...


class IReactorProcess(Protocol):
    """Child processes whose pipes the reactor watches."""

    def spawn_process(
        self,
        protocol: Any,
        argv: Sequence[str],
        env: dict[str, str] | None = None,
        path: str | None = None,
    ) -> IProcessTransport:
        """Start ``argv``; ``protocol`` hears its output and its end."""
        ...


class IReactor(
    IReactorTime, IReactorCore, IReactorFDSet, IReactorTCP, IReactorProcess, Protocol
):
    """Everything a server is handed: time, the loop, descriptors, TCP, processes."""
