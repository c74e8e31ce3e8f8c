"""Timers on the test Clock and on the real reactor."""

from __future__ import annotations

import logging

import pytest

from reality.net.defer import Deferred
from reality.net.testing import Clock, wait_for
from reality.net.timers import TimerQueue


def test_clock_runs_calls_in_time_order():
    """Clock.advance runs due calls earliest first and leaves later ones."""
    clock = Clock()
    seen: list[str] = []
    clock.call_later(3, seen.append, "c")
    clock.call_later(1, seen.append, "a")
    clock.call_later(2, seen.append, "b")
    clock.advance(2)
    assert seen == ["a", "b"]
    clock.advance(1)
    assert seen == ["a", "b", "c"]


def test_equal_times_run_in_scheduling_order():
    """Calls due at the same time run in the order they were scheduled."""
    clock = Clock()
    seen: list[int] = []
    for i in range(10):
        clock.call_later(1, seen.append, i)
    clock.advance(1)
    assert seen == list(range(10))


def test_cancel_is_lazy_and_call_never_runs():
    """A cancelled call does not run and is no longer active."""
    clock = Clock()
    seen: list[str] = []
    call = clock.call_later(1, seen.append, "x")
    call.cancel()
    assert not call.active()
    clock.advance(2)
    assert seen == []
    call.cancel()  # cancelling twice is harmless


def test_reset_and_delay_move_a_call():
    """reset() reschedules from now; delay() postpones by an amount."""
    clock = Clock()
    seen: list[float] = []
    call = clock.call_later(5, lambda: seen.append(clock.seconds()))
    clock.advance(1)
    call.reset(1)
    assert call.time == 2
    call.delay(2)
    assert call.time == 4
    clock.advance(2.5)
    assert seen == []
    clock.advance(0.5)
    assert seen == [4]


def test_reset_later_then_earlier():
    """Moving a call later and then earlier still runs it once, at the final time."""
    clock = Clock()
    seen: list[float] = []
    call = clock.call_later(10, lambda: seen.append(clock.seconds()))
    call.reset(20)
    call.reset(3)
    clock.pump([1] * 30)
    assert seen == [3]


def test_heap_compacts_when_cancelled_calls_dominate():
    """Cancelled entries are purged once they outnumber the live ones."""
    clock = Clock()
    calls = [clock.call_later(i, lambda: None) for i in range(1000)]
    for call in calls[:900]:
        call.cancel()
    heap_size = len(clock._timers._heap)
    assert heap_size < 1000
    assert len(clock._timers) == 100
    assert len(clock.get_delayed_calls()) == 100


def test_calls_scheduled_while_advancing_run_if_due():
    """A call scheduled during advance() with zero delay runs in the same advance."""
    clock = Clock()
    seen: list[str] = []
    clock.call_later(1, lambda: clock.call_later(0, seen.append, "inner"))
    clock.advance(1)
    assert seen == ["inner"]


def test_delayed_call_reports_time_and_state():
    """A DelayedCall knows when it is due and whether it has run."""
    clock = Clock(100)
    call = clock.call_later(5, lambda: None)
    assert call.get_time() == 105
    assert call.active()
    clock.advance(5)
    assert call.called and not call.active()
    with pytest.raises(ValueError):
        call.reset(1)


def test_a_turn_skips_calls_cancelled_or_moved_by_an_earlier_call_of_that_turn():
    """run_due takes a turn's due calls off the heap, but one cancelled or reset by an
    earlier call of the same turn does not run (and the live count stays right)."""
    now = [1.0]
    queue = TimerQueue(lambda: now[0])
    seen: list[str] = []
    calls: dict[str, object] = {}

    def first() -> None:
        seen.append("first")
        calls["cancelled"].cancel()
        calls["moved"].reset(1)

    queue.schedule(1.0, first, (), {})
    calls["cancelled"] = queue.schedule(1.0, seen.append, ("cancelled",), {})
    calls["moved"] = queue.schedule(1.0, seen.append, ("moved",), {})
    queue.run_due(1.0)
    assert seen == ["first"]
    assert len(queue) == 1 and not calls["cancelled"].active() and calls["moved"].active()
    now[0] = 2.0
    queue.run_due(2.0)
    assert seen == ["first", "moved"]
    assert len(queue) == 0 and queue.next_time() is None


