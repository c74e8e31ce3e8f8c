"""The reactor interface on an asyncio event loop (the default loop, or uvloop).

:class:`AsyncioReactor` offers exactly what
:class:`~reality.net.reactor.SelectReactor` offers -- timers, readers and
writers, TCP, child processes, shutdown triggers, signals -- but the waiting
is done by an :mod:`asyncio` event loop. That buys two things:

- a program that already runs asyncio (the prompt-toolkit client of
  ``reality play``) can run Reality's protocols on the same loop: build the
  reactor with ``AsyncioReactor(loop=asyncio.get_running_loop())`` and call
  :meth:`~AsyncioReactor.start` instead of :meth:`~AsyncioReactor.run`;
- a server can run on uvloop (``reality serve --reactor uvloop``).

How the parts map onto the loop:

- Readers and writers are ``loop.add_reader`` / ``loop.add_writer`` on raw
  file descriptors, so :mod:`reality.net.tcp` and :mod:`reality.net.process`
  run unchanged (they only use ``add_reader``/``add_writer``/``remove_*``,
  ``call_soon``, ``call_later`` and ``processes``).
- Timers stay in our own :class:`~reality.net.timers.TimerQueue` (same
  :class:`~reality.net.timers.DelayedCall` objects, same O(1) cancellation);
  a single asyncio timer handle is armed at the earliest due time and
  re-armed when an earlier call is scheduled or when it fires. Thousands of
  idle timeouts that are reset on every line therefore cost the loop nothing.
- ``call_soon`` callbacks wait in our own deque; one loop callback drains
  exactly those that were queued when it began, as ``SelectReactor`` does
  per turn.
- Every callback is run under ``try``/``except``: an exception is logged with
  its traceback and the loop goes on.
- SIGINT and SIGTERM (with :meth:`run`) go through ``loop.add_signal_handler``
  and start the orderly shutdown: the ``before``, ``during`` and ``after``
  trigger phases, each waiting (at most ``shutdown_timeout`` seconds) for
  the Deferreds its triggers return.

This module and the client are the only places in Reality that import
:mod:`asyncio` (see DESIGN.md). No thread is started: the default loop's
executor is never used, and name lookups stay in :mod:`reality.net.tcp`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Callable
from typing import Any

from reality.net.base import ReactorBase, SignalHandler
from reality.net.defer import Deferred, Failure
from reality.net.interfaces import IReactor
from reality.net.reactor import SelectReactor
from reality.net.timers import DelayedCall, TimerQueue

log = logging.getLogger(__name__)

__all__ = ["REACTOR_NAMES", "AsyncioReactor", "ReactorUnavailable", "make_reactor"]


#: The names :func:`make_reactor` understands.
REACTOR_NAMES = ("selector", "asyncio", "uvloop")


class ReactorUnavailable(RuntimeError):
    """The requested reactor cannot be built here (e.g. uvloop is not installed)."""


class _TimerQueue(TimerQueue):
    """A TimerQueue that tells the reactor when a reset() moved a call earlier.

    (New calls are checked by :meth:`AsyncioReactor.call_later` itself.)
    """

    __slots__ = ("_rearm",)

    def __init__(self, seconds: Callable[[], float], rearm: Callable[[float], None]) -> None:
        super().__init__(seconds)
        self._rearm = rearm

    def _move(self, call: DelayedCall, when: float) -> None:
        # A reset() to a later time changes nothing the loop must know (the
        # armed handle fires early and re-arms); an earlier one may.
        earlier = when < call.time
        TimerQueue._move(self, call, when)
        if earlier:
            self._rearm(when)


class AsyncioReactor(ReactorBase):
    """The reactor interface implemented on an asyncio event loop.

    With ``loop=None`` the reactor makes (and owns, and closes) a fresh
    default event loop; pass ``loop`` to use another one, e.g. a uvloop
    loop (with ``own_loop=True``: the reactor then closes it) or a loop
    that is already running (the reactor leaves its configuration alone).
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop | None = None, *, own_loop: bool | None = None
    ) -> None:
        self._init_base()
        # A loop we made (or were handed to own) is ours to configure and close.
        self._owns_loop = (loop is None) if own_loop is None else own_loop
        self._loop = loop if loop is not None else asyncio.new_event_loop()
        if self._owns_loop:
            self._loop.set_exception_handler(self._loop_exception)
        self._timers = _TimerQueue(time.monotonic, self._arm)
        self._timer_handle: asyncio.TimerHandle | None = None
        self._armed_at: float | None = None
        self._drain_scheduled = False
        self._readers: dict[int, Callable[[], Any]] = {}
        self._writers: dict[int, Callable[[], Any]] = {}
        self._in_run = False
        self._stop_after_callback = False
        self._signals: list[int] = []
        self._old_signal_handlers: dict[int, SignalHandler] = {}
        self._stopped: Deferred[None] | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The asyncio event loop underneath."""
        return self._loop

    # -- time -------------------------------------------------------------------------

    def call_later(
        self, delay: float, f: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> DelayedCall:
        """Call ``f(*args, **kwargs)`` ``delay`` seconds from now; returns a DelayedCall."""
        if delay < 0:
            delay = 0.0
        when = time.monotonic() + delay
        call = self._timers.schedule(when, f, args, kwargs)
        armed = self._armed_at
        if armed is None or when < armed:
            self._arm(when)
        return call

    def _arm(self, when: float) -> None:
        armed = self._armed_at
        if armed is not None and armed <= when:
            return
        handle = self._timer_handle
        if handle is not None:
            handle.cancel()
        self._armed_at = when
        # Our times are time.monotonic(); the loop's clock may be another
        # one (uvloop's), so hand it a delay rather than a deadline.
        self._timer_handle = self._loop.call_later(
            max(0.0, when - time.monotonic()), self._fire_timers
        )

    def _fire_timers(self) -> None:
        self._timer_handle = None
        self._armed_at = None
        timers = self._timers
        timers.run_due(time.monotonic())
        next_time = timers.next_time()
        if next_time is not None:
            self._arm(next_time)
        if self._stop_after_callback:
            self._end_iteration()

    # -- call_soon ----------------------------------------------------------------------

    def call_soon(self, f: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Call ``f`` on the next turn of the loop."""
        self._ready.append((f, args, kwargs))
        if not self._drain_scheduled:
            self._drain_scheduled = True
            self._loop.call_soon(self._drain)

    def _drain(self) -> None:
        self._run_ready()
        if self._ready:
            # Queued by the callbacks just run: they wait for the next turn.
            self._loop.call_soon(self._drain)
        else:
            self._drain_scheduled = False
        if self._stop_after_callback:
            self._end_iteration()

    def wake(self) -> None:
        """Make a loop waiting for I/O turn over at once."""
        self._loop.call_soon(_nothing)

    # -- file descriptors --------------------------------------------------------------

    def add_reader(self, fd: int, callback: Callable[[], Any]) -> None:
        """Call ``callback()`` whenever ``fd`` is readable."""
        self._readers[fd] = callback
        self._loop.add_reader(fd, self._io, callback, fd)

    def add_writer(self, fd: int, callback: Callable[[], Any]) -> None:
        """Call ``callback()`` whenever ``fd`` is writable."""
        self._writers[fd] = callback
        self._loop.add_writer(fd, self._io, callback, fd)

    def remove_reader(self, fd: int) -> None:
        """Stop watching ``fd`` for readability."""
        if self._readers.pop(fd, None) is not None:
            self._loop.remove_reader(fd)

    def remove_writer(self, fd: int) -> None:
        """Stop watching ``fd`` for writability."""
        if self._writers.pop(fd, None) is not None:
            self._loop.remove_writer(fd)

    def remove_all(self, fd: int) -> None:
        """Stop watching ``fd`` entirely (before closing it)."""
        if self._readers.pop(fd, None) is not None:
            self._loop.remove_reader(fd)
        if self._writers.pop(fd, None) is not None:
            self._loop.remove_writer(fd)

    def _io(self, callback: Callable[[], Any], fd: int) -> None:
        try:
            callback()
        except Exception:
            log.exception("Unhandled error in I/O callback for fd %d", fd)
        if self._stop_after_callback:
            self._end_iteration()

    # -- running --------------------------------------------------------------------------

    def start(self) -> Deferred[None]:
        """Run on a loop that is already running (the caller's); returns a Deferred.

        The Deferred fires when :meth:`stop` has finished the shutdown
        triggers (or :meth:`crash` was called). Signal handling is left to
        the owner of the loop.
        """
        if self.running:
            raise RuntimeError("the reactor is already running")
        return self._begin()

    def _begin(self) -> Deferred[None]:
        self.running = True
        self._stop_requested = False
        stopped: Deferred[None] = Deferred()
        self._stopped = stopped
        self._run_when_running()
        return stopped

    def _finished(self) -> None:
        self.running = False
        stopped, self._stopped = self._stopped, None
        if self._in_run:
            self._loop.stop()
        if stopped is not None and not stopped.called:
            stopped.callback(None)

    def run(self, install_signal_handlers: bool = True) -> None:
        """Run the loop until :meth:`stop` has been called and shutdown is complete."""
        if self.running:
            raise RuntimeError("the reactor is already running")
        if self._loop.is_running():
            raise RuntimeError("the event loop is already running: use start() instead of run()")
        self._begin()
        self._in_run = True
        if install_signal_handlers:
            self._install_signal_handlers()
        try:
            self._loop.run_forever()
        finally:
            self._in_run = False
            self.running = False
            if install_signal_handlers:
                self._restore_signal_handlers()

    def crash(self) -> None:
        """Leave :meth:`run` at the end of this turn, without shutdown triggers."""
        self._finished()

    def iterate(self, timeout: float | None = 0.0) -> None:
        """Run one turn of the loop, waiting at most ``timeout`` seconds for something to do.

        Only for a reactor that owns its loop and is not inside :meth:`run`.
        """
        loop = self._loop
        if loop.is_running():
            raise RuntimeError("iterate() cannot be used while the event loop is running")
        if timeout == 0 or self._ready:
            # asyncio's documented contract: stop() before run_forever()
            # polls once without waiting and runs what is ready.
            loop.stop()
            loop.run_forever()
            return
        limit = loop.call_later(timeout, loop.stop) if timeout is not None else None
        self._stop_after_callback = True
        try:
            loop.run_forever()
        finally:
            self._stop_after_callback = False
            if limit is not None:
                limit.cancel()

    def _end_iteration(self) -> None:
        self._stop_after_callback = False
        self._loop.stop()

    # -- signals --------------------------------------------------------------------------

    def _install_signal_handlers(self) -> None:
        wanted = [signal.SIGINT, signal.SIGTERM]
        if not hasattr(os, "pidfd_open") and hasattr(signal, "SIGCHLD"):
            # Without pidfds, child exits are noticed on SIGCHLD (see process.py).
            wanted.append(signal.SIGCHLD)
        for signum in wanted:
            old = signal.getsignal(signum)
            try:
                if signum == getattr(signal, "SIGCHLD", None):
                    self._loop.add_signal_handler(signum, self._handle_sigchld)
                else:
                    self._loop.add_signal_handler(signum, self._handle_signal, signum)
            except (ValueError, RuntimeError, NotImplementedError):
                # Not the main thread, or a loop without signal support.
                continue
            self._signals.append(signum)
            self._old_signal_handlers[signum] = old

    def _restore_signal_handlers(self) -> None:
        for signum in self._signals:
            try:
                self._loop.remove_signal_handler(signum)
            except (ValueError, RuntimeError):
                pass
            old = self._old_signal_handlers.get(signum)
            if old is not None:
                try:
                    signal.signal(signum, old)
                except (ValueError, TypeError):
                    pass
        self._signals.clear()
        self._old_signal_handlers.clear()

    # -- bridging Deferreds and asyncio -------------------------------------------------

    def as_future(self, d: Deferred[Any]) -> asyncio.Future[Any]:
        """An asyncio Future on this loop that settles when ``d`` fires.

        For asyncio code (the client) that wants to ``await`` a Deferred:
        the Deferred's own ``__await__`` belongs to :func:`ensure_deferred`.
        A failure becomes the Future's exception; ``d``'s chain ends here.
        """
        future = self._loop.create_future()

        def succeeded(result: Any) -> None:
            if not future.done():
                future.set_result(result)

        def failed(failure: Failure) -> None:
            if not future.done():
                future.set_exception(failure.value)

        d.add_callbacks(succeeded, failed)
        return future

    # -- errors and cleanup ---------------------------------------------------------------

    @staticmethod
    def _loop_exception(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        message = context.get("message", "unhandled error in the event loop")
        if exc is not None:
            log.error("%s", message, exc_info=(type(exc), exc, exc.__traceback__))
        else:
            log.error("%s", message)

    def close(self) -> None:
        """Forget every reader, writer and timer; close the loop if this reactor made it."""
        if self._loop.is_closed():
            return
        for fd in list(self._readers):
            self.remove_reader(fd)
        for fd in list(self._writers):
            self.remove_writer(fd)
        if self._timer_handle is not None:
            self._timer_handle.cancel()
            self._timer_handle = None
            self._armed_at = None
        if self._owns_loop and not self._loop.is_running():
            self._loop.close()


def _nothing() -> None:
    pass


def make_reactor(name: str = "selector") -> SelectReactor | AsyncioReactor:
    """A reactor by name: ``"selector"``, ``"asyncio"`` or ``"uvloop"``.

    Raises :class:`ReactorUnavailable` for uvloop when it is not installed
    (it is the optional ``fast`` extra) and ``ValueError`` for other names.
    """
    if name == "selector":
        return SelectReactor()
    if name == "asyncio":
        return AsyncioReactor()
    if name == "uvloop":
        try:
            import uvloop
        except ImportError:
            raise ReactorUnavailable(
                "the uvloop reactor needs uvloop, which is not installed; "
                "install it with: pip install 'reality[fast]'"
            ) from None
        return AsyncioReactor(uvloop.new_event_loop(), own_loop=True)
    raise ValueError(f"unknown reactor {name!r}; expected one of {', '.join(REACTOR_NAMES)}")


#: Both reactors keep the whole contract: mypy checks this line.
REACTORS: tuple[type[IReactor], ...] = (SelectReactor, AsyncioReactor)
