"""Deferred, Failure and the helpers around them."""

from __future__ import annotations

import gc
import logging
import sys

import pytest

from reality.net.defer import (
    AlreadyCalledError,
    CancelledError,
    Deferred,
    Failure,
    FirstError,
    TimeoutError,
    deferred_list,
    ensure_deferred,
    fail,
    gather_results,
    maybe_deferred,
    succeed,
)
from reality.net.testing import Clock


def result_of(d: Deferred) -> object:
    """The current result of a fired Deferred, consuming a failure."""
    box: list[object] = []
    d.add_both(box.append)
    assert box, "the Deferred has not fired"
    return box[0]


def test_callbacks_run_in_order_with_results_passed_along():
    """Each callback receives the previous callback's return value."""
    d: Deferred[int] = Deferred()
    seen: list[int] = []
    d.add_callback(lambda r: r + 1).add_callback(lambda r: r * 10).add_callback(seen.append)
    assert seen == []
    d.callback(1)
    assert seen == [20]


def test_callback_added_after_firing_runs_at_once():
    """A callback added to a fired Deferred runs immediately with the result."""
    d = succeed("x")
    seen: list[str] = []
    d.add_callback(seen.append)
    assert seen == ["x"]


def test_exception_switches_to_errbacks_and_errback_can_recover():
    """A raising callback sends a Failure down the errbacks; a returning errback recovers."""
    d: Deferred[int] = Deferred()
    skipped: list[object] = []

    def boom(_: object) -> None:
        raise ValueError("bad")

    d.add_callback(boom)
    d.add_callback(skipped.append)
    d.add_errback(lambda f: f.trap(ValueError) and "recovered")
    d.callback(1)
    assert skipped == []
    assert result_of(d) == "recovered"


def test_trap_reraises_other_errors():
    """``trap`` lets an unmatched failure continue down the chain."""
    d = fail(KeyError("k"))
    d.add_errback(lambda f: f.trap(ValueError))
    result = result_of(d)
    assert isinstance(result, Failure)
    assert result.check(KeyError) is KeyError


def test_add_callbacks_passes_extra_arguments():
    """Extra positional and keyword arguments reach the callback and the errback."""
    seen = []
    succeed(1).add_callbacks(
        lambda r, a, b=None: seen.append((r, a, b)), None, callback_args=(2,),
        callback_kwargs={"b": 3},
    )
    fail(ValueError()).add_callbacks(
        lambda r: None, lambda f, x: seen.append(("err", x)), errback_args=("y",)
    )
    assert seen == [(1, 2, 3), ("err", "y")]


def test_add_both_sees_results_and_failures():
    """``add_both`` is called with whichever comes."""
    seen: list[object] = []
    succeed(5).add_both(seen.append)
    fail(ValueError("v")).add_both(lambda f: seen.append(f.type))
    assert seen == [5, ValueError]


def test_firing_twice_raises_already_called():
    """A Deferred fires once; a second callback or errback raises AlreadyCalledError."""
    d = succeed(1)
    with pytest.raises(AlreadyCalledError):
        d.callback(2)
    with pytest.raises(AlreadyCalledError):
        d.errback(ValueError())


def test_callback_with_deferred_is_refused():
    """Passing a Deferred to callback() is a programming error."""
    with pytest.raises(TypeError):
        Deferred().callback(Deferred())


def test_returning_a_deferred_pauses_the_chain_until_it_fires():
    """A callback returning an unfired Deferred pauses the outer chain (chaining)."""
    inner: Deferred[str] = Deferred()
    outer: Deferred[str] = Deferred()
    seen: list[str] = []
    outer.add_callback(lambda _: inner).add_callback(seen.append)
    outer.callback(None)
    assert seen == []
    inner.callback("inner result")
    assert seen == ["inner result"]


def test_returning_a_fired_deferred_takes_its_result():
    """A callback returning an already-fired Deferred continues with its result."""
    seen: list[object] = []
    succeed(1).add_callback(lambda _: succeed("now")).add_callback(seen.append)
    assert seen == ["now"]


def test_inner_failure_flows_into_the_outer_errbacks():
    """A failure of the inner Deferred continues down the outer's errbacks."""
    inner: Deferred[None] = Deferred()
    outer = succeed(None).add_callback(lambda _: inner)
    inner.errback(KeyError("nope"))
    assert result_of(outer).check(KeyError)


