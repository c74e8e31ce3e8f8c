"""LoopingCall and defer_later on the test Clock."""

from __future__ import annotations

import pytest

from reality.net.defer import Deferred
from reality.net.task import LoopingCall, defer_later
from reality.net.testing import Clock


def test_looping_call_runs_every_interval():
    """A LoopingCall runs now and then once per interval."""
    clock = Clock()
    times: list[float] = []
    loop = LoopingCall(clock, lambda: times.append(clock.seconds()))
    loop.start(1.0)
    clock.pump([1.0] * 3)
    assert times == [0.0, 1.0, 2.0, 3.0]


def test_looping_call_not_now_waits_one_interval():
    """start(now=False) makes the first call one interval from now."""
    clock = Clock()
    times: list[float] = []
    LoopingCall(clock, lambda: times.append(clock.seconds())).start(2.0, now=False)
    clock.advance(1.9)
    assert times == []
    clock.advance(0.1)
    assert times == [2.0]


def test_late_loop_skips_ticks_instead_of_bursting():
    """After a 3.5-interval stall the loop calls once, counts skipped ticks, keeps the grid."""
    clock = Clock()
    counts: list[int] = []
    loop = LoopingCall.with_count(clock, counts.append)
    loop.start(1.0)
    clock.advance(1.0)
    clock.advance(3.5)  # the reactor was blocked: ticks 2, 3 and 4 were missed
    assert counts == [1, 1, 3]
    assert loop.skipped == 2
    times: list[float] = []
    loop.f = lambda n: times.append(clock.seconds())
    clock.advance(0.5)  # back on the original schedule: tick 5 at t=5
    assert times == [5.0]


def test_stop_fires_the_deferred_with_the_loop():
    """stop() fires start()'s Deferred and no further calls happen."""
    clock = Clock()
    calls: list[int] = []
    loop = LoopingCall(clock, calls.append, 1)
    d = loop.start(1.0)
    fired: list[object] = []
    d.add_callback(fired.append)
    loop.stop()
    assert fired == [loop]
    clock.advance(5)
    assert calls == [1]
    with pytest.raises(RuntimeError):
        loop.stop()


def test_exception_stops_the_loop_and_fails_the_deferred():
    """An exception in the function stops the loop and errbacks its Deferred."""
    clock = Clock()
    loop = LoopingCall(clock, lambda: 1 / 0)
    d = loop.start(1.0)
    failures: list[object] = []
    d.add_errback(failures.append)
    assert len(failures) == 1 and not loop.running


def test_deferred_result_delays_next_call():
    """When the function returns a Deferred, the next call waits for it."""
    clock = Clock()
    pending: list[Deferred[None]] = []

    def work() -> Deferred[None]:
        d: Deferred[None] = Deferred()
        pending.append(d)
        return d

    LoopingCall(clock, work).start(1.0)
    clock.advance(3)
    assert len(pending) == 1
    pending[0].callback(None)
    clock.advance(1)
    assert len(pending) == 2


def test_defer_later_fires_after_the_delay_and_can_be_cancelled():
    """defer_later fires with f's result after the delay; cancelling stops the timer."""
    clock = Clock()
    d = defer_later(clock, 2, lambda x: x * 2, 21)
    results: list[object] = []
    d.add_callback(results.append)
    clock.advance(1.5)
    assert results == []
    clock.advance(0.5)
    assert results == [42]
    d2 = defer_later(clock, 2)
    d2.add_errback(lambda f: results.append(f.type.__name__))
    d2.cancel()
    assert clock.get_delayed_calls() == []
    assert results[-1] == "CancelledError"


def test_lag_monitor_records_lateness():
    """LagMonitor records how late each sample ran; a stalled clock shows up in the figures."""
    from reality.net.task import LagMonitor

    clock = Clock()
    monitor = LagMonitor(clock, interval=0.1)
    monitor.start()
    for _ in range(10):
        clock.advance(0.1)
    assert monitor.percentile(0.99) == pytest.approx(0.0, abs=1e-9)
    clock.advance(0.35)  # the loop was blocked: this sample ran 0.25 s late
    assert monitor.percentile(1.0) == pytest.approx(0.25)
    monitor.stop()
    assert clock.get_delayed_calls() == []
