"""The reactor: one loop that waits for I/O readiness and timers, in one thread.

``SelectReactor`` sits on :class:`selectors.DefaultSelector` (epoll on Linux,
kqueue on BSD and macOS). Each turn of the loop it

1. waits until a file descriptor is ready or the next timer is due
   (not at all if callbacks are queued with :meth:`call_soon`),
2. calls the reader or writer registered for each ready descriptor,
3. runs the timers that have fallen due, and
4. runs exactly the ``call_soon`` callbacks that were queued when the turn
   began (those queued meanwhile wait for the next turn).

An exception in any callback is logged with its traceback and the loop
goes on. The reactor never starts a thread: child processes
(:meth:`spawn_process`) are pipes registered like sockets, and signals wake
the loop through :func:`signal.set_wakeup_fd`.

Shutdown runs in three phases of system event triggers, ``before``,
``during`` and ``after``; a trigger may return a Deferred, and the next
phase waits for it (at most ``shutdown_timeout`` seconds).
"""

from __future__ import annotations

import logging
import selectors
import signal
import socket
import time
from collections.abc import Callable
from typing import Any

from reality.net.base import ReactorBase, ReactorNotRunning, SignalHandler
from reality.net.timers import DelayedCall, TimerQueue

log = logging.getLogger(__name__)

__all__ = ["ReactorNotRunning", "SelectReactor", "default_reactor"]

#: What a descriptor's selector key carries: its reader and its writer.
_Callbacks = tuple[Callable[[], Any] | None, Callable[[], Any] | None]

_READ = selectors.EVENT_READ
_WRITE = selectors.EVENT_WRITE


class _Waker:
    """A socketpair that wakes the loop: written by signals and ``wake()``."""

    def __init__(self) -> None:
        self.rsock, self.wsock = socket.socketpair()
        self.rsock.setblocking(False)
        self.wsock.setblocking(False)

    def fileno(self) -> int:
        return self.rsock.fileno()

    def wake(self) -> None:
        try:
            self.wsock.send(b"\0")
        except OSError:
            pass  # full: the loop will wake anyway

    def drain(self) -> None:
        try:
            while self.rsock.recv(4096):
                pass
        except OSError:
            pass

    def close(self) -> None:
        self.rsock.close()
        self.wsock.close()


