"""What every reactor shares, whatever waits for its I/O.

:class:`ReactorBase` holds the parts of the reactor interface that do not
depend on how readiness is waited for: TCP ports and connectors and child
processes (built here: ``tcp.py`` and ``process.py`` take only the
:class:`~reality.net.interfaces.IReactorIO` contract, so they never import
a reactor), the queue of ``call_soon`` callbacks and how a turn runs it,
``call_when_running``, ``stop()`` and the signals that call it, and the
shutdown triggers with their three phases.
:class:`~reality.net.reactor.SelectReactor` and
:class:`~reality.net.asyncio_reactor.AsyncioReactor` subclass it.

Shutdown runs the "before", "during" and "after" triggers in turn. A
trigger may return a Deferred; the next phase starts when all of a phase's
Deferreds have fired, or after ``shutdown_timeout`` seconds, whichever
comes first. Then :meth:`_finished` lets the subclass leave its loop.
"""

from __future__ import annotations

import logging
import signal
import socket
import time
from collections import deque
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

from reality.net.defer import Deferred, Failure, deferred_list, maybe_deferred
from reality.net.interfaces import IClientFactory, IProcessProtocol, IProtocol, IProtocolFactory
from reality.net.process import Process
from reality.net.tcp import Connector, Port, Server, _address
from reality.net.timers import DelayedCall, TimerQueue

log = logging.getLogger("reality.net.reactor")

__all__ = ["PHASES", "ReactorBase", "ReactorNotRunning"]

PHASES = ("before", "during", "after")

#: What signal.signal() returns and takes: a function, SIG_DFL/SIG_IGN, or None.
SignalHandler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None

#: A call waiting in a queue: the function, its positional and keyword arguments.
Trigger = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class ReactorNotRunning(RuntimeError):
    """``stop()`` was called on a reactor that is not running."""


