"""Delayed calls and the timer heap shared by the reactor and the test Clock.

The heap holds ``(time, seq, call)`` tuples: tuples compare in C, which is
the cheapest ordering heapq can get. Cancelling is O(1): the call forgets
its sequence number, and its heap entry is skipped when it surfaces. When
such dead entries outnumber the live ones, the heap is rebuilt.

``reset()`` to a later time only changes the call's time; the old entry is
pushed back with the new time when it surfaces (idle timeouts reset on
every line, and this keeps them off the heap). ``reset()`` to an earlier
time pushes a new entry and leaves the old one dead.

The reactors run a turn's due calls with :meth:`TimerQueue.run_due`: they
are taken off the heap together, then run one by one, and a call that an
earlier one cancelled or moved meanwhile is skipped, as asyncio skips a
cancelled handle.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable
from itertools import count
from typing import Any

log = logging.getLogger(__name__)

__all__ = ["DelayedCall", "TimerQueue"]

_COMPACT_MIN = 64


class DelayedCall:
    """A function scheduled to run at ``time`` (in the scheduler's seconds)."""

    __slots__ = ("time", "func", "args", "kwargs", "cancelled", "called", "_seq", "_queue")

    def __init__(
        self,
        queue: TimerQueue,
        when: float,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        self.time = when
        self.func = func
        self.args = args
        self.kwargs = kwargs
        self.cancelled = False
        self.called = False
        self._seq = -1
        self._queue = queue

    def active(self) -> bool:
        """True until the call has run or been cancelled."""
        return not (self.cancelled or self.called)

    def get_time(self) -> float:
        """When the call is due, in the scheduler's seconds."""
        return self.time

    def cancel(self) -> None:
        """Do not run the call. Cancelling an inactive call does nothing."""
        if self.cancelled or self.called:
            return
        self.cancelled = True
        self._queue._forget(self)

    def reset(self, seconds_from_now: float) -> None:
        """Reschedule the call to ``seconds_from_now`` from now."""
        if not self.active():
            raise ValueError("cannot reset a delayed call that has run or been cancelled")
        self._queue._move(self, self._queue.seconds() + seconds_from_now)

    def delay(self, extra: float) -> None:
        """Postpone the call by ``extra`` seconds."""
        if not self.active():
            raise ValueError("cannot delay a delayed call that has run or been cancelled")
        self._queue._move(self, self.time + extra)

    def __repr__(self) -> str:
        name = getattr(self.func, "__qualname__", repr(self.func))
        state = "cancelled" if self.cancelled else "called" if self.called else "active"
        return f"<DelayedCall {name} at {self.time:.3f} {state}>"


class TimerQueue:
    """A heap of :class:`DelayedCall` with lazy removal."""

    __slots__ = ("_heap", "_dead", "_counter", "seconds")

    def __init__(self, seconds: Callable[[], float]) -> None:
        self._heap: list[tuple[float, int, DelayedCall]] = []
        self._dead = 0
        self._counter = count()
        self.seconds = seconds

    def __len__(self) -> int:
        """The number of live (scheduled, not cancelled) calls."""
        return len(self._heap) - self._dead

    def schedule(
        self, when: float, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> DelayedCall:
        """Schedule ``func(*args, **kwargs)`` at time ``when``."""
        call = DelayedCall(self, when, func, args, kwargs)
        seq = next(self._counter)
        call._seq = seq
        heapq.heappush(self._heap, (when, seq, call))
        return call

    def _forget(self, call: DelayedCall) -> None:
        if call._seq < 0:
            return  # not on the heap: taken off to run this turn
        call._seq = -1
        self._dead += 1
        heap = self._heap
        if self._dead > _COMPACT_MIN and self._dead * 2 > len(heap):
            self._heap = [entry for entry in heap if entry[2]._seq == entry[1]]
            heapq.heapify(self._heap)
            self._dead = 0

    def _move(self, call: DelayedCall, when: float) -> None:
        if when >= call.time and call._seq >= 0:
            # The existing entry surfaces first and is pushed back then.
            call.time = when
            return
        self._forget(call)
        call.time = when
        seq = next(self._counter)
        call._seq = seq
        heapq.heappush(self._heap, (when, seq, call))

    def next_time(self) -> float | None:
        """When the earliest live call is due, or None if there is none."""
        heap = self._heap
        while heap:
            when, seq, call = heap[0]
            if call._seq != seq:
                heapq.heappop(heap)
                self._dead -= 1
            elif call.time > when:
                heapq.heapreplace(heap, (call.time, seq, call))
            else:
                return when
        return None

    def run_due(self, now: float) -> None:
        """Run the calls due at ``now``, earliest first, logging their exceptions.

        They leave the heap together first, so calls scheduled while they
        run wait for the next turn; one that an earlier call cancelled or
        moved in the meantime does not run.
        """
        heap = self._heap
        due: list[DelayedCall] = []
        heappop = heapq.heappop
        while heap and heap[0][0] <= now:
            when, seq, call = heappop(heap)
            if call._seq != seq:
                self._dead -= 1
            elif call.time > when:
                heapq.heappush(heap, (call.time, seq, call))
            else:
                call._seq = -1  # off the heap: cancel() or reset() now knows
                due.append(call)
        for call in due:
            if call.cancelled or call._seq >= 0:
                continue  # cancelled, or moved back onto the heap, by an earlier call
            call.called = True
            try:
                call.func(*call.args, **call.kwargs)
            except Exception:
                log.exception("Unhandled error in delayed call %r", call)

    def pop_one_due(self, now: float) -> DelayedCall | None:
        """Remove and return the earliest call due at ``now``, or None."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            when, seq, call = heapq.heappop(heap)
            if call._seq != seq:
                self._dead -= 1
            elif call.time > when:
                heapq.heappush(heap, (call.time, seq, call))
            else:
                call.called = True
                return call
        return None

    def live_calls(self) -> list[DelayedCall]:
        """All live calls, earliest first."""
        calls = [entry[2] for entry in self._heap if entry[2]._seq == entry[1]]
        calls.sort(key=lambda c: (c.time, c._seq))
        return calls