class SelectReactor(ReactorBase):
    """The event loop: I/O readiness, timers, signals, shutdown triggers."""

    def __init__(self, selector: selectors.BaseSelector | None = None) -> None:
        self._init_base()
        self._selector = selector if selector is not None else selectors.DefaultSelector()
        self._timers = TimerQueue(time.monotonic)
        self._readers: dict[int, Callable[[], Any]] = {}
        self._writers: dict[int, Callable[[], Any]] = {}
        self._waker = _Waker()
        self.add_reader(self._waker.fileno(), self._waker.drain)
        self._old_signal_handlers: dict[int, SignalHandler] = {}
        self._old_wakeup_fd: int | None = None

    # -- time -------------------------------------------------------------------

    def call_later(
        self, delay: float, f: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> DelayedCall:
        """Call ``f(*args, **kwargs)`` ``delay`` seconds from now; returns a DelayedCall."""
        if delay < 0:
            delay = 0.0
        return self._timers.schedule(time.monotonic() + delay, f, args, kwargs)

    def call_soon(self, f: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Call ``f`` on the next turn of the loop, before waiting for I/O."""
        self._ready.append((f, args, kwargs))

    def wake(self) -> None:
        """Make a loop blocked in ``select()`` return at once."""
        self._waker.wake()

    # -- file descriptors ---------------------------------------------------------

    def add_reader(self, fd: int, callback: Callable[[], Any]) -> None:
        """Call ``callback()`` whenever ``fd`` is readable."""
        self._readers[fd] = callback
        self._update(fd)

    def add_writer(self, fd: int, callback: Callable[[], Any]) -> None:
        """Call ``callback()`` whenever ``fd`` is writable."""
        self._writers[fd] = callback
        self._update(fd)

    def remove_reader(self, fd: int) -> None:
        """Stop watching ``fd`` for readability."""
        if self._readers.pop(fd, None) is not None:
            self._update(fd)

    def remove_writer(self, fd: int) -> None:
        """Stop watching ``fd`` for writability."""
        if self._writers.pop(fd, None) is not None:
            self._update(fd)

    def _update(self, fd: int) -> None:
        reader = self._readers.get(fd)
        writer = self._writers.get(fd)
        mask = (_READ if reader is not None else 0) | (_WRITE if writer is not None else 0)
        selector = self._selector
        try:
            key = selector.get_key(fd)
        except KeyError:
            if mask:
                selector.register(fd, mask, (reader, writer))
            return
        if mask == 0:
            selector.unregister(fd)
        elif key.events != mask or key.data != (reader, writer):
            selector.modify(fd, mask, (reader, writer))

    def remove_all(self, fd: int) -> None:
        """Stop watching ``fd`` entirely (before closing it)."""
        self._readers.pop(fd, None)
        self._writers.pop(fd, None)
        try:
            self._selector.unregister(fd)
        except (KeyError, ValueError):
            pass

    # -- running ----------------------------------------------------------------

    def run(self, install_signal_handlers: bool = True) -> None:
        """Run the loop until :meth:`stop` has been called and shutdown is complete."""
        if self.running:
            raise RuntimeError("the reactor is already running")
        self.running = True
        self._stop_requested = False
        if install_signal_handlers:
            self._install_signal_handlers()
        try:
            self._run_when_running()
            while self.running:
                self.iterate()
        finally:
            self.running = False
            if install_signal_handlers:
                self._restore_signal_handlers()

    def crash(self) -> None:
        """Leave :meth:`run` at the end of this turn, without shutdown triggers."""
        self.running = False
        self.wake()

    def _finished(self) -> None:
        self.running = False

    def iterate(self, timeout: float | None = None) -> None:
        """Run one turn of the loop, waiting at most ``timeout`` seconds for I/O."""
        wait: float | None
        if self._ready:
            wait = 0.0
        else:
            next_time = self._timers.next_time()
            if next_time is None:
                wait = timeout
            else:
                wait = next_time - time.monotonic()
                if wait < 0:
                    wait = 0.0
                if timeout is not None and timeout < wait:
                    wait = timeout
        try:
            events = self._selector.select(wait)
        except InterruptedError:  # pragma: no cover - PEP 475 retries for us
            events = []
        callbacks: _Callbacks
        for key, mask in events:
            callbacks = key.data
            reader, writer = callbacks
            try:
                if mask & _READ and reader is not None:
                    reader()
                if mask & _WRITE and writer is not None:
                    # The reader may have closed the descriptor or dropped the writer.
                    if writer is self._writers.get(key.fd):
                        writer()
            except Exception:
                log.exception("Unhandled error in I/O callback for fd %d", key.fd)
        timers = self._timers
        if timers._heap:
            timers.run_due(time.monotonic())
        if self._ready:
            self._run_ready()

    # -- signals --------------------------------------------------------------------

    def _install_signal_handlers(self) -> None:
        try:
            self._old_wakeup_fd = signal.set_wakeup_fd(self._waker.wsock.fileno())
        except ValueError:
            # Not the main thread of the main interpreter: no signal handling.
            self._old_wakeup_fd = None
            return
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._old_signal_handlers[signum] = signal.signal(signum, self._handle_signal)
        if hasattr(signal, "SIGCHLD"):
            # Without a Python handler SIGCHLD would not reach the wakeup fd.
            self._old_signal_handlers[signal.SIGCHLD] = signal.signal(
                signal.SIGCHLD, self._handle_sigchld
            )

    def _restore_signal_handlers(self) -> None:
        for signum, handler in self._old_signal_handlers.items():
            try:
                signal.signal(signum, handler)
            except (ValueError, TypeError):
                pass
        self._old_signal_handlers.clear()
        if self._old_wakeup_fd is not None:
            try:
                signal.set_wakeup_fd(self._old_wakeup_fd)
            except ValueError:
                pass
            self._old_wakeup_fd = None

    # -- cleanup ----------------------------------------------------------------------

    def close(self) -> None:
        """Release the selector and the waker (after the loop has finished)."""
        self.remove_all(self._waker.fileno())
        self._waker.close()
        self._selector.close()


_default: SelectReactor | None = None


def default_reactor() -> SelectReactor:
    """A module-level reactor for scripts. Library code takes ``reactor=`` instead."""
    global _default
    if _default is None:
        _default = SelectReactor()
    return _default

