"""Deferreds: a promise of a result that has not arrived yet.

A :class:`Deferred` holds a chain of callback/errback pairs. When a result
arrives (``callback``) or an error (``errback``), the chain runs: each
callback receives the previous one's return value; an exception switches
the chain to the errbacks, and an errback that returns normally switches it
back. A callback that returns another Deferred pauses the chain until that
one fires.

The chain is run iteratively with an explicit stack (the way Twisted's
``_runCallbacks`` does it), so thousands of callbacks and deep chains of
Deferreds waiting on Deferreds never approach the recursion limit.

Coroutines meet Deferreds both ways: ``await d`` works inside a coroutine
driven by :func:`ensure_deferred`, and ``ensure_deferred(coro)`` gives the
coroutine's result as a Deferred.
"""

from __future__ import annotations

import logging
import sys
import traceback
import types
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable
from typing import Any, Generic, TypeVar

from reality.net.timing import IReactorTime

__all__ = [
    "AlreadyCalledError",
    "CancelledError",
    "Deferred",
    "Failure",
    "FirstError",
    "TimeoutError",
    "deferred_list",
    "ensure_deferred",
    "fail",
    "gather_results",
    "maybe_deferred",
    "succeed",
]

log = logging.getLogger(__name__)

T = TypeVar("T")


class AlreadyCalledError(Exception):
    """A Deferred was fired (``callback``/``errback``) a second time."""


class CancelledError(Exception):
    """A Deferred was cancelled before it had a result."""


class TimeoutError(CancelledError):  # noqa: A001 - a specific kind of cancellation
    """A Deferred did not fire within the time given to ``add_timeout``."""


class FirstError(Exception):
    """One of the Deferreds given to :func:`gather_results` failed.

    ``failure`` is that Deferred's Failure and ``index`` its position.
    """

    def __init__(self, failure: Failure, index: int) -> None:
        super().__init__(failure, index)
        self.failure = failure
        self.index = index

    def __str__(self) -> str:
        return f"Deferred #{self.index} failed: {self.failure.value!r}"


class Failure:
    """An exception captured with its traceback, passed down errback chains.

    ``Failure()`` with no argument captures the exception being handled.
    """

    __slots__ = ("value", "type", "tb", "_text")

    def __init__(self, exc: BaseException | None = None) -> None:
        if exc is None:
            exc = sys.exc_info()[1]
            if exc is None:
                raise ValueError("Failure() needs an exception or an active one")
        self.value: BaseException = exc
        self.type: type[BaseException] = type(exc)
        self.tb: types.TracebackType | None = exc.__traceback__
        self._text: str | None = None

    def check(self, *error_types: type[BaseException]) -> type[BaseException] | None:
        """Return the first of ``error_types`` this failure is an instance of, or None."""
        for error_type in error_types:
            if isinstance(self.value, error_type):
                return error_type
        return None

    def trap(self, *error_types: type[BaseException]) -> type[BaseException]:
        """Like :meth:`check`, but re-raise the failure when no type matches.

        Meant for errbacks: ``failure.trap(ConnectionDone)`` handles that
        error and lets every other one continue down the chain.
        """
        matched = self.check(*error_types)
        if matched is None:
            self.raise_exception()
        return matched  # type: ignore[return-value]

    def raise_exception(self) -> None:
        """Raise the captured exception with its original traceback."""
        raise self.value.with_traceback(self.tb)

    def get_traceback(self) -> str:
        """The formatted traceback and exception, as ``traceback`` prints it."""
        if self._text is None:
            self._text = "".join(traceback.format_exception(self.type, self.value, self.tb))
        return self._text

    def get_error_message(self) -> str:
        """A one-line description: the exception's type and message."""
        return f"{self.type.__name__}: {self.value}"

    def __repr__(self) -> str:
        return f"<Failure {self.type.__name__}: {self.value}>"


def _passthrough(result: Any) -> Any:
    return result


_NO_RESULT: Any = object()

#: One half of a chain step: the function with its extra arguments.
_Step = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]
_CONTINUE: Any = object()  # marks the link from an inner Deferred back to its waiter


