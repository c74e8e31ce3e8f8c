"""A listening port that runs out of descriptors backs off instead of spinning.

The port's socket is wrapped in a fake whose ``accept()`` raises EMFILE (or
another exhaustion errno) on demand; the back-off runs on a test Clock
while the port itself sits on each real reactor (the ``reactor`` fixture).
"""

from __future__ import annotations

import errno
import logging
import socket
from typing import Any

import pytest

from reality.net import tcp
from reality.net.protocol import Factory, Protocol
from reality.net.testing import Clock


class ExhaustedSocket:
    """A listening socket whose accept() fails with ``errno`` while ``failing``."""

    def __init__(self, real: socket.socket, code: int = errno.EMFILE) -> None:
        self.real = real
        self.code = code
        self.failing = True
        self.accepts = 0

    def accept(self) -> tuple[socket.socket, Any]:
        self.accepts += 1
        if self.failing:
            raise OSError(self.code, "Too many open files")
        return self.real.accept()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


class Counting(Factory):
    def __init__(self) -> None:
        self.built = 0

    def build_protocol(self, addr: Any) -> Protocol:
        self.built += 1
        return Protocol()


def _exhausted_port(reactor: Any, code: int = errno.EMFILE) -> tuple[Any, ExhaustedSocket, Clock]:
    port = reactor.listen_tcp(0, Counting(), interface="127.0.0.1")
    fake = ExhaustedSocket(port.socket, code)
    port.socket = fake
    clock = Clock()
    port.clock = clock
    return port, fake, clock


def _watched(reactor: Any, port: Any) -> bool:
    return port.socket.fileno() in reactor._readers


@pytest.mark.parametrize("code", [errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM])
def test_exhausted_accept_stops_watching_the_socket_until_the_pause_is_over(reactor, code):
    """EMFILE/ENFILE/ENOBUFS/ENOMEM: one accept() call, then the socket is not watched
    (no spinning) until 100 ms later, when the port watches it again by itself."""
    port, fake, clock = _exhausted_port(reactor, code)
    try:
        port._do_accept()
        assert fake.accepts == 1
        assert not port.accepting
        assert not _watched(reactor, port)
        port._do_accept()  # a stale readiness report does nothing
        assert fake.accepts == 1
        clock.advance(0.099)
        assert not _watched(reactor, port)
        clock.advance(0.001)
        assert port.accepting and _watched(reactor, port)
    finally:
        port.stop_listening()


def test_the_pause_doubles_to_one_second_and_resets_once_accept_works(reactor):
    """Failures in a row pause 0.1, 0.2, 0.4, 0.8, 1, 1 s; when accept() works
    again (the backlog drained) the next failure pauses 0.1 s again."""
    port, fake, clock = _exhausted_port(reactor)
    try:
        pauses = []
        for _ in range(6):
            port._do_accept()
            (resume,) = clock.get_delayed_calls()
            pauses.append(round(resume.time - clock.seconds(), 3))
            clock.advance(pauses[-1])
            assert port.accepting
        assert pauses == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
        fake.failing = False
        port._do_accept()  # nothing waiting: BlockingIOError ends the batch
        fake.failing = True
        port._do_accept()
        assert clock.get_delayed_calls()[0].time - clock.seconds() == pytest.approx(0.1)
    finally:
        port.stop_listening()


def test_exhaustion_is_logged_once_per_interval_with_a_count(reactor, caplog):
    """A minute of exhaustion writes one line per 10 s (not one per attempt), each
    saying how many failures it stands for; recovery is logged once."""
    port, fake, clock = _exhausted_port(reactor)
    try:
        with caplog.at_level(logging.INFO, logger="reality.net.tcp"):
            attempts = 0
            while clock.seconds() < 60:
                if port.accepting:
                    port._do_accept()
                    attempts += 1
                clock.advance(0.05)
            fake.failing = False
            clock.advance(1)
            port._do_accept()
            port._do_accept()
        lines = [r.getMessage() for r in caplog.records if r.name == "reality.net.tcp"]
        failures = [line for line in lines if "cannot accept" in line]
        assert attempts > 55
        assert 6 <= len(failures) <= 7
        assert "Too many open files" in failures[0]
        assert "more failures since the last message" in failures[1]
        assert [line for line in lines if "again" in line] == [
            f"accepting connections on {port.get_host()} again"
        ]
    finally:
        port.stop_listening()


def test_stop_listening_while_paused_cancels_the_resume(reactor):
    """A port closed during its pause does not start watching a closed socket."""
    port, fake, clock = _exhausted_port(reactor)
    port._do_accept()
    port.stop_listening()
    assert clock.get_delayed_calls() == []
    clock.advance(5)
    assert not port.accepting


def test_connections_waiting_in_the_backlog_are_accepted_after_the_pause(reactor):
    """The clients that arrived while the port was paused are served when it resumes."""
    port, fake, clock = _exhausted_port(reactor)
    factory = port.factory
    client = socket.create_connection(("127.0.0.1", port.get_host().port), timeout=5)
    try:
        port._do_accept()
        assert factory.built == 0
        fake.failing = False
        clock.advance(0.1)
        port._do_accept()
        assert factory.built == 1
    finally:
        client.close()
        port.stop_listening()
        reactor.iterate(0)


def test_backoff_constants_are_documented_values():
    """docs/security.md quotes these numbers."""
    assert (tcp.ACCEPT_BACKOFF_MIN, tcp.ACCEPT_BACKOFF_MAX, tcp.ACCEPT_LOG_INTERVAL) == (
        0.1, 1.0, 10.0
    )