def test_thousands_of_callbacks_do_not_recurse():
    """A chain of 20,000 callbacks runs without touching the recursion limit."""
    d: Deferred[int] = Deferred()
    for _ in range(20_000):
        d.add_callback(lambda r: r + 1)
    d.callback(0)
    assert result_of(d) == 20_000


def test_deep_chaining_does_not_recurse():
    """A chain of 5,000 Deferreds each waiting on the next fires without recursion."""
    depth = 5_000
    assert depth * 2 > sys.getrecursionlimit()
    leaves = [Deferred() for _ in range(depth)]
    first: Deferred[int] = Deferred()
    current = first
    for nxt in leaves:
        current.add_callback(lambda _, n=nxt: n)
        current = nxt
    first.callback(0)
    for d in reversed(leaves):
        d.callback(1)
    assert result_of(first) == 1


def test_deep_chain_of_waiting_deferreds_fired_innermost_last():
    """Nested waiting Deferreds resolve when the innermost one fires, iteratively."""
    depth = 5_000
    ds = [Deferred() for _ in range(depth)]
    for outer, inner in zip(ds, ds[1:], strict=False):
        outer.add_callback(lambda _, i=inner: i)
    for d in ds[:-1]:
        d.callback(None)
    ds[-1].callback("deep")
    assert result_of(ds[0]) == "deep"


def test_cancel_without_canceller_fails_with_cancelled_error():
    """Cancelling an unfired Deferred fails it with CancelledError."""
    d: Deferred[None] = Deferred()
    d.cancel()
    assert result_of(d).check(CancelledError)


def test_cancel_calls_the_canceller_and_ignores_a_late_result():
    """The canceller runs; a later callback from the producer is ignored once."""
    calls: list[Deferred] = []
    d: Deferred[int] = Deferred(canceller=calls.append)
    d.cancel()
    assert calls == [d]
    assert result_of(d).check(CancelledError)
    d.callback(1)  # late producer: no AlreadyCalledError


def test_canceller_may_fire_the_deferred_itself():
    """A canceller that fires the Deferred decides the result."""
    d: Deferred[str] = Deferred(canceller=lambda d: d.callback("cancelled nicely"))
    d.cancel()
    assert result_of(d) == "cancelled nicely"


def test_cancel_reaches_the_deferred_being_waited_on():
    """Cancelling an outer Deferred that waits on an inner one cancels the inner one."""
    inner: Deferred[None] = Deferred()
    outer = succeed(None).add_callback(lambda _: inner)
    outer.cancel()
    assert inner.called
    assert result_of(outer).check(CancelledError)


def test_unhandled_failure_is_logged_when_collected(caplog):
    """A Failure nobody handled is logged with its traceback when the Deferred is collected."""
    with caplog.at_level(logging.ERROR, logger="reality.net.defer"):
        d = fail(ValueError("forgotten"))
        del d
        gc.collect()
    assert "Unhandled error in Deferred" in caplog.text
    assert "ValueError: forgotten" in caplog.text


def test_handled_failure_is_not_logged(caplog):
    """A Failure that an errback handled is not reported."""
    with caplog.at_level(logging.ERROR, logger="reality.net.defer"):
        d = fail(ValueError("handled"))
        d.add_errback(lambda f: None)
        del d
        gc.collect()
    assert "Unhandled" not in caplog.text


def test_failure_keeps_exception_and_traceback():
    """A Failure made inside an except block keeps the exception and its traceback."""
    try:
        raise RuntimeError("with traceback")
    except RuntimeError:
        f = Failure()
    assert f.type is RuntimeError
    assert "raise RuntimeError" in f.get_traceback()
    assert f.get_error_message() == "RuntimeError: with traceback"
    with pytest.raises(RuntimeError):
        f.raise_exception()


def test_failure_without_active_exception_is_an_error():
    """Failure() outside an except block is refused."""
    with pytest.raises(ValueError):
        Failure()


def test_await_inside_coroutine_and_ensure_deferred():
    """``await d`` waits for a Deferred; ensure_deferred gives the coroutine's result."""
    waiting: Deferred[int] = Deferred()

    async def work() -> int:
        a = await waiting
        b = await succeed(10)
        return a + b

    d = ensure_deferred(work())
    assert not d.called
    waiting.callback(5)
    assert result_of(d) == 15


def test_await_failed_deferred_raises_inside_coroutine():
    """Awaiting a failed Deferred raises its exception inside the coroutine."""

    async def work() -> str:
        try:
            await fail(KeyError("missing"))
        except KeyError:
            return "caught"
        return "not caught"

    assert result_of(ensure_deferred(work())) == "caught"


