"""The time contracts: a clock and the calls it schedules.

:class:`IReactorTime` is what timeouts, idle timers and ticks need; the
reactors and the test ``Clock`` satisfy it. They live apart from the rest
of :mod:`reality.net.interfaces` (which re-exports them) because
:mod:`reality.net.defer` needs them (``Deferred.add_timeout``) and
``interfaces`` needs ``defer``: this module imports nothing of the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

__all__ = ["IDelayedCall", "IReactorTime"]


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
