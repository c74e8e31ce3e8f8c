"""Services, MultiService ordering, and SIGTERM stopping a real application."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

from reality.net.defer import Deferred
from reality.net.service import MultiService, Service
from reality.net.testing import Clock

HERE = Path(__file__).resolve().parent


class Slow(Service):
    def __init__(self, name: str, log: list[str], clock: Clock) -> None:
        self.name = name
        self.log = log
        self.clock = clock

    def start_service(self) -> None:
        super().start_service()
        self.log.append(f"start {self.name}")

    def stop_service(self) -> Deferred[None]:
        super().stop_service()
        d: Deferred[None] = Deferred()
        self.clock.call_later(1, lambda: (self.log.append(f"stopped {self.name}"),
                                          d.callback(None)))
        return d


def test_multiservice_starts_in_order_and_stops_in_reverse_waiting():
    """Children start in order; stop runs in reverse, each after the previous finished."""
    clock = Clock()
    log: list[str] = []
    root = MultiService()
    for name in ("a", "b", "c"):
        Slow(name, log, clock).set_service_parent(root)
    root.start_service()
    assert log == ["start a", "start b", "start c"]
    stopped: list[object] = []
    root.stop_service().add_callback(stopped.append)
    assert log[-1] == "start c"
    clock.advance(1)
    assert log[-1] == "stopped c"
    assert not stopped
    clock.advance(1)
    clock.advance(1)
    assert log[3:] == ["stopped c", "stopped b", "stopped a"]
    assert stopped == [None]


def test_named_services_and_removal():
    """Services can be found by name and removed (stopping them if running)."""
    clock = Clock()
    log: list[str] = []
    root = MultiService()
    s = Slow("x", log, clock)
    s.set_service_parent(root)
    assert root.get_service_named("x") is s
    root.start_service()
    d = s.disown_service_parent()
    clock.advance(1)
    assert d.called and log == ["start x", "stopped x"]
    assert list(root) == []


def test_sigterm_stops_services_in_reverse_and_exits_zero():
    """SIGTERM to a process running an Application stops its services, then exits 0."""
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "sigterm_app.py")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        for _ in range(3):
            lines.append(proc.stdout.readline().strip())
        assert lines[0] == "started first threads=1"
        assert lines[1].startswith("listening ")
        assert lines[2] == "started second threads=1"
        port = int(lines[1].split()[1])
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
    assert proc.returncode == 0, err
    assert out.splitlines() == [
        "stopped second threads=1",
        "stopped first threads=1",
        "exiting threads=1",
    ]
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        still_listening = True
    except OSError:
        still_listening = False
    assert not still_listening