def test_reactor_timer_cancelled_by_a_timer_due_at_the_same_time_does_not_run(reactor):
    """Two timers fall due in one turn; the first cancels the second, which then never runs."""
    seen: list[str] = []
    calls: dict[str, object] = {}
    done: Deferred[None] = Deferred()

    def first() -> None:
        seen.append("first")
        calls["second"].cancel()

    reactor.call_later(0.01, first)
    calls["second"] = reactor.call_later(0.01, seen.append, "second")
    reactor.call_later(0.05, done.callback, None)
    wait_for(reactor, done, timeout=5)
    assert seen == ["first"]


def test_reactor_timers_fire_in_order(reactor):
    """Real reactor timers fire in time order and the reactor keeps running."""
    seen: list[str] = []
    done: Deferred[None] = Deferred()
    reactor.call_later(0.03, seen.append, "second")
    reactor.call_later(0.01, seen.append, "first")
    reactor.call_later(0.05, done.callback, None)
    wait_for(reactor, done, timeout=5)
    assert seen == ["first", "second"]


def test_reactor_survives_exceptions_in_callbacks(reactor, caplog):
    """An exception in a timer is logged with its traceback; later timers still run."""
    done: Deferred[str] = Deferred()

    def boom() -> None:
        raise RuntimeError("timer exploded")

    with caplog.at_level(logging.ERROR):
        reactor.call_later(0, boom)
        reactor.call_soon(lambda: 1 / 0)
        reactor.call_later(0.01, done.callback, "still running")
        assert wait_for(reactor, done, timeout=5) == "still running"
    assert "timer exploded" in caplog.text
    assert "ZeroDivisionError" in caplog.text


def test_reactor_cancelled_timer_does_not_fire(reactor):
    """A cancelled reactor timer never runs."""
    seen: list[str] = []
    done: Deferred[None] = Deferred()
    call = reactor.call_later(0.01, seen.append, "cancelled")
    call.cancel()
    reactor.call_later(0.03, done.callback, None)
    wait_for(reactor, done, timeout=5)
    assert seen == []


def test_call_soon_runs_only_what_was_ready_at_turn_start(reactor):
    """A call_soon callback queued by another runs on the next turn, not the same one."""
    turns: list[str] = []

    def first() -> None:
        turns.append("first")
        reactor.call_soon(turns.append, "queued by first")

    reactor.call_soon(first)
    reactor.iterate(0)
    assert turns == ["first"]
    reactor.iterate(0)
    assert turns == ["first", "queued by first"]


def test_call_when_running_and_stop_with_triggers(reactor):
    """call_when_running runs at start; stop() runs before/during/after triggers in order."""
    seen: list[str] = []
    waiting: Deferred[None] = Deferred()

    def before() -> Deferred[None]:
        seen.append("before")
        reactor.call_later(0.02, waiting.callback, None)
        return waiting

    reactor.add_system_event_trigger("after", "shutdown", seen.append, "after")
    reactor.add_system_event_trigger("during", "shutdown", lambda: seen.append(
        f"during (before finished: {waiting.called})"))
    reactor.add_system_event_trigger("before", "shutdown", before)
    reactor.call_when_running(seen.append, "running")
    reactor.call_when_running(reactor.stop)
    reactor.call_later(5, reactor.crash)  # safety net
    reactor.run(install_signal_handlers=False)
    assert seen == ["running", "before", "during (before finished: True)", "after"]


def test_shutdown_waits_a_bounded_time(reactor):
    """A trigger whose Deferred never fires delays shutdown only up to the timeout."""
    reactor.shutdown_timeout = 0.05
    reactor.add_system_event_trigger("before", "shutdown", lambda: Deferred())
    reactor.call_when_running(reactor.stop)
    reactor.call_later(5, reactor.crash)
    start = reactor.seconds()
    reactor.run(install_signal_handlers=False)
    assert reactor.seconds() - start < 2


def test_stop_when_not_running_raises(reactor):
    """stop() on a reactor that is not running is an error."""
    from reality.net.reactor import ReactorNotRunning

    with pytest.raises(ReactorNotRunning):
        reactor.stop()
