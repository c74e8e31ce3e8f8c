"""Repeating and delayed calls on a clock (the reactor or a test Clock).

:class:`LoopingCall` calls a function every ``interval`` seconds on a fixed
schedule (``start + k * interval``). When the loop was late and whole
intervals went by, it does not burst to catch up: it calls once, counts the
ticks it skipped (``skipped``), and ``with_count`` functions are told how
many intervals elapsed.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Any

from reality.net.defer import Deferred, Failure, maybe_deferred
from reality.net.interfaces import IDelayedCall, IReactorTime

__all__ = ["LoopingCall", "defer_later"]


class LoopingCall:
    """Call ``f(*args, **kwargs)`` repeatedly, every ``interval`` seconds.

    ``start()`` returns a Deferred that fires with this LoopingCall when
    ``stop()`` is called, or fails if ``f`` raises (which stops the loop).
    If ``f`` returns a Deferred, the next call waits until it has fired.
    """

    def __init__(
        self, clock: IReactorTime, f: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> None:
        self.clock = clock
        self.f = f
        self.args = args
        self.kwargs = kwargs
        self.running = False
        self.interval: float | None = None
        self.skipped = 0
        self.call_count = 0
        self._deferred: Deferred[LoopingCall] | None = None
        self._call: IDelayedCall | None = None
        self._start_time = 0.0
        self._last_tick = 0
        self._with_count = False

    @classmethod
    def with_count(cls, clock: IReactorTime, f: Callable[[int], Any]) -> LoopingCall:
        """A LoopingCall that passes ``f`` the number of intervals since its last call."""
        loop = cls(clock, f)
        loop._with_count = True
        return loop

    def start(self, interval: float, now: bool = True) -> Deferred[LoopingCall]:
        """Start calling every ``interval`` seconds; at once too if ``now``."""
        if self.running:
            raise RuntimeError("this LoopingCall is already running")
        if interval < 0:
            raise ValueError("the interval must not be negative")
        self.running = True
        self.interval = interval
        d: Deferred[LoopingCall] = Deferred()
        self._deferred = d
        self._start_time = self.clock.seconds()
        self._last_tick = 0
        if now:
            self._run(1)
        else:
            self._schedule_next()
        return d

    def stop(self) -> None:
        """Stop calling; fires the Deferred from :meth:`start`."""
        if not self.running:
            raise RuntimeError("this LoopingCall is not running")
        self.running = False
        if self._call is not None:
            self._call.cancel()
            self._call = None
        d, self._deferred = self._deferred, None
        if d is not None:
            d.callback(self)

    def reset(self) -> None:
        """Restart the schedule from now (the next call is one interval away)."""
        if not self.running:
            raise RuntimeError("this LoopingCall is not running")
        if self._call is not None:
            self._call.cancel()
            self._call = None
        self._start_time = self.clock.seconds()
        self._last_tick = 0
        self._schedule_next()

    def _tick(self) -> None:
        self._call = None
        assert self.interval is not None
        now = self.clock.seconds()
        if self.interval == 0:
            elapsed = 1
        else:
            tick = int(math.floor((now - self._start_time) / self.interval + 1e-9))
            elapsed = max(1, tick - self._last_tick)
            self._last_tick = max(tick, self._last_tick + 1)
        if elapsed > 1:
            self.skipped += elapsed - 1
        self._run(elapsed)

    def _run(self, elapsed: int) -> None:
        self.call_count += 1
        if self._with_count:
            d = maybe_deferred(self.f, elapsed)
        else:
            d = maybe_deferred(self.f, *self.args, **self.kwargs)
        d.add_callbacks(self._after_call, self._call_failed)

    def _after_call(self, _: Any) -> None:
        if self.running:
            self._schedule_next()

    def _call_failed(self, failure: Failure) -> None:
        self.running = False
        d, self._deferred = self._deferred, None
        if d is not None:
            d.errback(failure)

    def _schedule_next(self) -> None:
        assert self.interval is not None
        now = self.clock.seconds()
        if self.interval == 0:
            self._call = self.clock.call_later(0, self._tick)
            return
        # The next multiple of the interval after now, on the original schedule.
        next_tick = int(math.floor((now - self._start_time) / self.interval + 1e-9)) + 1
        next_tick = max(next_tick, self._last_tick + 1)
        when = self._start_time + next_tick * self.interval
        self._call = self.clock.call_later(when - now, self._tick)

    def __repr__(self) -> str:
        name = getattr(self.f, "__qualname__", repr(self.f))
        return f"<LoopingCall {name} every {self.interval}s running={self.running}>"


def defer_later(
    clock: IReactorTime,
    delay: float,
    f: Callable[..., Any] | None = None,
    *args: Any,
    **kwargs: Any,
) -> Deferred[Any]:
    """A Deferred that fires ``delay`` seconds from now with ``f(*args, **kwargs)``.

    With no ``f`` it fires with None. Cancelling it cancels the timer.
    """

    def cancel(_: Deferred[Any]) -> None:
        call.cancel()

    d: Deferred[Any] = Deferred(canceller=cancel)

    def fire() -> None:
        if f is None:
            d.callback(None)
        else:
            maybe_deferred(f, *args, **kwargs).chain_deferred(d)

    call = clock.call_later(delay, fire)
    return d


class LagMonitor:
    """Measures how late the loop runs timers: the server's "tick lateness".

    Every ``interval`` seconds a timer records how long after its due time
    it actually ran; the last ``window`` samples are kept. A healthy loop
    shows a lateness of well under a millisecond; a loop stalled by
    blocking work shows it at once.
    """

    def __init__(self, clock: IReactorTime, interval: float = 0.1, window: int = 600) -> None:
        self.clock = clock
        self.interval = interval
        self.samples: deque[float] = deque(maxlen=window)
        #: Called with every sample (seconds late): metrics and health listen here.
        self.observers: list[Callable[[float], object]] = []
        self._call: IDelayedCall | None = None
        self._due = 0.0

    def start(self) -> None:
        """Begin sampling."""
        if self._call is None:
            self._schedule()

    def stop(self) -> None:
        """Stop sampling."""
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None

    def _schedule(self) -> None:
        self._due = self.clock.seconds() + self.interval
        self._call = self.clock.call_later(self.interval, self._tick)

    def _tick(self) -> None:
        lateness = max(0.0, self.clock.seconds() - self._due)
        self.samples.append(lateness)
        self._schedule()
        for observer in self.observers:
            observer(lateness)

    def overdue(self) -> float:
        """How late the pending sample already is (0 when not yet due or not running).

        After a stall, code that runs before the lag timer in the same turn
        (an HTTP request) can see the stall through this.
        """
        if self._call is None:
            return 0.0
        return max(0.0, self.clock.seconds() - self._due)

    def percentile(self, fraction: float) -> float:
        """The lateness (seconds) at ``fraction`` (0.5, 0.99, ...) of the samples."""
        if not self.samples:
            return 0.0
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]
