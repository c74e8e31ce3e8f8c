"""An echo client on Reality's engine: sends lines, prints what comes back.

    python examples/echo_client.py --host 127.0.0.1 --port 8000 hello world
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reality.net.defer import Failure  # noqa: E402
from reality.net.protocol import ClientFactory, Protocol  # noqa: E402
from reality.net.reactor import SelectReactor  # noqa: E402


class EchoClient(Protocol):
    """Sends each message, prints the echoes, and hangs up when all are back."""

    def connection_made(self) -> None:
        self.expected = sum(len(m) + 1 for m in self.factory.messages)
        self.received = bytearray()
        for message in self.factory.messages:
            self.transport.write(message.encode() + b"\n")

    def data_received(self, data: bytes) -> None:
        self.received += data
        if len(self.received) >= self.expected:
            sys.stdout.write(self.received.decode(errors="replace"))
            self.transport.lose_connection()


class EchoClientFactory(ClientFactory):
    protocol = EchoClient

    def __init__(self, reactor: SelectReactor, messages: list[str]) -> None:
        self.reactor = reactor
        self.messages = messages
        self.status = 0

    def client_connection_failed(self, connector: object, reason: Failure) -> None:
        print(f"connection failed: {reason.value}", file=sys.stderr)
        self.status = 1
        self.reactor.stop()

    def client_connection_lost(self, connector: object, reason: Failure) -> None:
        self.reactor.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("messages", nargs="*", default=["hello, world"])
    args = parser.parse_args(argv)
    reactor = SelectReactor()
    factory = EchoClientFactory(reactor, args.messages)
    reactor.connect_tcp(args.host, args.port, factory, timeout=10)
    reactor.run()
    return factory.status


if __name__ == "__main__":
    sys.exit(main())
