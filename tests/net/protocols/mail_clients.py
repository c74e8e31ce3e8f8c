"""Run a real mail client in a child process against a server on this test's reactor."""

from __future__ import annotations

import os
import signal
from typing import Any

from attrs import define

from reality.net.defer import Deferred, Failure
from reality.net.protocol import ProcessProtocol
from reality.net.testing import WaitTimeout, wait_for


@define
class ClientResult:
    """How the child ended and what it printed."""

    exit_code: int | None
    out: str
    err: str


class _Collector(ProcessProtocol):
    def __init__(self) -> None:
        self.out = bytearray()
        self.err = bytearray()
        self.ended: Deferred[list[Failure]] = Deferred()

    def out_received(self, data: bytes) -> None:
        self.out += data

    def err_received(self, data: bytes) -> None:
        self.err += data

    def process_ended(self, reason: Failure) -> None:
        # In a list: a Failure given to callback() would run the errbacks.
        self.ended.callback([reason])


def run_client(reactor: Any, argv: list[str], timeout: float = 30.0) -> ClientResult:
    """Start ``argv``, run the reactor (serving the client) until it exits, return its output.

    The child is killed (by its own pid) if it is still running after ``timeout``.
    """
    collector = _Collector()
    process = reactor.spawn_process(collector, argv)
    try:
        (reason,) = wait_for(reactor, collector.ended, timeout=timeout)
    except WaitTimeout:
        os.kill(process.pid, signal.SIGKILL)
        wait_for(reactor, collector.ended, timeout=10)
        raise
    exit_code = getattr(reason.value, "exit_code", None)
    out = collector.out.decode("utf-8", "replace")
    return ClientResult(exit_code, out, collector.err.decode("utf-8", "replace"))