class ReactorBase:
    """The reactor interface minus the waiting: see the module docstring."""

    running: bool
    shutdown_timeout: float
    processes: dict[int, Process]
    _timers: TimerQueue
    _ready: deque[Trigger]
    _stop_requested: bool
    _when_running: list[Trigger]
    _triggers: dict[str, list[Trigger]]

    def _init_base(self) -> None:
        self.running = False
        self.shutdown_timeout = 10.0
        self.processes = {}
        self._ready = deque()
        self._stop_requested = False
        self._when_running = []
        self._triggers = {phase: [] for phase in PHASES}

    # Provided by subclasses.
    def call_soon(self, f: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError

    def call_later(
        self, delay: float, f: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> DelayedCall:
        raise NotImplementedError

    def wake(self) -> None:
        """Make a loop that waits for I/O turn over at once."""
        raise NotImplementedError

    def add_reader(self, fd: int, callback: Callable[[], Any]) -> None:
        raise NotImplementedError

    def add_writer(self, fd: int, callback: Callable[[], Any]) -> None:
        raise NotImplementedError

    def remove_reader(self, fd: int) -> None:
        raise NotImplementedError

    def remove_writer(self, fd: int) -> None:
        raise NotImplementedError

    def remove_all(self, fd: int) -> None:
        raise NotImplementedError

    def _finished(self) -> None:
        """Shutdown is complete: leave the loop."""
        raise NotImplementedError

    # -- time ----------------------------------------------------------------------------

    seconds = staticmethod(time.monotonic)

    def get_delayed_calls(self) -> list[DelayedCall]:
        """The scheduled timers, earliest first."""
        return self._timers.live_calls()

    # -- TCP and processes -------------------------------------------------------------

    def listen_tcp(
        self, port: int, factory: IProtocolFactory, interface: str = "", backlog: int = 511
    ) -> Port:
        """Listen for TCP connections on ``interface:port`` (port 0 picks a free one).

        Returns a port with ``get_host()`` and ``stop_listening()``; raises
        :class:`~reality.net.error.CannotListenError` if the port cannot be opened.
        """
        p = Port(self, port, factory, interface, backlog)
        p.start_listening()
        return p

    def adopt_tcp_port(self, sock: socket.socket, factory: IProtocolFactory) -> Port:
        """Listen on a socket already bound and listening (inherited from another process).

        A code upgrade's new process takes over the old one's ports this way:
        the socket never closes, so no connection attempt is refused.
        """
        p = Port(self, 0, factory, sock=sock)
        p.start_listening()
        return p

    def adopt_tcp_connection(self, sock: socket.socket, protocol: IProtocol) -> Server:
        """Run ``protocol`` on a connected socket received from another process.

        ``protocol.make_connection`` is called as for an accepted connection.
        """
        sock.setblocking(False)
        peer = _address(sock.family, sock.getpeername())
        transport = Server(self, sock, protocol, peer)
        transport._start()
        return transport

    def connect_tcp(
        self, host: str, port: int, factory: IClientFactory, timeout: float = 30
    ) -> Connector:
        """Connect to ``host:port``; the factory hears success or failure.

        Returns a connector with ``stop_connecting()`` and ``disconnect()``.
        """
        connector = Connector(self, host, port, factory, timeout)
        connector.connect()
        return connector

    def spawn_process(
        self,
        protocol: IProcessProtocol,
        argv: Sequence[str],
        env: dict[str, str] | None = None,
        path: str | None = None,
    ) -> Process:
        """Start a child process whose stdin/stdout/stderr are pipes on this reactor.

        ``protocol`` (a ProcessProtocol) hears ``out_received``,
        ``err_received`` and ``process_ended``. Returns the process transport.
        """
        return Process(self, self.processes, protocol, argv, env, path)

    def _reap_processes(self) -> None:
        for process in list(self.processes.values()):
            process.check_exited()

    # -- the next turn -------------------------------------------------------------------

    def _run_ready(self) -> None:
        """Run exactly the ``call_soon`` callbacks queued when this began.

        Those they queue wait for the next turn, so a callback that
        re-queues itself cannot starve I/O. An exception is logged and the
        next callback runs.
        """
        ready = self._ready
        count = len(ready)
        while count:
            count -= 1
            f, args, kwargs = ready.popleft()
            try:
                f(*args, **kwargs)
            except Exception:
                log.exception("Unhandled error in callback %r", f)

    # -- starting and shutting down ------------------------------------------------------

    def call_when_running(self, f: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Call ``f`` as soon as the reactor is running (now, if it already is)."""
        if self.running:
            self.call_soon(f, *args, **kwargs)
        else:
            self._when_running.append((f, args, kwargs))

    def _run_when_running(self) -> None:
        pending, self._when_running = self._when_running, []
        for f, args, kwargs in pending:
            self.call_soon(f, *args, **kwargs)

    def stop(self) -> None:
        """Begin an orderly shutdown: run the triggers, then leave ``run()``."""
        if not self.running:
            raise ReactorNotRunning("the reactor is not running")
        if self._stop_requested:
            return
        self._stop_requested = True
        self.call_soon(self._run_phase, 0)
        self.wake()

    def _handle_signal(self, signum: int, frame: FrameType | None = None) -> None:
        """SIGINT or SIGTERM: shut down in order."""
        log.info("received %s, shutting down", signal.Signals(signum).name)
        if self.running and not self._stop_requested:
            self.stop()

    def _handle_sigchld(self, *_: object) -> None:
        if self.processes:
            self.call_soon(self._reap_processes)

    def add_system_event_trigger(
        self, phase: str, event: str, f: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> tuple[str, Trigger]:
        """Call ``f`` in ``phase`` ("before", "during", "after") of ``event`` ("shutdown").

        A trigger may return a Deferred; the next phase waits for it.
        Returns a handle for :meth:`remove_system_event_trigger`.
        """
        if event != "shutdown":
            raise ValueError(f"unknown system event {event!r}; only 'shutdown' exists")
        if phase not in PHASES:
            raise ValueError(f"unknown phase {phase!r}; expected one of {PHASES}")
        entry = (f, args, kwargs)
        self._triggers[phase].append(entry)
        return (phase, entry)

    def remove_system_event_trigger(self, handle: tuple[str, Trigger]) -> None:
        """Forget a trigger added with :meth:`add_system_event_trigger`."""
        phase, entry = handle
        try:
            self._triggers[phase].remove(entry)
        except ValueError:
            pass

    def _run_phase(self, index: int) -> None:
        if index == len(PHASES):
            self._finished()
            return
        phase = PHASES[index]
        triggers, self._triggers[phase] = self._triggers[phase], []
        waits: list[Deferred[Any]] = []
        for f, args, kwargs in triggers:
            d = maybe_deferred(f, *args, **kwargs)
            d.add_errback(self._log_trigger_failure, phase, f)
            if not d.called:
                waits.append(d)
        if not waits:
            self._run_phase(index + 1)
            return
        done = deferred_list(waits)
        timeout = self.call_later(self.shutdown_timeout, self._phase_timed_out, phase, done)

        def next_phase(_: Any) -> None:
            if timeout.active():
                timeout.cancel()
            self._run_phase(index + 1)

        done.add_both(next_phase)

    def _phase_timed_out(self, phase: str, done: Deferred[Any]) -> None:
        log.warning(
            "shutdown phase %r did not finish within %.1f s; going on",
            phase,
            self.shutdown_timeout,
        )
        if not done.called:
            done.callback(None)

    @staticmethod
    def _log_trigger_failure(failure: Failure, phase: str, f: Callable[..., Any]) -> None:
        log.error("shutdown trigger %r in phase %r failed:\n%s", f, phase, failure.get_traceback())
