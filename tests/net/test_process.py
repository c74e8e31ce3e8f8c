"""Child processes as reactor transports."""

from __future__ import annotations

import sys

from reality.net import error
from reality.net.defer import Deferred, Failure
from reality.net.protocol import ProcessProtocol
from reality.net.testing import wait_for


class Recorder(ProcessProtocol):
    def __init__(self) -> None:
        self.out = bytearray()
        self.err = bytearray()
        self.ended: Deferred[list[Failure]] = Deferred()

    def out_received(self, data: bytes) -> None:
        self.out += data

    def err_received(self, data: bytes) -> None:
        self.err += data

    def process_ended(self, reason: Failure) -> None:
        self.ended.callback([reason])


def test_child_reads_stdin_and_writes_both_pipes(reactor):
    """Data written to the child arrives; its stdout and stderr come back; it ends with 0."""
    code = (
        "import sys\n"
        "data = sys.stdin.buffer.read()\n"
        "sys.stdout.buffer.write(data.upper())\n"
        "sys.stderr.write('done')\n"
    )
    proto = Recorder()
    process = reactor.spawn_process(proto, [sys.executable, "-c", code])
    big = b"abc" * 200_000  # more than a pipe holds: exercises buffered stdin writes
    process.write(big)
    process.close_stdin()
    (reason,) = wait_for(reactor, proto.ended, timeout=20)
    assert reason.check(error.ProcessDone)
    assert bytes(proto.out) == big.upper()
    assert bytes(proto.err) == b"done"


def test_child_exit_code_and_signal_are_reported(reactor):
    """A non-zero exit and a death by signal both arrive as ProcessTerminated."""
    proto = Recorder()
    reactor.spawn_process(proto, [sys.executable, "-c", "raise SystemExit(3)"])
    (reason,) = wait_for(reactor, proto.ended, timeout=20)
    assert reason.check(error.ProcessTerminated)
    assert reason.value.exit_code == 3

    proto = Recorder()
    process = reactor.spawn_process(
        proto, [sys.executable, "-c", "import time; time.sleep(30)"]
    )
    reactor.call_later(0.1, process.signal_process, "KILL")
    (reason,) = wait_for(reactor, proto.ended, timeout=20)
    assert reason.check(error.ProcessTerminated)
    assert reason.value.signal == 9


def test_loop_keeps_running_while_child_works(reactor):
    """Timers keep firing while a child process is busy: the loop never blocks on it."""
    proto = Recorder()
    reactor.spawn_process(
        proto, [sys.executable, "-c", "import time; time.sleep(0.5); print('late')"]
    )
    ticks: list[float] = []

    def tick() -> None:
        ticks.append(reactor.seconds())
        if not proto.ended.called:
            reactor.call_later(0.05, tick)

    tick()
    wait_for(reactor, proto.ended, timeout=20)
    assert len(ticks) >= 5
    assert bytes(proto.out).strip() == b"late"
