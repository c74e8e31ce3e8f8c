"""A worked example from docs/extending.md: a protocol on the engine.

A tiny finger-like service (after RFC 1288, much simplified): the client
sends one line, a name, and gets one line about it back; an empty line
lists every name. Each connection answers at most ``max_queries`` lines
and is closed after ``idle_timeout`` seconds without a line, so a client
that connects and says nothing does not hold a connection forever.

It is typed against the engine's contracts (:mod:`reality.net.interfaces`):
the protocol needs only a clock (``IReactorTime``), and :func:`listen`
needs only something that can listen on TCP (``IReactorTCP``), so a test
hands in ``reality.net.testing.Clock`` and ``StringTransport`` and no
socket is opened::

    python examples/finger.py --port 7979     # then: printf 'alice\\r\\n' | nc 127.0.0.1 7979
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path

if __name__ == "__main__":  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reality.net.defer import Failure  # noqa: E402
from reality.net.interfaces import IDelayedCall, IListeningPort, IReactorTCP, IReactorTime  # noqa: E402
from reality.net.protocol import Address, Factory  # noqa: E402
from reality.net.protocols.basic import LineReceiver  # noqa: E402


class FingerProtocol(LineReceiver):
    """One connection: a line in (a name), a line out (what we know of it)."""

    delimiter = b"\r\n"
    #: A name is short: a longer line is dropped (LineReceiver's bound).
    max_length = 256

    def __init__(self, factory: FingerFactory) -> None:
        self.finger = factory
        self.answered = 0
        self._idle: IDelayedCall | None = None

    def connection_made(self) -> None:
        self._idle = self.finger.clock.call_later(self.finger.idle_timeout, self._idle_out)

    def line_received(self, line: bytes) -> None:
        if self._idle is not None:
            self._idle.reset(self.finger.idle_timeout)
        name = line.decode("utf-8", "replace").strip()
        if name:
            plan = self.finger.plans.get(name.lower())
            answer = f"{name}: {plan}" if plan is not None else f"{name}: no such user"
        else:
            answer = " ".join(sorted(self.finger.plans)) or "nobody"
        self.send_line(answer.encode("utf-8"))
        self.answered += 1
        if self.answered >= self.finger.max_queries:
            self.transport.lose_connection()

    def line_length_exceeded(self, length: int) -> None:
        self.send_line(b"name too long")
        self.transport.lose_connection()

    def _idle_out(self) -> None:
        self._idle = None
        self.transport.lose_connection()

    def connection_lost(self, reason: Failure) -> None:
        if self._idle is not None and self._idle.active():
            self._idle.cancel()
        self._idle = None


class FingerFactory(Factory):
    """Holds what every connection shares: the plans, the clock, the limits."""

    def __init__(
        self,
        plans: Mapping[str, str],
        clock: IReactorTime,
        *,
        idle_timeout: float = 30.0,
        max_queries: int = 10,
    ) -> None:
        self.plans = {name.lower(): plan for name, plan in plans.items()}
        self.clock = clock
        self.idle_timeout = idle_timeout
        self.max_queries = max_queries

    def build_protocol(self, addr: Address) -> FingerProtocol:
        protocol = FingerProtocol(self)
        protocol.factory = self
        return protocol


def listen(
    reactor: IReactorTCP, clock: IReactorTime, plans: Mapping[str, str], port: int,
    interface: str = "127.0.0.1",
) -> IListeningPort:
    """Serve ``plans`` on ``port``; the port (``get_host()``, ``stop_listening()``)."""
    return reactor.listen_tcp(port, FingerFactory(plans, clock), interface=interface)


def main(argv: list[str] | None = None) -> int:
    from reality.net.reactor import SelectReactor

    parser = argparse.ArgumentParser(description="A tiny finger-like server.")
    parser.add_argument("--port", type=int, default=7979, help="port (0 picks a free one)")
    args = parser.parse_args(argv)
    reactor = SelectReactor()
    port = listen(reactor, reactor, {"alice": "Building a castle."}, args.port)
    print(f"finger listening on {port.get_host()}", flush=True)
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
