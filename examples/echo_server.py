"""An echo server on Reality's engine: every byte received is sent back.

    python examples/echo_server.py --host 127.0.0.1 --port 8000

Runs until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reality.net.protocol import Factory, Protocol  # noqa: E402
from reality.net.reactor import SelectReactor  # noqa: E402
from reality.net.service import Application, TCPServer  # noqa: E402


class Echo(Protocol):
    """Writes back whatever arrives."""

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port (0 picks a free one)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    reactor = SelectReactor()
    app = Application("echo")

    def listening(address: object) -> None:
        print(f"echo listening on {address}", flush=True)

    TCPServer(reactor, args.port, Factory.for_protocol(Echo), args.host,
              on_listening=listening).set_service_parent(app)
    app.run(reactor)
    return 1 if app.start_failure else 0


if __name__ == "__main__":
    sys.exit(main())