def test_coroutine_exception_fails_the_deferred():
    """An exception escaping the coroutine becomes the Deferred's failure."""

    async def work() -> None:
        raise ZeroDivisionError()

    assert result_of(ensure_deferred(work())).check(ZeroDivisionError)


def test_many_awaits_of_fired_deferreds_do_not_recurse():
    """A coroutine awaiting 10,000 already-fired Deferreds runs in a loop, not recursion."""

    async def work() -> int:
        total = 0
        for _ in range(10_000):
            total += await succeed(1)
        return total

    assert result_of(ensure_deferred(work())) == 10_000


def test_cancelling_ensure_deferred_cancels_the_awaited_deferred():
    """Cancelling the coroutine's Deferred raises CancelledError at the await."""
    waiting: Deferred[None] = Deferred()
    seen: list[str] = []

    async def work() -> None:
        try:
            await waiting
        except CancelledError:
            seen.append("cancelled inside")
            raise

    d = ensure_deferred(work())
    d.cancel()
    assert seen == ["cancelled inside"]
    assert result_of(d).check(CancelledError)


def test_maybe_deferred_wraps_values_exceptions_and_coroutines():
    """maybe_deferred turns a return value, an exception or a coroutine into a Deferred."""
    assert result_of(maybe_deferred(lambda: 3)) == 3
    assert result_of(maybe_deferred(lambda: 1 / 0)).check(ZeroDivisionError)

    async def co() -> str:
        return "co"

    assert result_of(maybe_deferred(co)) == "co"
    d = Deferred()
    assert maybe_deferred(lambda: d) is d


def test_add_timeout_fails_with_timeout_error():
    """add_timeout fails the Deferred with TimeoutError when the clock passes the deadline."""
    clock = Clock()
    d: Deferred[None] = Deferred()
    d.add_timeout(5, clock)
    clock.advance(4.9)
    assert not d.called
    clock.advance(0.2)
    failure = result_of(d)
    assert failure.check(TimeoutError)


def test_add_timeout_does_nothing_when_result_arrives_in_time():
    """A Deferred that fires in time keeps its result and its timer is cancelled."""
    clock = Clock()
    d: Deferred[str] = Deferred()
    d.add_timeout(5, clock)
    d.callback("in time")
    assert clock.get_delayed_calls() == []
    assert result_of(d) == "in time"


def test_gather_results_collects_in_order():
    """gather_results fires with the results in the order of the inputs."""
    a: Deferred[int] = Deferred()
    b: Deferred[int] = Deferred()
    g = gather_results([a, b])
    b.callback(2)
    assert not g.called
    a.callback(1)
    assert result_of(g) == [1, 2]


def test_gather_results_fail_fast():
    """With fail_fast, gather_results fails as soon as one input fails."""
    a: Deferred[int] = Deferred()
    b: Deferred[int] = Deferred()
    g = gather_results([a, b], fail_fast=True)
    b.errback(ValueError("b failed"))
    failure = result_of(g)
    assert failure.check(FirstError)
    assert failure.value.index == 1
    a.callback(1)


def test_gather_results_without_fail_fast_waits_for_all():
    """Without fail_fast, gather_results waits for every input before failing."""
    a: Deferred[int] = Deferred()
    b: Deferred[int] = Deferred()
    g = gather_results([a, b], fail_fast=False)
    b.errback(ValueError("b failed"))
    assert not g.called
    a.callback(1)
    assert result_of(g).check(FirstError)


def test_deferred_list_reports_each_outcome():
    """deferred_list fires with (success, result) pairs for every input."""
    d = deferred_list([succeed(1), fail(KeyError("x"))], consume_errors=True)
    results = result_of(d)
    assert results[0] == (True, 1)
    assert results[1][0] is False and results[1][1].check(KeyError)


def test_deferred_list_empty_fires_at_once():
    """An empty deferred_list fires at once with an empty list."""
    assert result_of(deferred_list([])) == []


def test_deferred_list_fire_on_one_callback():
    """fire_on_one_callback fires with (result, index) of the first success."""
    a: Deferred[str] = Deferred()
    b: Deferred[str] = Deferred()
    d = deferred_list([a, b], fire_on_one_callback=True)
    b.callback("b")
    assert result_of(d) == ("b", 1)


def test_pause_and_unpause():
    """A paused Deferred holds its result until unpaused."""
    d: Deferred[int] = Deferred()
    seen: list[int] = []
    d.add_callback(seen.append)
    d.pause()
    d.callback(1)
    assert seen == []
    d.unpause()
    assert seen == [1]
