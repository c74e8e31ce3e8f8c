"""The asyncio-backed reactor: what the shared reactor suite cannot show.

The shared suite (every test taking the ``reactor`` fixture) already runs
on the selector, asyncio and uvloop reactors. These tests cover what only
the asyncio one has -- running on someone else's loop, ``make_reactor``,
the uvloop error -- plus timer re-arming and error handling on every
reactor, and ``reality serve --reactor`` end to end.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from reality.net.asyncio_reactor import AsyncioReactor, ReactorUnavailable, make_reactor
from reality.net.defer import Deferred
from reality.net.protocol import Factory, Protocol
from reality.net.reactor import SelectReactor
from reality.net.testing import wait_for

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from serverproc import ServerProcess  # noqa: E402

HAVE_UVLOOP = importlib.util.find_spec("uvloop") is not None


class Echo(Protocol):
    def data_received(self, data: bytes) -> None:
        self.transport.write(data)


# -- on every reactor ------------------------------------------------------------------------


def test_reset_to_an_earlier_time_fires_at_the_earlier_time(reactor):
    """A timer moved earlier fires then, not at its first time (the loop is re-armed)."""
    fired: Deferred[float] = Deferred()
    start = time.monotonic()
    call = reactor.call_later(5.0, lambda: fired.callback(time.monotonic() - start))
    reactor.call_later(0.01, call.reset, 0.05)
    took = wait_for(reactor, fired, timeout=3)
    assert 0.05 <= took < 2.0


def test_many_timers_fire_in_order_with_cancellations(reactor):
    """500 timers with scattered delays fire in time order; cancelled ones never run."""
    seen: list[int] = []
    done: Deferred[None] = Deferred()
    calls = []
    for i in range(500):
        delay = ((i * 37) % 100) / 2000  # 0 .. 50 ms, out of order
        calls.append((delay, i, reactor.call_later(delay, seen.append, i)))
    for _, i, call in calls:
        if i % 5 == 0:
            call.cancel()
    reactor.call_later(0.1, done.callback, None)
    wait_for(reactor, done, timeout=5)
    # Due times, not delays: each call_later counts from its own "now".
    expected = [i for _, i, call in sorted(calls, key=lambda c: (c[2].time, c[1])) if i % 5]
    assert seen == expected


def test_failing_reader_is_logged_and_the_loop_goes_on(reactor, caplog):
    """An exception in a reader callback is logged with its traceback; timers still run."""
    a, b = socket.socketpair()
    a.setblocking(False)
    done: Deferred[str] = Deferred()

    def boom() -> None:
        a.recv(10)
        raise ValueError("reader exploded")

    try:
        reactor.add_reader(a.fileno(), boom)
        b.send(b"x")
        reactor.call_later(0.05, done.callback, "alive")
        with caplog.at_level(logging.ERROR):
            assert wait_for(reactor, done, timeout=5) == "alive"
        assert "reader exploded" in caplog.text and "Traceback" in caplog.text
    finally:
        reactor.remove_all(a.fileno())
        a.close()
        b.close()


# -- asyncio only ------------------------------------------------------------------------------


def test_start_on_a_running_loop_serves_and_stop_fires_the_deferred():
    """On the caller's running loop: TCP works, stop() runs the triggers, the loop lives on."""

    async def scenario() -> list[str]:
        loop = asyncio.get_running_loop()
        reactor = AsyncioReactor(loop)
        seen: list[str] = []
        reactor.call_when_running(seen.append, "running")
        reactor.add_system_event_trigger("before", "shutdown", seen.append, "before")
        stopped = reactor.as_future(reactor.start())
        port = reactor.listen_tcp(0, Factory.for_protocol(Echo), interface="127.0.0.1")
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port.get_host().port), 5
        )
        writer.write(b"ping")
        assert await asyncio.wait_for(reader.readexactly(4), 5) == b"ping"
        writer.close()
        await asyncio.wait_for(reactor.as_future(port.stop_listening()), 5)
        reactor.stop()
        await asyncio.wait_for(stopped, 5)
        assert not reactor.running
        seen.append("loop still running" if loop.is_running() else "loop stopped")
        reactor.close()
        assert not loop.is_closed(), "a borrowed loop is not the reactor's to close"
        return seen

    assert asyncio.run(scenario()) == ["running", "before", "loop still running"]