class Deferred(Generic[T]):
    """A result that will arrive later, and the chain of what to do with it."""

    __slots__ = (
        "callbacks",
        "called",
        "paused",
        "result",
        "_canceller",
        "_suppress_already_called",
        "_chained_to",
        "_running",
        "_unhandled",
        "__weakref__",
    )

    def __init__(self, canceller: Callable[[Deferred[Any]], None] | None = None) -> None:
        self.callbacks: deque[tuple[_Step, _Step]] = deque()
        self.called = False
        self.paused = 0
        self.result: Any = _NO_RESULT
        self._canceller = canceller
        self._suppress_already_called = False
        self._chained_to: Deferred[Any] | None = None
        self._running = False
        self._unhandled: Failure | None = None

    # -- building the chain ------------------------------------------------

    def add_callbacks(
        self,
        callback: Callable[..., Any],
        errback: Callable[..., Any] | None = None,
        callback_args: tuple[Any, ...] = (),
        callback_kwargs: dict[str, Any] | None = None,
        errback_args: tuple[Any, ...] = (),
        errback_kwargs: dict[str, Any] | None = None,
    ) -> Deferred[Any]:
        """Add a callback and an errback at the same point of the chain."""
        self.callbacks.append(
            (
                (callback, callback_args, callback_kwargs or {}),
                (errback or _passthrough, errback_args, errback_kwargs or {}),
            )
        )
        if self.called:
            self._run_callbacks()
        return self

    def add_callback(
        self, callback: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Deferred[Any]:
        """Add a callback, called with the result when the chain succeeds."""
        return self.add_callbacks(callback, None, args, kwargs)

    def add_errback(
        self, errback: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Deferred[Any]:
        """Add an errback, called with a :class:`Failure` when the chain fails."""
        return self.add_callbacks(_passthrough, errback, errback_args=args, errback_kwargs=kwargs)

    def add_both(
        self, callback: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Deferred[Any]:
        """Add a function called with the result or the failure, whichever comes."""
        return self.add_callbacks(callback, callback, args, kwargs, args, kwargs)

    def chain_deferred(self, other: Deferred[Any]) -> Deferred[Any]:
        """Fire ``other`` with this Deferred's result (at this point of the chain)."""
        return self.add_callbacks(other.callback, other.errback)

    def add_timeout(self, timeout: float, clock: IReactorTime) -> Deferred[T]:
        """Cancel this Deferred if it has no result ``timeout`` seconds from now.

        A cancellation caused by the timeout fails the chain with
        :class:`TimeoutError` instead of :class:`CancelledError`.
        ``clock`` is anything with ``call_later`` (the reactor or a test Clock).
        """
        timed_out = False

        def expire() -> None:
            nonlocal timed_out
            timed_out = True
            self.cancel()

        delayed = clock.call_later(timeout, expire)

        def done(result: Any) -> Any:
            if delayed.active():
                delayed.cancel()
            if timed_out and isinstance(result, Failure) and result.check(CancelledError):
                return Failure(TimeoutError(f"Deferred timed out after {timeout} seconds"))
            return result

        return self.add_both(done)

    # -- firing ------------------------------------------------------------

    def callback(self, result: Any = None) -> None:
        """Fire the chain with a result."""
        if isinstance(result, Deferred):
            raise TypeError("a Deferred cannot be the result of callback(); chain it instead")
        self._start_running(result)

    def errback(self, fail: Failure | BaseException | None = None) -> None:
        """Fire the chain with a failure (a Failure, an exception, or the current one)."""
        if not isinstance(fail, Failure):
            fail = Failure(fail)
        self._start_running(fail)

    def _start_running(self, result: Any) -> None:
        if self.called:
            if self._suppress_already_called:
                self._suppress_already_called = False
                return
            raise AlreadyCalledError(f"{self!r} has already been fired")
        self.called = True
        self.result = result
        self._run_callbacks()

    def pause(self) -> None:
        """Stop running callbacks until :meth:`unpause`."""
        self.paused += 1

    def unpause(self) -> None:
        """Resume running callbacks after :meth:`pause`."""
        self.paused -= 1
        if self.paused == 0 and self.called:
            self._run_callbacks()

    def cancel(self) -> None:
        """Give up on the result.

        An unfired Deferred calls its canceller; with none (or if the
        canceller did not fire it) it fails with :class:`CancelledError`.
        A Deferred that is waiting on another passes the cancel on to it.
        """
        if not self.called:
            canceller = self._canceller
            if canceller is not None:
                canceller(self)
            if not self.called:
                self.errback(Failure(CancelledError("Deferred was cancelled")))
            # A late callback from the original producer is expected; ignore it.
            self._suppress_already_called = True
        elif isinstance(self.result, Deferred):
            self.result.cancel()
        elif self._chained_to is not None:
            self._chained_to.cancel()

    # -- running the chain -------------------------------------------------

    def _run_callbacks(self) -> None:
        if self._running:
            # A callback added a callback (or fired us again): the loop already
            # running further up the stack will pick it up.
            return
        chain: list[Deferred[Any]] = [self]
        while chain:
            current = chain[-1]
            if current.paused:
                return
            finished = True
            current._chained_to = None
            callbacks = current.callbacks
            while callbacks:
                pair = callbacks.popleft()
                fn, args, kwargs = pair[1] if isinstance(current.result, Failure) else pair[0]
                if fn is _CONTINUE:
                    # The inner Deferred ``current`` has its result: hand it to the
                    # Deferred that waits on it and carry on with that one.
                    waiter = args[0]
                    waiter.result = current.result
                    current.result = None
                    current._unhandled = None
                    waiter.paused -= 1
                    chain.append(waiter)
                    finished = False
                    break
                current._running = True
                try:
                    current.result = fn(current.result, *args, **kwargs)
                    if current.result is current:
                        raise TypeError("a Deferred's callback returned the Deferred itself")
                except BaseException as exc:
                    if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                        current._running = False
                        raise
                    current.result = Failure(exc)
                finally:
                    current._running = False
                result = current.result
                if isinstance(result, Deferred):
                    inner_result = result.result
                    if (
                        inner_result is _NO_RESULT
                        or isinstance(inner_result, Deferred)
                        or result.paused
                        or result._running
                    ):
                        # The inner Deferred has nothing for us yet: wait on it.
                        current.pause()
                        current._chained_to = result
                        result.callbacks.append(((_CONTINUE, (current,), {}),) * 2)
                        break
                    # The inner Deferred already has its result: take it.
                    result.result = None
                    result._unhandled = None
                    current.result = inner_result
            if finished:
                if isinstance(current.result, Failure):
                    current._unhandled = current.result
                else:
                    current._unhandled = None
                chain.pop()

    def __del__(self) -> None:
        failure = self._unhandled
        if failure is not None:
            log.error(
                "Unhandled error in Deferred:\n%s", failure.get_traceback().rstrip()
            )

    # -- coroutines ----------------------------------------------------------

    def __await__(self) -> Generator[Deferred[T], None, T]:
        # The driver in ensure_deferred sends the result back in, or throws
        # the exception in.
        result = yield self
        return result  # type: ignore[return-value]

    def __repr__(self) -> str:
        if self.called:
            state = f"current result: {self.result!r}"
        else:
            state = "waiting"
        return f"<Deferred at 0x{id(self):x} {state}>"


# -- helpers ----------------------------------------------------------------


def succeed(result: T) -> Deferred[T]:
    """A Deferred that already has ``result``."""
    d: Deferred[T] = Deferred()
    d.callback(result)
    return d


def fail(failure: Failure | BaseException | None = None) -> Deferred[Any]:
    """A Deferred that has already failed with ``failure``."""
    d: Deferred[Any] = Deferred()
    d.errback(failure)
    return d


def maybe_deferred(f: Callable[..., Any], *args: Any, **kwargs: Any) -> Deferred[Any]:
    """Call ``f`` and return its result as a Deferred, whatever it returned or raised."""
    try:
        result = f(*args, **kwargs)
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return fail(Failure(exc))
    if isinstance(result, Deferred):
        return result
    if isinstance(result, types.CoroutineType):
        return ensure_deferred(result)
    if isinstance(result, Failure):
        return fail(result)
    return succeed(result)


def ensure_deferred(coro: Awaitable[T] | Deferred[T]) -> Deferred[T]:
    """Run a coroutine, giving its result (or exception) as a Deferred.

    Inside the coroutine, ``await`` a Deferred to wait for it. Cancelling
    the returned Deferred cancels the Deferred being awaited, which raises
    ``CancelledError`` inside the coroutine.
    """
    if isinstance(coro, Deferred):
        return coro
    if not isinstance(coro, types.CoroutineType):
        raise TypeError(f"ensure_deferred() needs a coroutine or a Deferred, not {coro!r}")
    waiting_on: list[Deferred[Any] | None] = [None]

    def cancel_awaited(_: Deferred[Any]) -> None:
        inner = waiting_on[0]
        if inner is not None:
            inner.cancel()
        else:
            coro.close()

    outer: Deferred[T] = Deferred(canceller=cancel_awaited)
    _drive(coro, outer, waiting_on, _NO_RESULT)
    return outer


def _drive(
    coro: Coroutine[Any, Any, Any],
    outer: Deferred[Any],
    waiting_on: list[Deferred[Any] | None],
    value: Any,
) -> None:
    # Loops instead of recursing when an awaited Deferred already has its result.
    while True:
        try:
            if value is _NO_RESULT:
                yielded = coro.send(None)
            elif isinstance(value, Failure):
                failure = value
                yielded = coro.throw(failure.value.with_traceback(failure.tb))
            else:
                yielded = coro.send(value)
        except StopIteration as stop:
            waiting_on[0] = None
            if not outer.called:
                outer.callback(stop.value)
            return
        except BaseException as exc:
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            waiting_on[0] = None
            if not outer.called:
                outer.errback(Failure(exc))
            return
        if not isinstance(yielded, Deferred):
            value = Failure(
                TypeError(f"a coroutine run by ensure_deferred awaited {yielded!r}, not a Deferred")
            )
            continue
        immediate: list[Any] = []
        state = {"inline": True}

        def resume(
            result: Any, _state: dict[str, bool] = state, _immediate: list[Any] = immediate
        ) -> None:
            if _state["inline"]:
                _immediate.append(result)
            else:
                _drive(coro, outer, waiting_on, result)

        waiting_on[0] = yielded
        yielded.add_both(resume)
        state["inline"] = False
        if immediate:
            value = immediate[0]
            continue
        return


def deferred_list(
    deferreds: Iterable[Deferred[Any]],
    fire_on_one_callback: bool = False,
    fire_on_one_errback: bool = False,
    consume_errors: bool = False,
) -> Deferred[Any]:
    """Wait for several Deferreds; fire with a list of ``(success, result)`` pairs.

    With ``fire_on_one_callback`` it fires with ``(result, index)`` as soon as
    one succeeds; with ``fire_on_one_errback`` it fails with
    :class:`FirstError` as soon as one fails. ``consume_errors`` stops the
    failures from propagating down (and being reported as unhandled) in
    the original Deferreds.
    """
    deferreds = list(deferreds)
    results: list[tuple[bool, Any] | None] = [None] * len(deferreds)
    result_d: Deferred[Any] = Deferred()
    remaining = len(deferreds)
    if not deferreds:
        result_d.callback([])
        return result_d

    def settle(result: Any, index: int, succeeded: bool) -> Any:
        nonlocal remaining
        results[index] = (succeeded, result)
        remaining -= 1
        if not result_d.called:
            if succeeded and fire_on_one_callback:
                result_d.callback((result, index))
            elif not succeeded and fire_on_one_errback:
                result_d.errback(Failure(FirstError(result, index)))
            elif remaining == 0:
                result_d.callback(results)
        if not succeeded and consume_errors:
            return None
        return result

    for index, d in enumerate(deferreds):
        d.add_callbacks(
            settle,
            settle,
            callback_args=(index, True),
            errback_args=(index, False),
        )
    return result_d


def gather_results(
    deferreds: Iterable[Deferred[Any]], consume_errors: bool = True, fail_fast: bool = True
) -> Deferred[list[Any]]:
    """Wait for several Deferreds and fire with the list of their results.

    If one fails, the result fails with :class:`FirstError`: at once when
    ``fail_fast`` (the default), or after all have finished otherwise.
    """
    deferreds = list(deferreds)
    d = deferred_list(deferreds, fire_on_one_errback=fail_fast, consume_errors=consume_errors)

    def unwrap(results: list[tuple[bool, Any]]) -> list[Any]:
        for index, (succeeded, value) in enumerate(results):
            if not succeeded:
                raise FirstError(value, index)
        return [value for _, value in results]

    return d.add_callback(unwrap)