def test_run_refuses_a_loop_that_is_already_running():
    """run() on a running loop says to use start() instead."""

    async def scenario() -> str:
        reactor = AsyncioReactor(asyncio.get_running_loop())
        with pytest.raises(RuntimeError, match="start"):
            reactor.run()
        return "ok"

    assert asyncio.run(scenario()) == "ok"


def test_iterate_waits_at_most_the_timeout_and_returns_after_work():
    """iterate(t) returns once a callback ran, or after t seconds when nothing happens."""
    reactor = AsyncioReactor()
    try:
        seen: list[str] = []
        reactor.call_later(0.05, seen.append, "timer")
        start = time.monotonic()
        reactor.iterate(5.0)
        assert seen == ["timer"]
        assert time.monotonic() - start < 2.0
        start = time.monotonic()
        reactor.iterate(0.05)
        assert 0.04 <= time.monotonic() - start < 2.0
    finally:
        reactor.close()


def test_make_reactor_by_name():
    """make_reactor knows selector and asyncio, and names the choices for anything else."""
    selector = make_reactor("selector")
    asyncio_reactor = make_reactor("asyncio")
    try:
        assert isinstance(selector, SelectReactor)
        assert isinstance(asyncio_reactor, AsyncioReactor)
    finally:
        selector.close()
        asyncio_reactor.close()
    with pytest.raises(ValueError, match="selector, asyncio, uvloop"):
        make_reactor("twisted")


def test_missing_uvloop_is_a_clear_error(monkeypatch):
    """Without uvloop, asking for it says how to install it."""
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop -> ImportError
    with pytest.raises(ReactorUnavailable, match=r"pip install 'reality\[fast\]'"):
        make_reactor("uvloop")


def test_serve_without_uvloop_exits_1_with_the_install_hint(monkeypatch, tmp_path, capsys):
    """reality serve --reactor uvloop without uvloop: a message and status 1, no traceback."""
    from reality.cli import main

    monkeypatch.setitem(sys.modules, "uvloop", None)
    world = Path(__file__).resolve().parents[2] / "world" / "tiny.yaml"
    status = main(["serve", "--reactor", "uvloop", "--world", str(world),
                   "--db", str(tmp_path / "db"), "--log-level", "error"])
    assert status == 1
    err = capsys.readouterr().err
    assert "pip install 'reality[fast]'" in err and "Traceback" not in err


@pytest.mark.skipif(not HAVE_UVLOOP, reason="uvloop is not installed")
def test_uvloop_reactor_runs_on_uvloop():
    """The uvloop reactor really sits on a uvloop loop."""
    import uvloop

    reactor = make_reactor("uvloop")
    try:
        assert isinstance(reactor.loop, uvloop.Loop)
    finally:
        reactor.close()


# -- reality serve --reactor, end to end -----------------------------------------------------

SERVE_REACTORS = [
    "asyncio",
    pytest.param("uvloop", marks=pytest.mark.skipif(not HAVE_UVLOOP,
                                                    reason="uvloop is not installed")),
]


@pytest.mark.parametrize("name", SERVE_REACTORS)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_on_the_reactor_plays_in_one_thread_and_stops_on_signal(tmp_path, name, signum):
    """run_server.py --reactor NAME: two players talk, one thread, the signal exits 0."""
    with ServerProcess(tmp_path, extra=("--reactor", name)) as server:
        alice = server.telnet()
        assert "The Hall" in alice.command("create Alice secret")
        bob = server.telnet()
        bob.command("create Bob secret")
        alice.command("say hello")
        bob.expect('Alice says, "hello"')
        assert server.threads() == 1
        alice.close()
        bob.close()
        assert server.proc is not None
        server.proc.send_signal(signum)
        assert server.stop() == 0
    assert "stopped" in server.output()
    assert "Traceback" not in server.output()
